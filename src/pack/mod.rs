//! Packing a package folder into a deterministic `.tar.gz`, with the leak guard.
//!
//! [`plan`] decides what goes in (file selection, size limit, leak guard) without writing
//! anything; [`write_tarball`] and [`write_tempfile`] turn a plan into the archive.
//!
//! Besides what the ignore files leave out, a plan never holds a reference registry's data
//! folder nor a tarball chuks-ci wrote (a `pack` into the package folder, recognised by its
//! bytes: [`is_own_tarball`]); it names them in [`PackPlan::left_out`] so the user is told.
//! `--allow-file` ships such a tarball anyway. The official CLI packs for itself, so for its
//! selection ([`IgnoreFiles::GitOnly`]) what chuks-ci would leave out is refused instead.

mod archive;
mod leak_guard;
mod parallel_gzip;
mod select;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::untrusted::Untrusted;

pub use archive::{
    ARCHIVE_MTIME, FileDigest, TarballSummary, file_digest, is_own_tarball, write_tarball,
    write_tarball_with_threads, write_tempfile,
};
pub use leak_guard::{Encoding, Finding, Refusal, TokenMatch};
pub use select::{CHUKS_IGNORE_FILE, IgnoreFiles, REGISTRY_DATA_MARKER};

/// Default limit on the package's total file size, before compression.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;

/// What a package may hold: files the leak guard is told to let through, and a size limit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Relative to the package folder.
    pub allow_files: Vec<PathBuf>,
    /// The most bytes the package's files may add up to.
    pub max_size: u64,
    pub ignore_files: IgnoreFiles,
}

/// What `pack` and `publish` allow without options.
impl Default for Limits {
    fn default() -> Self {
        Limits {
            allow_files: Vec::new(),
            max_size: DEFAULT_MAX_UNPACKED_BYTES,
            ignore_files: IgnoreFiles::default(),
        }
    }
}

/// How many of the largest files an oversize refusal names.
const LARGEST_SHOWN: usize = 5;

/// The files that go into a package, sorted by archive path.
#[derive(Debug, Clone)]
pub struct PackPlan {
    pub root: PathBuf,
    pub files: Vec<PackFile>,
    /// What the plan left out on its own, for a note to the user.
    pub left_out: Vec<LeftOut>,
}

/// Something a plan leaves out that no ignore file named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOut {
    /// A folder holding [`REGISTRY_DATA_MARKER`]: a reference registry's data.
    RegistryData { folder: Untrusted },
    /// A tarball chuks-ci wrote.
    OwnTarball { path: Untrusted },
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftOut::RegistryData { folder } => write!(
                f,
                "left out `{folder}/`: it holds `{REGISTRY_DATA_MARKER}`, so it is a chuks-ci registry's data folder, with its tokens"
            ),
            LeftOut::OwnTarball { path } => write!(
                f,
                "left out `{path}`: a tarball chuks-ci packed is not part of a package (pass `--allow-file {path}` to ship it anyway)"
            ),
        }
    }
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackFile {
    /// The path inside the archive: relative, `/`-separated.
    pub path: String,
    /// Where the contents are read from; for a symlink, the file it resolves to.
    pub source: PathBuf,
    pub size: u64,
    pub executable: bool,
}

impl PackPlan {
    /// The total size of the files, before compression.
    pub fn unpacked_size(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(
        "no `chuks.json` in the package folder `{}`\nhint: pack the folder that holds the manifest, or pass `--manifest PATH`",
        Untrusted::path(root)
    )]
    NoManifest { root: PathBuf },

    #[error("cannot read the package folder `{}`: {}\nhint: check that the folder exists and is readable", Untrusted::path(root), Untrusted::new(source.to_string()))]
    Walk {
        root: PathBuf,
        source: ignore::Error,
    },

