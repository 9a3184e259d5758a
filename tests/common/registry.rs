//! The reference registry as a test fixture: one per test, on 127.0.0.1:0, with its own data
//! folder; tokens, the one way to read a version back, and raw API calls.

use std::ops::Deref;

use base64::Engine;
use chuks_ci::registry_server::{Registry, RegistryConfig, RunningRegistry};
use chuks_ci::token::Scope;
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub struct TestRegistry {
    registry: RunningRegistry,
    pub client: reqwest::Client,
    _data: TempDir,
}

impl Deref for TestRegistry {
    type Target = RunningRegistry;

    fn deref(&self) -> &RunningRegistry {
        &self.registry
    }
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        TestRegistry::start_with(|_| {})
    }

    /// A registry whose configuration `adjust` changes first (limits, timeouts…).
    pub fn start_with(adjust: impl FnOnce(&mut RegistryConfig)) -> TestRegistry {
        let data = TempDir::new().unwrap();
        let mut config = RegistryConfig::new(data.path().join("data"));
        adjust(&mut config);
        // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        TestRegistry {
            registry: Registry::start(config).unwrap(),
            client: reqwest::Client::new(),
            _data: data,
        }
    }

    /// The base URL, without `/api`, as `--registry` and `CHUKS_REGISTRY_URL` take it.
    pub fn url(&self) -> &str {
        self.registry.url()
    }

    /// `<base>/api<path>`.
    pub fn api_url(&self, path: &str) -> String {
        format!("{}/api{path}", self.url())
    }

    /// A token of `publisher` valid for 30 days; the raw value.
    pub fn token(&self, publisher: &str, scopes: &[Scope]) -> String {
        self.token_expiring(publisher, scopes, in_seconds(30 * 86_400))
    }

    pub fn token_expiring(
        &self,
        publisher: &str,
        scopes: &[Scope],
        expires_at: Timestamp,
    ) -> String {
        let issued = self
            .registry
            .mint_token(publisher, "test token", scopes, expires_at)
            .unwrap();
        issued.token.expose().to_string()
    }

    /// `GET /api/packages/{name}/{version}`: the stored record, or `None` when it is not there.
    pub fn version(&self, name: &str, version: &str) -> Option<Value> {
        let path = format!("/packages/{}/{version}", encode(name));
        let (status, body) = super::http_get_json(&self.api_url(&path));
        (status == 200).then_some(body)
    }

    /// How many versions of `name` are stored (0 when the package is not).
    pub fn stored_versions(&self, name: &str) -> usize {
        let path = format!("/packages/{}", encode(name));
        let (_, body) = super::http_get_json(&self.api_url(&path));
        body["versions"].as_array().map_or(0, Vec::len)
    }

    pub fn count_rows(&self, table: &str) -> i64 {
        let connection = rusqlite::Connection::open(self.registry.database_path()).unwrap();
        connection
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }

    /// An API call: status and JSON answer (panics on a body that is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.api_url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, None).await
    }

    /// A source publish with the documented body for the [`tarball`] of `content`.
    pub async fn publish(
        &self,
        token: &str,
        name: &str,
        version: &str,
        content: &[u8],
    ) -> (StatusCode, Value) {
        let path = format!("/packages/{}/{version}", encode(name));
        let body = publish_body(name, version, content);
        self.call(Method::POST, &path, Some(token), Some(&body))
            .await
    }

    /// A download: status and raw bytes.
    pub async fn bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self.client.get(self.api_url(path)).send().await.unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }
}

/// The documented path encoding: the name is one segment, `/` sent as `%2F`.
pub fn encode(name: &str) -> String {
    name.replace('/', "%2F")
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The minimal manifest the fixture publishes with.
pub fn manifest(name: &str, version: &str) -> Value {
    json!({"name": name, "version": version, "description": "test"})
}

/// A `.tar.gz` holding [`manifest`] as `chuks.json` and `content` as `content.bin`; the same
/// arguments give the same bytes.
pub fn tarball(name: &str, version: &str, content: &[u8]) -> Vec<u8> {
    let manifest = manifest(name, version).to_string();
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut archive = tar::Builder::new(gzip);
    for (path, bytes) in [
        ("chuks.json", manifest.as_bytes()),
        ("content.bin", content),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        archive.append_data(&mut header, path, bytes).unwrap();
    }
    archive.into_inner().unwrap().finish().unwrap()
}

/// The documented source-publish body for the [`tarball`] of `content`.
pub fn publish_body(name: &str, version: &str, content: &[u8]) -> Value {
    body_for_tarball(name, version, &tarball(name, version, content))
}

/// The documented source-publish body for these tarball bytes, as they are.
pub fn body_for_tarball(name: &str, version: &str, tarball: &[u8]) -> Value {
    json!({
        "manifest": manifest(name, version),
        "sha256": sha256(tarball),
        "size": tarball.len(),
        "git": {"tag": format!("v{version}"), "commit": "abc123", "repository": "https://example.invalid/r"},
        "tarball": base64(tarball),
    })
}

pub fn in_seconds(seconds: i64) -> Timestamp {
    Timestamp::now() + SignedDuration::from_secs(seconds)
}
