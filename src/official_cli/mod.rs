//! The official `chuks` CLI as an uploader: found through `--chuks-bin`, `CHUKS_BIN` or PATH
//! (made absolute once, so every run starts the same binary), run in the package root with the
//! token only in its environment and contained ([`contained`]: its own process group, bounded
//! output, the token masked in its encodings), its lines shown as [`Untrusted`] text, its
//! outcome read from one table ([`outcomes`]) and retried by the shared policy.

mod contained;
mod group;
mod outcomes;
mod pump;

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use contained::{Finished, Line, MAX_LINE_BYTES, RunError};
use outcomes::{Failure, FinalErrorLine};

use crate::redact::KnownSecret;
use crate::registry_client::{ClientError, RegistryClient};
use crate::report::Reporter;
use crate::retry::{self, AttemptError, RetryError, RetryPolicy, Transient};
use crate::token::ApiToken;
use crate::untrusted::Untrusted;
use crate::upload::{Artifact, Sent, Stored, Tarball, Upload};

/// How many of the CLI's last lines an error quotes.
const LAST_LINES: usize = 12;

/// How long `chuks --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// What the token is shown as, in whatever form the CLI echoes it.
const MASKED_TOKEN: &str = "chuks_pk_****";

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "{source_name} names `{}`, which does not exist\nhint: pass the path of the official `chuks` binary, or leave {source_name} unset to use `chuks` from PATH",
        crate::untrusted::Untrusted::path(path)
    )]
    NotFound {
        path: PathBuf,
        source_name: &'static str,
    },

    #[error(
        "`{}` does not run as the official `chuks` CLI: {detail}\nhint: check that it is the `chuks` binary for this platform and is executable (`{} --version`)",
        crate::untrusted::Untrusted::path(path),
        crate::untrusted::Untrusted::path(path)
    )]
    NotRunnable { path: PathBuf, detail: String },

    #[error(
        "`--uploader chuks` needs the official `chuks` CLI, which is not on PATH\nhint: install it (the GitHub action, GitLab and Bitbucket templates do, pinned by `chuks-version`), pass `--chuks-bin PATH`, or use `--uploader http`"
    )]
    Missing,

    #[error(
        "the registry refused the token (the official CLI said: {said})\nhint: give the token the `packages:publish` scope, or rotate it if it expired or was revoked: generate a new one in the dashboard's API Tokens tab and update the CI secret"
    )]
    AuthRefused { said: Untrusted },

    #[error("the registry refused the package (the official CLI said: {said})\nhint: {hint}")]
    SupplyChainRefused { said: Untrusted, hint: String },

    #[error(
        "the official CLI failed {attempts} time(s): {last}\nhint: the network or the registry is failing; a re-run is safe"
    )]
    Unavailable { attempts: u32, last: String },

    #[error(
        "the official CLI did not finish within {seconds}s and was stopped, with everything it started\nhint: a re-run is safe; raise `--upload-timeout` for a slow network"
    )]
    TimedOut { seconds: u64 },

    #[error(
        "the official CLI failed ({status}); its last lines:\n{last}\nhint: read its output above; a re-run is safe once the cause is fixed"
    )]
    Failed { status: String, last: LastLines },

    #[error(
        "the official CLI said {what} already exists, but the registry does not hold it; its error line: {said}\nhint: nothing was published; read the CLI's output above for why it failed, then re-run"
    )]
    ExistsRefuted { what: String, said: Untrusted },

    #[error(
        "the official CLI packs {what} itself, and cannot send a tarball chuks-ci packed\nhint: this is a bug in chuks-ci, please report it; `--uploader http` sends the tarball meanwhile"
    )]
    Prepacked { what: String },

    #[error(
        "cannot run the official CLI: {0}\nhint: check that `--chuks-bin` or `chuks` on PATH is executable"
    )]
    Spawn(std::io::Error),

    /// Reading the registry to weigh the CLI's "already exists" failed.
    #[error(transparent)]
    Registry(ClientError),
}

/// The CLI's last lines, one to a line, indented under the message that quotes them.
#[derive(Debug, Default)]
pub struct LastLines(Vec<Untrusted>);

impl fmt::Display for LastLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("  (it printed nothing)");
        }
        for (index, line) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_char('\n')?;
            }
            write!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// The official CLI, found and answering `--version`.
#[derive(Debug, Clone)]
pub struct OfficialCli {
    /// Absolute: `--version` and the upload run from different folders.
    program: PathBuf,
    version: Untrusted,
}

/// Finds the CLI: `flag` (`--chuks-bin`), then `env` (`CHUKS_BIN`), then `chuks` on PATH.
/// `None` when none is given and PATH has none; a given path that is missing or does not run
/// is an error. A relative path is made absolute here, against the current folder, once.
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
    let program = std::path::absolute(&program).map_err(|err| CliError::NotRunnable {
        path: program.clone(),
        detail: format!("cannot make its path absolute: {err}"),
    })?;
    let version = version_of(&program)?;
    Ok(Some(OfficialCli { program, version }))
}

