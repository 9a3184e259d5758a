//! A fake OIDC issuer on 127.0.0.1:0, standing in for GitHub Actions, GitLab and Bitbucket: a
//! discovery document, a key set that can rotate (the RSA keys of `tests/fixtures/oidc/`),
//! RS256 ID tokens with the claims each CI sends, and GitHub's ID-token request endpoint.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The bearer token the fake GitHub ID-token endpoint wants (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
pub const REQUEST_TOKEN: &str = "fake-actions-id-token-request-token";

/// The audience the reference registry expects by default.
pub const AUDIENCE: &str = "chuks";

/// How many fixture keys there are (`key1` … `key3`).
pub const KEYS: usize = 3;

pub struct FakeIssuer {
    url: String,
    state: Arc<IssuerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct IssuerState {
    url: String,
    /// The fixture keys (1-based) the key set publishes.
    published: Mutex<Vec<usize>>,
    jwks_fetches: AtomicUsize,
    /// What the GitHub ID-token endpoint signs, its `aud` set from the request.
    github_claims: Mutex<Value>,
}

impl FakeIssuer {
    /// An issuer publishing key 1; its GitHub ID-token endpoint signs
    /// [`FakeIssuer::github_claims`] for `octo/widget`'s `release.yml`.
    pub fn start() -> FakeIssuer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IssuerState {
            url: url.clone(),
            published: Mutex::new(vec![1]),
            jwks_fetches: AtomicUsize::new(0),
            github_claims: Mutex::new(Value::Null),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/github/id-token", get(github_id_token))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let issuer = FakeIssuer {
            url,
            state,
            stop: Some(stop),
            thread: Some(thread),
        };
        issuer.set_github_claims(issuer.github_claims("octo/widget", "release.yml"));
        issuer
    }

    /// The issuer URL, as `iss` and `--oidc-issuer` spell it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Publishes these fixture keys (1-based) from now on: a key rotation.
    pub fn publish_keys(&self, keys: &[usize]) {
        *self.state.published.lock().unwrap() = keys.to_vec();
    }

    /// How many times the key set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: the client appends `&audience=…`.
    pub fn id_token_request_url(&self) -> String {
        format!("{}/github/id-token?api-version=2.0", self.url)
    }

    /// What the GitHub ID-token endpoint signs from now on (with key 1; `aud` is replaced by
    /// the requested audience, `jti` by a fresh one).
    pub fn set_github_claims(&self, claims: Value) {
        *self.state.github_claims.lock().unwrap() = claims;
    }

    /// Signs `claims` with fixture key `key`, named by its `kid`.
    pub fn sign(&self, claims: &Value, key: usize) -> String {
        self.sign_as(claims, key, &kid(key))
    }

    /// Signs `claims` with fixture key `key` but names the key `kid`.
    pub fn sign_as(&self, claims: &Value, key: usize, kid: &str) -> String {
        sign(claims, key, kid)
    }

    /// A GitHub Actions ID token of a tag push in `repository` running `workflow`, signed with
    /// key 1.
    pub fn github_token(&self, repository: &str, workflow: &str) -> String {
        self.sign(&self.github_claims(repository, workflow), 1)
    }

    /// The claims GitHub Actions puts in an ID token of a tag push of `v1.0.0` in
    /// `repository`, run by `workflow` (a file of `.github/workflows/`), with no environment.
    pub fn github_claims(&self, repository: &str, workflow: &str) -> Value {
        let workflow_ref = format!("{repository}/.github/workflows/{workflow}@refs/tags/v1.0.0");
        let mut claims = self.time_claims();
        merge(
            &mut claims,
            json!({
                "sub": format!("repo:{repository}:ref:refs/tags/v1.0.0"),
                "repository": repository,
                "repository_owner": repository.split('/').next().unwrap(),
                "repository_owner_id": "4242",
                "repository_id": "777",
                "workflow_ref": workflow_ref,
                "job_workflow_ref": workflow_ref,
                "ref": "refs/tags/v1.0.0",
                "ref_type": "tag",
                "sha": "0123456789abcdef0123456789abcdef01234567",
                "run_id": "9001",
                "run_attempt": "1",
                "event_name": "push",
            }),
        );
        claims
    }

