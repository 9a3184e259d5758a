//! Read-only git queries for the package's repository, run through the `git` binary.
//!
//! git gets the allow-listed environment of [`crate::child_env`]: tokens and other CI secrets
//! never reach it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Configuration every git command runs with, overriding the repository's (`.git/config`
/// and what it includes): each names a program git would otherwise run, and a program the
/// repository names could read chuks-ci's environment while it holds the token.
/// - `core.fsmonitor`: the file-system monitor hook `status` runs;
/// - `core.hooksPath`: every hook (`reference-transaction` on `tag`, `pre-push`, commit hooks);
/// - `core.pager`, `core.editor`, `core.askPass`: `cat` and `:` are git's own no-ops;
/// - `core.sshCommand`, `protocol.ext.allow`: the programs a push can be told to run;
/// - `gpg.*`: the signing programs `commit` and `tag` run when signing is configured;
/// - `gc.auto`, `maintenance.auto`: no background maintenance after a write.
///
/// Besides these: `credential.helper` is emptied for every command but a push or fetch
/// ([`TRANSPORT_COMMANDS`]), which may need the CI's helper; commands that compare file
/// contents ([`COMPARES_CONTENTS`]) run with every configured clean/smudge/process filter
/// emptied; commands that show diffs ([`SHOWS_DIFFS`]) get `--no-ext-diff --no-textconv`.
/// `uploadpack.packObjectsHook` is not listed: git ignores it in repository configuration.
const SAFE_CONFIG: &[&str] = &[
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.editor=:",
    "core.askPass=",
    "core.sshCommand=ssh",
    "protocol.ext.allow=never",
    "gpg.program=gpg",
    "gpg.ssh.program=ssh-keygen",
    "gpg.x509.program=gpgsm",
    "gpg.ssh.defaultKeyCommand=",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// Subcommands that talk to a remote and may need a credential helper.
const TRANSPORT_COMMANDS: &[&str] = &["push", "fetch"];

/// Subcommands that may run a clean or smudge filter on the working tree's files.
const COMPARES_CONTENTS: &[&str] = &["status", "add", "commit", "stash", "checkout", "reset"];

/// Subcommands that may run an external diff program or a textconv driver.
const SHOWS_DIFFS: &[&str] = &["show", "diff", "log"];

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "`git` was not found on PATH\nhint: install git, or pass the tag with `--tag` to skip reading it from the repository"
    )]
    NotInstalled,

    #[error("`git {args}` failed: {stderr}\nhint: {hint}")]
    Failed {
        args: String,
        stderr: String,
        hint: String,
    },

    #[error("could not run `git`: {0}\nhint: check that git is installed and runnable")]
    Spawn(std::io::Error),
}

/// A repository as seen from the package folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub shallow: bool,
    /// The commit HEAD points at; `None` in a repository without commits.
    pub head: Option<String>,
}

/// The `git` binary, run in the package folder.
#[derive(Debug, Clone)]
pub struct Git {
    program: PathBuf,
    dir: PathBuf,
}

impl Git {
    /// Finds `git` on PATH; it will run in `dir`.
    pub fn locate(dir: &Path) -> Result<Git, GitError> {
        let program = which::which("git").map_err(|_| GitError::NotInstalled)?;
        Ok(Git {
            program,
            dir: dir.to_path_buf(),
        })
    }

