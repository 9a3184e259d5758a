//! GitLab (gitlab.com and self-managed): reading a tag through the REST API with reqwest.
//!
//! `ci::gitlab` finds the project, commit, API address and token in the environment.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ForgeError, Lookup};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

pub const NAME: &str = "GitLab";

pub const API_URL_VARIABLE: &str = "CI_API_V4_URL";

/// A GitLab project and the commit its pipeline publishes.
#[derive(Debug, Clone)]
pub struct GitlabTarget {
    pub api_url: String,
    pub project_id: String,
    pub project_path: Option<String>,
    pub commit: String,
    pub token: GitlabToken,
}

#[derive(Debug, Clone)]
pub enum GitlabToken {
    /// `CI_JOB_TOKEN`, sent as `JOB-TOKEN`.
    Job(SecretString),
    /// `GITLAB_TOKEN` (personal, project or group access token), sent as `PRIVATE-TOKEN`.
    Private(SecretString),
}

impl GitlabTarget {
    /// The project path when CI gave it, else its numeric id.
    pub fn project(&self) -> String {
        self.project_path
            .clone()
            .unwrap_or_else(|| format!("project {}", self.project_id))
    }

    /// Whether the API is asked with `CI_JOB_TOKEN` rather than `GITLAB_TOKEN`.
    pub fn uses_job_token(&self) -> bool {
        matches!(self.token, GitlabToken::Job(_))
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

/// The commit `tag` points at on GitLab (GitLab peels annotated tags itself); `None` when missing.
pub(super) async fn tag_commit(
    target: &GitlabTarget,
    tag: &Untrusted,
    policy: &RetryPolicy,
) -> Result<Option<String>, ForgeError> {
    let base = super::api_url(
        API_URL_VARIABLE,
        &target.api_url,
        "https://gitlab.example.com/api/v4",
    )?;
    // One path segment each, so a `/` in the tag is sent as `%2F`, as GitLab requires.
    let url = super::endpoint(
        &base,
        [
            "projects",
            target.project_id.as_str(),
            "repository",
            "tags",
            tag.unescaped(),
        ],
    );
    let (header, token) = match &target.token {
        GitlabToken::Job(token) => ("JOB-TOKEN", token),
        GitlabToken::Private(token) => ("PRIVATE-TOKEN", token),
    };
    let mut token = HeaderValue::from_str(token.expose_secret())
        .expect("detect only accepts tokens of visible ASCII");
    token.set_sensitive(true);
    let client = super::http_client(NAME)?;
    let reply = super::send_with_retries(NAME, policy, || {
        super::send_reqwest(client.get(url.clone()).header(header, token.clone()))
    })
    .await?;
    let lookup = Lookup {
        forge: NAME,
        repository: target.project(),
        tag,
        api_variable: API_URL_VARIABLE,
        auth_fix: target.auth_fix(),
    };
    Ok(lookup.read::<Tag>(reply)?.map(|tag| tag.commit.id))
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
