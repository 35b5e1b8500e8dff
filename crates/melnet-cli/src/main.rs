//! The `melnet` command-line program.

mod args;
mod cli;
mod commands;
mod output;
mod plot;

use std::process::ExitCode;

use clap::Parser;

/// Training allocates and frees tensors of many megabytes at every step; mimalloc keeps them
/// for reuse (with purging off, [`keep_freed_memory`]) instead of returning them to the system and
/// faulting them in zeroed again, which cost a fifth of a training step with the system
/// allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run with mimalloc's purging off (`MIMALLOC_PURGE_DELAY=-1`). mimalloc reads its
/// environment when the process starts, before `main`, and setting the option afterwards does
/// not stop freed pages from being returned and faulted in zeroed again (measured: the kernel's
/// page clearing took 7 % of a training step, 0.3 % with the variable set at start): so when
/// it is not set, set it and execute this program again in place (same process, same
/// arguments). If that fails, carry on as we are.
fn keep_freed_memory() {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let mut args = std::env::args_os();
    if let (Ok(exe), Some(arg0)) = (std::env::current_exe(), args.next()) {
        // Returns only when it fails.
        let _ = std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env(VAR, "-1")
            .exec();
    }
}

/// `text` on one line: its lines joined by spaces, up to a backtrace that some libraries
/// (candle) append to their messages.
fn one_line(text: &str) -> String {
    let is_trace = |line: &str| {
        let t = line.trim_start();
        t.to_ascii_lowercase().starts_with("stack backtrace")
            || t.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    text.lines()
        .take_while(|l| !is_trace(l))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> ExitCode {
    melnet::keep_candle_on_calling_thread();
    keep_freed_memory();
    let cli = cli::Cli::parse();
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        // A bug must still end with one line, not a trace.
        std::panic::set_hook(Box::new(|info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let place = info
                .location()
                .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
            eprintln!(
                "error: internal error{place}: {} (please report it)",
                one_line(&msg)
            );
        }));
    }
    if let Some(n) = cli.threads.map(usize::from) {
        // candle's matrix products size their pools from this variable, melnet's own stages
        // from the global pool.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    match commands::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<args::Interrupted>() => ExitCode::from(130),
        Err(err) => {
            // One line: the context chain joined, outermost first.
            let msg: Vec<String> = err.chain().map(|e| one_line(&e.to_string())).collect();
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}
