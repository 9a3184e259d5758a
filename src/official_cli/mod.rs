//! The official `chuks` CLI as an uploader: found through `--chuks-bin`, `CHUKS_BIN` or PATH,
//! run in the package root with the token only in its environment, its output streamed line by
//! line through the redactor, its outcome read from one table ([`outcomes`]) and retried by the
//! shared policy.

pub mod outcomes;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use outcomes::Outcome;

use crate::retry::{self, AttemptError, RetryError, RetryPolicy, Transient};
use crate::token::ApiToken;

/// How many of the CLI's last lines an error quotes.
const LAST_LINES: usize = 12;

/// Longer lines are cut: the CLI's output is untrusted and must not grow memory without end.
const MAX_LINE_BYTES: usize = 4096;

/// How long `chuks --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the output may keep flowing after the CLI itself exited (a child it left behind).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{source_name} names `{}`, which does not exist\nhint: pass the path of the official `chuks` binary, or leave {source_name} unset to use `chuks` from PATH", path.display())]
    NotFound {
        path: PathBuf,
        source_name: &'static str,
    },

    #[error("`{}` does not run as the official `chuks` CLI: {detail}\nhint: check that it is the `chuks` binary for this platform and is executable (`{} --version`)", path.display(), path.display())]
    NotRunnable { path: PathBuf, detail: String },

    #[error(
        "`--uploader chuks` needs the official `chuks` CLI, which is not on PATH\nhint: install it (the GitHub action, GitLab and Bitbucket templates do, pinned by `chuks-version`), pass `--chuks-bin PATH`, or use `--uploader http`"
    )]
    Missing,

    #[error(
        "the registry refused the token (the official CLI said: {last})\nhint: give the token the `packages:publish` scope, or rotate it if it expired or was revoked: generate a new one in the dashboard's API Tokens tab and update the CI secret"
    )]
    AuthRefused { last: String },

    #[error("the registry refused the package (the official CLI said: {last})\nhint: {hint}")]
    SupplyChainRefused { last: String, hint: String },

    #[error(
        "the official CLI failed {attempts} time(s): {last}\nhint: the network or the registry is failing; a re-run is safe"
    )]
    Unavailable { attempts: u32, last: String },

    #[error(
        "the official CLI did not finish within {seconds}s and was stopped\nhint: a re-run is safe; raise `--upload-timeout` for a slow network"
    )]
    TimedOut { seconds: u64 },

    #[error(
        "the official CLI failed ({status}); its last lines:\n{last}\nhint: read its output above; a re-run is safe once the cause is fixed"
    )]
    Failed { status: String, last: String },

    #[error(
        "cannot run the official CLI: {0}\nhint: check that `--chuks-bin` or `chuks` on PATH is executable"
    )]
    Spawn(std::io::Error),
}

/// The official CLI, found and answering `--version`.
#[derive(Debug, Clone)]
pub struct OfficialCli {
    program: PathBuf,
    version: String,
}

/// Finds the CLI: `flag` (`--chuks-bin`), then `env` (`CHUKS_BIN`), then `chuks` on PATH.
/// `None` when none is given and PATH has none; a given path that is missing or does not run
/// is an error.
pub fn locate(flag: Option<&Path>, env: Option<PathBuf>) -> Result<Option<OfficialCli>, CliError> {
    let given = match (flag, env) {
        (Some(path), _) => Some((path.to_path_buf(), "`--chuks-bin`")),
        (None, Some(path)) => Some((path, "`CHUKS_BIN`")),
        (None, None) => None,
    };
    let program = match given {
        Some((path, source_name)) => {
            if !path.exists() {
                return Err(CliError::NotFound { path, source_name });
            }
            path
        }
        None => match which::which("chuks") {
            Ok(path) => path,
            Err(_) => return Ok(None),
        },
    };
    let version = version_of(&program)?;
    Ok(Some(OfficialCli { program, version }))
}

fn version_of(program: &Path) -> Result<String, CliError> {
    let not_runnable = |detail: String| CliError::NotRunnable {
        path: program.to_path_buf(),
        detail,
    };
    let mut command = Command::new(program);
    command.arg("--version");
    crate::child_env::inherit_allow_listed(&mut command);
    let run = run_streaming(command, VERSION_TIMEOUT, &|_| {}).map_err(|err| match err {
        RunError::Spawn(err) => not_runnable(err.to_string()),
        RunError::TimedOut => not_runnable("`--version` did not answer".to_string()),
    })?;
    match (run.success, run.last_lines.front()) {
        (true, Some(line)) => Ok(line.clone()),
        (true, None) => Err(not_runnable("`--version` printed nothing".to_string())),
        (false, _) => Err(not_runnable(format!("`--version` failed ({})", run.status))),
    }
}

/// One upload for the CLI to make.
#[derive(Debug, Clone)]
pub struct PublishJob {
    /// The package root, where `chuks publish` runs.
    pub dir: PathBuf,
    /// `Some((platform, file))` for a prebuilt binary.
    pub prebuilt: Option<(String, PathBuf)>,
    /// The registry base, as `CHUKS_REGISTRY_URL` holds it.
    pub registry: String,
    pub timeout: Duration,
}

/// How an upload through the CLI ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    Published,
    /// "already exists" after an earlier attempt failed in a way that may have stored it.
    PublishedByAnEarlierAttempt,
    /// "already exists" on the first try.
    Exists,
}

impl OfficialCli {
    pub fn path(&self) -> &Path {
        &self.program
    }

