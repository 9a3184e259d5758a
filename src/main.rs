//! The `chuks-ci` binary: parse arguments, run one command, exit with its documented code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match chuks_ci::cli::Cli::try_parse() {
        Ok(cli) => chuks_ci::commands::run(cli).into(),
        Err(err) => print_parse_error(&err),
    }
}

/// Prints clap's message (usage error, `--help`, `--version`) as clap would, with its colours
/// and exit code, but redacted: a token given where an argument was not expected is echoed
/// back in the message.
fn print_parse_error(err: &clap::Error) -> ExitCode {
    let text = err.render().ansi().to_string();
    let text = chuks_ci::redact::redact(&text);
    // anstream drops the colours where clap would (not a terminal, `NO_COLOR`).
    let written = if err.use_stderr() {
        write!(anstream::stderr(), "{text}")
    } else {
        write!(anstream::stdout(), "{text}")
    };
    // A closed stream (`--help | head -1`) is not worth a panic.
    drop(written);
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}
