//! Trusted publishers: which CI identity (an issuer and its claims) may publish which package as
//! which publisher; adding, listing and removing them, and matching a verified ID token's claims.
//!
//! A claim is matched by name, never by parsing `sub`, whose format the CI may change.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::RegistryError;
use super::oidc::{self, IdClaims};
use crate::protocol::{ClaimMismatch, GITHUB_ISSUER, GITLAB_ISSUER, MintedFor};
use crate::untrusted::Untrusted;

/// Longest value of any field of a trusted publisher.
const MAX_FIELD_CHARS: usize = 256;

/// Which CI, and the claims that identify the workflow allowed to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum Identity {
    Github {
        /// `OWNER/REPO`, matched case-insensitively.
        repository: String,
        /// The account id behind `OWNER`, where recorded: a deleted account re-created under
        /// the same name has another.
        #[serde(skip_serializing_if = "Option::is_none")]
        repository_owner_id: Option<String>,
        /// The workflow file's name, e.g. `release.yml`.
        workflow: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
    Gitlab {
        /// `GROUP/PROJECT` (subgroups included).
        project: String,
        /// The CI configuration file's path in the project, e.g. `.gitlab-ci.yml`.
        config_path: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
    Bitbucket {
        workspace_uuid: String,
        repository_uuid: String,
    },
}

impl Identity {
    pub fn provider(&self) -> &'static str {
        match self {
            Identity::Github { .. } => "github",
            Identity::Gitlab { .. } => "gitlab",
            Identity::Bitbucket { .. } => "bitbucket",
        }
    }

    /// The issuer a publisher of this provider trusts unless told otherwise; Bitbucket's is per
    /// workspace, so it has none.
    pub fn default_issuer(&self) -> Option<&'static str> {
        match self {
            Identity::Github { .. } => Some(GITHUB_ISSUER),
            Identity::Gitlab { .. } => Some(GITLAB_ISSUER),
            Identity::Bitbucket { .. } => None,
        }
    }
}

/// A trusted publisher as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedPublisher {
    pub id: i64,
    pub publisher: String,
    pub package: String,
    pub issuer: String,
    #[serde(flatten)]
    pub identity: Identity,
    #[serde(serialize_with = "as_text")]
    pub created_at: Timestamp,
}

fn as_text<S: serde::Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(at)
}

/// A trusted publisher to add (`registry trust add`).
#[derive(Debug, Clone)]
pub struct NewTrustedPublisher {
    pub publisher: String,
    pub package: String,
    /// `None` for the provider's default issuer.
    pub issuer: Option<String>,
    pub identity: Identity,
}

/// Why a trusted publisher was not added, or removed.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("`{value}` is not a valid {what}: {reason}\nhint: {hint}")]
    Invalid {
        what: &'static str,
        value: Untrusted,
        reason: &'static str,
        hint: &'static str,
    },

    #[error(
        "a Bitbucket trusted publisher needs `--issuer`\nhint: pass the workspace's issuer, `https://api.bitbucket.org/2.0/workspaces/WORKSPACE/pipelines-config/identity/oidc`"
    )]
    NoIssuer,

    #[error(
        "publisher `{publisher}` may not publish `{package}`, owned by `{owner}`\nhint: add the trusted publisher as `{owner}`, or have `{owner}` grant `{publisher}` with `PUT /api/packages/{{name}}/permissions`"
    )]
    NotAPublisher {
        publisher: Untrusted,
        package: Untrusted,
        owner: Untrusted,
    },

    #[error(
        "no trusted publisher has id {id}\nhint: run `chuks-ci registry trust list` to see their ids"
    )]
    NotFound { id: i64 },
}

/// Checks every field, then stores the publisher. A publisher may be trusted for a package
/// that does not exist yet (a pending publisher: its first publish creates it, owned by
/// `publisher`), or for one it owns or was granted.
pub fn add(
    connection: &Connection,
    new: &NewTrustedPublisher,
    now: Timestamp,
) -> Result<TrustedPublisher, RegistryError> {
    super::check_publisher_name(&new.publisher)?;
    check_package(&new.package)?;
    check_identity(&new.identity)?;
    let issuer = match (&new.issuer, new.identity.default_issuer()) {
        (Some(issuer), _) => oidc::check_issuer_url(issuer)?,
        (None, Some(default)) => default.to_string(),
        (None, None) => return Err(TrustError::NoIssuer.into()),
    };
    check_may_publish(connection, &new.package, &new.publisher)?;
    let (repository, owner_id, workflow, environment) = columns(&new.identity);
    connection.execute(
        "INSERT INTO trusted_publishers (publisher, package, provider, issuer, repository,
                                         repository_owner_id, workflow, environment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            new.publisher,
            new.package,
            new.identity.provider(),
            issuer,
            repository,
            owner_id,
            workflow,
            environment,
            now.to_string()
        ],
    )?;
    by_id(connection, connection.last_insert_rowid())?
        .ok_or(RegistryError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

pub fn list(connection: &Connection) -> rusqlite::Result<Vec<TrustedPublisher>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM trusted_publishers ORDER BY id"
    ))?;
    statement.query_map([], row)?.collect()
}

