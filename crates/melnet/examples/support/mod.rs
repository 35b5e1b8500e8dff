//! What the benchmark examples share: the `melnet` program's allocator and its setting, and
//! `--name value` arguments.

// The allocator of the `melnet` program (see its main.rs), so that timings match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set up as the `melnet` program does (candle on the calling thread; its `keep_freed_memory`: mimalloc's purging off, which
/// mimalloc reads only at start, so run again with the variable set); call first in `main`.
pub fn init() {
    melnet::keep_candle_on_calling_thread();
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_none() {
        let exe = std::env::current_exe().expect("own path");
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(VAR, "-1")
            .exec();
        panic!("re-executing with {VAR} set: {err}");
    }
}

/// The number after `name` on the command line, else `default`.
pub fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}
