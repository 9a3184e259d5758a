//! Forge tag confirmation against small fake GitHub, GitLab and Bitbucket servers that answer
//! each forge's documented tag endpoints.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chuks_ci::ci::forge_from as detect;
use chuks_ci::commands::{Exit, classify};
use chuks_ci::forge::github::{ResolveError, release_commit};
use chuks_ci::forge::{
    ConfirmMode, ConfirmOutcome, ForgeDetection, ForgeError, TagConfirmation, confirm,
};
use chuks_ci::retry::RetryPolicy;
use secrecy::SecretString;
use serde_json::{Value, json};

use common::assert_contains;

const COMMIT: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const OTHER_COMMIT: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c";
const TAG_OBJECT: &str = "7777777777777777777777777777777777777777";
const INNER_TAG_OBJECT: &str = "8888888888888888888888888888888888888888";
const CANARY: &str = "canary-forge-token-5d41402abc4b2a76";
const TAG: &str = "v1.2.0";
const SCOPED_TAG: &str = "@chuks/numpy@1.2.0";

fn policy() -> RetryPolicy {
    RetryPolicy {
        retries: 2,
        backoff: Duration::from_millis(10),
    }
}

// ---------------------------------------------------------------------------------------------
// The fake forge: canned answers by raw (still percent-encoded) path, and a log of requests.

#[derive(Clone)]
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        body,
        headers: Vec::new(),
    }
}

fn status(status: u16) -> Answer {
    Answer {
        status,
        body: json!({ "message": format!("status {status}") }),
        headers: Vec::new(),
    }
}

struct Seen {
    path: String,
    headers: HeaderMap,
}

#[derive(Default)]
struct Script {
    /// Answers per path, in order; the last one repeats.
    answers: HashMap<String, VecDeque<Answer>>,
    seen: Vec<Seen>,
}

struct FakeForge {
    base: String,
    script: Arc<Mutex<Script>>,
}

