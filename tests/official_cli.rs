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

    /// `publish --uploader chuks --format json` through the stand-in, `fail` its failure mode.
    fn publish(&self, fail: &str, extra: &[&str]) -> Run {
        let dotenv = self.scratch.path().join("out.env");
        // The stand-in reads its switches from HOME, the one place the allow-list lets through.
        let switches = serde_json::json!({
            "fail": fail,
            "record": self.record_file(),
            "state": self.scratch.path().join("state"),
        });
        std::fs::write(
            self.repo.path().join(".git/.chuks-standin.json"),
            switches.to_string(),
        )
        .unwrap();
        let output = self
            .repo
            .chuks_ci()
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
            .arg(&dotenv)
            .args(extra)
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        let run = Run {
            code: output.status.code().unwrap(),
            json: serde_json::from_str(stdout.lines().last().unwrap_or_default())
                .unwrap_or(Value::Null),
            stdout,
            stderr,
            dotenv: std::fs::read_to_string(dotenv).unwrap_or_default(),
        };
        for (sink, text) in [
            ("stdout", &run.stdout),
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
}

struct Run {
    code: i32,
    json: Value,
    stdout: String,
    stderr: String,
    dotenv: String,
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
    let with_cli = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
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
