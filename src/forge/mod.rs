//! Forge tag confirmation: asking a forge (GitHub, GitLab, Bitbucket Cloud) whether the release
//! tag exists on the remote repository and points at the commit this CI run publishes.
//!
//! The expected commit is always the one the CI names (`GITHUB_SHA`, `CI_COMMIT_SHA`,
//! `BITBUCKET_COMMIT`): that is the commit the pipeline checked out and is publishing. Comparing
//! the local HEAD with the tag is the job of the local git checks, not of this module.
//!
//! Each forge is one module implementing [`ForgeRepository`]; the CI provider (`crate::ci`)
//! that finds the repository and credentials in its environment builds it.

pub mod bitbucket;
pub mod github;
pub mod gitlab;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::http::{self, FetchError, Reply};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

/// One repository on one forge, with the credentials to read its tags.
pub trait ForgeRepository: std::fmt::Debug + Send + Sync {
    /// How the forge is named in messages: `GitHub`.
    fn forge(&self) -> &'static str;

    /// The repository as the forge names it, for messages.
    fn repository(&self) -> String;

    /// The commit `tag` points at (annotated tags peeled); `None` when the forge has no such tag.
    fn tag_commit<'a>(
        &'a self,
        tag: &'a Untrusted,
        policy: &'a RetryPolicy,
    ) -> BoxFuture<'a, Result<Option<String>, ForgeError>>;

    /// Under `--confirm-tag auto`, the notice that replaces a refusal (HTTP `status`) of
    /// credentials the CI hands out by default and may not grant (GitLab's job token); `None`
    /// where a refusal is an error.
    fn refusal_notice(&self, _tag: &Untrusted, _status: u16) -> Option<String> {
        None
    }
}

/// A forge we can ask about the release tag, and the commit the tag must point at.
#[derive(Debug, Clone)]
pub struct Forge {
    repository: Arc<dyn ForgeRepository>,
    commit: String,
}

/// What the environment says about confirming the tag.
#[derive(Debug, Clone)]
pub enum ForgeDetection {
    /// A forge with repository, commit and token: confirmation can run.
    Ready(Forge),
    /// The CI of a forge, but something confirmation needs is missing, usually the token.
    NoCredentials {
        forge_name: &'static str,
        /// What is missing, e.g. "`GITHUB_TOKEN` is not set".
        missing: String,
        /// What to do so the next run confirms the tag.
        how_to_enable: String,
    },
    /// None of the CIs we know.
    NotInCi,
}

impl ForgeDetection {
    pub fn no_credentials(
        forge_name: &'static str,
        missing: impl Into<String>,
        how_to_enable: impl Into<String>,
    ) -> Self {
        ForgeDetection::NoCredentials {
            forge_name,
            missing: missing.into(),
            how_to_enable: how_to_enable.into(),
        }
    }
}

/// Whether to confirm the tag on the forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfirmMode {
    /// Confirm when credentials exist; otherwise print one notice saying how to enable it.
    #[default]
    Auto,
    /// Missing credentials are an error.
    Required,
    /// Never ask the forge.
    Off,
}

/// The forge agreed: the tag exists there and points at the published commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagConfirmation {
    pub forge: &'static str,
    pub tag: Untrusted,
    pub commit: Untrusted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed(TagConfirmation),
    /// Confirmation did not run; the notice says why and, where it helps, how to enable it.
    Skipped {
        notice: String,
    },
    /// Not on a CI with a forge (a local run): there was nothing to confirm on, as expected.
    NotInCi,
}

/// Confirms the tag as `mode` asks, given what the CI provider found (`crate::ci::forge_from`).
pub async fn confirm(
    mode: ConfirmMode,
    detection: &ForgeDetection,
    tag: &Untrusted,
    policy: &RetryPolicy,
) -> Result<ConfirmOutcome, ForgeError> {
    let skipped = |notice: String| Ok(ConfirmOutcome::Skipped { notice });
    match (mode, detection) {
        (ConfirmMode::Off, _) => skipped(format!(
            "tag `{tag}` not confirmed on the forge: `--confirm-tag off`"
        )),
        (_, ForgeDetection::Ready(forge)) => match forge.confirm_tag(tag, policy).await {
            // A self-managed forge served over plain http: under `auto`, say why and go on
            // rather than send the token in the clear or fail every publish.
            Err(err @ ForgeError::InsecureApiUrl { .. }) if mode == ConfirmMode::Auto => {
                let reason = err.to_string();
                let reason = reason.lines().next().unwrap_or_default();
                skipped(format!(
                    "tag `{tag}` not confirmed on {}: {reason}",
                    forge.name()
                ))
            }
            // Credentials the CI hands out by default may not be allowed to read tags (GitLab's
            // job token): under `auto`, a notice (under `required`, the error's hint says more).
            Err(refused @ ForgeError::AuthRefused { status, .. }) if mode == ConfirmMode::Auto => {
                match forge.repository.refusal_notice(tag, status) {
                    Some(notice) => skipped(notice),
                    None => Err(refused),
                }
            }
            result => result.map(ConfirmOutcome::Confirmed),
        },
        (
            ConfirmMode::Auto,
            ForgeDetection::NoCredentials {
                forge_name,
                missing,
                how_to_enable,
            },
        ) => skipped(format!(
            "tag `{tag}` not confirmed on {forge_name}: {missing}; to confirm it, {how_to_enable}"
        )),
        (
            ConfirmMode::Required,
            ForgeDetection::NoCredentials {
                forge_name,
                missing,
                how_to_enable,
            },
        ) => Err(ForgeError::CannotConfirm {
            forge: forge_name,
            missing: missing.clone(),
            how_to_enable: how_to_enable.clone(),
        }),
        (ConfirmMode::Auto, ForgeDetection::NotInCi) => Ok(ConfirmOutcome::NotInCi),
        (ConfirmMode::Required, ForgeDetection::NotInCi) => Err(ForgeError::NotInCi),
    }
}

