//! The payload: the source packed into a tarball, the source folder the official CLI packs (its
//! files put through the leak guard first), or a prebuilt binary as the user built it; each with
//! what is known of its bytes.

use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::plan::PayloadKind;
use super::uploader::Uploader;
use crate::manifest::Manifest;
use crate::pack::{self, IgnoreFiles, PackPlan, human_bytes};
use crate::protocol::GitInfo;
use crate::publish::report::PublishReport;
use crate::report::{Problem, Reporter};
use crate::untrusted::Untrusted;
use crate::upload::{Artifact, File, Tarball};

pub enum Payload {
    Tarball {
        file: NamedTempFile,
        sha256: String,
        size: u64,
    },
    /// The package folder, for the official CLI to pack.
    Checked,
    Binary {
        path: PathBuf,
        platform: &'static str,
        sha256: String,
        size: u64,
    },
}

impl Payload {
    /// What is uploaded, as both uploaders take it.
    pub fn artifact<'a>(&'a self, manifest: &'a Manifest, git: &'a GitInfo) -> Artifact<'a> {
        let source = |tarball| Artifact::Source {
            manifest: &manifest.document,
            git,
            tarball,
        };
        match self {
            Payload::Tarball { file, sha256, size } => source(Tarball::Packed(File {
                path: file.path(),
                sha256,
                size: *size,
            })),
            Payload::Checked => source(Tarball::PackedByTheCli),
            Payload::Binary {
                path,
                platform,
                sha256,
                size,
            } => Artifact::Prebuilt {
                platform,
                binary: File {
                    path,
                    sha256,
                    size: *size,
                },
            },
        }
    }
}

/// Packs the source, or takes the prebuilt binary as it is, recording the digest; for the
/// official CLI, which packs the source itself, runs the leak guard over the files it will ship.
pub fn prepare(
    kind: &PayloadKind,
    manifest: &Manifest,
    uploader: &Uploader,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Payload> {
    match (kind, uploader) {
        (PayloadKind::Prebuilt { platform, file }, _) => read_prebuilt(file, platform, report),
        (PayloadKind::Source(limits), Uploader::Chuks { .. }) => {
            let checked = check_for_the_cli(manifest.package_dir(), limits, reporter)?;
            report.file_count = Some(checked.files.len());
            Ok(Payload::Checked)
        }
        (PayloadKind::Source(limits), Uploader::Http) => pack(manifest, limits, reporter, report),
    }
}

fn read_prebuilt(
    path: &Path,
    platform: &'static str,
    report: &mut PublishReport,
) -> anyhow::Result<Payload> {
    let (sha256, size) = pack::file_digest(path).map_err(|err| {
        anyhow::anyhow!(
            "cannot read the prebuilt `{}`: {err}\nhint: build it first, and pass its path with `--file`",
            Untrusted::path(path)
        )
    })?;
    report.platform = Some(platform);
    report.sha256 = Some(sha256.clone());
    report.size = Some(size);
    // The official CLI runs in the package root: give it a path that holds from there.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(Payload::Binary {
        path,
        platform,
        sha256,
        size,
    })
}

/// The files the official CLI will ship (it reads `.gitignore` only), through the leak guard.
fn check_for_the_cli(
    root: &Path,
    limits: &pack::Limits,
    reporter: &mut Reporter,
) -> anyhow::Result<PackPlan> {
    let limits = pack::Limits {
        ignore_files: IgnoreFiles::GitOnly,
        ..limits.clone()
    };
    if root.join(pack::CHUKS_IGNORE_FILE).exists() {
        reporter.report(
            Problem::warning("the official `chuks` CLI does not read `.chuksignore`, so what it lists ships anyway")
                .with_hint("move those patterns to `.gitignore`, or publish with `--uploader http`"),
        );
    }
    let plan = plan_files(root, &limits, reporter)?;
    reporter.note(format!(
        "checked the {} files the official CLI will ship ({} unpacked): no secrets found",
        plan.files.len(),
        human_bytes(plan.unpacked_size())
    ));
    Ok(plan)
}

fn pack(
    manifest: &Manifest,
    limits: &pack::Limits,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Payload> {
    let plan = plan_files(manifest.package_dir(), limits, reporter)?;
    let (file, tarball) = pack::write_tempfile(&plan, &std::env::temp_dir())?;
    reporter.note(format!(
        "packed {} {}: {} files, {} ({} unpacked), sha256 {}",
        manifest.name,
        manifest.version,
        tarball.file_count,
        human_bytes(tarball.size),
        human_bytes(tarball.unpacked_size),
        tarball.sha256
    ));
    report.sha256 = Some(tarball.sha256.clone());
    report.size = Some(tarball.size);
    report.file_count = Some(tarball.file_count);
    Ok(Payload::Tarball {
        file,
        sha256: tarball.sha256,
        size: tarball.size,
    })
}

/// The package's files, saying which are left out on purpose (a registry's data, chuks-ci's
/// tarballs).
fn plan_files(root: &Path, limits: &pack::Limits, reporter: &Reporter) -> anyhow::Result<PackPlan> {
    let plan = pack::plan(root, limits, None)?;
    for left_out in &plan.left_out {
        reporter.note(left_out.to_string());
    }
    Ok(plan)
}