impl FakeForge {
    async fn start() -> FakeForge {
        let script = Arc::new(Mutex::new(Script::default()));
        let router = axum::Router::new()
            .fallback(serve_answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeForge { base, script }
    }

    fn answer(&self, path: &str, answers: impl IntoIterator<Item = Answer>) {
        let answers: VecDeque<Answer> = answers.into_iter().collect();
        assert!(!answers.is_empty());
        self.script
            .lock()
            .unwrap()
            .answers
            .insert(path.to_string(), answers);
    }

    fn paths_seen(&self) -> Vec<String> {
        let script = self.script.lock().unwrap();
        script.seen.iter().map(|seen| seen.path.clone()).collect()
    }

    /// The value of `header` on every request, `None` where it was absent.
    fn header_seen(&self, header: &str) -> Vec<Option<String>> {
        let script = self.script.lock().unwrap();
        script
            .seen
            .iter()
            .map(|seen| {
                seen.headers
                    .get(header)
                    .map(|value| value.to_str().unwrap().to_string())
            })
            .collect()
    }
}

async fn serve_answer(State(script): State<Arc<Mutex<Script>>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let mut script = script.lock().unwrap();
    script.seen.push(Seen {
        path: path.clone(),
        headers: request.headers().clone(),
    });
    let answer = match script.answers.get_mut(&path) {
        Some(queue) if queue.len() > 1 => queue.pop_front().unwrap(),
        Some(queue) => queue[0].clone(),
        None => Answer {
            status: 404,
            body: json!({ "message": "Not Found" }),
            headers: Vec::new(),
        },
    };
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        axum::Json(answer.body),
    )
        .into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Each forge's environment, endpoints and answer shapes.

#[derive(Debug, Clone, Copy)]
enum Kind {
    Github,
    Gitlab,
    Bitbucket,
}

type Env = Vec<(&'static str, String)>;

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Github => "GitHub",
            Kind::Gitlab => "GitLab",
            Kind::Bitbucket => "Bitbucket",
        }
    }

    /// The CI variables each forge's CI sets, pointing at the fake server, with the canary token.
    fn env(self, fake: &FakeForge) -> Env {
        let base = &fake.base;
        match self {
            Kind::Github => vec![
                ("GITHUB_ACTIONS", "true".into()),
                ("GITHUB_REPOSITORY", "chuks/numpy".into()),
                ("GITHUB_SHA", COMMIT.into()),
                ("GITHUB_API_URL", base.clone()),
                ("GITHUB_TOKEN", CANARY.into()),
            ],
            Kind::Gitlab => vec![
                ("GITLAB_CI", "true".into()),
                ("CI_API_V4_URL", format!("{base}/api/v4")),
                ("CI_PROJECT_ID", "42".into()),
                ("CI_PROJECT_PATH", "chuks/numpy".into()),
                ("CI_COMMIT_SHA", COMMIT.into()),
                ("CI_JOB_TOKEN", CANARY.into()),
            ],
            Kind::Bitbucket => vec![
                ("BITBUCKET_REPO_FULL_NAME", "chuks/numpy".into()),
                ("BITBUCKET_COMMIT", COMMIT.into()),
                ("BITBUCKET_ACCESS_TOKEN", CANARY.into()),
                ("CHUKS_BITBUCKET_API_URL", format!("{base}/2.0")),
            ],
        }
    }

    fn token_variable(self) -> &'static str {
        match self {
            Kind::Github => "GITHUB_TOKEN",
            Kind::Gitlab => "CI_JOB_TOKEN",
            Kind::Bitbucket => "BITBUCKET_ACCESS_TOKEN",
        }
    }

    /// The documented tag endpoint's path, as it arrives on the wire.
    fn tag_path(self, tag: &str) -> String {
        match self {
            // GitHub keeps the ref path's slashes.
            Kind::Github => format!("/repos/chuks/numpy/git/ref/tags/{tag}"),
            // GitLab wants the tag name as one URL-encoded segment.
            Kind::Gitlab => format!(
                "/api/v4/projects/42/repository/tags/{}",
                tag.replace('/', "%2F")
            ),
            Kind::Bitbucket => format!("/2.0/repositories/chuks/numpy/refs/tags/{tag}"),
        }
    }

    /// The answer for a lightweight tag at `commit`.
    fn lightweight_tag(self, tag: &str, commit: &str) -> Value {
        match self {
            Kind::Github => json!({
                "ref": format!("refs/tags/{tag}"),
                "node_id": "REF_kwDOA",
                "url": format!("https://api.github.com/repos/chuks/numpy/git/refs/tags/{tag}"),
                "object": {
                    "type": "commit",
                    "sha": commit,
                    "url": format!("https://api.github.com/repos/chuks/numpy/git/commits/{commit}"),
                },
            }),
            Kind::Gitlab => json!({
                "name": tag,
                "message": "",
                "target": commit,
                "commit": { "id": commit, "short_id": &commit[..8], "title": "release" },
                "release": null,
                "protected": false,
            }),
            Kind::Bitbucket => json!({
                "type": "tag",
                "name": tag,
                "target": { "type": "commit", "hash": commit, "message": "release\n" },
                "message": null,
                "date": null,
                "tagger": null,
            }),
        }
    }

    /// The header carrying the token, and its expected value.
    fn auth_header(self) -> (&'static str, String) {
        match self {
            Kind::Github | Kind::Bitbucket => ("authorization", format!("Bearer {CANARY}")),
            Kind::Gitlab => ("job-token", CANARY.to_string()),
        }
    }
}

fn env_fn(env: Env) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<&'static str, String> = env.into_iter().collect();
    move |name| vars.get(name).cloned()
}

fn without(mut env: Env, name: &str) -> Env {
    env.retain(|(key, _)| *key != name);
    env
}

async fn confirm_in(env: Env, mode: ConfirmMode, tag: &str) -> Result<ConfirmOutcome, ForgeError> {
    let detection = detect(env_fn(env), None);
    assert_no_canary(&format!("{detection:?}"));
    confirm(mode, &detection, &tag.into(), &policy()).await
}

