//! The CI environment: which CI we run on and what it says. Each CI is one [`CiProvider`] in one
//! module (`github`, `gitlab`, `bitbucket`), listed in [`PROVIDERS`]; `outputs` writes results
//! where the CIs read them, and `id_token` gets the OIDC ID token a provider offers.
//!
//! A question about the run (its tag, commit, repository, forge) is put to the providers in
//! [`PROVIDERS`] order, and the first that answers wins; what only the CI running the job can do
//! (mask a secret, annotate, hand out an ID token) is asked of [`current`].

pub mod bitbucket;
pub mod github;
pub mod gitlab;
pub mod id_token;
pub mod outputs;

use secrecy::SecretString;

use crate::forge::ForgeDetection;
use crate::report::CiLog;
use crate::tag::{ReleaseTag, TagSource};
use id_token::{IdTokenError, IdTokenOffer};
use outputs::OutputFile;

/// Reads one environment variable; blank values count as unset.
pub type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Every CI chuks-ci knows, in the order their variables are consulted.
pub static PROVIDERS: [&dyn CiProvider; 3] = [
    &github::GithubActions,
    &gitlab::GitlabCi,
    &bitbucket::BitbucketPipelines,
];

/// Everything chuks-ci asks of a CI. Its log (masking, annotations) is [`CiLog`], which the
/// Reporter holds.
pub trait CiProvider: AsCiLog + Sync {
    /// The short name: `github`. It is the `tag_source` of JSON results.
    fn id(&self) -> &'static str;

    /// The CI's name, for people: `GitHub Actions`.
    fn name(&self) -> &'static str;

    /// Whether this job runs on this CI.
    fn runs_here(&self, var: Var) -> bool;

    /// The tag a tag-triggered run names.
    fn tag(&self, var: Var) -> Option<String>;

    /// Where [`CiProvider::tag`] comes from, for people: "GitLab CI (`CI_COMMIT_TAG`)".
    fn tag_source(&self) -> &'static str;

    /// The commit the run builds.
    fn commit(&self, var: Var) -> Option<String>;

    /// The repository's web address.
    fn repository_url(&self, var: Var) -> Option<String>;

    /// What confirming the tag on the repository's forge needs, or why it cannot run; `None`
    /// when `var` holds none of this CI's repository variables. `token_flag` is a forge token
    /// from the command line (`--github-token`), for the providers that take one.
    fn forge(&self, var: Var, token_flag: Option<&SecretString>) -> Option<ForgeDetection>;

    /// The files this CI reads a step's results from, as `var` names them. None by default:
    /// such a CI reads the `--dotenv` file (GitLab as a dotenv report, Bitbucket as an artifact).
    fn output_files(&self, _var: Var) -> Vec<OutputFile> {
        Vec::new()
    }

    /// How this job gets its OIDC ID token, for trusted publishing; an error says what the
    /// pipeline must grant.
    fn id_token(&self, var: Var) -> Result<IdTokenOffer, IdTokenError>;
}

/// A provider as the [`CiLog`] the Reporter holds.
pub trait AsCiLog {
    fn as_log(&self) -> &dyn CiLog;
}

impl<T: CiLog> AsCiLog for T {
    fn as_log(&self) -> &dyn CiLog {
        self
    }
}

/// The CI this job runs on, if it is one we know.
pub fn current() -> Option<&'static dyn CiProvider> {
    current_in(&env_var)
}

fn current_in(var: Var) -> Option<&'static dyn CiProvider> {
    PROVIDERS
        .iter()
        .copied()
        .find(|provider| provider.runs_here(var))
}

/// True on any CI (they all set `CI=true`), for warnings that only matter there.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The release tag the CI environment names, read from the process environment.
pub fn tag_from_env() -> Option<ReleaseTag> {
    tag_from(env_var)
}

