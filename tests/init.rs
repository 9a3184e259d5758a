//! `chuks-ci init`: writes the committed examples into a repository, refuses to overwrite, pins
//! the action, and tells what it finds in the repository (a shim, another publisher).
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use assert_cmd::Command;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::assert_contains;
use common::outputs;
use tempfile::TempDir;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// A loopback port nothing listens on: "GitHub is unreachable", at once.
const UNREACHABLE_GITHUB: &str = "http://127.0.0.1:9";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// chuks-ci for `init`, offline: GitHub (where `init` resolves the action's tag) is unreachable.
fn chuks_ci(home: &Path) -> Command {
    let mut command = common::chuks_ci(home);
    command.env("GITHUB_API_URL", UNREACHABLE_GITHUB);
    command
}

/// A stand-in for the GitHub API answering every request with `answer`; returns its URL and the
/// request lines it saw.
fn fake_github(answer: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..n]).to_string();
            log.lock().unwrap().push(text);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, seen)
}

fn example(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join("ci-examples").join(relative)).unwrap()
}

#[test]
fn github_init_writes_the_single_package_example_and_names_the_secret() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "github", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/chuks-publish.yml")).unwrap();
    assert_eq!(written, example("github/single-package.yml"));
    assert_contains(&stdout, "CHUKS_TOKEN");
    assert_contains(&stdout, "`chuks-ci hook install`");
    assert_contains(&stdout, "`chuks-ci bump patch --push`");
    assert_contains(&stdout, "Settings → Secrets and variables → Actions");
}

#[test]
fn every_platform_and_example_lands_where_the_platform_reads_it() {
    let home = TempDir::new().unwrap();
    for (platform, target, suffix, secret_place) in [
        (
            "github",
            ".github/workflows/chuks-publish.yml",
            ".yml",
            "Actions",
        ),
        (
            "gitlab",
            ".gitlab-ci.yml",
            ".gitlab-ci.yml",
            "Settings → CI/CD → Variables",
        ),
        (
            "bitbucket",
            "bitbucket-pipelines.yml",
            ".bitbucket-pipelines.yml",
            "Repository variables",
        ),
    ] {
        for name in ["single-package", "prebuilt-binaries", "monorepo"] {
            let dir = TempDir::new().unwrap();
            let output = chuks_ci(home.path())
                .args(["init", platform, "--example", name, "--dir"])
                .arg(dir.path())
                .output()
                .unwrap();
            let (stdout, stderr) = outputs(&output);
            assert!(output.status.success(), "{platform} {name}: {stderr}");
            assert_contains(&stdout, secret_place);
            let written = std::fs::read_to_string(dir.path().join(target)).unwrap();
            assert_eq!(written, example(&format!("{platform}/{name}{suffix}")));
        }
    }
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join(".gitlab-ci.yml"), "# mine\n").unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "gitlab", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_contains(&stderr, "already exists");
    assert_contains(&stderr, "hint: pass `--force`");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap(),
        "# mine\n"
    );

    let output = chuks_ci(home.path())
        .args(["init", "gitlab", "--force", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap(),
        example("gitlab/single-package.gitlab-ci.yml")
    );
}

/// Whether this version's release recorded its commit, which the examples then pin.
fn released() -> bool {
    example("github/single-package.yml").contains(&format!(" # v{VERSION}\n"))
}

/// Before a release records its commit, `init` asks GitHub for it; after, it uses the recorded
/// one and asks nothing. Whichever state this checkout is in is the one checked.
#[test]
fn github_init_pins_the_action_by_a_commit() {
    if released() {
        pins_the_commit_this_release_recorded_without_asking_github();
    } else {
        pins_the_commit_github_resolves_the_tag_to();
    }
}

