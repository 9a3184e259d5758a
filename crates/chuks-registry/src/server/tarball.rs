//! Vetting an uploaded `.tar.gz` as a consumer would unpack it, in one streamed pass: every
//! member's path and type, its links, duplicates, and the unpacked size, then the root
//! `chuks.json` for the server to check against the `manifest` field.
//!
//! The archive is read the way extractors read it: every gzip member (as `gunzip` does), GNU
//! long names and pax `path`/`linkpath` records applied to the member they describe, and nothing
//! but zero padding allowed after the end-of-archive block, so no extractor sees a member this
//! check did not. Memory stays bounded: extension headers are capped, and each member leaves
//! only a 16-byte digest of its path behind.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};

use sha2::{Digest, Sha256};

use crate::untrusted::Untrusted;

/// The largest `chuks.json` read from a tarball.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Most members (files, folders, links) a tarball may hold.
pub const MAX_MEMBERS: usize = 100_000;

/// The largest GNU long-name or pax header: paths and link targets, not contents.
const MAX_EXTENSION_BYTES: u64 = 64 * 1024;

/// How much of a refused path an error quotes.
const QUOTED_PATH_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("the tarball is not a readable `.tar.gz`: {0}")]
    Unreadable(String),
    #[error("the tarball has no `chuks.json` file at its root")]
    NoManifest,
    #[error("the tarball's `chuks.json` is larger than {MAX_MANIFEST_BYTES} bytes")]
    ManifestTooLarge,
    #[error("the tarball holds data after its end-of-archive block")]
    TrailingData,
    #[error("the tarball unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the tarball holds more than {MAX_MEMBERS} members")]
    TooManyMembers,
    #[error(
        "the tarball holds `{path}` more than once (names that differ only in letter case or trailing dots are one file on macOS and Windows)"
    )]
    Duplicate { path: Untrusted },
    #[error("the tarball's member `{path}` {reason}")]
    Unsafe { path: Untrusted, reason: String },
}

/// Reads the whole archive, refusing anything an extractor could be hurt by, and returns the
/// bytes of its root `chuks.json`; the file is rewound before and after.
pub fn inspect(file: &mut File, max_unpacked_bytes: u64) -> Result<Vec<u8>, TarballError> {
    file.rewind().map_err(unreadable)?;
    let gzip = flate2::read::MultiGzDecoder::new(BufReader::new(&*file));
    let mut stream = Unpacked::new(gzip, max_unpacked_bytes);
    let found = scan(&mut stream);
    let over_limit = stream.over_limit;
    file.rewind().map_err(unreadable)?;
    if over_limit {
        return Err(TarballError::TooLarge {
            limit: max_unpacked_bytes,
        });
    }
    found
}

fn unreadable(err: io::Error) -> TarballError {
    TarballError::Unreadable(err.to_string())
}

/// The decompressed stream, failing once it passes the unpacked-size limit.
struct Unpacked<R> {
    inner: R,
    read: u64,
    limit: u64,
    over_limit: bool,
}

impl<R> Unpacked<R> {
    fn new(inner: R, limit: u64) -> Self {
        Unpacked {
            inner,
            read: 0,
            limit,
            over_limit: false,
        }
    }
}

impl<R: Read> Read for Unpacked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.read += count as u64;
        if self.read > self.limit {
            self.over_limit = true;
            return Err(io::Error::other("the unpacked-size limit was crossed"));
        }
        Ok(count)
    }
}

/// Extension headers seen since the last member, to apply to the next one.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

fn scan<R: Read>(stream: &mut Unpacked<R>) -> Result<Vec<u8>, TarballError> {
    let mut archive = tar::Archive::new(&mut *stream);
    let mut members = Members::default();
    let mut pending = Pending::default();
    let mut manifest = None;
    // Raw entries: the long-name and pax headers are applied here, each read within a bound.
    for entry in archive.entries().map_err(unreadable)?.raw(true) {
        let mut entry = entry.map_err(unreadable)?;
        let kind = entry.header().entry_type();
        if kind.is_gnu_longname() {
            set_once(&mut pending.long_name, extension(&mut entry)?)?;
        } else if kind.is_gnu_longlink() {
            set_once(&mut pending.long_link, extension(&mut entry)?)?;
        } else if kind.is_pax_local_extensions() {
            set_once(&mut pending.pax, extension(&mut entry)?)?;
        } else if kind.is_pax_global_extensions() {
            let records = PaxRecords::parse(&extension(&mut entry)?)?;
            if records.path.is_some() || records.link.is_some() || records.size.is_some() {
                return Err(TarballError::Unreadable(
                    "a global pax header sets a path, link or size".into(),
                ));
            }
        } else {
            let member = Member::read(entry.header(), std::mem::take(&mut pending))?;
            members.admit(&member)?;
            if member.path == crate::manifest::MANIFEST_FILE && member.kind.is_file() {
                manifest = Some(read_manifest(&mut entry)?);
            }
        }
    }
    if pending.long_name.is_some() || pending.long_link.is_some() || pending.pax.is_some() {
        return Err(TarballError::Unreadable(
            "the archive ends with a header describing a member that is not there".into(),
        ));
    }
    only_padding_follows(archive.into_inner())?;
    manifest.ok_or(TarballError::NoManifest)
}