fn confirmed(kind: Kind, tag: &str, commit: &str) -> ConfirmOutcome {
    ConfirmOutcome::Confirmed(TagConfirmation {
        forge: kind.name(),
        tag: tag.into(),
        commit: commit.into(),
    })
}

fn assert_no_canary(text: &str) {
    assert!(!text.contains(CANARY), "the token leaked into: {text}");
}

/// The error, checked for the exit code and for the token in its Display and Debug forms.
fn failure(result: Result<ConfirmOutcome, ForgeError>, exit: Exit) -> String {
    let err = result.expect_err("confirmation should fail");
    let shown = err.to_string();
    assert_no_canary(&shown);
    assert_no_canary(&format!("{err:?}"));
    assert_eq!(classify(&anyhow::Error::from(err)), exit, "{shown}");
    assert_contains(&shown, "\nhint: ");
    shown
}

fn assert_token_sent(kind: Kind, fake: &FakeForge) {
    let (header, value) = kind.auth_header();
    let seen = fake.header_seen(header);
    assert!(
        !seen.is_empty(),
        "no request reached the fake {}",
        kind.name()
    );
    assert!(
        seen.iter()
            .all(|sent| sent.as_deref() == Some(value.as_str())),
        "{header}: {seen:?}"
    );
}

/// Stamps out one `#[tokio::test]` per forge for a scenario taking a `Kind`.
macro_rules! for_each_forge {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn github() {
                super::$scenario(super::Kind::Github).await
            }
            #[tokio::test]
            async fn gitlab() {
                super::$scenario(super::Kind::Gitlab).await
            }
            #[tokio::test]
            async fn bitbucket() {
                super::$scenario(super::Kind::Bitbucket).await
            }
        }
    )*};
}

for_each_forge!(
    tag_at_the_right_commit,
    annotated_tag_is_peeled,
    scoped_tag_reaches_the_documented_path,
    missing_tag,
    tag_at_another_commit,
    refused_token,
    outage_then_success,
    outage_that_lasts,
    unreachable_forge,
    tls_failure_is_not_retried,
    no_credentials_under_auto,
    no_credentials_under_required,
    an_answer_too_long_is_refused_unread,
);

// ---------------------------------------------------------------------------------------------
// Scenarios run on every forge.

async fn tag_at_the_right_commit(kind: Kind) {
    let fake = FakeForge::start().await;
    fake.answer(&kind.tag_path(TAG), [ok(kind.lightweight_tag(TAG, COMMIT))]);
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(kind, TAG, COMMIT));
    assert_eq!(fake.paths_seen(), [kind.tag_path(TAG)]);
    assert_token_sent(kind, &fake);
}

async fn annotated_tag_is_peeled(kind: Kind) {
    let fake = FakeForge::start().await;
    match kind {
        // The ref names a tag object, which tags another tag object, which tags the commit.
        Kind::Github => {
            let mut reference = kind.lightweight_tag(TAG, TAG_OBJECT);
            reference["object"]["type"] = json!("tag");
            fake.answer(&kind.tag_path(TAG), [ok(reference)]);
            for (sha, object_type, object_sha) in [
                (TAG_OBJECT, "tag", INNER_TAG_OBJECT),
                (INNER_TAG_OBJECT, "commit", COMMIT),
            ] {
                fake.answer(
                    &format!("/repos/chuks/numpy/git/tags/{sha}"),
                    [ok(json!({
                        "node_id": "TAG_kwDOA",
                        "tag": TAG,
                        "sha": sha,
                        "url": format!("https://api.github.com/repos/chuks/numpy/git/tags/{sha}"),
                        "message": "release 1.2.0\n",
                        "tagger": { "name": "Ada", "email": "ada@example.com", "date": "2025-01-02T03:04:05Z" },
                        "object": { "type": object_type, "sha": object_sha, "url": "https://api.github.com/x" },
                        "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null },
                    }))],
                );
            }
        }
        // `target` is the tag object; `commit.id` is the peeled commit.
        Kind::Gitlab => {
            let mut tag = kind.lightweight_tag(TAG, COMMIT);
            tag["target"] = json!(TAG_OBJECT);
            tag["message"] = json!("release 1.2.0");
            fake.answer(&kind.tag_path(TAG), [ok(tag)]);
        }
        // An annotated tag carries a message, date and tagger; `target` is still the commit.
        Kind::Bitbucket => {
            let mut tag = kind.lightweight_tag(TAG, COMMIT);
            tag["message"] = json!("release 1.2.0\n");
            tag["date"] = json!("2025-01-02T03:04:05+00:00");
            tag["tagger"] = json!({ "type": "author", "raw": "Ada <ada@example.com>" });
            fake.answer(&kind.tag_path(TAG), [ok(tag)]);
        }
    }
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(kind, TAG, COMMIT));
    assert_token_sent(kind, &fake);
}

