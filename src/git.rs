//! Read-only git queries for the package's repository, run through the `git` binary.
//!
//! git gets an allow-listed environment: tokens and other CI secrets never reach it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::exit::{Exit, HasExit};

/// The only variables git inherits. chuks-ci runs git read-only and offline, so it needs no
/// credentials; an allow-list keeps every CI secret (tokens, OIDC request tokens…) away from it.
const INHERITED_ENV_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "XDG_CONFIG_HOME",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
];

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

impl HasExit for GitError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
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
        let output = self.output(&["rev-parse", "--is-shallow-repository"])?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("not a git repository") {
                return Ok(None);
            }
            return Err(failure("rev-parse --is-shallow-repository", &stderr));
        }
        let shallow = String::from_utf8_lossy(&output.stdout).trim() == "true";
        let head = self.commit_of("HEAD")?;
        Ok(Some(Repo { shallow, head }))
    }

    /// Tags that point at HEAD, annotated ones included (git peels them).
    pub fn tags_at_head(&self) -> Result<Vec<String>, GitError> {
        let stdout = self.run(&["tag", "--points-at", "HEAD"])?;
        Ok(stdout.lines().map(str::to_string).collect())
    }

    /// The commit a tag points at, annotated tags peeled; `None` if the tag does not exist.
    pub fn tag_commit(&self, tag: &str) -> Result<Option<String>, GitError> {
        self.commit_of(&format!("refs/tags/{tag}"))
    }

    /// Modified, staged or untracked files under the package folder, relative to the repo root.
    pub fn dirty_files(&self) -> Result<Vec<String>, GitError> {
        let stdout = self.run(&["status", "--porcelain=v1", "-z", "--", "."])?;
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
    }

    fn commit_of(&self, reference: &str) -> Result<Option<String>, GitError> {
        let peeled = format!("{reference}^{{commit}}");
        let output = self.output(&["rev-parse", "--verify", "--quiet", &peeled])?;
        if output.status.success() {
            Ok(Some(
                String::from_utf8_lossy(&output.stdout).trim().to_string(),
            ))
        } else {
            Ok(None)
        }
    }

    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(failure(
                &args.join(" "),
                &String::from_utf8_lossy(&output.stderr),
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn output(&self, args: &[&str]) -> Result<std::process::Output, GitError> {
        let mut command = Command::new(&self.program);
        command.args(args).current_dir(&self.dir).env_clear();
        for name in INHERITED_ENV_VARS {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.env("LC_ALL", "C").env("GIT_TERMINAL_PROMPT", "0");
        command.output().map_err(GitError::Spawn)
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