    #[error(
        "cannot read `{}`: {source}\nhint: check the file's permissions, or exclude it in `.chuksignore`",
        Untrusted::path(path)
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "`{}` is not valid UTF-8, and package paths must be\nhint: rename it, or exclude it in `.chuksignore`",
        Untrusted::path(path)
    )]
    NonUtf8Path { path: PathBuf },

    #[error(
        "`{path}` is a symlink to `{}`, outside the package folder\nhint: replace the link with a copy of the file, or exclude it in `.chuksignore`",
        Untrusted::path(target)
    )]
    SymlinkOutside { path: Untrusted, target: PathBuf },

    #[error(
        "`{path}` is a symlink to `{}`, which does not exist\nhint: remove the link, or exclude it in `.chuksignore`",
        Untrusted::path(target)
    )]
    SymlinkDangling { path: Untrusted, target: PathBuf },

    #[error(
        "`{path}` is a symlink to `{}`, which leads back to itself (a symlink loop)\nhint: fix or remove the link, or exclude it in `.chuksignore`",
        Untrusted::path(target)
    )]
    SymlinkLoop { path: Untrusted, target: PathBuf },

    #[error(
        "`{path}` is a symlink to `{target}`, which is not packed itself (ignored or always left out)\nhint: replace the link with a copy of a file that belongs in the package, or exclude the link in `.chuksignore`"
    )]
    SymlinkToUnpacked { path: Untrusted, target: Untrusted },

    #[error(
        "`{path}` is a symlink to a folder; only symlinks to files are packed\nhint: replace the link with a copy of the folder, or exclude it in `.chuksignore`"
    )]
    SymlinkToFolder { path: Untrusted },

    #[error("the package is {} ({total} bytes), over the limit of {} ({limit} bytes); largest files: {}\nhint: exclude files you do not need in `.chuksignore`, or raise the limit with `--max-size BYTES`", human_bytes(*total), human_bytes(*limit), largest_list(largest))]
    TooLarge {
        total: u64,
        limit: u64,
        largest: Vec<(String, u64)>,
    },

    #[error("the leak guard refused {}:\n{}\nhint: {}", files_count(refusals.len()), refusal_lines(refusals), leak_hint(refusals))]
    Leaks { refusals: Vec<Refusal> },

    #[error(
        "`{path}` changed size while it was being packed\nhint: run the command again when nothing is writing to the package folder"
    )]
    Changed { path: Untrusted },

    #[error(
        "cannot write the tarball: {source}\nhint: check that the output folder exists, is writable and has free space"
    )]
    Write { source: std::io::Error },
}

/// Selects the package's files under `root`, then applies the size limit and the leak guard.
/// `output`, where the tarball will be written, is left out if it lies inside `root`.
pub fn plan(root: &Path, limits: &Limits, output: Option<&Path>) -> Result<PackPlan, PackError> {
    let selection = select::select_files(root, output, limits.ignore_files)?;
    let official_cli = limits.ignore_files == IgnoreFiles::GitOnly;
    let allowed = leak_guard::allowed(&limits.allow_files);
    let mut left_out = Vec::new();
    if !official_cli {
        left_out.extend(
            selection
                .registry_data
                .iter()
                .map(|folder| LeftOut::RegistryData {
                    folder: folder.as_str().into(),
                }),
        );
    }
    let mut refused = Vec::new();
    let mut files = Vec::with_capacity(selection.files.len());
    for file in selection.files {
        match not_for_the_package(&file, &selection.registry_data, &allowed)? {
            None => files.push(file),
            Some(Finding::OwnTarball) if !official_cli => left_out.push(LeftOut::OwnTarball {
                path: file.path.into(),
            }),
            Some(finding) => refused.push(Refusal {
                path: file.path.into(),
                members: Vec::new(),
                finding,
            }),
        }
    }
    let plan = PackPlan {
        root: root.to_path_buf(),
        files,
        left_out,
    };
    check_size(&plan, limits.max_size)?;
    leak_guard::check(&plan.files, &allowed, refused)?;
    Ok(plan)
}

