//! `--if-exists`: what a version (or prebuilt) the registry already holds means for the run. A
//! version it holds with our bytes is `unchanged` in every mode; one it holds without saying
//! what, or (under `skip`) with other bytes, is `exists` with a warning, except under `error`.

use crate::publish::report::PublishResult;
use crate::report::{Problem, Reporter};
use crate::untrusted::Untrusted;
use crate::upload::{Artifact, Sent, Stored, Upload};

/// `--if-exists`: what a version (or prebuilt) the registry already holds means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Our bytes are `unchanged`, other bytes fail, unknown contents are `exists`.
    Verify,
    /// `exists`, with a warning, even for other bytes (a rebuilt prebuilt binary).
    Skip,
    /// Fail for anything not proven identical.
    Error,
}

#[derive(Debug, thiserror::Error)]
pub enum ExistsError {
    #[error(
        "{what} is already published with different contents (stored sha256 {stored_sha256}, ours {our_sha256})\nhint: {hint}"
    )]
    OtherContents {
        what: String,
        stored_sha256: Untrusted,
        our_sha256: String,
        hint: &'static str,
    },

    #[error(
        "{what} already exists on the registry, which did not say what it holds, so the contents were not compared\nhint: the registry refuses every overwrite; if this is a re-run of a published release there is nothing to do, otherwise bump `version` in chuks.json and re-tag"
    )]
    UnknownContents { what: String },
}

/// Applies `mode` to how the upload ended.
pub fn settle(
    mode: IfExists,
    sent: Sent,
    upload: &Upload<'_>,
    reporter: &mut Reporter,
) -> Result<PublishResult, ExistsError> {
    let let_be = match (mode, sent) {
        (_, Sent::Published) => return Ok(PublishResult::Published),
        (_, Sent::Exists(Stored::Ours)) => return Ok(PublishResult::Unchanged),
        (IfExists::Verify | IfExists::Skip, Sent::Exists(Stored::Unknown)) => {
            Problem::warning(unknown_contents(upload).to_string())
        }
        (IfExists::Skip, Sent::Exists(Stored::Other(_))) => Problem::warning(format!(
            "{} is already published with other contents; `--if-exists skip` leaves it as it is",
            upload.what()
        ))
        .with_hint(
            "expected for a rebuilt prebuilt binary; for source, bump `version` in chuks.json",
        ),
        (IfExists::Error, Sent::Exists(Stored::Unknown)) => return Err(unknown_contents(upload)),
        (IfExists::Verify | IfExists::Error, Sent::Exists(Stored::Other(stored))) => {
            return Err(other_contents(upload, stored));
        }
    };
    reporter.report(let_be);
    Ok(PublishResult::Exists)
}

fn unknown_contents(upload: &Upload<'_>) -> ExistsError {
    ExistsError::UnknownContents {
        what: upload.what(),
    }
}

/// The registry holds `stored` where `upload` goes, and it is not our sha256.
fn other_contents(upload: &Upload<'_>, stored: Untrusted) -> ExistsError {
    let hint = match upload.artifact {
        Artifact::Source { .. } => {
            "a published version never changes: bump `version` in chuks.json and re-tag (re-running an old release with a newer chuks-ci can also change the tarball's bytes)"
        }
        Artifact::Prebuilt { .. } => {
            "a rebuilt binary rarely has the same bytes: pass `--if-exists skip` to leave the published one as it is (the CI integrations do), or bump `version` to publish a new one"
        }
    };
    ExistsError::OtherContents {
        what: upload.what(),
        stored_sha256: stored,
        our_sha256: upload.sha256().unwrap_or_default().to_string(),
        hint,
    }
}