impl Forge {
    /// `repository` on its forge; `commit` is the one the CI publishes.
    pub fn new(repository: impl ForgeRepository + 'static, commit: String) -> Forge {
        Forge {
            repository: Arc::new(repository),
            commit,
        }
    }

    /// How the forge is named in messages.
    pub fn name(&self) -> &'static str {
        self.repository.forge()
    }

    /// The repository as the forge names it, for messages.
    pub fn repository(&self) -> String {
        self.repository.repository()
    }

    /// The commit the CI is publishing, which the tag must point at.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// Asks the forge where `tag` points (annotated tags peeled) and checks it is
    /// [`Forge::commit`].
    pub async fn confirm_tag(
        &self,
        tag: &Untrusted,
        policy: &RetryPolicy,
    ) -> Result<TagConfirmation, ForgeError> {
        let remote = self.repository.tag_commit(tag, policy).await?;
        let expected = self.commit();
        match remote.map(Untrusted::from) {
            None => Err(ForgeError::TagMissing {
                forge: self.name(),
                repository: self.repository(),
                tag: tag.clone(),
            }),
            Some(remote) if remote.unescaped().eq_ignore_ascii_case(expected) => {
                Ok(TagConfirmation {
                    forge: self.name(),
                    tag: tag.clone(),
                    commit: remote,
                })
            }
            Some(remote) => Err(ForgeError::TagElsewhere {
                forge: self.name(),
                repository: self.repository(),
                tag: tag.clone(),
                remote,
                expected: expected.to_string(),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error(
        "tag `{tag}` does not exist on {forge} in `{repository}`\nhint: push it with `git push origin {tag}`; if it is pushed, check that the token may read `{repository}`"
    )]
    TagMissing {
        forge: &'static str,
        repository: String,
        tag: Untrusted,
    },

    #[error(
        "tag `{tag}` on {forge} in `{repository}` points at commit `{remote}`, but this run publishes commit `{expected}`\nhint: re-tag the published commit (`git tag -f {tag} {expected} && git push -f origin {tag}`), or release from the tagged commit `{remote}`"
    )]
    TagElsewhere {
        forge: &'static str,
        repository: String,
        tag: Untrusted,
        remote: Untrusted,
        expected: String,
    },

    #[error(
        "tag `{tag}` on {forge} points at a {kind} (`{sha}`), not a commit\nhint: tag a commit: `git tag -f {tag} <commit> && git push -f origin {tag}`"
    )]
    NotACommit {
        forge: &'static str,
        tag: Untrusted,
        kind: Untrusted,
        sha: Untrusted,
    },

    #[error(
        "{forge} refused the token (HTTP {status}) reading tag `{tag}` in `{repository}`\nhint: {fix}"
    )]
    AuthRefused {
        forge: &'static str,
        repository: String,
        tag: Untrusted,
        status: u16,
        fix: String,
    },

    #[error(
        "{forge} is unavailable: {detail}, after {attempts} attempts\nhint: the forge or the network is failing; a re-run is safe"
    )]
    Unavailable {
        forge: &'static str,
        attempts: u32,
        detail: String,
    },

    #[error(
        "TLS failed with {forge}: {detail}\nhint: check the API URL and this machine's CA certificates; TLS errors are not retried"
    )]
    Tls { forge: &'static str, detail: String },

    #[error(
        "{forge} gave an unexpected answer about tag `{tag}`: {detail}\nhint: check that `{api_variable}` points at the {forge} API; a re-run is safe"
    )]
    UnexpectedAnswer {
        forge: &'static str,
        tag: Untrusted,
        /// Quotes the forge's answer.
        detail: Untrusted,
        api_variable: &'static str,
    },

    #[error(
        "`{variable}` is not an http(s) URL: `{url}`\nhint: set `{variable}` to the API address, like `{example}`"
    )]
    BadApiUrl {
        variable: &'static str,
        url: String,
        example: &'static str,
    },

    #[error(
        "`{variable}` points at `{host}` over plain http, which would send the forge token unencrypted\nhint: use the https address; plain http is only allowed for loopback addresses"
    )]
    InsecureApiUrl {
        variable: &'static str,
        host: String,
    },

    #[error(
        "could not set up an HTTP client for {forge}: {detail}\nhint: a re-run is safe; if this keeps happening, report it"
    )]
    Client { forge: &'static str, detail: String },

    #[error(
        "tag confirmation is required, but {forge} cannot be asked: {missing}\nhint: {how_to_enable}; to publish without confirming, pass `--confirm-tag auto`"
    )]
    CannotConfirm {
        forge: &'static str,
        missing: String,
        how_to_enable: String,
    },

    #[error(
        "tag confirmation is required, but this run is on no CI chuks-ci knows\nhint: publish from a CI `chuks-ci init` writes a pipeline for; to publish without confirming, pass `--confirm-tag auto`"
    )]
    NotInCi,
}

