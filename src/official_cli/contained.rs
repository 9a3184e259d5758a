//! Running the official CLI contained: stdin closed, in its own process group ([`Group`]), its
//! output read with back-pressure ([`Pump`]) and cut into lines of at most [`MAX_LINE_BYTES`]
//! (what is longer is counted and dropped), each line masked before it is cut, held as
//! [`Untrusted`], and marked as the CLI's own words or not: a line that arrives after the CLI
//! exited was written by something it left behind.

use std::borrow::Cow;
use std::io;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::group::Group;
use super::pump::{Event, Pump};
use crate::redact::KnownSecret;
use crate::untrusted::Untrusted;

/// Longer lines are cut: the CLI's output is untrusted and must not grow memory without end.
pub const MAX_LINE_BYTES: usize = 4096;

/// Read past a cut at least this far, so a token of any known shape straddling it is masked
/// whole before the cut.
const MIN_OVERLAP: usize = 256;

/// How long output may keep arriving after the CLI exited (from a child that left its group).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How often the CLI's exit and the deadline are checked while it is quiet.
const TICK: Duration = Duration::from_millis(50);

/// One line of the CLI's output, masked and cut.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: Untrusted,
    /// Written before the CLI exited: its own words.
    pub own: bool,
}

/// How a contained run ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    /// Bytes of over-long lines that were not shown.
    pub cut_bytes: u64,
}

#[derive(Debug)]
pub enum RunError {
    Io(io::Error),
    TimedOut,
}

impl From<io::Error> for RunError {
    fn from(err: io::Error) -> Self {
        RunError::Io(err)
    }
}

/// Runs `command` contained, passing its lines to `show` chunk by chunk as they come, masked
/// for `secret` when given; stops it and everything it started at `timeout`.
pub fn run(
    mut command: Command,
    timeout: Duration,
    secret: Option<&KnownSecret>,
    show: &mut dyn FnMut(&[Line]),
) -> Result<Finished, RunError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let deadline = Instant::now() + timeout;
    let mut group = Group::spawn(&mut command)?;
    let (stdout, stderr) = group
        .take_pipes()
        .ok_or_else(|| io::Error::other("the CLI's output pipes are missing"))?;
    let mut pump = Pump::new(stdout, stderr);
    let overlap = secret.map_or(0, KnownSecret::longest_form).max(MIN_OVERLAP);
    let mut reader = Reader::new(overlap, secret);
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let status = loop {
        if exited.is_none() && group.exited()? {
            // Everything the CLI wrote is read or in its pipes now; anything after is not its.
            reader.shape.written_at_exit = Some(pump.written());
            exited = Some((group.end()?, Instant::now() + DRAIN_GRACE));
        }
        match exited {
            None if Instant::now() >= deadline => {
                group.end()?;
                return Err(RunError::TimedOut);
            }
            Some((status, grace_ends)) if !pump.is_open() || Instant::now() >= grace_ends => {
                break status;
            }
            _ => {}
        }
        let lines = reader.take(pump.next(TICK)?);
        if !lines.is_empty() {
            show(&lines);
        }
    };
    // Pipes a child kept open past the grace: their unfinished lines, and no more.
    let lines: Vec<Line> = (0..2).flat_map(|index| reader.finish(index)).collect();
    if !lines.is_empty() {
        show(&lines);
    }
    Ok(Finished {
        status,
        cut_bytes: reader.splitters.iter().map(|s| s.cut_bytes).sum(),
    })
}

/// Turns what the pump read into lines.
struct Reader<'a> {
    splitters: [Splitter; 2],
    shape: Shape<'a>,
}

impl<'a> Reader<'a> {
    fn new(overlap: usize, secret: Option<&'a KnownSecret>) -> Reader<'a> {
        Reader {
            splitters: [Splitter::new(overlap), Splitter::new(overlap)],
            shape: Shape {
                secret,
                written_at_exit: None,
            },
        }
    }

    fn take(&mut self, event: Event<'_>) -> Vec<Line> {
        match event {
            Event::Read(index, bytes) => {
                let (shape, mut lines) = (self.shape, Vec::new());
                self.splitters[index].feed(bytes, &mut |raw| lines.push(shape.line(index, raw)));
                lines
            }
            Event::Closed(index) => self.finish(index),
            Event::Quiet => Vec::new(),
        }
    }

    fn finish(&mut self, index: usize) -> Vec<Line> {
        let (shape, mut lines) = (self.shape, Vec::new());
        self.splitters[index].finish(&mut |raw| lines.push(shape.line(index, raw)));
        lines
    }
}

/// What makes a read line a [`Line`]: the secret to mask, and where the CLI's words ended.
#[derive(Clone, Copy)]
struct Shape<'a> {
    secret: Option<&'a KnownSecret>,
    /// Per pipe, how many bytes had been written when the CLI exited.
    written_at_exit: Option<[u64; 2]>,
}

impl Shape<'_> {
    /// Masks before it cuts, so a secret across the cut is masked whole.
    fn line(self, index: usize, raw: RawLine<'_>) -> Line {
        let bytes = match raw.cut {
            true => raw.bytes,
            false => raw.bytes.strip_suffix(b"\r").unwrap_or(raw.bytes),
        };
        let keep = match raw.cut {
            true => MAX_LINE_BYTES,
            false => bytes.len(),
        };
        let masked = match self.secret {
            Some(secret) => secret.mask(bytes, keep),
            None => Cow::Borrowed(&bytes[..keep.min(bytes.len())]),
        };
        let text = String::from_utf8_lossy(&masked);
        Line {
            text: Untrusted::new(crate::redact::redact(&text).into_owned()),
            own: self
                .written_at_exit
                .is_none_or(|written| raw.end <= written[index]),
        }
    }
}

