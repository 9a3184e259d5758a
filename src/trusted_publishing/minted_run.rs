//! A run's minted token, over its life: minted once the local work is done, and minted again,
//! once, when the registry refuses it as expired. Revoking it at the end is [`super::revoke`].

use super::{Source, TrustError};
use crate::registry_client::RegistryClient;
use crate::report::Reporter;
use crate::retry::RetryPolicy;
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
    /// A client of the registry without a token: the exchange needs none.
    client: RegistryClient,
    package: String,
    retry: RetryPolicy,
    reminted: bool,
}

impl MintedRun {
    /// Exchanges the ID token of `source` at the registry `client` speaks to, for `package`.
    pub async fn start(
        source: Source,
        client: RegistryClient,
        package: &str,
        retry: RetryPolicy,
        reporter: &Reporter,
    ) -> Result<(MintedRun, ApiToken), TrustError> {
        let minted = source.mint(&client, package, &retry, reporter).await?;
        let run = MintedRun {
            source,
            client,
            package: package.to_string(),
            retry,
            reminted: false,
        };
        Ok((run, minted.token))
    }

    /// A fresh token for one that expired, once: `None` when one was minted again already.
    pub async fn remint(&mut self, reporter: &Reporter) -> Result<Option<ApiToken>, TrustError> {
        if self.reminted {
            return Ok(None);
        }
        self.reminted = true;
        reporter.note("the minted token expired: exchanging a fresh ID token once");
        let minted = self
            .source
            .mint(&self.client, &self.package, &self.retry, reporter)
            .await?;
        Ok(Some(minted.token))
    }
}