async fn scoped_tag_reaches_the_documented_path(kind: Kind) {
    let fake = FakeForge::start().await;
    let path = kind.tag_path(SCOPED_TAG);
    fake.answer(&path, [ok(kind.lightweight_tag(SCOPED_TAG, COMMIT))]);
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, SCOPED_TAG).await;
    assert_eq!(fake.paths_seen(), [path]);
    assert_eq!(outcome.unwrap(), confirmed(kind, SCOPED_TAG, COMMIT));
}

async fn missing_tag(kind: Kind) {
    let fake = FakeForge::start().await;
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::CheckFailed);
    assert_contains(&shown, kind.name());
    assert_contains(&shown, "chuks/numpy");
    assert_contains(&shown, "`git push origin v1.2.0`");
    // A missing tag is an answer, not an outage: asked once.
    assert_eq!(fake.paths_seen(), [kind.tag_path(TAG)]);
}

async fn tag_at_another_commit(kind: Kind) {
    let fake = FakeForge::start().await;
    fake.answer(
        &kind.tag_path(TAG),
        [ok(kind.lightweight_tag(TAG, OTHER_COMMIT))],
    );
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::CheckFailed);
    let (message, hint) = shown.split_once("\nhint: ").unwrap();
    assert!(
        message.contains(COMMIT) && message.contains(OTHER_COMMIT),
        "{shown}"
    );
    assert_contains(hint, "git tag -f v1.2.0");
}

async fn refused_token(kind: Kind) {
    let fake = FakeForge::start().await;
    fake.answer(&kind.tag_path(TAG), [status(401)]);
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::Auth);
    let (_, hint) = shown.split_once("\nhint: ").unwrap();
    let variable = match kind {
        // The job token cannot be changed; the fix is a token of one's own.
        Kind::Gitlab => "GITLAB_TOKEN",
        _ => kind.token_variable(),
    };
    assert_contains(hint, variable);
    assert_eq!(fake.paths_seen().len(), 1, "a refusal is not retried");
    assert_token_sent(kind, &fake);
}

async fn outage_then_success(kind: Kind) {
    let fake = FakeForge::start().await;
    fake.answer(
        &kind.tag_path(TAG),
        [status(503), ok(kind.lightweight_tag(TAG, COMMIT))],
    );
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(kind, TAG, COMMIT));
    assert_eq!(fake.paths_seen().len(), 2);
}

async fn outage_that_lasts(kind: Kind) {
    let fake = FakeForge::start().await;
    fake.answer(&kind.tag_path(TAG), [status(502)]);
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::Unavailable);
    assert_contains(&shown, "a re-run is safe");
    assert_contains(&shown, "HTTP 502");
    assert_eq!(fake.paths_seen().len(), 3, "one attempt and two retries");
}

async fn unreachable_forge(kind: Kind) {
    let fake = FakeForge::start().await;
    let mut env = kind.env(&fake);
    // A port nobody listens on: bound, then released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    for (_, value) in &mut env {
        *value = value.replace(&fake.base, &closed);
    }
    let outcome = confirm_in(env, ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::Unavailable);
    assert_contains(&shown, "connection failed");
    assert_contains(&shown, "after 3 attempts");
}

