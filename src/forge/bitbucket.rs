//! Bitbucket Cloud: reading a tag through the 2.0 REST API with reqwest.
//!
//! `ci::bitbucket` finds the repository, commit, API address and token in the environment.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ForgeError, Lookup};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

pub const NAME: &str = "Bitbucket";

pub const DEFAULT_API_URL: &str = "https://api.bitbucket.org/2.0";

pub const API_URL_VARIABLE: &str = "CHUKS_BITBUCKET_API_URL";

/// A Bitbucket Cloud repository and the commit its pipeline publishes.
#[derive(Debug, Clone)]
pub struct BitbucketTarget {
    pub api_url: String,
    pub workspace: String,
    pub slug: String,
    pub commit: String,
    pub token: SecretString,
}

impl BitbucketTarget {
    /// `workspace/slug`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.workspace, self.slug)
    }
}

/// The commit `tag` points at on Bitbucket (its `target` is already the commit, also for annotated
/// tags); `None` when the tag is missing.
pub(super) async fn tag_commit(
    target: &BitbucketTarget,
    tag: &Untrusted,
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
    let url = super::endpoint(
        &base,
        segments.into_iter().chain(tag.unescaped().split('/')),
    );
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
