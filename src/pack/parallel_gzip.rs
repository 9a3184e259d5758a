//! A gzip writer that compresses on several threads, with output that does not depend on how many.
//!
//! The input is cut every [`CHUNK_BYTES`] bytes. Each chunk is compressed on its own as raw
//! deflate, primed with the last 32 KiB of the chunk before it as the dictionary (what a single
//! compressor would have had in its window), and ended with a sync flush, an empty stored block
//! that leaves the stream on a byte boundary so the next chunk's blocks can follow directly. The
//! last chunk ends the stream. The pieces are written in input order behind one fixed gzip
//! header, and the trailer holds the CRC-32 and length of the whole input: one ordinary gzip
//! member that any gzip reader decodes.
//!
//! Every output byte is a function of the input and the level alone (chunk boundaries are fixed
//! offsets, dictionaries come from the input, and the deflate implementation picks no strategy
//! by CPU), so one thread or many give the same archive.
//!
//! Memory is bounded by the thread count, not the input: at most `threads + 1` chunks are in
//! flight, and their buffers are reused rather than reallocated.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Uncompressed bytes per chunk. With the previous chunk as dictionary, the cost of cutting
/// (a 5-byte sync marker and restarted block statistics) stays near 0.1% of the output; smaller
/// chunks keep the memory held per thread small.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Deflate's window: the most history a back-reference can use.
const WINDOW_BYTES: usize = 32 * 1024;

/// Magic, method deflate, no flags, mtime 0, no extra flags, OS 255 ("unknown").
pub(super) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Most threads worth starting: past this one reading thread cannot keep them busy, and each
/// holds about 1 MiB (its compressor and chunks in flight).
const MAX_THREADS: usize = 8;

/// The number of compression threads to use on this machine.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_THREADS)
}

/// The buffers of one chunk, reused from chunk to chunk.
#[derive(Default)]
struct Buffers {
    data: Vec<u8>,
    dictionary: Vec<u8>,
    compressed: Vec<u8>,
}

/// One chunk to compress.
struct Job {
    index: u64,
    buffers: Buffers,
    last: bool,
}

/// A compressed chunk (in `buffers.compressed`), with the CRC-32 of its uncompressed bytes.
struct Done {
    index: u64,
    buffers: Buffers,
    result: io::Result<Crc>,
}

