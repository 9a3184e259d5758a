//! Looking inside compressed files and archives for the leak guard: gzip (a `.tar.gz`
//! included), zip (stored or deflate) and tar (ustar, GNU, or pre-ustar v7 by its header
//! checksum), recognised by their first bytes whatever the file is called, nested up to
//! [`Limits::max_depth`] archives deep. A packed file that does not start as a zip is also
//! looked into as one when a zip's end record closes it: a zip appended to a script or an
//! image (self-extracting installers, polyglots).
//!
//! Decompression is bounded so that a decompression bomb is refused, never unpacked: all the
//! archives of a package together may decompress to at most [`Limits::total_decompressed`]
//! bytes, and once a stream has produced [`Limits::ratio_floor`] bytes it may not have
//! produced more than [`Limits::max_ratio`] times the compressed bytes it consumed. An archive
//! that cannot be read (corrupt, encrypted, another compression method) is refused too: the
//! leak guard fails closed.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::content::{self, ContentMatch};
use super::{Finding, database_kind, name_finding};
use crate::pack::human_bytes;

/// How far decompression may go.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub total_decompressed: u64,
    pub max_ratio: u64,
    pub ratio_floor: u64,
    pub max_depth: usize,
    /// A zip inside another archive is read into memory (zip needs to seek), up to this size.
    pub nested_zip: u64,
}

pub const DEFAULT_LIMITS: Limits = Limits {
    total_decompressed: 256 * 1024 * 1024,
    max_ratio: 100,
    ratio_floor: 1024 * 1024,
    max_depth: 4,
    nested_zip: 16 * 1024 * 1024,
};

/// The first bytes read to recognise a format (tar's header is 512 bytes).
const HEAD_LEN: usize = 512;

/// A zip's end-of-central-directory record: its signature, and its length before the comment.
const ZIP_END: &[u8] = b"PK\x05\x06";
const ZIP_END_LEN: usize = 22;

/// Bytes from a file's end within which a zip's end record starts (its comment is at most
/// 65,535 bytes).
const ZIP_END_REACH: u64 = (ZIP_END_LEN + u16::MAX as usize) as u64;

/// A finding inside one packed file: the archive members leading to it, outermost first
/// (empty for the file itself).
#[derive(Debug)]
pub struct Located {
    pub members: Vec<String>,
    pub finding: Finding,
}

impl Located {
    fn here(finding: Finding) -> Located {
        Located {
            members: Vec::new(),
            finding,
        }
    }

    fn inside(mut self, member: String) -> Located {
        self.members.insert(0, member);
        self
    }
}

/// Inspects the files of one package, sharing one decompression budget among them (and among
/// the threads inspecting them).
pub struct Inspector {
    limits: Limits,
    remaining: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Gzip,
    Zip,
    Tar,
}

impl Format {
    fn of(head: &[u8]) -> Format {
        // gzip: the magic, deflate (8), and no reserved flag bits, so that a binary file which
        // merely starts with the two magic bytes is not taken for a broken gzip stream.
        if head.len() >= 4 && head[..3] == [0x1f, 0x8b, 8] && head[3] & 0xe0 == 0 {
            Format::Gzip
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Format::Zip
        } else if head.get(257..262) == Some(b"ustar") || is_tar_header(head) {
            Format::Tar
        } else {
            Format::Plain
        }
    }
}

/// Why decompression stopped: carried inside an `io::Error` out of the decoders.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Bomb(String);

impl Inspector {
    pub fn new(limits: Limits) -> Inspector {
        Inspector {
            limits,
            remaining: AtomicU64::new(limits.total_decompressed),
        }
    }

    /// The first secret in the file at `path`, looking inside archives. An error is a failure
    /// to read the file itself; problems inside archives are findings.
    pub fn inspect_file(&self, path: &Path) -> io::Result<Option<Located>> {
        let mut file = File::open(path)?;
        let head = read_head(&mut file)?;
        if Format::of(&head) == Format::Zip {
            file.rewind()?;
            return Ok(self.scan_zip(BufReader::new(file), 0));
        }
        if let Some(found) = self.scan_member(head, &mut file, 0)? {
            return Ok(Some(found));
        }
        if !ends_as_zip(&mut file)? {
            return Ok(None);
        }
        file.rewind()?;
        Ok(self.scan_zip(BufReader::new(file), 0))
    }