/// A line as read: its bytes (without the line break), whether it was cut, and the offset in
/// its stream just past it.
struct RawLine<'a> {
    bytes: &'a [u8],
    cut: bool,
    end: u64,
}

/// Cuts one stream into lines, keeping at most [`MAX_LINE_BYTES`] and an overlap of each; the
/// rest of a longer line is counted and dropped.
struct Splitter {
    overlap: usize,
    pending: Vec<u8>,
    /// Dropping the rest of a line that was cut.
    discarding: bool,
    offset: u64,
    cut_bytes: u64,
}

impl Splitter {
    fn new(overlap: usize) -> Splitter {
        Splitter {
            overlap,
            pending: Vec::new(),
            discarding: false,
            offset: 0,
            cut_bytes: 0,
        }
    }

    fn feed(&mut self, mut chunk: &[u8], emit: &mut dyn FnMut(RawLine<'_>)) {
        let limit = MAX_LINE_BYTES + self.overlap;
        while !chunk.is_empty() {
            let newline = memchr::memchr(b'\n', chunk);
            let (segment, rest) = match newline {
                Some(at) => (&chunk[..at], &chunk[at + 1..]),
                None => (chunk, &chunk[chunk.len()..]),
            };
            self.offset += (chunk.len() - rest.len()) as u64;
            chunk = rest;
            if self.discarding {
                self.cut_bytes += segment.len() as u64;
                self.discarding = newline.is_none();
                continue;
            }
            let room = limit - self.pending.len();
            if segment.len() > room {
                self.pending.extend_from_slice(&segment[..room]);
                self.cut_bytes += (self.overlap + segment.len() - room) as u64;
                self.discarding = newline.is_none();
                self.emit_pending(true, emit);
            } else if newline.is_none() {
                self.pending.extend_from_slice(segment);
            } else if self.pending.is_empty() {
                emit(RawLine {
                    bytes: segment,
                    cut: false,
                    end: self.offset,
                });
            } else {
                self.pending.extend_from_slice(segment);
                self.emit_pending(false, emit);
            }
        }
    }

    /// The end of the stream: an unfinished last line is a line too.
    fn finish(&mut self, emit: &mut dyn FnMut(RawLine<'_>)) {
        if !self.pending.is_empty() {
            self.emit_pending(false, emit);
        }
        self.discarding = false;
    }

    fn emit_pending(&mut self, cut: bool, emit: &mut dyn FnMut(RawLine<'_>)) {
        emit(RawLine {
            bytes: &self.pending,
            cut,
            end: self.offset,
        });
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `chunks` make: (text, cut, end offset).
    fn split(overlap: usize, chunks: &[&[u8]]) -> (Vec<(String, bool, u64)>, u64) {
        let mut splitter = Splitter::new(overlap);
        let mut lines = Vec::new();
        let mut emit = |raw: RawLine<'_>| {
            lines.push((
                String::from_utf8_lossy(raw.bytes).into_owned(),
                raw.cut,
                raw.end,
            ))
        };
        for chunk in chunks {
            splitter.feed(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        (lines, splitter.cut_bytes)
    }

    #[test]
    fn lines_across_chunks_and_an_unfinished_last_line() {
        let (lines, cut) = split(8, &[b"one\ntw", b"o\n\nthr", b"ee"]);
        let texts: Vec<_> = lines.iter().map(|(t, c, e)| (t.as_str(), *c, *e)).collect();
        assert_eq!(
            texts,
            [
                ("one", false, 4),
                ("two", false, 8),
                ("", false, 9),
                ("three", false, 14)
            ]
        );
        assert_eq!(cut, 0);
    }

    #[test]
    fn a_long_line_keeps_its_start_and_an_overlap_and_counts_the_rest() {
        let long = vec![b'x'; MAX_LINE_BYTES * 3];
        let (lines, cut) = split(8, &[&long[..5000], &long[5000..], b"\nnext\n"]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0.len(), MAX_LINE_BYTES + 8);
        assert!(lines[0].1);
        assert_eq!(lines[1].0, "next");
        // Shown: the first MAX_LINE_BYTES; the overlap is read only to mask across the cut.
        assert_eq!(cut, (MAX_LINE_BYTES * 2) as u64);
    }

    #[test]
    fn a_token_across_the_cut_is_masked_before_the_cut() {
        let token = concat!("chuks_pk_", "Canary0123456789abcdefghijKLMNOPQRSTUVwx");
        let secret = KnownSecret::new(token, "chuks_pk_****");
        for before in [MAX_LINE_BYTES - 30, MAX_LINE_BYTES - 1, MAX_LINE_BYTES - 9] {
            let line = format!("{}{token}{}\n", "x".repeat(before), "y".repeat(1000));
            let mut reader = Reader::new(secret.longest_form(), Some(&secret));
            let lines = reader.take(Event::Read(1, line.as_bytes()));
            let shown = lines[0].text.unescaped();
            assert!(
                !shown.contains("Canary"),
                "{before}: …{}",
                &shown[before - 5..]
            );
            assert!(shown.ends_with("chuks_pk_****"), "{before}");
        }
    }

    #[test]
    fn lines_after_the_exit_are_not_the_clis() {
        let mut reader = Reader::new(0, None);
        reader.shape.written_at_exit = Some([0, 6]);
        let lines = reader.take(Event::Read(1, b"mine\nlate\n"));
        let own: Vec<_> = lines.iter().map(|l| (l.text.unescaped(), l.own)).collect();
        assert_eq!(own, [("mine", true), ("late", false)]);
    }
}
