//! The registry client against the two peers it must speak with: a stand-in for the real
//! registry (only the known routes, 409 with plain text on overwrite, plain 404 elsewhere) and
//! the reference registry (every documented extension).
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::sync::Arc;

use chuks_ci::registry_client::{
    ClientError, ClientOptions, GitInfo, RegistryClient, parse_registry_url,
};
use chuks_ci::token::{ApiToken, Scope, TOKEN_PREFIX};
use chuks_ci::untrusted::Untrusted;
use chuks_ci::upload::{Artifact, File, Sent, Stored, Tarball, Upload};
use common::real_registry::RealRegistryStandIn;
use common::registry::TestRegistry;
use serde_json::json;
use sha2::{Digest, Sha256};

/// A token-shaped value for the stand-in, which checks the form only.
fn stand_in_token() -> String {
    format!("{TOKEN_PREFIX}{}", "0123456789".repeat(4))
}

fn client(url: &str, token: &str) -> RegistryClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut options = ClientOptions::default();
    options.retry.retries = 0;
    RegistryClient::new(
        parse_registry_url(url).unwrap(),
        Some(ApiToken::parse(token).unwrap().0),
        options,
    )
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A file to upload and its digest.
struct Payload {
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    sha256: String,
    size: u64,
}

fn payload(bytes: &[u8]) -> Payload {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, bytes).unwrap();
    Payload {
        _dir: dir,
        file,
        sha256: format!("{:x}", Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

impl Payload {
    fn file(&self) -> File<'_> {
        File {
            path: &self.file,
            sha256: &self.sha256,
            size: self.size,
        }
    }
}

fn source<'a>(
    manifest: &'a serde_json::Value,
    git: &'a GitInfo,
    tarball: &'a Payload,
) -> Artifact<'a> {
    Artifact::Source {
        manifest,
        git,
        tarball: Tarball::Packed(tarball.file()),
    }
}

fn prebuilt<'a>(platform: &'a str, binary: &'a Payload) -> Artifact<'a> {
    Artifact::Prebuilt {
        platform,
        binary: binary.file(),
    }
}

fn upload<'a>(name: &'a str, version: &'a str, artifact: Artifact<'a>) -> Upload<'a> {
    Upload {
        name,
        version,
        artifact,
    }
}

fn publish(client: &RegistryClient, upload: &Upload<'_>) -> Result<Sent, ClientError> {
    runtime().block_on(client.publish(upload, Arc::new(|_, _| {})))
}

fn paths(stand_in: &RealRegistryStandIn) -> Vec<String> {
    stand_in
        .requests()
        .iter()
        .map(|request| format!("{} {} {}", request.method, request.path, request.status))
        .collect()
}

mod against_the_real_registry_stand_in {
    use super::*;

    #[test]
    fn a_rerun_meets_a_plain_409_and_reports_unknown_contents() {
        let stand_in = RealRegistryStandIn::start();
        let client = client(stand_in.url(), &stand_in_token());
        let manifest = json!({"name": "@chuks/numpy", "version": "1.2.0"});
        let git = GitInfo::default();
        let tarball = payload(b"tarball bytes");
        let source = upload("@chuks/numpy", "1.2.0", source(&manifest, &git, &tarball));
        assert_eq!(publish(&client, &source).unwrap(), Sent::Published);
        assert!(stand_in.holds("@chuks/numpy", "1.2.0", None));

        assert_eq!(
            publish(&client, &source).unwrap(),
            Sent::Exists(Stored::Unknown)
        );
        // The 409 had no digest, so the client tried to read the version back: no such route.
        assert_eq!(
            paths(&stand_in),
            [
                "POST /api/packages/@chuks%2Fnumpy/1.2.0 201",
                "POST /api/packages/@chuks%2Fnumpy/1.2.0 409",
                "GET /api/packages/@chuks%2Fnumpy/1.2.0 404",
            ]
        );
        assert!(
            stand_in
                .requests()
                .iter()
                .all(|request| request.bearer_token)
        );
    }

