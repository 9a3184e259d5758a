//! Bitbucket Cloud: reading a tag through the 2.0 REST API with reqwest.
//!
//! Reads `BITBUCKET_REPO_FULL_NAME` (`workspace/slug`), `BITBUCKET_COMMIT` and
//! `BITBUCKET_ACCESS_TOKEN` (sent as `Authorization: Bearer`). `CHUKS_BITBUCKET_API_URL` replaces
//! the API address `https://api.bitbucket.org/2.0`, for a mirror or a test server.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ForgeDetection, ForgeError, Lookup};
use crate::retry::RetryPolicy;

pub(super) const NAME: &str = "Bitbucket";

const DEFAULT_API_URL: &str = "https://api.bitbucket.org/2.0";

const API_URL_VARIABLE: &str = "CHUKS_BITBUCKET_API_URL";

/// A Bitbucket Cloud repository and the commit its pipeline publishes.
#[derive(Debug, Clone)]
pub struct BitbucketTarget {
    api_url: String,
    workspace: String,
    slug: String,
    pub(super) commit: String,
    token: SecretString,
}

impl BitbucketTarget {
    /// `workspace/slug`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.workspace, self.slug)
    }
}

pub(super) fn detect(var: &impl Fn(&str) -> Option<String>) -> ForgeDetection {
    let Some(full_name) = var("BITBUCKET_REPO_FULL_NAME") else {
        return ForgeDetection::NotInCi;
    };
    let Some((workspace, slug)) = full_name.split_once('/').filter(|(workspace, slug)| {
        !workspace.is_empty() && !slug.is_empty() && !slug.contains('/')
    }) else {
        return ForgeDetection::no_credentials(
            NAME,
            format!("`BITBUCKET_REPO_FULL_NAME` is `{full_name}`, not `workspace/slug`"),
            "leave `BITBUCKET_REPO_FULL_NAME` as Bitbucket Pipelines sets it",
        );
    };
    let Some(commit) = var("BITBUCKET_COMMIT") else {
        return ForgeDetection::no_credentials(
            NAME,
            "`BITBUCKET_COMMIT` is not set",
            "run the step in Bitbucket Pipelines, which sets it",
        );
    };
    let token = match var("BITBUCKET_ACCESS_TOKEN") {
        Some(value) => match super::clean_token(&value) {
            Some(token) => token,
            None => return super::unusable_token(NAME, "`BITBUCKET_ACCESS_TOKEN`"),
        },
        None => {
            return ForgeDetection::no_credentials(
                NAME,
                "`BITBUCKET_ACCESS_TOKEN` is not set",
                "add a secured repository variable `BITBUCKET_ACCESS_TOKEN` holding a repository access token with the `repository` (read) scope",
            );
        }
    };
    ForgeDetection::Ready(super::Forge::Bitbucket(BitbucketTarget {
        api_url: var(API_URL_VARIABLE).unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        workspace: workspace.to_string(),
        slug: slug.to_string(),
        commit,
        token,
    }))
}

/// The commit `tag` points at on Bitbucket (its `target` is already the commit, also for annotated
/// tags); `None` when the tag is missing.
pub(super) async fn tag_commit(
    target: &BitbucketTarget,
    tag: &str,
    policy: &RetryPolicy,
) -> Result<Option<String>, ForgeError> {
    let base = super::api_url(
        API_URL_VARIABLE,
        &target.api_url,
        "https://api.bitbucket.org/2.0",
    )?;
    // Bitbucket reads `%2F` as a path separator anyway, so a `/` in the tag is sent as written.
    let segments = [
        "repositories",
        target.workspace.as_str(),
        target.slug.as_str(),
        "refs",
        "tags",
    ];
    let url = super::endpoint(&base, segments.into_iter().chain(tag.split('/')));
    let client = super::http_client(NAME)?;
    let reply = super::send_with_retries(NAME, policy, || {
        super::send_reqwest(
            client
                .get(url.clone())
                .bearer_auth(target.token.expose_secret()),
        )
    })
    .await?;
    let lookup = Lookup {
        forge: NAME,
        repository: target.repository(),
        tag,
        api_variable: API_URL_VARIABLE,
        auth_fix: format!(
            "check `BITBUCKET_ACCESS_TOKEN`: it must be a valid, unexpired access token with the `repository` (read) scope on `{}`",
            target.repository()
        ),
    };
    Ok(lookup.read::<Tag>(reply)?.map(|tag| tag.target.hash))
}

/// The part of Bitbucket's tag answer we read: the commit the tag points at.
#[derive(Deserialize)]
struct Tag {
    target: Commit,
}

#[derive(Deserialize)]
struct Commit {
    hash: String,
}
