//! Which files of a package folder go into the tarball.
//!
//! Rules, in order:
//! - `.git` (at any depth, folder or submodule file), `chuks_packages/` (installed dependencies,
//!   at any depth) and `target/` (build output, at the package root only, since a nested
//!   `target` folder may well be source) are never packed; nor is a folder holding
//!   [`REGISTRY_DATA_MARKER`] (a reference registry's data, with its token table), whatever
//!   its ignore files say. The registry data folders are reported; for the official CLI's
//!   selection (`.gitignore` only) they are walked like any folder, since that CLI packs for
//!   itself and what it would ship must be seen.
//! - `.gitignore` and `.chuksignore` files inside the package folder are honoured, with or
//!   without git. Ignore files above the package folder, `.git/info/exclude` and the user's
//!   global excludes are not, so the tarball depends only on the folder's contents.
//! - Hidden files are packed unless ignored, so that the leak guard sees `.env` and friends.
//! - `chuks.json` is always packed, even if ignored.
//! - The tarball being written is skipped when it lies inside the folder, so packing twice
//!   into the package folder gives the same result.
//! - A symlink to a file that is itself packed is stored as a regular file holding the target's
//!   contents (consumers need no symlink support). Other symlinks are refused: one pointing
//!   outside the folder, or at an ignored or always-excluded file (`.git/config`), would smuggle
//!   in what the rules above keep out.
//! - Other special files (sockets, FIFOs, devices) are skipped.

use std::fs::{self, Metadata};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ignore::{DirEntry, WalkBuilder};

use super::{PackError, PackFile};
use crate::manifest::MANIFEST_FILE;
use crate::untrusted::Untrusted;

/// The package-specific ignore file, with `.gitignore` syntax.
pub const CHUKS_IGNORE_FILE: &str = ".chuksignore";

pub use chuks_registry::REGISTRY_DATA_MARKER;

/// The files to pack, and the registry data folders found (archive paths).
#[derive(Debug)]
pub struct Selection {
    pub files: Vec<PackFile>,
    pub registry_data: Vec<String>,
}

/// Which ignore files decide what ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IgnoreFiles {
    /// `.gitignore` and `.chuksignore`: chuks-ci's own tarball.
    #[default]
    GitAndChuks,
    /// `.gitignore` only: what the official CLI reads when it packs the tarball itself.
    GitOnly,
}

/// Lists the files to pack under `root`, sorted by archive path (byte order), leaving out
/// `output`.
pub fn select_files(
    root: &Path,
    output: Option<&Path>,
    ignore_files: IgnoreFiles,
) -> Result<Selection, PackError> {
    let canonical_root = root.canonicalize().map_err(|err| PackError::Walk {
        root: root.to_path_buf(),
        source: err.into(),
    })?;
    let output = output.and_then(|output| path_inside(&canonical_root, output));
    let mut files = Vec::new();
    let mut links = Vec::new();
    let registry_data = Arc::new(Mutex::new(Vec::new()));
    for entry in walker(root, ignore_files, Arc::clone(&registry_data)).build() {
        let entry = entry.map_err(|source| PackError::Walk {
            root: root.to_path_buf(),
            source,
        })?;
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_file() || file_type.is_symlink() {
            let path = archive_path(root, entry.path())?;
            if output.as_ref() == Some(&path) {
                continue;
            }
            if file_type.is_symlink() {
                links.push(path.clone());
            }
            files.push(pack_file(&canonical_root, entry.path(), path)?);
        }
    }
    if !files.iter().any(|file| file.path == MANIFEST_FILE) {
        files.push(manifest_file(root, &canonical_root)?);
    }
    check_link_targets_are_packed(&canonical_root, &files, &links)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut registry_data =
        std::mem::take(&mut *registry_data.lock().unwrap_or_else(PoisonError::into_inner))
            .iter()
            .map(|folder: &PathBuf| archive_path(root, folder))
            .collect::<Result<Vec<_>, _>>()?;
    registry_data.sort();
    Ok(Selection {
        files,
        registry_data,
    })
}

/// The walk of `root`; the registry data folders it finds are added to `registry_data`, and
/// left out of chuks-ci's own selection.
fn walker(
    root: &Path,
    ignore_files: IgnoreFiles,
    registry_data: Arc<Mutex<Vec<PathBuf>>>,
) -> WalkBuilder {
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .git_ignore(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            if is_registry_data(entry) {
                registry_data
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(entry.path().to_path_buf());
                return ignore_files == IgnoreFiles::GitOnly;
            }
            !is_always_excluded(entry)
        });
    if ignore_files == IgnoreFiles::GitAndChuks {
        builder.add_custom_ignore_filename(CHUKS_IGNORE_FILE);
    }
    builder
}

