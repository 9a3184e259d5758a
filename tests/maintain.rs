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

/// `chuks-ci maintain examples <args>` in `home`: its exit code, stdout and stderr.
fn maintain_examples(home: &Path, args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let output = common::chuks_ci(home)
        .args(["maintain", "examples"])
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code(), stdout, stderr)
}

#[test]
fn check_passes_on_the_committed_files() {
    let home = TempDir::new().unwrap();
    let (code, stdout, stderr) = maintain_examples(home.path(), &["--check"], repo_root());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("ok: 19 rendered files match"),
        "{stdout}"
    );
}

#[test]
fn check_reports_drift_and_missing_files() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let (code, _, stderr) = maintain_examples(home.path(), &["--update"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let path = dir
        .path()
        .join("ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml");
    let edited = std::fs::read_to_string(&path).unwrap().replace(
        "CHUKS_WORKING_DIRECTORY: packages/maths",
        "CHUKS_WORKING_DIRECTORY: maths",
    );
    std::fs::write(&path, edited).unwrap();
    std::fs::remove_file(dir.path().join(".github/workflows/publish.yml")).unwrap();

    let (code, _, stderr) = maintain_examples(home.path(), &["--check"], dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(
        &stderr,
        "`ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml` differs",
    );
    assert_contains(&stderr, "CHUKS_WORKING_DIRECTORY: packages/maths");
    assert_contains(&stderr, "`.github/workflows/publish.yml` is missing");
    assert_contains(&stderr, "`cargo run -- maintain examples --update`");

    // `--update` rewrites exactly what drifted, and the check passes again.
    let (code, stdout, stderr) = maintain_examples(home.path(), &["--update"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "updated ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml\n\
         updated .github/workflows/publish.yml\n"
    );
    let (code, _, stderr) = maintain_examples(home.path(), &["--check"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn maintain_examples_takes_exactly_one_of_check_and_update() {
    let home = TempDir::new().unwrap();
    for args in [&[][..], &["--check", "--update"][..]] {
        let (code, _, stderr) = maintain_examples(home.path(), args, repo_root());
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_contains(&stderr, "--check");
    }
}

#[test]
fn users_see_neither_maintain_nor_the_old_init_flags() {
    let home = TempDir::new().unwrap();
    let help = common::chuks_ci(home.path())
        .arg("--help")
        .output()
        .unwrap();
    let (stdout, _) = outputs(&help);
    assert!(help.status.success());
    assert_contains(&stdout, "init");
    assert!(!stdout.contains("maintain"), "{stdout}");

    for flag in ["--check", "--update-examples"] {
        let output = common::chuks_ci(home.path())
            .args(["init", flag])
            .output()
            .unwrap();
        let (_, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert_contains(&stderr, &format!("unexpected argument '{flag}'"));
    }
}
