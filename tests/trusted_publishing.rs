//! Trusted publishing, chuks-ci's side, through the real binary: when it exchanges the CI's ID
//! token (an explicit token always wins), what it says when it cannot, `check` and
//! `trust explain`; every run checked for the canary tokens in every place a secret could leak.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chuks_ci::token::Scope;
use common::PackageRepo;
use common::real_registry::RealRegistryStandIn;
use common::registry::TestRegistry;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The runner's request token, as GitHub hands it to the job.
const REQUEST_TOKEN_CANARY: &str = "request-token-canary-5f1e";

/// An unsigned ID token carrying `claims` and a canary, as a test's CI hands it out; only the
/// registry verifies signatures, and these tests never reach that far.
fn id_token(claims: &Value) -> String {
    let mut claims = claims.clone();
    claims["jti"] = json!("id-token-canary-77c3");
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(&json!({"alg": "RS256", "kid": "k1"})),
        part(&claims)
    )
}

fn gitlab_claims() -> Value {
    json!({
        "iss": "https://gitlab.com",
        "aud": "chuks",
        "project_path": "group/di",
        "ci_config_ref_uri": "gitlab.com/group/di//.gitlab-ci.yml@refs/tags/v1.0.0",
        "ref": "v1.0.0",
        "sha": "0123456789abcdef0123456789abcdef01234567",
    })
}

fn github_claims() -> Value {
    json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "chuks",
        "sub": "repo:acme/di:ref:refs/tags/v1.0.0",
        "repository": "acme/di",
        "repository_owner_id": "1234",
        "workflow_ref": "acme/di/.github/workflows/release.yml@refs/tags/v1.0.0",
        "job_workflow_ref": "acme/shared/.github/workflows/chuks.yml@refs/heads/main",
        "environment": "release",
        "ref": "refs/tags/v1.0.0",
        "run_id": "42",
    })
}

/// A package repository tagged `v1.0.0`, pushed, and the folders its outputs go to.
struct Job {
    repo: PackageRepo,
    sinks: TempDir,
}

/// Everything a run left behind, where a secret could leak.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    files: String,
}

impl Job {
    fn new() -> Job {
        let repo = PackageRepo::new("di", "1.0.0");
        repo.tag("v1.0.0");
        repo.push();
        Job {
            repo,
            sinks: TempDir::new().unwrap(),
        }
    }

    /// `chuks-ci <args>` in the repository with `env` added, GITHUB_OUTPUT, the step summary and
    /// (for `publish`) a dotenv file set; asserts that no canary and no `chuks_pk_` token shows anywhere.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let sink = |name: &str| self.sinks.path().join(name);
        let mut command = self.repo.chuks_ci();
        command
            .env("GITHUB_OUTPUT", sink("github_output"))
            .env("GITHUB_STEP_SUMMARY", sink("summary"))
            .args(args)
            .envs(env.iter().copied());
        if args.first() == Some(&"publish") {
            command.arg("--dotenv").arg(sink("dotenv"));
        }
        let output = command.output().unwrap();
        let read = |name: &str| std::fs::read_to_string(sink(name)).unwrap_or_default();
        let (stdout, stderr) = common::outputs(&output);
        let run = Run {
            code: output.status.code().unwrap(),
            stdout,
            stderr,
            files: ["github_output", "summary", "dotenv"].map(read).join("\n"),
        };
        run.assert_no_secret(env);
        run
    }
}

impl Run {
    /// No ID token, request token or API token appears outside the `::add-mask::` lines.
    fn assert_no_secret(&self, env: &[(&str, &str)]) {
        let stdout: Vec<&str> = self
            .stdout
            .lines()
            .filter(|line| !line.starts_with("::add-mask::"))
            .collect();
        let shown = format!("{}\n{}\n{}", stdout.join("\n"), self.stderr, self.files);
        let secrets = env
            .iter()
            .filter(|(name, _)| name.contains("TOKEN"))
            .map(|(_, value)| *value);
        for secret in secrets.chain(["id-token-canary-77c3", "chuks_pk_"]) {
            assert!(!shown.contains(secret), "`{secret}` leaked:\n{shown}");
        }
    }
}