    /// What `chuks --version` printed.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs `chuks publish` (retrying transient failures as `policy` says), printing its output
    /// on stderr line by line, masked, and maps the outcome.
    pub async fn publish(
        &self,
        job: &PublishJob,
        token: &ApiToken,
        policy: &RetryPolicy,
    ) -> Result<Uploaded, CliError> {
        let failed_before = std::cell::Cell::new(false);
        let attempt = || async {
            let (program, job, token) = (self.program.clone(), job.clone(), token.clone());
            let mut run = tokio::task::spawn_blocking(move || run_publish(&program, &job, &token))
                .await
                .map_err(|err| AttemptError::Fatal(CliError::Spawn(std::io::Error::other(err))))?
                .map_err(AttemptError::Fatal)?;
            let outcome = outcomes::classify(run.success, run.last_lines.make_contiguous());
            let last = run
                .last_lines
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n");
            match outcome {
                Outcome::Published => Ok(Uploaded::Published),
                Outcome::Exists if failed_before.get() => Ok(Uploaded::PublishedByAnEarlierAttempt),
                Outcome::Exists => Ok(Uploaded::Exists),
                Outcome::Transient => {
                    failed_before.set(true);
                    Err(AttemptError::Transient(Transient::new(last_line(&last))))
                }
                Outcome::AuthRefused => Err(AttemptError::Fatal(CliError::AuthRefused {
                    last: last_line(&last),
                })),
                Outcome::SupplyChainRefused => {
                    let hint = crate::registry_client::supply_chain_hint(&last).unwrap_or_default();
                    Err(AttemptError::Fatal(CliError::SupplyChainRefused {
                        last: last_line(&last),
                        hint,
                    }))
                }
                Outcome::Unknown => Err(AttemptError::Fatal(CliError::Failed {
                    status: run.status,
                    last,
                })),
            }
        };
        retry::with_retries(policy, attempt)
            .await
            .map_err(|err| match err {
                RetryError::Fatal(err) => err,
                RetryError::Exhausted { attempts, last } => {
                    CliError::Unavailable { attempts, last }
                }
            })
    }
}

fn last_line(text: &str) -> String {
    text.lines().last().unwrap_or_default().to_string()
}

/// One `chuks publish`, its output on stderr as it comes.
fn run_publish(program: &Path, job: &PublishJob, token: &ApiToken) -> Result<Run, CliError> {
    let mut command = Command::new(program);
    command.arg("publish").current_dir(&job.dir);
    if let Some((platform, file)) = &job.prebuilt {
        command
            .args(["--prebuilt-only", "--platform", platform, "--file"])
            .arg(file);
    }
    crate::child_env::inherit_allow_listed(&mut command);
    // The one child that must have the token gets it here, and only in its environment.
    command
        .env("CHUKS_TOKEN", token.expose())
        .env("CHUKS_REGISTRY_URL", &job.registry);
    let secret = token.expose().to_string();
    let show = move |line: &str| {
        let line = line.replace(&secret, "chuks_pk_****");
        crate::report::write_stderr(&format!("chuks: {}\n", crate::redact::redact(&line)));
    };
    run_streaming(command, job.timeout, &show).map_err(|err| match err {
        RunError::Spawn(err) => CliError::Spawn(err),
        RunError::TimedOut => CliError::TimedOut {
            seconds: job.timeout.as_secs(),
        },
    })
}

/// A finished child: whether it succeeded, how it ended, and its last lines (printable).
struct Run {
    success: bool,
    status: String,
    last_lines: VecDeque<String>,
}

enum RunError {
    Spawn(std::io::Error),
    TimedOut,
}

/// Runs `command` with stdin closed, passing every line of stdout and stderr (control
/// characters escaped) to `show`, and stops it at `timeout`.
fn run_streaming(
    mut command: Command,
    timeout: Duration,
    show: &(dyn Fn(&str) + Sync),
) -> Result<Run, RunError> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::Spawn)?;
    let (lines, received) = mpsc::channel();
    let readers = [
        child
            .stdout
            .take()
            .map(|out| Box::new(out) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|err| Box::new(err) as Box<dyn Read + Send>),
    ];
    for reader in readers.into_iter().flatten() {
        let lines = lines.clone();
        std::thread::spawn(move || forward_lines(reader, &lines));
    }
    drop(lines);
    let deadline = Instant::now() + timeout;
    let mut last_lines = VecDeque::new();
    let status = loop {
        collect(&received, &mut last_lines, show, Duration::from_millis(50));
        match child.try_wait().map_err(RunError::Spawn)? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                stop(&mut child);
                return Err(RunError::TimedOut);
            }
            None => {}
        }
    };
    let grace_ends = Instant::now() + DRAIN_GRACE;
    while Instant::now() < grace_ends {
        if !collect(&received, &mut last_lines, show, Duration::from_millis(50)) {
            break;
        }
    }
    Ok(Run {
        success: status.success(),
        status: status.to_string(),
        last_lines,
    })
}

/// Shows what arrived within `wait`; false once every reader has finished.
fn collect(
    received: &mpsc::Receiver<String>,
    last_lines: &mut VecDeque<String>,
    show: &(dyn Fn(&str) + Sync),
    wait: Duration,
) -> bool {
    loop {
        match received.recv_timeout(wait) {
            Ok(line) => {
                show(&line);
                if last_lines.len() == LAST_LINES {
                    last_lines.pop_front();
                }
                last_lines.push_back(crate::redact::redact(&line).into_owned());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => return true,
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        }
    }
}

fn forward_lines(reader: Box<dyn Read + Send>, lines: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                if lines
                    .send(printable(text.trim_end_matches(['\n', '\r'])))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Control characters shown escaped, so the CLI's output cannot move the cursor or recolour.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c.is_control() && c != '\t' {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_cannot_draw_on_the_terminal() {
        assert_eq!(printable("ok\x1b[2J\tdone\r"), "ok\\u{1b}[2J\tdone\\r");
    }
}