async fn tls_failure_is_not_retried(kind: Kind) {
    let fake = FakeForge::start().await;
    let mut env = kind.env(&fake);
    // https to the fake's plain-http port: the handshake fails every time.
    let https = fake.base.replacen("http://", "https://", 1);
    for (_, value) in &mut env {
        *value = value.replace(&fake.base, &https);
    }
    let outcome = confirm_in(env, ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::Unavailable);
    assert_contains(&shown, "TLS failed with");
    assert_contains(&shown, "TLS errors are not retried");
}

async fn no_credentials_under_auto(kind: Kind) {
    let fake = FakeForge::start().await;
    let env = without(kind.env(&fake), kind.token_variable());
    let outcome = confirm_in(env, ConfirmMode::Auto, TAG).await.unwrap();
    let ConfirmOutcome::Skipped { notice } = outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert_contains(&notice, kind.name());
    assert_contains(&notice, "to confirm it");
    let how = match kind {
        Kind::Gitlab => "GITLAB_TOKEN",
        _ => kind.token_variable(),
    };
    assert_contains(&notice, how);
    assert!(fake.paths_seen().is_empty());
}

async fn no_credentials_under_required(kind: Kind) {
    let fake = FakeForge::start().await;
    let env = without(kind.env(&fake), kind.token_variable());
    let shown = failure(
        confirm_in(env, ConfirmMode::Required, TAG).await,
        Exit::Usage,
    );
    assert_contains(&shown, "required");
    assert_contains(&shown, kind.name());
    assert!(fake.paths_seen().is_empty());
}

async fn an_answer_too_long_is_refused_unread(kind: Kind) {
    let fake = FakeForge::start().await;
    let mut tag = kind.lightweight_tag(TAG, COMMIT);
    // A well-formed answer, padded past what chuks-ci holds in memory.
    tag["padding"] = json!("x".repeat(chuks_ci::http::MAX_ANSWER_BYTES));
    fake.answer(&kind.tag_path(TAG), [ok(tag)]);
    let outcome = confirm_in(kind.env(&fake), ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::Unavailable);
    assert_contains(&shown, "an answer longer than 8 MiB");
    assert_eq!(fake.paths_seen().len(), 1, "a long answer is not retried");
}

// ---------------------------------------------------------------------------------------------
// Forge-specific behaviour.

#[tokio::test]
async fn github_enterprise_base_url_keeps_its_path() {
    let fake = FakeForge::start().await;
    let path = format!("/api/v3{}", Kind::Github.tag_path(TAG));
    fake.answer(&path, [ok(Kind::Github.lightweight_tag(TAG, COMMIT))]);
    let mut env = Kind::Github.env(&fake);
    env.retain(|(name, _)| *name != "GITHUB_API_URL");
    env.push(("GITHUB_API_URL", format!("{}/api/v3", fake.base)));
    let outcome = confirm_in(env, ConfirmMode::Required, TAG).await;
    assert_eq!(fake.paths_seen(), [path]);
    assert_eq!(outcome.unwrap(), confirmed(Kind::Github, TAG, COMMIT));
}

#[tokio::test]
async fn github_enterprise_annotated_tag_is_peeled_under_the_base_path() {
    let fake = FakeForge::start().await;
    let mut reference = Kind::Github.lightweight_tag(TAG, TAG_OBJECT);
    reference["object"]["type"] = json!("tag");
    fake.answer(
        &format!("/api/v3{}", Kind::Github.tag_path(TAG)),
        [ok(reference)],
    );
    fake.answer(
        &format!("/api/v3/repos/chuks/numpy/git/tags/{TAG_OBJECT}"),
        [ok(
            json!({ "sha": TAG_OBJECT, "tag": TAG, "object": { "type": "commit", "sha": COMMIT } }),
        )],
    );
    let mut env = Kind::Github.env(&fake);
    env.retain(|(name, _)| *name != "GITHUB_API_URL");
    env.push(("GITHUB_API_URL", format!("{}/api/v3/", fake.base)));
    let outcome = confirm_in(env, ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(Kind::Github, TAG, COMMIT));
}

