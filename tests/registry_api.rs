//! The reference registry over real HTTP on loopback: auth, tokens, publishing, permissions.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use std::io::{Read, Write};
use std::time::Duration;

use chuks_ci::registry_server::{Registry, RegistryConfig, RegistryError};
use chuks_ci::token::{self, Scope, TOKEN_PREFIX};
use common::registry::{
    TestRegistry, base64, body_for_tarball, in_seconds, publish_body, sha256, tarball,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

const ALICE_ALL: &[Scope] = &Scope::ALL;

/// One endpoint of the auth matrix: how to call it with a token so that it succeeds.
struct Endpoint {
    method: Method,
    path: &'static str,
    scope: Option<Scope>,
    body: fn(usize) -> Option<Value>,
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: Method::GET,
            path: "/tokens/self",
            scope: None,
            body: |_| None,
        },
        Endpoint {
            method: Method::GET,
            path: "/packages?owner=me",
            scope: Some(Scope::PackagesRead),
            body: |_| None,
        },
        Endpoint {
            method: Method::POST,
            path: "/packages/di/1.0.{n}",
            scope: Some(Scope::PackagesPublish),
            body: |n| Some(publish_body("di", &format!("1.0.{n}"), b"tarball")),
        },
        Endpoint {
            method: Method::POST,
            path: "/packages/di/0.1.0/prebuilt",
            scope: Some(Scope::PackagesPublish),
            // Every overwrite is a 409, so each call that succeeds uses another platform.
            body: |n| {
                let platform =
                    chuks_ci::prebuilt::PLATFORMS[n % chuks_ci::prebuilt::PLATFORMS.len()];
                Some(
                    json!({"platform": platform, "sha256": sha256(b"bin"), "size": 3, "binary": base64(b"bin")}),
                )
            },
        },
        Endpoint {
            method: Method::POST,
            path: "/packages/di/0.1.0/yank",
            scope: Some(Scope::PackagesYank),
            body: |_| None,
        },
        Endpoint {
            method: Method::POST,
            path: "/packages/di/0.1.0/restore",
            scope: Some(Scope::PackagesYank),
            body: |_| None,
        },
        Endpoint {
            method: Method::GET,
            path: "/packages/di/permissions",
            scope: Some(Scope::PackagesPermissions),
            body: |_| None,
        },
        Endpoint {
            method: Method::PUT,
            path: "/packages/di/permissions",
            scope: Some(Scope::PackagesPermissions),
            body: |_| Some(json!({"publishers": ["bob"]})),
        },
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TokenState {
    Valid,
    Revoked,
    ExpiredASecondAgo,
    ExpiringInASecond,
}

#[tokio::test]
async fn auth_matrix_over_every_endpoint() {
    let registry = TestRegistry::start();
    let setup = registry.token("alice", ALICE_ALL);
    assert_eq!(
        registry.publish(&setup, "di", "0.1.0", b"first").await.0,
        StatusCode::CREATED
    );
    let mut calls = 0;
    for endpoint in endpoints() {
        for state in [
            TokenState::Valid,
            TokenState::Revoked,
            TokenState::ExpiredASecondAgo,
            TokenState::ExpiringInASecond,
        ] {
            for has_scope in [true, false] {
                let scopes: Vec<Scope> = match endpoint.scope {
                    Some(needed) if !has_scope => {
                        Scope::ALL.into_iter().filter(|s| *s != needed).collect()
                    }
                    _ => Scope::ALL.to_vec(),
                };
                let expires_at = match state {
                    TokenState::ExpiredASecondAgo => in_seconds(-1),
                    TokenState::ExpiringInASecond => in_seconds(1),
                    _ => in_seconds(86_400),
                };
                let issued = registry
                    .mint_token("alice", "matrix", &scopes, expires_at)
                    .unwrap();
                if state == TokenState::Revoked {
                    registry.revoke_token(issued.record.id).unwrap();
                }
                calls += 1;
                let path = endpoint.path.replace("{n}", &calls.to_string());
                let body = (endpoint.body)(calls);
                let (status, answer) = registry
                    .call(
                        endpoint.method.clone(),
                        &path,
                        Some(issued.token.expose()),
                        body.as_ref(),
                    )
                    .await;
                let context = format!(
                    "{} {path} {state:?} has_scope={has_scope}: {answer}",
                    endpoint.method
                );
                match state {
                    TokenState::Revoked => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{context}");
                        assert_eq!(code(&answer), "token_revoked", "{context}");
                        assert!(answer["error"]["revoked_at"].is_string(), "{context}");
                    }
                    TokenState::ExpiredASecondAgo => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{context}");
                        assert_eq!(code(&answer), "token_expired", "{context}");
                        assert_eq!(
                            answer["error"]["expires_at"],
                            expires_at.to_string(),
                            "{context}"
                        );
                    }
                    _ if endpoint.scope.is_some() && !has_scope => {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{context}");
                        assert_eq!(code(&answer), "missing_scope", "{context}");
                        assert_eq!(
                            answer["error"]["scope"],
                            endpoint.scope.unwrap().as_str(),
                            "{context}"
                        );
                    }
                    _ => assert!(status.is_success(), "{context}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn credentials_that_are_not_api_tokens_are_refused_first() {
    let registry = TestRegistry::start();
    let cases = [
        (None, "missing_token"),
        (Some("Bearer ghp_0123456789"), "not_an_api_token"),
        (
            Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
            "not_an_api_token",
        ),
        (Some("Basic YWxpY2U6c2VjcmV0"), "not_an_api_token"),
        (
            Some("Bearer chuks_pk_unknown000000000000000000000000000000"),
            "invalid_token",
        ),
    ];
    for (header, expected) in cases {
        let mut request = registry.client.get(registry.api_url("/tokens/self"));
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), expected, "{header:?}");
    }
}

#[tokio::test]
async fn checks_run_in_the_documented_order() {
    let registry = TestRegistry::start();
    // Revoked and expired and lacking the scope: revocation is reported.
    let issued = registry
        .mint_token("alice", "t", &[Scope::PackagesRead], in_seconds(-5))
        .unwrap();
    registry.revoke_token(issued.record.id).unwrap();
    let body = publish_body("di", "0.1.0", b"x");
    let (_, answer) = registry
        .call(
            Method::POST,
            "/packages/di/0.1.0",
            Some(issued.token.expose()),
            Some(&body),
        )
        .await;
    assert_eq!(code(&answer), "token_revoked");
    // Expired and lacking the scope: expiry is reported.
    let expired = registry.token_expiring("alice", &[Scope::PackagesRead], in_seconds(-5));
    let (_, answer) = registry
        .call(
            Method::POST,
            "/packages/di/0.1.0",
            Some(&expired),
            Some(&body),
        )
        .await;
    assert_eq!(code(&answer), "token_expired");
    // Lacking the scope with an invalid body: the scope is reported, nothing is parsed.
    let read_only = registry.token("alice", &[Scope::PackagesRead]);
    let (status, answer) = registry
        .call(
            Method::POST,
            "/packages/di/0.1.0",
            Some(&read_only),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::FORBIDDEN, "missing_scope")
    );
}

#[tokio::test]
async fn last_used_at_changes_only_when_a_request_is_authorized() {
    let registry = TestRegistry::start();
    let issued = registry
        .mint_token("alice", "ci", &[Scope::PackagesPublish], in_seconds(86_400))
        .unwrap();
    let raw = issued.token.expose().to_string();
    let last_used = || {
        registry
            .list_tokens()
            .unwrap()
            .into_iter()
            .find(|t| t.id == issued.record.id)
            .unwrap()
            .last_used_at
    };
    assert_eq!(last_used(), None);
    let (status, _) = registry
        .call(Method::GET, "/packages?owner=me", Some(&raw), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(last_used(), None, "a refused scope is not a use");

    let (status, me) = registry
        .call(Method::GET, "/tokens/self", Some(&raw), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let used = last_used().expect("an authorized request is a use");
    assert_eq!(me["last_used_at"], used.to_string());
    assert_eq!(me["id"], issued.record.id);
    assert_eq!(me["name"], "ci");
    assert_eq!(me["publisher"], "alice");
    assert_eq!(me["scopes"], json!(["packages:publish"]));
    assert_eq!(me["status"], "active");
    assert_eq!(me["expires_at"], issued.record.expires_at.to_string());
    assert!(!me.to_string().contains(TOKEN_PREFIX), "{me}");

    registry.revoke_token(issued.record.id).unwrap();
    let (status, _) = registry
        .call(Method::GET, "/tokens/self", Some(&raw), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        last_used(),
        Some(used),
        "a revoked token's use is not recorded"
    );
    let listed = registry.list_tokens().unwrap();
    assert_eq!(listed.len(), 1, "revoked tokens stay listed");
    assert_eq!(listed[0].status(Timestamp::now()).as_str(), "revoked");
}

#[test]
fn expiry_is_7_to_365_days() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path()).unwrap();
    for days in [6, 366, 0, -1] {
        let err = registry
            .create_token("alice", "t", &[Scope::PackagesRead], days)
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::ExpiryOutOfRange { days: d } if d == days),
            "{days}"
        );
        assert!(
            err.to_string()
                .contains("\nhint: choose `--expires-in-days` from 7 to 365")
        );
    }
    for days in [7, 365] {
        let issued = registry
            .create_token("alice", "t", &[Scope::PackagesRead], days)
            .unwrap();
        let lifetime = issued
            .record
            .expires_at
            .duration_since(issued.record.created_at);
        assert_eq!(lifetime, SignedDuration::from_hours(24 * days), "{days}");
    }
    assert_eq!(
        registry.list_tokens().unwrap().len(),
        2,
        "refused tokens are not stored"
    );
}