/// The publishers that trust tokens of `issuer`.
pub fn for_issuer(
    connection: &Connection,
    issuer: &str,
) -> rusqlite::Result<Vec<TrustedPublisher>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM trusted_publishers WHERE issuer = ?1 ORDER BY id"
    ))?;
    statement.query_map([issuer], row)?.collect()
}

/// The issuers Bitbucket publishers name: each workspace has its own, trusted by naming it.
pub fn bitbucket_issuers(connection: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection
        .prepare("SELECT DISTINCT issuer FROM trusted_publishers WHERE provider = 'bitbucket'")?;
    statement.query_map([], |row| row.get(0))?.collect()
}

pub fn remove(connection: &Connection, id: i64) -> Result<TrustedPublisher, RegistryError> {
    let found = by_id(connection, id)?.ok_or(TrustError::NotFound { id })?;
    connection.execute("DELETE FROM trusted_publishers WHERE id = ?1", [id])?;
    Ok(found)
}

/// The publishers among `candidates` whose identity the claims show, or why none matched.
pub fn matching<'a>(
    candidates: &'a [TrustedPublisher],
    claims: &IdClaims,
) -> Result<Vec<&'a TrustedPublisher>, Option<ClaimMismatch>> {
    let mut closest: Option<(usize, ClaimMismatch)> = None;
    let mut matched = Vec::new();
    for candidate in candidates {
        match compare(&candidate.identity, claims) {
            Ok(()) => matched.push(candidate),
            Err((agreed, mismatch)) => {
                if closest.as_ref().is_none_or(|(best, _)| agreed > *best) {
                    closest = Some((agreed, mismatch));
                }
            }
        }
    }
    if matched.is_empty() {
        return Err(closest.map(|(_, mismatch)| mismatch));
    }
    Ok(matched)
}

/// What the run's claims say for the token's audit record.
pub fn minted_for(publisher: &TrustedPublisher, claims: &IdClaims) -> MintedFor {
    let claim = |name: &str| claims.text(name).map(Untrusted::from);
    let (repository, workflow, run_id) = match publisher.identity {
        Identity::Github { .. } => (claim("repository"), claim("workflow_ref"), claim("run_id")),
        Identity::Gitlab { .. } => (
            claim("project_path"),
            claim("ci_config_ref_uri"),
            claim("pipeline_id"),
        ),
        Identity::Bitbucket { .. } => (
            claim("repositoryUuid"),
            claim("pipelineUuid"),
            claim("stepUuid"),
        ),
    };
    MintedFor {
        trusted_publisher: publisher.id,
        provider: publisher.identity.provider().into(),
        issuer: publisher.issuer.as_str().into(),
        repository,
        workflow,
        git_ref: claim("ref").or_else(|| claim("branchName")),
        sha: claim("sha").or_else(|| claim("commitHash")),
        run_id,
    }
}

/// One check of a claim against what the publisher recorded.
struct Check<'a> {
    claim: &'static str,
    expected: &'a str,
    /// What the token says, already reduced to what is compared (a workflow file's name…).
    found: Option<String>,
    same: fn(&str, &str) -> bool,
}

/// `Ok` when every check passes; otherwise how many passed before the first that failed, and
/// that one. The first check is the repository (or project): when it fails, nothing the
/// publisher recorded is revealed.
fn compare(identity: &Identity, claims: &IdClaims) -> Result<(), (usize, ClaimMismatch)> {
    let checks = checks(identity, claims);
    for (index, check) in checks.iter().enumerate() {
        let passes = check
            .found
            .as_deref()
            .is_some_and(|found| (check.same)(check.expected, found));
        if !passes {
            return Err((
                index,
                ClaimMismatch {
                    claim: check.claim.into(),
                    expected: (index > 0).then(|| check.expected.into()),
                    found: check.found.as_deref().map(Untrusted::from),
                },
            ));
        }
    }
    Ok(())
}

