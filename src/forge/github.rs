//! GitHub and GitHub Enterprise Server: reading a tag ref with octocrab and peeling annotated tags.
//!
//! Reads `GITHUB_API_URL` (default `https://api.github.com`; Enterprise is `https://HOST/api/v3`),
//! `GITHUB_REPOSITORY`, `GITHUB_SHA` and `GITHUB_TOKEN` (or `--github-token`).

use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ForgeDetection, ForgeError, Lookup, Reply};
use crate::retry::RetryPolicy;

pub(super) const NAME: &str = "GitHub";

const DEFAULT_API_URL: &str = "https://api.github.com";

const API_URL_VARIABLE: &str = "GITHUB_API_URL";

/// Annotated tags can tag other tags; a longer chain than this is treated as a broken answer.
const MAX_TAG_CHAIN: usize = 8;

/// A GitHub repository and the commit its workflow run publishes.
#[derive(Debug, Clone)]
pub struct GithubTarget {
    api_url: String,
    owner: String,
    name: String,
    pub(super) commit: String,
    token: SecretString,
    /// Where the token came from, so a refusal names what to fix.
    token_source: &'static str,
}

impl GithubTarget {
    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

pub(super) fn detect(
    var: &impl Fn(&str) -> Option<String>,
    token_flag: Option<SecretString>,
) -> ForgeDetection {
    let unset = |variable: &str| {
        ForgeDetection::no_credentials(
            NAME,
            format!("`{variable}` is not set"),
            "run the step in GitHub Actions, which sets it",
        )
    };
    let Some(repository) = var("GITHUB_REPOSITORY") else {
        return unset("GITHUB_REPOSITORY");
    };
    let Some((owner, name)) = repository
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
    else {
        return ForgeDetection::no_credentials(
            NAME,
            format!("`GITHUB_REPOSITORY` is `{repository}`, not `owner/name`"),
            "leave `GITHUB_REPOSITORY` as GitHub Actions sets it",
        );
    };
    let Some(commit) = var("GITHUB_SHA") else {
        return unset("GITHUB_SHA");
    };
    let token_flag = token_flag.filter(|token| !token.expose_secret().trim().is_empty());
    let (token, token_source) = match (token_flag, var("GITHUB_TOKEN")) {
        (Some(flag), _) => match super::clean_token(flag.expose_secret()) {
            Some(token) => (token, "`--github-token`"),
            None => return super::unusable_token(NAME, "`--github-token`"),
        },
        (None, Some(variable)) => match super::clean_token(&variable) {
            Some(token) => (token, "`GITHUB_TOKEN`"),
            None => return super::unusable_token(NAME, "`GITHUB_TOKEN`"),
        },
        (None, None) => {
            return ForgeDetection::no_credentials(
                NAME,
                "`GITHUB_TOKEN` is not set",
                "add `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step's `env:` (the job needs `permissions: contents: read`), or pass `--github-token`",
            );
        }
    };
    ForgeDetection::Ready(super::Forge::Github(GithubTarget {
        api_url: var(API_URL_VARIABLE).unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        owner: owner.to_string(),
        name: name.to_string(),
        commit,
        token,
        token_source,
    }))
}

/// The commit `tag` points at on GitHub, annotated tags peeled; `None` when the tag is missing.
pub(super) async fn tag_commit(
    target: &GithubTarget,
    tag: &str,
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
        git.into_iter().chain(["ref", "tags"]).chain(tag.split('/')),
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
                    tag: tag.to_string(),
                    kind: kind.to_string(),
                    sha: object.sha,
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