    /// Scans a stream whose first bytes, `head`, were already read from `rest`.
    fn scan_member(
        &self,
        head: Vec<u8>,
        rest: &mut dyn Read,
        depth: usize,
    ) -> io::Result<Option<Located>> {
        if let Some(kind) = database_kind(&head) {
            return Ok(Some(Located::here(Finding::Database { kind })));
        }
        let format = Format::of(&head);
        let mut stream = Cursor::new(head).chain(rest);
        if format == Format::Plain {
            return Ok(content::scan(&mut stream)?.map(content_finding));
        }
        if depth >= self.limits.max_depth {
            return Ok(Some(Located::here(Finding::Unscannable {
                reason: format!(
                    "archives are nested more than {} deep",
                    self.limits.max_depth
                ),
            })));
        }
        Ok(match format {
            Format::Gzip => self.scan_gzip(&mut stream, depth + 1),
            Format::Tar => self.scan_tar(&mut stream, depth + 1),
            Format::Zip => match self.read_nested_zip(&mut stream) {
                Ok(bytes) => self.scan_zip(Cursor::new(bytes), depth + 1),
                Err(err) => Some(contained_error(err, "a zip archive")),
            },
            Format::Plain => unreachable!("handled above"),
        })
    }

    fn scan_gzip(&self, input: &mut dyn Read, depth: usize) -> Option<Located> {
        let decoder = MultiGzDecoder::new(Counting {
            inner: input,
            count: 0,
        });
        let mut decoded = Bounded::new(decoder, |decoder| decoder.get_ref().count, self);
        let result =
            read_head(&mut decoded).and_then(|head| self.scan_member(head, &mut decoded, depth));
        contain(result, "a gzip stream")
    }

    fn scan_tar(&self, input: &mut dyn Read, depth: usize) -> Option<Located> {
        let mut archive = tar::Archive::new(input);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(err) => return Some(contained_error(err, "a tar archive")),
        };
        for entry in entries {
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(err) => return Some(contained_error(err, "a tar archive")),
            };
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if let Some(finding) = name_finding(&name) {
                return Some(Located::here(finding).inside(name));
            }
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let result =
                read_head(&mut entry).and_then(|head| self.scan_member(head, &mut entry, depth));
            if let Some(located) = contain(result, "a tar member") {
                return Some(located.inside(name));
            }
        }
        None
    }

    fn scan_zip<R: Read + Seek>(&self, input: R, depth: usize) -> Option<Located> {
        let mut archive = match zip::ZipArchive::new(input) {
            Ok(archive) => archive,
            Err(err) => {
                return Some(unscannable(format!(
                    "it is not a readable zip archive ({err})"
                )));
            }
        };
        for index in 0..archive.len() {
            let name = archive
                .name_for_index(index)
                .unwrap_or_default()
                .to_string();
            if let Some(finding) = name_finding(&name) {
                return Some(Located::here(finding).inside(name));
            }
            let mut entry = match archive.by_index(index) {
                Ok(entry) => entry,
                Err(err) => {
                    return Some(unscannable(format!("it cannot be read ({err})")).inside(name));
                }
            };
            if entry.is_dir() {
                continue;
            }
            let compressed = entry.compressed_size();
            let mut decoded = Bounded::new(&mut entry, move |_| compressed, self);
            let result = read_head(&mut decoded)
                .and_then(|head| self.scan_member(head, &mut decoded, depth));
            if let Some(located) = contain(result, "a zip member") {
                return Some(located.inside(name));
            }
        }
        None
    }

    /// A zip inside another archive, in memory: zip's directory is at its end.
    fn read_nested_zip(&self, input: &mut dyn Read) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        input
            .take(self.limits.nested_zip + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > self.limits.nested_zip {
            return Err(io::Error::other(format!(
                "a zip archive inside another archive is over {}, too large to look into",
                human_bytes(self.limits.nested_zip)
            )));
        }
        Ok(bytes)
    }

    /// Counts `produced` more decompressed bytes against the package's budget.
    fn spend(&self, produced: u64) -> io::Result<()> {
        self.remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |remaining| {
                remaining.checked_sub(produced)
            })
            .map(drop)
            .map_err(|_| {
                io::Error::other(Bomb(format!(
                    "the package's archives decompress to more than {} in total",
                    human_bytes(self.limits.total_decompressed)
                )))
            })
    }
}

