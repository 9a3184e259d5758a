//! GitLab (gitlab.com and self-managed): reading a tag through the REST API with reqwest.
//!
//! `ci::gitlab` finds the project, commit, API address and token in the environment.

use futures_util::future::BoxFuture;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ApiBase, ForgeError, ForgeRepository, Lookup};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

pub const NAME: &str = "GitLab";

pub const API_URL_VARIABLE: &str = "CI_API_V4_URL";

/// A GitLab project, and the token to read its tags.
#[derive(Debug, Clone)]
pub struct GitlabProject {
    pub api_url: String,
    pub project_id: String,
    pub project_path: Option<String>,
    pub token: GitlabToken,
}

#[derive(Debug, Clone)]
pub enum GitlabToken {
    /// `CI_JOB_TOKEN`, sent as `JOB-TOKEN`.
    Job(SecretString),
    /// `GITLAB_TOKEN` (personal, project or group access token), sent as `PRIVATE-TOKEN`.
    Private(SecretString),
}

impl GitlabProject {
    /// The project path when CI gave it, else its numeric id.
    pub fn project(&self) -> String {
        self.project_path
            .clone()
            .unwrap_or_else(|| format!("project {}", self.project_id))
    }

    fn auth_fix(&self) -> String {
        match self.token {
            GitlabToken::Job(_) => format!(
                "the `CI_JOB_TOKEN` may not read the tags of `{}`: set `GITLAB_TOKEN` (a masked CI/CD variable) to an access token with the `read_api` scope",
                self.project()
            ),
            GitlabToken::Private(_) => format!(
                "check `GITLAB_TOKEN`: it must be valid, unexpired and have the `read_api` scope on `{}` (`read_repository` alone does not cover the API)",
                self.project()
            ),
        }
    }
}

impl ForgeRepository for GitlabProject {
    fn forge(&self) -> &'static str {
        NAME
    }

    fn repository(&self) -> String {
        self.project()
    }

    /// The commit `tag` points at on GitLab (GitLab peels annotated tags itself); `None` when
    /// missing.
    fn tag_commit<'a>(
        &'a self,
        tag: &'a Untrusted,
        policy: &'a RetryPolicy,
    ) -> BoxFuture<'a, Result<Option<String>, ForgeError>> {
        Box::pin(async move {
            let base = ApiBase::parse(
                API_URL_VARIABLE,
                &self.api_url,
                "https://gitlab.example.com/api/v4",
            )?;
            // One path segment each, so a `/` in the tag is sent as `%2F`, as GitLab requires.
            let url = base.endpoint([
                "projects",
                self.project_id.as_str(),
                "repository",
                "tags",
                tag.unescaped(),
            ]);
            let (header, token) = match &self.token {
                GitlabToken::Job(token) => ("JOB-TOKEN", token),
                GitlabToken::Private(token) => ("PRIVATE-TOKEN", token),
            };
            let mut token = HeaderValue::from_str(token.expose_secret())
                .expect("detect only accepts tokens of visible ASCII");
            token.set_sensitive(true);
            let client = base.client(NAME, super::TIMEOUTS)?;
            let lookup = Lookup {
                forge: NAME,
                repository: self.project(),
                tag,
                api_variable: API_URL_VARIABLE,
                auth_fix: self.auth_fix(),
            };
            let reply = lookup
                .fetch(policy, || {
                    super::send(client.get(url.clone()).header(header, token.clone()))
                })
                .await?;
            Ok(lookup.read::<Tag>(reply)?.map(|tag| tag.commit.id))
        })
    }

    /// Some GitLab instances refuse the job token on the tags API.
    fn refusal_notice(&self, tag: &Untrusted, status: u16) -> Option<String> {
        matches!(self.token, GitlabToken::Job(_)).then(|| format!(
            "tag `{tag}` not confirmed on GitLab: it refused `CI_JOB_TOKEN` on the tags API (HTTP {status}); to confirm it, set `GITLAB_TOKEN` (a masked CI/CD variable) to an access token with the `read_api` scope"
        ))
    }
}

/// The parts of GitLab's tag answer we read. `target` is the tag object for annotated tags;
/// `commit.id` is always the commit, already peeled.
#[derive(Deserialize)]
struct Tag {
    commit: Commit,
}

#[derive(Deserialize)]
struct Commit {
    id: String,
}