fn is_always_excluded(entry: &DirEntry) -> bool {
    let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
    match entry.file_name().to_str() {
        Some(".git") => true,
        Some("chuks_packages") => is_dir,
        Some("target") => is_dir && entry.depth() == 1,
        _ => false,
    }
}

/// A folder below the root holding the registry's marker file.
fn is_registry_data(entry: &DirEntry) -> bool {
    entry.depth() > 0
        && entry.file_type().is_some_and(|t| t.is_dir())
        && fs::symlink_metadata(entry.path().join(REGISTRY_DATA_MARKER)).is_ok()
}

/// `chuks.json` when the ignore files excluded it: the registry needs it in every tarball.
fn manifest_file(root: &Path, canonical_root: &Path) -> Result<PackFile, PackError> {
    let manifest = root.join(MANIFEST_FILE);
    if !manifest.is_file() {
        return Err(PackError::NoManifest {
            root: root.to_path_buf(),
        });
    }
    pack_file(canonical_root, &manifest, MANIFEST_FILE.to_string())
}

/// The archive path `file` would have, if it lies inside the package folder.
fn path_inside(canonical_root: &Path, file: &Path) -> Option<String> {
    let parent = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let full = parent.canonicalize().ok()?.join(file.file_name()?);
    let relative = full.strip_prefix(canonical_root).ok()?;
    archive_path(Path::new(""), relative).ok()
}

/// The relative, `/`-separated UTF-8 path of `full` inside the archive.
fn archive_path(root: &Path, full: &Path) -> Result<String, PackError> {
    let relative = full.strip_prefix(root).unwrap_or(full);
    let mut parts = Vec::new();
    for component in relative.components() {
        if let Component::Normal(part) = component {
            let part = part.to_str().ok_or_else(|| PackError::NonUtf8Path {
                path: full.to_path_buf(),
            })?;
            parts.push(part);
        }
    }
    Ok(parts.join("/"))
}

fn pack_file(canonical_root: &Path, full: &Path, path: String) -> Result<PackFile, PackError> {
    let link = fs::symlink_metadata(full).map_err(|source| read_error(full, source))?;
    let source = if link.file_type().is_symlink() {
        resolve_symlink(canonical_root, full, &path)?
    } else {
        full.to_path_buf()
    };
    let metadata = fs::metadata(&source).map_err(|source_err| read_error(&source, source_err))?;
    if metadata.is_dir() {
        return Err(PackError::SymlinkToFolder { path: path.into() });
    }
    Ok(PackFile {
        path,
        size: metadata.len(),
        executable: is_executable(&metadata),
        source,
    })
}

/// Every symlink must point at a file that is packed in its own right.
fn check_link_targets_are_packed(
    canonical_root: &Path,
    files: &[PackFile],
    links: &[String],
) -> Result<(), PackError> {
    // The walk does not follow links, so a regular file's canonical path is root + its path.
    let packed: std::collections::HashSet<PathBuf> = files
        .iter()
        .filter(|file| !links.contains(&file.path))
        .map(|file| canonical_root.join(&file.path))
        .collect();
    for file in files.iter().filter(|file| links.contains(&file.path)) {
        if !packed.contains(&file.source) {
            let target = file
                .source
                .strip_prefix(canonical_root)
                .unwrap_or(&file.source);
            return Err(PackError::SymlinkToUnpacked {
                path: Untrusted::new(file.path.as_str()),
                target: Untrusted::path(target),
            });
        }
    }
    Ok(())
}

/// The canonical file a symlink points to, if it stays inside the package folder.
fn resolve_symlink(canonical_root: &Path, link: &Path, path: &str) -> Result<PathBuf, PackError> {
    let written = fs::read_link(link).map_err(|source| read_error(link, source))?;
    let target = match link.canonicalize() {
        Ok(target) => target,
        Err(err) if is_symlink_loop(&err) => {
            return Err(PackError::SymlinkLoop {
                path: path.into(),
                target: written,
            });
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(PackError::SymlinkDangling {
                path: path.into(),
                target: written,
            });
        }
        Err(err) => return Err(read_error(link, err)),
    };
    if !target.starts_with(canonical_root) {
        return Err(PackError::SymlinkOutside {
            path: path.into(),
            target: written,
        });
    }
    Ok(target)
}

