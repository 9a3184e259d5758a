//! A maintainer's steps around `pack` and a rehearsal, then `publish` to the reference registry:
//! what the published tarball holds is read back from the registry, so nothing `pack` or a
//! rehearsal left in the working tree can ship unnoticed.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Output;

use chuks_ci::token::Scope;
use common::registry::{TestRegistry, encode};
use common::{PackageRepo, assert_contains, outputs};

const NAME: &str = "@chuks/numpy";
const VERSION: &str = "1.2.0";

/// A registry (its data folder wherever `data_dir` says, inside the package or not), and the
/// package repository tagged `v1.2.0` at HEAD and pushed.
fn release(
    data_dir: impl FnOnce(&Path) -> Option<std::path::PathBuf>,
) -> (TestRegistry, PackageRepo) {
    let repo = PackageRepo::new(NAME, VERSION);
    repo.tag(&format!("v{VERSION}"));
    repo.push();
    let registry = match data_dir(repo.path()) {
        Some(dir) => TestRegistry::start_with(|config| config.data_dir = dir),
        None => TestRegistry::start(),
    };
    (registry, repo)
}

fn chuks_ci(repo: &PackageRepo, args: &[&str], token: Option<&str>) -> Output {
    let mut command = repo.chuks_ci();
    command.args(args);
    if let Some(token) = token {
        command.env("CHUKS_TOKEN", token);
    }
    command.output().unwrap()
}

fn publish(registry: &TestRegistry, repo: &PackageRepo, token: &str) -> Output {
    chuks_ci(
        repo,
        &[
            "publish",
            "--registry",
            registry.url(),
            "--uploader",
            "http",
        ],
        Some(token),
    )
}

fn token(registry: &TestRegistry) -> String {
    let issued = registry
        .create_token("alice", "ci", &[Scope::PackagesPublish], 30)
        .unwrap();
    issued.token.expose().to_string()
}

/// The member paths of the tarball the registry stores for the release.
fn published_paths(registry: &TestRegistry) -> Vec<String> {
    let path = format!("/packages/{}/{VERSION}/tarball", encode(NAME));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, bytes) = runtime.block_on(registry.bytes(&path));
    assert_eq!(status, 200, "the tarball is stored");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            entry.read_to_end(&mut Vec::new()).unwrap();
            entry.path().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

fn tarballs_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tgz"))
        .collect()
}

fn assert_success(output: &Output) {
    let (stdout, stderr) = outputs(output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
}

const PACKAGE_FILES: [&str; 2] = ["chuks.json", "src/index.chuks"];

#[test]
fn pack_list_then_publish_ships_only_the_package() {
    let (registry, repo) = release(|_| None);
    let listed = chuks_ci(&repo, &["pack", "--list"], None);
    assert_success(&listed);
    let (stdout, _) = outputs(&listed);
    assert_contains(&stdout, "was not written: pass `--output FILE` to write it");
    assert_eq!(tarballs_in(repo.path()), Vec::<String>::new());

    assert_success(&publish(&registry, &repo, &token(&registry)));
    assert_eq!(published_paths(&registry), PACKAGE_FILES);
}

#[test]
fn a_tarball_pack_wrote_into_the_package_is_left_out_of_the_publish() {
    let (registry, repo) = release(|_| None);
    assert_success(&chuks_ci(&repo, &["pack"], None));
    assert_eq!(tarballs_in(repo.path()), ["chuks-numpy-1.2.0.tgz"]);
    // An older release's tarball, renamed, is recognised by its bytes too.
    std::fs::copy(
        repo.path().join("chuks-numpy-1.2.0.tgz"),
        repo.path().join("old-release.tar.gz"),
    )
    .unwrap();

    let published = publish(&registry, &repo, &token(&registry));
    assert_success(&published);
    assert_eq!(published_paths(&registry), PACKAGE_FILES);

    let again = chuks_ci(&repo, &["pack", "--list"], None);
    let (stdout, stderr) = outputs(&again);
    assert_contains(
        &stderr,
        "left out `chuks-numpy-1.2.0.tgz`: a tarball chuks-ci packed is not part of a package (pass `--allow-file chuks-numpy-1.2.0.tgz` to ship it anyway)",
    );
    assert_contains(&stderr, "left out `old-release.tar.gz`");
    assert!(
        !stdout.contains(".tgz  ") && !stdout.contains("tar.gz\n"),
        "{stdout}"
    );

    let allowed = chuks_ci(
        &repo,
        &["pack", "--list", "--allow-file", "old-release.tar.gz"],
        None,
    );
    assert_contains(&outputs(&allowed).0, "  old-release.tar.gz\n");
}

#[test]
fn a_rehearsal_registry_inside_the_package_never_ships_and_publishing_twice_succeeds() {
    // The README's rehearsal, run from the package folder: `registry serve --data-dir
    // ./registry-data`. The registry marks its data folder; the marker alone keeps it out,
    // even where its `.gitignore` is gone.
    let (registry, repo) = release(|root| Some(root.join("registry-data")));
    let data = repo.path().join("registry-data");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join(chuks_ci::pack::REGISTRY_DATA_MARKER))
        .unwrap();
    let _ = std::fs::remove_file(data.join(".gitignore"));
    let token = token(&registry);

    let first = publish(&registry, &repo, &token);
    assert_success(&first);
    assert_eq!(published_paths(&registry), PACKAGE_FILES);
    let second = publish(&registry, &repo, &token);
    assert_success(&second);
    assert!(outputs(&second).0.starts_with("unchanged: "), "{second:?}");

    let listed = chuks_ci(&repo, &["pack", "--list"], None);
    assert_contains(
        &outputs(&listed).1,
        "left out `registry-data/`: it holds `.chuks-registry-data`, so it is a chuks-ci registry's data folder, with its tokens",
    );
}

#[test]
fn with_the_official_cli_what_chuks_ci_would_leave_out_is_refused() {
    // The official CLI packs for itself and reads only `.gitignore`: chuks-ci cannot leave
    // anything out of its tarball, so it refuses what it would have left out.
    let (registry, repo) = release(|_| None);
    assert_success(&chuks_ci(&repo, &["pack"], None));
    repo.write("registry-data/.chuks-registry-data", "");
    repo.write("registry-data/notes.txt", "rehearsal\n");
    let stand_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chuks");
    let args = [
        "publish",
        "--dry-run",
        "--registry",
        registry.url(),
        "--uploader",
        "chuks",
        "--chuks-bin",
        stand_in.to_str().unwrap(),
    ];
    let token = token(&registry);
    let refused = chuks_ci(&repo, &args, Some(&token));
    let (_, stderr) = outputs(&refused);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert_contains(
        &stderr,
        "  - `chuks-numpy-1.2.0.tgz`: a tarball chuks-ci packed, which the official `chuks` CLI would ship (it reads only `.gitignore`)\n",
    );
    assert_contains(
        &stderr,
        "  - `registry-data/notes.txt`: it is in `registry-data/`, a chuks-ci registry's data folder, which the official `chuks` CLI would ship (it reads only `.gitignore`)\n",
    );
    assert_contains(
        &stderr,
        "hint: add chuks-ci's tarballs and registry data folders to `.gitignore`, or publish with `--uploader http`, which leaves them out",
    );

    repo.write(".gitignore", "*.tgz\n");
    repo.write("registry-data/.gitignore", "*\n");
    assert_success(&chuks_ci(&repo, &args, Some(&token)));
}