    #[test]
    fn prebuilt_overwrites_are_409_per_platform() {
        let stand_in = RealRegistryStandIn::start();
        let client = client(stand_in.url(), &stand_in_token());
        let binary = payload(b"\x7fELF");
        let linux = upload("di", "1.0.0", prebuilt("linux-x86_64", &binary));
        let windows = upload("di", "1.0.0", prebuilt("windows-x86_64", &binary));
        assert_eq!(publish(&client, &linux).unwrap(), Sent::Published);
        assert_eq!(publish(&client, &windows).unwrap(), Sent::Published);
        assert_eq!(
            publish(&client, &linux).unwrap(),
            Sent::Exists(Stored::Unknown)
        );
        assert!(stand_in.holds("di", "1.0.0", Some("windows-x86_64")));
        assert!(
            paths(&stand_in)
                .iter()
                .all(|line| line.contains(" /api/packages/di/1.0.0")),
            "{:?}",
            paths(&stand_in)
        );
    }

    #[test]
    fn routes_it_lacks_are_reported_as_missing_routes() {
        let stand_in = RealRegistryStandIn::start();
        let client = client(stand_in.url(), &stand_in_token());
        let rt = runtime();
        let missing = |result: Result<_, ClientError>| match result {
            Err(ClientError::RouteMissing { route, status }) => format!("{route} {status}"),
            other => panic!("not a missing route: {:?}", other.map(|_| ())),
        };
        assert_eq!(
            missing(rt.block_on(client.token_info()).map(|_| ())),
            "/api/tokens/self 404"
        );
        assert_eq!(
            missing(rt.block_on(client.version("di", "1.0.0")).map(|_| ())),
            "/api/packages/di/1.0.0 404"
        );
        assert_eq!(
            missing(
                rt.block_on(client.set_yanked("di", "1.0.0", true))
                    .map(|_| ())
            ),
            "/api/packages/di/1.0.0/yank 404"
        );
        assert_eq!(
            missing(
                rt.block_on(client.set_yanked("di", "1.0.0", false))
                    .map(|_| ())
            ),
            "/api/packages/di/1.0.0/restore 404"
        );
        // One request each: a missing route is not retried.
        assert_eq!(stand_in.requests().len(), 4);
    }
}

mod against_the_reference_registry {
    use super::*;

    fn start() -> (TestRegistry, String) {
        let registry = TestRegistry::start();
        let token = registry.token("alice", &Scope::ALL);
        (registry, token)
    }

    #[test]
    fn a_missing_version_is_not_a_missing_route() {
        let (registry, token) = start();
        let client = client(registry.url(), &token);
        let rt = runtime();
        assert_eq!(rt.block_on(client.version("di", "1.0.0")).unwrap(), None);
        assert_eq!(rt.block_on(client.token_info()).unwrap().publisher, "alice");
        let refused = rt
            .block_on(client.set_yanked("di", "1.0.0", true))
            .unwrap_err();
        assert!(
            matches!(&refused, ClientError::Refused { status: 404, .. }),
            "{refused:?}"
        );
    }

    #[test]
    fn overwrites_are_settled_by_the_stored_sha256() {
        let (registry, token) = start();
        let client = client(registry.url(), &token);
        let manifest = common::registry::manifest("di", "1.0.0");
        let git = GitInfo::default();
        let first = payload(&common::registry::tarball("di", "1.0.0", b"first"));
        let other = payload(&common::registry::tarball("di", "1.0.0", b"other"));
        let ours = upload("di", "1.0.0", source(&manifest, &git, &first));
        assert_eq!(publish(&client, &ours).unwrap(), Sent::Published);
        assert_eq!(publish(&client, &ours).unwrap(), Sent::Exists(Stored::Ours));
        let theirs = upload("di", "1.0.0", source(&manifest, &git, &other));
        assert_eq!(
            publish(&client, &theirs).unwrap(),
            Sent::Exists(Stored::Other(Untrusted::from(first.sha256.as_str())))
        );
    }
}