/// Gzip-compresses everything written to it into `out`; call [`ParallelGzip::finish`] at the end.
pub struct ParallelGzip<W: Write> {
    out: W,
    filling: Buffers,
    /// The last 32 KiB of the chunk sent most recently: the next chunk's dictionary.
    window: Vec<u8>,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_index: u64,
    next_to_write: u64,
    /// Chunks compressed ahead of the one the output waits for.
    parked: BTreeMap<u64, (Buffers, Crc)>,
    spare: Vec<Buffers>,
    crc: Crc,
    /// Chunks sent and not yet written.
    in_flight: usize,
    max_in_flight: usize,
    /// Set by the first error. The stream is broken from then on, and waiting for chunks that
    /// were lost with the error would block forever, so every later call fails at once.
    failed: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// Starts `threads` compression threads (at least one) and writes the gzip header.
    pub fn new(mut out: W, level: Compression, threads: usize) -> io::Result<Self> {
        out.write_all(&GZIP_HEADER)?;
        let threads = threads.max(1);
        // Unbounded, but never holding more than `max_in_flight` jobs.
        let (job_sender, job_receiver) = mpsc::channel::<Job>();
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        let (done_sender, done) = mpsc::channel();
        let workers = (0..threads)
            .map(|_| {
                let jobs = Arc::clone(&job_receiver);
                let done = done_sender.clone();
                std::thread::Builder::new()
                    .name("chuks-ci-gzip".into())
                    .spawn(move || work(&jobs, &done, level))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(ParallelGzip {
            out,
            filling: Buffers {
                data: Vec::with_capacity(CHUNK_BYTES),
                ..Buffers::default()
            },
            window: Vec::with_capacity(WINDOW_BYTES),
            jobs: Some(job_sender),
            done,
            workers,
            next_index: 0,
            next_to_write: 0,
            parked: BTreeMap::new(),
            spare: Vec::new(),
            crc: Crc::new(),
            in_flight: 0,
            // Every thread busy, plus one chunk queued so none waits for the reader.
            max_in_flight: threads + 1,
            failed: false,
        })
    }

    /// Runs one step of the stream, remembering a failure so no later step waits on it.
    fn step<T>(&mut self, step: impl FnOnce(&mut Self) -> io::Result<T>) -> io::Result<T> {
        if self.failed {
            return Err(io::Error::other(
                "the gzip stream already failed; its earlier error says why",
            ));
        }
        let result = step(self);
        self.failed = result.is_err();
        result
    }

    /// Compresses what is left, writes the trailer, stops the threads and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.step(|gzip| {
            gzip.send_chunk(true)?;
            while gzip.in_flight > 0 {
                gzip.write_next_done()?;
            }
            let mut trailer = [0u8; 8];
            trailer[..4].copy_from_slice(&gzip.crc.sum().to_le_bytes());
            trailer[4..].copy_from_slice(&gzip.crc.amount().to_le_bytes());
            gzip.out.write_all(&trailer)
        })?;
        // Closing the job channel ends each worker's loop. (Dropped without `finish`, the
        // channel closes too and the threads end on their own after their current chunk.)
        self.jobs = None;
        for worker in self.workers.drain(..) {
            worker
                .join()
                .map_err(|_| io::Error::other("a gzip compression thread panicked"))?;
        }
        Ok(self.out)
    }

    fn send_chunk(&mut self, last: bool) -> io::Result<()> {
        while self.in_flight >= self.max_in_flight {
            self.write_next_done()?;
        }
        let next = self.spare.pop().unwrap_or_else(|| Buffers {
            data: Vec::with_capacity(CHUNK_BYTES),
            ..Buffers::default()
        });
        let mut buffers = std::mem::replace(&mut self.filling, next);
        // This chunk's dictionary is the previous chunk's tail; its own tail is the next one's.
        buffers.dictionary.clear();
        buffers.dictionary.extend_from_slice(&self.window);
        let tail = buffers.data.len().saturating_sub(WINDOW_BYTES);
        self.window.clear();
        self.window.extend_from_slice(&buffers.data[tail..]);
        let job = Job {
            index: self.next_index,
            buffers,
            last,
        };
        let sender = self
            .jobs
            .as_ref()
            .expect("jobs are sent only before finish");
        sender
            .send(job)
            .map_err(|_| io::Error::other("a gzip compression thread stopped"))?;
        self.next_index += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// Waits for the chunk the output needs next and writes it, parking any that come early.
    fn write_next_done(&mut self) -> io::Result<()> {
        loop {
            if let Some((mut buffers, crc)) = self.parked.remove(&self.next_to_write) {
                self.out.write_all(&buffers.compressed)?;
                self.crc.combine(&crc);
                self.next_to_write += 1;
                self.in_flight -= 1;
                buffers.data.clear();
                self.spare.push(buffers);
                return Ok(());
            }
            let done = self
                .done
                .recv()
                .map_err(|_| io::Error::other("a gzip compression thread stopped"))?;
            self.parked.insert(done.index, (done.buffers, done.result?));
        }
    }
}

/// A compression thread: takes chunks until the job channel closes.
fn work(jobs: &Mutex<Receiver<Job>>, done: &Sender<Done>, level: Compression) {
    loop {
        // The lock is held only while waiting for a job, never while compressing.
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(mut job) = job else { return };
        // A new compressor for every chunk, never a reset one: a reset keeps the old window's
        // bytes, which deflate may read past the end of its input and which then sway its
        // choice between equal matches, so the output would depend on which thread compressed
        // what before. A new one starts from a zeroed window.
        let mut deflate = Compress::new(level, false);
        // A panic becomes an error for the writer to report; otherwise it would wait for this
        // chunk forever while the other threads keep the channel open.
        let compressed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            compress_chunk(&mut deflate, &mut job.buffers, job.last)
        }));
        let result = compressed
            .unwrap_or_else(|_| Err(io::Error::other("a gzip compression thread panicked")));
        let done_chunk = Done {
            index: job.index,
            buffers: job.buffers,
            result,
        };
        if done.send(done_chunk).is_err() {
            return;
        }
    }
}

