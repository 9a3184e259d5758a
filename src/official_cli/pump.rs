//! Reading the official CLI's stdout and stderr one bounded chunk at a time. Nothing is read
//! ahead of what the caller has handled, so a CLI that writes faster than chuks-ci shows waits
//! on its full pipe (back-pressure) instead of filling chuks-ci's memory.
//!
//! On Unix one thread polls both pipes and can say, when the CLI exits, how many bytes each
//! pipe had been written so far (read, plus still waiting in the pipe): what comes after that
//! was written by something else. Elsewhere a thread per pipe hands over chunks through a
//! channel of two, and the count is what had arrived.

use std::io::{self, Read};
use std::process::{ChildStderr, ChildStdout};
use std::time::Duration;

/// The most read at once.
const CHUNK: usize = 64 * 1024;

/// What the next look at the pipes found.
pub enum Event<'a> {
    /// Bytes from pipe 0 (stdout) or 1 (stderr).
    Read(usize, &'a [u8]),
    /// That pipe reached its end.
    Closed(usize),
    /// Nothing within the wait.
    Quiet,
}

#[cfg(unix)]
pub use poll::PollPump as Pump;
#[cfg(not(unix))]
pub use threads::ThreadPump as Pump;

#[cfg(unix)]
mod poll {
    use std::fs::File;
    use std::os::fd::OwnedFd;

    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::io::Errno;

    use super::*;

    pub struct PollPump {
        pipes: [Option<File>; 2],
        /// Bytes read from each pipe.
        read: [u64; 2],
        buffer: Vec<u8>,
        /// Which pipe is looked at first, alternating so neither starves the other.
        turn: usize,
    }

    impl PollPump {
        pub fn new(stdout: ChildStdout, stderr: ChildStderr) -> PollPump {
            PollPump {
                pipes: [
                    Some(File::from(OwnedFd::from(stdout))),
                    Some(File::from(OwnedFd::from(stderr))),
                ],
                read: [0; 2],
                buffer: vec![0; CHUNK],
                // The first look starts with stdout.
                turn: 1,
            }
        }

        pub fn is_open(&self) -> bool {
            self.pipes.iter().any(Option::is_some)
        }

        /// Waits up to `wait` for either pipe, then reads one chunk from one of them.
        pub fn next(&mut self, wait: Duration) -> io::Result<Event<'_>> {
            self.turn = 1 - self.turn;
            let order = [self.turn, 1 - self.turn];
            let Some(ready) = self.ready(order, wait)? else {
                return Ok(Event::Quiet);
            };
            let Some(pipe) = self.pipes[ready].as_mut() else {
                return Ok(Event::Quiet);
            };
            match pipe.read(&mut self.buffer) {
                Ok(0) => {
                    self.pipes[ready] = None;
                    Ok(Event::Closed(ready))
                }
                Ok(len) => {
                    self.read[ready] += len as u64;
                    Ok(Event::Read(ready, &self.buffer[..len]))
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => Ok(Event::Quiet),
                Err(err) => Err(err),
            }
        }

        /// The first pipe in `order` with something to read (or its end) within `wait`.
        fn ready(&self, order: [usize; 2], wait: Duration) -> io::Result<Option<usize>> {
            let open: Vec<usize> = order
                .into_iter()
                .filter(|&index| self.pipes[index].is_some())
                .collect();
            if open.is_empty() {
                std::thread::sleep(wait);
                return Ok(None);
            }
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .filter_map(|&index| self.pipes[index].as_ref())
                .map(|pipe| PollFd::new(pipe, PollFlags::IN))
                .collect();
            let timeout = Timespec::try_from(wait).unwrap_or_default();
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(err) => return Err(err.into()),
            }
            Ok(fds
                .iter()
                .position(|fd| !fd.revents().is_empty())
                .map(|position| open[position]))
        }

        /// How many bytes each pipe had been written so far: read, plus waiting in the pipe.
        pub fn written(&self) -> [u64; 2] {
            let waiting = |index: usize| {
                self.pipes[index]
                    .as_ref()
                    .and_then(|pipe| rustix::io::ioctl_fionread(pipe).ok())
                    .unwrap_or(0)
            };
            [self.read[0] + waiting(0), self.read[1] + waiting(1)]
        }
    }
}

