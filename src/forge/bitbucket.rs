//! Bitbucket Cloud: reading a tag through the 2.0 REST API with reqwest.
//!
//! `ci::bitbucket` finds the repository, commit, API address and token in the environment.

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ApiBase, ForgeError, ForgeRepository, Lookup};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

pub const NAME: &str = "Bitbucket";

pub const DEFAULT_API_URL: &str = "https://api.bitbucket.org/2.0";

pub const API_URL_VARIABLE: &str = "CHUKS_BITBUCKET_API_URL";

/// A Bitbucket Cloud repository, and the token to read its tags.
#[derive(Debug, Clone)]
pub struct BitbucketRepository {
    pub api_url: String,
    pub workspace: String,
    pub slug: String,
    pub token: SecretString,
}

impl ForgeRepository for BitbucketRepository {
    fn forge(&self) -> &'static str {
        NAME
    }

    /// `workspace/slug`.
    fn repository(&self) -> String {
        format!("{}/{}", self.workspace, self.slug)
    }

    /// The commit `tag` points at on Bitbucket (its `target` is already the commit, also for
    /// annotated tags); `None` when the tag is missing.
    fn tag_commit<'a>(
        &'a self,
        tag: &'a Untrusted,
        policy: &'a RetryPolicy,
    ) -> BoxFuture<'a, Result<Option<String>, ForgeError>> {
        Box::pin(async move {
            let base = ApiBase::parse(
                API_URL_VARIABLE,
                &self.api_url,
                "https://api.bitbucket.org/2.0",
            )?;
            // Bitbucket reads `%2F` as a path separator anyway: a `/` in the tag is sent as written.
            let segments = [
                "repositories",
                self.workspace.as_str(),
                self.slug.as_str(),
                "refs",
                "tags",
            ];
            let url = base.endpoint(segments.into_iter().chain(tag.unescaped().split('/')));
            let client = base.client(NAME, super::TIMEOUTS)?;
            let lookup = Lookup {
                forge: NAME,
                repository: self.repository(),
                tag,
                api_variable: API_URL_VARIABLE,
                auth_fix: format!(
                    "check `BITBUCKET_ACCESS_TOKEN`: it must be a valid, unexpired access token with the `repository` (read) scope on `{}`",
                    self.repository()
                ),
            };
            let reply = lookup
                .fetch(policy, || {
                    super::send(
                        client
                            .get(url.clone())
                            .bearer_auth(self.token.expose_secret()),
                    )
                })
                .await?;
            Ok(lookup.read::<Tag>(reply)?.map(|tag| tag.target.hash))
        })
    }
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