fn version_of(program: &Path) -> Result<Untrusted, CliError> {
    let not_runnable = |detail: String| CliError::NotRunnable {
        path: program.to_path_buf(),
        detail,
    };
    let mut command = Command::new(program);
    command.arg("--version");
    crate::child_env::inherit_allow_listed(&mut command);
    let mut first = None;
    let mut keep_first = |lines: &[Line]| {
        first = first
            .take()
            .or_else(|| lines.first().map(|l| l.text.clone()));
    };
    let run =
        contained::run(command, VERSION_TIMEOUT, None, &mut keep_first).map_err(
            |err| match err {
                RunError::Io(err) => not_runnable(err.to_string()),
                RunError::TimedOut => not_runnable("`--version` did not answer".to_string()),
            },
        )?;
    match (run.status.success(), first) {
        (true, Some(line)) => Ok(line),
        (true, None) => Err(not_runnable("`--version` printed nothing".to_string())),
        (false, _) => Err(not_runnable(format!("`--version` failed ({})", run.status))),
    }
}

/// How the CLI makes one upload.
pub struct PublishJob<'a> {
    /// The package root, where `chuks publish` runs.
    pub dir: &'a Path,
    /// The registry it uploads to; its "already exists" is read back from there.
    pub registry: &'a RegistryClient,
    /// The one secret the CLI gets, in its environment only.
    pub token: &'a ApiToken,
    /// For one attempt, after which the CLI is stopped with everything it started.
    pub timeout: Duration,
    pub retry: &'a RetryPolicy,
}

impl OfficialCli {
    pub fn path(&self) -> &Path {
        &self.program
    }

    /// What `chuks --version` printed.
    pub fn version(&self) -> &Untrusted {
        &self.version
    }

    /// Runs `chuks publish` for `upload` (retrying transient failures as the job's policy says),
    /// printing its output on stderr line by line, masked, and says how the upload ended. Its
    /// "already exists" is a claim that one read of the registry weighs.
    pub async fn publish(
        &self,
        job: &PublishJob<'_>,
        upload: &Upload<'_>,
        reporter: &Reporter,
    ) -> Result<Sent, CliError> {
        let secret = Arc::new(KnownSecret::new(job.token.expose(), MASKED_TOKEN));
        let failed_before = std::cell::Cell::new(false);
        let attempt = || async {
            let command = self.publish_command(job, upload)?;
            let (timeout, github_actions) = (job.timeout, reporter.github_actions());
            let secret = Arc::clone(&secret);
            let run = tokio::task::spawn_blocking(move || {
                run_publish(command, timeout, github_actions, &secret)
            })
            .await
            .map_err(|err| AttemptError::Fatal(CliError::Spawn(std::io::Error::other(err))))?
            .map_err(AttemptError::Fatal)?;
            if run.success {
                return Ok(Sent::Published);
            }
            let failure = outcomes::classify(run.error_line.as_ref());
            let said = run.error_line.unwrap_or_default();
            match failure {
                Failure::Exists if failed_before.get() => {
                    reporter.note(format!(
                        "published: an earlier attempt failed on the way, and the retry found {} already there, so that attempt stored it",
                        upload.what()
                    ));
                    Ok(Sent::Published)
                }
                Failure::Exists => weigh_exists(job.registry, upload, said)
                    .await
                    .map_err(AttemptError::Fatal),
                Failure::Transient => {
                    failed_before.set(true);
                    Err(AttemptError::Transient(Transient::new(said.to_string())))
                }
                Failure::AuthRefused => Err(AttemptError::Fatal(CliError::AuthRefused { said })),
                Failure::SupplyChainRefused => {
                    let hint = crate::registry_client::supply_chain_hint(said.unescaped())
                        .unwrap_or_default();
                    Err(AttemptError::Fatal(CliError::SupplyChainRefused {
                        said,
                        hint,
                    }))
                }
                Failure::Unknown => Err(AttemptError::Fatal(CliError::Failed {
                    status: run.status,
                    last: run.last,
                })),
            }
        };
        retry::with_retries(job.retry, attempt)
            .await
            .map_err(|err| match err {
                RetryError::Fatal(err) => err,
                RetryError::Exhausted { attempts, last } => {
                    CliError::Unavailable { attempts, last }
                }
            })
    }

