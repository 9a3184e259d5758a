//! GitLab CI: what its environment says (tag, commit, project, API address, token).

use super::Var;
use crate::forge::gitlab::{self, API_URL_VARIABLE, GitlabTarget, GitlabToken};
use crate::forge::{Forge, ForgeDetection};

/// True in a GitLab job.
pub fn is_gitlab(var: Var) -> bool {
    var("GITLAB_CI").as_deref() == Some("true") || var(API_URL_VARIABLE).is_some()
}

/// The tag of a tag pipeline.
pub fn tag(var: Var) -> Option<String> {
    var("CI_COMMIT_TAG")
}

/// The commit the pipeline builds.
pub fn commit(var: Var) -> Option<String> {
    var("CI_COMMIT_SHA")
}

/// The project's web address.
pub fn repository_url(var: Var) -> Option<String> {
    var("CI_PROJECT_URL")
}

/// What tag confirmation on GitLab needs: `CI_API_V4_URL`, `CI_PROJECT_ID` (`CI_PROJECT_PATH`
/// for messages), `CI_COMMIT_SHA` and a token. `GITLAB_TOKEN` (sent as `PRIVATE-TOKEN`) wins over
/// `CI_JOB_TOKEN` (sent as `JOB-TOKEN`), because GitLab sets the job token in every job: setting
/// `GITLAB_TOKEN` is how a project whose job token may not read tags opts in.
pub fn forge(var: Var) -> ForgeDetection {
    let unset = |variable: &str| {
        ForgeDetection::no_credentials(
            gitlab::NAME,
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
    let Some(commit) = commit(var) else {
        return unset("CI_COMMIT_SHA");
    };
    let sources = [
        ("`GITLAB_TOKEN`", var("GITLAB_TOKEN")),
        ("`CI_JOB_TOKEN`", var("CI_JOB_TOKEN")),
    ];
    let token = match super::forge_token(gitlab::NAME, sources) {
        Ok(Some((token, "`GITLAB_TOKEN`"))) => GitlabToken::Private(token),
        Ok(Some((token, _))) => GitlabToken::Job(token),
        Ok(None) => {
            return ForgeDetection::no_credentials(
                gitlab::NAME,
                "neither `CI_JOB_TOKEN` nor `GITLAB_TOKEN` is set",
                "set `GITLAB_TOKEN` (a masked CI/CD variable) to an access token with the `read_api` scope",
            );
        }
        Err(unusable) => return *unusable,
    };
    ForgeDetection::Ready(Forge::Gitlab(GitlabTarget {
        api_url,
        project_id,
        project_path: var("CI_PROJECT_PATH"),
        commit,
        token,
    }))
}
