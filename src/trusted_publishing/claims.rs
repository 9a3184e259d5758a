//! What an ID token says, read WITHOUT verifying it (only the registry verifies): the claims a
//! trusted publisher is matched on, and the `registry trust add` line that would accept them.
//! For `trust explain` and for explaining a refusal; never for deciding anything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::PublisherClaims;
use crate::untrusted::Untrusted;

/// The most of an ID token read; real ones are a few KiB.
const MAX_ID_TOKEN_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error(
        "the ID token is not a JWT ({reason})\nhint: give the token exactly as the CI issued it: three base64url parts joined by `.`"
    )]
    NotAJwt { reason: &'static str },
}

/// The claims of an ID token that matter to trusted publishing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The claims a trusted publisher is matched on.
    #[serde(flatten)]
    pub publisher: PublisherClaims,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Untrusted>,
    /// Shown, never matched: GitHub's `sub` changes shape with repository settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<Untrusted>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Untrusted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// Reads the payload of a JWT, without checking its signature.
pub fn decode(id_token: &str) -> Result<IdTokenClaims, ClaimsError> {
    let not_a_jwt = |reason| ClaimsError::NotAJwt { reason };
    let id_token = id_token.trim();
    if id_token.len() > MAX_ID_TOKEN_BYTES {
        return Err(not_a_jwt("it is longer than any ID token"));
    }
    let mut parts = id_token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(not_a_jwt("it does not have three parts"));
    };
    let payload = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| not_a_jwt("its payload is not base64url"))?;
    let payload: serde_json::Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| not_a_jwt("its payload is not a JSON object"))?;
    // Claims are strings, but an id comes as a number and an audience may be a list.
    let payload: serde_json::Map<String, Value> = payload
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                value @ (Value::String(_) | Value::Null) => value,
                value if name == "exp" => value,
                Value::Array(items) => Value::String(
                    items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map_or_else(|| item.to_string(), str::to_string)
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                other => Value::String(other.to_string()),
            };
            (name, value)
        })
        .collect();
    serde_json::from_value(Value::Object(payload))
        .map_err(|_| not_a_jwt("its claims have unexpected types"))
}

/// The CI that issued a token, told by the claims only it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    Github,
    Gitlab,
    Bitbucket,
}

impl Issuer {
    pub fn name(self) -> &'static str {
        match self {
            Issuer::Github => "github",
            Issuer::Gitlab => "gitlab",
            Issuer::Bitbucket => "bitbucket",
        }
    }
}

impl IdTokenClaims {
    pub fn issuer(&self) -> Option<Issuer> {
        let claims = &self.publisher;
        if claims.workflow_ref.is_some() || claims.job_workflow_ref.is_some() {
            Some(Issuer::Github)
        } else if claims.project_path.is_some() {
            Some(Issuer::Gitlab)
        } else if claims.workspace_uuid.is_some() {
            Some(Issuer::Bitbucket)
        } else {
            None
        }
    }

    /// The claims that decide a match, `(name, value)`, in the order they are shown.
    pub fn shown(&self) -> Vec<(&'static str, &Untrusted)> {
        let c = &self.publisher;
        let fields: [(&'static str, Option<&Untrusted>); 15] = [
            ("iss", c.iss.as_ref()),
            ("aud", self.aud.as_ref()),
            ("repository", c.repository.as_ref()),
            ("repository_owner_id", c.repository_owner_id.as_ref()),
            ("workflow_ref", c.workflow_ref.as_ref()),
            ("job_workflow_ref", c.job_workflow_ref.as_ref()),
            ("project_path", c.project_path.as_ref()),
            ("ci_config_ref_uri", c.ci_config_ref_uri.as_ref()),
            ("workspaceUuid", c.workspace_uuid.as_ref()),
            ("repositoryUuid", c.repository_uuid.as_ref()),
            ("environment", c.environment.as_ref()),
            ("ref", self.git_ref.as_ref()),
            ("sha", self.sha.as_ref()),
            ("run_id", self.run_id.as_ref()),
            ("sub", self.sub.as_ref()),
        ];
        fields
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value)))
            .collect()
    }

    /// A reusable workflow's file, when the job runs another workflow than the one triggered.
    pub fn reusable_workflow(&self) -> Option<String> {
        let called = self.publisher.job_workflow_ref.as_ref()?;
        (self.publisher.workflow_ref.as_ref() != Some(called))
            .then(|| workflow_file(called))
            .flatten()
    }

    /// The `chuks-ci registry trust add` arguments that would accept this token, after
    /// `--data-dir`, `--publisher` and `--package`; `None` when the issuer is unknown.
    pub fn trust_add_arguments(&self) -> Option<Vec<(&'static str, Untrusted)>> {
        let c = &self.publisher;
        let mut arguments = vec![("--provider", Untrusted::from(self.issuer()?.name()))];
        let mut push = |flag, value: Option<Untrusted>| {
            if let Some(value) = value {
                arguments.push((flag, value));
            }
        };
        // Named even where it is the provider's default: a self-hosted GitLab or a test issuer
        // is not.
        push("--issuer", c.iss.clone());
        match self.issuer()? {
            Issuer::Github => {
                push("--repository", c.repository.clone());
                let workflow = c.workflow_ref.as_ref().or(c.job_workflow_ref.as_ref());
                push(
                    "--workflow",
                    workflow.and_then(workflow_file).map(Untrusted::from),
                );
                push("--environment", c.environment.clone());
                push("--repository-owner-id", c.repository_owner_id.clone());
            }
            Issuer::Gitlab => {
                push("--project", c.project_path.clone());
                push(
                    "--config-path",
                    c.ci_config_ref_uri
                        .as_ref()
                        .and_then(config_path)
                        .map(Untrusted::from),
                );
                push("--environment", c.environment.clone());
            }
            Issuer::Bitbucket => {
                push("--workspace-uuid", c.workspace_uuid.clone());
                push("--repository-uuid", c.repository_uuid.clone());
            }
        }
        Some(arguments)
    }

    /// The whole `chuks-ci registry trust add …` line, its values shell-quoted; escaped when
    /// printed, as it quotes the token.
    pub fn trust_add_line(&self, package: &str, publisher: &str) -> Option<Untrusted> {
        let mut line = String::from("chuks-ci registry trust add --data-dir <DIR>");
        let fixed = [("--publisher", publisher), ("--package", package)];
        for (flag, value) in fixed {
            line.push_str(&format!(" {flag} {}", shell_word(value)));
        }
        for (flag, value) in self.trust_add_arguments()? {
            line.push_str(&format!(" {flag} {}", shell_word(value.unescaped())));
        }
        Some(Untrusted::from(line))
    }
}