fn checks<'a>(identity: &'a Identity, claims: &IdClaims) -> Vec<Check<'a>> {
    let text = |name: &str| claims.text(name).map(str::to_string);
    let exact: fn(&str, &str) -> bool = |a, b| a == b;
    let caseless: fn(&str, &str) -> bool = |a, b| a.eq_ignore_ascii_case(b);
    let uuid: fn(&str, &str) -> bool = |a, b| unbraced(a).eq_ignore_ascii_case(unbraced(b));
    let mut checks = Vec::new();
    match identity {
        Identity::Github {
            repository,
            repository_owner_id,
            workflow,
            environment,
        } => {
            checks.push(Check {
                claim: "repository",
                expected: repository,
                found: text("repository"),
                same: caseless,
            });
            if let Some(owner_id) = repository_owner_id {
                checks.push(Check {
                    claim: "repository_owner_id",
                    expected: owner_id,
                    found: text("repository_owner_id"),
                    same: exact,
                });
            }
            checks.push(github_workflow_check(workflow, claims));
            if let Some(environment) = environment {
                checks.push(Check {
                    claim: "environment",
                    expected: environment,
                    found: text("environment"),
                    same: caseless,
                });
            }
        }
        Identity::Gitlab {
            project,
            config_path,
            environment,
        } => {
            checks.push(Check {
                claim: "project_path",
                expected: project,
                found: text("project_path"),
                same: caseless,
            });
            checks.push(Check {
                claim: "ci_config_ref_uri",
                expected: config_path,
                found: claims
                    .text("ci_config_ref_uri")
                    .and_then(gitlab_config_path),
                same: exact,
            });
            if let Some(environment) = environment {
                checks.push(Check {
                    claim: "environment",
                    expected: environment,
                    found: text("environment"),
                    same: exact,
                });
            }
        }
        Identity::Bitbucket {
            workspace_uuid,
            repository_uuid,
        } => {
            checks.push(Check {
                claim: "repositoryUuid",
                expected: repository_uuid,
                found: text("repositoryUuid"),
                same: uuid,
            });
            checks.push(Check {
                claim: "workspaceUuid",
                expected: workspace_uuid,
                found: text("workspaceUuid"),
                same: uuid,
            });
        }
    }
    checks
}

/// The workflow file is taken from `job_workflow_ref` (the workflow running the job: a reusable
/// one when called) **or** `workflow_ref` (the one the run started from), so a release job in
/// a reusable workflow matches whichever file the publisher names.
fn github_workflow_check<'a>(workflow: &'a str, claims: &IdClaims) -> Check<'a> {
    let job = claims
        .text("job_workflow_ref")
        .and_then(github_workflow_file);
    let run = claims.text("workflow_ref").and_then(github_workflow_file);
    let found = match job {
        Some(job) if job == workflow => Some(job),
        job => run.or(job),
    };
    Check {
        claim: "workflow_ref",
        expected: workflow,
        found,
        same: |a, b| a == b,
    }
}

/// `OWNER/REPO/.github/workflows/FILE@REF` → `FILE`.
fn github_workflow_file(reference: &str) -> Option<String> {
    let (path, _) = reference.split_once('@')?;
    let (_, file) = path.split_once("/.github/workflows/")?;
    Some(file.to_string())
}

/// `HOST/GROUP/PROJECT//PATH@REF` → `PATH`.
fn gitlab_config_path(reference: &str) -> Option<String> {
    let (location, _) = reference.rsplit_once('@')?;
    let (_, path) = location.split_once("//")?;
    Some(path.to_string())
}

fn unbraced(uuid: &str) -> &str {
    uuid.trim_start_matches('{').trim_end_matches('}')
}

fn check_package(package: &str) -> Result<(), TrustError> {
    crate::manifest::validate_name(package).map_err(|reason| TrustError::Invalid {
        what: "package name",
        value: Untrusted::from(package).truncated(64),
        reason,
        hint: "use the `name` from chuks.json",
    })
}