    /// `chuks publish` in the package root, for a prebuilt with its platform and file; the
    /// token only in its environment.
    fn publish_command(
        &self,
        job: &PublishJob<'_>,
        upload: &Upload<'_>,
    ) -> Result<Command, AttemptError<CliError>> {
        let mut command = Command::new(&self.program);
        command.arg("publish").current_dir(job.dir);
        match &upload.artifact {
            Artifact::Prebuilt { platform, binary } => {
                command
                    .args(["--prebuilt-only", "--platform", platform, "--file"])
                    .arg(binary.path);
            }
            Artifact::Source {
                tarball: Tarball::PackedByTheCli,
                ..
            } => {}
            Artifact::Source {
                tarball: Tarball::Packed(_),
                ..
            } => {
                return Err(AttemptError::Fatal(CliError::Prepacked {
                    what: upload.what(),
                }));
            }
        }
        crate::child_env::inherit_allow_listed(&mut command);
        // The one child that must have the token gets it here, and only in its environment.
        command
            .env("CHUKS_TOKEN", job.token.expose())
            .env("CHUKS_REGISTRY_URL", job.registry.base_url());
        Ok(command)
    }
}

/// The stronger evidence wins over the CLI's "already exists": a registry that does not hold
/// the version (or this prebuilt) refutes it; one without the read leaves it uncompared.
async fn weigh_exists(
    registry: &RegistryClient,
    upload: &Upload<'_>,
    said: Untrusted,
) -> Result<Sent, CliError> {
    match registry.stored(upload).await {
        Ok(Some(stored)) => Ok(Sent::Exists(stored)),
        Ok(None) => Err(CliError::ExistsRefuted {
            what: upload.what(),
            said,
        }),
        Err(ClientError::RouteMissing { .. }) => Ok(Sent::Exists(Stored::Unknown)),
        Err(err) => Err(CliError::Registry(err)),
    }
}

/// What one `chuks publish` left to decide its outcome.
struct Attempt {
    success: bool,
    status: String,
    error_line: Option<Untrusted>,
    last: LastLines,
}

/// Runs one `chuks publish`, its output on stderr as it comes; in GitHub Actions inside a
/// `::stop-commands::` block.
fn run_publish(
    command: Command,
    timeout: Duration,
    github_actions: bool,
    secret: &KnownSecret,
) -> Result<Attempt, CliError> {
    let mut transcript = Transcript::default();
    let finished = {
        let _block = CommandsStopped::open(github_actions);
        contained::run(command, timeout, Some(secret), &mut |lines| {
            transcript.show(lines);
        })
    };
    let Finished { status, cut_bytes } = finished.map_err(|err| match err {
        RunError::Io(err) => CliError::Spawn(err),
        RunError::TimedOut => CliError::TimedOut {
            seconds: timeout.as_secs(),
        },
    })?;
    if cut_bytes > 0 {
        crate::report::write_stderr(&format!(
            "chuks-ci: the official CLI printed lines longer than {MAX_LINE_BYTES} bytes; {cut_bytes} bytes of over-long lines were not shown\n"
        ));
    }
    Ok(Attempt {
        success: status.success(),
        status: status.to_string(),
        error_line: transcript.error_line.get().cloned(),
        last: LastLines(transcript.last.into()),
    })
}

/// The CLI's lines as they are shown, and what is kept of them: its last lines and its final
/// error line, from its own words only.
#[derive(Default)]
struct Transcript {
    last: VecDeque<Untrusted>,
    error_line: FinalErrorLine,
}

impl Transcript {
    fn show(&mut self, lines: &[Line]) {
        let mut shown = String::new();
        for line in lines {
            let label = match line.own {
                true => "chuks",
                false => "chuks (after it exited)",
            };
            // Writing to a String cannot fail.
            let _ = writeln!(shown, "{label}: {}", line.text);
            if line.own {
                self.error_line.observe(&line.text);
                if self.last.len() == LAST_LINES {
                    self.last.pop_front();
                }
                self.last.push_back(line.text.clone());
            }
        }
        crate::report::write_stderr(&shown);
    }
}

/// In GitHub Actions, the CLI's lines are shown between `::stop-commands::<token>` and
/// `::<token>::` on the stream they go to, so the runner obeys no workflow command in them even
/// if the escaping missed one. The token is random, so the CLI cannot end the block itself.
struct CommandsStopped(Option<String>);

impl CommandsStopped {
    fn open(github_actions: bool) -> CommandsStopped {
        let mut random = [0u8; 16];
        // Without randomness there is no block, and the escaping of every line stands alone.
        let token = (github_actions && getrandom::fill(&mut random).is_ok()).then(|| {
            random
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        });
        if let Some(token) = &token {
            crate::report::write_stderr(&format!("::stop-commands::{token}\n"));
        }
        CommandsStopped(token)
    }
}

impl Drop for CommandsStopped {
    fn drop(&mut self) {
        if let Some(token) = &self.0 {
            crate::report::write_stderr(&format!("::{token}::\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_are_escaped_one_to_a_line() {
        let last = LastLines(vec![
            Untrusted::from("ok\x1b[2J done"),
            Untrusted::from("::add-mask::x\nerror: forged"),
        ]);
        assert_eq!(
            last.to_string(),
            "  ok\\u{1b}[2J done\n  :\\u{3a}add-mask:\\u{3a}x\\nerror: forged"
        );
        assert_eq!(LastLines::default().to_string(), "  (it printed nothing)");
    }
}