/// The release tag the first provider finds in `var`.
pub fn tag_from(var: impl Fn(&str) -> Option<String>) -> Option<ReleaseTag> {
    let var = non_blank(&var);
    PROVIDERS.iter().find_map(|provider| {
        provider.tag(&var).map(|name| ReleaseTag {
            name: name.into(),
            source: TagSource::Ci {
                provider: provider.id(),
                described: provider.tag_source(),
            },
        })
    })
}

/// The commit being built, as the CI names it.
pub fn commit_from_env() -> Option<String> {
    PROVIDERS
        .iter()
        .find_map(|provider| provider.commit(&env_var))
}

/// The repository's web URL, as the CI names it.
pub fn repository_from_env() -> Option<String> {
    PROVIDERS
        .iter()
        .find_map(|provider| provider.repository_url(&env_var))
}

/// Detects the forge to confirm the tag on from the process environment; see [`forge_from`].
pub fn forge_from_env(token_flag: Option<SecretString>) -> ForgeDetection {
    forge_from(env_var, token_flag)
}

/// The forge the first provider finds in `var`. `token_flag` (`--github-token`) wins over the
/// provider's variables.
pub fn forge_from(
    var: impl Fn(&str) -> Option<String>,
    token_flag: Option<SecretString>,
) -> ForgeDetection {
    let var = non_blank(&var);
    PROVIDERS
        .iter()
        .find_map(|provider| provider.forge(&var, token_flag.as_ref()))
        .unwrap_or(ForgeDetection::NotInCi)
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

/// `owner/name` split in two, when it is exactly that.
fn owner_and_name(full_name: &str) -> Option<(String, String)> {
    let (owner, name) = full_name.split_once('/')?;
    let valid = !owner.is_empty() && !name.is_empty() && !name.contains('/');
    valid.then(|| (owner.to_string(), name.to_string()))
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

    fn vars(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn tag_in(env: &[(&str, &str)]) -> Option<(String, &'static str)> {
        tag_from(vars(env)).map(|t| (t.name.into_unescaped(), source_id(t.source)))
    }

    fn source_id(source: TagSource) -> &'static str {
        match source {
            TagSource::Ci { provider, .. } => provider,
            other => panic!("not from CI: {other:?}"),
        }
    }

    #[test]
    fn reads_each_ci() {
        let github = Some(("v1.0.0".to_string(), "github"));
        assert_eq!(
            tag_in(&[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.0.0")]),
            github
        );
        assert_eq!(tag_in(&[("GITHUB_REF", "refs/tags/v1.0.0")]), github);
        assert_eq!(
            tag_in(&[("CI_COMMIT_TAG", "v2.0.0")]),
            Some(("v2.0.0".into(), "gitlab"))
        );
        assert_eq!(
            tag_in(&[("BITBUCKET_TAG", "v3.0.0")]),
            Some(("v3.0.0".into(), "bitbucket"))
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
            Some(("@chuks/numpy@1.2.0".into(), "github"))
        );
    }

    #[test]
    fn the_ci_running_the_job_is_found_in_provider_order() {
        let id = |env: &[(&str, &str)]| current_in(&vars(env)).map(|provider| provider.id());
        assert_eq!(id(&[("GITHUB_ACTIONS", "true")]), Some("github"));
        assert_eq!(id(&[("GITLAB_CI", "true")]), Some("gitlab"));
        assert_eq!(
            id(&[("BITBUCKET_REPO_FULL_NAME", "chuks/numpy")]),
            Some("bitbucket")
        );
        assert_eq!(
            id(&[("GITLAB_CI", "true"), ("GITHUB_ACTIONS", "true")]),
            Some("github")
        );
        assert_eq!(id(&[("GITHUB_ACTIONS", "false"), ("CI", "true")]), None);
    }

    #[test]
    fn provider_ids_are_unique() {
        let mut ids: Vec<&str> = PROVIDERS.iter().map(|provider| provider.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PROVIDERS.len(), "{ids:?}");
    }
}
