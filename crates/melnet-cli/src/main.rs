//! The `melnet` command-line program.

mod args;
mod cli;
mod commands;
mod output;
mod plot;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the context chain joined, outermost first.
            let msg: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}