/// `owner/repo/.github/workflows/release.yml@refs/tags/v1` → `release.yml`.
fn workflow_file(workflow_ref: &Untrusted) -> Option<String> {
    let path = workflow_ref.unescaped().split('@').next()?;
    let file = path.rsplit('/').next()?;
    (!file.is_empty()).then(|| file.to_string())
}

/// `gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main` → `.gitlab-ci.yml`.
fn config_path(config_ref_uri: &Untrusted) -> Option<String> {
    let (_, path) = config_ref_uri.unescaped().split_once("//")?;
    let path = path.rsplit_once('@').map_or(path, |(path, _)| path);
    (!path.is_empty()).then(|| path.to_string())
}

/// `value` as one shell word; placeholders such as `<NAME>` stay as they are.
fn shell_word(value: &str) -> String {
    if value.starts_with('<') && value.ends_with('>') {
        return value.to_string();
    }
    shlex::try_quote(value).map_or_else(|_| "''".to_string(), |word| word.into_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An unsigned JWT carrying `claims`, as a test ID token.
    pub fn jwt(claims: &Value) -> String {
        let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let header = serde_json::json!({"alg": "RS256", "kid": "test"});
        format!("{}.{}.c2ln", part(&header), part(claims))
    }

    fn github() -> Value {
        serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "chuks",
            "sub": "repo:chuks/numpy:ref:refs/tags/v1.2.0",
            "repository": "chuks/numpy",
            "repository_owner_id": 4242,
            "workflow_ref": "chuks/numpy/.github/workflows/release.yml@refs/tags/v1.2.0",
            "job_workflow_ref": "chuks/shared/.github/workflows/publish.yml@refs/heads/main",
            "ref": "refs/tags/v1.2.0",
            "exp": 1_900_000_000,
        })
    }

    #[test]
    fn github_claims_give_the_trust_add_line_of_the_calling_workflow() {
        let claims = decode(&jwt(&github())).unwrap();
        assert_eq!(claims.issuer(), Some(Issuer::Github));
        assert_eq!(
            claims.publisher.repository_owner_id.as_ref().unwrap(),
            "4242"
        );
        assert_eq!(claims.reusable_workflow().as_deref(), Some("publish.yml"));
        let line = claims.trust_add_line("numpy", "<PUBLISHER>").unwrap();
        assert_eq!(
            line.unescaped(),
            "chuks-ci registry trust add --data-dir <DIR> --publisher <PUBLISHER> --package numpy --provider github --issuer https://token.actions.githubusercontent.com --repository chuks/numpy --workflow release.yml --repository-owner-id 4242"
        );
    }

    #[test]
    fn gitlab_and_bitbucket_claims_name_their_settings() {
        let gitlab = decode(&jwt(&serde_json::json!({
            "iss": "https://gitlab.com",
            "project_path": "group/numpy",
            "ci_config_ref_uri": "gitlab.com/group/numpy//ci/release.yml@refs/tags/v1",
            "environment": "production",
        })))
        .unwrap();
        let line = gitlab.trust_add_line("numpy", "me").unwrap();
        assert!(
            line.unescaped().ends_with(
                "--provider gitlab --issuer https://gitlab.com --project group/numpy --config-path ci/release.yml --environment production"
            ),
            "{line}"
        );
        let bitbucket = decode(&jwt(&serde_json::json!({
            "iss": "https://api.bitbucket.org/2.0/workspaces/ws/pipelines-config/identity/oidc",
            "workspaceUuid": "{w}",
            "repositoryUuid": "{r}",
        })))
        .unwrap();
        assert_eq!(bitbucket.issuer(), Some(Issuer::Bitbucket));
        assert!(bitbucket.trust_add_line("numpy", "me").is_some());
    }

    #[test]
    fn hostile_claims_are_quoted_and_escaped() {
        let claims = decode(&jwt(&serde_json::json!({
            "repository": "a/b; rm -rf ~\n::set-output",
            "workflow_ref": "a/b/.github/workflows/x.yml@refs/heads/main",
        })))
        .unwrap();
        let shown = claims.trust_add_line("numpy", "me").unwrap().to_string();
        assert!(shown.contains("'a/b; rm -rf ~"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }

    #[test]
    fn what_is_not_a_jwt_is_refused() {
        for text in ["", "a.b", "a.b.c.d", "a.!!!.c", "a.bm90IGpzb24.c"] {
            assert!(decode(text).is_err(), "{text}");
        }
    }
}
