//! What the benchmark examples share: the `melnet` program's allocator and its setting, and
//! `--name value` arguments.

// The allocator of the `melnet` program (see its main.rs), so that timings match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set up as the `melnet` program does; call first in `main`.
pub fn init() {
    std::env::set_var("MIMALLOC_PURGE_DELAY", "-1");
}

/// The number after `name` on the command line, else `default`.
pub fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}