fn set_once(slot: &mut Option<Vec<u8>>, value: Vec<u8>) -> Result<(), TarballError> {
    if slot.replace(value).is_some() {
        return Err(TarballError::Unreadable(
            "two extension headers of one kind describe the same member".into(),
        ));
    }
    Ok(())
}

/// A long-name or pax header's data, refused past its bound before it is read.
fn extension<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<u8>, TarballError> {
    let size = entry.size();
    if size > MAX_EXTENSION_BYTES {
        return Err(TarballError::Unreadable(format!(
            "a long-name or pax header of {size} bytes, over the limit of {MAX_EXTENSION_BYTES}"
        )));
    }
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(unreadable)?;
    Ok(bytes)
}

fn read_manifest<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<u8>, TarballError> {
    if entry.size() > MAX_MANIFEST_BYTES {
        return Err(TarballError::ManifestTooLarge);
    }
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(unreadable)?;
    Ok(bytes)
}

/// After the end-of-archive block only zeros may follow, or a second archive could hide there.
fn only_padding_follows(rest: &mut impl Read) -> Result<(), TarballError> {
    let mut buffer = [0u8; 8192];
    loop {
        let count = rest.read(&mut buffer).map_err(unreadable)?;
        if count == 0 {
            return Ok(());
        }
        if buffer[..count].iter().any(|byte| *byte != 0) {
            return Err(TarballError::TrailingData);
        }
    }
}

/// The `path`, `linkpath` and `size` records of a pax header.
#[derive(Default)]
struct PaxRecords {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
}

