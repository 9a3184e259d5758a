//! GitLab CI: what its environment says (tag, commit, project, API address, token) and where its
//! ID token is. GitLab masks secrets through the settings of its CI/CD variables and has no
//! annotation commands, so its log needs nothing from us; it reads results from the `--dotenv`
//! file (`artifacts: reports: dotenv`).

use secrecy::SecretString;

use super::id_token::{IdTokenError, IdTokenOffer};
use super::{CiProvider, Var};
use crate::forge::gitlab::{self, API_URL_VARIABLE, GitlabProject, GitlabToken};
use crate::forge::{Forge, ForgeDetection};
use crate::report::CiLog;

/// GitLab CI.
#[derive(Debug)]
pub struct GitlabCi;

/// The variable a job's `id_tokens:` block names for chuks-ci.
const ID_TOKEN_VARIABLE: &str = "CHUKS_ID_TOKEN";

impl CiProvider for GitlabCi {
    fn id(&self) -> &'static str {
        "gitlab"
    }

    fn name(&self) -> &'static str {
        "GitLab CI"
    }

    fn runs_here(&self, var: Var) -> bool {
        var("GITLAB_CI").as_deref() == Some("true")
    }

    fn tag(&self, var: Var) -> Option<String> {
        var("CI_COMMIT_TAG")
    }

    fn tag_source(&self) -> &'static str {
        "GitLab CI (`CI_COMMIT_TAG`)"
    }

    fn commit(&self, var: Var) -> Option<String> {
        var("CI_COMMIT_SHA")
    }

    fn repository_url(&self, var: Var) -> Option<String> {
        var("CI_PROJECT_URL")
    }

    /// In a GitLab job, or wherever `CI_API_V4_URL` is set: `CI_API_V4_URL`, `CI_PROJECT_ID`
    /// (`CI_PROJECT_PATH` for messages), `CI_COMMIT_SHA` and a token. `GITLAB_TOKEN` (sent as
    /// `PRIVATE-TOKEN`) wins over `CI_JOB_TOKEN` (sent as `JOB-TOKEN`), because GitLab sets the
    /// job token in every job: setting `GITLAB_TOKEN` is how a project whose job token may not
    /// read tags opts in.
    fn forge(&self, var: Var, _token_flag: Option<&SecretString>) -> Option<ForgeDetection> {
        if !self.runs_here(var) && var(API_URL_VARIABLE).is_none() {
            return None;
        }
        Some(forge(var))
    }

    /// The token GitLab put in `CHUKS_ID_TOKEN`, as the job's `id_tokens:` asked.
    fn id_token(&self, var: Var) -> Result<IdTokenOffer, IdTokenError> {
        IdTokenOffer::issued_in(
            var,
            ID_TOKEN_VARIABLE,
            self.name(),
            &format!(
                "add `id_tokens: {{ {ID_TOKEN_VARIABLE}: {{ aud: <the registry's audience> }} }}` to the job"
            ),
        )
    }
}

/// GitLab masks the values of masked CI/CD variables itself and has no command to mask others,
/// nor one to annotate a run: its log takes nothing from us.
impl CiLog for GitlabCi {}

fn forge(var: Var) -> ForgeDetection {
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
    let Some(commit) = var("CI_COMMIT_SHA") else {
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
    let project = GitlabProject {
        api_url,
        project_id,
        project_path: var("CI_PROJECT_PATH"),
        token,
    };
    ForgeDetection::Ready(Forge::new(project, commit))
}
