//! `chuks-ci publish --uploader chuks` with a stand-in for the official CLI (`tests/fixtures/chuks`,
//! which uploads to the reference registry over the documented API): the token only ever in its
//! environment, its output masked, and each of its known outcomes mapped to a result and exit code.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chuks_ci::token::Scope;
use common::registry::TestRegistry;
use common::{PackageRepo, outputs};
use serde_json::Value;
use tempfile::TempDir;

const FORGE_TOKEN: &str = "ghs_ForgeCanary0123456789abcdefghijklmnopqr";

fn stand_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chuks")
}

struct Setup {
    registry: TestRegistry,
    token: String,
    repo: PackageRepo,
    scratch: TempDir,
}

impl Setup {
    fn new() -> Setup {
        let registry = TestRegistry::start();
        let token = registry.token("alice", &[Scope::PackagesPublish]);
        let repo = PackageRepo::new("di", "1.0.0");
        repo.tag("v1.0.0");
        repo.push();
        Setup {
            registry,
            token,
            repo,
            scratch: TempDir::new().unwrap(),
        }
    }

    fn record_file(&self) -> PathBuf {
        self.scratch.path().join("record.jsonl")
    }

    /// Written by a process of the stand-in that outlived what it must not.
    fn marker(&self) -> PathBuf {
        self.scratch.path().join("marker")
    }

    /// Written by the stand-in once it runs: its pid.
    fn started(&self) -> PathBuf {
        self.scratch.path().join("started")
    }

    /// The secret-bearing strings the stand-in echoed.
    fn echoes(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.scratch.path().join("echoes")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn dotenv(&self) -> PathBuf {
        self.scratch.path().join("out.env")
    }

    /// Sets the stand-in's failure mode; it reads its switches from HOME, the one place the
    /// allow-list lets through.
    fn switch(&self, fail: &str) {
        let switches = serde_json::json!({
            "fail": fail,
            "record": self.record_file(),
            "state": self.scratch.path().join("state"),
            "marker": self.marker(),
            "started": self.started(),
            "echoes": self.scratch.path().join("echoes"),
        });
        std::fs::write(
            self.repo.path().join(".git/.chuks-standin.json"),
            switches.to_string(),
        )
        .unwrap();
    }

    /// `publish --uploader chuks --format json` through the stand-in, `fail` its failure mode.
    fn command(&self, fail: &str, extra: &[&str]) -> assert_cmd::Command {
        self.switch(fail);
        let mut command = self.repo.chuks_ci();
        command
            .env("CHUKS_TOKEN", &self.token)
            .env("CHUKS_REGISTRY_URL", self.registry.url())
            .env("GITHUB_TOKEN", FORGE_TOKEN)
            .args([
                "--format",
                "json",
                "publish",
                "--uploader",
                "chuks",
                "--retries",
                "2",
            ])
            .arg("--chuks-bin")
            .arg(stand_in())
            .arg("--dotenv")
            .arg(self.dotenv())
            .args(extra);
        command
    }

    fn publish(&self, fail: &str, extra: &[&str]) -> Run {
        self.run(&mut self.command(fail, extra))
    }

    fn run(&self, command: &mut assert_cmd::Command) -> Run {
        let output = command.output().unwrap();
        let (stdout, stderr) = outputs(&output);
        let run = Run {
            code: output.status.code().unwrap(),
            json: serde_json::from_str(stdout.lines().last().unwrap_or_default())
                .unwrap_or(Value::Null),
            stdout,
            stderr,
            dotenv: std::fs::read_to_string(self.dotenv()).unwrap_or_default(),
        };
        // In GitHub Actions chuks-ci asks the runner to mask the token: that line is the one
        // place it may stand.
        let mask = format!("::add-mask::{}", self.token);
        for (sink, text) in [
            ("stdout", &run.stdout.replace(&mask, "")),
            ("stderr", &run.stderr),
            ("dotenv", &run.dotenv),
        ] {
            assert!(
                !text.contains(&self.token),
                "the token leaked into {sink}:\n{text}"
            );
        }
        run
    }

    /// Every run of the stand-in: its argv and environment.
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.record_file())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn publishes(&self) -> usize {
        self.records()
            .iter()
            .filter(|r| r["argv"][1] == "publish")
            .count()
    }

    /// What the marker says, after giving a process that outlived its parent a moment to
    /// write it. Absent is what a contained CLI leaves.
    fn marker_after_a_moment(&self) -> Option<String> {
        std::thread::sleep(Duration::from_secs(1));
        std::fs::read_to_string(self.marker()).ok()
    }
}

