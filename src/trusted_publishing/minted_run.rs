//! A run's minted token, over its life: minted once the local work is done, minted again once if
//! the registry refuses it as expired, revoked at the end of the run whatever happened.

use reqwest::Url;

use super::{Minted, Source, TrustError, revoke};
use crate::official_cli::CliError;
use crate::preflight::PreflightError;
use crate::protocol::ErrorCode;
use crate::registry_client::{ClientError, RegistryClient};
use crate::report::{Problem, Reporter};
use crate::session::Session;
use crate::token::ApiToken;

/// Where a run's token came from; the `auth` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `--token`, `CHUKS_TOKEN`, `--token-stdin`, or a local registry's own.
    Token,
    /// Minted by exchanging the CI's ID token.
    TrustedPublishing,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Token => "token",
            Auth::TrustedPublishing => "trusted-publishing",
        }
    }
}

/// How a run got its minted token, so it can get one more.
pub struct MintedRun {
    source: Source,
    url: Url,
    package: String,
    reminted: bool,
}

impl MintedRun {
    /// Exchanges the ID token of `source` at the registry at `url`, for `package`.
    pub fn start(
        source: Source,
        url: Url,
        package: &str,
        session: &Session,
        reporter: &Reporter,
    ) -> Result<(MintedRun, ApiToken), TrustError> {
        let run = MintedRun {
            source,
            url,
            package: package.to_string(),
            reminted: false,
        };
        let minted = run.mint(session, reporter)?;
        Ok((run, minted.token))
    }

    /// A fresh token after `err`, when `err` is the registry refusing the minted one as expired
    /// and no fresh one was minted yet; `None` otherwise, so the caller keeps its error.
    pub fn remint_after(
        &mut self,
        err: &anyhow::Error,
        session: &Session,
        reporter: &Reporter,
    ) -> Result<Option<ApiToken>, TrustError> {
        if self.reminted || !is_expired_token(err) {
            return Ok(None);
        }
        self.reminted = true;
        reporter.note("the minted token expired: exchanging a fresh ID token once");
        Ok(Some(self.mint(session, reporter)?.token))
    }

    fn mint(&self, session: &Session, reporter: &Reporter) -> Result<Minted, TrustError> {
        let client = session.connect_without_token(self.url.clone())?;
        let minting = self
            .source
            .mint(&client, &self.package, session.retry(), reporter);
        session.block_on(minting)
    }

    /// Revokes the token `client` holds; a failure is a warning, as the token expires anyway.
    pub fn revoke(&self, client: &RegistryClient, session: &Session, reporter: &mut Reporter) {
        match session.block_on(revoke(client)) {
            Ok(()) => reporter.debug(1, "revoked the minted token"),
            Err(err) => reporter.report(
                Problem::warning(format!("could not revoke the minted token: {err}"))
                    .with_hint("nothing to do: it expires on its own within minutes"),
            ),
        }
    }
}

/// Whether `err` is the registry refusing a token as expired: `token_expired` from chuks-ci's
/// client, or the official CLI's refusal that says so.
fn is_expired_token(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let client_error = cause.downcast_ref::<ClientError>().or_else(|| {
            match cause.downcast_ref::<PreflightError>() {
                Some(PreflightError::Client(err)) => Some(err),
                _ => None,
            }
        });
        let client_said = matches!(
            client_error,
            Some(ClientError::Auth {
                code: ErrorCode::TokenExpired,
                ..
            })
        );
        let cli_said = matches!(
            cause.downcast_ref::<CliError>(),
            Some(CliError::AuthRefused { said }) if said.unescaped().to_ascii_lowercase().contains("expired")
        );
        client_said || cli_said
    })
}