/// Raw deflate of one chunk into `buffers.compressed`: sync-flushed, or finished when last.
fn compress_chunk(deflate: &mut Compress, buffers: &mut Buffers, last: bool) -> io::Result<Crc> {
    let mut crc = Crc::new();
    crc.update(&buffers.data);
    if !buffers.dictionary.is_empty() {
        deflate
            .set_dictionary(&buffers.dictionary)
            .map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let out = &mut buffers.compressed;
    out.clear();
    // Incompressible input grows by about 5 bytes per 16 KiB stored block.
    out.reserve(buffers.data.len() + buffers.data.len() / 1024 + 1024);
    let mut input = &buffers.data[..];
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(64 * 1024);
        }
        let before = deflate.total_in();
        let status = deflate
            .compress_vec(input, out, flush)
            .map_err(io::Error::other)?;
        input = &input[(deflate.total_in() - before) as usize..];
        // A flush is complete once deflate stops with output space to spare.
        let flushed = input.is_empty() && out.len() < out.capacity();
        match status {
            Status::StreamEnd => return Ok(crc),
            _ if !last && flushed => return Ok(crc),
            _ => {}
        }
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.step(|gzip| {
            let room = CHUNK_BYTES - gzip.filling.data.len();
            let taken = room.min(buf.len());
            gzip.filling.data.extend_from_slice(&buf[..taken]);
            if gzip.filling.data.len() == CHUNK_BYTES {
                gzip.send_chunk(false)?;
            }
            Ok(taken)
        })
    }

    /// Chunk boundaries must not depend on when callers flush, so this only flushes what is
    /// already compressed and in order.
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    /// Source-like text (words from a small vocabulary, so matches come at many distances)
    /// with incompressible stretches, from a fixed xorshift seed.
    fn mixed_bytes(len: usize) -> Vec<u8> {
        const WORDS: [&str; 12] = [
            "let ", "value", " = ", "chuks", "(index)", ";\n", "return ", "archive", ".pack",
            "{\n", "}\n", "    ",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            if (out.len() / 50_000) % 3 == 2 {
                out.push(next() as u8);
            } else {
                out.extend_from_slice(WORDS[(next() % 12) as usize].as_bytes());
            }
        }
        out.truncate(len);
        // Runs of zeros across every chunk boundary, like tar's padding: near the end of its
        // input deflate compares past what it was given, so this is where a compressor that
        // remembers an earlier chunk would answer differently from a fresh one.
        for boundary in (CHUNK_BYTES..len).step_by(CHUNK_BYTES) {
            let run = boundary.saturating_sub(700)..(boundary + 300).min(len);
            out[run].fill(0);
        }
        out
    }

    /// A writer that fails once `limit` bytes were written, like a full disk.
    struct FullDisk {
        written: usize,
        limit: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written + buf.len() > self.limit {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"));
            }
            self.written += buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_is_an_error_not_a_hang() {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let data = mixed_bytes(12 * CHUNK_BYTES);
            let out = FullDisk {
                written: 0,
                limit: CHUNK_BYTES,
            };
            let mut gzip = ParallelGzip::new(out, Compression::new(6), 2).unwrap();
            let written = gzip.write_all(&data);
            // What tar does when dropped after an error: write its end-of-archive blocks.
            let after = gzip.write_all(&[0u8; 1024]);
            let finished = gzip.finish().map(|_| ());
            let _ = sender.send((written.is_err(), after.is_err(), finished.is_err()));
        });
        let outcome = receiver
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the writer hung after its output failed");
        assert_eq!(outcome, (true, true, true));
    }

    fn gzip(data: &[u8], threads: usize) -> Vec<u8> {
        let mut writer = ParallelGzip::new(Vec::new(), Compression::new(6), threads).unwrap();
        // Odd-sized writes, so chunk boundaries never line up with the caller's.
        for piece in data.chunks(70_001) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn output_is_one_gzip_member_whatever_the_thread_count() {
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            9 * CHUNK_BYTES + 12_345,
        ] {
            let data = mixed_bytes(len);
            let single = gzip(&data, 1);
            assert_eq!(&single[..10], &GZIP_HEADER, "len {len}");
            // GzDecoder reads one member only: the whole input must come back from it.
            assert_eq!(gunzip(&single), data, "len {len}");
            for threads in [2, 3, 8] {
                assert_eq!(gzip(&data, threads), single, "len {len}, {threads} threads");
            }
            assert_eq!(gzip(&data, 2), gzip(&data, 2), "len {len}, again");
        }
    }

    #[test]
    fn dictionaries_keep_the_size_close_to_one_stream() {
        let data = mixed_bytes(16 * CHUNK_BYTES);
        let mut whole = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        whole.write_all(&data).unwrap();
        let whole = whole.finish().unwrap().len() as f64;
        let chunked = gzip(&data, 2).len() as f64;
        assert!(chunked <= whole * 1.005, "{chunked} vs {whole}");
    }
}
