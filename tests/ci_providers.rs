//! Each CI provider's log, through the real binary: GitHub Actions reads workflow commands
//! (`::add-mask::`, `::error`), so chuks-ci masks and annotates there; GitLab CI and Bitbucket
//! Pipelines print stdout as it is, so a workflow command there would only put the secret or the
//! problem in the log a second time.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::{PackageRepo, outputs};

const TOKEN: &str = "chuks_pk_ciprovidercanary0123456789abcdefABCDEF";

/// Each CI's variables for a tag pipeline of `v1.2.1`.
fn ci_env(ci: &str) -> Vec<(&'static str, &'static str)> {
    match ci {
        "github" => vec![
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/tags/v1.2.1"),
        ],
        "gitlab" => vec![
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_TAG", "v1.2.1"),
        ],
        "bitbucket" => vec![
            ("CI", "true"),
            ("BITBUCKET_REPO_FULL_NAME", "chuks/di"),
            ("BITBUCKET_TAG", "v1.2.1"),
        ],
        other => panic!("no such CI: {other}"),
    }
}

/// `whoami` with the token in `CHUKS_TOKEN`, against a registry that is not there: the token is
/// read (and masked where the CI masks on request) before the connection fails.
fn whoami_on(ci: &str) -> (String, String) {
    let repo = PackageRepo::new("di", "1.2.0");
    let output = repo
        .chuks_ci()
        .envs(ci_env(ci))
        .env("CHUKS_TOKEN", TOKEN)
        .args([
            "whoami",
            "--registry",
            "http://127.0.0.1:9",
            "--retries",
            "0",
        ])
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    let (stdout, stderr) = outputs(&output);
    (stdout, stderr)
}

#[test]
fn github_actions_masks_the_token_before_anything_else() {
    let (stdout, stderr) = whoami_on("github");
    assert_eq!(
        stdout.lines().next(),
        Some(format!("::add-mask::{TOKEN}").as_str())
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[test]
fn gitlab_and_bitbucket_never_echo_the_token_in_a_workflow_command() {
    for ci in ["gitlab", "bitbucket"] {
        let (stdout, stderr) = whoami_on(ci);
        assert!(!stdout.contains(TOKEN), "{ci}: {stdout}");
        assert!(!stdout.contains("::"), "{ci}: {stdout}");
        assert!(!stderr.contains(TOKEN), "{ci}: {stderr}");
    }
}

#[test]
fn only_github_actions_gets_annotations() {
    for ci in ["github", "gitlab", "bitbucket"] {
        let repo = PackageRepo::new("di", "1.2.0");
        let output = repo
            .chuks_ci()
            .envs(ci_env(ci))
            .arg("verify-tag")
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(1), "{ci}: {stderr}");
        assert!(
            stderr.contains("tag `v1.2.1` is version `1.2.1`"),
            "{ci}: {stderr}"
        );
        let annotated = stdout.starts_with("::error file=chuks.json,line=3,col=14::");
        assert_eq!(annotated, ci == "github", "{ci}: {stdout}");
        if ci != "github" {
            assert_eq!(stdout, "", "{ci}");
        }
    }
}