/// Whether a tar header opens `head`: a v7 header has no magic, only its checksum, the sum of
/// the header's bytes with the checksum field counted as spaces (as unsigned bytes, or as
/// signed ones like some old tars).
fn is_tar_header(head: &[u8]) -> bool {
    const CHECKSUM: std::ops::Range<usize> = 148..156;
    let Some(header) = head.get(..512) else {
        return false;
    };
    let Some(recorded) = octal_field(&header[CHECKSUM]) else {
        return false;
    };
    let outside = || {
        header
            .iter()
            .enumerate()
            .filter(|(at, _)| !CHECKSUM.contains(at))
    };
    let spaces = 8 * u64::from(b' ');
    let unsigned: u64 = outside().map(|(_, byte)| u64::from(*byte)).sum::<u64>() + spaces;
    let signed: i64 = outside()
        .map(|(_, byte)| i64::from(*byte as i8))
        .sum::<i64>()
        + 256;
    header[0] != 0 && (recorded == unsigned || i64::try_from(recorded) == Ok(signed))
}

/// A tar number: optional leading spaces, octal digits, then NULs or spaces to the end.
fn octal_field(field: &[u8]) -> Option<u64> {
    let start = field.iter().take_while(|byte| **byte == b' ').count();
    let digits = field[start..]
        .iter()
        .take_while(|byte| (b'0'..=b'7').contains(*byte))
        .count();
    let end = &field[start + digits..];
    if digits == 0 || end.is_empty() || !end.iter().all(|byte| matches!(byte, 0 | b' ')) {
        return None;
    }
    let digits = std::str::from_utf8(&field[start..start + digits]).ok()?;
    u64::from_str_radix(digits, 8).ok()
}

/// Whether a zip's end-of-central-directory record closes `file`: the signature within reach
/// of the end, a comment length that ends exactly at the end of the file, one disk, and a
/// directory that fits before the record. Leaves the read position anywhere.
fn ends_as_zip(file: &mut File) -> io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    let reach = len.min(ZIP_END_REACH);
    file.seek(SeekFrom::Start(len - reach))?;
    let mut tail = Vec::with_capacity(reach as usize);
    file.take(reach).read_to_end(&mut tail)?;
    let record_start = len - tail.len() as u64;
    Ok(memchr::memmem::find_iter(&tail, ZIP_END).any(|at| {
        let record = &tail[at..];
        let u16_at = |offset: usize| u16::from_le_bytes([record[offset], record[offset + 1]]);
        let u32_at = |offset: usize| {
            u32::from_le_bytes([
                record[offset],
                record[offset + 1],
                record[offset + 2],
                record[offset + 3],
            ])
        };
        record.len() >= ZIP_END_LEN
            && record.len() == ZIP_END_LEN + usize::from(u16_at(20))
            && u16_at(4) == u16_at(6)
            && u16_at(8) == u16_at(10)
            && (u32_at(12) == u32::MAX || u64::from(u32_at(12)) <= record_start + at as u64)
    }))
}

fn content_finding(found: ContentMatch) -> Located {
    Located::here(Finding::from_content(found))
}

fn unscannable(reason: String) -> Located {
    Located::here(Finding::Unscannable { reason })
}

/// Keeps a failure inside an archive from ending the whole check: it becomes the finding.
fn contain(result: io::Result<Option<Located>>, what: &str) -> Option<Located> {
    result.unwrap_or_else(|err| Some(contained_error(err, what)))
}

fn contained_error(err: io::Error, what: &str) -> Located {
    if let Some(bomb) = err.get_ref().and_then(|inner| inner.downcast_ref::<Bomb>()) {
        return Located::here(Finding::Bomb {
            reason: bomb.0.clone(),
        });
    }
    unscannable(format!("it holds {what} that cannot be read ({err})"))
}

/// Reads up to [`HEAD_LEN`] bytes, fewer only at the end of the stream.
fn read_head(reader: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_LEN);
    reader.take(HEAD_LEN as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Counts the compressed bytes a decoder consumes.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count += read as u64;
        Ok(read)
    }
}

/// A decompressed stream held to the package's budget and the ratio limit.
struct Bounded<'a, R, C> {
    inner: R,
    /// The compressed bytes consumed so far.
    compressed: C,
    produced: u64,
    inspector: &'a Inspector,
}

impl<'a, R: Read, C: Fn(&R) -> u64> Bounded<'a, R, C> {
    fn new(inner: R, compressed: C, inspector: &'a Inspector) -> Self {
        Bounded {
            inner,
            compressed,
            produced: 0,
            inspector,
        }
    }
}

