//! The `melnet` command-line program.

mod args;
mod cli;
mod commands;
mod output;
mod plot;

use std::process::ExitCode;

use clap::Parser;

/// Training allocates and frees tensors of many megabytes at every step; mimalloc keeps them
/// for reuse (with purging off, set in `main`) instead of returning them to the system and
/// faulting them in zeroed again, which cost a fifth of a training step with the system
/// allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Read by mimalloc when it first purges, which is after this point.
    std::env::set_var("MIMALLOC_PURGE_DELAY", "-1");
    let cli = cli::Cli::parse();
    if let Some(n) = cli.threads.filter(|&n| n > 0) {
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
            let msg: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}