#[cfg(any(not(unix), test))]
mod threads {
    use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};

    use super::*;

    /// A chunk from a pipe, or `None` at its end.
    type Chunk = (usize, Option<Vec<u8>>);

    pub struct ThreadPump {
        chunks: Receiver<Chunk>,
        open: [bool; 2],
        /// Bytes handed over from each pipe.
        arrived: [u64; 2],
        current: Vec<u8>,
    }

    impl ThreadPump {
        pub fn new(stdout: ChildStdout, stderr: ChildStderr) -> ThreadPump {
            // Two chunks in flight at most: the readers wait for the caller.
            let (sender, chunks) = sync_channel(2);
            let readers: [Box<dyn Read + Send>; 2] = [Box::new(stdout), Box::new(stderr)];
            for (index, reader) in readers.into_iter().enumerate() {
                let sender = sender.clone();
                std::thread::spawn(move || forward(index, reader, &sender));
            }
            ThreadPump {
                chunks,
                open: [true; 2],
                arrived: [0; 2],
                current: Vec::new(),
            }
        }

        pub fn is_open(&self) -> bool {
            self.open.iter().any(|open| *open)
        }

        pub fn next(&mut self, wait: Duration) -> io::Result<Event<'_>> {
            match self.chunks.recv_timeout(wait) {
                Ok((index, Some(bytes))) => {
                    self.arrived[index] += bytes.len() as u64;
                    self.current = bytes;
                    Ok(Event::Read(index, &self.current))
                }
                Ok((index, None)) => {
                    self.open[index] = false;
                    Ok(Event::Closed(index))
                }
                Err(RecvTimeoutError::Timeout) => Ok(Event::Quiet),
                Err(RecvTimeoutError::Disconnected) => {
                    self.open = [false; 2];
                    Ok(Event::Quiet)
                }
            }
        }

        /// What had arrived from each pipe: the nearest a thread per pipe can tell.
        pub fn written(&self) -> [u64; 2] {
            self.arrived
        }
    }

    fn forward(index: usize, mut reader: Box<dyn Read + Send>, sender: &SyncSender<Chunk>) {
        loop {
            let mut buffer = vec![0; CHUNK];
            match reader.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    let _ = sender.send((index, None));
                    return;
                }
                Ok(len) => {
                    buffer.truncate(len);
                    if sender.send((index, Some(buffer))).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    /// Everything each pipe said, through `next`, until both closed.
    fn drain(mut next: impl FnMut(&mut dyn FnMut(Event<'_>)) -> bool) -> [Vec<u8>; 2] {
        let mut said = [Vec::new(), Vec::new()];
        let mut closed = [false; 2];
        while !(closed[0] && closed[1]) {
            let open = next(&mut |event| match event {
                Event::Read(index, bytes) => said[index].extend_from_slice(bytes),
                Event::Closed(index) => closed[index] = true,
                Event::Quiet => {}
            });
            assert!(open || closed.iter().all(|c| *c));
        }
        said
    }

    fn child() -> std::process::Child {
        Command::new("sh")
            .args(["-c", "printf 'a\\nb'; printf c >&2; printf d"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs a child through a pump of type `$pump` and checks what it read.
    macro_rules! assert_pump_reads_both_pipes {
        ($pump:ty) => {{
            let mut running = child();
            let mut pump = <$pump>::new(
                running.stdout.take().unwrap(),
                running.stderr.take().unwrap(),
            );
            let said = drain(|handle| {
                handle(pump.next(Duration::from_millis(50)).unwrap());
                pump.is_open()
            });
            assert_eq!(said, [b"a\nbd".to_vec(), b"c".to_vec()]);
            assert_eq!(pump.written(), [4, 1]);
            running.wait().unwrap();
        }};
    }

    #[test]
    fn both_pumps_read_both_pipes_to_their_end() {
        assert_pump_reads_both_pipes!(Pump);
        assert_pump_reads_both_pipes!(threads::ThreadPump);
    }
}