impl PaxRecords {
    fn parse(data: &[u8]) -> Result<PaxRecords, TarballError> {
        let malformed = || TarballError::Unreadable("a pax header is malformed".into());
        let mut records = PaxRecords::default();
        for record in tar::PaxExtensions::new(data) {
            let record = record.map_err(|_| malformed())?;
            match record.key_bytes() {
                b"path" => records.path = Some(record.value_bytes().to_vec()),
                b"linkpath" => records.link = Some(record.value_bytes().to_vec()),
                b"size" => {
                    let size = record.value().ok().and_then(|v| v.parse().ok());
                    records.size = Some(size.ok_or_else(malformed)?);
                }
                key if key.starts_with(b"GNU.sparse.") => {
                    return Err(TarballError::Unreadable(
                        "a sparse member (GNU pax sparse format) is not supported".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(records)
    }
}

/// What a member is to an extractor: its kind, normalised path and link target.
struct Member {
    kind: tar::EntryType,
    /// `/`-separated, without `.` components or a trailing `/`; empty for the root folder.
    path: String,
    link: Option<String>,
}

impl Member {
    /// Applies the extension headers the way extractors do: pax records first, then GNU long
    /// names, then the header's own fields.
    fn read(header: &tar::Header, pending: Pending) -> Result<Member, TarballError> {
        let pax = match &pending.pax {
            Some(data) => PaxRecords::parse(data)?,
            None => PaxRecords::default(),
        };
        let header_size = header.entry_size().map_err(unreadable)?;
        if pax.size.is_some_and(|size| size != header_size) {
            return Err(TarballError::Unreadable(
                "a pax `size` record disagrees with its member's header".into(),
            ));
        }
        let raw_path = pax
            .path
            .or(pending.long_name.map(trim_nuls))
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let raw_link = pax
            .link
            .or(pending.long_link.map(trim_nuls))
            .or_else(|| header.link_name_bytes().map(|name| name.into_owned()));
        let raw = String::from_utf8_lossy(&raw_path).into_owned();
        let refuse = |reason: &str| TarballError::Unsafe {
            path: Untrusted::from(raw.clone()).truncated(QUOTED_PATH_CHARS),
            reason: reason.to_string(),
        };
        let kind = header.entry_type();
        let text = std::str::from_utf8(&raw_path).map_err(|_| refuse("is not UTF-8"))?;
        let path = normalise(text).map_err(refuse)?;
        if path.is_empty() && !kind.is_dir() {
            return Err(refuse("has an empty path"));
        }
        refuse_kind(kind).map_err(refuse)?;
        let link = match (kind.is_symlink() || kind.is_hard_link(), raw_link) {
            (false, _) => None,
            (true, None) => return Err(refuse("is a link without a target")),
            (true, Some(target)) => Some(
                String::from_utf8(target)
                    .map_err(|_| refuse("is a link whose target is not UTF-8"))?,
            ),
        };
        Ok(Member { kind, path, link })
    }

    fn is_symlink(&self) -> bool {
        self.kind.is_symlink()
    }
}

/// GNU long names end with a NUL (sometimes several).
fn trim_nuls(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// Files, folders and links unpack into the package's folder; devices, FIFOs, sparse files and
/// unknown kinds are refused.
fn refuse_kind(kind: tar::EntryType) -> Result<(), &'static str> {
    if kind.is_file() || kind.is_contiguous() || kind.is_dir() {
        return Ok(());
    }
    if kind.is_symlink() || kind.is_hard_link() {
        return Ok(());
    }
    Err(if kind.is_character_special() || kind.is_block_special() {
        "is a device file"
    } else if kind.is_fifo() {
        "is a FIFO"
    } else if kind.is_gnu_sparse() {
        "is a sparse file, which is not supported"
    } else {
        "has a member type that is not supported"
    })
}

/// The path without `.` components and repeated or trailing `/`; refused when an extractor on
/// some system would write it outside the folder it unpacks into.
fn normalise(path: &str) -> Result<String, &'static str> {
    check_characters(path)?;
    if path.starts_with('/') {
        return Err("is an absolute path");
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err("climbs out of the package folder (`..`)");
    }
    Ok(parts.join("/"))
}

/// Characters that mean something else to some extractor: `\` is a separator and `:` a drive
/// or stream separator on Windows; control characters (NUL among them) cut or split a name.
fn check_characters(text: &str) -> Result<(), &'static str> {
    if text.contains('\\') {
        return Err("holds `\\`, a folder separator on Windows");
    }
    if text.contains(':') {
        return Err("holds `:`, a drive or stream separator on Windows");
    }
    if text.chars().any(char::is_control) {
        return Err("holds control characters");
    }
    Ok(())
}

/// A symlink's target must stay inside the package: relative, with `..` only at its start and
/// no more of them than the link is deep. (A `..` after a name could climb out of a folder that
/// is itself a symlink.)
fn check_symlink_target(link_path: &str, target: &str) -> Result<(), &'static str> {
    const OUTSIDE: &str = "is a symlink pointing outside the package";
    check_characters(target)?;
    if target.is_empty() {
        return Err("is a symlink with an empty target");
    }
    if target.starts_with('/') {
        return Err(OUTSIDE);
    }
    let depth = link_path.matches('/').count();
    let mut climbs = 0;
    let mut named = false;
    for part in target
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
    {
        match part {
            ".." if named => return Err("is a symlink whose target has `..` after a name"),
            ".." => climbs += 1,
            _ => named = true,
        }
    }
    if climbs > depth {
        return Err(OUTSIDE);
    }
    Ok(())
}

/// What the members seen so far leave behind: a digest of each path, not the path.
#[derive(Default)]
struct Members {
    count: usize,
    paths: HashSet<u128>,
    files: HashSet<u128>,
    symlinks: HashSet<u128>,
}

impl Members {
    fn admit(&mut self, member: &Member) -> Result<(), TarballError> {
        self.count += 1;
        if self.count > MAX_MEMBERS {
            return Err(TarballError::TooManyMembers);
        }
        let refuse = |reason: &str| TarballError::Unsafe {
            path: Untrusted::from(member.path.as_str()).truncated(QUOTED_PATH_CHARS),
            reason: reason.to_string(),
        };
        if member.path.is_empty() {
            // The root folder (`./`) is where the package unpacks; it names nothing new.
            return Ok(());
        }
        self.check_not_through_symlink(&member.path)
            .map_err(|reason| refuse(&reason))?;
        match (&member.link, member.kind.is_hard_link()) {
            (Some(target), true) => self.check_hard_link(target).map_err(refuse)?,
            (Some(target), false) => check_symlink_target(&member.path, target).map_err(refuse)?,
            (None, _) => {}
        }
        let key = path_key(&member.path);
        if !self.paths.insert(key) {
            return Err(TarballError::Duplicate {
                path: Untrusted::from(member.path.as_str()).truncated(QUOTED_PATH_CHARS),
            });
        }
        if member.is_symlink() {
            self.symlinks.insert(key);
        } else if member.kind.is_file() || member.kind.is_contiguous() {
            self.files.insert(key);
        }
        Ok(())
    }

    /// An extractor would write a member below an earlier symlink wherever that link points.
    fn check_not_through_symlink(&self, path: &str) -> Result<(), String> {
        if self.symlinks.is_empty() {
            return Ok(());
        }
        for (at, _) in path.match_indices('/') {
            let folder = &path[..at];
            if self.symlinks.contains(&path_key(folder)) {
                return Err(format!(
                    "is inside `{}`, which is a symlink",
                    Untrusted::from(folder).truncated(QUOTED_PATH_CHARS)
                ));
            }
        }
        Ok(())
    }

    /// A hard link must name a regular file that came before it in the archive.
    fn check_hard_link(&self, target: &str) -> Result<(), &'static str> {
        let target =
            normalise(target).map_err(|_| "is a hard link pointing outside the package")?;
        if self.files.contains(&path_key(&target)) {
            Ok(())
        } else {
            Err("is a hard link to something that is not an earlier file of the archive")
        }
    }
}

/// A digest of the path as macOS and Windows compare names: letter case ignored, and on
/// Windows trailing dots and spaces of each name too.
fn path_key(path: &str) -> u128 {
    let folded: Vec<String> = path
        .split('/')
        .map(|part| part.to_lowercase().trim_end_matches(['.', ' ']).to_string())
        .collect();
    let digest = Sha256::digest(folded.join("/").as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(key)
}
