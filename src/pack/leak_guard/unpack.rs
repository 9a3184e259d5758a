//! Looking inside compressed files and archives for the leak guard: gzip (a `.tar.gz`
//! included), zip (stored or deflate) and tar, recognised by their first bytes whatever the
//! file is called, nested up to [`Limits::max_depth`] archives deep.
//!
//! Decompression is bounded so that a decompression bomb is refused, never unpacked: all the
//! archives of a package together may decompress to at most [`Limits::total_decompressed`]
//! bytes, and once a stream has produced [`Limits::ratio_floor`] bytes it may not have
//! produced more than [`Limits::max_ratio`] times the compressed bytes it consumed. An archive
//! that cannot be read (corrupt, encrypted, another compression method) is refused too: the
//! leak guard fails closed.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::content::{self, ContentMatch};
use super::{Finding, name_finding};
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

/// The first bytes read to recognise a format (tar's magic is at offset 257).
const HEAD_LEN: usize = 512;

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
        } else if head.get(257..262) == Some(b"ustar") {
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
        self.scan_member(head, &mut file, 0)
    }

    /// Scans a stream whose first bytes, `head`, were already read from `rest`.
    fn scan_member(
        &self,
        head: Vec<u8>,
        rest: &mut dyn Read,
        depth: usize,
    ) -> io::Result<Option<Located>> {
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
