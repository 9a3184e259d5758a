//! GitHub Actions: what its environment says (tag, commit, repository, API address, token) and
//! the workflow command that masks a secret.

use secrecy::{ExposeSecret, SecretString};

use super::Var;
use crate::forge::github::{self, API_URL_VARIABLE, DEFAULT_API_URL, GithubTarget};
use crate::forge::{Forge, ForgeDetection};

/// True inside GitHub Actions, where workflow commands and output files apply.
pub fn is_actions(var: Var) -> bool {
    var("GITHUB_ACTIONS").as_deref() == Some("true")
}

/// The tag a tag-triggered run names, from `GITHUB_REF_TYPE`/`GITHUB_REF_NAME` or `GITHUB_REF`.
pub fn tag(var: Var) -> Option<String> {
    if var("GITHUB_REF_TYPE").as_deref() == Some("tag") {
        if let Some(name) = var("GITHUB_REF_NAME") {
            return Some(name);
        }
    }
    var("GITHUB_REF").and_then(|r| r.strip_prefix("refs/tags/").map(str::to_string))
}

/// The commit the run checked out.
pub fn commit(var: Var) -> Option<String> {
    var("GITHUB_SHA")
}

/// The repository's web address.
pub fn repository_url(var: Var) -> Option<String> {
    let server = var("GITHUB_SERVER_URL")?;
    let repository = var("GITHUB_REPOSITORY")?;
    Some(format!("{}/{repository}", server.trim_end_matches('/')))
}

/// Asks the Actions runner to mask a secret. The runner masks one line per command, so a value
/// that spans lines (a pasted mistake) is masked piece by piece.
pub fn add_mask(secret: &str) {
    for piece in secret.split_whitespace() {
        crate::outln!("::add-mask::{piece}");
    }
}

/// What tag confirmation on GitHub needs: `GITHUB_REPOSITORY`, `GITHUB_SHA`, the API address
/// (`GITHUB_API_URL`, Enterprise `https://HOST/api/v3`) and a token (`--github-token`, then
/// `GITHUB_TOKEN`).
pub fn forge(var: Var, token_flag: Option<SecretString>) -> ForgeDetection {
    let unset = |variable: &str| {
        ForgeDetection::no_credentials(
            github::NAME,
            format!("`{variable}` is not set"),
            "run the step in GitHub Actions, which sets it",
        )
    };
    let Some(repository) = var("GITHUB_REPOSITORY") else {
        return unset("GITHUB_REPOSITORY");
    };
    let Some((owner, name)) = repository
        .split_once('/')
        .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
    else {
        return ForgeDetection::no_credentials(
            github::NAME,
            format!("`GITHUB_REPOSITORY` is `{repository}`, not `owner/name`"),
            "leave `GITHUB_REPOSITORY` as GitHub Actions sets it",
        );
    };
    let Some(commit) = commit(var) else {
        return unset("GITHUB_SHA");
    };
    let flag = token_flag
        .map(|token| token.expose_secret().to_string())
        .filter(|token| !token.trim().is_empty());
    let sources = [
        ("`--github-token`", flag),
        ("`GITHUB_TOKEN`", var("GITHUB_TOKEN")),
    ];
    let (token, token_source) = match super::forge_token(github::NAME, sources) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return ForgeDetection::no_credentials(
                github::NAME,
                "`GITHUB_TOKEN` is not set",
                "add `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step's `env:` (the job needs `permissions: contents: read`), or pass `--github-token`",
            );
        }
        Err(unusable) => return *unusable,
    };
    ForgeDetection::Ready(Forge::Github(GithubTarget {
        api_url: var(API_URL_VARIABLE).unwrap_or_else(|| DEFAULT_API_URL.to_string()),
        owner: owner.to_string(),
        name: name.to_string(),
        commit,
        token,
        token_source,
    }))
}
