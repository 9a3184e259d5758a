//! Confirming a release after upload: the registry serves our version with our sha256, tag and
//! commit. Reads are repeated until they agree or a bounded wait runs out.

use std::time::{Duration, Instant};

use crate::exit::{Exit, HasExit};
use crate::registry_client::{ClientError, GitInfo, RegistryClient, VersionRecord};

/// Pause between read-backs while the registry has not caught up.
const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error(
        "the registry accepted `{name}` {version} but did not show it with our sha256, tag and commit within {waited}s (last seen: {last_seen})\nhint: the upload itself succeeded; re-run the job to check again, or raise `--confirm-timeout`"
    )]
    NotVisible {
        name: String,
        version: String,
        waited: u64,
        last_seen: String,
    },

    #[error(
        "the registry serves `{name}` {version} with sha256 {stored}, not ours ({ours})\nhint: someone published other contents for this version; bump `version` in chuks.json and re-tag"
    )]
    OtherContents {
        name: String,
        version: String,
        stored: String,
        ours: String,
    },

    #[error(transparent)]
    Client(#[from] ClientError),
}

impl HasExit for ConfirmError {
    fn exit(&self) -> Exit {
        match self {
            ConfirmError::NotVisible { .. } => Exit::Unavailable,
            ConfirmError::OtherContents { .. } => Exit::CheckFailed,
            ConfirmError::Client(err) => err.exit(),
        }
    }
}

/// What the read-back must find.
#[derive(Debug)]
pub struct Expected<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
    pub git: &'a GitInfo,
    /// False for an `unchanged` re-run: an earlier publish of the same bytes keeps its own
    /// tag and commit, so only the sha256 must agree.
    pub git_must_match: bool,
}

/// Reads the version back until it shows our sha256 and git details, for at most `wait`.
pub async fn read_back(
    client: &RegistryClient,
    expected: &Expected<'_>,
    wait: Duration,
) -> Result<VersionRecord, ConfirmError> {
    let started = Instant::now();
    loop {
        let record = client.version(expected.name, expected.version).await?;
        let last_seen = match &record {
            Some(record) if !record.sha256.eq_ignore_ascii_case(expected.sha256) => {
                return Err(ConfirmError::OtherContents {
                    name: expected.name.to_string(),
                    version: expected.version.to_string(),
                    stored: record.sha256.clone(),
                    ours: expected.sha256.to_string(),
                });
            }
            Some(record) if !expected.git_must_match || records_our_git(record, expected.git) => {
                return Ok(record.clone());
            }
            Some(record) => format!(
                "tag {:?} at commit {:?}",
                record.git.tag.as_deref().unwrap_or("none"),
                record.git.commit.as_deref().unwrap_or("none")
            ),
            None => "not found".to_string(),
        };
        if started.elapsed() >= wait {
            return Err(ConfirmError::NotVisible {
                name: expected.name.to_string(),
                version: expected.version.to_string(),
                waited: wait.as_secs(),
                last_seen,
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The registry recorded the tag and commit this run sent (fields we did not send are not checked).
pub fn records_our_git(record: &VersionRecord, ours: &GitInfo) -> bool {
    let agrees = |stored: &Option<String>, ours: &Option<String>| ours.is_none() || stored == ours;
    agrees(&record.git.tag, &ours.tag) && agrees(&record.git.commit, &ours.commit)
}