#[tokio::test]
async fn github_token_flag_wins_over_the_variable() {
    let fake = FakeForge::start().await;
    fake.answer(&Kind::Github.tag_path(TAG), [status(403)]);
    let detection = detect(
        env_fn(Kind::Github.env(&fake)),
        Some(SecretString::from(format!("{CANARY}-flag"))),
    );
    let outcome = confirm(ConfirmMode::Required, &detection, &TAG.into(), &policy()).await;
    let shown = failure(outcome, Exit::Auth);
    assert_contains(&shown, "`--github-token`");
    assert_eq!(
        fake.header_seen("authorization"),
        [Some(format!("Bearer {CANARY}-flag"))]
    );
}

#[tokio::test]
async fn github_exhausted_rate_limit_is_an_outage_not_a_refusal() {
    let fake = FakeForge::start().await;
    let mut limited = status(403);
    limited.headers.push(("x-ratelimit-remaining", "0".into()));
    fake.answer(
        &Kind::Github.tag_path(TAG),
        [limited, ok(Kind::Github.lightweight_tag(TAG, COMMIT))],
    );
    let outcome = confirm_in(Kind::Github.env(&fake), ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(Kind::Github, TAG, COMMIT));
    assert_eq!(fake.paths_seen().len(), 2);
}

#[tokio::test]
async fn github_tag_of_a_tree_is_not_a_commit() {
    let fake = FakeForge::start().await;
    let mut reference = Kind::Github.lightweight_tag(TAG, OTHER_COMMIT);
    reference["object"]["type"] = json!("tree");
    fake.answer(&Kind::Github.tag_path(TAG), [ok(reference)]);
    let outcome = confirm_in(Kind::Github.env(&fake), ConfirmMode::Required, TAG).await;
    let shown = failure(outcome, Exit::CheckFailed);
    assert_contains(&shown, "tree");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeForge::start().await;
    let mut busy = status(429);
    busy.headers.push(("retry-after", "1".into()));
    fake.answer(
        &Kind::Gitlab.tag_path(TAG),
        [busy, ok(Kind::Gitlab.lightweight_tag(TAG, COMMIT))],
    );
    let started = Instant::now();
    let outcome = confirm_in(Kind::Gitlab.env(&fake), ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(Kind::Gitlab, TAG, COMMIT));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn gitlab_token_is_sent_as_private_token_and_wins_over_the_job_token() {
    let fake = FakeForge::start().await;
    fake.answer(
        &Kind::Gitlab.tag_path(TAG),
        [ok(Kind::Gitlab.lightweight_tag(TAG, COMMIT))],
    );
    let mut env = Kind::Gitlab.env(&fake);
    env.push(("GITLAB_TOKEN", format!("{CANARY}-private\n")));
    let outcome = confirm_in(env, ConfirmMode::Required, TAG).await;
    assert_eq!(outcome.unwrap(), confirmed(Kind::Gitlab, TAG, COMMIT));
    assert_eq!(
        fake.header_seen("private-token"),
        [Some(format!("{CANARY}-private"))]
    );
    assert_eq!(fake.header_seen("job-token"), [None]);
}

#[tokio::test]
async fn gitlab_refused_personal_token_names_the_scope() {
    let fake = FakeForge::start().await;
    fake.answer(&Kind::Gitlab.tag_path(TAG), [status(403)]);
    let mut env = without(Kind::Gitlab.env(&fake), "CI_JOB_TOKEN");
    env.push(("GITLAB_TOKEN", CANARY.into()));
    let shown = failure(
        confirm_in(env, ConfirmMode::Required, TAG).await,
        Exit::Auth,
    );
    assert!(
        shown.contains("`GITLAB_TOKEN`") && shown.contains("`read_api`"),
        "{shown}"
    );
}

#[tokio::test]
async fn gitlab_refused_job_token_is_a_notice_under_auto_and_names_gitlab_token_when_required() {
    for refusal in [401, 403] {
        let fake = FakeForge::start().await;
        fake.answer(&Kind::Gitlab.tag_path(TAG), [status(refusal)]);
        let outcome = confirm_in(Kind::Gitlab.env(&fake), ConfirmMode::Auto, TAG)
            .await
            .unwrap();
        let ConfirmOutcome::Skipped { notice } = outcome else {
            panic!("HTTP {refusal}: not skipped: {outcome:?}");
        };
        assert!(
            notice.contains("refused `CI_JOB_TOKEN`") && notice.contains("set `GITLAB_TOKEN`"),
            "{notice}"
        );
        assert_no_canary(&notice);

        let fake = FakeForge::start().await;
        fake.answer(&Kind::Gitlab.tag_path(TAG), [status(refusal)]);
        let shown = failure(
            confirm_in(Kind::Gitlab.env(&fake), ConfirmMode::Required, TAG).await,
            Exit::Auth,
        );
        let (_, hint) = shown.split_once("\nhint: ").unwrap();
        assert_contains(hint, "set `GITLAB_TOKEN`");
    }
}

#[tokio::test]
async fn gitlab_refused_personal_token_under_auto_is_still_an_error() {
    let fake = FakeForge::start().await;
    fake.answer(&Kind::Gitlab.tag_path(TAG), [status(401)]);
    let mut env = without(Kind::Gitlab.env(&fake), "CI_JOB_TOKEN");
    env.push(("GITLAB_TOKEN", CANARY.into()));
    failure(confirm_in(env, ConfirmMode::Auto, TAG).await, Exit::Auth);
}

// ---------------------------------------------------------------------------------------------
// Modes and detection.

#[tokio::test]
async fn off_never_asks_the_forge() {
    let fake = FakeForge::start().await;
    let outcome = confirm_in(Kind::Github.env(&fake), ConfirmMode::Off, TAG)
        .await
        .unwrap();
    assert!(
        matches!(outcome, ConfirmOutcome::Skipped { .. }),
        "{outcome:?}"
    );
    assert!(fake.paths_seen().is_empty());
}

#[tokio::test]
async fn outside_ci_auto_skips_and_required_fails() {
    let outcome = confirm_in(Vec::new(), ConfirmMode::Auto, TAG)
        .await
        .unwrap();
    assert_eq!(outcome, ConfirmOutcome::NotInCi);
    failure(
        confirm_in(Vec::new(), ConfirmMode::Required, TAG).await,
        Exit::Usage,
    );
}

#[test]
fn detection_reads_each_ci_and_never_shows_the_token() {
    for (kind, env) in [
        (
            Kind::Github,
            vec![
                ("GITHUB_REPOSITORY", "chuks/numpy"),
                ("GITHUB_SHA", COMMIT),
                ("GITHUB_TOKEN", CANARY),
            ],
        ),
        (
            Kind::Gitlab,
            vec![
                ("GITLAB_CI", "true"),
                ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
                ("CI_PROJECT_ID", "42"),
                ("CI_COMMIT_SHA", COMMIT),
                ("CI_JOB_TOKEN", CANARY),
            ],
        ),
        (
            Kind::Bitbucket,
            vec![
                ("BITBUCKET_REPO_FULL_NAME", "chuks/numpy"),
                ("BITBUCKET_COMMIT", COMMIT),
                ("BITBUCKET_ACCESS_TOKEN", CANARY),
            ],
        ),
    ] {
        let env: Env = env.into_iter().map(|(k, v)| (k, v.to_string())).collect();
        let ForgeDetection::Ready(forge) = detect(env_fn(env), None) else {
            panic!("{kind:?} not detected");
        };
        assert_eq!(forge.name(), kind.name());
        assert_eq!(forge.commit(), COMMIT);
        assert_no_canary(&format!("{forge:?}"));
    }
}

#[test]
fn a_token_with_stray_characters_is_not_used() {
    let env: Env = vec![
        ("GITHUB_REPOSITORY", "chuks/numpy".into()),
        ("GITHUB_SHA", COMMIT.into()),
        ("GITHUB_TOKEN", format!("\"{CANARY} x\"")),
    ];
    let detection = detect(env_fn(env), None);
    assert_no_canary(&format!("{detection:?}"));
    let ForgeDetection::NoCredentials { missing, .. } = detection else {
        panic!("expected no credentials, got {detection:?}");
    };
    assert_contains(&missing, "`GITHUB_TOKEN`");
}

#[tokio::test]
async fn forge_errors_have_their_exit_codes_through_anyhow() {
    let fake = FakeForge::start().await;
    fake.answer(&Kind::Bitbucket.tag_path(TAG), [status(401)]);
    let err = confirm_in(Kind::Bitbucket.env(&fake), ConfirmMode::Required, TAG)
        .await
        .unwrap_err();
    let err = anyhow::Error::from(err).context("publishing `numpy` 1.2.0");
    assert_eq!(classify(&err), Exit::Auth);
}

#[tokio::test]
async fn plain_http_to_a_remote_forge_is_skipped_under_auto_and_refused_when_required() {
    let fake = FakeForge::start().await;
    let mut env = Kind::Gitlab.env(&fake);
    for (_, value) in &mut env {
        *value = value.replace(&fake.base, "http://gitlab.example.invalid");
    }
    match confirm_in(env.clone(), ConfirmMode::Auto, TAG).await {
        Ok(ConfirmOutcome::Skipped { notice }) => {
            assert_contains(&notice, "over plain http");
            assert_no_canary(&notice);
        }
        other => panic!("expected a skip under auto: {other:?}"),
    }
    let shown = failure(
        confirm_in(env, ConfirmMode::Required, TAG).await,
        Exit::Usage,
    );
    assert_contains(&shown, "over plain http");
    assert!(
        fake.paths_seen().is_empty(),
        "nothing may be sent over plain http"
    );
}

// ---------------------------------------------------------------------------------------------
// The same GitHub lookup serves `init`, which pins the action by the commit of its release tag.

#[tokio::test]
async fn init_asks_github_without_a_token_and_peels_an_annotated_tag() {
    let fake = FakeForge::start().await;
    let mut reference = Kind::Github.lightweight_tag(TAG, TAG_OBJECT);
    reference["object"]["type"] = json!("tag");
    fake.answer(&Kind::Github.tag_path(TAG), [ok(reference)]);
    fake.answer(
        &format!("/repos/chuks/numpy/git/tags/{TAG_OBJECT}"),
        [ok(
            json!({ "object": { "type": "commit", "sha": COMMIT.to_uppercase() } }),
        )],
    );
    let commit = release_commit(&fake.base, "chuks/numpy", TAG)
        .await
        .unwrap();
    assert_eq!(commit, COMMIT);
    assert_eq!(fake.header_seen("authorization"), [None, None]);
}

#[tokio::test]
async fn init_pins_nothing_but_a_commit_sha() {
    let fake = FakeForge::start().await;
    let mut reference = Kind::Github.lightweight_tag(TAG, COMMIT);
    reference["object"]["sha"] = json!("main\nuses: evil/action@v1");
    fake.answer(&Kind::Github.tag_path(TAG), [ok(reference)]);
    let err = release_commit(&fake.base, "chuks/numpy", TAG)
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::NotASha), "{err:?}");
    let missing = release_commit(&fake.base, "chuks/numpy", "v9.9.9")
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "GitHub has no tag `v9.9.9`");
}

#[tokio::test]
async fn init_takes_no_commit_over_plain_http_from_a_remote_host() {
    let err = release_commit("http://github.example.invalid", "chuks/numpy", TAG)
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert_contains(
        &shown,
        "`GITHUB_API_URL` points at `github.example.invalid` over plain http",
    );
    assert!(!shown.contains('\n'), "one line for init's note: {shown}");
}
