//! Writing a plan as a byte-for-byte reproducible `.tar.gz`, streamed and hashed as it goes.
//!
//! Reproducibility: entries in plan order (sorted by path bytes), regular-file entries only (no
//! directory entries), GNU headers (long paths use the GNU long-name extension), mtime fixed at
//! [`ARCHIVE_MTIME`], uid/gid 0 with empty owner names, mode 0o755 for files with any exec bit
//! and 0o644 otherwise. The gzip header has no file name, mtime 0 and OS byte 255 ("unknown");
//! compression level 6, on all cores in fixed-size chunks (see [`super::parallel_gzip`]), so the
//! bytes are the same whatever the number of threads.
//!
//! Those fixed choices are also how a tarball chuks-ci wrote is recognised
//! ([`is_own_tarball`]), so that packing never ships one: an added marker would change the
//! bytes of every package, and with them the result of re-publishing a version.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use flate2::Compression;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::parallel_gzip::{GZIP_HEADER, ParallelGzip, default_threads};
use super::{PackError, PackFile, PackPlan};
use crate::untrusted::Untrusted;

/// The mtime of every entry: 2000-01-01T00:00:00Z. Not 0, which some tools warn about.
pub const ARCHIVE_MTIME: u64 = 946_684_800;

const GZIP_LEVEL: u32 = 6;
#[cfg(test)]
const GZIP_OS_UNKNOWN: u8 = 255;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarballSummary {
    /// Lowercase hex sha256 of the compressed tarball.
    pub sha256: String,
    /// Bytes of the compressed tarball.
    pub size: u64,
    pub file_count: usize,
    /// Total bytes of the files before archiving.
    pub unpacked_size: u64,
    /// Every file, in archive order.
    pub files: Vec<FileDigest>,
}

/// One archived file and the sha256 of its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub path: Untrusted,
    pub size: u64,
    pub sha256: String,
}

/// Streams the tarball for `plan` into `out`, hashing both the files and the output, with one
/// compression thread per core.
pub fn write_tarball(plan: &PackPlan, out: impl Write) -> Result<TarballSummary, PackError> {
    write_tarball_with_threads(plan, out, default_threads())
}

/// [`write_tarball`] with `threads` compression threads; the output is the same for any number.
pub fn write_tarball_with_threads(
    plan: &PackPlan,
    out: impl Write,
    threads: usize,
) -> Result<TarballSummary, PackError> {
    let write_error = |source| PackError::Write { source };
    let gzip = ParallelGzip::new(Hashing::new(out), Compression::new(GZIP_LEVEL), threads)
        .map_err(write_error)?;
    let mut tar = tar::Builder::new(gzip);
    let mut files = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        files.push(append_file(&mut tar, file)?);
    }
    let gzip = tar.into_inner().map_err(write_error)?;
    let mut hashed = gzip.finish().map_err(write_error)?;
    hashed.inner.flush().map_err(write_error)?;
    Ok(TarballSummary {
        sha256: hex(hashed.hasher.finalize()),
        size: hashed.bytes,
        file_count: files.len(),
        unpacked_size: plan.unpacked_size(),
        files,
    })
}

/// Writes the tarball to a new temporary file in `dir`, removed when dropped unless persisted.
pub fn write_tempfile(
    plan: &PackPlan,
    dir: &Path,
) -> Result<(NamedTempFile, TarballSummary), PackError> {
    let mut temp = NamedTempFile::new_in(dir).map_err(|source| PackError::Write { source })?;
    let summary = write_tarball(plan, temp.as_file_mut())?;
    Ok((temp, summary))
}

fn append_file(
    tar: &mut tar::Builder<impl Write>,
    file: &PackFile,
) -> Result<FileDigest, PackError> {
    let contents = File::open(&file.source).map_err(|source| PackError::Read {
        path: file.source.clone(),
        source,
    })?;
    // `take` keeps the entry consistent with its header if the file grew since planning.
    let mut reader = Hashing::new(contents.take(file.size));
    tar.append_data(&mut header(file), &file.path, &mut reader)
        .map_err(|source| PackError::Read {
            path: file.source.clone(),
            source,
        })?;
    if reader.bytes != file.size {
        return Err(PackError::Changed {
            path: Untrusted::new(file.path.as_str()),
        });
    }
    Ok(FileDigest {
        path: Untrusted::new(file.path.as_str()),
        size: file.size,
        sha256: hex(reader.hasher.finalize()),
    })
}

/// The sha256 (hex) and size of a file, read once in a stream.
pub fn file_digest(path: &Path) -> io::Result<(String, u64)> {
    let mut reader = Hashing::new(File::open(path)?);
    io::copy(&mut reader, &mut io::sink())?;
    Ok((hex(reader.hasher.finalize()), reader.bytes))
}

