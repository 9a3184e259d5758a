//! `chuks-ci maintain examples`, the maintainers' drift guard: `--check` catches drift between
//! the templates and the committed examples and generated files, `--update` rewrites them. It is
//! hidden, and the user's `init` no longer takes its flags.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::path::Path;

use common::{assert_contains, outputs};
use tempfile::TempDir;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `chuks-ci <args>`, in a private home: its exit code, stdout and stderr.
fn chuks_ci(args: &[&str]) -> (Option<i32>, String, String) {
    let home = TempDir::new().unwrap();
    let output = common::chuks_ci(home.path()).args(args).output().unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code(), stdout, stderr)
}

/// `chuks-ci maintain examples <mode> --dir <dir>`.
fn maintain_examples(mode: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let dir = dir.to_str().unwrap();
    chuks_ci(&[&["maintain", "examples"], mode, &["--dir", dir]].concat())
}

#[test]
fn check_passes_on_the_committed_files() {
    let (code, stdout, stderr) = maintain_examples(&["--check"], repo_root());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("ok: 22 rendered files match"),
        "{stdout}"
    );
}

#[test]
fn check_reports_drift_and_missing_files() {
    let dir = TempDir::new().unwrap();
    let (code, _, stderr) = maintain_examples(&["--update"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let path = dir
        .path()
        .join("ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("CHUKS_WORKSPACE: \"true\"", "CHUKS_WORKSPACE: \"false\"");
    std::fs::write(&path, edited).unwrap();
    std::fs::remove_file(dir.path().join(".github/workflows/publish.yml")).unwrap();

    let (code, _, stderr) = maintain_examples(&["--check"], dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        "`ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml` differs",
    );
    assert_contains(&stderr, "CHUKS_WORKSPACE: \"true\"");
    assert_contains(&stderr, "`.github/workflows/publish.yml` is missing");
    assert_contains(&stderr, "`cargo run -- maintain examples --update`");

    // `--update` rewrites exactly what drifted, and the check passes again.
    let (code, stdout, stderr) = maintain_examples(&["--update"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "updated ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml\n\
         updated .github/workflows/publish.yml\n"
    );
    let (code, _, stderr) = maintain_examples(&["--check"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn maintain_examples_takes_exactly_one_of_check_and_update() {
    for mode in [&[][..], &["--check", "--update"][..]] {
        let (code, _, stderr) = maintain_examples(mode, repo_root());
        assert_eq!(code, Some(2), "{mode:?}: {stderr}");
        assert_contains(&stderr, "--check");
    }
}

#[test]
fn users_see_neither_maintain_nor_the_old_init_flags() {
    let (code, stdout, _) = chuks_ci(&["--help"]);
    assert_eq!(code, Some(0));
    assert_contains(&stdout, "init");
    assert!(!stdout.contains("maintain"), "{stdout}");

    for flag in ["--check", "--update-examples"] {
        let (code, _, stderr) = chuks_ci(&["init", flag]);
        assert_eq!(code, Some(2), "{flag}: {stderr}");
        assert_contains(&stderr, &format!("unexpected argument '{flag}'"));
    }
}