fn snapshot(name: &str, text: &str, job: &Job) {
    common::snapshot_settings(job.repo.path()).bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn github_without_the_id_token_permission_says_to_grant_it() {
    let job = Job::new();
    let registry = TestRegistry::start();
    let run = job.run(
        &[
            "publish",
            "--registry",
            registry.url(),
            "--confirm-tag",
            "off",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/tags/v1.0.0"),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.files.contains("result=failed"), "{}", run.files);
    snapshot("no_id_token_permission", &run.stderr, &job);
}

#[test]
fn a_registry_without_the_exchange_says_to_set_a_token_after_packing() {
    let job = Job::new();
    let registry = RealRegistryStandIn::start();
    let token = id_token(&gitlab_claims());
    let run = job.run(
        &[
            "publish",
            "--registry",
            registry.url(),
            "--confirm-tag",
            "off",
            "-v",
        ],
        &[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_TAG", "v1.0.0"),
            ("CHUKS_ID_TOKEN", &token),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let asked: Vec<String> = registry
        .requests()
        .iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    assert_eq!(asked, ["POST /api/oidc/token"], "{}", run.stderr);
    // Packed before the exchange: a minted token is not spent on a slow pack.
    let packed = run.stderr.find("packed").unwrap_or(usize::MAX);
    let refused = run
        .stderr
        .find("does not offer trusted publishing")
        .unwrap();
    assert!(packed < refused, "{}", run.stderr);
    snapshot(
        "registry_without_the_exchange",
        &run.stderr[run.stderr.find("error:").unwrap()..],
        &job,
    );
}

#[test]
fn an_explicit_token_wins_and_no_id_token_is_asked_for() {
    let job = Job::new();
    let registry = TestRegistry::start();
    let runner = RealRegistryStandIn::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let request_url = format!("{}/_apis/token?x=1", runner.url());
    let run = job.run(
        &[
            "publish",
            "--registry",
            registry.url(),
            "--confirm-tag",
            "off",
            "--trusted-publishing",
            "always",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/tags/v1.0.0"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN_CANARY),
            ("CHUKS_TOKEN", &token),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(runner.requests().is_empty(), "{:?}", runner.requests());
    assert!(run.files.contains("auth=token"), "{}", run.files);
}

#[test]
fn always_outside_a_ci_that_issues_id_tokens_is_an_error() {
    let job = Job::new();
    let registry = TestRegistry::start();
    let run = job.run(
        &["publish", "--registry", registry.url(), "--tag", "v1.0.0"],
        &[("CHUKS_TRUSTED_PUBLISHING", "always")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`--trusted-publishing always` needs a CI"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_says_trusted_publishing_would_give_the_token() {
    let job = Job::new();
    let registry = TestRegistry::start();
    let token = id_token(&gitlab_claims());
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_TAG", "v1.0.0"),
        ("CHUKS_ID_TOKEN", token.as_str()),
    ];
    let args = [
        "check",
        "--registry",
        registry.url(),
        "--confirm-tag",
        "off",
    ];
    let run = job.run(&args, &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot("check_human", &run.stdout, &job);
    let json = job.run(&[&["--format", "json"][..], &args].concat(), &env);
    let result: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(result["auth"], "trusted-publishing", "{}", json.stdout);
    assert_eq!(result["token_checked"], false);
}

#[test]
fn trust_explain_shows_the_claims_and_the_line_that_trusts_a_reusable_workflow() {
    let job = Job::new();
    let file = job.sinks.path().join("id-token");
    std::fs::write(&file, id_token(&github_claims())).unwrap();
    let file = file.to_str().unwrap();
    let human = job.run(&["trust", "explain", "--id-token-file", file], &[]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    snapshot("explain_human", &human.stdout, &job);
    let json = job.run(
        &[
            "--format",
            "json",
            "trust",
            "explain",
            "--id-token-file",
            file,
        ],
        &[],
    );
    let explained: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(explained["verified"], false);
    assert_eq!(explained["reusable_workflow"], "chuks.yml");
    assert_eq!(explained["trusted_publisher"]["workflow"], "release.yml");
    snapshot("explain_json", &json.stdout, &job);
}

#[test]
fn trust_explain_of_what_is_not_an_id_token_is_refused() {
    let job = Job::new();
    let file = job.sinks.path().join("id-token");
    std::fs::write(&file, "not.a-jwt").unwrap();
    let run = job.run(
        &[
            "trust",
            "explain",
            "--id-token-file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is not a JWT"), "{}", run.stderr);
}
