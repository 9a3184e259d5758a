//! The CI environment: which CI we run on and what it says. Each provider has one module that
//! reads its variables (tag, commit, repository, forge API and credentials); `outputs` writes
//! results where each CI reads them.

pub mod bitbucket;
pub mod github;
pub mod gitlab;
pub mod outputs;

use secrecy::SecretString;

use crate::forge::ForgeDetection;
use crate::tag::{ReleaseTag, TagSource};

/// Reads one environment variable; blank values count as unset.
pub type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

/// True inside GitHub Actions, where workflow commands and output files apply.
pub fn is_github_actions() -> bool {
    github::is_actions(&env_var)
}

/// True on any CI we know (they all set `CI=true`), for warnings that only matter there.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The release tag the CI environment names, read from the process environment.
pub fn tag_from_env() -> Option<ReleaseTag> {
    tag_from(env_var)
}

/// The release tag named by GitHub, GitLab or Bitbucket variables, in that order.
pub fn tag_from(var: impl Fn(&str) -> Option<String>) -> Option<ReleaseTag> {
    let var = non_blank(&var);
    let var: Var = &var;
    let tag = |name: String, source| ReleaseTag {
        name: name.into(),
        source,
    };
    github::tag(var)
        .map(|name| tag(name, TagSource::Github))
        .or_else(|| gitlab::tag(var).map(|name| tag(name, TagSource::Gitlab)))
        .or_else(|| bitbucket::tag(var).map(|name| tag(name, TagSource::Bitbucket)))
}

/// The commit being built, as the CI names it.
pub fn commit_from_env() -> Option<String> {
    let var: Var = &env_var;
    github::commit(var)
        .or_else(|| gitlab::commit(var))
        .or_else(|| bitbucket::commit(var))
}

/// The repository's web URL, as the CI names it.
pub fn repository_from_env() -> Option<String> {
    let var: Var = &env_var;
    github::repository_url(var)
        .or_else(|| gitlab::repository_url(var))
        .or_else(|| bitbucket::repository_url(var))
}

/// Detects the forge to confirm the tag on from the process environment; see [`forge_from`].
pub fn forge_from_env(github_token: Option<SecretString>) -> ForgeDetection {
    forge_from(env_var, github_token)
}

/// Detects the forge from CI variables, GitHub first, then GitLab, then Bitbucket.
/// `github_token` (from `--github-token`) wins over `GITHUB_TOKEN`.
pub fn forge_from(
    var: impl Fn(&str) -> Option<String>,
    github_token: Option<SecretString>,
) -> ForgeDetection {
    let var = non_blank(&var);
    let var: Var = &var;
    if github::is_actions(var) || var("GITHUB_REPOSITORY").is_some() {
        return github::forge(var, github_token);
    }
    if gitlab::is_gitlab(var) {
        return gitlab::forge(var);
    }
    if bitbucket::is_bitbucket(var) {
        return bitbucket::forge(var);
    }
    ForgeDetection::NotInCi
}

/// The first forge token set among `sources` (where it came from, its value), trimmed because
/// secrets often end in a newline. A set value with characters no token has, which could not
/// even be sent as a header, is refused with a detection result saying so.
fn forge_token<const N: usize>(
    forge_name: &'static str,
    sources: [(&'static str, Option<String>); N],
) -> Result<Option<(SecretString, &'static str)>, Box<ForgeDetection>> {
    let Some((source, value)) = sources
        .into_iter()
        .find_map(|(source, value)| value.map(|value| (source, value)))
    else {
        return Ok(None);
    };
    let value = value.trim();
    if !value.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(Box::new(ForgeDetection::no_credentials(
            forge_name,
            format!("{source} holds characters a token cannot have"),
            format!("set {source} to the token alone, without quotes or spaces"),
        )));
    }
    Ok(Some((SecretString::from(value), source)))
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn non_blank(var: &impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name| var(name).filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn tag_in(vars: &[(&str, &str)]) -> Option<(String, TagSource)> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tag_from(|name| vars.get(name).cloned()).map(|t| (t.name.into_unescaped(), t.source))
    }

    #[test]
    fn reads_each_ci() {
        let github = Some(("v1.0.0".to_string(), TagSource::Github));
        assert_eq!(
            tag_in(&[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.0.0")]),
            github
        );
        assert_eq!(tag_in(&[("GITHUB_REF", "refs/tags/v1.0.0")]), github);
        assert_eq!(
            tag_in(&[("CI_COMMIT_TAG", "v2.0.0")]),
            Some(("v2.0.0".into(), TagSource::Gitlab))
        );
        assert_eq!(
            tag_in(&[("BITBUCKET_TAG", "v3.0.0")]),
            Some(("v3.0.0".into(), TagSource::Bitbucket))
        );
    }

    #[test]
    fn branch_builds_name_no_tag() {
        assert_eq!(
            tag_in(&[
                ("GITHUB_REF_TYPE", "branch"),
                ("GITHUB_REF_NAME", "main"),
                ("GITHUB_REF", "refs/heads/main")
            ]),
            None
        );
        assert_eq!(tag_in(&[]), None);
    }

    #[test]
    fn scoped_monorepo_tags_survive() {
        assert_eq!(
            tag_in(&[("GITHUB_REF", "refs/tags/@chuks/numpy@1.2.0")]),
            Some(("@chuks/numpy@1.2.0".into(), TagSource::Github))
        );
    }
}
