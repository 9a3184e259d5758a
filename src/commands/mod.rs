//! One module per subcommand; `run` dispatches and turns errors into diagnostics and exit codes.

mod init;
mod pack;
mod publish;
mod registry;
mod verify_tag;

use crate::cli::{Cli, Command, TokenArgs};
use crate::exit::Exit;
use crate::report::{Format, Problem, Reporter};
use crate::token::{self, ApiToken, TokenSource};

/// Runs the parsed command line and returns the documented exit code.
pub fn run(cli: Cli) -> Exit {
    let mut reporter = Reporter::from_env(cli.format, cli.verbose);
    let result = match cli.command {
        Command::VerifyTag(args) => verify_tag::run(&args, &mut reporter),
        Command::Pack(args) => pack::run(&args, &mut reporter),
        Command::Publish(args) => publish::run(&args, &mut reporter),
        Command::Registry(command) => registry::run(command, &mut reporter),
        Command::Init(args) => init::run(&args, &mut reporter),
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

/// Reads the API token from `--token`, `CHUKS_TOKEN` or stdin. In GitHub Actions the value is
/// masked before anything else is printed. Shape warnings are reported here.
fn api_token(args: &TokenArgs, reporter: &mut Reporter) -> anyhow::Result<Option<ApiToken>> {
    let env = std::env::var("CHUKS_TOKEN").ok();
    let env_is_set = env.is_some();
    let mut stdin = std::io::stdin();
    let stdin: Option<&mut dyn std::io::Read> = match args.token_stdin {
        true => Some(&mut stdin),
        false => None,
    };
    let mask = |raw: &str| {
        if reporter.github_actions() {
            println!("::add-mask::{raw}");
        }
    };
    let Some(resolved) = token::resolve(args.token.as_deref(), env, stdin, mask)? else {
        return Ok(None);
    };
    for warning in resolved.warnings {
        reporter.report(Problem::warning(warning));
    }
    if resolved.source == TokenSource::Flag && crate::ci::is_ci() {
        reporter.report(
            Problem::warning(
                "`--token` puts the token on the command line, where other processes can read it",
            )
            .with_hint("set `CHUKS_TOKEN` from your CI's secret store instead"),
        );
    }
    if args.token_stdin && env_is_set && resolved.source == TokenSource::Env {
        reporter.report(
            Problem::warning("`--token-stdin` was ignored because `CHUKS_TOKEN` is set")
                .with_hint("unset `CHUKS_TOKEN` to read the token from standard input"),
        );
    }
    Ok(Some(resolved.token))
}
