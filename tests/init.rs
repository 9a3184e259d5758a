//! `chuks-ci init`: writes the committed examples into a repository, refuses to overwrite, and
//! `--check` catches drift between the templates and ci-examples/.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::path::Path;

use common::{chuks_ci, outputs};
use tempfile::TempDir;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join("ci-examples").join(relative)).unwrap()
}

#[test]
fn github_init_writes_the_single_package_example_and_names_the_secret() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "github", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/chuks-publish.yml")).unwrap();
    assert_eq!(written, example("github/single-package.yml"));
    assert!(stdout.contains("CHUKS_TOKEN"), "{stdout}");
    assert!(stdout.contains("`chuks-ci hook install`"), "{stdout}");
    assert!(stdout.contains("`chuks-ci bump patch --push`"), "{stdout}");
    assert!(
        stdout.contains("Settings → Secrets and variables → Actions"),
        "{stdout}"
    );
}

#[test]
fn every_platform_and_example_lands_where_the_platform_reads_it() {
    let home = TempDir::new().unwrap();
    for (platform, target, suffix, secret_place) in [
        (
            "github",
            ".github/workflows/chuks-publish.yml",
            ".yml",
            "Actions",
        ),
        (
            "gitlab",
            ".gitlab-ci.yml",
            ".gitlab-ci.yml",
            "Settings → CI/CD → Variables",
        ),
        (
            "bitbucket",
            "bitbucket-pipelines.yml",
            ".bitbucket-pipelines.yml",
            "Repository variables",
        ),
    ] {
        for name in ["single-package", "prebuilt-binaries", "monorepo"] {
            let dir = TempDir::new().unwrap();
            let output = chuks_ci(home.path())
                .args(["init", platform, "--example", name, "--dir"])
                .arg(dir.path())
                .output()
                .unwrap();
            let (stdout, stderr) = outputs(&output);
            assert!(output.status.success(), "{platform} {name}: {stderr}");
            assert!(stdout.contains(secret_place), "{platform}: {stdout}");
            let written = std::fs::read_to_string(dir.path().join(target)).unwrap();
            assert_eq!(written, example(&format!("{platform}/{name}{suffix}")));
        }
    }
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join(".gitlab-ci.yml"), "# mine\n").unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "gitlab", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(stderr.contains("hint: pass `--force`"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap(),
        "# mine\n"
    );

    let output = chuks_ci(home.path())
        .args(["init", "gitlab", "--force", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap(),
        example("gitlab/single-package.gitlab-ci.yml")
    );
}

#[test]
fn check_passes_on_the_committed_examples() {
    let home = TempDir::new().unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "--check", "--dir"])
        .arg(repo_root())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

#[test]
fn check_reports_drift_and_missing_files() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "--update-examples", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let path = dir
        .path()
        .join("ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml");
    let edited = std::fs::read_to_string(&path).unwrap().replace(
        "WORKING_DIRECTORY: packages/maths",
        "WORKING_DIRECTORY: maths",
    );
    std::fs::write(&path, edited).unwrap();
    std::fs::remove_file(dir.path().join(".github/workflows/publish.yml")).unwrap();

    let output = chuks_ci(home.path())
        .args(["init", "--check", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`ci-examples/bitbucket/monorepo.bitbucket-pipelines.yml` differs"),
        "{stderr}"
    );
    assert!(
        stderr.contains("WORKING_DIRECTORY: packages/maths"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`.github/workflows/publish.yml` is missing"),
        "{stderr}"
    );
}
