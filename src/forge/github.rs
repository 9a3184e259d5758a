//! GitHub and GitHub Enterprise Server: the one lookup of the commit a tag points at, with
//! octocrab, annotated tags peeled. Tag confirmation asks it with the workflow's token; `init`
//! asks it without one, to pin `chuks/publish-action@<sha> # vX.Y.Z`.
//!
//! `ci::github` finds the repository, commit, API address and token in the environment.

use std::time::Duration;

use futures_util::future::BoxFuture;
use octocrab::Octocrab;
use secrecy::SecretString;
use serde::Deserialize;

use super::{ApiBase, ForgeError, ForgeRepository, Lookup};
use crate::http::{NoAnswer, Reply, Timeouts};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

pub const NAME: &str = "GitHub";

pub const DEFAULT_API_URL: &str = "https://api.github.com";

pub const API_URL_VARIABLE: &str = "GITHUB_API_URL";

/// Annotated tags can tag other tags; a longer chain than this is treated as a broken answer.
const MAX_TAG_CHAIN: usize = 8;

/// `init` is interactive: an unreachable GitHub costs seconds, not minutes, and is asked once.
const INTERACTIVE: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    answer: Some(Duration::from_secs(5)),
};

/// A GitHub repository, and the token to read its tags (none for a public repository).
#[derive(Debug, Clone)]
pub struct GithubRepository {
    pub api_url: String,
    pub owner: String,
    pub name: String,
    pub token: Option<GithubToken>,
}

/// A token for GitHub's API.
#[derive(Debug, Clone)]
pub struct GithubToken {
    pub secret: SecretString,
    /// Where it came from (`--github-token`, `GITHUB_TOKEN`), so a refusal names what to fix.
    pub source: &'static str,
}

impl ForgeRepository for GithubRepository {
    fn forge(&self) -> &'static str {
        NAME
    }

    /// `owner/name`.
    fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn tag_commit<'a>(
        &'a self,
        tag: &'a Untrusted,
        policy: &'a RetryPolicy,
    ) -> BoxFuture<'a, Result<Option<String>, ForgeError>> {
        Box::pin(tag_commit(self, tag, policy, super::TIMEOUTS))
    }
}

/// The commit `tag` points at on GitHub, annotated tags peeled; `None` when the tag is missing.
async fn tag_commit(
    repository: &GithubRepository,
    tag: &Untrusted,
    policy: &RetryPolicy,
    timeouts: Timeouts,
) -> Result<Option<String>, ForgeError> {
    let base = ApiBase::parse(API_URL_VARIABLE, &repository.api_url, "https://HOST/api/v3")?;
    let crab = client(&base, repository.token.as_ref(), timeouts)?;
    let lookup = Lookup {
        forge: NAME,
        repository: repository.repository(),
        tag,
        api_variable: API_URL_VARIABLE,
        auth_fix: match &repository.token {
            Some(token) => format!(
                "check the token from {}: it must be valid and allowed to read `{}`; in a workflow, give the job `permissions: contents: read`",
                token.source,
                repository.repository()
            ),
            None => format!(
                "`{}` must be public to be read without a token",
                repository.repository()
            ),
        },
    };
    let git = [
        "repos",
        repository.owner.as_str(),
        repository.name.as_str(),
        "git",
    ];
    // GitHub takes the ref path as written, slashes included: `tags/@chuks/numpy@1.2.0`.
    let ref_url = base.endpoint(
        git.into_iter()
            .chain(["ref", "tags"])
            .chain(tag.unescaped().split('/')),
    );
    let Some(reference) = lookup.read::<GitRef>(get(&crab, &lookup, &ref_url, policy).await?)?
    else {
        return Ok(None);
    };
    let mut object = reference.object;
    for _ in 0..MAX_TAG_CHAIN {
        match object.kind.as_str() {
            "commit" => return Ok(Some(object.sha)),
            "tag" => {
                let url = base.endpoint(git.into_iter().chain(["tags", &object.sha]));
                let Some(annotated) =
                    lookup.read::<GitRef>(get(&crab, &lookup, &url, policy).await?)?
                else {
                    return Err(lookup.unexpected(format!(
                        "the ref names tag object `{}`, which does not exist",
                        object.sha
                    )));
                };
                object = annotated.object;
            }
            kind => {
                return Err(ForgeError::NotACommit {
                    forge: NAME,
                    tag: tag.clone(),
                    kind: Untrusted::from(kind),
                    sha: Untrusted::from(object.sha),
                });
            }
        }
    }
    Err(lookup.unexpected(format!("tag objects nested more than {MAX_TAG_CHAIN} deep")))
}

