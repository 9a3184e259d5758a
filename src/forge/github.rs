//! GitHub and GitHub Enterprise Server: reading a tag ref with octocrab and peeling annotated tags.
//!
//! `ci::github` finds the repository, commit, API address and token in the environment.

use octocrab::Octocrab;
use secrecy::SecretString;
use serde::Deserialize;

use super::{ForgeError, Lookup, Reply};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

pub const NAME: &str = "GitHub";

pub const DEFAULT_API_URL: &str = "https://api.github.com";

pub const API_URL_VARIABLE: &str = "GITHUB_API_URL";

/// Annotated tags can tag other tags; a longer chain than this is treated as a broken answer.
const MAX_TAG_CHAIN: usize = 8;

/// A GitHub repository and the commit its workflow run publishes.
#[derive(Debug, Clone)]
pub struct GithubTarget {
    pub api_url: String,
    pub owner: String,
    pub name: String,
    pub commit: String,
    pub token: SecretString,
    /// Where the token came from, so a refusal names what to fix.
    pub token_source: &'static str,
}

impl GithubTarget {
    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// The commit `tag` points at on GitHub, annotated tags peeled; `None` when the tag is missing.
pub(super) async fn tag_commit(
    target: &GithubTarget,
    tag: &Untrusted,
    policy: &RetryPolicy,
) -> Result<Option<String>, ForgeError> {
    let base = super::api_url(API_URL_VARIABLE, &target.api_url, "https://HOST/api/v3")?;
    let crab = client(&base, &target.token)?;
    let lookup = Lookup {
        forge: NAME,
        repository: target.repository(),
        tag,
        api_variable: API_URL_VARIABLE,
        auth_fix: format!(
            "check the token from {}: it must be valid and allowed to read `{}`; in a workflow, give the job `permissions: contents: read`",
            target.token_source,
            target.repository()
        ),
    };
    let git = ["repos", target.owner.as_str(), target.name.as_str(), "git"];
    // GitHub takes the ref path as written, slashes included: `tags/@chuks/numpy@1.2.0`.
    let ref_url = super::endpoint(
        &base,
        git.into_iter()
            .chain(["ref", "tags"])
            .chain(tag.unescaped().split('/')),
    );
    let Some(reference) = lookup.read::<GitRef>(get(&crab, &ref_url, policy).await?)? else {
        return Ok(None);
    };
    let mut object = reference.object;
    for _ in 0..MAX_TAG_CHAIN {
        match object.kind.as_str() {
            "commit" => return Ok(Some(object.sha)),
            "tag" => {
                let url = super::endpoint(&base, git.into_iter().chain(["tags", &object.sha]));
                let Some(annotated) = lookup.read::<GitRef>(get(&crab, &url, policy).await?)?
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

fn client(base: &reqwest::Url, token: &SecretString) -> Result<Octocrab, ForgeError> {
    // octocrab uses the process-wide rustls provider when one is installed.
    crate::http::install_tls_provider();
    let client_error = |err: octocrab::Error| ForgeError::Client {
        forge: NAME,
        detail: first_line(&err),
    };
    Octocrab::builder()
        .base_uri(base.as_str())
        .map_err(client_error)?
        .personal_token(token.clone())
        .add_header(
            reqwest::header::ACCEPT,
            "application/vnd.github+json".to_string(),
        )
        .set_connect_timeout(Some(super::CONNECT_TIMEOUT))
        .set_read_timeout(Some(super::ANSWER_TIMEOUT))
        .build()
        .map_err(client_error)
}

/// GETs a full URL that already holds the base path (`/api/v3/…` on Enterprise): octocrab only
/// prefixes its base path to paths not starting with that text, so with a base path like `/re`
/// a relative `/repos/…` would be sent without it.
async fn get(
    crab: &Octocrab,
    url: &reqwest::Url,
    policy: &RetryPolicy,
) -> Result<Reply, ForgeError> {
    super::send_with_retries(NAME, policy, || async {
        let response = crab
            ._get(url.as_str())
            .await
            .map_err(|err| super::no_answer(&err))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = crab
            .body_to_string(response)
            .await
            .map_err(|err| super::no_answer(&err))?;
        Ok(Reply::from_parts(status, &headers, body))
    })
    .await
}

/// octocrab's error text, without the backtrace some variants append.
fn first_line(err: &octocrab::Error) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