    /// The claims GitLab CI puts in an ID token of a tag pipeline of `project` whose CI
    /// configuration is `config_path`.
    pub fn gitlab_claims(&self, project: &str, config_path: &str) -> Value {
        let mut claims = self.time_claims();
        merge(
            &mut claims,
            json!({
                "sub": format!("project_path:{project}:ref_type:tag:ref:v1.0.0"),
                "project_path": project,
                "project_id": "31337",
                "namespace_path": project.rsplit_once('/').unwrap().0,
                "ci_config_ref_uri": format!("gitlab.com/{project}//{config_path}@refs/tags/v1.0.0"),
                "ref": "v1.0.0",
                "ref_type": "tag",
                "sha": "0123456789abcdef0123456789abcdef01234567",
                "pipeline_id": "555",
            }),
        );
        claims
    }

    /// The claims Bitbucket Pipelines puts in a step's ID token.
    pub fn bitbucket_claims(&self, workspace_uuid: &str, repository_uuid: &str) -> Value {
        let mut claims = self.time_claims();
        merge(
            &mut claims,
            json!({
                "sub": format!("{repository_uuid}:{{step}}"),
                "workspaceUuid": workspace_uuid,
                "repositoryUuid": repository_uuid,
                "pipelineUuid": "{pipeline}",
                "stepUuid": "{step}",
                "branchName": "main",
            }),
        );
        claims
    }

    /// `iss`, `aud`, a fresh `jti`, and `iat`/`nbf` now, `exp` in five minutes.
    fn time_claims(&self) -> Value {
        time_claims(&self.url)
    }
}

impl Drop for FakeIssuer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn time_claims(issuer: &str) -> Value {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let now = jiff::Timestamp::now().as_second();
    let jti = format!(
        "jti-{}-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::SeqCst),
        jiff::Timestamp::now().as_nanosecond()
    );
    json!({"iss": issuer, "aud": AUDIENCE, "jti": jti, "iat": now, "nbf": now, "exp": now + 300})
}

/// Sets every field of `extra` in `claims`; a `null` removes the claim.
pub fn merge(claims: &mut Value, extra: Value) {
    let claims = claims.as_object_mut().unwrap();
    for (name, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.clone(), value.clone());
        }
    }
}

/// An unsigned token (`alg: none`) carrying `claims`, as an attacker would send it.
pub fn unsigned(claims: &Value) -> String {
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT", "kid": kid(1)})),
        encode(claims)
    )
}

/// The `kid` of fixture key `key`.
pub fn kid(key: usize) -> String {
    format!("test-key-{key}")
}

fn sign(claims: &Value, key: usize, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_der(&private_der(key)),
    )
    .unwrap()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oidc")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// The PKCS#1 DER of fixture key `key`: its PEM's base64 body.
fn private_der(key: usize) -> Vec<u8> {
    let pem = fixture(&format!("key{key}.pem"));
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    axum::Json(json!({
        "issuer": state.url,
        "jwks_uri": format!("{}/jwks", state.url),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = state
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|key| serde_json::from_str(&fixture(&format!("key{key}.jwk.json"))).unwrap())
        .collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

/// GitHub's ID-token request: `GET …&audience=AUD` with `Authorization: bearer
/// REQUEST_TOKEN`, answering `{"value": JWT}`.
async fn github_id_token(
    State(state): State<Arc<IssuerState>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case(&format!("bearer {REQUEST_TOKEN}")));
    if !authorized {
        return (StatusCode::UNAUTHORIZED, "bad request token").into_response();
    }
    let mut claims = state.github_claims.lock().unwrap().clone();
    let fresh = time_claims(&state.url);
    merge(
        &mut claims,
        json!({"jti": fresh["jti"], "iat": fresh["iat"], "nbf": fresh["nbf"], "exp": fresh["exp"]}),
    );
    if let Some(audience) = query.get("audience") {
        merge(&mut claims, json!({ "aud": audience }));
    }
    axum::Json(json!({ "value": sign(&claims, 1, &kid(1)) })).into_response()
}
