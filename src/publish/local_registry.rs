//! `publish --local-registry DIR`: the reference registry started in this process for one run,
//! with a publish-only token minted for it and revoked when the run ends. A build without the
//! `local-registry` feature (the lean CI binary) says so instead.

use std::path::Path;

use crate::report::Reporter;
use crate::token::ApiToken;

#[cfg(feature = "local-registry")]
pub use embedded::LocalRun;

#[cfg(not(feature = "local-registry"))]
pub use lean::LocalRun;

#[cfg(feature = "local-registry")]
mod embedded {
    use super::*;
    use crate::registry_server::{Registry, RegistryConfig, RunningRegistry};
    use crate::token::Scope;
    use crate::untrusted::Untrusted;

    /// The publisher that `--local-registry` publishes as.
    const LOCAL_PUBLISHER: &str = "local";

    /// How long the token minted for the run lives, were it not revoked: past the expiry-warning
    /// window.
    const LOCAL_TOKEN_DAYS: i64 = 30;

    /// The registry serving for this run, and its token, revoked when the run ends: the registry
    /// is gone then, and so is the need.
    pub struct LocalRun {
        registry: RunningRegistry,
        token_id: i64,
    }

    impl LocalRun {
        /// Starts the reference registry on `dir` and mints a publish-only token for the run, the
        /// same kind of token a CI pipeline should hold.
        pub fn start(dir: &Path, reporter: &Reporter) -> anyhow::Result<(LocalRun, ApiToken)> {
            let registry = Registry::start(RegistryConfig::new(dir))?;
            let issued = registry.create_token(
                LOCAL_PUBLISHER,
                "chuks-ci publish --local-registry",
                &[Scope::PackagesPublish],
                LOCAL_TOKEN_DAYS,
            )?;
            reporter.note(format!(
                "publishing to the reference registry in `{}`, as publisher `{LOCAL_PUBLISHER}` with a `packages:publish` token for this run",
                Untrusted::path(dir)
            ));
            reporter.debug(
                1,
                format!(
                    "local registry at {} for this run, token #{}",
                    registry.url(),
                    issued.record.id
                ),
            );
            let local = LocalRun {
                registry,
                token_id: issued.record.id,
            };
            Ok((local, issued.token))
        }

        /// Where it serves, for this run only.
        pub fn url(&self) -> &str {
            self.registry.url()
        }
    }

    impl Drop for LocalRun {
        fn drop(&mut self) {
            // A token left active in a rehearsal folder is harmless: nothing serves it.
            let _ = self.registry.revoke_token(self.token_id);
        }
    }
}

#[cfg(not(feature = "local-registry"))]
mod lean {
    use super::*;

    /// Never made: this build has no registry to start.
    pub enum LocalRun {}

    impl LocalRun {
        pub fn start(_dir: &Path, _reporter: &Reporter) -> anyhow::Result<(LocalRun, ApiToken)> {
            anyhow::bail!(
                "this chuks-ci was built without the reference registry, so `--local-registry` is not available\nhint: rehearse with a chuks-ci built with its default features (`cargo install --path .`), or publish to a registry with `--registry`"
            )
        }

        pub fn url(&self) -> &str {
            match *self {}
        }
    }
}