struct Run {
    code: i32,
    json: Value,
    stdout: String,
    stderr: String,
    dotenv: String,
}

impl Run {
    /// Failed, and says so in every output.
    fn assert_failed(&self, code: i32, context: &str) {
        assert_eq!(self.code, code, "{context}: {}", self.stderr);
        assert_eq!(self.json["result"], "failed", "{context}: {}", self.json);
        assert_contains(&self.dotenv, "CHUKS_RESULT=failed\n");
    }
}

/// The same command as a `std::process::Command`, to run in the background (assert_cmd only
/// waits), with the same cleared environment.
fn spawnable(command: &assert_cmd::Command) -> std::process::Command {
    let mut spawnable = std::process::Command::new(command.get_program());
    spawnable.args(command.get_args()).env_clear();
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            spawnable.env(name, value);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        spawnable.current_dir(dir);
    }
    spawnable
}

/// No 16 characters in a row of any `secret` appear in `text`: a token cut in two, or
/// encoded, is still a leak.
fn assert_no_piece_of(secrets: &[String], text: &str) {
    for secret in secrets {
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(16) {
            let piece: String = window.iter().collect();
            assert!(
                !text.contains(&piece),
                "`{piece}` of the echoed `{secret}` was printed:\n{text}"
            );
        }
    }
}

#[test]
fn a_release_through_the_official_cli_stores_the_version_and_reads_it_back() {
    let s = Setup::new();
    let run = s.publish("", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["result"], "published", "{}", run.json);
    assert_eq!(run.json["uploader"], "chuks", "{}", run.json);
    assert_eq!(run.json["confirmed"], "true", "{}", run.json);
    assert_contains(&run.dotenv, "CHUKS_UPLOADER=chuks\n");
    assert_contains(&run.stderr, "chuks: Published di@1.0.0");
    assert!(s.registry.version("di", "1.0.0").is_some());

    let records = s.records();
    let publish = records.iter().find(|r| r["argv"][1] == "publish").unwrap();
    let argv = publish["argv"].to_string();
    assert!(
        !argv.contains(&s.token),
        "the token is on the CLI's command line: {argv}"
    );
    assert_eq!(publish["env"]["CHUKS_TOKEN"], s.token.as_str());
    assert_eq!(publish["env"]["CHUKS_REGISTRY_URL"], s.registry.url());
    let env = publish["env"].to_string();
    assert!(
        !env.contains(FORGE_TOKEN),
        "a forge token reached the CLI: {env}"
    );

    let again = s.publish("", &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json["result"], "exists", "{}", again.json);
}

