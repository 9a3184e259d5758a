//! Git queries for the package's repository, run through the `git` binary.
//!
//! git gets the allow-listed environment of [`crate::child_env`]: tokens and other CI secrets
//! never reach it. The write operations of `bump` live in [`write`], on the same command
//! builder.

pub mod write;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::untrusted::Untrusted;

/// Configuration every git command runs with, overriding the repository's (`.git/config`
/// and what it includes): each names a program git would otherwise run, and a program the
/// repository names could read chuks-ci's environment while it holds the token.
/// - `core.fsmonitor`: the file-system monitor hook `status` and `commit` run;
/// - `core.pager`, `core.editor`, `core.askPass`: `cat` and `:` are git's own no-ops;
/// - `core.sshCommand`, `protocol.ext.allow`: the programs a push can be told to run;
/// - `gc.auto`, `maintenance.auto`: no background maintenance after a write.
///
/// Besides these: hooks ([`HOOKS_OFF`]) and signing programs ([`SIGNING_OFF`]) are switched off
/// unless the command is one of `bump`'s writes ([`Honour::HooksAndSigning`]);
/// `credential.helper` is emptied for every command but those that talk to a remote
/// ([`TRANSPORT_COMMANDS`]), which may need the user's or the CI's helper; clean, smudge and
/// process filters are switched off for the commands that compare contents
/// ([`Git::filter_overrides`]); commands that show diffs ([`SHOWS_DIFFS`]) get
/// `--no-ext-diff --no-textconv`. Two settings take their first value, so no `-c` can override
/// a repository's: `remote.<name>.uploadpack`/`receivepack` (which git runs itself for a remote
/// that is a local path) are overridden by the command's own option ([`TRANSPORT_PROGRAMS`]),
/// and `core.gitProxy` by an empty `GIT_PROXY_COMMAND`, which makes git ignore it.
/// `uploadpack.packObjectsHook` is not listed: git ignores it in repository configuration.
const SAFE_CONFIG: &[&str] = &[
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.editor=:",
    "core.askPass=",
    "core.sshCommand=ssh",
    "protocol.ext.allow=never",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// Every hook: `reference-transaction` on `tag`, `pre-push`, the commit hooks.
const HOOKS_OFF: &str = "core.hooksPath=/dev/null";

/// The signing programs `commit`, `tag` and a signed push run when signing is configured.
const SIGNING_OFF: &[&str] = &[
    "gpg.program=gpg",
    "gpg.ssh.program=ssh-keygen",
    "gpg.x509.program=gpgsm",
    "gpg.ssh.defaultKeyCommand=",
];

/// Subcommands that talk to a remote and may need a credential helper.
const TRANSPORT_COMMANDS: &[&str] = &["push", "fetch", "ls-remote"];

/// The option that names git's own program for the other end of a transport, which wins over
/// `remote.<name>.uploadpack` and `receivepack`.
const TRANSPORT_PROGRAMS: &[(&str, &str)] = &[
    ("push", "--receive-pack=git-receive-pack"),
    ("fetch", "--upload-pack=git-upload-pack"),
    ("ls-remote", "--upload-pack=git-upload-pack"),
];

/// Subcommands that may run a clean or smudge filter on the working tree's files.
const COMPARES_CONTENTS: &[&str] = &["status", "add", "commit", "stash", "checkout", "reset"];

/// Subcommands that may run an external diff program or a textconv driver.
const SHOWS_DIFFS: &[&str] = &["show", "diff", "log"];

/// What a git command may run that the configuration names, besides git itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Honour {
    /// Nothing: every query, and `bump`'s `add` and `ls-remote`.
    Nothing,
    /// The hooks and the signing programs: `bump`'s commit, tag and push, which run as the
    /// user's own git would (see the README's security section).
    HooksAndSigning,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "`git` was not found on PATH\nhint: install git, or pass the tag with `--tag` to skip reading it from the repository"
    )]
    NotInstalled,

    #[error("`git {args}` failed: {stderr}\nhint: {hint}")]
    Failed {
        args: String,
        stderr: Untrusted,
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
            return Err(failure("rev-parse --is-shallow-repository", &output.stderr));
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

    /// Changed and untracked (not ignored) files under the package folder, relative to the repo
    /// root.
    pub fn working_tree(&self) -> Result<WorkingTree, GitError> {
        self.start_working_tree().wait()
    }

    /// [`Git::working_tree`], started in the background.
    pub fn start_working_tree(&self) -> Pending<WorkingTree> {
        self.start(&["status", "--porcelain=v1", "-z", "--", "."], parse_status)
    }

    /// Modified or staged tracked files anywhere in the repository except `path` (as seen from
    /// the folder git runs in), relative to the repo root. Untracked files are not listed.
    pub fn dirty_tracked_files_except(&self, path: &str) -> Result<Vec<String>, GitError> {
        let exclude = format!(":(exclude){path}");
        let args = [
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=no",
            "--",
            ":/",
            &exclude,
        ];
        Ok(self.start(&args, parse_status).wait()?.changed)
    }

    /// The current branch's short name; `None` on a detached HEAD.
    pub fn current_branch(&self) -> Result<Option<String>, GitError> {
        self.answer_if_any(&["symbolic-ref", "--quiet", "--short", "HEAD"])
    }

    /// A git config value; `None` when it is not set.
    pub fn config(&self, key: &str) -> Result<Option<String>, GitError> {
        self.answer_if_any(&["config", "--get", key])
    }

    /// The trimmed stdout of a query that fails quietly when there is no answer.
    fn answer_if_any(&self, args: &[&str]) -> Result<Option<String>, GitError> {
        let output = self.output(args)?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
    }

    /// Tags whose names match a `git tag --list` glob.
    pub fn tags_matching(&self, pattern: &str) -> Result<Vec<String>, GitError> {
        let stdout = self.run(&["tag", "--list", pattern])?;
        Ok(stdout.lines().map(str::to_string).collect())
    }

    /// Local branches whose tip is `rev` (`git switch` to one keeps HEAD where it is).
    pub fn branches_at(&self, rev: &str) -> Result<Vec<String>, GitError> {
        self.local_branches("--points-at", rev)
    }

    /// Local branches that contain `rev`.
    pub fn branches_containing(&self, rev: &str) -> Result<Vec<String>, GitError> {
        self.local_branches("--contains", rev)
    }

    fn local_branches(&self, relation: &str, rev: &str) -> Result<Vec<String>, GitError> {
        let args = [
            "for-each-ref",
            relation,
            rev,
            "--format=%(refname)",
            "refs/heads/",
        ];
        Ok(self
            .run(&args)?
            .lines()
            .filter_map(|line| line.strip_prefix("refs/heads/"))
            .map(str::to_string)
            .collect())
    }

    /// The names of the repository's remotes.
    pub fn remotes(&self) -> Result<Vec<String>, GitError> {
        Ok(self.run(&["remote"])?.lines().map(str::to_string).collect())
    }

    /// The path of a file in the git directory (`hooks` honours `core.hooksPath`), relative
    /// to the folder git runs in unless absolute.
    pub fn git_path(&self, name: &str) -> Result<PathBuf, GitError> {
        // `core.hooksPath` as the user configured it: `rev-parse` runs no hook.
        let args = ["rev-parse", "--git-path", name];
        let output = self
            .command_honouring(&args, Honour::HooksAndSigning)
            .output()
            .map_err(GitError::Spawn)?;
        let stdout = succeeded(&CommandOutput {
            args: args.join(" "),
            status: output.status,
            stdout: output.stdout,
            stderr: output.stderr,
        })?;
        let path = Path::new(stdout.trim_end_matches(['\n', '\r']));
        Ok(match self.dir == Path::new(".") {
            true => path.to_path_buf(),
            false => self.dir.join(path),
        })
    }

    /// The folder git runs in, relative to the repository root (`packages/x/`, or empty).
    pub fn prefix(&self) -> Result<String, GitError> {
        Ok(self
            .run(&["rev-parse", "--show-prefix"])?
            .trim_end_matches(['\n', '\r'])
            .to_string())
    }

    /// The repository's top folder.
    pub fn toplevel(&self) -> Result<PathBuf, GitError> {
        let stdout = self.run(&["rev-parse", "--show-toplevel"])?;
        Ok(PathBuf::from(stdout.trim_end_matches(['\n', '\r'])))
    }

    /// The tracked files called `name` anywhere in the repository, relative to its root.
    pub fn tracked_named(&self, name: &str) -> Result<Vec<String>, GitError> {
        let pathspec = format!(":(top,glob)**/{name}");
        let stdout = self.run(&["ls-files", "-z", "--full-name", "--", &pathspec])?;
        Ok(stdout
            .split('\0')
            .filter(|path| !path.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Every file path in `commit`'s tree, relative to the repository root.
    pub fn tree_paths(&self, commit: &str) -> Result<Vec<String>, GitError> {
        let stdout = self.run(&["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit])?;
        Ok(stdout
            .split('\0')
            .filter(|path| !path.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Reads objects named by revision expressions (`<commit>:chuks.json`, `<tag>^{commit}`)
    /// with one `git cat-file --batch`. Contents over `max_bytes` are skipped, not read.
    pub fn objects(&self, names: &[String], max_bytes: u64) -> Result<Vec<Object>, GitError> {
        let args = ["cat-file", "--batch"];
        let mut child = self
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        let mut input = String::new();
        for name in names {
            input.push_str(name);
            input.push('\n');
        }
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Written from another thread: git answers while it reads, and both pipes are bounded.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let objects = names
            .iter()
            .map(|_| read_object(&mut stdout, max_bytes))
            .collect::<std::io::Result<Vec<_>>>();
        drop(stdout);
        let written = writer.join().unwrap_or(Ok(()));
        let output = child.wait_with_output().map_err(GitError::Spawn)?;
        match (objects, written) {
            (Ok(objects), Ok(())) if output.status.success() => Ok(objects),
            _ => Err(failure(&args.join(" "), &output.stderr)),
        }
    }

    /// The commits reachable from `commits` but from none of `excluded` (revisions, or
    /// `--glob=refs/remotes/origin/*`), started in the background: a commit of `commits` is
    /// listed exactly when it is on none of them.
    pub fn start_commits_not_in(
        &self,
        commits: &[String],
        excluded: &[String],
    ) -> Pending<Vec<String>> {
        let mut args = vec!["rev-list"];
        args.extend(commits.iter().map(String::as_str));
        args.push("--not");
        args.extend(excluded.iter().map(String::as_str));
        self.start(&args, |output| {
            Ok(succeeded(output)?.lines().map(str::to_string).collect())
        })
    }

    /// Runs `git args` to the end: its stdout, or the failure it reported.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, GitError> {
        self.start(args, succeeded).wait()
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
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        self.command_honouring(args, Honour::Nothing)
    }

    /// `git args` with the allow-listed environment and the repository-configured programs
    /// disabled, except what `honour` keeps.
    pub(crate) fn command_honouring(&self, args: &[&str], honour: Honour) -> Command {
        let mut command = Command::new(&self.program);
        command.current_dir(&self.dir);
        crate::child_env::inherit_allow_listed(&mut command);
        // No optional locks: `git status` must not take `index.lock` from under the job's own git.
        command
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_PROXY_COMMAND", "");
        // Command-line configuration is read after the repository's, so it wins.
        let subcommand = args.first().copied().unwrap_or_default();
        let mut settings: Vec<String> = SAFE_CONFIG.iter().map(|s| s.to_string()).collect();
        if honour == Honour::Nothing {
            settings.push(HOOKS_OFF.to_string());
            settings.extend(SIGNING_OFF.iter().map(|s| s.to_string()));
        }
        if !TRANSPORT_COMMANDS.contains(&subcommand) {
            settings.push("credential.helper=".to_string());
        }
        if COMPARES_CONTENTS.contains(&subcommand) {
            settings.extend(self.filter_overrides(&command));
        }
        for setting in settings {
            command.arg("-c").arg(setting);
        }
        command.args(args.first());
        if SHOWS_DIFFS.contains(&subcommand) {
            command.args(["--no-ext-diff", "--no-textconv"]);
        }
        for (transport, program) in TRANSPORT_PROGRAMS {
            if *transport == subcommand {
                command.arg(program);
            }
        }
        command.args(args.iter().skip(1));
        command
    }

    /// Settings that switch off every clean, smudge and process filter the configuration
    /// defines: their driver names are the repository's own, so they are listed first (reading
    /// configuration runs nothing). A failing query leaves nothing to switch off.
    fn filter_overrides(&self, command: &Command) -> Vec<String> {
        let mut query = Command::new(&self.program);
        query.current_dir(&self.dir).env_clear();
        for (name, value) in command.get_envs() {
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

/// Parses `git status --porcelain=v1 -z` into the paths it names.
/// What `git status` says of a working tree: files that differ from HEAD (modified, staged,
/// deleted, renamed), and files git does not track and does not ignore, which a pack ships.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingTree {
    pub changed: Vec<String>,
    pub untracked: Vec<String>,
}

fn parse_status(output: &CommandOutput) -> Result<WorkingTree, GitError> {
    let stdout = succeeded(output)?;
    let mut entries = stdout.split('\0').filter(|entry| !entry.is_empty());
    let mut files = WorkingTree::default();
    while let Some(entry) = entries.next() {
        let (status, path) = entry.split_at(3.min(entry.len()));
        match status {
            "?? " => files.untracked.push(path.to_string()),
            _ => files.changed.push(path.to_string()),
        }
        // A rename or copy is followed by its source path as a separate entry.
        if status.starts_with(['R', 'C']) {
            entries.next();
        }
    }
    Ok(files)
}

/// One answer of `git cat-file --batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Found { id: String, contents: Vec<u8> },
    TooLarge { id: String, size: u64 },
    Missing,
}

/// Reads `<id> <type> <size>\n<contents>\n`, or `<name> missing\n`.
fn read_object(stdout: &mut impl BufRead, max_bytes: u64) -> std::io::Result<Object> {
    let unexpected = || std::io::Error::other("unexpected `cat-file` answer");
    let mut header = String::new();
    stdout.read_line(&mut header)?;
    let header = header.trim_end_matches('\n');
    if header.ends_with(" missing") || header.ends_with(" ambiguous") {
        return Ok(Object::Missing);
    }
    let mut fields = header.rsplitn(3, ' ');
    let size: u64 = fields
        .next()
        .and_then(|size| size.parse().ok())
        .ok_or_else(unexpected)?;
    let id = fields.nth(1).ok_or_else(unexpected)?.to_string();
    let mut body = stdout.take(size + 1);
    if size > max_bytes {
        if std::io::copy(&mut body, &mut std::io::sink())? != size + 1 {
            return Err(unexpected());
        }
        return Ok(Object::TooLarge { id, size });
    }
    let mut contents = Vec::with_capacity(size as usize + 1);
    body.read_to_end(&mut contents)?;
    if contents.pop() != Some(b'\n') || contents.len() as u64 != size {
        return Err(unexpected());
    }
    Ok(Object::Found { id, contents })
}

/// The command's stdout, or the failure it reported.
fn succeeded(output: &CommandOutput) -> Result<String, GitError> {
    if !output.status.success() {
        return Err(failure(&output.args, &output.stderr));
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

/// A failed git command: what git said (untrusted: it quotes paths, refs and remote answers)
/// and what to do about it.
pub(crate) fn failure(args: &str, stderr: &[u8]) -> GitError {
    let stderr = Untrusted::lossy(stderr.trim_ascii());
    let hint = remedy(stderr.unescaped()).unwrap_or_else(|| {
        "run the same git command by hand to see what is wrong with the repository".to_string()
    });
    GitError::Failed {
        args: args.to_string(),
        stderr,
        hint,
    }
}

impl GitError {
    /// The fix for a failure git explained (an untrusted checkout, no identity), if it did.
    pub fn remedy(&self) -> Option<String> {
        match self {
            GitError::Failed { stderr, .. } => remedy(stderr.unescaped()),
            _ => None,
        }
    }
}

/// The commands that fix what git says, when it says something chuks-ci knows.
fn remedy(stderr: &str) -> Option<String> {
    if let Some(repository) = dubious_repository(stderr) {
        return Some(format!(
            "mark the repository as safe: `git config --global --add safe.directory {}`",
            Untrusted::new(quote(repository))
        ));
    }
    (stderr.contains("tell me who you are") || stderr.contains("empty ident")).then(|| {
        "set your identity: `git config --global user.name \"Your Name\"` and `git config --global user.email you@example.com`".to_string()
    })
}

/// The repository git refuses for its owner: `detected dubious ownership in repository at
/// '<path>'`.
fn dubious_repository(stderr: &str) -> Option<&str> {
    let line = stderr
        .lines()
        .find(|line| line.contains("dubious ownership"))?;
    let quoted = line.split_once(" at '")?.1;
    quoted.strip_suffix('\'')
}

/// `text` quoted for a POSIX shell.
pub(crate) fn quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| "''".to_string(), |quoted| quoted.into_owned())
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
        assert_eq!(git.working_tree().unwrap(), WorkingTree::default());
        std::fs::write(dir.path().join("new.txt"), "x").unwrap();
        assert_eq!(git.working_tree().unwrap().untracked, ["new.txt"]);
    }

    #[test]
    fn cat_file_answers_are_read_in_order_and_large_ones_skipped() {
        let id = "a".repeat(40);
        let answers = format!(
            "{id} blob 5\nhello\nsome:path with spaces missing\n{id} blob 12\n0123456789ab\n{id} blob 0\n\n"
        );
        let mut stdout = std::io::Cursor::new(answers.into_bytes());
        let read = |stdout: &mut std::io::Cursor<Vec<u8>>| read_object(stdout, 8).unwrap();
        let found = |contents: &[u8]| Object::Found {
            id: id.clone(),
            contents: contents.to_vec(),
        };
        assert_eq!(read(&mut stdout), found(b"hello"));
        assert_eq!(read(&mut stdout), Object::Missing);
        assert_eq!(
            read(&mut stdout),
            Object::TooLarge {
                id: id.clone(),
                size: 12
            }
        );
        assert_eq!(read(&mut stdout), found(b""));
        for truncated in ["x blob 9\nshort\n", "x blob 7\nshort\n"] {
            let mut stdout = std::io::Cursor::new(truncated.as_bytes().to_vec());
            assert!(read_object(&mut stdout, 8).is_err(), "{truncated}");
        }
    }

    #[test]
    fn a_query_that_is_never_collected_is_still_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::locate(dir.path()).unwrap();
        git_in(dir.path(), &["init", "-q"]);
        // Dropped unread: the drop waits for git, so nothing outlives the check.
        drop(git.start_working_tree());
        assert!(git.start_tags_at_head().wait().is_err(), "HEAD is unborn");
    }

    #[test]
    fn git_names_the_repository_to_mark_safe() {
        let stderr = "fatal: detected dubious ownership in repository at '/tmp/dub q'\nTo add an exception for this directory, call:\n\n\tgit config --global --add safe.directory '/tmp/dub q'";
        assert_eq!(dubious_repository(stderr), Some("/tmp/dub q"));
        let hint = remedy(stderr).unwrap();
        assert!(
            hint.ends_with("`git config --global --add safe.directory '/tmp/dub q'`"),
            "{hint}"
        );
        assert_eq!(remedy("fatal: not a git repository"), None);
    }

    /// A program file that records that it ran by creating `marker`.
    #[cfg(unix)]
    fn marker_program(dir: &Path, name: &str, marker: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.to_string_lossy()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn a_remote_query_runs_no_program_the_repository_names() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::locate(dir.path()).unwrap();
        git_in(dir.path(), &["init", "-q"]);
        let identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"];
        git_in(
            dir.path(),
            &[&identity[..], &["commit", "-q", "--allow-empty", "-m", "x"]].concat(),
        );
        let marker = dir.path().join("ran");
        let program = marker_program(dir.path(), "program", &marker);
        let program = program.to_string_lossy().into_owned();
        for (key, value) in [
            ("core.gitProxy", program.as_str()),
            ("core.sshCommand", program.as_str()),
            ("remote.local.uploadpack", program.as_str()),
            ("remote.local.receivepack", program.as_str()),
            ("remote.local.url", "."),
            ("remote.proxied.url", "git://127.0.0.1:9/x"),
            ("remote.ssh.url", "ssh://127.0.0.1:9/x"),
        ] {
            git_in(dir.path(), &["config", key, value]);
        }
        for remote in ["local", "proxied", "ssh"] {
            let _ = git.command(&["ls-remote", remote]).output().unwrap();
            assert!(!marker.exists(), "`ls-remote {remote}` ran the program");
        }
        let push = ["push", "local", "HEAD:refs/heads/elsewhere"];
        let _ = git
            .command_honouring(&push, Honour::HooksAndSigning)
            .output()
            .unwrap();
        assert!(!marker.exists(), "`push` ran the program");
        // The same commands without the overrides do run it: the test can fail.
        for args in [&["ls-remote", "local"][..], &push] {
            let _ = Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .output()
                .unwrap();
            assert!(marker.exists(), "{args:?}");
            std::fs::remove_file(&marker).unwrap();
        }
    }
}