fn header(file: &PackFile) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(file.size);
    header.set_mode(if file.executable { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(ARCHIVE_MTIME);
    header
}

/// Decompressed bytes read to find the first entry: its header, and a long name before it.
const OWN_TARBALL_PROBE: u64 = 64 * 1024;

/// Whether the file at `path` is a tarball chuks-ci wrote: the gzip header chuks-ci writes,
/// then a first entry with the header [`header`] makes (GNU format, regular file, mtime
/// [`ARCHIVE_MTIME`], uid and gid 0, empty owner names, mode 0644 or 0755). Any other tool
/// differs in at least one of these (GNU tar and `gzip -n`: the OS byte and the owners).
pub fn is_own_tarball(path: &Path) -> io::Result<bool> {
    let mut file = File::open(path)?;
    let mut gzip_header = [0; GZIP_HEADER.len()];
    if file.read_exact(&mut gzip_header).is_err() || gzip_header != GZIP_HEADER {
        return Ok(false);
    }
    let decoded = flate2::read::GzDecoder::new(Read::chain(&GZIP_HEADER[..], file));
    let mut archive = tar::Archive::new(decoded.take(OWN_TARBALL_PROBE));
    let first = archive
        .entries()
        .ok()
        .and_then(|mut entries| entries.next());
    let Some(Ok(entry)) = first else {
        return Ok(false);
    };
    let header = entry.header();
    Ok(header.as_gnu().is_some()
        && header.entry_type() == tar::EntryType::Regular
        && header.mtime().ok() == Some(ARCHIVE_MTIME)
        && header.uid().ok() == Some(0)
        && header.gid().ok() == Some(0)
        && header.username_bytes() == Some(b"")
        && header.groupname_bytes() == Some(b"")
        && matches!(header.mode(), Ok(0o644 | 0o755)))
}

/// Passes bytes through to or from `inner`, counting and hashing them.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    fn record(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.record(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.record(&buf[..read]);
        Ok(read)
    }
}

fn hex(digest: impl AsRef<[u8]>) -> String {
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use flate2::read::GzDecoder;

    use super::*;

    fn plan_for(dir: &Path, files: &[(&str, &str, bool)]) -> PackPlan {
        let files = files
            .iter()
            .map(|(path, contents, executable)| {
                let source = dir.join(path.replace('/', "_"));
                std::fs::write(&source, contents).unwrap();
                PackFile {
                    path: path.to_string(),
                    source,
                    size: contents.len() as u64,
                    executable: *executable,
                }
            })
            .collect();
        PackPlan {
            root: PathBuf::from(dir),
            files,
            left_out: Vec::new(),
        }
    }

    #[test]
    fn headers_are_normalised_and_long_paths_survive() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/file.chuks", "deep".repeat(40));
        let plan = plan_for(
            dir.path(),
            &[("bin/run", "#!/bin/sh\n", true), (&long, "x", false)],
        );
        let mut bytes = Vec::new();
        let summary = write_tarball(&plan, &mut bytes).unwrap();

        assert_eq!(summary.size, bytes.len() as u64);
        assert_eq!(summary.sha256, hex(Sha256::digest(&bytes)));
        assert_eq!((summary.file_count, summary.unpacked_size), (2, 11));
        assert_eq!(summary.files[0].sha256, hex(Sha256::digest(b"#!/bin/sh\n")));
        // gzip header: no flags (no name), mtime 0, OS byte 255.
        assert_eq!(&bytes[3..8], &[0, 0, 0, 0, 0]);
        assert_eq!(bytes[9], GZIP_OS_UNKNOWN);

        let mut archive = tar::Archive::new(GzDecoder::new(&bytes[..]));
        let entries: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    header.username().unwrap().map(str::to_string),
                )
            })
            .collect();
        let owner = Some(String::new());
        assert_eq!(
            entries,
            [
                ("bin/run".into(), 0o755, ARCHIVE_MTIME, 0, 0, owner.clone()),
                (long, 0o644, ARCHIVE_MTIME, 0, 0, owner),
            ]
        );
    }

    #[test]
    fn our_tarballs_are_recognised_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/file.chuks", "deep".repeat(40));
        for first in ["chuks.json", long.as_str()] {
            let plan = plan_for(dir.path(), &[(first, "{}", false), ("z", "x", true)]);
            let ours = dir.path().join("ours.tgz");
            write_tarball(&plan, File::create(&ours).unwrap()).unwrap();
            assert!(is_own_tarball(&ours).unwrap(), "{first}");
        }

        // The same entries from another writer: another mtime, or owner names, or gzip header.
        let other = |mtime: u64, owner: &str, os: u8| {
            let mut header = tar::Header::new_gnu();
            header.set_size(2);
            header.set_mode(0o644);
            header.set_mtime(mtime);
            header.set_uid(0);
            header.set_gid(0);
            header.set_username(owner).unwrap();
            let gzip = flate2::GzBuilder::new()
                .operating_system(os)
                .write(Vec::new(), Compression::new(GZIP_LEVEL));
            let mut tar = tar::Builder::new(gzip);
            tar.append_data(&mut header, "chuks.json", &b"{}"[..])
                .unwrap();
            let bytes = tar.into_inner().unwrap().finish().unwrap();
            let path = dir.path().join("other.tgz");
            std::fs::write(&path, bytes).unwrap();
            is_own_tarball(&path).unwrap()
        };
        assert!(other(ARCHIVE_MTIME, "", GZIP_OS_UNKNOWN));
        assert!(!other(ARCHIVE_MTIME + 1, "", GZIP_OS_UNKNOWN));
        assert!(!other(ARCHIVE_MTIME, "root", GZIP_OS_UNKNOWN));
        assert!(!other(ARCHIVE_MTIME, "", 3));

        let text = dir.path().join("notes.tgz");
        std::fs::write(&text, "not a tarball").unwrap();
        assert!(!is_own_tarball(&text).unwrap());
        let mut truncated = GZIP_HEADER.to_vec();
        truncated.extend_from_slice(b"garbage");
        std::fs::write(&text, truncated).unwrap();
        assert!(!is_own_tarball(&text).unwrap());
    }

    #[test]
    fn a_file_that_shrank_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = plan_for(dir.path(), &[("a", "abc", false)]);
        plan.files[0].size = 10;
        assert!(matches!(
            write_tarball(&plan, Vec::new()),
            Err(PackError::Changed { path }) if path == "a"
        ));
    }
}
