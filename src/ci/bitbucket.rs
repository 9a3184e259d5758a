//! Bitbucket Pipelines: what its environment says (tag, commit, repository, token), and
//! `CHUKS_BITBUCKET_API_URL` for another API address (a mirror or a test server).

use super::Var;
use crate::forge::bitbucket::{self, API_URL_VARIABLE, BitbucketTarget, DEFAULT_API_URL};
use crate::forge::{Forge, ForgeDetection};

/// True in a Bitbucket Pipelines step.
pub fn is_bitbucket(var: Var) -> bool {
    var("BITBUCKET_REPO_FULL_NAME").is_some()
}

/// The tag of a tag pipeline.
pub fn tag(var: Var) -> Option<String> {
    var("BITBUCKET_TAG")
}

/// The commit the step builds.
pub fn commit(var: Var) -> Option<String> {
    var("BITBUCKET_COMMIT")
}

/// The repository's web address.
pub fn repository_url(var: Var) -> Option<String> {
    var("BITBUCKET_GIT_HTTP_ORIGIN")
}

/// What tag confirmation on Bitbucket Cloud needs: `BITBUCKET_REPO_FULL_NAME`
/// (`workspace/slug`), `BITBUCKET_COMMIT` and `BITBUCKET_ACCESS_TOKEN` (sent as a bearer token).
pub fn forge(var: Var) -> ForgeDetection {
    let Some(full_name) = var("BITBUCKET_REPO_FULL_NAME") else {
        return ForgeDetection::NotInCi;
    };
    let Some((workspace, slug)) = full_name.split_once('/').filter(|(workspace, slug)| {
        !workspace.is_empty() && !slug.is_empty() && !slug.contains('/')
    }) else {
        return ForgeDetection::no_credentials(
            bitbucket::NAME,
            format!("`BITBUCKET_REPO_FULL_NAME` is `{full_name}`, not `workspace/slug`"),
            "leave `BITBUCKET_REPO_FULL_NAME` as Bitbucket Pipelines sets it",
        );
    };
    let Some(commit) = commit(var) else {
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
    ForgeDetection::Ready(Forge::Bitbucket(BitbucketTarget {
        api_url: var(API_URL_VARIABLE).unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        workspace: workspace.to_string(),
        slug: slug.to_string(),
        commit,
        token,
    }))
}
