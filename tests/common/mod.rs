//! Shared test fixtures: real git repositories in temp dirs and a hermetic `chuks-ci` command.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.
#![allow(dead_code)] // Each test binary uses a different subset of these helpers.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use tempfile::TempDir;

/// A `chuks-ci` command with an empty environment except PATH and a private HOME, so nothing
/// from the machine or the CI running the tests (GITHUB_*, CI, CHUKS_TOKEN…) leaks in.
pub fn chuks_ci(home: &Path) -> Command {
    let mut command = Command::cargo_bin("chuks-ci").unwrap();
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1");
    command
}

/// A git repository holding one Chuks package at its root.
pub struct PackageRepo {
    pub dir: TempDir,
}

impl PackageRepo {
    /// `git init` with a chuks.json for `name`@`version` and a source file, committed.
    pub fn new(name: &str, version: &str) -> PackageRepo {
        let repo = PackageRepo::uncommitted(&manifest_json(name, version));
        repo.write(
            "src/index.chuks",
            "export function answer(): int { return 42 }\n",
        );
        repo.commit("initial commit");
        repo
    }

    /// `git init` with the given chuks.json text, nothing committed.
    pub fn uncommitted(manifest: &str) -> PackageRepo {
        let repo = PackageRepo {
            dir: TempDir::new().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("chuks.json", manifest);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifest(&self) -> PathBuf {
        self.path().join("chuks.json")
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// Pushes `main` to a bare repository added as the remote `bare` (tests that need `origin`
    /// for something else keep it), creating it on first use, so the commit is on a remote
    /// branch as the official CLI requires.
    pub fn push(&self) {
        let remote = self.bare_remote();
        if !remote.exists() {
            git_in(
                self.path(),
                &["init", "-q", "--bare", remote.to_str().unwrap()],
            );
            self.git(&["remote", "add", "bare", remote.to_str().unwrap()]);
        }
        self.git(&["push", "-q", "bare", "main"]);
    }

    /// The bare repository [`PackageRepo::push`] pushes to.
    pub fn bare_remote(&self) -> PathBuf {
        self.path().join(".git/bare.git")
    }

    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    pub fn annotated_tag(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", &format!("release {name}")]);
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Runs git in the repository with a fixed identity and no user or system config.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// A `chuks-ci` command run from inside the repository, HOME outside it.
    pub fn chuks_ci(&self) -> Command {
        let mut command = chuks_ci(&self.path().join(".git"));
        command.current_dir(self.path());
        command
    }
}

/// A bare repository standing in for the remote a release is pushed to.
pub struct BareRemote {
    pub dir: TempDir,
}

impl BareRemote {
    pub fn new() -> BareRemote {
        let remote = BareRemote {
            dir: TempDir::new().unwrap(),
        };
        git_in(remote.path(), &["init", "-q", "--bare", "-b", "main"]);
        remote
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every ref with the commit it peels to: `<ref> <commit>` lines, sorted.
    pub fn refs(&self) -> String {
        git_in(
            self.path(),
            &[
                "for-each-ref",
                "--format=%(refname) %(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)",
            ],
        )
    }
}

impl PackageRepo {
    /// Gives the repository a committer identity in its own config, for the git that chuks-ci
    /// runs (which sees no user or system config).
    pub fn identify(&self) {
        self.git(&["config", "user.name", "Test"]);
        self.git(&["config", "user.email", "test@example.invalid"]);
    }

    /// Adds `remote` as `origin` and pushes `main` to it with upstream tracking.
    pub fn track(&self, remote: &BareRemote) {
        let url = remote.path().to_string_lossy().into_owned();
        self.git(&["remote", "add", "origin", &url]);
        self.git(&["push", "-q", "-u", "origin", "main"]);
    }
}

/// Runs git like [`git_in`] but returns the output whether or not it succeeded. The folder of
/// the chuks-ci under test comes first on PATH, for hooks that look for it there.
pub fn git_output(dir: &Path, args: &[&str]) -> std::process::Output {
    let binary = assert_cmd::cargo::cargo_bin("chuks-ci");
    let mut path = std::ffi::OsString::from(binary.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    git_command(dir, args)
        .env("PATH", path)
        .output()
        .expect("git runs")
}

fn git_command(dir: &Path, args: &[&str]) -> StdCommand {
    let mut command = StdCommand::new("git");
    command
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir);
    command
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir, args).output().expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub fn manifest_json(name: &str, version: &str) -> String {
    format!(
        "{{\n  \"name\": \"{name}\",\n  \"version\": \"{version}\",\n  \"entry\": \"src/index.chuks\",\n  \"license\": \"MIT\"\n}}\n"
    )
}

/// insta settings whose filters replace temp paths, ports and commit hashes with placeholders.
pub fn snapshot_settings(dir: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&dir.to_string_lossy()), "[TMP]");
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[SHA]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]");
    settings.add_filter(r"\b\d+ bytes\b", "[N] bytes");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Stdout and stderr of a finished command, as text.
pub fn outputs(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub mod fault_proxy;
pub mod oidc;
pub mod real_registry;
pub mod registry;

/// A plain HTTP/1.0 GET against a loopback URL: (status, parsed JSON body or Null).
pub fn http_get_json(url: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("loopback http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// Says on stderr (where `.ci/run` counts it) that a test could not run its check here, and
/// returns; under `CHUKS_CI_STRICT=1`, where CI has every precondition, it fails instead.
pub fn skip(why: &str) {
    assert!(
        std::env::var("CHUKS_CI_STRICT").as_deref() != Ok("1"),
        "cannot run under CHUKS_CI_STRICT=1: {why}"
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP: {why}");
}

/// Asserts that `haystack` contains `needle`, printing the whole of it when it does not.
#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected to find {needle:?} in:\n{haystack}"
    );
}
