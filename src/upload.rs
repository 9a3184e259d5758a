//! One upload, described once for both uploaders: which version (or which platform's prebuilt of
//! it), its bytes, and what the registry holds where it goes, compared with them ([`Stored`]).

use std::path::Path;

use serde_json::Value;

use crate::protocol::{GitInfo, VersionRecord};
use crate::untrusted::Untrusted;

/// One upload for a package version.
#[derive(Debug)]
pub struct Upload<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub artifact: Artifact<'a>,
}

/// What is uploaded: the version's source, or one platform's prebuilt binary.
#[derive(Debug)]
pub enum Artifact<'a> {
    Source {
        manifest: &'a Value,
        git: &'a GitInfo,
        tarball: Tarball<'a>,
    },
    Prebuilt {
        platform: &'a str,
        binary: File<'a>,
    },
}

/// The source's tarball: packed by chuks-ci, or by the official CLI from the package folder.
#[derive(Debug)]
pub enum Tarball<'a> {
    Packed(File<'a>),
    /// The official CLI packs the folder it runs in: the tarball's digest is not ours to know.
    PackedByTheCli,
}

/// A file whose bytes chuks-ci read: a tarball it packed, or a prebuilt binary.
#[derive(Debug, Clone, Copy)]
pub struct File<'a> {
    pub path: &'a Path,
    /// Lowercase hex.
    pub sha256: &'a str,
    pub size: u64,
}

/// What the registry holds where an upload goes, compared with our bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Our sha256.
    Ours,
    /// Other bytes: the sha256 the registry holds.
    Other(Untrusted),
    /// Not compared: the registry did not say what it holds, or we do not know our digest.
    Unknown,
}

/// How an upload ended, as either uploader tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Stored by this run.
    Published,
    /// The registry already holds this version (or this prebuilt).
    Exists(Stored),
}

impl Upload<'_> {
    /// The file sent, when chuks-ci has one: not for a source the official CLI packs.
    pub fn file(&self) -> Option<&File<'_>> {
        match &self.artifact {
            Artifact::Source {
                tarball: Tarball::Packed(file),
                ..
            }
            | Artifact::Prebuilt { binary: file, .. } => Some(file),
            Artifact::Source {
                tarball: Tarball::PackedByTheCli,
                ..
            } => None,
        }
    }

    /// Our sha256, when we know it.
    pub fn sha256(&self) -> Option<&str> {
        self.file().map(|file| file.sha256)
    }

    /// The git details sent with a source upload.
    pub fn git(&self) -> Option<&GitInfo> {
        match self.artifact {
            Artifact::Source { git, .. } => Some(git),
            Artifact::Prebuilt { .. } => None,
        }
    }

    /// The one comparison of a sha256 the registry holds with ours.
    pub fn compare(&self, stored: &Untrusted) -> Stored {
        match self.sha256() {
            None => Stored::Unknown,
            Some(ours) if stored.unescaped().eq_ignore_ascii_case(ours) => Stored::Ours,
            Some(_) => Stored::Other(stored.clone()),
        }
    }

    /// What `record` holds where this upload goes; `None` when it holds nothing there (for a
    /// prebuilt: the version, without this platform).
    pub fn held_in(&self, record: &VersionRecord) -> Option<Stored> {
        let stored = match self.artifact {
            Artifact::Source { .. } => Some(&record.sha256),
            Artifact::Prebuilt { platform, .. } => record
                .prebuilts
                .iter()
                .find(|prebuilt| prebuilt.platform == platform)
                .map(|prebuilt| &prebuilt.sha256),
        };
        stored.map(|stored| self.compare(stored))
    }

    /// Names the upload in messages: a version, or one platform's prebuilt of it.
    pub fn what(&self) -> String {
        match self.artifact {
            Artifact::Source { .. } => format!("`{}` {}", self.name, self.version),
            Artifact::Prebuilt { platform, .. } => {
                format!(
                    "the `{platform}` prebuilt of `{}` {}",
                    self.name, self.version
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "ab12";

    fn prebuilt(platform: &str) -> Upload<'_> {
        Upload {
            name: "di",
            version: "1.0.0",
            artifact: Artifact::Prebuilt {
                platform,
                binary: File {
                    path: Path::new("di.bin"),
                    sha256: OURS,
                    size: 2,
                },
            },
        }
    }

    #[test]
    fn a_digest_compares_without_case_and_unknown_without_ours() {
        let upload = prebuilt("linux-x86_64");
        assert_eq!(upload.compare(&Untrusted::from("AB12")), Stored::Ours);
        assert_eq!(
            upload.compare(&Untrusted::from("cd34")),
            Stored::Other(Untrusted::from("cd34"))
        );
        let git = GitInfo::default();
        let manifest = Value::Null;
        let packed_by_the_cli = Upload {
            artifact: Artifact::Source {
                manifest: &manifest,
                git: &git,
                tarball: Tarball::PackedByTheCli,
            },
            ..upload
        };
        assert_eq!(
            packed_by_the_cli.compare(&Untrusted::from(OURS)),
            Stored::Unknown
        );
    }
}