#[test]
fn token_requests_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path()).unwrap();
    assert!(matches!(
        registry.create_token("alice", "t", &[], 30),
        Err(RegistryError::NoScopes)
    ));
    assert!(matches!(
        registry.create_token("alice", " ", &[Scope::PackagesRead], 30),
        Err(RegistryError::EmptyTokenName)
    ));
    assert!(matches!(
        registry.create_token("a b", "t", &[Scope::PackagesRead], 30),
        Err(RegistryError::InvalidPublisher { .. })
    ));
    assert!(matches!(
        registry.revoke_token(42),
        Err(RegistryError::TokenNotFound { id: 42 })
    ));
}

#[tokio::test]
async fn only_token_hashes_are_stored() {
    let registry = TestRegistry::start();
    let mut raws = Vec::new();
    for days in [7, 30] {
        let issued = registry
            .create_token("alice", "ci", &Scope::ALL, days)
            .unwrap();
        raws.push(issued.token.expose().to_string());
    }
    raws.push(registry.token("bob", &[Scope::PackagesRead]));
    for raw in &raws {
        assert_eq!(
            registry
                .call(Method::GET, "/tokens/self", Some(raw), None)
                .await
                .0,
            StatusCode::OK
        );
    }
    assert_eq!(
        registry.publish(&raws[0], "di", "0.1.0", b"bytes").await.0,
        StatusCode::CREATED
    );

    let connection = rusqlite::Connection::open(registry.database_path()).unwrap();
    let user_version: i64 = connection
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 3);
    let journal: String = connection
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let mut stored_hashes = Vec::new();
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.contains(&"tokens".to_string()), "{tables:?}");
    for table in &tables {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM {table}"))
            .unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for column in 0..columns {
                let text = match row.get_ref(column).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    other => format!("{other:?}"),
                };
                assert!(!text.contains(TOKEN_PREFIX), "{table} holds token material");
                stored_hashes.push(text);
            }
        }
    }
    for raw in &raws {
        assert!(
            stored_hashes.contains(&token::token_hash(raw)),
            "the hash is what is stored"
        );
    }
    drop(connection);
    // Read while the server runs, so the WAL file is still there and gets checked too.
    let data_dir = registry.database_path().parent().unwrap().to_path_buf();
    let mut files = 0;
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The upload spool: payloads only, in unnamed files.
            continue;
        }
        let bytes = std::fs::read(path).unwrap();
        files += 1;
        for needle in std::iter::once(TOKEN_PREFIX.as_bytes())
            .chain(raws.iter().map(|r| &r.as_bytes()[TOKEN_PREFIX.len()..]))
        {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "token material on disk"
            );
        }
    }
    assert!(files >= 1);
}

