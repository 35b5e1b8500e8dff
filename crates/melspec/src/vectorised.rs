//! Run-time choice of the widest vector extension for a hot loop: [`vectorised!`](crate::vectorised).

/// `$name(args)` calls `$body(args)` compiled for the widest vector extension the CPU has
/// (AVX-512, AVX2 + FMA, else the baseline), chosen at run time: the baseline x86-64 target has
/// only 4-lane SSE, and inner loops written over fixed-size lanes (LSTM gates, LWS sums) run
/// up to twice as fast with 8 or 16. Results do not depend on the choice (no contraction into
/// FMA: Rust does not fuse float operations). The expansion holds `unsafe` calls (after the
/// run-time feature check): the calling module must allow `unsafe_code`.
#[macro_export]
macro_rules! vectorised {
    ($(#[$doc:meta])* fn $name:ident = $body:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
                    // SAFETY: the CPU has every feature `avx512` is compiled for (checked above).
                    return unsafe { avx512($($arg),*) };
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has every feature `avx2` is compiled for (checked above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
