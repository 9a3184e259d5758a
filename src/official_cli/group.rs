//! The official CLI's process group. The CLI starts in a group of its own, so it and every
//! child it forks are stopped together: as soon as the CLI exits, at the upload timeout, when
//! the [`Group`] is dropped (chuks-ci returning or unwinding), and when chuks-ci gets SIGINT or
//! SIGTERM, which then exits with the conventional code (130, 143). A descendant that leaves
//! the group (`setsid`, a daemon) is out of reach. On platforms without process groups only the
//! CLI itself is stopped.

use std::io;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};

/// The running CLI and its group; dropping it stops them.
pub struct Group {
    child: Child,
    #[cfg(unix)]
    signals: Option<signals::Forwarding>,
    ended: Option<ExitStatus>,
}

impl Group {
    /// Starts `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> io::Result<Group> {
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(command, 0);
        let child = command.spawn()?;
        Ok(Group {
            #[cfg(unix)]
            signals: Some(signals::forward_to(child.id())?),
            child,
            ended: None,
        })
    }

    /// The CLI's stdout and stderr, once.
    pub fn take_pipes(&mut self) -> Option<(ChildStdout, ChildStderr)> {
        self.child.stdout.take().zip(self.child.stderr.take())
    }

    /// Whether the CLI has exited. On Unix it is not reaped yet, so its group id cannot be
    /// reused by another process before [`Group::end`] stops the group.
    #[cfg(unix)]
    pub fn exited(&mut self) -> io::Result<bool> {
        use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
        let pid = Pid::from_child(&self.child);
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        Ok(waitid(WaitId::Pid(pid), options)?.is_some())
    }

    #[cfg(not(unix))]
    pub fn exited(&mut self) -> io::Result<bool> {
        Ok(self.child.try_wait()?.is_some())
    }

    /// Stops whatever is left of the group and reaps the CLI: its exit status.
    pub fn end(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.ended {
            return Ok(status);
        }
        self.stop();
        let status = self.child.wait()?;
        self.ended = Some(status);
        Ok(status)
    }

    #[cfg(unix)]
    fn stop(&mut self) {
        use rustix::process::{Pid, Signal, kill_process_group};
        // Gone already is fine: nothing is left to stop.
        let _ = kill_process_group(Pid::from_child(&self.child), Signal::KILL);
        // The group is gone; a signal from now on finds nothing to stop.
        self.signals = None;
    }

    #[cfg(not(unix))]
    fn stop(&mut self) {
        // Exited already is fine: nothing is left to stop.
        let _ = self.child.kill();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.ended.is_none() {
            // Dropped while it runs (an error or a panic on the way out): stop it all the same.
            let _ = self.end();
        }
    }
}

/// SIGINT and SIGTERM while the CLI runs: stop its group, then exit as the signal would have.
#[cfg(unix)]
mod signals {
    use std::io;
    use std::sync::atomic::{AtomicI32, Ordering};

    use libc::c_int;

    /// The process group a signal stops; 0 while none runs.
    static GROUP: AtomicI32 = AtomicI32::new(0);

    const SIGNALS: [c_int; 2] = [libc::SIGINT, libc::SIGTERM];

    /// While alive, SIGINT and SIGTERM stop the group before chuks-ci exits; dropping it puts
    /// back what was there before.
    pub struct Forwarding {
        previous: Vec<(c_int, libc::sigaction)>,
    }

    /// Starts forwarding to the group led by `leader`.
    pub fn forward_to(leader: u32) -> io::Result<Forwarding> {
        let group = i32::try_from(leader).map_err(io::Error::other)?;
        GROUP.store(group, Ordering::SeqCst);
        let mut forwarding = Forwarding {
            previous: Vec::new(),
        };
        for signal in SIGNALS {
            let previous = install(signal, on_signal as extern "C" fn(c_int) as usize)?;
            if previous.sa_sigaction == libc::SIG_IGN {
                // Ignored by whoever started chuks-ci (`nohup`): leave it ignored.
                restore(signal, &previous);
            } else {
                forwarding.previous.push((signal, previous));
            }
        }
        Ok(forwarding)
    }

    impl Drop for Forwarding {
        fn drop(&mut self) {
            GROUP.store(0, Ordering::SeqCst);
            for (signal, previous) in &self.previous {
                restore(*signal, previous);
            }
        }
    }

    /// Sets `handler` for `signal`; what was set before.
    fn install(signal: c_int, handler: libc::sighandler_t) -> io::Result<libc::sigaction> {
        // SAFETY: `sigaction` is plain old data, for which all zeroes is a valid value; the
        // handler installed is `on_signal` (or a disposition saved from the OS), which only
        // does what is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            match libc::sigaction(signal, &action, &mut previous) {
                0 => Ok(previous),
                _ => Err(io::Error::last_os_error()),
            }
        }
    }

    fn restore(signal: c_int, previous: &libc::sigaction) {
        // SAFETY: `previous` is what `sigaction` returned for this signal.
        unsafe {
            libc::sigaction(signal, previous, std::ptr::null_mut());
        }
    }

    /// Stops the group and exits with 128 + the signal, using only async-signal-safe calls.
    extern "C" fn on_signal(signal: c_int) {
        const SAID: &[u8] =
            b"chuks-ci: stopped by a signal, and stopped the official CLI and its children first\n";
        let group = GROUP.load(Ordering::SeqCst);
        // SAFETY: kill, write and _exit are async-signal-safe; `SAID` outlives the call.
        unsafe {
            if group > 0 {
                libc::kill(-group, libc::SIGKILL);
            }
            libc::write(2, SAID.as_ptr().cast(), SAID.len());
            libc::_exit(128 + signal);
        }
    }
}