fn pins_the_commit_this_release_recorded_without_asking_github() {
    let (url, seen) = fake_github("0123456789abcdef0123456789abcdef01234567\n");
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = common::chuks_ci(home.path())
        .env("GITHUB_API_URL", &url)
        .args(["init", "github", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/chuks-publish.yml")).unwrap();
    assert_eq!(written, example("github/single-package.yml"));
    assert!(seen.lock().unwrap().is_empty(), "GitHub was asked");
}

fn pins_the_commit_github_resolves_the_tag_to() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let (url, seen) = fake_github(
        r#"{"object":{"type":"commit","sha":"0123456789abcdef0123456789abcdef01234567"}}"#,
    );
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = common::chuks_ci(home.path())
        .env("GITHUB_API_URL", &url)
        .args(["init", "github", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/chuks-publish.yml")).unwrap();
    assert_contains(
        &written,
        &format!("uses: chuks/publish-action@{sha} # v{VERSION}\n"),
    );
    assert_eq!(
        written,
        example("github/single-package.yml").replace(
            &format!("chuks/publish-action@v{VERSION}"),
            &format!("chuks/publish-action@{sha} # v{VERSION}")
        )
    );
    assert_contains(
        &stderr,
        &format!("pinned chuks/publish-action to commit {sha}"),
    );
    let requests = seen.lock().unwrap();
    assert!(
        requests[0].starts_with(&format!(
            "GET /repos/chuks/publish-action/git/ref/tags/v{VERSION} "
        )),
        "{requests:?}"
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("accept: application/vnd.github+json"),
        "{requests:?}"
    );
}

/// Offline, a release that recorded its commit still pins it; before that, `init` writes the tag
/// and says how to pin it by hand.
#[test]
fn github_init_offline_pins_what_it_can_and_says_how_to_pin_the_rest() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "github", "--example", "prebuilt-binaries", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/chuks-publish.yml")).unwrap();
    if released() {
        assert_eq!(written, example("github/prebuilt-binaries.yml"));
        assert!(!stderr.contains("not resolved to a commit"), "{stderr}");
        return;
    }
    assert_contains(
        &written,
        &format!("/.github/workflows/publish.yml@v{VERSION}\n"),
    );
    assert_contains(&stderr, "not resolved to a commit");
    assert_contains(
        &stderr,
        &format!("git ls-remote https://github.com/chuks/publish-action refs/tags/v{VERSION}"),
    );
}

#[test]
fn github_init_ignores_an_answer_that_is_not_a_sha() {
    if released() {
        return;
    }
    let (url, _) = fake_github("<html>rate limited</html>");
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = common::chuks_ci(home.path())
        .env("GITHUB_API_URL", &url)
        .args(["init", "github", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let written =
        std::fs::read_to_string(dir.path().join(".github/workflows/chuks-publish.yml")).unwrap();
    assert_eq!(written, example("github/single-package.yml"));
    assert_contains(&stderr, "not a commit SHA");
}

#[test]
fn bitbucket_init_says_where_the_archive_sums_are_when_this_build_has_none() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let output = chuks_ci(home.path())
        .args(["init", "bitbucket", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let written = std::fs::read_to_string(dir.path().join("bitbucket-pipelines.yml")).unwrap();
    // A build made before its release's sums existed pins none, and init says where they are.
    if written.contains(") chuks_ci_expected=") {
        assert!(!stderr.contains("CHUKS_CI_SHA256"), "{stderr}");
    } else {
        assert_contains(&stderr, "CHUKS_CI_SHA256");
        assert_contains(&stderr, &format!("`v{VERSION}` tag"));
    }
}

/// A release workflow shaped like those of the numpy and polars bindings: a job resolving the
/// CLI version, a source job running `chuks publish`, and shim-publish-action for the binaries.
const SHIM_RELEASE_WORKFLOW: &str = r#"name: Release
on:
  push:
    tags: ["v*"]
  workflow_dispatch:
jobs:
  setup:
    runs-on: ubuntu-22.04
    outputs:
      version: ${{ steps.pick.outputs.version }}
    steps:
      - id: pick
        run: echo "version=v0.1.0" >> "$GITHUB_OUTPUT"
  publish-source:
    needs: setup
    runs-on: ubuntu-22.04
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - name: Publish source
        env:
          CHUKS_TOKEN: ${{ secrets.CHUKS_TOKEN }}
        run: |
          if chuks publish 2>&1 | tee /tmp/pub.log; then echo published; fi
  publish-prebuilts:
    needs: [setup, publish-source]
    uses: chuks-programming-language/shim-publish-action/.github/workflows/build.yml@v1
    with:
      shim-dir: shim
    secrets:
      CHUKS_TOKEN: ${{ secrets.CHUKS_TOKEN }}
"#;

/// A test workflow run on branches only, which `init` leaves alone.
const TEST_WORKFLOW: &str = "name: Test\non:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  \
     test:\n    runs-on: ubuntu-22.04\n    steps:\n      - run: chuks test\n";

/// A repository with a `shim/` cdylib crate whose library is `library`.
fn shim_repo(library: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("shim/src")).unwrap();
    std::fs::write(
        dir.path().join("shim/Cargo.toml"),
        format!(
            "[package]\nname = \"{library}\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n\
             [lib]\ncrate-type = [\"cdylib\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("shim/src/lib.rs"), "").unwrap();
    dir
}

fn write_workflow(dir: &Path, name: &str, text: &str) {
    let workflows = dir.join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join(name), text).unwrap();
}

/// `init`'s diagnostics with the version replaced, for snapshots, less the note on pinning the
/// action (there before a release records its commit, gone after).
fn stderr_snapshot(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| !line.contains("not resolved to a commit"))
        .map(|line| format!("{}\n", line.replace(&format!("v{VERSION}"), "v[VERSION]")))
        .collect()
}

/// `chuks-ci init <args> --dir <dir>`, offline, which must succeed: its stdout and stderr.
fn init_in(home: &Path, dir: &Path, args: &[&str]) -> (String, String) {
    let output = chuks_ci(home)
        .arg("init")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "init {args:?}: {stdout}{stderr}");
    (stdout, stderr)
}

fn read(dir: &Path, relative: &str) -> String {
    std::fs::read_to_string(dir.join(relative)).unwrap()
}

const GITHUB_TARGET: &str = ".github/workflows/chuks-publish.yml";

#[test]
fn numpy_maintainer_gets_the_prebuilt_example_and_is_told_to_delete_the_old_release_workflow() {
    let home = TempDir::new().unwrap();
    let repo = shim_repo("chuks_numpy_shim");
    write_workflow(repo.path(), "release.yml", SHIM_RELEASE_WORKFLOW);
    write_workflow(repo.path(), "test.yml", TEST_WORKFLOW);

    // What docs/migrating.md tells the maintainer to run, with no `--example`.
    let (_, stderr) = init_in(home.path(), repo.path(), &["github"]);
    let written = read(repo.path(), GITHUB_TARGET);
    if !released() {
        assert_eq!(written, example("github/prebuilt-binaries.yml"));
    }
    assert_contains(&written, "      shim-dir: shim\n");
    // The old workflow stays until the maintainer deletes it, as the warning says.
    assert_eq!(
        read(repo.path(), ".github/workflows/release.yml"),
        SHIM_RELEASE_WORKFLOW
    );
    assert!(!stderr.contains("test.yml"), "{stderr}");
    insta::assert_snapshot!(stderr_snapshot(&stderr));

    // The same facts for scripts.
    let (stdout, _) = init_in(
        home.path(),
        repo.path(),
        &["github", "--force", "--format", "json"],
    );
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["example"], "prebuilt-binaries");
    assert_eq!(answer["shim_crate"]["library"], "chuks_numpy_shim");
    let publisher = &answer["existing_publishers"][0];
    assert_eq!(publisher["path"], ".github/workflows/release.yml");
    assert_eq!(publisher["tags"], serde_json::json!(["v*"]));
    assert_eq!(
        publisher["publishing_jobs"],
        serde_json::json!(["publish-source", "publish-prebuilts"])
    );
    assert_eq!(publisher["helper_jobs"], serde_json::json!(["setup"]));
    assert_eq!(publisher["whole_file"], true);
    assert_eq!(answer["existing_publishers"].as_array().unwrap().len(), 1);
}

#[test]
fn a_publisher_sharing_its_workflow_with_other_jobs_is_named_job_by_job() {
    let home = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    // A workflow testing every push, tags included, and publishing from one of its jobs.
    let workflow = "on: push\njobs:\n  test:\n    runs-on: ubuntu-22.04\n    steps:\n      \
                    - run: chuks test\n  publish:\n    if: startsWith(github.ref, 'refs/tags/')\n    \
                    needs: test\n    runs-on: ubuntu-22.04\n    steps:\n      \
                    - run: '\"$HOME/chuks/bin/chuks\" publish'\n";
    write_workflow(dir.path(), "ci.yaml", workflow);
    let (_, stderr) = init_in(home.path(), dir.path(), &["github"]);
    assert_contains(
        &stderr,
        "warning: `.github/workflows/ci.yaml` already publishes on tags `*` (job `publish`)",
    );
    assert_contains(
        &stderr,
        "hint: remove the job `publish` from `.github/workflows/ci.yaml`;",
    );
    assert!(!stderr.contains("`test`"), "{stderr}");
}

#[test]
fn choosing_the_single_package_example_in_a_shim_repository_says_what_it_leaves_out() {
    let home = TempDir::new().unwrap();
    let repo = shim_repo("shim");
    let (_, stderr) = init_in(
        home.path(),
        repo.path(),
        &["github", "--example", "single-package"],
    );
    if !released() {
        assert_eq!(
            read(repo.path(), GITHUB_TARGET),
            example("github/single-package.yml")
        );
    }
    assert_contains(
        &stderr,
        "shim/ holds the cdylib crate `shim`, which this example does not build: \
         `--example prebuilt-binaries` also publishes its binary for each platform",
    );
    assert!(!stderr.contains("warning:"), "{stderr}");
}

#[test]
fn gitlab_and_bitbucket_prebuilt_pipelines_copy_the_library_the_shim_builds() {
    let home = TempDir::new().unwrap();
    for (platform, target, committed) in [
        (
            "gitlab",
            ".gitlab-ci.yml",
            "gitlab/prebuilt-binaries.gitlab-ci.yml",
        ),
        (
            "bitbucket",
            "bitbucket-pipelines.yml",
            "bitbucket/prebuilt-binaries.bitbucket-pipelines.yml",
        ),
    ] {
        // A shim named `shim`: the committed example as it is.
        let repo = shim_repo("shim");
        init_in(home.path(), repo.path(), &[platform]);
        assert_eq!(read(repo.path(), target), example(committed), "{platform}");

        // numpy's shim builds libchuks_numpy_shim.so, which the pipeline must copy.
        let repo = shim_repo("chuks-numpy-shim");
        init_in(home.path(), repo.path(), &[platform]);
        let written = read(repo.path(), target);
        assert!(!written.contains("libshim.so"), "{platform}:\n{written}");
        assert_eq!(
            written,
            example(committed)
                .replace("libshim.so", "libchuks_numpy_shim.so")
                .replace("named `shim`", "named `chuks_numpy_shim`"),
            "{platform}"
        );
    }
}