/// Each field is one printable line of bounded length, shaped as its CI writes it.
fn check_identity(identity: &Identity) -> Result<(), TrustError> {
    let invalid = |what, value: &str, reason, hint| TrustError::Invalid {
        what,
        value: Untrusted::from(value).truncated(64),
        reason,
        hint,
    };
    let (repository, owner_id, workflow, environment) = columns(identity);
    for value in [Some(repository), owner_id, workflow, environment]
        .into_iter()
        .flatten()
    {
        if value.is_empty() || value.chars().count() > MAX_FIELD_CHARS {
            return Err(invalid(
                "value",
                value,
                "it is empty or too long",
                "pass the value as the CI shows it, at most 256 characters",
            ));
        }
        if value.contains(char::is_whitespace) || !super::prints_as_itself(value) {
            return Err(invalid(
                "value",
                value,
                "it holds spaces or characters that do not print as themselves",
                "pass the value as the CI shows it",
            ));
        }
    }
    match identity {
        Identity::Github {
            repository,
            repository_owner_id,
            workflow,
            ..
        } => {
            if repository.split('/').count() != 2 || repository.split('/').any(str::is_empty) {
                return Err(invalid(
                    "repository",
                    repository,
                    "it is not `OWNER/REPO`",
                    "pass `--repository OWNER/REPO`, e.g. `--repository chuks-lang/di`",
                ));
            }
            if repository_owner_id
                .as_deref()
                .is_some_and(|id| !id.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(invalid(
                    "repository owner id",
                    repository_owner_id.as_deref().unwrap_or_default(),
                    "it is not a number",
                    "pass the numeric id of the repository's owner (`gh api users/OWNER --jq .id`)",
                ));
            }
            let is_file = !workflow.contains('/')
                && (workflow.ends_with(".yml") || workflow.ends_with(".yaml"));
            if !is_file {
                return Err(invalid(
                    "workflow",
                    workflow,
                    "it is not a workflow file's name",
                    "pass the file's name in `.github/workflows/`, e.g. `--workflow release.yml`",
                ));
            }
        }
        Identity::Gitlab { project, .. } => {
            if !project.contains('/') || project.split('/').any(str::is_empty) {
                return Err(invalid(
                    "project",
                    project,
                    "it is not `GROUP/PROJECT`",
                    "pass `--project GROUP/PROJECT` as in the project's URL",
                ));
            }
        }
        Identity::Bitbucket { .. } => {}
    }
    Ok(())
}

/// The stored columns of an identity: see the `trusted_publishers` table.
fn columns(identity: &Identity) -> (&str, Option<&str>, Option<&str>, Option<&str>) {
    match identity {
        Identity::Github {
            repository,
            repository_owner_id,
            workflow,
            environment,
        } => (
            repository,
            repository_owner_id.as_deref(),
            Some(workflow),
            environment.as_deref(),
        ),
        Identity::Gitlab {
            project,
            config_path,
            environment,
        } => (project, None, Some(config_path), environment.as_deref()),
        Identity::Bitbucket {
            workspace_uuid,
            repository_uuid,
        } => (repository_uuid, Some(workspace_uuid), None, None),
    }
}

/// An existing package must be one `publisher` owns or was granted.
fn check_may_publish(
    connection: &Connection,
    package: &str,
    publisher: &str,
) -> Result<(), RegistryError> {
    let owner: Option<String> = connection
        .query_row(
            "SELECT owner FROM packages WHERE name = ?1",
            [package],
            |row| row.get(0),
        )
        .optional()?;
    let Some(owner) = owner else {
        return Ok(());
    };
    let granted: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM grants WHERE package = ?1 AND publisher = ?2)",
        params![package, publisher],
        |row| row.get(0),
    )?;
    if owner == publisher || granted {
        return Ok(());
    }
    Err(TrustError::NotAPublisher {
        publisher: publisher.into(),
        package: package.into(),
        owner: owner.into(),
    }
    .into())
}

fn by_id(connection: &Connection, id: i64) -> rusqlite::Result<Option<TrustedPublisher>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM trusted_publishers WHERE id = ?1"),
            [id],
            row,
        )
        .optional()
}

const COLUMNS: &str = "id, publisher, package, provider, issuer, repository, repository_owner_id,
     workflow, environment, created_at";

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TrustedPublisher> {
    let provider: String = row.get(3)?;
    let repository: String = row.get(5)?;
    let owner_id: Option<String> = row.get(6)?;
    let workflow: Option<String> = row.get(7)?;
    let environment: Option<String> = row.get(8)?;
    let identity = match provider.as_str() {
        "github" => Identity::Github {
            repository,
            repository_owner_id: owner_id,
            workflow: workflow.unwrap_or_default(),
            environment,
        },
        "gitlab" => Identity::Gitlab {
            project: repository,
            config_path: workflow.unwrap_or_default(),
            environment,
        },
        _ => Identity::Bitbucket {
            workspace_uuid: owner_id.unwrap_or_default(),
            repository_uuid: repository,
        },
    };
    Ok(TrustedPublisher {
        id: row.get(0)?,
        publisher: row.get(1)?,
        package: row.get(2)?,
        issuer: row.get(4)?,
        identity,
        created_at: super::tokens::timestamp(row.get(9)?, 9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_and_config_files_are_read_from_their_refs() {
        assert_eq!(
            github_workflow_file("o/r/.github/workflows/release.yml@refs/tags/v1").as_deref(),
            Some("release.yml")
        );
        assert_eq!(github_workflow_file("o/r/release.yml@refs/tags/v1"), None);
        assert_eq!(
            gitlab_config_path("gitlab.com/g/sub/p//ci/release.yml@refs/tags/v1").as_deref(),
            Some("ci/release.yml")
        );
        assert_eq!(gitlab_config_path("gitlab.com/g/p/.gitlab-ci.yml"), None);
    }
}
