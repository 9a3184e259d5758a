//! What `check`, `publish`, `whoami` and `yank` share: secrets read before any other output, the
//! session their network calls run on, tag confirmation on the forge, and the uploader asked for.

use std::time::Duration;

use secrecy::ExposeSecret;

use crate::ci;
use crate::cli::{ForgeArgs, NetworkArgs, TokenArgs, UploaderArg, UploaderArgs};
use crate::forge::{ConfirmMode, ConfirmOutcome, ForgeDetection};
use crate::publish::uploader::{UploaderChoice, UploaderKind};
use crate::registry_client::ClientOptions;
use crate::report::{Problem, Reporter};
use crate::retry::RetryPolicy;
use crate::session::Session;
use crate::token::{self, ApiToken, TokenSource};
use crate::untrusted::Untrusted;

/// The session a network command runs on: its runtime, and the network settings of `args`.
pub fn session(args: &NetworkArgs, reporter: &Reporter) -> anyhow::Result<Session> {
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(args.connect_timeout),
        stall_timeout: Duration::from_secs(args.stall_timeout),
        retry: RetryPolicy {
            retries: args.retries,
            ..RetryPolicy::default()
        },
        trace_http: reporter.verbosity() >= 2,
    };
    Ok(Session::new(options)?)
}

/// `--uploader` and how to run the official CLI, as `check` and `publish` choose the uploader.
pub fn uploader_choice(args: &UploaderArgs) -> UploaderChoice {
    UploaderChoice {
        kind: match args.uploader {
            UploaderArg::Auto => UploaderKind::Auto,
            UploaderArg::Chuks => UploaderKind::Chuks,
            UploaderArg::Http => UploaderKind::Http,
        },
        chuks_bin: args.chuks_bin.clone(),
        upload_timeout: Duration::from_secs(args.upload_timeout),
    }
}

/// Confirms the tag on the forge as `--confirm-tag` asks, and says what happened.
pub fn confirm_tag(
    session: &Session,
    forge: &ForgeCheck,
    tag: &Untrusted,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let retry = *session.retry();
    let outcome = session.block_on(crate::forge::confirm(
        forge.mode,
        &forge.detection,
        tag,
        &retry,
    ))?;
    match outcome {
        ConfirmOutcome::Confirmed(confirmation) => reporter.note(format!(
            "confirmed tag `{}` on {} at commit {}",
            confirmation.tag, confirmation.forge, confirmation.commit
        )),
        ConfirmOutcome::Skipped { notice } => reporter.note(notice),
        // A local run has no forge to ask: saying so on every run would be noise.
        ConfirmOutcome::NotInCi => reporter.debug(
            1,
            format!("tag `{tag}` not confirmed on a forge: not running on a CI chuks-ci knows"),
        ),
    }
    Ok(())
}

/// The forge to confirm the tag on, found before any other output so its token is masked first.
pub struct ForgeCheck {
    mode: ConfirmMode,
    detection: ForgeDetection,
}

impl ForgeCheck {
    /// Finds the forge and its credentials; a `--github-token` is masked in the CI's log first.
    pub fn detect(args: &ForgeArgs, reporter: &Reporter) -> ForgeCheck {
        if let Some(token) = &args.github_token {
            reporter.mask(token.expose_secret());
        }
        ForgeCheck {
            mode: args.confirm_tag.into(),
            detection: ci::forge_from_env(args.github_token.clone()),
        }
    }
}

/// Reads the API token from `--token`, `CHUKS_TOKEN` or stdin. On a CI that masks on request
/// (GitHub Actions) the value is masked before anything else is printed. Shape warnings are
/// reported here.
pub fn api_token(args: &TokenArgs, reporter: &mut Reporter) -> anyhow::Result<Option<ApiToken>> {
    let env = std::env::var("CHUKS_TOKEN").ok();
    let env_is_set = env.is_some();
    let mut stdin = std::io::stdin();
    let stdin: Option<&mut dyn std::io::Read> = match args.token_stdin {
        true => Some(&mut stdin),
        false => None,
    };
    let mask = |raw: &str| reporter.mask(raw);
    let flag = args.token.as_ref().map(ExposeSecret::expose_secret);
    let Some(resolved) = token::resolve(flag, env, stdin, mask)? else {
        return Ok(None);
    };
    for warning in resolved.warnings {
        reporter.report(Problem::warning(warning));
    }
    if resolved.source == TokenSource::Flag && ci::is_ci() {
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