/// Why a selected file does not belong in any package: it lies in a registry's data folder
/// (only the official CLI's selection walks into one), or it is a tarball chuks-ci wrote.
fn not_for_the_package(
    file: &PackFile,
    registry_data: &[String],
    allowed: &HashSet<String>,
) -> Result<Option<Finding>, PackError> {
    let folder = registry_data.iter().find(|folder| {
        file.path
            .strip_prefix(folder.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    });
    if let Some(folder) = folder {
        return Ok(Some(Finding::RegistryData {
            folder: folder.clone(),
        }));
    }
    let own = !allowed.contains(&file.path) && is_tarball_of_ours(file)?;
    Ok(own.then_some(Finding::OwnTarball))
}

/// A `.tgz` or `.tar.gz` that chuks-ci wrote; other names are not opened.
fn is_tarball_of_ours(file: &PackFile) -> Result<bool, PackError> {
    let name = file.path.rsplit('/').next().unwrap_or_default();
    let name = name.to_ascii_lowercase();
    if !name.ends_with(".tgz") && !name.ends_with(".tar.gz") {
        return Ok(false);
    }
    is_own_tarball(&file.source).map_err(|source| PackError::Read {
        path: file.source.clone(),
        source,
    })
}

fn check_size(plan: &PackPlan, limit: u64) -> Result<(), PackError> {
    let total = plan.unpacked_size();
    if total <= limit {
        return Ok(());
    }
    let mut by_size: Vec<(String, u64)> = plan
        .files
        .iter()
        .map(|file| (file.path.clone(), file.size))
        .collect();
    // Ties broken by path so the message is the same on every run.
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    by_size.truncate(LARGEST_SHOWN);
    Err(PackError::TooLarge {
        total,
        limit,
        largest: by_size,
    })
}

/// Sizes for people: bytes below 1 KiB, otherwise KiB/MiB/GiB with one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn largest_list(largest: &[(String, u64)]) -> String {
    largest
        .iter()
        .map(|(path, size)| {
            format!(
                "`{}` ({})",
                Untrusted::new(path.as_str()),
                human_bytes(*size)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn files_count(count: usize) -> String {
    match count {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    }
}

const SECRETS_ADVICE: &str = "remove the secrets (and rotate any that were committed), exclude the files in `.chuksignore`, or pass `--allow-file PATH` for a file that is safe to publish";
const DATABASE_ADVICE: &str = "move databases out of the package folder (for a rehearsal, give `chuks-ci registry serve --data-dir` a folder outside it), or exclude them in `.chuksignore`";
const OFFICIAL_CLI_ADVICE: &str = "add chuks-ci's tarballs and registry data folders to `.gitignore`, or publish with `--uploader http`, which leaves them out";

fn advice_for(finding: &Finding) -> &'static str {
    match finding {
        Finding::Database { .. } => DATABASE_ADVICE,
        Finding::OwnTarball | Finding::RegistryData { .. } => OFFICIAL_CLI_ADVICE,
        _ => SECRETS_ADVICE,
    }
}

/// What to do next: the advice for each kind of refusal there is (a database has no secret to
/// rotate), secrets first.
fn leak_hint(refusals: &[Refusal]) -> String {
    [SECRETS_ADVICE, DATABASE_ADVICE, OFFICIAL_CLI_ADVICE]
        .into_iter()
        .filter(|advice| refusals.iter().any(|r| advice_for(&r.finding) == *advice))
        .collect::<Vec<_>>()
        .join("; ")
}

fn refusal_lines(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(|refusal| format!("  - {refusal}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> PackFile {
        PackFile {
            path: path.to_string(),
            source: PathBuf::from(path),
            size,
            executable: false,
        }
    }

    #[test]
    fn size_limit_names_the_largest_files_first() {
        let plan = PackPlan {
            root: PathBuf::from("."),
            files: vec![file("a", 10), file("big", 3000), file("mid", 500)],
            left_out: Vec::new(),
        };
        assert!(check_size(&plan, 3510).is_ok());
        let err = check_size(&plan, 3509).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(
                "the package is 3.4 KiB (3510 bytes), over the limit of 3.4 KiB (3509 bytes); \
                 largest files: `big` (2.9 KiB), `mid` (500 B), `a` (10 B)\nhint: "
            ),
            "{message}"
        );
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(DEFAULT_MAX_UNPACKED_BYTES), "256.0 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
