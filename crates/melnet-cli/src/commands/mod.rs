//! One module per subcommand, each with its `Args` and `run`.

pub mod demo;
pub mod eval;
pub mod filterbank;
pub mod invert;
pub mod mel;
pub mod merge;
pub mod prepare;
pub mod presets;
pub mod roundtrip;
pub mod sample;
pub mod say;
pub mod stats;
pub mod stft;
pub mod synth;
pub mod toy;
pub mod train;

use crate::cli::Command;

/// Run a parsed subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Mel(args) => mel::run(args),
        Command::Stft(args) => stft::run(args),
        Command::Filterbank(args) => filterbank::run(args),
        Command::Presets(args) => presets::run(args),
        Command::Invert(args) => invert::run(args),
        Command::Roundtrip(args) => roundtrip::run(args),
        Command::Prepare(args) => prepare::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Say(args) => say::run(args),
        Command::Synth(command) => synth::run(command),
        Command::ToySpeech(command) => toy::run(command),
        Command::Demo(args) => demo::run(args),
    }
}
