//! The `chuks-ci` binary: parse arguments, run one command, exit with its documented code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = chuks_ci::cli::Cli::parse();
    chuks_ci::commands::run(cli).into()
}
