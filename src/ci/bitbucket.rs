//! Bitbucket Pipelines: what its environment says (tag, commit, repository, token, and
//! `CHUKS_BITBUCKET_API_URL` for another API address: a mirror or a test server) and where its
//! ID token is. Bitbucket masks secured variables itself and has no annotation commands, so its
//! log needs nothing from us; a step reads results from the `--dotenv` file as an artifact.

use secrecy::SecretString;

use super::id_token::{IdTokenError, IdTokenOffer};
use super::{CiProvider, Var};
use crate::forge::bitbucket::{self, API_URL_VARIABLE, BitbucketRepository, DEFAULT_API_URL};
use crate::forge::{Forge, ForgeDetection};
use crate::report::CiLog;

/// Bitbucket Pipelines.
#[derive(Debug)]
pub struct BitbucketPipelines;

/// Where a step with `oidc: true` finds its ID token.
const ID_TOKEN_VARIABLE: &str = "BITBUCKET_STEP_OIDC_TOKEN";

impl CiProvider for BitbucketPipelines {
    fn id(&self) -> &'static str {
        "bitbucket"
    }

    fn name(&self) -> &'static str {
        "Bitbucket Pipelines"
    }

    fn runs_here(&self, var: Var) -> bool {
        var("BITBUCKET_REPO_FULL_NAME").is_some()
    }

    fn tag(&self, var: Var) -> Option<String> {
        var("BITBUCKET_TAG")
    }

    fn tag_source(&self) -> &'static str {
        "Bitbucket Pipelines (`BITBUCKET_TAG`)"
    }

    fn commit(&self, var: Var) -> Option<String> {
        var("BITBUCKET_COMMIT")
    }

    fn repository_url(&self, var: Var) -> Option<String> {
        var("BITBUCKET_GIT_HTTP_ORIGIN")
    }

    /// Bitbucket Cloud: `BITBUCKET_REPO_FULL_NAME` (`workspace/slug`), `BITBUCKET_COMMIT` and
    /// `BITBUCKET_ACCESS_TOKEN` (sent as a bearer token).
    fn forge(&self, var: Var, _token_flag: Option<&SecretString>) -> Option<ForgeDetection> {
        let full_name = var("BITBUCKET_REPO_FULL_NAME")?;
        Some(forge(var, &full_name))
    }

    /// The token Bitbucket sets in a step with `oidc: true`.
    fn id_token(&self, var: Var) -> Result<IdTokenOffer, IdTokenError> {
        IdTokenOffer::issued_in(
            var,
            ID_TOKEN_VARIABLE,
            self.name(),
            "add `oidc: true` to the step",
        )
    }
}

/// Bitbucket masks secured variables itself and has no command to mask other values, nor one
/// to annotate a run: its log takes nothing from us.
impl CiLog for BitbucketPipelines {}

fn forge(var: Var, full_name: &str) -> ForgeDetection {
    let Some((workspace, slug)) = super::owner_and_name(full_name) else {
        return ForgeDetection::no_credentials(
            bitbucket::NAME,
            format!("`BITBUCKET_REPO_FULL_NAME` is `{full_name}`, not `workspace/slug`"),
            "leave `BITBUCKET_REPO_FULL_NAME` as Bitbucket Pipelines sets it",
        );
    };
    let Some(commit) = var("BITBUCKET_COMMIT") else {
        return ForgeDetection::no_credentials(
            bitbucket::NAME,
            "`BITBUCKET_COMMIT` is not set",
            "run the step in Bitbucket Pipelines, which sets it",
        );
    };
    let sources = [("`BITBUCKET_ACCESS_TOKEN`", var("BITBUCKET_ACCESS_TOKEN"))];
    let token = match super::forge_token(bitbucket::NAME, sources) {
        Ok(Some((token, _))) => token,
        Ok(None) => {
            return ForgeDetection::no_credentials(
                bitbucket::NAME,
                "`BITBUCKET_ACCESS_TOKEN` is not set",
                "add a secured repository variable `BITBUCKET_ACCESS_TOKEN` holding a repository access token with the `repository` (read) scope",
            );
        }
        Err(unusable) => return *unusable,
    };
    let repository = BitbucketRepository {
        api_url: var(API_URL_VARIABLE).unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        workspace,
        slug,
        token,
    };
    ForgeDetection::Ready(Forge::new(repository, commit))
}