    /// The repository around the folder, or `None` when it is not in one.
    pub fn repo(&self) -> Result<Option<Repo>, GitError> {
        // One process for both answers: the query prints first, then `--verify` resolves HEAD,
        // failing quietly (status 1, nothing on stderr) when there are no commits yet.
        let output = self.output(&[
            "rev-parse",
            "--is-shallow-repository",
            "--verify",
            "--quiet",
            "HEAD^{commit}",
        ])?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        if lines.is_empty() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("not a git repository") {
                return Ok(None);
            }
            return Err(failure("rev-parse --is-shallow-repository", &stderr));
        }
        let head = match (output.status.success(), lines.get(1)) {
            (true, Some(commit)) => Some(commit.trim().to_string()),
            _ => None,
        };
        Ok(Some(Repo {
            shallow: lines[0] == "true",
            head,
        }))
    }

    /// Tags that point at HEAD, annotated ones included (git peels them).
    pub fn tags_at_head(&self) -> Result<Vec<String>, GitError> {
        self.start_tags_at_head().wait()
    }

    /// [`Git::tags_at_head`], started in the background.
    pub fn start_tags_at_head(&self) -> Pending<Vec<String>> {
        self.start(&["tag", "--points-at", "HEAD"], |output| {
            Ok(succeeded(output)?.lines().map(str::to_string).collect())
        })
    }

    /// The commit a tag points at, annotated tags peeled; `None` if the tag does not exist.
    pub fn tag_commit(&self, tag: &str) -> Result<Option<String>, GitError> {
        self.start_tag_commit(tag).wait()
    }

    /// [`Git::tag_commit`], started in the background.
    pub fn start_tag_commit(&self, tag: &str) -> Pending<Option<String>> {
        let peeled = format!("refs/tags/{tag}^{{commit}}");
        self.start(&["rev-parse", "--verify", "--quiet", &peeled], |output| {
            Ok(output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
        })
    }

    /// The remote-tracking branches that contain HEAD (what `git branch -r --contains HEAD`
    /// lists); empty without commits.
    pub fn start_remote_branches_containing_head(&self) -> Pending<Vec<String>> {
        let args = [
            "for-each-ref",
            "--contains",
            "HEAD",
            "--format=%(refname)",
            "refs/remotes/",
        ];
        self.start(&args, |output| {
            // An unborn HEAD contains nothing; that is reported elsewhere.
            Ok(match output.status.success() {
                true => String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect(),
                false => Vec::new(),
            })
        })
    }

    /// Whether the clone has any remote-tracking branch at all.
    pub fn has_remote_branches(&self) -> Result<bool, GitError> {
        let args = [
            "for-each-ref",
            "--count=1",
            "--format=%(refname)",
            "refs/remotes/",
        ];
        self.start(&args, |output| Ok(!succeeded(output)?.trim().is_empty()))
            .wait()
    }

    /// Modified, staged or untracked files under the package folder, relative to the repo root.
    pub fn dirty_files(&self) -> Result<Vec<String>, GitError> {
        self.start_dirty_files().wait()
    }

    /// [`Git::dirty_files`], started in the background.
    pub fn start_dirty_files(&self) -> Pending<Vec<String>> {
        self.start(&["status", "--porcelain=v1", "-z", "--", "."], |output| {
            let stdout = succeeded(output)?;
            let mut entries = stdout.split('\0').filter(|entry| !entry.is_empty());
            let mut files = Vec::new();
            while let Some(entry) = entries.next() {
                let (status, path) = entry.split_at(3.min(entry.len()));
                files.push(path.to_string());
                // A rename or copy is followed by its source path as a separate entry.
                if status.starts_with(['R', 'C']) {
                    entries.next();
                }
            }
            Ok(files)
        })
    }

    /// Starts `git args` without waiting; `parse` turns its output into the answer.
    fn start<T>(&self, args: &[&str], parse: Parse<T>) -> Pending<T> {
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn);
        Pending {
            child: Some(child),
            args: args.join(" "),
            parse,
        }
    }

    fn output(&self, args: &[&str]) -> Result<std::process::Output, GitError> {
        self.command(args).output().map_err(GitError::Spawn)
    }

    /// `git args`, with the allow-listed environment and every repository-configured program
    /// disabled (see [`SAFE_CONFIG`]).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command.current_dir(&self.dir);
        crate::child_env::inherit_allow_listed(&mut command);
        // No optional locks: `git status` must not take `index.lock` from under the job's own git.
        command
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0");
        // Command-line configuration is read after the repository's, so it wins.
        let subcommand = args.first().copied().unwrap_or_default();
        for setting in SAFE_CONFIG {
            command.args(["-c", setting]);
        }
        if !TRANSPORT_COMMANDS.contains(&subcommand) {
            command.args(["-c", "credential.helper="]);
        }
        if COMPARES_CONTENTS.contains(&subcommand) {
            for setting in self.filter_overrides(command.get_envs()) {
                command.arg("-c").arg(setting);
            }
        }
        command.args(args.first());
        if SHOWS_DIFFS.contains(&subcommand) {
            command.args(["--no-ext-diff", "--no-textconv"]);
        }
        command.args(args.iter().skip(1));
        command
    }

    /// Settings that switch off every clean, smudge and process filter the configuration
    /// defines: their driver names are the repository's own, so they are listed first (reading
    /// configuration runs nothing). A failing query leaves nothing to switch off.
    fn filter_overrides<'a>(
        &self,
        env: impl Iterator<Item = (&'a std::ffi::OsStr, Option<&'a std::ffi::OsStr>)>,
    ) -> Vec<String> {
        let mut query = Command::new(&self.program);
        query.current_dir(&self.dir).env_clear();
        for (name, value) in env {
            if let Some(value) = value {
                query.env(name, value);
            }
        }
        let output = query
            .args(["config", "--null", "--name-only", "--get-regexp"])
            .arg(r"^filter\..*\.(clean|smudge|process|required)$")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let Ok(output) = output else {
            return Vec::new();
        };
        let keys = String::from_utf8_lossy(&output.stdout);
        let mut drivers: Vec<&str> = keys
            .split('\0')
            .filter_map(|key| key.strip_prefix("filter.")?.rsplit_once('.'))
            .map(|(driver, _)| driver)
            .collect();
        drivers.sort_unstable();
        drivers.dedup();
        drivers
            .iter()
            .flat_map(|driver| {
                ["clean=", "smudge=", "process=", "required=false"]
                    .map(|setting| format!("filter.{driver}.{setting}"))
            })
            .collect()
    }
}