/// Give up on a tag lookup after these: the tag endpoints are small and quick.
const TIMEOUTS: http::Timeouts = http::SMALL_ANSWER;

/// What a tag lookup needs to word its errors.
struct Lookup<'a> {
    forge: &'static str,
    repository: String,
    tag: &'a Untrusted,
    api_variable: &'static str,
    /// The hint for a 401 or 403: which variable to fix and how.
    auth_fix: String,
}

impl Lookup<'_> {
    /// Sends a request (`send` makes one attempt) with retries, as [`http::fetch`] does.
    async fn fetch<F, Fut>(&self, policy: &RetryPolicy, send: F) -> Result<Reply, ForgeError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<reqwest::Response, http::NoAnswer>>,
    {
        http::fetch(policy, send).await.map_err(|err| match err {
            FetchError::Tls(detail) => ForgeError::Tls {
                forge: self.forge,
                detail,
            },
            FetchError::Exhausted { attempts, last } => ForgeError::Unavailable {
                forge: self.forge,
                attempts,
                detail: last,
            },
            FetchError::TooLarge => self.unexpected(format!(
                "an answer longer than {} MiB",
                http::MAX_ANSWER_BYTES >> 20
            )),
        })
    }

    /// Reads a final answer: the JSON body on success, `None` on 404, an error otherwise.
    fn read<T: serde::de::DeserializeOwned>(&self, reply: Reply) -> Result<Option<T>, ForgeError> {
        match reply.status {
            200..=299 => serde_json::from_str(&reply.body)
                .map(Some)
                .map_err(|err| self.unexpected(format!("unreadable JSON ({err})"))),
            404 => Ok(None),
            401 | 403 => Err(ForgeError::AuthRefused {
                forge: self.forge,
                repository: self.repository.clone(),
                tag: self.tag.clone(),
                status: reply.status,
                fix: self.auth_fix.clone(),
            }),
            status => Err(self.unexpected(format!("HTTP {status}"))),
        }
    }

    fn unexpected(&self, detail: impl Into<String>) -> ForgeError {
        ForgeError::UnexpectedAnswer {
            forge: self.forge,
            tag: self.tag.clone(),
            detail: Untrusted::from(detail.into()),
            api_variable: self.api_variable,
        }
    }
}

/// A forge's API address, read from `variable`: http(s) and usable as a base.
struct ApiBase {
    url: reqwest::Url,
    variable: &'static str,
}

impl ApiBase {
    /// Parses `url`, refusing anything but http(s); `example` shows the expected form.
    fn parse(variable: &'static str, url: &str, example: &'static str) -> Result<Self, ForgeError> {
        let bad = || ForgeError::BadApiUrl {
            variable,
            url: url.to_string(),
            example,
        };
        let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
            return Err(bad());
        }
        Ok(ApiBase {
            url: parsed,
            variable,
        })
    }

    /// The base with `segments` appended, each percent-encoded as one path segment.
    fn endpoint<'s>(&self, segments: impl IntoIterator<Item = &'s str>) -> reqwest::Url {
        let mut url = self.url.clone();
        url.path_segments_mut()
            .expect("parse checked the URL can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// The HTTP client for this API ([`http::client_for`]): plain http only to loopback.
    fn client(
        &self,
        forge: &'static str,
        timeouts: http::Timeouts,
    ) -> Result<reqwest::Client, ForgeError> {
        http::client_for(&self.url, timeouts).map_err(|err| match err {
            http::SetupError::Insecure { host } => ForgeError::InsecureApiUrl {
                variable: self.variable,
                host,
            },
            http::SetupError::Build(detail) => ForgeError::Client { forge, detail },
        })
    }
}

/// One attempt of a plain reqwest request, its failure sorted for the retry loop.
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, http::NoAnswer> {
    request
        .send()
        .await
        .map_err(|err| http::NoAnswer::from_error(&err.without_url()))
}