/// The commit `tag` of the public repository `repository` (`owner/name`) points at, asked of
/// `api_url` without a token and once: how `init` pins the action by commit.
pub async fn release_commit(
    api_url: &str,
    repository: &str,
    tag: &str,
) -> Result<String, ResolveError> {
    let Some((owner, name)) = repository.split_once('/') else {
        return Err(ResolveError::Other(format!(
            "`{repository}` is not `owner/name`"
        )));
    };
    let repository = GithubRepository {
        api_url: api_url.to_string(),
        owner: owner.to_string(),
        name: name.to_string(),
        token: None,
    };
    let once = RetryPolicy {
        retries: 0,
        ..RetryPolicy::default()
    };
    let tag = Untrusted::from(tag);
    let commit = tag_commit(&repository, &tag, &once, INTERACTIVE)
        .await?
        .ok_or(ResolveError::NoSuchTag(tag))?;
    // The SHA goes into a workflow file: it must be one, in SHA-1 or SHA-256 form.
    let is_sha = matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    match is_sha {
        true => Ok(commit.to_ascii_lowercase()),
        false => Err(ResolveError::NotASha),
    }
}

/// Why [`release_commit`] found no commit, in one line for `init`'s note.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("GitHub could not be reached ({0})")]
    Unreachable(String),
    #[error("GitHub answered HTTP {0}")]
    Status(u16),
    #[error("GitHub has no tag `{0}`")]
    NoSuchTag(Untrusted),
    #[error("GitHub's answer is not a commit SHA")]
    NotASha,
    #[error(
        "`{variable}` points at `{host}` over plain http; the commit to pin must come over https"
    )]
    Insecure {
        variable: &'static str,
        host: String,
    },
    /// Anything else the lookup refused, as the first line of its message.
    #[error("{0}")]
    Other(String),
}

impl From<ForgeError> for ResolveError {
    fn from(err: ForgeError) -> Self {
        match err {
            ForgeError::Unavailable { detail, .. }
            | ForgeError::Tls { detail, .. }
            | ForgeError::Client { detail, .. } => ResolveError::Unreachable(detail),
            ForgeError::AuthRefused { status, .. } => ResolveError::Status(status),
            ForgeError::TagMissing { tag, .. } => ResolveError::NoSuchTag(tag),
            ForgeError::UnexpectedAnswer { .. } | ForgeError::NotACommit { .. } => {
                ResolveError::NotASha
            }
            ForgeError::InsecureApiUrl { variable, host } => {
                ResolveError::Insecure { variable, host }
            }
            other => ResolveError::Other(first_line(&other)),
        }
    }
}

/// A ref (`git/ref/tags/…`) or an annotated tag object (`git/tags/{sha}`): both name the object
/// they point at, and that is all we read.
#[derive(Deserialize)]
struct GitRef {
    object: GitObject,
}

#[derive(Deserialize)]
struct GitObject {
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

/// octocrab on chuks-ci's HTTP client ([`crate::http::client_for`]): its TLS, timeouts, and no
/// redirects. octocrab adds `User-Agent: octocrab` to every request itself, which the client's
/// own user agent does not replace.
fn client(
    base: &ApiBase,
    token: Option<&GithubToken>,
    timeouts: Timeouts,
) -> Result<Octocrab, ForgeError> {
    let http = base.client(NAME, timeouts)?;
    let client_error = |err: octocrab::Error| ForgeError::Client {
        forge: NAME,
        detail: first_line(&err),
    };
    let mut builder = Octocrab::builder()
        .base_uri(base.url.as_str())
        .map_err(client_error)?
        .add_header(
            reqwest::header::ACCEPT,
            "application/vnd.github+json".to_string(),
        );
    if let Some(token) = token {
        builder = builder.personal_token(token.secret.clone());
    }
    builder.build_with_reqwest(http).map_err(client_error)
}

/// GETs a full URL that already holds the base path (`/api/v3/…` on Enterprise): octocrab only
/// prefixes its base path to paths not starting with that text, so with a base path like `/re`
/// a relative `/repos/…` would be sent without it.
async fn get(
    crab: &Octocrab,
    lookup: &Lookup<'_>,
    url: &reqwest::Url,
    policy: &RetryPolicy,
) -> Result<Reply, ForgeError> {
    lookup
        .fetch(policy, || async {
            let response = crab
                ._get(url.as_str())
                .await
                .map_err(|err| NoAnswer::from_error(&err))?;
            Ok(reqwest::Response::from(response.map(reqwest::Body::wrap)))
        })
        .await
}

/// An error's text without the backtrace some octocrab errors append, or the hint ours end with.
fn first_line(err: &dyn std::error::Error) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