/// Turns a finished git command into its answer.
type Parse<T> = fn(&CommandOutput) -> Result<T, GitError>;

/// A finished git command, with the arguments it ran with for error messages.
struct CommandOutput {
    args: String,
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// The command's stdout, or the failure it reported.
fn succeeded(output: &CommandOutput) -> Result<String, GitError> {
    if !output.status.success() {
        return Err(failure(
            &output.args,
            &String::from_utf8_lossy(&output.stderr),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A git query running in the background. Each git process takes about a millisecond to
/// start, most of what a tag check costs, so the checks start the queries they will need
/// together and collect the answers in their usual order.
pub struct Pending<T> {
    child: Option<Result<Child, GitError>>,
    args: String,
    parse: Parse<T>,
}

impl<T> Pending<T> {
    /// Waits for the command and returns its answer.
    pub fn wait(mut self) -> Result<T, GitError> {
        let child = self
            .child
            .take()
            .expect("a pending query is collected once")?;
        let output = child.wait_with_output().map_err(GitError::Spawn)?;
        (self.parse)(&CommandOutput {
            args: std::mem::take(&mut self.args),
            status: output.status,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }
}

impl<T> Drop for Pending<T> {
    /// An answer that is no longer needed is still waited for, never killed: a `git status`
    /// killed mid-write would leave `index.lock` behind. Its pipes are drained so it cannot
    /// block on a full one.
    fn drop(&mut self) {
        if let Some(Ok(child)) = self.child.take() {
            let _ = child.wait_with_output();
        }
    }
}

fn failure(args: &str, stderr: &str) -> GitError {
    let stderr = stderr.trim().to_string();
    let hint = if stderr.contains("dubious ownership") {
        "mark the checkout as safe: `git config --global --add safe.directory \"$PWD\"`".to_string()
    } else {
        "run the same git command by hand to see what is wrong with the repository".to_string()
    };
    GitError::Failed {
        args: args.to_string(),
        stderr,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(dir: &Path, args: &[&str]) {
        // Isolated from the machine's git config (signing, hooks, templates).
        let status = Git::locate(dir)
            .unwrap()
            .command(args)
            .env("HOME", dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn repo_reads_shallowness_and_head_in_one_query() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::locate(dir.path()).unwrap();
        git_in(dir.path(), &["init", "-q"]);
        let unborn = git.repo().unwrap().expect("a repository");
        assert!(!unborn.shallow);
        assert_eq!(unborn.head, None, "no commits yet");

        git_in(
            dir.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "first",
            ],
        );
        let born = git.repo().unwrap().expect("a repository");
        let head = born.head.expect("a commit");
        assert_eq!(head.len(), 40, "{head}");
        assert_eq!(git.tag_commit("v1.0.0").unwrap(), None);
        git_in(dir.path(), &["tag", "v1.0.0"]);
        assert_eq!(git.tag_commit("v1.0.0").unwrap(), Some(head.clone()));
        assert_eq!(git.tags_at_head().unwrap(), ["v1.0.0"]);
        assert_eq!(git.dirty_files().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_query_that_is_never_collected_is_still_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::locate(dir.path()).unwrap();
        git_in(dir.path(), &["init", "-q"]);
        // Dropped unread: the drop waits for git, so nothing outlives the check.
        drop(git.start_dirty_files());
        assert!(git.start_tags_at_head().wait().is_err(), "HEAD is unborn");
    }
}
