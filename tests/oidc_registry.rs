//! Trusted publishing on the reference registry, through the real binary (`registry serve`,
//! `registry trust add`, `registry token list`) and raw HTTP: the exchange of a CI's ID token
//! from the fake issuer of `common::oidc` for a short-lived token, every refusal, and what the
//! minted token may do.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};

use common::oidc::{FakeIssuer, kid, merge, unsigned};
use common::registry::publish_body;
use common::{assert_contains, chuks_ci, outputs};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A `registry serve` process trusting a fake issuer, with its data folder.
struct Served {
    issuer: FakeIssuer,
    data: TempDir,
    child: Child,
    url: String,
}

impl Served {
    /// Serves with `--oidc-issuer` the fake issuer.
    fn start() -> Served {
        let issuer = FakeIssuer::start();
        let url = issuer.url().to_string();
        Served::start_with(issuer, &["--oidc-issuer", &url])
    }

    fn start_with(issuer: FakeIssuer, extra: &[&str]) -> Served {
        let data = TempDir::new().unwrap();
        let mut child = std_command(data.path())
            .args(["registry", "serve", "--data-dir"])
            .arg(data.path().join("data"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{line}"))
            .to_string();
        Served {
            issuer,
            data,
            child,
            url,
        }
    }

    fn data_dir(&self) -> String {
        self.data.path().join("data").to_str().unwrap().to_string()
    }

    /// `chuks-ci registry ARGS… --data-dir D`: exit code, stdout, stderr.
    fn registry(&self, args: &[&str]) -> (i32, String, String) {
        let output = chuks_ci(self.data.path())
            .arg("registry")
            .args(args)
            .args(["--data-dir", &self.data_dir()])
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    /// `registry trust add` for the fake issuer; asserts it succeeded.
    fn trust(&self, args: &[&str]) {
        let mut all = vec!["trust", "add", "--issuer", self.issuer.url()];
        all.extend_from_slice(args);
        let (code, stdout, stderr) = self.registry(&all);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }

    /// Trusts `octo/widget`'s `release.yml` (plus `extra`) to publish `widget` as `alice`.
    fn trust_widget(&self, extra: &[&str]) {
        self.trust_github("widget", "release.yml", extra);
    }

    /// Trusts `octo/widget`'s `workflow` (plus `extra`) to publish `package` as `alice`.
    fn trust_github(&self, package: &str, workflow: &str, extra: &[&str]) {
        let mut args = vec!["--publisher", "alice", "--package", package, "--provider"];
        args.extend([
            "github",
            "--repository",
            "octo/widget",
            "--workflow",
            workflow,
        ]);
        args.extend_from_slice(extra);
        self.trust(&args);
    }

    fn exchange(&self, id_token: &str) -> (u16, Value) {
        http(
            "POST",
            &format!("{}/api/oidc/token", self.url),
            None,
            Some(&json!({ "token": id_token })),
        )
    }

    /// Exchanges and asserts success; the minted token.
    fn minted(&self, id_token: &str) -> String {
        let (status, answer) = self.exchange(id_token);
        assert_eq!(status, 201, "{answer}");
        answer["token"].as_str().unwrap().to_string()
    }

    fn publish(&self, token: &str, name: &str) -> (u16, Value) {
        http(
            "POST",
            &format!("{}/api/packages/{name}/1.0.0", self.url),
            Some(token),
            Some(&publish_body(name, "1.0.0", b"content")),
        )
    }

    fn count(&self, table: &str) -> i64 {
        let path = self.data.path().join("data/registry.sqlite3");
        let connection = rusqlite::Connection::open(path).unwrap();
        connection
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `chuks-ci` as a std command, to spawn: the environment of `common::chuks_ci`.
fn std_command(home: &std::path::Path) -> std::process::Command {
    use assert_cmd::cargo::CommandCargoExt;
    let mut command = std::process::Command::cargo_bin("chuks-ci").unwrap();
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    command
}

/// One HTTP/1.0 request to a loopback URL: status and JSON answer (`Null` when not JSON).
fn http(method: &str, url: &str, bearer: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let authorization = bearer
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{method} /{path} HTTP/1.0\r\nHost: {host}\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Asserts an error answer's status and code, showing the whole answer when they differ.
#[track_caller]
fn assert_refused(status: u16, answer: &Value, expected_status: u16, expected_code: &str) {
    assert_eq!(
        (status, code(answer)),
        (expected_status, expected_code),
        "{answer}"
    );
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or_default()
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[test]
fn the_audience_is_announced() {
    let served = Served::start();
    let (status, answer) = http(
        "GET",
        &format!("{}/api/oidc/audience", served.url),
        None,
        None,
    );
    assert_eq!((status, answer), (200, json!({"audience": "chuks"})));

    let issuer = FakeIssuer::start();
    let url = issuer.url().to_string();
    let served = Served::start_with(issuer, &["--oidc-issuer", &url, "--oidc-audience", "reg"]);
    let (_, answer) = http(
        "GET",
        &format!("{}/api/oidc/audience", served.url),
        None,
        None,
    );
    assert_eq!(answer, json!({"audience": "reg"}));
}

#[test]
fn a_pending_publisher_lets_the_first_publish_create_the_package() {
    let served = Served::start();
    served.trust_widget(&[]);
    let (status, answer) =
        served.exchange(&served.issuer.github_token("octo/widget", "release.yml"));
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["scopes"], json!(["packages:publish"]));
    assert_eq!(answer["packages"], json!(["widget"]));
    let token = answer["token"].as_str().unwrap();
    assert!(token.starts_with("chuks_pk_"), "{answer}");
    let expires: jiff::Timestamp = answer["expires_at"].as_str().unwrap().parse().unwrap();
    let seconds = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((14 * 60..=15 * 60).contains(&seconds), "{expires}");

    let (status, published) = served.publish(token, "widget");
    assert_eq!(status, 201, "{published}");
    let (_, package) = http(
        "GET",
        &format!("{}/api/packages/widget", served.url),
        None,
        None,
    );
    assert_eq!(package["owner"], "alice");
}

#[test]
fn the_minted_token_lifetime_is_configurable() {
    let issuer = FakeIssuer::start();
    let url = issuer.url().to_string();
    let served = Served::start_with(
        issuer,
        &["--oidc-issuer", &url, "--minted-token-minutes", "3"],
    );
    served.trust_widget(&[]);
    let (_, answer) = served.exchange(&served.issuer.github_token("octo/widget", "release.yml"));
    let expires: jiff::Timestamp = answer["expires_at"].as_str().unwrap().parse().unwrap();
    let seconds = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((2 * 60..=3 * 60).contains(&seconds), "{answer}");
}

#[test]
fn a_minted_token_cannot_publish_another_package() {
    let served = Served::start();
    served.trust_widget(&[]);
    let token = served.minted(&served.issuer.github_token("octo/widget", "release.yml"));
    let (status, answer) = served.publish(&token, "gadget");
    assert_refused(status, &answer, 403, "not_a_publisher");
    assert_contains(message(&answer), "for `widget` only, not `gadget`");
    assert_eq!(served.count("packages"), 0);
}

#[test]
fn delete_tokens_self_revokes_the_presenting_token() {
    let served = Served::start();
    served.trust_widget(&[]);
    let token = served.minted(&served.issuer.github_token("octo/widget", "release.yml"));
    let url = format!("{}/api/tokens/self", served.url);
    let (status, answer) = http("DELETE", &url, Some(&token), None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "revoked");
    assert_eq!(answer["packages"], json!(["widget"]));
    let (status, answer) = served.publish(&token, "widget");
    assert_refused(status, &answer, 401, "token_revoked");
    let (status, _) = http("DELETE", &url, None, None);
    assert_eq!(status, 401);
}

#[test]
fn a_minted_token_is_listed_with_the_claims_it_was_minted_for() {
    let served = Served::start();
    served.trust_widget(&[]);
    served.minted(&served.issuer.github_token("octo/widget", "release.yml"));
    let (code, stdout, stderr) = served.registry(&["token", "list", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let token = &listed["tokens"][0];
    assert_eq!(token["scopes"], json!(["packages:publish"]));
    assert_eq!(token["publisher"], "alice");
    assert_eq!(token["packages"], json!(["widget"]));
    let minted = &token["trusted_publishing"];
    assert_eq!(minted["trusted_publisher"], 1);
    assert_eq!(minted["provider"], "github");
    assert_eq!(minted["repository"], "octo/widget");
    assert_eq!(
        minted["workflow"],
        "octo/widget/.github/workflows/release.yml@refs/tags/v1.0.0"
    );
    assert_eq!(minted["ref"], "refs/tags/v1.0.0");
    assert_eq!(minted["sha"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(minted["run_id"], "9001");

    let (_, stdout, _) = served.registry(&["token", "list"]);
    assert_contains(
        &stdout,
        "token 1 was minted by trusted publishing (trusted publisher 1, github) for `widget`, repository octo/widget",
    );
    assert_contains(&stdout, ", run 9001");
}

#[test]
fn every_failed_check_of_the_id_token_is_named_and_nothing_is_stored() {
    let served = Served::start();
    served.trust_widget(&[]);
    let issuer = &served.issuer;
    let now = jiff::Timestamp::now().as_second();
    let with = |extra: Value| {
        let mut claims = issuer.github_claims("octo/widget", "release.yml");
        merge(&mut claims, extra);
        claims
    };
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid(1));
        let claims = with(json!({}));
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"guessable"),
        )
        .unwrap()
    };
    // Another repository's claims under this token's signature.
    let forged = {
        let genuine = issuer.github_token("octo/widget", "release.yml");
        let other = issuer.github_token("octo/gizmo", "release.yml");
        let genuine: Vec<&str> = genuine.split('.').collect();
        let other: Vec<&str> = other.split('.').collect();
        format!("{}.{}.{}", genuine[0], other[1], genuine[2])
    };
    let cases = [
        (
            issuer.sign(
                &with(json!({"exp": now - 120, "iat": now - 600, "nbf": now - 600})),
                1,
            ),
            "expired (`exp`",
        ),
        (
            issuer.sign(&with(json!({"nbf": now + 600})), 1),
            "not valid yet (`nbf`",
        ),
        (
            issuer.sign(&with(json!({"iat": now + 600})), 1),
            "issued in the future (`iat`",
        ),
        (
            issuer.sign(&with(json!({"aud": "pypi"})), 1),
            "audience (`aud`) is not `chuks`",
        ),
        (
            issuer.sign(&with(json!({"iss": "https://evil.example"})), 1),
            "issuer `https://evil.example` is not trusted",
        ),
        (unsigned(&with(json!({}))), "signed with `none`; only RS256"),
        (hs256, "signed with `HS256`; only RS256"),
        (forged, "signature does not verify"),
        (
            issuer.sign_as(&with(json!({})), 2, &kid(1)),
            "signature does not verify",
        ),
        (
            issuer.sign(&with(json!({"exp": null})), 1),
            "lacks the `exp` claim",
        ),
        ("not.a-jwt".to_string(), "not a JWT"),
    ];
    for (token, named) in cases {
        let (status, answer) = served.exchange(&token);
        assert_eq!(
            (status, code(&answer)),
            (401, "invalid_id_token"),
            "{named}: {answer}"
        );
        assert_contains(message(&answer), named);
        assert_contains(message(&answer), "\nhint: ");
    }
    let (status, answer) = served.exchange(&"x".repeat(20_000));
    assert_refused(status, &answer, 401, "invalid_id_token");
    assert_contains(message(&answer), "longer than 16384 bytes");
    let (status, answer) = served.exchange(&"x".repeat(40_000));
    assert_eq!(status, 413, "{answer}");
    assert_eq!(
        (served.count("tokens"), served.count("id_token_uses")),
        (0, 0)
    );
}

#[test]
fn an_unknown_kid_refreshes_the_keys_once_so_rotation_works() {
    let served = Served::start();
    served.trust_widget(&[]);
    let issuer = &served.issuer;
    served.minted(&issuer.github_token("octo/widget", "release.yml"));
    assert_eq!(issuer.jwks_fetches(), 1);

    // The issuer rotates to key 2: the first token signed with it refreshes the cached keys.
    issuer.publish_keys(&[1, 2]);
    let claims = issuer.github_claims("octo/widget", "release.yml");
    served.minted(&issuer.sign(&claims, 2));
    assert_eq!(issuer.jwks_fetches(), 2);

    // Tokens naming keys the issuer never published do not make the registry fetch again.
    for attempt in 0..5 {
        let claims = issuer.github_claims("octo/widget", "release.yml");
        let (status, answer) =
            served.exchange(&issuer.sign_as(&claims, 3, &format!("made-up-{attempt}")));
        assert_refused(status, &answer, 401, "invalid_id_token");
        assert_contains(
            message(&answer),
            &format!("has no signing key `made-up-{attempt}`"),
        );
    }
    assert_eq!(issuer.jwks_fetches(), 2);
    assert_eq!(served.count("tokens"), 2);
}

#[test]
fn a_replayed_id_token_is_refused() {
    let served = Served::start();
    served.trust_widget(&[]);
    let id_token = served.issuer.github_token("octo/widget", "release.yml");
    served.minted(&id_token);
    let (status, answer) = served.exchange(&id_token);
    assert_refused(status, &answer, 409, "id_token_replayed");
    assert_contains(message(&answer), "already exchanged");
    assert_eq!(served.count("tokens"), 1);
}

#[test]
fn a_mismatch_names_the_claim_that_differed() {
    let served = Served::start();
    served.trust_widget(&["--environment", "release", "--repository-owner-id", "4242"]);
    let issuer = &served.issuer;
    let token = |repository: &str, workflow: &str, extra: Value| {
        let mut claims = issuer.github_claims(repository, workflow);
        merge(&mut claims, extra);
        issuer.sign(&claims, 1)
    };
    let cases = [
        (
            token(
                "octo/gizmo",
                "release.yml",
                json!({"environment": "release"}),
            ),
            json!({"claim": "repository", "found": "octo/gizmo"}),
        ),
        (
            token(
                "octo/widget",
                "release.yml",
                json!({"environment": "release", "repository_owner_id": "1"}),
            ),
            json!({"claim": "repository_owner_id", "expected": "4242", "found": "1"}),
        ),
        (
            token(
                "octo/widget",
                "deploy.yml",
                json!({"environment": "release"}),
            ),
            json!({"claim": "workflow_ref", "expected": "release.yml", "found": "deploy.yml"}),
        ),
        (
            token(
                "octo/widget",
                "release.yml",
                json!({"environment": "staging"}),
            ),
            json!({"claim": "environment", "expected": "release", "found": "staging"}),
        ),
        (
            token("octo/widget", "release.yml", json!({})),
            json!({"claim": "environment", "expected": "release", "found": null}),
        ),
    ];
    for (id_token, mismatch) in cases {
        let (status, answer) = served.exchange(&id_token);
        assert_refused(status, &answer, 403, "no_trusted_publisher");
        assert_eq!(answer["error"]["mismatch"], mismatch, "{answer}");
        assert_eq!(answer["error"]["claims"]["iss"], issuer.url());
        let claim = mismatch["claim"].as_str().unwrap();
        assert_contains(message(&answer), &format!("`{claim}`"));
    }
    // The repository matches case-insensitively, as GitHub treats it.
    served.minted(&token(
        "Octo/Widget",
        "release.yml",
        json!({"environment": "Release"}),
    ));
    assert_eq!(
        (served.count("tokens"), served.count("id_token_uses")),
        (1, 1)
    );
}

#[test]
fn a_reusable_workflow_matches_by_job_workflow_ref_or_workflow_ref() {
    let served = Served::start();
    let issuer = &served.issuer;
    let reusable = || {
        let mut claims = issuer.github_claims("octo/widget", "release.yml");
        merge(
            &mut claims,
            json!({"job_workflow_ref": "octo/shared/.github/workflows/publish.yml@refs/heads/main"}),
        );
        issuer.sign(&claims, 1)
    };
    served.trust_github("widget", "publish.yml", &[]);
    let (status, answer) = served.exchange(&reusable());
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["packages"], json!(["widget"]));

    // The calling workflow's file matches too.
    served.trust_github("gadget", "release.yml", &[]);
    let (status, answer) = served.exchange(&reusable());
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["packages"], json!(["gadget", "widget"]));
}

#[test]
fn gitlab_and_bitbucket_claims_match_their_publishers() {
    // Bitbucket's issuer is trusted by the publisher naming it, not by `--oidc-issuer`.
    let served = Served::start_with(FakeIssuer::start(), &[]);
    let issuer = &served.issuer;
    served.trust(&[
        "--publisher",
        "alice",
        "--package",
        "widget",
        "--provider",
        "bitbucket",
        "--workspace-uuid",
        "{ws-1}",
        "--repository-uuid",
        "{repo-1}",
    ]);
    let (status, answer) =
        served.exchange(&issuer.sign(&issuer.bitbucket_claims("{ws-1}", "{REPO-1}"), 1));
    assert_eq!(status, 201, "{answer}");
    let (status, answer) =
        served.exchange(&issuer.sign(&issuer.bitbucket_claims("{ws-2}", "{repo-1}"), 1));
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["mismatch"]["claim"], "workspaceUuid");

    served.trust(&[
        "--publisher",
        "alice",
        "--package",
        "gadget",
        "--provider",
        "gitlab",
        "--project",
        "group/gadget",
        "--config-path",
        ".gitlab-ci.yml",
    ]);
    let gitlab =
        |project: &str, config: &str| issuer.sign(&issuer.gitlab_claims(project, config), 1);
    let (status, answer) = served.exchange(&gitlab("group/gadget", ".gitlab-ci.yml"));
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["packages"], json!(["gadget"]));
    let (status, answer) = served.exchange(&gitlab("group/gadget", "ci/release.yml"));
    assert_eq!(status, 403, "{answer}");
    assert_eq!(
        answer["error"]["mismatch"],
        json!({"claim": "ci_config_ref_uri", "expected": ".gitlab-ci.yml", "found": "ci/release.yml"})
    );
    assert_eq!(answer["error"]["claims"]["project_path"], "group/gadget");
}

#[test]
fn plain_http_issuers_are_refused_off_loopback() {
    let data = TempDir::new().unwrap();
    let mut child = std_command(data.path())
        .args(["registry", "serve", "--data-dir"])
        .arg(data.path().join("data"))
        .args(["--oidc-issuer", "http://issuer.example"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusing server exits before printing its URL, so its stdout ends at once.
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let _ = child.kill();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(first_line, "", "{stderr}");
    assert!(!status.success());
    assert_contains(
        &stderr,
        "`http://issuer.example` is not a usable OIDC issuer: plain http is allowed for loopback issuers only",
    );

    let output = chuks_ci(data.path())
        .args(["registry", "trust", "add", "--data-dir"])
        .arg(data.path().join("data"))
        .args([
            "--publisher",
            "alice",
            "--package",
            "widget",
            "--provider",
            "bitbucket",
            "--issuer",
            "http://10.1.2.3/oidc",
            "--workspace-uuid",
            "{w}",
            "--repository-uuid",
            "{r}",
        ])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert!(!output.status.success());
    assert_contains(&stderr, "plain http is allowed for loopback issuers only");
}

#[test]
fn trust_add_list_and_remove() {
    let served = Served::start();
    served.trust_widget(&["--environment", "release"]);
    let (code, stdout, stderr) = served.registry(&["trust", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(
        &stdout,
        "github octo/widget workflow release.yml environment release",
    );
    let (_, stdout, _) = served.registry(&["trust", "list", "--format", "json"]);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["trusted_publishers"][0]["repository"], "octo/widget");
    assert_eq!(
        listed["trusted_publishers"][0]["issuer"],
        served.issuer.url()
    );

    // A flag of another provider is refused rather than ignored.
    let (code, _, stderr) = served.registry(&[
        "trust",
        "add",
        "--publisher",
        "alice",
        "--package",
        "widget",
        "--provider",
        "gitlab",
        "--project",
        "g/p",
        "--config-path",
        ".gitlab-ci.yml",
        "--workflow",
        "x.yml",
    ]);
    assert_ne!(code, 0);
    assert_contains(
        &stderr,
        "`--workflow` does not apply to `--provider gitlab`",
    );

    let (code, _, stderr) = served.registry(&["trust", "remove", "1"]);
    assert_eq!(code, 0, "{stderr}");
    let (status, answer) =
        served.exchange(&served.issuer.github_token("octo/widget", "release.yml"));
    assert_eq!(status, 403, "{answer}");
    let (code, _, stderr) = served.registry(&["trust", "remove", "1"]);
    assert_ne!(code, 0);
    assert_contains(&stderr, "no trusted publisher has id 1");
}

#[test]
fn a_publisher_cannot_trust_a_workflow_for_a_package_it_cannot_publish() {
    let served = Served::start();
    served.trust_widget(&[]);
    let token = served.minted(&served.issuer.github_token("octo/widget", "release.yml"));
    assert_eq!(served.publish(&token, "widget").0, 201);
    let (code, _, stderr) = served.registry(&[
        "trust",
        "add",
        "--publisher",
        "mallory",
        "--package",
        "widget",
        "--provider",
        "github",
        "--repository",
        "mallory/widget",
        "--workflow",
        "release.yml",
    ]);
    assert_ne!(code, 0);
    assert_contains(
        &stderr,
        "publisher `mallory` may not publish `widget`, owned by `alice`",
    );
}