#[tokio::test]
async fn every_overwrite_is_a_409_with_the_stored_sha256_and_changes_nothing() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let (status, first) = registry.publish(&token, "di", "0.1.0", b"original").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["result"], "published");
    assert_eq!(
        first["sha256"],
        sha256(&tarball("di", "0.1.0", b"original"))
    );
    assert_eq!(first["size"], tarball("di", "0.1.0", b"original").len());
    assert_eq!(first["publisher"], "alice");
    assert_eq!(first["git"]["tag"], "v0.1.0");

    // Identical bytes too, as the real registry answers: the digest says they are the same.
    let (status, again) = registry.publish(&token, "di", "0.1.0", b"original").await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(code(&again), "version_exists");
    assert_eq!(
        again["error"]["stored_sha256"],
        sha256(&tarball("di", "0.1.0", b"original"))
    );

    let (status, conflict) = registry.publish(&token, "di", "0.1.0", b"changed").await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(code(&conflict), "version_exists");
    assert_eq!(
        conflict["error"]["stored_sha256"],
        sha256(&tarball("di", "0.1.0", b"original"))
    );

    let stored = registry.version("di", "0.1.0").unwrap();
    assert_eq!(
        stored["sha256"],
        sha256(&tarball("di", "0.1.0", b"original"))
    );
    assert_eq!(stored["published_at"], first["published_at"]);
    let (status, bytes) = registry.bytes("/packages/di/0.1.0/tarball").await;
    assert_eq!(
        (status, bytes),
        (StatusCode::OK, tarball("di", "0.1.0", b"original"))
    );
    assert_eq!(
        registry.count_rows("blobs"),
        1,
        "the conflicting bytes were not stored"
    );
}

