//! Trusted publishing, chuks-ci's side, through the real binary against the reference registry
//! and a fake OIDC issuer: publishing with no stored token through both uploaders, the minted
//! token revoked after the run, refusals that name their cause, when chuks-ci exchanges at all
//! (an explicit token always wins), `check` and `trust explain`. Every run is checked for the
//! canary tokens, and for any ID token (`eyJ…`) or API token, in every place a secret could leak.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chuks_ci::registry_server::{Identity, NewTrustedPublisher};
use chuks_ci::token::Scope;
use common::PackageRepo;
use common::oidc::{self, FakeIssuer};
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
        Job::named("di")
    }

    fn named(name: &str) -> Job {
        let repo = PackageRepo::new(name, "1.0.0");
        repo.tag("v1.0.0");
        repo.push();
        Job {
            repo,
            sinks: TempDir::new().unwrap(),
        }
    }

    /// `chuks-ci -v publish` to `registry`, the tag not confirmed on a forge, with `args` and
    /// `env` added.
    fn publish(&self, registry: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec![
            "-v",
            "publish",
            "--registry",
            registry,
            "--confirm-tag",
            "off",
        ];
        all.extend_from_slice(args);
        self.run(&all, env)
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
        if args.contains(&"publish") {
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
        // `eyJ` starts every JWT: its header is a JSON object.
        for secret in secrets.chain(["id-token-canary-77c3", "chuks_pk_", "eyJ"]) {
            assert!(!shown.contains(secret), "`{secret}` leaked:\n{shown}");
        }
    }
}

/// The reference registry trusting the fake issuer, the issuer, and a GitHub job of
/// `octo/widget` (the issuer's default claims) releasing package `widget`.
struct Trusting {
    registry: TestRegistry,
    issuer: FakeIssuer,
    job: Job,
}

impl Trusting {
    fn new() -> Trusting {
        Trusting::with(|_| {})
    }

    fn with(adjust: impl FnOnce(&mut chuks_ci::registry_server::RegistryConfig)) -> Trusting {
        let issuer = FakeIssuer::start();
        let registry = TestRegistry::start_with(|config| {
            config.oidc.issuers = vec![issuer.url().to_string()];
            adjust(config);
        });
        Trusting {
            registry,
            issuer,
            job: Job::named("widget"),
        }
    }

    /// Trusts `identity` to publish `widget` as `alice`.
    fn trust(&self, identity: Identity) {
        self.trust_for("widget", identity);
    }

    fn trust_for(&self, package: &str, identity: Identity) {
        let new = NewTrustedPublisher {
            publisher: "alice".into(),
            package: package.into(),
            issuer: Some(self.issuer.url().to_string()),
            identity,
        };
        self.registry.add_trusted_publisher(&new).unwrap();
    }

    fn trust_github(&self, workflow: &str) {
        self.trust(github_identity(workflow));
    }

