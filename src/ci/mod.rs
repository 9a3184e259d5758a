//! The CI environment: which CI we run on and what it tells us (tag, commit, repository).

pub mod outputs;

use crate::tag::{ReleaseTag, TagSource};

/// True inside GitHub Actions, where workflow commands and output files apply.
pub fn is_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// True on any CI we know (they all set `CI=true`), for warnings that only matter there.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The release tag the CI environment names, read from the process environment.
pub fn tag_from_env() -> Option<ReleaseTag> {
    tag_from(non_empty)
}

/// The release tag named by GitHub, GitLab or Bitbucket variables, in that order.
pub fn tag_from(var: impl Fn(&str) -> Option<String>) -> Option<ReleaseTag> {
    let tag = |name: String, source| Some(ReleaseTag { name, source });
    if var("GITHUB_REF_TYPE").as_deref() == Some("tag") {
        if let Some(name) = var("GITHUB_REF_NAME") {
            return tag(name, TagSource::Github);
        }
    }
    if let Some(name) =
        var("GITHUB_REF").and_then(|r| r.strip_prefix("refs/tags/").map(str::to_string))
    {
        return tag(name, TagSource::Github);
    }
    if let Some(name) = var("CI_COMMIT_TAG") {
        return tag(name, TagSource::Gitlab);
    }
    var("BITBUCKET_TAG").and_then(|name| tag(name, TagSource::Bitbucket))
}

/// The commit being built, as the CI names it.
pub fn commit_from_env() -> Option<String> {
    ["GITHUB_SHA", "CI_COMMIT_SHA", "BITBUCKET_COMMIT"]
        .iter()
        .find_map(|name| non_empty(name))
}

/// The repository's web URL, as the CI names it.
pub fn repository_from_env() -> Option<String> {
    if let (Some(server), Some(repository)) = (
        non_empty("GITHUB_SERVER_URL"),
        non_empty("GITHUB_REPOSITORY"),
    ) {
        return Some(format!("{}/{repository}", server.trim_end_matches('/')));
    }
    non_empty("CI_PROJECT_URL").or_else(|| non_empty("BITBUCKET_GIT_HTTP_ORIGIN"))
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
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
        tag_from(|name| vars.get(name).cloned()).map(|t| (t.name, t.source))
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
