//! One module per subcommand; `run` dispatches and turns errors into diagnostics and exit codes.

mod pack;
mod registry;
mod verify_tag;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::report::{Format, Problem, Reporter};

/// Runs the parsed command line and returns the documented exit code.
pub fn run(cli: Cli) -> Exit {
    let mut reporter = Reporter::from_env(cli.format, cli.verbose);
    let result = match cli.command {
        Command::VerifyTag(args) => verify_tag::run(&args, &mut reporter),
        Command::Pack(args) => pack::run(&args, &mut reporter),
        Command::Registry(command) => registry::run(command, &mut reporter),
    };
    match result {
        Ok(exit) => exit,
        Err(err) => {
            let exit = crate::exit::classify(&err);
            reporter.report(Problem::from_error(&err));
            if reporter.format == Format::Json {
                crate::report::print_json(&serde_json::json!({
                    "result": "error",
                    "exit_code": exit as u8,
                    "problems": reporter.problems(),
                }));
            }
            exit
        }
    }
}
