//! The CI integrations run for real against a reference registry on loopback: the GitHub Action
//! under `act`, the GitLab example under `gitlab-ci-local`, and the Bitbucket step script and
//! pipe.sh with the `BITBUCKET_*` variables set. chuks-ci is installed the way users get it: from
//! release assets (an archive of the debug binary and its SHA256SUMS) served over loopback HTTP.
//!
//! A missing tool prints `SKIP: <tool> not installed` and passes, except under
//! `CHUKS_CI_STRICT=1` (set by .ci/run), where it fails.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use chuks_ci::registry_server::{Identity, NewTrustedPublisher};
use chuks_ci::token::Scope;
use common::assert_contains;
use common::oidc::FakeIssuer;
use common::registry::TestRegistry;
use common::{PackageRepo, git_in, manifest_json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The tool on PATH, or None after printing the SKIP line; under CHUKS_CI_STRICT=1 a missing
/// tool fails the test.
fn require_tool(name: &str) -> Option<PathBuf> {
    if let Ok(path) = which::which(name) {
        return Some(path);
    }
    common::skip(&format!("{name} not installed (.ci/run installs it)"));
    None
}

fn platform() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "linux-aarch64",
        _ => "linux-x86_64",
    }
}

fn archive_name() -> String {
    format!("chuks-ci-{VERSION}-{}.tar.gz", platform())
}

/// Release assets laid out like a GitHub release download URL: `v{VERSION}/{archive}` and
/// `v{VERSION}/SHA256SUMS`, built once per test process. Returns the folder and the sha256.
fn release_assets() -> &'static (PathBuf, String) {
    static ASSETS: OnceLock<(PathBuf, String)> = OnceLock::new();
    ASSETS.get_or_init(|| {
        // One fixed folder, rebuilt by each run, so old archives of the binary do not pile up.
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-assets");
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join(format!("v{VERSION}"));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join(archive_name());
        let file = std::fs::File::create(&archive).unwrap();
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let bin = assert_cmd::cargo::cargo_bin("chuks-ci");
        tar.append_path_with_name(&bin, "chuks-ci").unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        let sha256 = sha256_file(&archive);
        std::fs::write(
            dir.join("SHA256SUMS"),
            format!("{sha256}  {}\n", archive_name()),
        )
        .unwrap();
        write_chuks_cli_asset(&root);
        (root, sha256)
    })
}

/// A folder holding the stand-in for the official `chuks` CLI, to put on PATH.
fn chuks_standin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chuks-standin-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("chuks");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(repo_root().join("tests/fixtures/chuks"), &link).unwrap();
        dir
    })
}

/// PATH with the stand-in `chuks` first.
fn path_with_standin() -> std::ffi::OsString {
    let outer = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(
        std::iter::once(chuks_standin_dir().to_path_buf()).chain(std::env::split_paths(&outer)),
    )
    .unwrap()
}

fn chuks_cli_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

/// Where the official CLI's release asset for this machine lies under the release assets,
/// laid out like its GitHub releases.
fn chuks_cli_asset_path(root: &Path) -> PathBuf {
    root.join(format!(
        "chuks/download/v0.1.0/chuks-linux-{}.tar.gz",
        chuks_cli_arch()
    ))
}

/// Writes the official CLI's release asset, holding the stand-in as `chuks-linux-<arch>/chuks`.
fn write_chuks_cli_asset(root: &Path) {
    let arch = chuks_cli_arch();
    let asset = chuks_cli_asset_path(root);
    std::fs::create_dir_all(asset.parent().unwrap()).unwrap();
    let file = std::fs::File::create(&asset).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_path_with_name(
        repo_root().join("tests/fixtures/chuks"),
        format!("chuks-linux-{arch}/chuks"),
    )
    .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

fn sha256_file(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).unwrap();
    std::io::copy(&mut file, &mut hasher).unwrap();
    format!("{:x}", hasher.finalize())
}