    /// The environment of a GitHub Actions job on a tag push with `id-token: write`.
    fn github_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_REF", "refs/tags/v1.0.0".into()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                self.issuer.id_token_request_url(),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc::REQUEST_TOKEN.into()),
        ]
    }

    /// `chuks-ci -v publish` to this registry, with no token, in `env`.
    fn publish(&self, args: &[&str], env: &[(&'static str, String)]) -> Run {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.job.publish(self.registry.url(), args, &env)
    }

    /// `chuks-ci <args>` in the job, in `env`.
    fn run(&self, args: &[&str], env: &[(&'static str, String)]) -> Run {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.job.run(args, &env)
    }

    /// The tokens minted by trusted publishing, and whether each was revoked.
    fn minted_revoked(&self) -> Vec<bool> {
        let tokens = self.registry.list_tokens().unwrap();
        let minted = tokens.iter().filter(|token| token.minted_for.is_some());
        minted.map(|token| token.revoked_at.is_some()).collect()
    }
}

/// `octo/widget`'s `workflow`, the fake issuer's default GitHub identity.
fn github_identity(workflow: &str) -> Identity {
    Identity::Github {
        repository: "octo/widget".into(),
        workflow: workflow.into(),
        environment: None,
        repository_owner_id: None,
    }
}

fn standin() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chuks"))
}

fn snapshot(name: &str, text: &str, job: &Job) {
    common::snapshot_settings(job.repo.path()).bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn github_without_the_id_token_permission_says_to_grant_it() {
    let job = Job::new();
    let registry = TestRegistry::start();
    let run = job.publish(
        registry.url(),
        &[],
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
    let run = job.publish(
        registry.url(),
        &[],
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
    let run = job.publish(
        registry.url(),
        &["--trusted-publishing", "always"],
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

#[test]
fn github_publishes_with_no_token_over_http_and_revokes_the_minted_token() {
    let t = Trusting::new();
    t.trust_github("release.yml");
    let run = t.publish(&["--uploader", "http"], &t.github_env());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.files.contains("auth=trusted-publishing"),
        "{}",
        run.files
    );
    assert!(run.files.contains("result=published"), "{}", run.files);
    assert!(t.registry.version("widget", "1.0.0").is_some());
    // Masked before anything could show it: the ID token, then the minted token.
    let masks = run.stdout.lines().filter(|l| l.starts_with("::add-mask::"));
    assert_eq!(masks.count(), 2, "{}", run.stdout);
    assert_eq!(t.minted_revoked(), [true]);
    common::assert_contains(
        &run.stderr,
        "trusted publishing: exchanged GitHub Actions's ID token",
    );
}

#[test]
fn the_official_cli_gets_only_the_minted_token_as_chuks_token() {
    let t = Trusting::new();
    t.trust_github("release.yml");
    let record = t.job.sinks.path().join("cli-record.jsonl");
    let switches = json!({"record": record});
    let home = t.job.repo.path().join(".git/.chuks-standin.json");
    std::fs::write(home, switches.to_string()).unwrap();
    let bin = standin().to_str().unwrap();
    let run = t.publish(
        &["--uploader", "chuks", "--chuks-bin", bin],
        &t.github_env(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.files.contains("uploader=chuks"), "{}", run.files);
    let recorded = std::fs::read_to_string(&record).unwrap();
    let publish: Value = recorded
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|call| call["argv"].to_string().contains("publish"))
        .unwrap();
    let env = publish["env"].as_object().unwrap();
    assert!(
        env["CHUKS_TOKEN"]
            .as_str()
            .unwrap()
            .starts_with("chuks_pk_")
    );
    let seen = format!("{}", publish);
    let without_token = seen.replace(env["CHUKS_TOKEN"].as_str().unwrap(), "");
    for secret in ["eyJ", oidc::REQUEST_TOKEN, "ACTIONS_ID_TOKEN", "chuks_pk_"] {
        assert!(
            !without_token.contains(secret),
            "`{secret}` reached the CLI: {seen}"
        );
    }
    assert_eq!(t.minted_revoked(), [true]);
}

#[test]
fn gitlab_publishes_with_the_id_token_of_its_id_tokens_block() {
    let t = Trusting::new();
    t.trust(Identity::Gitlab {
        project: "group/widget".into(),
        config_path: ".gitlab-ci.yml".into(),
        environment: None,
    });
    let claims = t.issuer.gitlab_claims("group/widget", ".gitlab-ci.yml");
    let env = vec![
        ("GITLAB_CI", "true".to_string()),
        ("CI_COMMIT_TAG", "v1.0.0".to_string()),
        ("CHUKS_ID_TOKEN", t.issuer.sign(&claims, 1)),
    ];
    let run = t.publish(&[], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.files.contains("auth=trusted-publishing"),
        "{}",
        run.files
    );
    assert_eq!(t.minted_revoked(), [true]);
}

#[test]
fn a_reusable_workflow_is_trusted_by_its_own_file() {
    let t = Trusting::new();
    t.trust_github("chuks.yml");
    let mut claims = t.issuer.github_claims("octo/widget", "release.yml");
    oidc::merge(
        &mut claims,
        json!({"job_workflow_ref": "octo/shared/.github/workflows/chuks.yml@refs/heads/main"}),
    );
    t.issuer.set_github_claims(claims);
    let run = t.publish(&[], &t.github_env());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(t.registry.version("widget", "1.0.0").is_some());
}

#[test]
fn a_refused_identity_names_the_differing_claim_and_the_line_that_would_trust_it() {
    let t = Trusting::new();
    t.trust_github("release.yml");
    let claims = t.issuer.github_claims("octo/widget", "nightly.yml");
    t.issuer.set_github_claims(claims);
    let run = t.publish(&[], &t.github_env());
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.files.contains("result=failed"), "{}", run.files);
    assert!(t.registry.version("widget", "1.0.0").is_none());
    let mut settings = common::snapshot_settings(t.job.repo.path());
    settings.add_filter(r"http://127\.0\.0\.1:\[PORT\]", "[ISSUER]");
    settings.add_filter(r"jti-[0-9-]+", "[JTI]");
    let error = &run.stderr[run.stderr.find("error:").unwrap()..];
    settings.bind(|| insta::assert_snapshot!("refused_identity", error));

    // The line the hint gives, run as the registry's operator would, lets the job publish.
    let line = error.split("trust it with `").nth(1).unwrap();
    let line = line.split('`').next().unwrap();
    let data_dir = t.registry.database_path().parent().unwrap();
    let words = shlex::split(line).unwrap();
    let words = words.iter().skip(1).map(|word| match word.as_str() {
        "<DIR>" => data_dir.to_str().unwrap(),
        "<PUBLISHER>" => "alice",
        word => word,
    });
    let added = common::chuks_ci(t.job.sinks.path())
        .args(words)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let run = t.publish(&[], &t.github_env());
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn the_minted_token_is_revoked_after_a_failed_run_too() {
    let t = Trusting::new();
    t.trust_github("release.yml");
    assert_eq!(t.publish(&[], &t.github_env()).code, 0);
    t.job.repo.write(
        "src/index.chuks",
        "export function answer(): int { return 7 }\n",
    );
    t.job.repo.commit("other contents");
    t.job.repo.git(&["tag", "-f", "v1.0.0"]);
    t.job.repo.push();
    let run = t.publish(&[], &t.github_env());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(t.minted_revoked(), [true, true]);
}

#[test]
fn a_minted_token_refused_as_expired_is_exchanged_again_once() {
    let t = Trusting::with(|config| config.oidc.minted_token_lifetime = Duration::ZERO);
    t.trust_github("release.yml");
    let run = t.publish(&[], &t.github_env());
    assert_eq!(run.code, 3, "{}", run.stderr);
    common::assert_contains(
        &run.stderr,
        "the minted token expired: exchanging a fresh ID token once",
    );
    assert_eq!(t.minted_revoked().len(), 2, "{}", run.stderr);
}

#[test]
fn trust_explain_in_a_github_job_asks_for_the_audience_the_registry_announces() {
    let t = Trusting::with(|config| config.oidc.audience = "chuks-staging".into());
    let url = t.registry.url();
    let run = t.run(&["trust", "explain", "--registry", url], &t.github_env());
    assert_eq!(run.code, 0, "{}", run.stderr);
    common::assert_contains(&run.stdout, "ID token from GitHub Actions");
    common::assert_contains(&run.stdout, "  aud: chuks-staging\n");
    common::assert_contains(&run.stdout, "--package widget --provider github");
}

#[test]
fn a_workspace_publishes_every_trusted_package_with_one_minted_token() {
    let t = Trusting::new();
    t.trust_for("widget", github_identity("release.yml"));
    t.trust_for("gadget", github_identity("release.yml"));
    let repo = &t.job.repo;
    repo.write(
        "gadget/chuks.json",
        &common::manifest_json("gadget", "1.0.0"),
    );
    repo.write("gadget/src/index.chuks", "export const x = 1\n");
    repo.commit("a second package");
    repo.push();
    repo.tag("widget@1.0.0");
    repo.tag("gadget@1.0.0");
    let env: Vec<_> = t
        .github_env()
        .into_iter()
        .filter(|(name, _)| *name != "GITHUB_REF")
        .collect();
    let run = t.publish(&["--workspace"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        t.registry.version("widget", "1.0.0").is_some(),
        "{}",
        run.stderr
    );
    assert!(
        t.registry.version("gadget", "1.0.0").is_some(),
        "{}",
        run.stderr
    );
    assert_eq!(t.minted_revoked(), [true]);
}

#[test]
fn check_of_a_workspace_with_no_token_says_trusted_publishing_would_give_it() {
    let t = Trusting::new();
    let repo = &t.job.repo;
    repo.tag("widget@1.0.0");
    let args = ["--format", "json", "check", "--workspace"];
    let run = t.run(
        &[
            &args[..],
            &["--registry", t.registry.url(), "--confirm-tag", "off"],
        ]
        .concat(),
        &t.github_env(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let result: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(result["result"], "dry-run", "{}", run.stdout);
    assert_eq!(
        result["packages"][0]["auth"], "trusted-publishing",
        "{}",
        run.stdout
    );
    // Off a CI that issues ID tokens, no token is an error, as for one package.
    let run = t.job.run(
        &["check", "--workspace", "--registry", t.registry.url()],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn trust_explain_warns_when_the_id_token_is_for_another_audience() {
    let t = Trusting::with(|config| config.oidc.audience = "chuks-staging".into());
    let claims = t.issuer.gitlab_claims("group/widget", ".gitlab-ci.yml");
    let env = vec![
        ("GITLAB_CI", "true".to_string()),
        ("CHUKS_ID_TOKEN", t.issuer.sign(&claims, 1)),
    ];
    let run = t.run(&["trust", "explain", "--registry", t.registry.url()], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    common::assert_contains(
        &run.stderr,
        "the ID token's audience is `chuks`, and the registry expects `chuks-staging`",
    );
}
