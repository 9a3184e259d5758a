//! One module per subcommand; `run` dispatches and turns errors into diagnostics and exit codes.

mod bump;
mod check;
mod hook;
mod init;
mod pack;
mod publish;
mod registry;
mod verify_tag;
mod whoami;
mod yank;

use std::time::Duration;

use crate::cli::{
    Cli, Command, ForgeArgs, NetworkArgs, PreflightArgs, RegistryAccessArgs, RegistryUrlArgs,
    TokenArgs,
};
use crate::exit::Exit;
use crate::forge::{ConfirmOutcome, ForgeDetection};
use crate::preflight;
use crate::registry_client::TokenInfo;
use crate::registry_client::{self, ClientOptions, RegistryClient};
use crate::report::{Format, Problem, Reporter};
use crate::retry::RetryPolicy;
use crate::token::Scope;
use secrecy::ExposeSecret;

use crate::token::{self, ApiToken, TokenSource};

/// Runs the parsed command line and returns the documented exit code.
pub fn run(cli: Cli) -> Exit {
    let mut reporter = Reporter::from_env(cli.format, cli.verbose);
    let result = match cli.command {
        Command::VerifyTag(args) => verify_tag::run(&args, &mut reporter),
        Command::Pack(args) => pack::run(&args, &mut reporter),
        Command::Publish(args) => publish::run(&args, &mut reporter),
        Command::Check(args) => check::run(&args, &mut reporter),
        Command::Whoami(args) => whoami::run(&args, &mut reporter),
        Command::Yank(args) => yank::run_yank(&args, &mut reporter),
        Command::Restore(args) => yank::run_restore(&args, &mut reporter),
        Command::Registry(command) => registry::run(command, &mut reporter),
        Command::Init(args) => init::run(&args, &mut reporter),
        Command::Bump(args) => bump::run(&args, &mut reporter),
        Command::Hook(command) => hook::run(&command, &mut reporter),
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
            print_masks(raw);
        }
    };
    let flag = args.token.as_ref().map(ExposeSecret::expose_secret);
    let Some(resolved) = token::resolve(flag, env, stdin, mask)? else {
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

/// Asks the Actions runner to mask a secret. The runner masks one line per command, so a value
/// that spans lines (a pasted mistake) is masked piece by piece.
fn print_masks(secret: &str) {
    for piece in secret.split_whitespace() {
        println!("::add-mask::{piece}");
    }
}

/// Finds the forge and its credentials; a `--github-token` is masked in GitHub Actions first.
fn forge_detection(args: &ForgeArgs, reporter: &Reporter) -> ForgeDetection {
    if let Some(token) = &args.github_token {
        if reporter.github_actions() {
            print_masks(token.expose_secret());
        }
    }
    crate::forge::detect_from_env(args.github_token.clone())
}

/// Confirms the tag on the forge as `--confirm-tag` asks, and says what happened.
fn confirm_tag_on_forge(
    runtime: &tokio::runtime::Runtime,
    args: &ForgeArgs,
    forge: &ForgeDetection,
    tag: &str,
    network: &NetworkArgs,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let policy = retry_policy(network);
    let outcome = runtime.block_on(crate::forge::confirm(args.confirm_tag, forge, tag, &policy))?;
    match outcome {
        ConfirmOutcome::Confirmed(confirmation) => reporter.note(format!(
            "confirmed tag `{}` on {} at commit {}",
            confirmation.tag, confirmation.forge, confirmation.commit
        )),
        ConfirmOutcome::Skipped { notice } => reporter.note(notice),
    }
    Ok(())
}

/// The token preflight for publishing: fails without `packages:publish`, reports the warnings.
fn preflight_publish_token(
    runtime: &tokio::runtime::Runtime,
    connection: &Connection,
    args: &PreflightArgs,
    reporter: &mut Reporter,
) -> anyhow::Result<TokenInfo> {
    let check = runtime.block_on(preflight::check_token(
        &connection.client,
        Scope::PackagesPublish,
        args.expiry_warning_days,
    ))?;
    for warning in check.warnings {
        reporter.report(warning);
    }
    Ok(check.info)
}

/// A client for the chosen registry, with the token, on its own small runtime.
struct Connection {
    client: RegistryClient,
}

impl Connection {
    fn open(
        url: reqwest::Url,
        token: Option<ApiToken>,
        network: &NetworkArgs,
        reporter: &Reporter,
    ) -> anyhow::Result<Connection> {
        let options = ClientOptions {
            connect_timeout: Duration::from_secs(network.connect_timeout),
            stall_timeout: Duration::from_secs(network.stall_timeout),
            retry: retry_policy(network),
            trace_http: reporter.verbosity() >= 2,
        };
        let token = token.ok_or(token::TokenError::Missing)?;
        Ok(Connection {
            client: RegistryClient::new(url, Some(token), options)?,
        })
    }
}

/// The network commands' runtime: one thread, started only when a command needs the network.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn retry_policy(network: &NetworkArgs) -> RetryPolicy {
    RetryPolicy {
        retries: network.retries,
        ..RetryPolicy::default()
    }
}

/// `--registry`, then `CHUKS_REGISTRY`, then the public registry.
fn registry_url(args: &RegistryUrlArgs) -> anyhow::Result<reqwest::Url> {
    let text = args
        .registry
        .clone()
        .or_else(|| {
            std::env::var("CHUKS_REGISTRY")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| registry_client::DEFAULT_REGISTRY.to_string());
    Ok(registry_client::parse_registry_url(&text)?)
}

/// Opens a connection from the common token, registry and network flags.
fn connect(access: &RegistryAccessArgs, reporter: &mut Reporter) -> anyhow::Result<Connection> {
    let token = api_token(&access.token, reporter)?;
    Connection::open(
        registry_url(&access.registry)?,
        token,
        &access.network,
        reporter,
    )
}

/// A commit id shortened for people, as git shows it.
fn short_commit(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