#[tokio::test]
async fn eight_concurrent_identical_publishes_store_one_version() {
    let registry = std::sync::Arc::new(TestRegistry::start());
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let registry = std::sync::Arc::clone(&registry);
            let token = token.clone();
            tokio::spawn(
                async move { registry.publish(&token, "di", "1.0.0", b"same bytes").await },
            )
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        results.push((status, body));
    }
    let created = results
        .iter()
        .filter(|(s, body)| *s == StatusCode::CREATED && body["result"] == "published")
        .count();
    let exists = results
        .iter()
        .filter(|(s, body)| {
            *s == StatusCode::CONFLICT
                && body["error"]["stored_sha256"] == sha256(&tarball("di", "1.0.0", b"same bytes"))
        })
        .count();
    assert_eq!((created, exists), (1, 7), "{results:?}");
    assert_eq!(registry.count_rows("versions"), 1);
    let (_, package) = registry.get("/packages/di").await;
    assert_eq!(package["versions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refused_uploads_store_nothing() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let good = publish_body("di", "0.1.0", b"tarball");
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let cases = [
        (
            with("sha256", json!(sha256(b"other"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checksum_mismatch",
        ),
        (
            with("size", json!(8)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "size_mismatch",
        ),
        (
            with("manifest", json!({"name": "other", "version": "0.1.0"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "manifest_mismatch",
        ),
        (
            with("manifest", json!({"name": "di", "version": "0.2.0"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "manifest_mismatch",
        ),
        (
            with("manifest", json!({"name": "di", "version": "1.2"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_manifest",
        ),
        (
            with("tarball", json!("not base64!")),
            StatusCode::BAD_REQUEST,
            "invalid_base64",
        ),
        (
            with("size", json!("seven")),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ];
    for (body, status, expected) in &cases {
        let (got, answer) = registry
            .call(Method::POST, "/packages/di/0.1.0", Some(&token), Some(body))
            .await;
        assert_eq!((got, code(&answer)), (*status, *expected), "{answer}");
    }
    let (status, answer) = registry
        .call(
            Method::POST,
            "/packages/Di/0.1.0",
            Some(&token),
            Some(&good),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_name")
    );
    let (status, answer) = registry
        .call(
            Method::POST,
            "/packages/di/v0.1.0",
            Some(&token),
            Some(&good),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_version")
    );

    // Cut-short JSON with a matching Content-Length.
    let text = good.to_string();
    let response = registry
        .client
        .post(registry.api_url("/packages/di/0.1.0"))
        .bearer_auth(&token)
        .body(text[..text.len() / 2].to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&response.json().await.unwrap()), "invalid_json");

    // A connection that dies mid-body.
    let (head, _) = raw_request(
        &registry,
        "POST",
        "/packages/di/0.1.0",
        &token,
        text.len(),
        &text.as_bytes()[..text.len() / 2],
    );
    assert!(head.is_empty() || !head.starts_with("HTTP/1.1 2"), "{head}");

    for table in ["packages", "versions", "blobs"] {
        assert_eq!(registry.count_rows(table), 0, "{table}");
    }
    assert_eq!(registry.get("/packages/di").await.0, StatusCode::NOT_FOUND);
    // And the same upload, intact, still succeeds.
    assert_eq!(
        registry.publish(&token, "di", "0.1.0", b"tarball").await.0,
        StatusCode::CREATED
    );
}

/// Sends a request by hand declaring `content_length` but writing only `body`, then closes the
/// writing half. Returns what the server answered, if anything.
fn raw_request(
    registry: &TestRegistry,
    method: &str,
    path: &str,
    token: &str,
    content_length: usize,
    body: &[u8],
) -> (String, String) {
    let head = format!(
        "{method} /api{path} HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    raw_exchange(
        registry,
        &[head.as_bytes(), body],
        Close::WritingHalf,
        || {},
    )
}

/// Whether to close the writing half once everything is written: a connection that dies there.
enum Close {
    WritingHalf,
    Nothing,
}

/// Writes `parts[0]`, runs `between`, writes the rest (a refused write is part of a test: the
/// server may have answered already), closes as told and reads the answer's head and body.
fn raw_exchange(
    registry: &TestRegistry,
    parts: &[&[u8]],
    close: Close,
    between: impl FnOnce(),
) -> (String, String) {
    let address = registry.url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (first, rest) = parts.split_first().unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    between();
    for part in rest {
        let _ = stream.write_all(part);
    }
    if let Close::WritingHalf = close {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_string(), body.to_string()),
        None => (answer, String::new()),
    }
}

#[tokio::test]
async fn oversized_packages_get_413_as_json() {
    let registry = TestRegistry::start_with(|config| config.max_package_bytes = 1000);
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let oversized = body_for_tarball("di", "0.1.0", &[7u8; 1001]);
    let (status, answer) = registry
        .call(
            Method::POST,
            "/packages/di/0.1.0",
            Some(&token),
            Some(&oversized),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "package_too_large")
    );
    assert_eq!(answer["error"]["limit_bytes"], 1000);
    assert_eq!(
        registry.publish(&token, "di", "0.1.0", b"fits").await.0,
        StatusCode::CREATED
    );

    let (head, body) = raw_request(
        &registry,
        "POST",
        "/packages/di/0.2.0",
        &token,
        50_000_000,
        b"",
    );
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_contains(&body, "\"code\":\"package_too_large\"");
    assert_eq!(registry.count_rows("versions"), 1);
}

#[tokio::test]
async fn packages_larger_than_axum_defaults_fit_the_default_limit() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    // Incompressible, so the tarball stays over axum's 2 MB default body limit.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let content: Vec<u8> = (0..3 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let (status, answer) = registry.publish(&token, "big", "1.0.0", &content).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(
        registry.bytes("/packages/big/1.0.0/tarball").await.1,
        tarball("big", "1.0.0", &content)
    );
}

#[tokio::test]
async fn scoped_names_round_trip() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let (status, published) = registry
        .publish(&token, "@chuks/numpy", "1.2.0", b"numpy")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert_eq!(published["name"], "@chuks/numpy");
    for path in [
        "/packages/@chuks%2Fnumpy/1.2.0",
        "/packages/%40chuks%2Fnumpy/1.2.0",
        "/packages/%40chuks%2fnumpy/1.2.0",
    ] {
        let (status, version) = registry.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(version["name"], "@chuks/numpy", "{path}");
    }
    let (_, package) = registry.get("/packages/@chuks%2Fnumpy").await;
    assert_eq!(package["versions"][0]["version"], "1.2.0");
    let (status, bytes) = registry
        .bytes("/packages/@chuks%2Fnumpy/1.2.0/tarball")
        .await;
    assert_eq!(
        (status, bytes),
        (StatusCode::OK, tarball("@chuks/numpy", "1.2.0", b"numpy"))
    );
    let (status, answer) = registry.get("/packages/@chuks/numpy").await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_name")
    );
    assert!(answer["error"]["message"].as_str().unwrap().contains("%2F"));
    // Build metadata survives the path too.
    let (status, _) = registry
        .publish(&token, "@chuks/numpy", "1.3.0-rc.1+build.5", b"rc")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        registry
            .get("/packages/@chuks%2Fnumpy/1.3.0-rc.1%2Bbuild.5")
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn publishing_needs_the_owner_or_a_grant() {
    let registry = TestRegistry::start();
    let alice = registry.token(
        "alice",
        &[Scope::PackagesPublish, Scope::PackagesPermissions],
    );
    let bob = registry.token(
        "bob",
        &[
            Scope::PackagesPublish,
            Scope::PackagesPermissions,
            Scope::PackagesYank,
        ],
    );
    assert_eq!(
        registry.publish(&alice, "di", "0.1.0", b"a").await.0,
        StatusCode::CREATED
    );

    let (status, answer) = registry.publish(&bob, "di", "0.2.0", b"b").await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::FORBIDDEN, "not_a_publisher")
    );
    let (status, answer) = registry
        .call(Method::POST, "/packages/di/0.1.0/yank", Some(&bob), None)
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::FORBIDDEN, "not_a_publisher")
    );
    let grant = json!({"publishers": ["bob"]});
    let (status, answer) = registry
        .call(
            Method::PUT,
            "/packages/di/permissions",
            Some(&bob),
            Some(&grant),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::FORBIDDEN, "not_the_owner")
    );
    let (status, answer) = registry
        .call(
            Method::PUT,
            "/packages/di/permissions",
            Some(&alice),
            Some(&json!({"owner": "bob", "publishers": []})),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_permissions")
    );

    let (status, permissions) = registry
        .call(
            Method::PUT,
            "/packages/di/permissions",
            Some(&alice),
            Some(&grant),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{permissions}");
    assert_eq!(
        permissions,
        json!({"name": "di", "owner": "alice", "publishers": ["bob"]})
    );
    let (status, published) = registry.publish(&bob, "di", "0.2.0", b"b").await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert_eq!(published["publisher"], "bob");
    let (_, read) = registry
        .call(Method::GET, "/packages/di/permissions", Some(&bob), None)
        .await;
    assert_eq!(read, permissions);

    let revoke_grant = json!({"publishers": []});
    assert_eq!(
        registry
            .call(
                Method::PUT,
                "/packages/di/permissions",
                Some(&alice),
                Some(&revoke_grant)
            )
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        registry.publish(&bob, "di", "0.3.0", b"c").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, answer) = registry
        .call(
            Method::GET,
            "/packages/nope/permissions",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "package_not_found")
    );
}

#[tokio::test]
async fn yank_and_restore_are_idempotent() {
    let registry = TestRegistry::start();
    let token = registry.token(
        "alice",
        &[
            Scope::PackagesPublish,
            Scope::PackagesYank,
            Scope::PackagesRead,
        ],
    );
    registry.publish(&token, "di", "0.1.0", b"one").await;
    registry.publish(&token, "di", "0.2.0", b"two").await;
    for (action, changed, yanked) in [
        ("yank", true, true),
        ("yank", false, true),
        ("restore", true, false),
        ("restore", false, false),
        ("yank", true, true),
    ] {
        let (status, answer) = registry
            .call(
                Method::POST,
                &format!("/packages/di/0.2.0/{action}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            answer["result"],
            if action == "yank" {
                "yanked"
            } else {
                "restored"
            }
        );
        assert_eq!(answer["changed"], changed, "{action}: {answer}");
        assert_eq!(answer["yanked"], yanked);
        assert_eq!(registry.version("di", "0.2.0").unwrap()["yanked"], yanked);
    }
    let (status, answer) = registry
        .call(Method::POST, "/packages/di/9.9.9/yank", Some(&token), None)
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "version_not_found")
    );

    // Yanked versions stay downloadable and are skipped as `latest`.
    assert_eq!(
        registry.bytes("/packages/di/0.2.0/tarball").await.1,
        tarball("di", "0.2.0", b"two")
    );
    registry.bytes("/packages/di/0.1.0/tarball").await;
    registry.bytes("/packages/di/0.1.0/tarball").await;
    let (status, mine) = registry
        .call(Method::GET, "/packages?owner=me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mine,
        json!({"packages": [{"name": "di", "owner": "alice", "latest": "0.1.0", "versions": 2, "downloads": 3}]})
    );
    let (status, answer) = registry
        .call(Method::GET, "/packages?owner=bob", Some(&token), None)
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
}

#[tokio::test]
async fn prebuilt_uploads_are_immutable_per_platform() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let prebuilt = |platform: &str, bytes: &[u8]| json!({"platform": platform, "sha256": sha256(bytes), "size": bytes.len(), "binary": base64(bytes)});
    let path = "/packages/di/0.1.0/prebuilt";
    let (status, answer) = registry
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&prebuilt("linux-x86_64", b"elf")),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "package_not_found")
    );
    registry.publish(&token, "di", "0.1.0", b"src").await;
    let (status, answer) = registry
        .call(
            Method::POST,
            "/packages/di/0.2.0/prebuilt",
            Some(&token),
            Some(&prebuilt("linux-x86_64", b"elf")),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "version_not_found")
    );
    let (status, answer) = registry
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&prebuilt("linux-riscv64", b"elf")),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_platform")
    );

    let (status, first) = registry
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&prebuilt("linux-x86_64", b"elf")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (
            first["result"].as_str(),
            first["name"].as_str(),
            first["platform"].as_str()
        ),
        (Some("published"), Some("di"), Some("linux-x86_64"))
    );
    let (status, again) = registry
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&prebuilt("linux-x86_64", b"elf")),
        )
        .await;
    assert_eq!(
        (
            status,
            code(&again),
            again["error"]["stored_sha256"].as_str()
        ),
        (
            StatusCode::CONFLICT,
            "version_exists",
            Some(sha256(b"elf").as_str())
        )
    );
    let (status, conflict) = registry
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&prebuilt("linux-x86_64", b"other")),
        )
        .await;
    assert_eq!(
        (status, code(&conflict)),
        (StatusCode::CONFLICT, "version_exists")
    );
    assert_eq!(conflict["error"]["stored_sha256"], sha256(b"elf"));
    let (status, _) = registry
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&prebuilt("windows-x86_64", b"exe")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let version = registry.version("di", "0.1.0").unwrap();
    let platforms: Vec<(&str, &str)> = version["prebuilts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["platform"].as_str().unwrap(),
                p["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        platforms,
        [
            ("linux-x86_64", sha256(b"elf").as_str()),
            ("windows-x86_64", sha256(b"exe").as_str())
        ]
    );
    assert_eq!(
        registry
            .bytes("/packages/di/0.1.0/prebuilt/linux-x86_64")
            .await,
        (StatusCode::OK, b"elf".to_vec())
    );
    assert_eq!(
        registry
            .bytes("/packages/di/0.1.0/prebuilt/darwin-arm64")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let registry = TestRegistry::start_with(|config| config.rate_limit = Some(3));
    let mut limited = Vec::new();
    for _ in 0..6 {
        let response = registry
            .client
            .get(registry.api_url("/health"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "1");
            limited.push(code(&response.json().await.unwrap()).to_string());
        }
    }
    assert_eq!(limited, ["rate_limited", "rate_limited", "rate_limited"]);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let registry = TestRegistry::start();
    assert_eq!(
        registry.get("/health").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let (status, answer) = registry.get("/nope").await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    // The API lives under `/api` only; the same route at the base is no route.
    let outside = registry
        .client
        .get(format!("{}/health", registry.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(&outside.json().await.unwrap()), "not_found");
    let (status, answer) = registry
        .call(Method::DELETE, "/packages/di", None, None)
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, answer) = registry.get("/packages/di/0.1.0").await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "package_not_found")
    );
}

