//! Reading a package's own `chuks.json` out of its uploaded `.tar.gz`, with bounds on what is
//! decompressed, so the server can check it against the `manifest` field before storing.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Component, Path};

/// The largest `chuks.json` read from a tarball.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// At most this many decompressed bytes are read looking for `chuks.json`.
const MAX_SCANNED_BYTES: u64 = 4 * 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("the tarball is not a readable `.tar.gz`: {0}")]
    Unreadable(String),
    #[error("the tarball has no `chuks.json` at its root")]
    NoManifest,
    #[error("the tarball's `chuks.json` is larger than {MAX_MANIFEST_BYTES} bytes")]
    ManifestTooLarge,
}

/// The bytes of the tarball's root `chuks.json`; the file is rewound before and after.
pub fn manifest_bytes(file: &mut File) -> Result<Vec<u8>, TarballError> {
    let unreadable = |err: std::io::Error| TarballError::Unreadable(err.to_string());
    file.rewind().map_err(unreadable)?;
    let found = find_manifest(file);
    file.rewind().map_err(unreadable)?;
    found
}

fn find_manifest(file: &File) -> Result<Vec<u8>, TarballError> {
    let unreadable = |err: std::io::Error| TarballError::Unreadable(err.to_string());
    let gzip = flate2::read::GzDecoder::new(BufReader::new(file));
    let mut archive = tar::Archive::new(gzip.take(MAX_SCANNED_BYTES));
    for entry in archive.entries().map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let at_root = is_root_manifest(&entry.path().map_err(unreadable)?);
        if !at_root || !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > MAX_MANIFEST_BYTES {
            return Err(TarballError::ManifestTooLarge);
        }
        let mut bytes = Vec::new();
        entry
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        return Ok(bytes);
    }
    Err(TarballError::NoManifest)
}

/// `chuks.json` or `./chuks.json`.
fn is_root_manifest(path: &Path) -> bool {
    let mut parts = path
        .components()
        .filter(|part| !matches!(part, Component::CurDir));
    parts.next() == Some(Component::Normal(crate::manifest::MANIFEST_FILE.as_ref()))
        && parts.next().is_none()
}