/// Whether resolving failed because links point at each other (`ELOOP`).
fn is_symlink_loop(err: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        err.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

fn read_error(path: &Path, source: std::io::Error) -> PackError {
    PackError::Read {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn is_executable(metadata: &Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, contents: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, contents).unwrap();
    }

    fn selected(root: &Path) -> Vec<String> {
        select_files(root, None, IgnoreFiles::default())
            .unwrap()
            .files
            .into_iter()
            .map(|file| file.path)
            .collect()
    }

    /// A folder holding `paths`, each file holding `x`.
    fn tree(paths: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for path in paths {
            write(dir.path(), path, "x");
        }
        dir
    }

    #[test]
    fn applies_the_fixed_exclusions() {
        let dir = tree(&[
            "chuks.json",
            ".git/config",
            "target/out.bin",
            "chuks_packages/dep/a.chuks",
            "src/target/codegen.chuks",
            "src/chuks_packages/x.chuks",
            "vendor/.git",
            "target.chuks",
            ".env",
        ]);
        assert_eq!(
            selected(dir.path()),
            [
                ".env",
                "chuks.json",
                "src/target/codegen.chuks",
                "target.chuks"
            ]
        );
    }

    #[test]
    fn a_registry_data_folder_is_left_out_and_reported() {
        let dir = tree(&[
            "chuks.json",
            "src/a.chuks",
            "registry-data/.chuks-registry-data",
            "registry-data/registry.sqlite3",
            "registry-data/registry.sqlite3-wal",
            "deep/rehearsal/.chuks-registry-data",
            "deep/rehearsal/registry.sqlite3",
            "deep/other.chuks",
        ]);
        let selection = select_files(dir.path(), None, IgnoreFiles::default()).unwrap();
        let paths: Vec<_> = selection.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["chuks.json", "deep/other.chuks", "src/a.chuks"]);
        assert_eq!(selection.registry_data, ["deep/rehearsal", "registry-data"]);
    }

    #[test]
    fn sorts_by_bytes_and_adds_an_ignored_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in ["b", "B", "a/z", "a-b", "chuks.json"] {
            write(root, path, "x");
        }
        write(root, ".gitignore", "chuks.json\n");
        assert_eq!(
            selected(root),
            [".gitignore", "B", "a-b", "a/z", "b", "chuks.json"]
        );
    }

    #[test]
    fn skips_the_output_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in ["chuks.json", "out/pkg-1.0.0.tgz", "pkg-1.0.0.tgz"] {
            write(root, path, "x");
        }
        let files = select_files(
            root,
            Some(&root.join("out/./pkg-1.0.0.tgz")),
            IgnoreFiles::default(),
        )
        .unwrap();
        let paths: Vec<_> = files.files.into_iter().map(|file| file.path).collect();
        assert_eq!(paths, ["chuks.json", "pkg-1.0.0.tgz"]);
    }

    #[test]
    fn refuses_a_folder_without_manifest() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.chuks", "x");
        assert!(matches!(
            select_files(dir.path(), None, IgnoreFiles::default()),
            Err(PackError::NoManifest { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_non_utf8_names() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "chuks.json", "{}");
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
        fs::write(dir.path().join(name), "x").unwrap();
        assert!(matches!(
            select_files(dir.path(), None, IgnoreFiles::default()),
            Err(PackError::NonUtf8Path { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn resolves_symlinks_inside_the_root_and_refuses_the_rest() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pkg");
        write(&root, "chuks.json", "{}");
        write(&root, "real/data.txt", "hello");
        symlink("real/data.txt", root.join("link.txt")).unwrap();
        let files = select_files(&root, None, IgnoreFiles::default())
            .unwrap()
            .files;
        let link = files.iter().find(|f| f.path == "link.txt").unwrap();
        assert_eq!(link.size, 5);
        assert!(link.source.ends_with("real/data.txt"));

        symlink("real", root.join("folder-link")).unwrap();
        assert!(matches!(
            select_files(&root, None, IgnoreFiles::default()),
            Err(PackError::SymlinkToFolder { path }) if path == "folder-link"
        ));
        fs::remove_file(root.join("folder-link")).unwrap();

        symlink("missing", root.join("dangling")).unwrap();
        assert!(matches!(
            select_files(&root, None, IgnoreFiles::default()),
            Err(PackError::SymlinkDangling { path, .. }) if path == "dangling"
        ));
        fs::remove_file(root.join("dangling")).unwrap();

        write(dir.path(), "outside.txt", "secret");
        symlink("../outside.txt", root.join("escape")).unwrap();
        assert!(matches!(
            select_files(&root, None, IgnoreFiles::default()),
            Err(PackError::SymlinkOutside { path, .. }) if path == "escape"
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_links_to_files_the_rules_leave_out() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "chuks.json", "{}");
        write(
            root,
            ".git/config",
            "[http] extraheader = AUTHORIZATION: basic c2VjcmV0",
        );
        write(root, "secrets/key.txt", "hidden");
        write(root, ".chuksignore", "secrets/\n");
        for (link, target) in [
            ("src/cfg", "../.git/config"),
            ("src/key", "../secrets/key.txt"),
        ] {
            fs::create_dir_all(root.join("src")).unwrap();
            symlink(target, root.join(link)).unwrap();
            assert!(
                matches!(select_files(root, None, IgnoreFiles::default()), Err(PackError::SymlinkToUnpacked { ref path, .. }) if path == link),
                "{link}"
            );
            fs::remove_file(root.join(link)).unwrap();
        }
    }
}