impl<R: Read, C: Fn(&R) -> u64> Read for Bounded<'_, R, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.produced += read as u64;
        self.inspector.spend(read as u64)?;
        let limits = &self.inspector.limits;
        let compressed = (self.compressed)(&self.inner).max(1);
        if self.produced > limits.ratio_floor && self.produced > limits.max_ratio * compressed {
            return Err(io::Error::other(Bomb(format!(
                "it decompresses to more than {} times its compressed size",
                limits.max_ratio
            ))));
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    const CHUKS: &str = concat!("chuks_pk_", "a1b2C3d4E5f6G7h8I9j0KlMn");

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, *contents).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn zip(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (path, contents) in entries {
            writer.start_file(*path, options).unwrap();
            writer.write_all(contents).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn inspect(bytes: &[u8], limits: Limits) -> Option<Located> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, bytes).unwrap();
        Inspector::new(limits).inspect_file(&path).unwrap()
    }

    fn describe(located: Option<Located>) -> Option<(Vec<String>, String)> {
        located.map(|l| (l.members, format!("{:?}", l.finding)))
    }

    #[test]
    fn tokens_inside_gzip_tar_and_zip_are_found() {
        let secret = format!("a\nkey={CHUKS}\n");
        let tarball = gzip(&tar(&[
            ("pkg/readme", b"hi"),
            ("pkg/conf.txt", secret.as_bytes()),
        ]));
        let found = inspect(&tarball, DEFAULT_LIMITS).expect("found in the .tar.gz");
        assert_eq!(found.members, ["pkg/conf.txt"]);
        assert!(
            matches!(found.finding, Finding::Token(ref t) if t.line == 2),
            "{found:?}"
        );

        let zipped = zip(
            &[("conf.txt", secret.as_bytes())],
            zip::CompressionMethod::Deflated,
        );
        let found = inspect(&zipped, DEFAULT_LIMITS).expect("found in the zip");
        assert_eq!(found.members, ["conf.txt"]);

        // A zip inside a tar inside gzip.
        let nested = gzip(&tar(&[("inner.zip", &zipped)]));
        let found = inspect(&nested, DEFAULT_LIMITS).expect("found in the nested zip");
        assert_eq!(found.members, ["inner.zip", "conf.txt"]);

        assert!(inspect(&gzip(b"plain text"), DEFAULT_LIMITS).is_none());
        let stored = zip(&[("a.txt", b"nothing")], zip::CompressionMethod::Stored);
        assert!(inspect(&stored, DEFAULT_LIMITS).is_none());
    }

    #[test]
    fn names_of_members_are_checked() {
        let tarball = gzip(&tar(&[("app/.env", b"A=1")]));
        let found = describe(inspect(&tarball, DEFAULT_LIMITS));
        assert_eq!(
            found,
            Some((
                vec!["app/.env".to_string()],
                "SecretName { pattern: \".env*\" }".to_string()
            ))
        );
    }

    #[test]
    fn a_bomb_is_refused_by_its_ratio() {
        let zeros = vec![0u8; 20 * 1024 * 1024];
        for bytes in [
            gzip(&zeros),
            zip(&[("z", &zeros)], zip::CompressionMethod::Deflated),
        ] {
            let found = inspect(&bytes, DEFAULT_LIMITS).expect("refused");
            assert!(
                matches!(found.finding, Finding::Bomb { ref reason } if reason.contains("100 times")),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_bomb_is_refused_by_the_total_size() {
        let limits = Limits {
            total_decompressed: 1000,
            ..DEFAULT_LIMITS
        };
        let found = inspect(&gzip(&[b'x'; 2000]), limits).expect("refused");
        assert!(
            matches!(found.finding, Finding::Bomb { ref reason } if reason.contains("in total")),
            "{found:?}"
        );
    }

    #[test]
    fn v7_tars_are_recognised_by_their_checksum() {
        let secret = format!("key={CHUKS}\n");
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_old();
        header.set_size(secret.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "old/conf.txt", secret.as_bytes())
            .unwrap();
        let v7 = builder.into_inner().unwrap();
        assert_ne!(&v7[257..262], b"ustar");
        assert_eq!(Format::of(&v7), Format::Tar);
        let found = inspect(&v7, DEFAULT_LIMITS).expect("found in the v7 tar");
        assert_eq!(found.members, ["old/conf.txt"]);

        // A checksum that does not add up, and text that merely has digits there, are not tars.
        let mut broken = v7.clone();
        broken[0] ^= 1;
        assert_eq!(Format::of(&broken), Format::Plain);
        let mut text = vec![b'a'; 512];
        text[148..156].copy_from_slice(b"0123456 ");
        assert_eq!(Format::of(&text), Format::Plain);
    }

    fn write_temp(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn a_zip_appended_to_a_script_or_an_image_is_looked_into() {
        let secret = format!("key={CHUKS}\n");
        let zipped = zip(
            &[("payload/conf.txt", secret.as_bytes())],
            zip::CompressionMethod::Deflated,
        );
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
        for lead in [b"#!/bin/sh\nexec unzip -o \"$0\"\nexit\n".to_vec(), png] {
            let mut polyglot = lead.clone();
            polyglot.extend_from_slice(&zipped);
            let found = inspect(&polyglot, DEFAULT_LIMITS).expect("found in the appended zip");
            assert_eq!(found.members, ["payload/conf.txt"]);
        }
        let clean = zip(&[("a.txt", b"nothing")], zip::CompressionMethod::Stored);
        let mut script = b"#!/bin/sh\n".to_vec();
        script.extend_from_slice(&clean);
        assert!(inspect(&script, DEFAULT_LIMITS).is_none());
    }

    #[test]
    fn only_a_whole_end_record_makes_a_file_end_as_a_zip() {
        let clean = zip(&[("a.txt", b"nothing")], zip::CompressionMethod::Stored);
        let ends_as_zip_bytes = |bytes: &[u8]| {
            let (_dir, path) = write_temp(bytes);
            ends_as_zip(&mut File::open(path).unwrap()).unwrap()
        };
        assert!(ends_as_zip_bytes(&clean));
        // Bytes after the record, a signature alone, a short file.
        let mut trailing = clean.clone();
        trailing.extend_from_slice(b"more");
        assert!(!ends_as_zip_bytes(&trailing));
        assert!(!ends_as_zip_bytes(
            b"text mentioning PK\x05\x06 and more text after it"
        ));
        assert!(!ends_as_zip_bytes(b"PK"));
        // A record that looks whole, closing bytes that are no zip, is refused: fail closed.
        let mut fake = b"#!/bin/sh\n".to_vec();
        fake.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0\x04\0\0\0\x02\0\0\0\0\0");
        assert!(ends_as_zip_bytes(&fake));
        let found = describe(inspect(&fake, DEFAULT_LIMITS)).unwrap();
        assert!(found.1.contains("Unscannable"), "{found:?}");
    }

    #[test]
    fn sqlite_files_are_refused_by_their_first_bytes_inside_archives_too() {
        let mut database = b"SQLite format 3\0".to_vec();
        database.resize(4096, 0);
        let mut wal = vec![0x37, 0x7f, 0x06, 0x82, 0x00, 0x2d, 0xe2, 0x18];
        wal.resize(32, 0);
        let journal = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7rest".to_vec();
        for (bytes, kind) in [
            (database.clone(), "an SQLite database"),
            (wal, "an SQLite write-ahead log"),
            (journal, "an SQLite rollback journal"),
        ] {
            let found = inspect(&bytes, DEFAULT_LIMITS).expect(kind);
            assert_eq!(found.finding, Finding::Database { kind });
        }
        let tarball = gzip(&tar(&[("data/app.db", &database)]));
        let found = inspect(&tarball, DEFAULT_LIMITS).expect("found in the tarball");
        assert_eq!(found.members, ["data/app.db"]);
        assert!(inspect(b"SQLite format 2\0", DEFAULT_LIMITS).is_none());
    }

    #[test]
    fn depth_is_bounded_and_corrupt_archives_are_refused() {
        let mut bytes = b"nothing here".to_vec();
        for _ in 0..5 {
            bytes = gzip(&bytes);
        }
        let found = describe(inspect(&bytes, DEFAULT_LIMITS)).unwrap();
        assert!(found.1.contains("nested more than 4 deep"), "{found:?}");

        let mut corrupt = gzip(b"some text that is long enough to matter");
        corrupt.truncate(corrupt.len() - 12);
        let found = describe(inspect(&corrupt, DEFAULT_LIMITS)).unwrap();
        assert!(found.1.contains("Unscannable"), "{found:?}");
    }
}