#[test]
fn works_from_sync_code_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(RegistryConfig::new(dir.path())).unwrap();
    let address = registry.url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    registry.stop().unwrap();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "the port is closed after stop"
    );
}

/// An upload sent in two parts over a raw connection, with `between` run in the pause.
fn upload_in_two_parts(
    registry: &TestRegistry,
    token: &str,
    body: &Value,
    between: impl FnOnce(),
) -> (String, String) {
    let body = body.to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let head = format!(
        "POST /api/packages/di/0.1.0 HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let head_and_first = [head.as_bytes(), first].concat();
    raw_exchange(registry, &[&head_and_first, rest], Close::Nothing, between)
}

#[test]
fn a_token_revoked_while_its_upload_arrives_stores_nothing() {
    let registry = TestRegistry::start();
    let issued = registry
        .mint_token("alice", "slow", &[Scope::PackagesPublish], in_seconds(3600))
        .unwrap();
    let body = publish_body("di", "0.1.0", &[5u8; 200_000]);
    let (head, answer) = upload_in_two_parts(&registry, issued.token.expose(), &body, || {
        std::thread::sleep(Duration::from_millis(200));
        registry.revoke_token(issued.record.id).unwrap();
    });
    assert!(head.starts_with("HTTP/1.1 401"), "{head}\n{answer}");
    assert_contains(&answer, "\"code\":\"token_revoked\"");
    assert_eq!(registry.count_rows("versions"), 0);
    assert_eq!(registry.count_rows("blobs"), 0);
}

#[test]
fn a_token_that_expires_while_its_upload_arrives_stores_nothing() {
    let registry = TestRegistry::start();
    let expires_at = in_seconds(1);
    let token = registry.token_expiring("alice", &[Scope::PackagesPublish], expires_at);
    let body = publish_body("di", "0.1.0", &[5u8; 200_000]);
    let (head, answer) = upload_in_two_parts(&registry, &token, &body, || {
        std::thread::sleep(Duration::from_millis(1500));
    });
    assert!(head.starts_with("HTTP/1.1 401"), "{head}\n{answer}");
    assert_contains(&answer, "\"code\":\"token_expired\"");
    assert_eq!(registry.count_rows("versions"), 0);
}

#[test]
fn an_upload_that_stalls_or_dawdles_is_cut_off_with_408() {
    let idle = TestRegistry::start_with(|config| {
        config.body_idle_timeout = Duration::from_millis(300);
    });
    let token = idle.token("alice", &[Scope::PackagesPublish]);
    let body = publish_body("di", "0.1.0", &[5u8; 10_000]);
    let (head, answer) = upload_in_two_parts(&idle, &token, &body, || {
        std::thread::sleep(Duration::from_millis(1000));
    });
    assert!(head.starts_with("HTTP/1.1 408"), "{head}\n{answer}");
    assert_contains(&answer, "\"code\":\"upload_timeout\"");
    assert_eq!(idle.count_rows("versions"), 0);

    // Never idle for long, but slower in total than allowed.
    let slow = TestRegistry::start_with(|config| {
        config.body_idle_timeout = Duration::from_secs(5);
        config.upload_timeout = Duration::from_millis(600);
    });
    let token = slow.token("alice", &[Scope::PackagesPublish]);
    let (head, answer) = upload_in_two_parts(&slow, &token, &body, || {
        std::thread::sleep(Duration::from_millis(1000));
    });
    assert!(head.starts_with("HTTP/1.1 408"), "{head}\n{answer}");
    assert_contains(&answer, "took longer than");
    assert_eq!(slow.count_rows("versions"), 0);
}

#[tokio::test]
async fn git_fields_are_bounded() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    for (field, value) in [
        ("tag", "v".repeat(500_000)),
        ("commit", "a".repeat(65)),
        (
            "repository",
            format!("https://example.invalid/{}", "r".repeat(3000)),
        ),
        ("tag", "v1.0.0\u{1b}[31m".to_string()),
    ] {
        let mut body = publish_body("di", "0.1.0", b"tarball");
        body["git"][field] = json!(value);
        let (status, answer) = registry
            .call(
                Method::POST,
                "/packages/di/0.1.0",
                Some(&token),
                Some(&body),
            )
            .await;
        assert_eq!(
            (status, code(&answer), answer["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_git", Some(field)),
            "{answer}"
        );
    }
    assert_eq!(registry.count_rows("versions"), 0);
}

#[tokio::test]
async fn the_tarballs_own_manifest_must_be_the_one_sent() {
    let registry = TestRegistry::start();
    let token = registry.token("alice", &[Scope::PackagesPublish]);
    let without_manifest = {
        let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut archive = tar::Builder::new(gzip);
        let mut header = tar::Header::new_gnu();
        header.set_size(4);
        header.set_cksum();
        archive
            .append_data(&mut header, "src/chuks.json", &b"{}\n\n"[..])
            .unwrap();
        archive.into_inner().unwrap().finish().unwrap()
    };
    for (tarball, expected) in [
        (b"not a tarball".to_vec(), "invalid_tarball"),
        (without_manifest, "invalid_tarball"),
        (
            tarball("di", "0.2.0", b"other version"),
            "tarball_manifest_mismatch",
        ),
        (
            tarball("da", "0.1.0", b"other name"),
            "tarball_manifest_mismatch",
        ),
    ] {
        let body = body_for_tarball("di", "0.1.0", &tarball);
        let (status, answer) = registry
            .call(
                Method::POST,
                "/packages/di/0.1.0",
                Some(&token),
                Some(&body),
            )
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected),
            "{answer}"
        );
    }
    assert_eq!(registry.count_rows("versions"), 0);
    assert_eq!(registry.count_rows("blobs"), 0);
}