#[test]
fn an_echoed_token_is_masked() {
    let s = Setup::new();
    let run = s.publish("echo-token", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("chuks: debug: using token chuks_pk_****"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("ghp_AAAA"), "{}", run.stderr);
}

#[test]
fn each_known_failure_has_its_result_and_exit_code() {
    for (fail, code, says) in [
        ("401", 3, "refused the token"),
        ("expired", 3, "rotate it"),
        ("permission", 1, "`.gitignore`"),
        ("network", 4, "failed 3 time(s)"),
        ("odd", 4, "the flux capacitor is not charged"),
    ] {
        let s = Setup::new();
        let run = s.publish(fail, &[]);
        assert_eq!(run.code, code, "{fail}: {}", run.stderr);
        assert_eq!(run.json["result"], "failed", "{fail}: {}", run.json);
        assert_contains(&run.stderr, says);
    }
}

#[test]
fn a_transient_failure_is_retried_and_settles() {
    let s = Setup::new();
    let run = s.publish("network-once", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["result"], "published", "{}", run.json);
    let publishes = s
        .records()
        .iter()
        .filter(|r| r["argv"][1] == "publish")
        .count();
    assert_eq!(publishes, 2);
}

#[test]
fn a_hang_ends_at_the_upload_timeout() {
    let s = Setup::new();
    let started = Instant::now();
    let run = s.publish("hang", &["--upload-timeout", "2"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains(&run.stderr, "did not finish within 2s");
}

#[test]
fn a_missing_chuks_bin_is_a_usage_error() {
    let s = Setup::new();
    let output = s
        .repo
        .chuks_ci()
        .env("CHUKS_TOKEN", &s.token)
        .args(["publish", "--dry-run", "--chuks-bin", "/nonexistent/chuks"])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_contains(
        &stderr,
        "`--chuks-bin` names `/nonexistent/chuks`, which does not exist",
    );
}

#[test]
fn auto_picks_http_nearby_the_official_cli_far_away_and_http_without_it() {
    let s = Setup::new();
    let bin = s.scratch.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(stand_in(), bin.join("chuks")).unwrap();
    let with_cli = format!(
        "{}:{}",
        bin.to_string_lossy(),
        std::env::var("PATH").unwrap()
    );
    let uploader = |registry: &str, path: &str| {
        let output = s
            .repo
            .chuks_ci()
            .env("PATH", path)
            .args([
                "--format",
                "json",
                "publish",
                "--dry-run",
                "--registry",
                registry,
            ])
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        (
            json["uploader"].as_str().unwrap_or_default().to_string(),
            stderr,
        )
    };
    let far = "https://registry.example.invalid/backend";
    assert_eq!(uploader(s.registry.url(), &with_cli).0, "http");
    assert_eq!(uploader(far, &with_cli).0, "chuks");
    assert_eq!(uploader(far, &std::env::var("PATH").unwrap()).0, "http");
    let human = |path: &str| {
        let output = s
            .repo
            .chuks_ci()
            .env("PATH", path)
            .args(["publish", "--dry-run", "--registry", far])
            .output()
            .unwrap();
        outputs(&output).1
    };
    let without = human(&std::env::var("PATH").unwrap());
    assert_eq!(
        without
            .matches("the official `chuks` CLI was not found")
            .count(),
        1,
        "{without}"
    );
    let with = human(&with_cli);
    assert_contains(&with, "uploader: the official CLI, chuks version v0.1.0");
}

#[test]
fn the_leak_guard_checks_what_the_official_cli_will_ship_before_it_starts() {
    let s = Setup::new();
    s.repo.write(".chuksignore", "notes.txt\n");
    let leaked = format!("deploy with chuks_pk_{}\n", "Z".repeat(40));
    s.repo.write("notes.txt", &leaked);
    s.repo.commit("notes");
    s.repo.git(&["tag", "-f", "v1.0.0"]);
    s.repo.push();
    let run = s.publish("", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_contains(&run.stderr, "notes.txt");
    assert!(
        run.json
            .to_string()
            .contains("does not read `.chuksignore`"),
        "{}",
        run.json
    );
    assert!(
        s.records().iter().all(|r| r["argv"][1] != "publish"),
        "the official CLI ran despite the leak"
    );
}

#[test]
fn an_unrelated_line_that_looks_like_an_outcome_is_a_failure() {
    // Before the outcome rule, `409` or `already exists` anywhere in the last lines read as
    // `exists` (exit 0), `401` as a refused token (exit 3), `503` as worth four attempts.
    for fail in ["count-409", "count-401", "count-503", "description"] {
        let s = Setup::new();
        let run = s.publish(fail, &[]);
        run.assert_failed(4, fail);
        assert!(!run.stderr.contains("rotate"), "{fail}: {}", run.stderr);
        assert_contains(&run.stderr, "the official CLI failed");
        assert_eq!(s.publishes(), 1, "{fail}: retried");
        assert!(s.registry.version("di", "1.0.0").is_none());
    }
}

#[test]
fn already_exists_is_refuted_by_a_read_back_that_finds_nothing() {
    let s = Setup::new();
    let run = s.publish("lying-exists", &[]);
    run.assert_failed(4, "lying-exists");
    assert_contains(
        &run.stderr,
        "the official CLI said `di` 1.0.0 already exists, but the registry does not hold it",
    );
    assert_contains(&run.stderr, "hint: nothing was published");
    assert!(s.registry.version("di", "1.0.0").is_none());
}

#[test]
fn a_line_printed_after_the_cli_exited_is_shown_but_not_its_words() {
    let s = Setup::new();
    assert_eq!(s.publish("", &[]).code, 0);
    // The version exists, so a late "already exists (409)" would have read as `exists`.
    let run = s.publish("late-line", &[]);
    run.assert_failed(4, "late-line");
    assert_contains(&run.stderr, "already exists (409)");
    assert_contains(&run.stderr, "uploading di@1.0.0 (12 files)");
}

#[test]
fn other_bytes_under_a_prebuilt_are_version_exists() {
    let s = Setup::new();
    assert_eq!(s.publish("", &[]).code, 0);
    let binary = s.scratch.path().join("di.bin");
    let prebuilt = |bytes: &str| {
        std::fs::write(&binary, bytes).unwrap();
        s.publish(
            "",
            &[
                "--prebuilt",
                "--platform",
                "linux-x86_64",
                "--file",
                binary.to_str().unwrap(),
            ],
        )
    };
    assert_eq!(prebuilt("first build").code, 0);
    let again = prebuilt("second build");
    again.assert_failed(1, "other bytes");
    assert_contains(&again.stderr, "already published with different contents");
}

#[test]
fn a_child_of_the_cli_dies_with_it() {
    let s = Setup::new();
    let run = s.publish("linger", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(s.marker_after_a_moment(), None);
}

#[test]
fn a_timeout_stops_the_cli_and_its_children() {
    let s = Setup::new();
    let run = s.publish("hang-with-child", &["--upload-timeout", "1"]);
    run.assert_failed(4, "hang-with-child");
    assert_contains(&run.stderr, "did not finish within 1s");
    assert_eq!(s.marker_after_a_moment(), None);
}

#[test]
fn a_signal_to_chuks_ci_stops_the_cli_and_its_children() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let s = Setup::new();
        let mut chuks_ci = spawnable(&s.command("hang-with-child", &[]))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The CLI is running once it wrote its pid; a minute is far more than it needs.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !s.started().exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(s.started().exists(), "the stand-in never started");
        let killed = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(chuks_ci.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = chuks_ci.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{signal}: {status:?}");
        assert_eq!(s.marker_after_a_moment(), None, "SIG{signal}");
    }
}

#[test]
fn a_relative_chuks_bin_is_the_one_in_the_callers_folder() {
    let s = Setup::new();
    // A same-named file inside the package, which must never run.
    s.repo.write(
        "bin/chuks",
        &format!(
            "#!/bin/sh\necho \"impostor with $CHUKS_TOKEN\" > '{}'\nexit 1\n",
            s.marker().to_string_lossy()
        ),
    );
    std::fs::set_permissions(
        s.repo.path().join("bin/chuks"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    s.repo.commit("a file named like the CLI");
    s.repo.git(&["tag", "-f", "v1.0.0"]);
    s.repo.push();
    let caller = s.scratch.path().join("caller");
    std::fs::create_dir_all(caller.join("bin")).unwrap();
    std::os::unix::fs::symlink(stand_in(), caller.join("bin/chuks")).unwrap();
    s.switch("");
    let mut command = s.repo.chuks_ci();
    command
        .current_dir(&caller)
        .env("CHUKS_TOKEN", &s.token)
        .env("CHUKS_REGISTRY_URL", s.registry.url())
        .args(["--format", "json", "publish", "--uploader", "chuks"])
        .arg("--manifest")
        .arg(s.repo.manifest())
        .args(["--chuks-bin", "bin/chuks"]);
    let run = s.run(&mut command);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["result"], "published", "{}", run.json);
    assert_eq!(std::fs::read_to_string(s.marker()).ok(), None);
}

#[test]
fn the_token_echoed_in_common_encodings_is_masked() {
    let s = Setup::new();
    let run = s.publish("echo-encodings", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains(&run.stderr, "chuks: debug: hex: chuks_pk_****");
    let echoes = s.echoes();
    assert_no_piece_of(&echoes, &run.stderr);
    assert_no_piece_of(&echoes, &run.stdout);
}

#[test]
fn a_token_across_the_line_cut_is_masked() {
    let s = Setup::new();
    let run = s.publish("echo-cut", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_piece_of(&s.echoes(), &run.stderr);
    assert_contains(&run.stderr, "bytes of over-long lines");
}

#[test]
fn the_cli_cannot_speak_to_the_github_runner() {
    let s = Setup::new();
    let run = s.run(
        s.command("workflow-commands", &["--confirm-tag", "off"])
            .env("GITHUB_ACTIONS", "true"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains(&run.stderr, "add-mask");
    let stop = run
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("::stop-commands::"))
        .expect("the CLI's lines are not in a stop-commands block");
    assert!(stop.len() >= 32, "a guessable stop token: {stop}");
    let resume = format!("::{stop}::");
    let ours = [
        format!("::stop-commands::{stop}"),
        resume.clone(),
        format!("::add-mask::{}", s.token),
    ];
    for (sink, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains("##["), "a legacy command in {sink}:\n{text}");
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with("::") || ours.contains(&line.to_string()),
                "a workflow command chuks-ci did not write, in {sink}: {line}"
            );
        }
    }
    let lines: Vec<&str> = run.stderr.lines().collect();
    let opened = lines
        .iter()
        .position(|l| l.starts_with("::stop-commands::"));
    let closed = lines.iter().position(|l| *l == resume);
    let cli_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("chuks: "))
        .collect();
    assert!(
        opened < cli_lines.first().copied() && cli_lines.last().copied() < closed,
        "the CLI's lines are outside the block:\n{}",
        run.stderr
    );
}