/// A minimal static file server on loopback that records the paths it was asked for.
struct FileServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    fn start(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = root.clone();
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &root, &log));
            }
        });
        FileServer { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    log.lock().unwrap().push(path.clone());
    let file = root.join(path.trim_start_matches('/'));
    let inside = !path.contains("..");
    match std::fs::read(&file) {
        Ok(body) if inside && file.is_file() => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
        _ => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}

/// The reference registry on loopback with a publish-only token for publisher `acme`.
fn acme_registry() -> (TestRegistry, String) {
    let registry = TestRegistry::start();
    let issued = registry
        .create_token("acme", "CI integration test", &[Scope::PackagesPublish], 30)
        .unwrap();
    (registry, issued.token.expose().to_string())
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A tool command with a private HOME and cache, and no CI variables from the outer run.
fn isolated(program: &Path, home: &Path) -> Command {
    // The scripts' `mktemp -d` folders (a downloaded chuks-ci is 200 MiB) go with the home.
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = Command::new(program);
    command
        .env("TMPDIR", tmp)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1");
    command
}

// ---------------------------------------------------------------------------------------------
// GitHub: the action, run by act from the committed single-package example.

/// A copy of the action (action.yml and action/) whose pinned SHA256SUMS holds `pinned_sha256`
/// for this platform's archive, as the release workflow would write it.
fn action_copy(dir: &Path, pinned_sha256: &str) {
    std::fs::create_dir_all(dir.join("action")).unwrap();
    std::fs::copy(repo_root().join("action.yml"), dir.join("action.yml")).unwrap();
    for script in ["install.sh", "publish.sh"] {
        std::fs::copy(
            repo_root().join("action").join(script),
            dir.join("action").join(script),
        )
        .unwrap();
    }
    let header: String = std::fs::read_to_string(repo_root().join("action/SHA256SUMS"))
        .unwrap()
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(
        dir.join("action/SHA256SUMS"),
        format!("{header}{pinned_sha256}  {}\n", archive_name()),
    )
    .unwrap();
}

fn run_act(
    act: &Path,
    work: &Path,
    repo: &Path,
    registry_and_token: (&TestRegistry, &str),
) -> Output {
    run_act_job(
        act,
        work,
        repo,
        registry_and_token,
        ".github/workflows/chuks-publish.yml",
        None,
    )
}

/// act on the tag push event, running `job` (else every job) of `workflow`, with the action's
/// copy in `work/action` standing in for `chuks/publish-action` (the action and its reusable
/// workflow) at this release's tag.
fn run_act_job(
    act: &Path,
    work: &Path,
    repo: &Path,
    (registry, token): (&TestRegistry, &str),
    workflow: &str,
    job: Option<&str>,
) -> Output {
    act_command(act, work, repo, (registry, token), workflow, job)
        .output()
        .expect("act runs")
}

/// The act command [`run_act_job`] runs, for callers that add to it.
fn act_command(
    act: &Path,
    work: &Path,
    repo: &Path,
    (registry, token): (&TestRegistry, &str),
    workflow: &str,
    job: Option<&str>,
) -> Command {
    let mut command = isolated(act, &work.join("home"));
    if let Some(job) = job {
        command.args(["--job", job]);
    }
    command
        .current_dir(repo)
        .args(["push", "--workflows", workflow])
        .args(["-P", "ubuntu-latest=-self-hosted"])
        .args(["-P", "ubuntu-22.04=-self-hosted"]);
    // The action at every ref the workflow names: the tag, or the commit a release recorded.
    let text = std::fs::read_to_string(repo.join(workflow)).unwrap();
    let mut refs: Vec<&str> = [
        "chuks/publish-action@",
        "chuks/publish-action/.github/workflows/publish.yml@",
    ]
    .iter()
    .flat_map(|call| text.split(call).skip(1))
    .filter_map(|rest| rest.split_whitespace().next())
    .collect();
    refs.push(concat!("v", env!("CARGO_PKG_VERSION")));
    refs.sort();
    refs.dedup();
    for git_ref in refs {
        command.arg("--local-repository").arg(format!(
            "chuks/publish-action@{git_ref}={}",
            work.join("action").to_string_lossy()
        ));
    }
    command
        .arg("--eventpath")
        .arg(work.join("event.json"))
        .args(["--secret", &format!("CHUKS_TOKEN={}", token)])
        .args(["--env", &format!("CHUKS_REGISTRY_URL={}", registry.url())]);
    command
}

#[test]
fn github_action_publishes_under_act_and_refuses_a_tampered_checksum() {
    let Some(act) = require_tool("act") else {
        return;
    };
    let (assets_dir, sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let work = act_work(sha256);

    let repo = PackageRepo::new("hello", "0.1.0");
    let example =
        std::fs::read_to_string(repo_root().join("ci-examples/github/single-package.yml")).unwrap();
    // The example as a user writes it, with the releases served from loopback and the upload
    // handed to the official CLI (the stand-in, installed from its release asset and pinned).
    let chuks_sha256 = sha256_file(&chuks_cli_asset_path(assets_dir));
    let inputs = format!(
        "          token: ${{{{ secrets.CHUKS_TOKEN }}}}\n\
         \x20         chuks-ci-release-url: {url}\n\
         \x20         chuks-release-url: {url}/chuks\n\
         \x20         chuks-sha256: {chuks_sha256}\n\
         \x20         uploader: chuks\n",
        url = assets.url
    );
    let workflow = example.replace("          token: ${{ secrets.CHUKS_TOKEN }}\n", &inputs);
    assert_ne!(workflow, example, "the example passes the token input");
    repo.write(".github/workflows/chuks-publish.yml", &workflow);
    repo.commit("add the publish workflow");
    repo.push();
    repo.tag("v0.1.0");

    let output = run_act(&act, work.path(), repo.path(), (&registry, &token));
    let log = text(&output);
    assert!(output.status.success(), "act failed:\n{log}");
    let record = registry
        .version("hello", "0.1.0")
        .unwrap_or_else(|| panic!("hello 0.1.0 is not on the registry:\n{log}"));
    // The official CLI's upload carries no git details; chuks-ci checked the tag before it.
    assert!(record["git"]["tag"].is_null(), "{record}");
    let tarball_sha = record["sha256"].as_str().unwrap();
    for output in [
        "name=hello".to_string(),
        "version=0.1.0".to_string(),
        "tag=v0.1.0".to_string(),
        format!("sha256={tarball_sha}"),
        "result=published".to_string(),
    ] {
        assert_contains(&log, &format!("::set-output:: {output}"));
    }
    assert!(!log.contains(&token), "the token leaked into the log");
    assert!(
        assets
            .requests()
            .iter()
            .any(|p| p.ends_with(&archive_name())),
        "the archive was not downloaded from the release URL"
    );
    assert_contains(&log, "installed the chuks CLI v0.1.0");
    assert_contains(&log, "::set-output:: uploader=chuks");

    // The same run with a pinned sum that does not match the release asset must stop in the
    // install step, before chuks-ci runs (the tool cache holds the good binary by now).
    action_copy(&work.path().join("action"), &"0".repeat(64));
    let output = run_act(&act, work.path(), repo.path(), (&registry, &token));
    let log = text(&output);
    assert!(
        !output.status.success(),
        "a tampered checksum must fail:\n{log}"
    );
    assert_contains(&log, "Failure - Main Install chuks-ci");
    // Under load act sometimes drops a failing step's last lines, so the message is checked when
    // the log has it (the step scripts' messages are checked in the Bitbucket test).
    assert!(
        log.contains("checksum mismatch") || !log.contains("error: "),
        "{log}"
    );
    // act still lists the composite action's outputs, all empty.
    assert!(
        !log.lines()
            .any(|l| l.contains("::set-output:: result=") && !l.trim_end().ends_with("result=")),
        "chuks-ci ran:\n{log}"
    );
    assert!(
        !log.contains("Run Main Publish"),
        "the publish step ran:\n{log}"
    );
    assert!(!log.contains("packed hello"), "chuks-ci ran:\n{log}");
}

#[test]
fn github_monorepo_example_publishes_two_packages_tagged_at_once_in_one_job_under_act() {
    let Some(act) = require_tool("act") else {
        return;
    };
    let (assets_dir, sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let work = act_work(sha256);
    std::fs::write(
        work.path().join("event.json"),
        r#"{"ref":"refs/tags/@acme/maths@0.3.0"}"#,
    )
    .unwrap();

    let repo = PackageRepo::new("root-placeholder", "0.0.1");
    std::fs::remove_file(repo.path().join("chuks.json")).unwrap();
    repo.write(
        "packages/strings/chuks.json",
        &manifest_json("@acme/strings", "1.2.0"),
    );
    repo.write("packages/strings/src/index.chuks", "export const s = 1\n");
    repo.write(
        "packages/maths/chuks.json",
        r#"{"name": "@acme/maths", "version": "0.3.0", "dependencies": {"@acme/strings": "^1.2.0"}}"#,
    );
    repo.write("packages/maths/src/index.chuks", "export const pi = 3\n");
    let example =
        std::fs::read_to_string(repo_root().join("ci-examples/github/monorepo.yml")).unwrap();
    // The example as a user writes it, with chuks-ci's release served from loopback and the
    // upload left to chuks-ci's client (the official CLI is covered by the single-package run).
    let inputs = format!(
        "          token: ${{{{ secrets.CHUKS_TOKEN }}}}\n\
         \x20         chuks-ci-release-url: {url}\n\
         \x20         install-chuks: false\n\
         \x20         uploader: http\n",
        url = assets.url
    );
    let workflow = example.replace("          token: ${{ secrets.CHUKS_TOKEN }}\n", &inputs);
    assert_ne!(workflow, example, "the example passes the token input");
    repo.write(".github/workflows/chuks-publish.yml", &workflow);
    repo.commit("two packages and the publish workflow");
    repo.push();
    repo.tag("@acme/strings@1.2.0");
    repo.tag("@acme/maths@0.3.0");

    let output = run_act(&act, work.path(), repo.path(), (&registry, &token));
    let log = text(&output);
    assert!(output.status.success(), "act failed:\n{log}");
    for (name, version) in [("@acme/strings", "1.2.0"), ("@acme/maths", "0.3.0")] {
        let record = registry
            .version(name, version)
            .unwrap_or_else(|| panic!("{name} {version} is not on the registry:\n{log}"));
        assert_eq!(record["git"]["tag"], format!("{name}@{version}"));
    }
    assert_contains(&log, "::set-output:: result=published");
    assert_contains(
        &log,
        "::set-output:: published=@acme/strings@1.2.0 @acme/maths@0.3.0",
    );
    assert!(!log.contains(&token), "the token leaked into the log");
}

#[test]
fn github_trusted_publishing_example_publishes_under_act_with_no_secret() {
    let Some(act) = require_tool("act") else {
        return;
    };
    let (assets_dir, sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let issuer = FakeIssuer::start();
    let mut claims = issuer.github_claims("acme/hello", "chuks-publish.yml");
    common::oidc::merge(&mut claims, serde_json::json!({"environment": "release"}));
    issuer.set_github_claims(claims);
    let registry = trusting_registry(
        &issuer,
        Identity::Github {
            repository: "acme/hello".into(),
            workflow: "chuks-publish.yml".into(),
            environment: Some("release".into()),
            repository_owner_id: None,
        },
    );
    let work = act_work(sha256);

    let repo = PackageRepo::new("hello", "0.1.0");
    let example =
        std::fs::read_to_string(repo_root().join("ci-examples/github/trusted-publishing.yml"))
            .unwrap();
    assert_contains(&example, "id-token: write");
    let inputs = format!(
        "          trusted-publishing: always\n\
         \x20         chuks-ci-release-url: {url}\n\
         \x20         uploader: http\n",
        url = assets.url
    );
    let workflow = example.replace("          trusted-publishing: always\n", &inputs);
    assert_ne!(workflow, example, "the example sets trusted-publishing");
    repo.write(".github/workflows/chuks-publish.yml", &workflow);
    repo.commit("add the publish workflow");
    repo.push();
    repo.tag("v0.1.0");

    // The runner's ID-token service, as a job with `id-token: write` has it.
    let request_url = format!(
        "ACTIONS_ID_TOKEN_REQUEST_URL={}",
        issuer.id_token_request_url()
    );
    let request_token = format!(
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN={}",
        common::oidc::REQUEST_TOKEN
    );
    let workflow = ".github/workflows/chuks-publish.yml";
    let output = act_command(
        &act,
        work.path(),
        repo.path(),
        (&registry, ""),
        workflow,
        None,
    )
    .args(["--env", &request_url, "--env", &request_token])
    .output()
    .expect("act runs");
    let log = text(&output);
    assert!(output.status.success(), "act failed:\n{log}");
    assert!(registry.version("hello", "0.1.0").is_some(), "{log}");
    assert_contains(&log, "::set-output:: auth=trusted-publishing");
    let minted = registry.list_tokens().unwrap();
    assert!(!minted.is_empty() && minted.iter().all(|t| t.revoked_at.is_some()));
    assert!(
        !log.contains("eyJ"),
        "an ID token leaked into the log:\n{log}"
    );
}

/// The `with:` lines that point a workflow's action at the loopback releases and the stand-in
/// CLI, replacing its `token:` line (`indent` spaces deep).
fn loopback_inputs(indent: usize, assets_url: &str, assets_dir: &Path) -> String {
    let pad = " ".repeat(indent);
    let chuks_sha256 = sha256_file(&chuks_cli_asset_path(assets_dir));
    [
        "token: ${{ secrets.CHUKS_TOKEN }}".to_string(),
        format!("chuks-ci-release-url: {assets_url}"),
        format!("chuks-release-url: {assets_url}/chuks"),
        format!("chuks-sha256: {chuks_sha256}"),
        "uploader: chuks".to_string(),
    ]
    .iter()
    .map(|line| format!("{pad}{line}\n"))
    .collect()
}

#[test]
fn migrated_ffmpeg_workflow_publishes_its_source_job_under_act() {
    let Some(act) = require_tool("act") else {
        return;
    };
    let (assets_dir, sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let work = act_work(sha256);

    let after =
        std::fs::read_to_string(repo_root().join("docs/migrating/ffmpeg-release.yml")).unwrap();
    let token_line = "          token: ${{ secrets.CHUKS_TOKEN }}\n";
    let workflow = after.replacen(token_line, &loopback_inputs(10, &assets.url, assets_dir), 1);
    assert_ne!(workflow, after);
    let repo = PackageRepo::new("@chuks/ffmpeg", "0.1.0");
    repo.write(".github/workflows/release.yml", &workflow);
    repo.commit("migrate the release workflow");
    repo.push();
    repo.tag("v0.1.0");

    let output = run_act_job(
        &act,
        work.path(),
        repo.path(),
        (&registry, &token),
        ".github/workflows/release.yml",
        Some("publish-source"),
    );
    let log = text(&output);
    assert!(output.status.success(), "act failed:\n{log}");
    assert!(
        registry.version("@chuks/ffmpeg", "0.1.0").is_some(),
        "@chuks/ffmpeg 0.1.0 is not on the registry:\n{log}"
    );
    assert_contains(&log, "::set-output:: uploader=chuks");
    assert_contains(&log, "::set-output:: result=published");
    assert!(!log.contains(&token), "the token leaked into the log");
}

/// The reference registry on loopback trusting `issuer`, where `identity` may publish `hello`
/// as `acme`.
fn trusting_registry(issuer: &FakeIssuer, identity: Identity) -> TestRegistry {
    let registry = TestRegistry::start_with(|config| {
        config.oidc.issuers = vec![issuer.url().to_string()];
    });
    let trusted = NewTrustedPublisher {
        publisher: "acme".into(),
        package: "hello".into(),
        issuer: Some(issuer.url().to_string()),
        identity,
    };
    registry.add_trusted_publisher(&trusted).unwrap();
    registry
}

/// A work folder for act runs of the action: a private HOME, a tag push event, and the action's
/// copy pinning `sha256` for chuks-ci's archive.
fn act_work(sha256: &str) -> TempDir {
    let work = TempDir::new().unwrap();
    std::fs::create_dir_all(work.path().join("home")).unwrap();
    std::fs::write(
        work.path().join("event.json"),
        r#"{"ref":"refs/tags/v0.1.0"}"#,
    )
    .unwrap();
    action_copy(&work.path().join("action"), sha256);
    work
}

/// A work folder for act runs of the reusable workflow: a private HOME, a tag push event, and
/// the action's copy (pinning `sha256` for chuks-ci's archive) holding the reusable workflow.
fn reusable_workflow_work(sha256: &str) -> TempDir {
    let work = TempDir::new().unwrap();
    std::fs::create_dir_all(work.path().join("home")).unwrap();
    std::fs::write(
        work.path().join("event.json"),
        r#"{"ref":"refs/tags/v0.1.0","ref_type":"tag"}"#,
    )
    .unwrap();
    let action = work.path().join("action");
    action_copy(&action, sha256);
    std::fs::create_dir_all(action.join(".github/workflows")).unwrap();
    std::fs::copy(
        repo_root().join(".github/workflows/publish.yml"),
        action.join(".github/workflows/publish.yml"),
    )
    .unwrap();
    work
}

/// [`loopback_inputs`] for a call of the reusable workflow, which takes the token as a secret.
fn reusable_loopback_inputs(assets_url: &str, assets_dir: &Path) -> String {
    loopback_inputs(6, assets_url, assets_dir)
        .lines()
        .filter(|line| !line.contains("token:"))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn migrated_numpy_workflow_publishes_its_source_job_through_the_reusable_workflow_under_act() {
    let Some(act) = require_tool("act") else {
        return;
    };
    let (assets_dir, sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let work = reusable_workflow_work(sha256);

    // The caller passes the loopback releases on; the shim jobs need macOS and Windows runners,
    // so only the source job runs here.
    let after =
        std::fs::read_to_string(repo_root().join("docs/migrating/numpy-release.yml")).unwrap();
    let with = format!(
        "      prebuilt: false\n{}",
        reusable_loopback_inputs(&assets.url, assets_dir)
    );
    let workflow = after.replacen("      prebuilt: true\n", &with, 1);
    assert_ne!(workflow, after);
    let repo = PackageRepo::new("@chuks/numpy", "0.1.0");
    repo.write(".github/workflows/release.yml", &workflow);
    repo.commit("migrate the release workflow");
    repo.push();
    repo.tag("v0.1.0");

    let output = run_act_job(
        &act,
        work.path(),
        repo.path(),
        (&registry, &token),
        ".github/workflows/release.yml",
        None,
    );
    let log = text(&output);
    assert!(output.status.success(), "act failed:\n{log}");
    assert!(
        registry.version("@chuks/numpy", "0.1.0").is_some(),
        "@chuks/numpy 0.1.0 is not on the registry:\n{log}"
    );
    assert_contains(&log, "::set-output:: uploader=chuks");
    assert!(!log.contains(&token), "the token leaked into the log");
}

/// A `shim/` cdylib crate with no dependencies and its lock file, as `init` finds in a package.
fn write_shim_crate(repo: &PackageRepo) {
    repo.write(
        "shim/Cargo.toml",
        "[package]\nname = \"shim\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n",
    );
    repo.write(
        "shim/Cargo.lock",
        "# This file is automatically @generated by Cargo.\n\
         # It is not intended for manual editing.\n\
         version = 4\n\n[[package]]\nname = \"shim\"\nversion = \"0.1.0\"\n",
    );
    repo.write(
        "shim/src/lib.rs",
        "#[unsafe(no_mangle)]\npub extern \"C\" fn chuks_answer() -> i32 {\n    42\n}\n",
    );
}

/// A stand-in for `actions/cache`, which needs GitHub's cache service: it caches nothing.
fn cache_standin(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("action.yml"),
        "name: cache stand-in\n\
         inputs:\n  path: {}\n  key: {}\n  restore-keys: {}\n\
         runs:\n  using: composite\n  steps:\n    \
         - run: echo \"the actions/cache stand-in caches nothing\"\n      shell: bash\n",
    )
    .unwrap();
}

#[test]
fn prebuilt_example_publishes_the_source_and_a_platform_binary_through_the_reusable_workflow_under_act()
 {
    let Some(act) = require_tool("act") else {
        return;
    };
    let (Some(cargo), Some(rustup)) = (require_tool("cargo"), require_tool("rustup")) else {
        return;
    };
    let (assets_dir, sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let work = reusable_workflow_work(sha256);

    // The example as `init github --example prebuilt-binaries` writes it, building only this
    // machine's platform (the others need macOS and Windows runners) and installing from loopback.
    let example =
        std::fs::read_to_string(repo_root().join("ci-examples/github/prebuilt-binaries.yml"))
            .unwrap();
    let with = format!(
        "      prebuilt: true\n      platforms: {}\n{}",
        platform(),
        reusable_loopback_inputs(&assets.url, assets_dir)
    );
    let workflow = example.replacen("      prebuilt: true\n", &with, 1);
    assert_ne!(workflow, example);
    let repo = PackageRepo::new("@chuks/numpy", "0.1.0");
    write_shim_crate(&repo);
    repo.write(".github/workflows/chuks-publish.yml", &workflow);
    repo.commit("add the shim and the publish workflow");
    repo.push();
    repo.tag("v0.1.0");

    let reusable =
        std::fs::read_to_string(repo_root().join(".github/workflows/publish.yml")).unwrap();
    let cache_ref = reusable
        .split("uses: actions/cache@")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the reusable workflow caches cargo");
    let cache = work.path().join("cache-standin");
    cache_standin(&cache);
    // The host's Rust toolchain builds the shim; the isolated HOME has none of its own.
    let toolchain_bin = cargo.parent().unwrap().to_path_buf();
    let rustup_home = Command::new(&rustup)
        .args(["show", "home"])
        .output()
        .unwrap();
    let rustup_home = String::from_utf8(rustup_home.stdout).unwrap();
    let path = std::env::join_paths(std::iter::once(toolchain_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let output = act_command(
        &act,
        work.path(),
        repo.path(),
        (&registry, &token),
        ".github/workflows/chuks-publish.yml",
        None,
    )
    .arg("--local-repository")
    .arg(format!(
        "actions/cache@{cache_ref}={}",
        cache.to_string_lossy()
    ))
    .args(["-P", "ubuntu-22.04-arm=-self-hosted"])
    .env("PATH", path)
    .env("RUSTUP_HOME", rustup_home.trim())
    .output()
    .expect("act runs");
    let log = text(&output);
    assert!(output.status.success(), "act failed:\n{log}");
    let record = registry
        .version("@chuks/numpy", "0.1.0")
        .unwrap_or_else(|| panic!("@chuks/numpy 0.1.0 is not on the registry:\n{log}"));
    let prebuilts = record["prebuilts"].as_array().unwrap();
    assert_eq!(prebuilts.len(), 1, "{record}");
    assert_eq!(prebuilts[0]["platform"], platform(), "{record}");
    assert_contains(&log, "/chuks-shim-target/");
    assert_contains(&log, "the actions/cache stand-in caches nothing");
    assert!(
        !log.contains("uncommitted changes"),
        "the build dirtied the tree:\n{log}"
    );
    assert_contains(&log, &format!("::set-output:: platform={}", platform()));
    assert_contains(&log, "::set-output:: result=published");
    assert!(!log.contains(&token), "the token leaked into the log");
}

// ---------------------------------------------------------------------------------------------
// GitLab: the single-package example under gitlab-ci-local's shell executor.

/// `hello` 0.1.0 with `pipeline` as its .gitlab-ci.yml and the component beside it, on a
/// GitLab remote, pushed and tagged `v0.1.0`.
fn gitlab_repo(pipeline: &str) -> PackageRepo {
    let repo = PackageRepo::new("hello", "0.1.0");
    repo.write(".gitlab-ci.yml", pipeline);
    repo.write(
        "templates/chuks-publish/template.yml",
        &std::fs::read_to_string(repo_root().join("templates/chuks-publish/template.yml")).unwrap(),
    );
    repo.write(".gitignore", ".gitlab-ci-local/\nchuks.env\n");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://gitlab.example.com/acme/hello.git",
    ]);
    repo.commit("add the pipeline");
    repo.push();
    repo.tag("v0.1.0");
    repo
}

/// The dotenv report gitlab-ci-local kept of the `chuks-publish` job.
fn gitlab_dotenv(repo: &PackageRepo, log: &str) -> String {
    std::fs::read_to_string(
        repo.path()
            .join(".gitlab-ci-local/artifacts/chuks-publish/.gitlab-ci-reports/dotenv/chuks.env"),
    )
    .unwrap_or_else(|err| panic!("no dotenv report ({err}):\n{log}"))
}

#[test]
fn gitlab_example_publishes_under_gitlab_ci_local_and_skips_without_a_tag() {
    let Some(gcl) = require_tool("gitlab-ci-local") else {
        return;
    };
    if require_tool("rsync").is_none() {
        return;
    }
    let (assets_dir, chuks_ci_sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let home = TempDir::new().unwrap();

    // The example includes the component from GitLab.com, which is out of reach here; the same
    // component file is included locally instead, with the release URL pointed at loopback, the
    // archive's sum pinned (no release pins it yet) and the stand-in `chuks` CLI on PATH.
    let example = std::fs::read_to_string(
        repo_root().join("ci-examples/gitlab/single-package.gitlab-ci.yml"),
    )
    .unwrap();
    let component_line = example
        .lines()
        .find(|line| line.trim_start().starts_with("- component:"))
        .expect("the example includes the component");
    let pipeline = example.replace(
        component_line,
        &format!(
            "  - local: templates/chuks-publish/template.yml\n    inputs:\n      \
             chuks-ci-release-url: {}\n      chuks-ci-sha256: {chuks_ci_sha256}\n      \
             install-chuks: false\n      uploader: chuks",
            assets.url
        ),
    );
    let repo = gitlab_repo(&pipeline);

    let run = |extra: &[String]| {
        isolated(&gcl, home.path())
            .env("PATH", path_with_standin())
            .current_dir(repo.path())
            .args(["--force-shell-executor", "--no-color"])
            .args(["--variable", &format!("CHUKS_TOKEN={}", token)])
            .args([
                "--variable",
                &format!("CHUKS_REGISTRY_URL={}", registry.url()),
            ])
            .args(extra)
            .output()
            .expect("gitlab-ci-local runs")
    };

    let output = run(&["--variable".into(), "CI_COMMIT_TAG=v0.1.0".into()]);
    let log = text(&output);
    assert!(output.status.success(), "gitlab-ci-local failed:\n{log}");
    assert!(
        log.contains("PASS") && log.contains("chuks-publish"),
        "{log}"
    );
    let record = registry
        .version("hello", "0.1.0")
        .unwrap_or_else(|| panic!("hello 0.1.0 is not on the registry:\n{log}"));
    assert!(
        record["git"]["tag"].is_null(),
        "uploaded by chuks-ci, not the CLI: {record}"
    );
    let dotenv = gitlab_dotenv(&repo, &log);
    for line in [
        "CHUKS_NAME=hello".to_string(),
        "CHUKS_VERSION=0.1.0".to_string(),
        "CHUKS_TAG=v0.1.0".to_string(),
        format!("CHUKS_SHA256={}", record["sha256"].as_str().unwrap()),
        "CHUKS_RESULT=published".to_string(),
        "CHUKS_UPLOADER=chuks".to_string(),
    ] {
        assert!(
            dotenv.lines().any(|l| l == line),
            "`{line}` missing from:\n{dotenv}"
        );
    }
    assert!(!log.contains(&token), "the token leaked into the log");

    // Without a tag the rules skip the job: nothing starts.
    let output = run(&[]);
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(
        !log.contains("chuks-publish starting"),
        "the job ran without a tag:\n{log}"
    );
}

#[test]
fn gitlab_trusted_publishing_example_publishes_under_gitlab_ci_local_with_no_secret() {
    let Some(gcl) = require_tool("gitlab-ci-local") else {
        return;
    };
    if require_tool("rsync").is_none() {
        return;
    }
    let (assets_dir, chuks_ci_sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let issuer = FakeIssuer::start();
    let registry = trusting_registry(
        &issuer,
        Identity::Gitlab {
            project: "acme/hello".into(),
            config_path: ".gitlab-ci.yml".into(),
            environment: None,
        },
    );
    let home = TempDir::new().unwrap();

    // The component is included locally, as in the single-package test, keeping the example's
    // own inputs (`trusted-publishing: always`, the audience).
    let example = std::fs::read_to_string(
        repo_root().join("ci-examples/gitlab/trusted-publishing.gitlab-ci.yml"),
    )
    .unwrap();
    assert_contains(&example, "id-token-audience: chuks");
    let component_line = example
        .lines()
        .find(|line| line.trim_start().starts_with("- component:"))
        .expect("the example includes the component");
    let pipeline = example
        .replace(
            component_line,
            "  - local: templates/chuks-publish/template.yml",
        )
        .replace(
            "    inputs:\n",
            &format!(
                "    inputs:\n      chuks-ci-release-url: {}\n      chuks-ci-sha256: \
                 {chuks_ci_sha256}\n      install-chuks: false\n      uploader: http\n",
                assets.url
            ),
        );
    let repo = gitlab_repo(&pipeline);

    // What GitLab puts in `CHUKS_ID_TOKEN` for the job's `id_tokens:` block.
    let claims = issuer.gitlab_claims("acme/hello", ".gitlab-ci.yml");
    let id_token = issuer.sign(&claims, 1);
    let output = isolated(&gcl, home.path())
        .current_dir(repo.path())
        .args(["--force-shell-executor", "--no-color"])
        .args(["--variable", &format!("CHUKS_ID_TOKEN={id_token}")])
        .args([
            "--variable",
            &format!("CHUKS_REGISTRY_URL={}", registry.url()),
        ])
        .args(["--variable", "CI_COMMIT_TAG=v0.1.0"])
        // gitlab-ci-local says `false`, so jobs can tell it from GitLab; here it plays GitLab.
        .args(["--variable", "GITLAB_CI=true"])
        .output()
        .expect("gitlab-ci-local runs");
    let log = text(&output);
    assert!(output.status.success(), "gitlab-ci-local failed:\n{log}");
    assert!(registry.version("hello", "0.1.0").is_some(), "{log}");
    let dotenv = gitlab_dotenv(&repo, &log);
    assert!(
        dotenv.lines().any(|l| l == "CHUKS_AUTH=trusted-publishing"),
        "{dotenv}"
    );
    assert!(
        !log.contains(&id_token) && !log.contains("chuks_pk_"),
        "{log}"
    );
}

#[test]
fn gitlab_prebuilt_example_includes_the_component_twice_as_two_jobs() {
    let Some(gcl) = require_tool("gitlab-ci-local") else {
        return;
    };
    let home = TempDir::new().unwrap();
    let example = std::fs::read_to_string(
        repo_root().join("ci-examples/gitlab/prebuilt-binaries.gitlab-ci.yml"),
    )
    .unwrap();
    let component = example
        .lines()
        .find(|line| line.trim_start().starts_with("- component:"))
        .expect("the example includes the component");
    let pipeline = example.replace(component, "  - local: templates/chuks-publish/template.yml");
    assert_eq!(pipeline.matches("- local:").count(), 2, "{pipeline}");
    let repo = PackageRepo::new("hello", "0.1.0");
    repo.write(".gitlab-ci.yml", &pipeline);
    repo.write(
        "templates/chuks-publish/template.yml",
        &std::fs::read_to_string(repo_root().join("templates/chuks-publish/template.yml")).unwrap(),
    );
    repo.commit("add the pipeline");
    let output = isolated(&gcl, home.path())
        .current_dir(repo.path())
        .args(["--preview", "--variable", "CI_COMMIT_TAG=v0.1.0"])
        .output()
        .unwrap();
    let preview = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{}", text(&output));
    // Each job's own lines, up to the next top-level key.
    let job = |name: &str| -> String {
        let header = format!("{name}:");
        preview
            .lines()
            .skip_while(|line| *line != header)
            .skip(1)
            .take_while(|line| line.is_empty() || line.starts_with(' '))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    let source = job("chuks-publish");
    assert_contains(&source, "CHUKS_IF_EXISTS: verify");
    assert_contains(&source, "CHUKS_PREBUILT_FILE: ''");
    let prebuilt = job("chuks-publish-prebuilt");
    for line in [
        "resource_group: chuks-publish-prebuilt",
        "CHUKS_IF_EXISTS: skip",
        "CHUKS_PREBUILT_FILE: prebuilt/$SHIM_PLATFORM/libshim.so",
        "CHUKS_PREBUILT_PLATFORM: $SHIM_PLATFORM",
        "- job: chuks-publish\n",
        "- job: shim\n",
    ] {
        assert_contains(&prebuilt, line);
    }
}

// ---------------------------------------------------------------------------------------------
// Bitbucket: the step script of the single-package example, and pipe.sh.

/// The script items of the `&chuks-publish` step in a bitbucket-pipelines.yml, as shell text.
/// The step's items are `- |` block scalars, as the template writes them.
fn bitbucket_step_script(pipelines: &str) -> String {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut lines = pipelines
        .lines()
        .skip_while(|l| !l.contains("&chuks-publish"));
    let script_line = lines
        .find(|l| l.trim() == "script:")
        .expect("the step has a script");
    let script_indent = indent(script_line);
    let mut script = String::new();
    let mut body_indent = None;
    for line in lines {
        if line.trim().is_empty() {
            script.push('\n');
            continue;
        }
        if indent(line) <= script_indent {
            break;
        }
        if line.trim() == "- |" {
            body_indent = None;
            continue;
        }
        let body = *body_indent.get_or_insert(indent(line));
        script.push_str(&line[body.min(indent(line))..]);
        script.push('\n');
    }
    script
}

fn bitbucket_env(
    command: &mut Command,
    repo: &PackageRepo,
    (registry, token): (&TestRegistry, &str),
    tag: &str,
) {
    command
        .env("CI", "true")
        .env("BITBUCKET_BUILD_NUMBER", "7")
        .env("BITBUCKET_CLONE_DIR", repo.path())
        .env("BITBUCKET_TAG", tag)
        .env("BITBUCKET_COMMIT", repo.head())
        .env("BITBUCKET_REPO_FULL_NAME", "acme/hello")
        .env(
            "BITBUCKET_GIT_HTTP_ORIGIN",
            "https://bitbucket.org/acme/hello",
        )
        .env("CHUKS_TOKEN", token)
        .env("CHUKS_REGISTRY_URL", registry.url())
        .current_dir(repo.path());
}

#[test]
fn bitbucket_step_script_publishes_with_the_bitbucket_variables() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    if require_tool("curl").is_none() {
        return;
    }
    let (assets_dir, chuks_ci_sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    let (registry, token) = acme_registry();
    let home = TempDir::new().unwrap();
    let example = std::fs::read_to_string(
        repo_root().join("ci-examples/bitbucket/single-package.bitbucket-pipelines.yml"),
    )
    .unwrap();
    let script = bitbucket_step_script(&example);
    assert_contains(&script, "chuks-ci \"$@\"");

    let repo = PackageRepo::new("hello", "0.1.0");
    repo.write("bitbucket-pipelines.yml", &example);
    repo.write(".gitignore", "chuks.env\n");
    repo.commit("add the pipeline");
    repo.push();
    repo.tag("v0.1.0");

    // Bitbucket runs the step's commands in one shell, stopping at the first failure. The
    // official CLI comes from its release asset on loopback.
    let step = |extra: &[(&str, &str)]| {
        let mut command = isolated(&bash, home.path());
        command.args(["-e", "-c", &script]);
        command.env("CHUKS_CI_RELEASE_URL", &assets.url);
        command.env("CHUKS_CLI_RELEASE_URL", format!("{}/chuks", assets.url));
        bitbucket_env(&mut command, &repo, (&registry, &token), "v0.1.0");
        for (name, value) in extra {
            command.env(name, value);
        }
        command.output().unwrap()
    };

    // Without CHUKS_CI_SHA256 the step checks the sum its release pinned, which is not this
    // test build's; before any release it pins none. Either way a clear error, and no chuks-ci.
    let output = step(&[]);
    let log = text(&output);
    assert!(!output.status.success(), "{log}");
    if script.contains(") chuks_ci_expected=") {
        assert_contains(&log, "checksum mismatch for `chuks-ci-");
    } else {
        assert_contains(&log, "no sha256 is pinned for `chuks-ci-");
    }
    assert_contains(&log, "hint: ");
    assert!(!log.contains("packed hello"), "{log}");

    // A chuks CLI release that does not exist: a clear error, not a bare curl failure.
    let output = step(&[
        ("CHUKS_CI_SHA256", chuks_ci_sha256),
        ("CHUKS_USE_UPLOADER", "chuks"),
        ("CHUKS_CLI_VERSION", "v9.9.9"),
    ]);
    let log = text(&output);
    assert!(!output.status.success(), "{log}");
    assert_contains(&log, "could not download the `chuks` CLI v9.9.9");
    assert_contains(&log, "hint: check chuks-version");
    assert!(!log.contains("packed hello"), "{log}");

    let output = step(&[
        ("CHUKS_CI_SHA256", chuks_ci_sha256),
        ("CHUKS_USE_UPLOADER", "chuks"),
    ]);
    let log = text(&output);
    assert!(output.status.success(), "the step script failed:\n{log}");
    let record = registry
        .version("hello", "0.1.0")
        .unwrap_or_else(|| panic!("hello 0.1.0 is not on the registry:\n{log}"));
    assert!(
        record["git"]["tag"].is_null(),
        "uploaded by chuks-ci, not the CLI: {record}"
    );
    let dotenv = std::fs::read_to_string(repo.path().join("chuks.env")).unwrap();
    assert_contains(&dotenv, "CHUKS_RESULT=published");
    assert_contains(&dotenv, "CHUKS_TAG=v0.1.0");
    assert_contains(&dotenv, "CHUKS_UPLOADER=chuks");

    assert_contains(&log, "installed the chuks CLI v0.1.0");

    // A checksum pinned with CHUKS_CI_SHA256 that the download does not match stops the step.
    let output = step(&[("CHUKS_CI_SHA256", &"0".repeat(64))]);
    let log = text(&output);
    assert!(!output.status.success(), "{log}");
    assert_contains(&log, "checksum mismatch");
    assert!(!log.contains("packed hello"), "{log}");
}

#[test]
fn bitbucket_trusted_publishing_example_publishes_with_the_step_id_token_and_no_secret() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    if require_tool("curl").is_none() {
        return;
    }
    let (assets_dir, chuks_ci_sha256) = release_assets();
    let assets = FileServer::start(assets_dir.clone());
    // Bitbucket's issuer is per workspace: the trusted publisher names it.
    let issuer = FakeIssuer::start();
    let registry = trusting_registry(
        &issuer,
        Identity::Bitbucket {
            workspace_uuid: "{acme-workspace}".into(),
            repository_uuid: "{hello-repository}".into(),
        },
    );
    let example = std::fs::read_to_string(
        repo_root().join("ci-examples/bitbucket/trusted-publishing.bitbucket-pipelines.yml"),
    )
    .unwrap();
    assert_contains(
        &example,
        "oidc:\n          audiences:\n            - chuks\n",
    );
    let script = bitbucket_step_script(&example);

    let repo = PackageRepo::new("hello", "0.1.0");
    repo.write("bitbucket-pipelines.yml", &example);
    repo.write(".gitignore", "chuks.env\n");
    repo.commit("add the pipeline");
    repo.push();
    repo.tag("v0.1.0");

    let claims = issuer.bitbucket_claims("{acme-workspace}", "{hello-repository}");
    let id_token = issuer.sign(&claims, 1);
    let home = TempDir::new().unwrap();
    let mut command = isolated(&bash, home.path());
    command.args(["-e", "-c", &script]);
    bitbucket_env(&mut command, &repo, (&registry, ""), "v0.1.0");
    let output = command
        .env_remove("CHUKS_TOKEN")
        .env("CHUKS_CI_RELEASE_URL", &assets.url)
        .env("CHUKS_CI_SHA256", chuks_ci_sha256)
        .env("CHUKS_USE_UPLOADER", "http")
        .env("BITBUCKET_STEP_OIDC_TOKEN", &id_token)
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "the step script failed:\n{log}");
    assert!(registry.version("hello", "0.1.0").is_some(), "{log}");
    let dotenv = std::fs::read_to_string(repo.path().join("chuks.env")).unwrap();
    assert_contains(&dotenv, "CHUKS_AUTH=trusted-publishing");
    assert!(
        !log.contains(&id_token) && !log.contains("chuks_pk_"),
        "{log}"
    );
    let minted = registry.list_tokens().unwrap();
    assert!(
        minted.iter().all(|token| token.revoked_at.is_some()),
        "{minted:?}"
    );
}

#[test]
fn bitbucket_pipe_publishes_a_monorepo_package_then_the_whole_workspace() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let (registry, token) = acme_registry();
    let home = TempDir::new().unwrap();
    let repo = PackageRepo::new("root-placeholder", "0.0.1");
    repo.write(
        "packages/strings/chuks.json",
        &manifest_json("@acme/strings", "1.2.0"),
    );
    repo.write(
        "packages/strings/src/index.chuks",
        "export function shout(s: string): string { return s }\n",
    );
    repo.write(
        "packages/maths/chuks.json",
        r#"{"name": "@acme/maths", "version": "0.3.0", "dependencies": {"@acme/strings": "^1.2.0"}}"#,
    );
    repo.write("packages/maths/src/index.chuks", "export const pi = 3\n");
    repo.write(".gitignore", "chuks.env\n");
    repo.commit("add @acme/strings and @acme/maths");
    repo.push();
    // Two packages tagged at once.
    git_in(repo.path(), &["tag", "@acme/strings@1.2.0"]);
    git_in(repo.path(), &["tag", "@acme/maths@0.3.0"]);

    // The pipe image has chuks-ci on PATH; here the freshly built binary plays that part.
    let bin_dir = assert_cmd::cargo::cargo_bin("chuks-ci")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let pipe = |variables: &[(&str, &str)]| {
        let mut command = isolated(&bash, home.path());
        command
            .arg(repo_root().join("templates/bitbucket/pipe/pipe.sh"))
            .env("PATH", &path)
            // The pipe image's own `chuks` CLI download is covered by the step test.
            .env("CHUKS_INSTALL_CLI", "false");
        bitbucket_env(
            &mut command,
            &repo,
            (&registry, &token),
            "@acme/strings@1.2.0",
        );
        for (name, value) in variables {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let log = text(&output);
        assert!(output.status.success(), "pipe.sh failed:\n{log}");
        let dotenv = std::fs::read_to_string(repo.path().join("chuks.env")).unwrap();
        (log, dotenv)
    };

    // One package, named by its folder.
    let (log, dotenv) = pipe(&[("CHUKS_WORKING_DIRECTORY", "packages/strings")]);
    let record = registry
        .version("@acme/strings", "1.2.0")
        .unwrap_or_else(|| panic!("@acme/strings 1.2.0 is not on the registry:\n{log}"));
    assert_eq!(record["git"]["tag"], "@acme/strings@1.2.0");
    assert!(registry.version("@acme/maths", "0.3.0").is_none());
    assert_contains(&dotenv, "CHUKS_NAME=@acme/strings");
    // The keys chuks-ci writes are the outputs the integrations declare.
    let mut written: Vec<String> = dotenv
        .lines()
        .filter_map(|line| line.split_once('=').map(|(key, _)| key.to_string()))
        .collect();
    let mut declared: Vec<String> = chuks_ci::pipelines::Options::load()
        .outputs
        .iter()
        .map(|output| output.dotenv_key())
        .collect();
    written.sort();
    declared.sort();
    // `platform` is written for prebuilt binaries only, `published` and `results` for workspaces.
    let workspace_only = ["CHUKS_PUBLISHED", "CHUKS_RESULTS"];
    declared.retain(|key| key != "CHUKS_PLATFORM" && !workspace_only.contains(&key.as_str()));
    assert_eq!(written, declared, "{dotenv}");
    assert_contains(&dotenv, "CHUKS_RESULT=published");

    // The whole workspace, with no per-package setting: what is there already is `unchanged`.
    let (log, dotenv) = pipe(&[("CHUKS_WORKSPACE", "true")]);
    let record = registry
        .version("@acme/maths", "0.3.0")
        .unwrap_or_else(|| panic!("@acme/maths 0.3.0 is not on the registry:\n{log}"));
    assert_eq!(record["git"]["tag"], "@acme/maths@0.3.0");
    assert_contains(&dotenv, "CHUKS_RESULT=unchanged\n");
    assert_contains(&dotenv, "CHUKS_PUBLISHED=@acme/maths@0.3.0\n");
    assert_contains(&dotenv, "CHUKS_RESULTS=[{");
    for key in workspace_only {
        assert!(
            chuks_ci::pipelines::Options::load()
                .outputs
                .iter()
                .any(|output| output.dotenv_key() == key),
            "{key} is not a declared output"
        );
    }
}