#[test]
fn errors_below_the_app_layer_answer_the_documented_json() {
    let registry = TestRegistry::start_with(|config| {
        config.header_timeout = Duration::from_millis(400);
    });
    let long_path = format!(
        "GET /api/packages/{} HTTP/1.1\r\nHost: r\r\n\r\n",
        "a".repeat(20_000)
    );
    let cases: [(&[u8], &str, &str); 4] = [
        (long_path.as_bytes(), "HTTP/1.1 414", "uri_too_long"),
        (
            b"POST /api/packages/di/0.1.0 HTTP/1.1\r\nHost: r\r\nContent-Length: 12x\r\n\r\n",
            "HTTP/1.1 400",
            "invalid_content_length",
        ),
        (
            b"POST /api/packages/di/0.1.0 HTTP/1.1\r\nHost: r\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 400",
            "invalid_content_length",
        ),
        // A head that never ends: the header timeout.
        (b"GET /api/health HTTP/1.1\r\nHost: r\r\n", "HTTP/1.1 408", "header_timeout"),
    ];
    for (request, status, expected) in cases {
        let (head, body) = raw_exchange(&registry, &[request], Close::Nothing, || {});
        assert!(head.starts_with(status), "{head}\n{body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let answer: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"));
        assert_eq!(code(&answer), expected, "{body}");
    }
}

#[tokio::test]
async fn repeated_unknown_tokens_from_one_address_are_throttled() {
    let registry = TestRegistry::start_with(|config| config.auth_failures_per_minute = 3);
    let good = registry.token("alice", &Scope::ALL);
    let unknown = format!("{TOKEN_PREFIX}{}", "x".repeat(40));
    for _ in 0..3 {
        let (status, answer) = registry
            .call(Method::GET, "/tokens/self", Some(&unknown), None)
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, "invalid_token")
        );
    }
    let response = registry
        .client
        .get(registry.api_url("/tokens/self"))
        .bearer_auth(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        code(&response.json().await.unwrap()),
        "too_many_auth_failures"
    );
    // The address is refused whatever it presents until the window ends.
    let (status, _) = registry
        .call(Method::GET, "/tokens/self", Some(&good), None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
