//! Forge tag confirmation: asking GitHub, GitLab or Bitbucket Cloud whether the release tag exists
//! on the remote repository and points at the commit this CI run publishes.
//!
//! The expected commit is always the one the CI names (`GITHUB_SHA`, `CI_COMMIT_SHA`,
//! `BITBUCKET_COMMIT`): that is the commit the pipeline checked out and is publishing. Comparing
//! the local HEAD with the tag is the job of the local git checks, not of this module.

pub mod bitbucket;
pub mod github;
pub mod gitlab;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::retry::{
    self, AttemptError, RetryError, RetryPolicy, Transient, is_retryable_status, parse_retry_after,
};
use crate::untrusted::Untrusted;

/// Give up connecting after this long; the retry policy decides whether to try again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Give up on an answer after this long; the tag endpoints are small and quick.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A forge we can ask about the release tag, with everything the question needs.
#[derive(Debug, Clone)]
pub enum Forge {
    Github(github::GithubTarget),
    Gitlab(gitlab::GitlabTarget),
    Bitbucket(bitbucket::BitbucketTarget),
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

/// Confirms the tag as `mode` asks, given what [`detect`] found.
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
            // Some GitLab instances refuse the job token on the tags API: under `auto`, a notice
            // (under `required`, the error's hint says to set `GITLAB_TOKEN`).
            Err(ForgeError::AuthRefused { status, .. })
                if mode == ConfirmMode::Auto && forge.uses_job_token() =>
            {
                skipped(format!(
                    "tag `{tag}` not confirmed on GitLab: it refused `CI_JOB_TOKEN` on the tags API (HTTP {status}); to confirm it, set `GITLAB_TOKEN` (a masked CI/CD variable) to an access token with the `read_api` scope"
                ))
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
    /// How the forge is named in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Forge::Github(_) => github::NAME,
            Forge::Gitlab(_) => gitlab::NAME,
            Forge::Bitbucket(_) => bitbucket::NAME,
        }
    }

    /// Whether the forge is asked with GitLab's `CI_JOB_TOKEN`, which some instances refuse.
    fn uses_job_token(&self) -> bool {
        matches!(self, Forge::Gitlab(target) if target.uses_job_token())
    }

    /// The repository as the forge names it, for messages.
    pub fn repository(&self) -> String {
        match self {
            Forge::Github(target) => target.repository(),
            Forge::Gitlab(target) => target.project(),
            Forge::Bitbucket(target) => target.repository(),
        }
    }

    /// The commit the CI is publishing, which the tag must point at.
    pub fn commit(&self) -> &str {
        match self {
            Forge::Github(target) => &target.commit,
            Forge::Gitlab(target) => &target.commit,
            Forge::Bitbucket(target) => &target.commit,
        }
    }

    /// Asks the forge where `tag` points (annotated tags peeled) and checks it is [`Forge::commit`].
    pub async fn confirm_tag(
        &self,
        tag: &Untrusted,
        policy: &RetryPolicy,
    ) -> Result<TagConfirmation, ForgeError> {
        let remote = match self {
            Forge::Github(target) => github::tag_commit(target, tag, policy).await?,
            Forge::Gitlab(target) => gitlab::tag_commit(target, tag, policy).await?,
            Forge::Bitbucket(target) => bitbucket::tag_commit(target, tag, policy).await?,
        };
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
        "tag confirmation is required, but this is not GitHub Actions, GitLab CI or Bitbucket Pipelines\nhint: publish from one of those CIs; to publish without confirming, pass `--confirm-tag auto`"
    )]
    NotInCi,
}

/// One forge's answer to one request, reduced to what the retry loop and status checks need.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    /// GitHub answers an exhausted rate limit with 403, which is an outage, not a refusal.
    rate_limited: bool,
    body: String,
}

