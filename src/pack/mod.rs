//! Packing a package folder into a deterministic `.tar.gz`, with the leak guard.
//!
//! [`plan`] decides what goes in (file selection, size limit, leak guard) without writing
//! anything; [`write_tarball`] and [`write_tempfile`] turn a plan into the archive.

mod archive;
mod leak_guard;
mod parallel_gzip;
mod select;

use std::path::{Path, PathBuf};

pub use archive::{
    ARCHIVE_MTIME, FileDigest, TarballSummary, file_digest, write_tarball,
    write_tarball_with_threads, write_tempfile,
};
pub use leak_guard::{Encoding, Finding, Refusal, TokenMatch};
pub use select::{CHUKS_IGNORE_FILE, IgnoreFiles};

/// Default limit on the package's total file size, before compression.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;

/// What a package may hold: files the leak guard is told to let through, and a size limit.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Relative to the package folder.
    pub allow_files: Vec<PathBuf>,
    /// The most bytes the package's files may add up to.
    pub max_size: u64,
    pub ignore_files: IgnoreFiles,
}

/// How many of the largest files an oversize refusal names.
const LARGEST_SHOWN: usize = 5;

/// The files that go into a package, sorted by archive path.
#[derive(Debug, Clone)]
pub struct PackPlan {
    pub root: PathBuf,
    pub files: Vec<PackFile>,
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
    #[error("no `chuks.json` in the package folder `{}`\nhint: pack the folder that holds the manifest, or pass `--manifest PATH`", root.display())]
    NoManifest { root: PathBuf },

    #[error("cannot read the package folder `{}`: {source}\nhint: check that the folder exists and is readable", root.display())]
    Walk {
        root: PathBuf,
        source: ignore::Error,
    },

    #[error("cannot read `{}`: {source}\nhint: check the file's permissions, or exclude it in `.chuksignore`", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{}` is not valid UTF-8, and package paths must be\nhint: rename it, or exclude it in `.chuksignore`", path.display())]
    NonUtf8Path { path: PathBuf },

    #[error("`{path}` is a symlink to `{}`, outside the package folder\nhint: replace the link with a copy of the file, or exclude it in `.chuksignore`", target.display())]
    SymlinkOutside { path: String, target: PathBuf },

    #[error("`{path}` is a symlink to `{}`, which does not exist\nhint: remove the link, or exclude it in `.chuksignore`", target.display())]
    SymlinkDangling { path: String, target: PathBuf },

    #[error("`{path}` is a symlink to `{}`, which leads back to itself (a symlink loop)\nhint: fix or remove the link, or exclude it in `.chuksignore`", target.display())]
    SymlinkLoop { path: String, target: PathBuf },

    #[error(
        "`{path}` is a symlink to `{target}`, which is not packed itself (ignored or always left out)\nhint: replace the link with a copy of a file that belongs in the package, or exclude the link in `.chuksignore`"
    )]
    SymlinkToUnpacked { path: String, target: String },

    #[error(
        "`{path}` is a symlink to a folder; only symlinks to files are packed\nhint: replace the link with a copy of the folder, or exclude it in `.chuksignore`"
    )]
    SymlinkToFolder { path: String },

    #[error("the package is {} ({total} bytes), over the limit of {} ({limit} bytes); largest files: {}\nhint: exclude files you do not need in `.chuksignore`, or raise the limit with `--max-size BYTES`", human_bytes(*total), human_bytes(*limit), largest_list(largest))]
    TooLarge {
        total: u64,
        limit: u64,
        largest: Vec<(String, u64)>,
    },

    #[error("the leak guard refused {}:\n{}\nhint: remove the secrets (and rotate any that were committed), exclude the files in `.chuksignore`, or pass `--allow-file PATH` for a file that is safe to publish", files_count(refusals.len()), refusal_lines(refusals))]
    Leaks { refusals: Vec<Refusal> },

    #[error(
        "`{path}` changed size while it was being packed\nhint: run the command again when nothing is writing to the package folder"
    )]
    Changed { path: String },

    #[error(
        "cannot write the tarball: {source}\nhint: check that the output folder exists, is writable and has free space"
    )]
    Write { source: std::io::Error },
}

/// Selects the package's files under `root`, then applies the size limit and the leak guard.
/// `output`, where the tarball will be written, is left out if it lies inside `root`.
pub fn plan(root: &Path, limits: &Limits, output: Option<&Path>) -> Result<PackPlan, PackError> {
    let plan = PackPlan {
        root: root.to_path_buf(),
        files: select::select_files(root, output, limits.ignore_files)?,
    };
    check_size(&plan, limits.max_size)?;
    leak_guard::check(&plan.files, &limits.allow_files)?;
    Ok(plan)
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
        .map(|(path, size)| format!("`{path}` ({})", human_bytes(*size)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn files_count(count: usize) -> String {
    match count {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    }
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
