//! GitLab (gitlab.com and self-managed): reading a tag through the REST API with reqwest.
//!
//! Reads `CI_API_V4_URL`, `CI_PROJECT_ID` (`CI_PROJECT_PATH` too, for messages), `CI_COMMIT_SHA`
//! and a token: `GITLAB_TOKEN` (sent as `PRIVATE-TOKEN`) when set, else `CI_JOB_TOKEN` (sent as
//! `JOB-TOKEN`). An explicit `GITLAB_TOKEN` wins because GitLab sets `CI_JOB_TOKEN` in every job:
//! setting `GITLAB_TOKEN` is how a project whose job token may not read tags opts in.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ForgeDetection, ForgeError, Lookup};
use crate::retry::RetryPolicy;

pub(super) const NAME: &str = "GitLab";

const API_URL_VARIABLE: &str = "CI_API_V4_URL";

/// A GitLab project and the commit its pipeline publishes.
#[derive(Debug, Clone)]
pub struct GitlabTarget {
    api_url: String,
    project_id: String,
    project_path: Option<String>,
    pub(super) commit: String,
    token: GitlabToken,
}

#[derive(Debug, Clone)]
enum GitlabToken {
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

pub(super) fn detect(var: &impl Fn(&str) -> Option<String>) -> ForgeDetection {
    let unset = |variable: &str| {
        ForgeDetection::no_credentials(
            NAME,
            format!("`{variable}` is not set"),
            "run the job in GitLab CI, which sets it",
        )
    };
    let Some(api_url) = var(API_URL_VARIABLE) else {
        return unset(API_URL_VARIABLE);
    };
    let Some(project_id) = var("CI_PROJECT_ID") else {
        return unset("CI_PROJECT_ID");
    };
    let Some(commit) = var("CI_COMMIT_SHA") else {
        return unset("CI_COMMIT_SHA");
    };
    let token = match (var("GITLAB_TOKEN"), var("CI_JOB_TOKEN")) {
        (Some(value), _) => match super::clean_token(&value) {
            Some(token) => GitlabToken::Private(token),
            None => return super::unusable_token(NAME, "`GITLAB_TOKEN`"),
        },
        (None, Some(value)) => match super::clean_token(&value) {
            Some(token) => GitlabToken::Job(token),
            None => return super::unusable_token(NAME, "`CI_JOB_TOKEN`"),
        },
        (None, None) => {
            return ForgeDetection::no_credentials(
                NAME,
                "neither `CI_JOB_TOKEN` nor `GITLAB_TOKEN` is set",
                "set `GITLAB_TOKEN` (a masked CI/CD variable) to an access token with the `read_api` scope",
            );
        }
    };
    ForgeDetection::Ready(super::Forge::Gitlab(GitlabTarget {
        api_url,
        project_id,
        project_path: var("CI_PROJECT_PATH"),
        commit,
        token,
    }))
}

/// The commit `tag` points at on GitLab (GitLab peels annotated tags itself); `None` when missing.
pub(super) async fn tag_commit(
    target: &GitlabTarget,
    tag: &str,
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
            tag,
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