impl Reply {
    fn from_parts(status: u16, headers: &reqwest::header::HeaderMap, body: String) -> Reply {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        Reply {
            status,
            retry_after: header("retry-after")
                .and_then(|value| parse_retry_after(value, jiff::Timestamp::now())),
            rate_limited: status == 403 && header("x-ratelimit-remaining") == Some("0"),
            body,
        }
    }

    fn is_retryable(&self) -> bool {
        is_retryable_status(self.status) || self.rate_limited
    }
}

/// Sends a request until the forge gives an answer worth reading: connect errors, timeouts and
/// retryable statuses are retried as `policy` says. `send` reports transport failures as text.
async fn send_with_retries<F, Fut>(
    forge: &'static str,
    policy: &RetryPolicy,
    mut send: F,
) -> Result<Reply, ForgeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Reply, NoAnswer>>,
{
    let attempt = || {
        let sent = send();
        async move {
            match sent.await {
                Ok(reply) if !reply.is_retryable() => Ok(reply),
                Ok(reply) => Err(AttemptError::Transient(Transient {
                    message: match reply.rate_limited {
                        true => "rate limited".to_string(),
                        false => format!("HTTP {}", reply.status),
                    },
                    retry_after: reply.retry_after,
                })),
                Err(NoAnswer::Tls(detail)) => Err(AttemptError::Fatal(detail)),
                Err(NoAnswer::Transient(transport)) => {
                    Err(AttemptError::Transient(Transient::new(transport)))
                }
            }
        }
    };
    retry::with_retries(policy, attempt)
        .await
        .map_err(|err| match err {
            RetryError::Fatal(detail) => ForgeError::Tls { forge, detail },
            RetryError::Exhausted { attempts, last } => ForgeError::Unavailable {
                forge,
                attempts,
                detail: last,
            },
        })
}

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

/// Parses an API base address from `variable`, refusing anything but http(s).
fn api_url(
    variable: &'static str,
    url: &str,
    example: &'static str,
) -> Result<reqwest::Url, ForgeError> {
    let bad = || ForgeError::BadApiUrl {
        variable,
        url: url.to_string(),
        example,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(bad());
    }
    if let Some(host) = crate::http::insecure_host(&parsed) {
        return Err(ForgeError::InsecureApiUrl { variable, host });
    }
    Ok(parsed)
}

/// `base` with `segments` appended, each percent-encoded as one path segment.
fn endpoint<'s>(base: &reqwest::Url, segments: impl IntoIterator<Item = &'s str>) -> reqwest::Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("api_url checked the URL can be a base")
        .pop_if_empty()
        .extend(segments);
    url
}

/// The reqwest client GitLab and Bitbucket lookups share.
fn http_client(forge: &'static str) -> Result<reqwest::Client, ForgeError> {
    crate::http::install_tls_provider();
    reqwest::Client::builder()
        // Custom token headers (`PRIVATE-TOKEN`, `JOB-TOKEN`) would survive a cross-host redirect.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(ANSWER_TIMEOUT)
        .user_agent(concat!("chuks-ci/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| ForgeError::Client {
            forge,
            detail: err.to_string(),
        })
}

/// Why a request got no answer.
enum NoAnswer {
    /// Worth another attempt: refused, reset or timed out.
    Transient(String),
    /// TLS itself failed, which retrying cannot mend.
    Tls(String),
}

fn no_answer(err: &(dyn std::error::Error + 'static)) -> NoAnswer {
    match crate::http::tls_failure(err) {
        Some(detail) => NoAnswer::Tls(detail),
        None => NoAnswer::Transient(crate::http::describe_transport(err)),
    }
}

/// Sends one reqwest request and reads the whole answer.
async fn send_reqwest(request: reqwest::RequestBuilder) -> Result<Reply, NoAnswer> {
    let response = request.send().await.map_err(transport_failure)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.map_err(transport_failure)?;
    Ok(Reply::from_parts(status, &headers, body))
}

fn transport_failure(err: reqwest::Error) -> NoAnswer {
    if err.is_timeout() {
        NoAnswer::Transient("timed out".to_string())
    } else {
        no_answer(&err.without_url())
    }
}
