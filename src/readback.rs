//! Confirming a release after upload: the registry serves our version with our sha256, tag and
//! commit. Reads are repeated until they agree or a bounded wait runs out.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use crate::registry_client::{ClientError, GitInfo, RegistryClient, VersionRecord};
use crate::untrusted::{self, Untrusted};
use crate::upload::{Stored, Upload};

/// Pause between read-backs while the registry has not caught up.
const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ReadBackError {
    #[error(
        "the registry accepted {what} but did not show it with our sha256, tag and commit within {waited}s (last seen: {last_seen})\nhint: the upload itself succeeded; re-run the job to check again, or raise `--confirm-timeout`"
    )]
    NotVisible {
        what: String,
        waited: u64,
        last_seen: String,
    },

    #[error(
        "the registry serves {what} with sha256 {stored}, not ours ({ours})\nhint: someone published other contents for this version; bump `version` in chuks.json and re-tag"
    )]
    OtherContents {
        what: String,
        stored: String,
        ours: String,
    },

    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Reads the version back until it shows the upload's sha256 (and, for a fresh source publish,
/// our tag and commit), for at most `wait`.
pub async fn read_back(
    client: &RegistryClient,
    upload: &Upload<'_>,
    git_must_match: bool,
    wait: Duration,
) -> Result<VersionRecord, ReadBackError> {
    // Each read retries on its own; the deadline bounds them all, not just the pauses between,
    // with room for one read that started just before `wait` ran out.
    let last_seen = RefCell::new("no answer yet".to_string());
    let reads = poll_until_visible(client, upload, git_must_match, wait, &last_seen);
    match tokio::time::timeout(wait + client.stall_timeout(), reads).await {
        Ok(result) => result,
        Err(_) => Err(ReadBackError::NotVisible {
            what: upload.what(),
            waited: wait.as_secs(),
            last_seen: last_seen.take(),
        }),
    }
}

async fn poll_until_visible(
    client: &RegistryClient,
    upload: &Upload<'_>,
    git_must_match: bool,
    wait: Duration,
    last_seen: &RefCell<String>,
) -> Result<VersionRecord, ReadBackError> {
    let started = Instant::now();
    loop {
        let record = client.version(upload.name, upload.version).await?;
        let seen = match record {
            Some(record) => match upload.held_in(&record) {
                Some(Stored::Other(stored)) => {
                    return Err(ReadBackError::OtherContents {
                        what: upload.what(),
                        stored: stored.to_string(),
                        ours: upload.sha256().unwrap_or_default().to_string(),
                    });
                }
                // Ours, or not compared (the official CLI packed it): the git details decide.
                Some(_) if !git_must_match || records_our_git(&record, upload.git()) => {
                    return Ok(record);
                }
                Some(_) => format!(
                    "tag {} at commit {}",
                    untrusted::or(record.git.tag.as_ref(), "none"),
                    untrusted::or(record.git.commit.as_ref(), "none")
                ),
                None => "the version without this upload".to_string(),
            },
            None => "not found".to_string(),
        };
        if started.elapsed() >= wait {
            return Err(ReadBackError::NotVisible {
                what: upload.what(),
                waited: wait.as_secs(),
                last_seen: seen,
            });
        }
        last_seen.replace(seen);
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The registry recorded the tag and commit this run sent (fields we did not send are not checked).
pub fn records_our_git(record: &VersionRecord, ours: Option<&GitInfo>) -> bool {
    let Some(ours) = ours else {
        return true;
    };
    let agrees =
        |stored: &Option<Untrusted>, ours: &Option<Untrusted>| ours.is_none() || stored == ours;
    agrees(&record.git.tag, &ours.tag) && agrees(&record.git.commit, &ours.commit)
}
