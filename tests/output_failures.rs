//! Every command with a stdout that is closed (`| head -1` after its first line) or full
//! (`> /dev/full`): no panic (exit 101), a closed pipe ends quietly, a failed write is reported on
//! stderr, and the exit code still says how the command ended.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::process::Stdio;

use chuks_ci::token::Scope;
use common::registry::TestRegistry;
use common::{PackageRepo, assert_contains};

/// The commands to try, each as its arguments and the exit code it ends with here.
fn commands(registry: &str) -> Vec<(Vec<String>, i32)> {
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        (strings(&["verify-tag"]), 0),
        (strings(&["pack", "--list", "--output", "../out.tgz"]), 0),
        (strings(&["--format", "json", "verify-tag"]), 0),
        (strings(&["publish", "--registry", registry]), 0),
        (strings(&["check", "--registry", registry]), 0),
        (strings(&["whoami", "--registry", registry]), 0),
        (
            strings(&[
                "maintain",
                "examples",
                "--check",
                "--dir",
                env!("CARGO_MANIFEST_DIR"),
            ]),
            0,
        ),
        (strings(&["verify-tag", "--tag", "v9.9.9"]), 1),
        (strings(&["--help"]), 0),
    ]
}

fn setup() -> (TestRegistry, String, PackageRepo) {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish, Scope::PackagesRead]);
    let repo = PackageRepo::new("di", "1.0.0");
    for line in 0..50 {
        repo.write(&format!("src/file{line}.chuks"), "export const x = 1\n");
    }
    repo.commit("many files");
    repo.tag("v1.0.0");
    repo.push();
    (registry, token, repo)
}

#[test]
fn a_full_stdout_is_reported_and_never_panics() {
    let (registry, token, repo) = setup();
    for (args, code) in commands(registry.url()) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("chuks-ci"))
            .current_dir(repo.path())
            .env("HOME", repo.path().join(".git"))
            .env("CHUKS_TOKEN", &token)
            .env("NO_COLOR", "1")
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        // Results go to stdout on success; `--help` is clap's, and ends quietly too.
        if code == 0 && !args.contains(&"--help".to_string()) {
            assert_contains(&stderr, "could not write the results to stdout");
        }
    }
    assert!(
        registry.version("di", "1.0.0").is_some(),
        "the publish itself happened"
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let (registry, token, repo) = setup();
    for (args, code) in commands(registry.url()) {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("chuks-ci"))
            .current_dir(repo.path())
            .env("HOME", repo.path().join(".git"))
            .env("CHUKS_TOKEN", &token)
            .env("NO_COLOR", "1")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("could not write"), "{args:?}: {stderr}");
    }
}
