//! The release context that `check`, `publish`, `whoami` and `yank` share: secrets read before
//! any other output, the registry's address, a client on a small runtime, tag confirmation on
//! the forge, and the token preflight.

use std::time::Duration;

use reqwest::Url;
use secrecy::ExposeSecret;

use crate::cli::{ForgeArgs, NetworkArgs, PreflightArgs, RegistryUrlArgs, TokenArgs};
use crate::forge::{ConfirmMode, ConfirmOutcome, ForgeDetection};
use crate::preflight::PreflightError;
use crate::registry_client::{self, ClientError, ClientOptions, RegistryClient, TokenInfo};
use crate::report::{Problem, Reporter};
use crate::retry::RetryPolicy;
use crate::token::{self, ApiToken, Scope, TokenSource};
use crate::untrusted::Untrusted;
use crate::{ci, preflight};

/// The network settings and the runtime the registry and forge calls run on.
pub struct ReleaseContext {
    runtime: tokio::runtime::Runtime,
    options: ClientOptions,
}

impl ReleaseContext {
    /// Starts the one-thread runtime: only commands that go on the network build one.
    pub fn new(network: &NetworkArgs, reporter: &Reporter) -> anyhow::Result<ReleaseContext> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let options = ClientOptions {
            connect_timeout: Duration::from_secs(network.connect_timeout),
            stall_timeout: Duration::from_secs(network.stall_timeout),
            retry: RetryPolicy {
                retries: network.retries,
                ..RetryPolicy::default()
            },
            trace_http: reporter.verbosity() >= 2,
        };
        Ok(ReleaseContext { runtime, options })
    }

    /// The retry policy every network call of this run follows.
    pub fn retry(&self) -> &RetryPolicy {
        &self.options.retry
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A client for `url` holding `token`; a registry command without a token cannot start.
    pub fn connect(&self, url: Url, token: Option<ApiToken>) -> anyhow::Result<RegistryClient> {
        let token = token.ok_or(token::TokenError::Missing)?;
        Ok(RegistryClient::new(url, Some(token), self.options.clone())?)
    }

    /// A client for `url` without a token, for what needs none (trusted publishing's exchange).
    pub fn connect_without_token(&self, url: Url) -> anyhow::Result<RegistryClient> {
        Ok(RegistryClient::new(url, None, self.options.clone())?)
    }

    /// Confirms the tag on the forge as `--confirm-tag` asks, and says what happened.
    pub fn confirm_tag(
        &self,
        forge: &ForgeCheck,
        tag: &Untrusted,
        reporter: &Reporter,
    ) -> anyhow::Result<()> {
        let retry = self.options.retry;
        let outcome = self.block_on(crate::forge::confirm(
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

    /// The token preflight for publishing: fails without `packages:publish`, reports the warnings.
    /// `None`, with one notice, when the registry offers no token introspection.
    pub fn preflight_publish_token(
        &self,
        client: &RegistryClient,
        args: &PreflightArgs,
        reporter: &mut Reporter,
    ) -> anyhow::Result<Option<TokenInfo>> {
        let checked = self.block_on(preflight::check_token(
            client,
            Scope::PackagesPublish,
            args.expiry_warning_days,
        ));
        let check = match checked {
            Ok(check) => check,
            Err(PreflightError::Client(ClientError::RouteMissing { route, .. })) => {
                reporter.note(format!(
                    "token not checked before the upload: this registry does not offer `{route}`"
                ));
                return Ok(None);
            }
            Err(err) => return Err(err.into()),
        };
        for warning in check.warnings {
            reporter.report(warning);
        }
        Ok(Some(check.info))
    }
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

/// `--registry`, then `CHUKS_REGISTRY_URL`, then the public registry.
pub fn registry_url(args: &RegistryUrlArgs) -> anyhow::Result<Url> {
    let text = args
        .registry
        .clone()
        .or_else(|| {
            std::env::var("CHUKS_REGISTRY_URL")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| registry_client::DEFAULT_REGISTRY.to_string());
    Ok(registry_client::parse_registry_url(&text)?)
}
