//! `--workspace`: a monorepo's packages found, ordered by their dependencies and checked, in
//! real git repositories.

#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use chuks_ci::token::Scope;
use common::registry::TestRegistry;
use common::{PackageRepo, assert_contains, outputs};
use serde_json::Value;
use tempfile::TempDir;

/// A repository with one package per `(folder, name, version, dependencies)`, committed and
/// pushed, nothing tagged.
fn monorepo(packages: &[(&str, &str, &str, &[&str])]) -> PackageRepo {
    let repo = PackageRepo {
        dir: TempDir::new().unwrap(),
    };
    repo.git(&["init", "-q", "-b", "main"]);
    for (dir, name, version, dependencies) in packages {
        let dependencies: Vec<String> = dependencies
            .iter()
            .map(|dependency| format!("\"{dependency}\": \"*\""))
            .collect();
        repo.write(
            &format!("{dir}/chuks.json"),
            &format!(
                "{{\"name\": \"{name}\", \"version\": \"{version}\", \"dependencies\": {{{}}}}}\n",
                dependencies.join(", ")
            ),
        );
        repo.write(&format!("{dir}/src/index.chuks"), "export const x = 1\n");
    }
    repo.commit("packages");
    repo.push();
    repo
}

/// The diamond `app` → `left`, `right` → `base`.
fn diamond() -> PackageRepo {
    monorepo(&[
        ("packages/app", "app", "1.0.0", &["left", "right"]),
        ("packages/base", "base", "1.0.0", &[]),
        ("packages/left", "left", "1.0.0", &["base"]),
        ("packages/right", "right", "1.0.0", &["base"]),
    ])
}

fn verify_json(repo: &PackageRepo, extra: &[&str]) -> (std::process::Output, Value) {
    let output = repo
        .chuks_ci()
        .args(["verify-tag", "--workspace", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    (output, json)
}

fn names(json: &Value) -> Vec<&str> {
    json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| package["name"].as_str().unwrap())
        .collect()
}

#[test]
fn a_diamond_is_checked_in_dependency_order() {
    let repo = diamond();
    for tag in ["app@1.0.0", "right@1.0.0", "base@1.0.0", "left/v1.0.0"] {
        repo.tag(tag);
    }
    let (output, json) = verify_json(&repo, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["base", "left", "right", "app"]);
    assert_eq!(json["packages"][1]["tag"], "left/v1.0.0");
    assert_eq!(json["result"], "match");
}

#[test]
fn only_the_packages_tagged_at_head_are_released() {
    let repo = diamond();
    repo.tag("left@1.0.0");
    // A plain `v1.0.0` names no package in a workspace of several.
    repo.tag("v1.0.0");
    let (output, json) = verify_json(&repo, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["left"]);

    // Narrowed to one package, `v1.0.0` still names none: the workspace has four.
    let (output, json) = verify_json(&repo, &["--package", "right"]);
    assert_eq!(output.status.code(), Some(2), "{json}");
    let problem = json["problems"][0]["message"].as_str().unwrap();
    assert_contains(
        problem,
        "no package of the workspace has its release tag at HEAD",
    );
    assert_contains(problem, "`v1.0.0`");
    let hint = json["problems"][0]["hint"].as_str().unwrap();
    assert_contains(hint, "`right@1.0.0`");

    let (output, json) = verify_json(&repo, &["--package", "nope"]);
    assert_eq!(output.status.code(), Some(2), "{json}");
    assert_contains(
        json["problems"][0]["message"].as_str().unwrap(),
        "the workspace has no package `nope`",
    );
}

#[test]
fn a_cycle_is_exit_2_and_named_before_anything_is_checked() {
    let repo = monorepo(&[
        ("a", "a", "1.0.0", &["b"]),
        ("b", "b", "1.0.0", &["a"]),
        ("c", "c", "1.0.0", &[]),
    ]);
    repo.tag("c@1.0.0");
    let output = repo
        .chuks_ci()
        .args(["verify-tag", "--workspace"])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_contains(
        &stderr,
        "error: the workspace's dependencies form a cycle: `a` → `b` → `a`",
    );
    assert!(!stdout.contains("ok:"), "{stdout}");
}

#[test]
fn a_package_that_disagrees_with_its_tag_fails_and_the_others_are_still_checked() {
    let repo = diamond();
    repo.write(
        "packages/left/chuks.json",
        "{\"name\": \"left\", \"version\": \"1.0.1\", \"dependencies\": {\"base\": \"*\"}}\n",
    );
    repo.commit("left 1.0.1");
    repo.push();
    // `left` is tagged for a version its chuks.json no longer says.
    for tag in ["base@1.0.0", "app@1.0.0", "left@1.0.0"] {
        repo.tag(tag);
    }
    let (output, json) = verify_json(&repo, &[]);
    assert_eq!(output.status.code(), Some(1), "{json}");
    assert_eq!(names(&json), ["base", "left", "app"]);
    let results: Vec<&Value> = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| &package["result"])
        .collect();
    assert_eq!(results, ["match", "mismatch", "match"]);
    assert_eq!(json["result"], "mismatch");
}

#[test]
fn the_workspace_file_lists_packages_and_sets_tag_prefixes() {
    let repo = monorepo(&[
        ("packages/maths", "@acme/maths", "0.2.0", &[]),
        ("tools/cli", "@acme/cli", "0.3.0", &["@acme/maths"]),
        ("examples/demo", "demo", "0.0.1", &[]),
    ]);
    repo.write(
        "chuks-workspace.json",
        r#"{"packages": ["packages/*", "tools/cli"], "tag-prefix": {"@acme/cli": "cli-v"}}"#,
    );
    repo.commit("workspace file");
    for tag in ["@acme/maths@0.2.0", "@acme/cli@0.3.0", "demo@0.0.1"] {
        repo.tag(tag);
    }
    // `@acme/cli` releases only in its prefix form; `demo` is not listed.
    let (output, json) = verify_json(&repo, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["@acme/maths"]);
    repo.tag("cli-v0.3.0");
    let (_, json) = verify_json(&repo, &[]);
    assert_eq!(names(&json), ["@acme/maths", "@acme/cli"]);

    repo.write("chuks-workspace.json", r#"{"packages": ["../elsewhere"]}"#);
    let (output, json) = verify_json(&repo, &["--allow-untracked"]);
    assert_eq!(output.status.code(), Some(2), "{json}");
    assert_contains(
        json["problems"][0]["message"].as_str().unwrap(),
        "it leaves the repository",
    );
}

#[test]
fn installed_and_untracked_manifests_are_not_members() {
    let repo = monorepo(&[("lib", "lib", "1.0.0", &[])]);
    repo.write(
        "lib/chuks_packages/di/chuks.json",
        "{\"name\": \"di\", \"version\": \"1.0.0\"}\n",
    );
    repo.git(&["add", "-f", "lib/chuks_packages"]);
    repo.commit("vendored dependency");
    repo.write(
        "scratch/chuks.json",
        "{\"name\": \"scratch\", \"version\": \"1.0.0\"}\n",
    );
    repo.tag("lib@1.0.0");
    repo.tag("di@1.0.0");
    repo.tag("scratch@1.0.0");
    let (output, json) = verify_json(&repo, &["--allow-untracked"]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["lib"]);
}

#[test]
fn bump_finds_a_package_by_name_and_tags_it_with_its_name() {
    let repo = diamond();
    repo.identify();
    let output = repo
        .chuks_ci()
        .args(["bump", "minor", "--package", "base"])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let manifest = std::fs::read_to_string(repo.path().join("packages/base/chuks.json")).unwrap();
    assert_contains(&manifest, "\"version\": \"1.1.0\"");
    assert_eq!(
        repo.git(&["tag", "--points-at", "HEAD"]).trim(),
        "base@1.1.0"
    );
    let changed = repo.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(changed.trim(), "packages/base/chuks.json");

    // The bumped package is what HEAD now releases.
    let (output, json) = verify_json(&repo, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["base"]);
}

// ---------------------------------------------------------------------------------------------
// publish --workspace, against the reference registry on loopback.

fn publish_json(
    repo: &PackageRepo,
    registry: &TestRegistry,
    token: &str,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let output = repo
        .chuks_ci()
        .args([
            "publish",
            "--workspace",
            "--format",
            "json",
            "--confirm-tag",
            "off",
        ])
        .args(["--registry", registry.url()])
        .args(extra)
        .env("CHUKS_TOKEN", token)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    (output, json)
}

fn results(json: &Value) -> Vec<(&str, &str)> {
    json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["result"].as_str().unwrap()))
        .collect()
}

fn tag_all(repo: &PackageRepo) {
    for tag in ["app@1.0.0", "base@1.0.0", "left@1.0.0", "right@1.0.0"] {
        repo.tag(tag);
    }
}

fn publisher_token(registry: &TestRegistry) -> String {
    registry.token("acme", &[Scope::PackagesPublish, Scope::PackagesRead])
}

/// The packages the registry stored, in the order it stored them.
fn stored_order(registry: &TestRegistry) -> Vec<String> {
    let connection = rusqlite::Connection::open(registry.database_path()).unwrap();
    let mut statement = connection
        .prepare("SELECT package FROM versions ORDER BY rowid")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The stand-in for the official CLI (`tests/fixtures/chuks`).
fn stand_in() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chuks").to_string()
}

#[test]
fn a_diamond_is_published_in_dependency_order_by_either_uploader_and_a_rerun_uploads_nothing() {
    let chuks_bin = stand_in();
    let uploaders: [(&[&str], &str); 2] = [
        (&["--uploader", "http"], "unchanged"),
        // The official CLI packs for itself: our bytes are unknown, so a re-run is `exists`.
        (
            &["--uploader", "chuks", "--chuks-bin", &chuks_bin],
            "exists",
        ),
    ];
    for (uploader, rerun) in uploaders {
        let registry = TestRegistry::start();
        let token = publisher_token(&registry);
        let repo = diamond();
        tag_all(&repo);
        let (output, json) = publish_json(&repo, &registry, &token, uploader);
        assert_eq!(output.status.code(), Some(0), "{json}");
        assert_eq!(names(&json), ["base", "left", "right", "app"]);
        assert_eq!(json["result"], "published", "{json}");
        // The registry stored each package after what it depends on, however many ran at once.
        let stored = stored_order(&registry);
        let at = |name: &str| stored.iter().position(|stored| stored == name).unwrap();
        assert!(
            at("base") < at("left") && at("base") < at("right"),
            "{stored:?}"
        );
        assert!(
            at("left") < at("app") && at("right") < at("app"),
            "{stored:?}"
        );
        let (output, json) = publish_json(&repo, &registry, &token, uploader);
        assert_eq!(output.status.code(), Some(0), "{json}");
        assert_eq!(json["result"], rerun, "{json}");
        assert_eq!(registry.stored_versions("app"), 1);
    }
}

#[test]
fn a_version_held_with_other_bytes_stops_the_run_before_any_upload() {
    let registry = TestRegistry::start();
    let token = publisher_token(&registry);
    let repo = diamond();
    tag_all(&repo);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) =
        runtime.block_on(registry.publish(&token, "right", "1.0.0", b"other bytes"));
    assert!(status.is_success(), "{body}");

    let (output, json) = publish_json(&repo, &registry, &token, &[]);
    assert_eq!(output.status.code(), Some(1), "{json}");
    assert_eq!(
        results(&json),
        [
            ("base", "skipped"),
            ("left", "skipped"),
            ("right", "failed"),
            ("app", "skipped")
        ]
    );
    for name in ["base", "left", "app"] {
        assert!(
            registry.version(name, "1.0.0").is_none(),
            "{name} was uploaded"
        );
    }
    let problems = json["problems"].to_string();
    assert_contains(&problems, "already published with different contents");
}

#[test]
fn a_failure_midway_skips_its_dependents_only_and_a_rerun_finishes_the_release() {
    let registry = TestRegistry::start();
    let token = publisher_token(&registry);
    let other = registry.token(
        "other",
        &[Scope::PackagesPublish, Scope::PackagesPermissions],
    );
    let repo = diamond();
    tag_all(&repo);
    // `left` belongs to another publisher: our upload of it is refused at the registry.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(registry.publish(&other, "left", "0.1.0", b"theirs"));
    assert!(status.is_success(), "{body}");

    let (output, json) = publish_json(&repo, &registry, &token, &[]);
    assert_eq!(output.status.code(), Some(3), "{json}");
    assert_eq!(
        results(&json),
        [
            ("base", "published"),
            ("left", "failed"),
            ("right", "published"),
            ("app", "skipped")
        ]
    );
    assert!(registry.version("app", "1.0.0").is_none());
    let app = &json["packages"][3];
    assert_contains(app["skipped_because"].as_str().unwrap(), "`left`");

    // The owner lets us publish `left`; the same commit again finishes what is missing.
    let body = serde_json::json!({"publishers": ["acme"]});
    let (status, answer) = runtime.block_on(registry.call(
        reqwest::Method::PUT,
        "/packages/left/permissions",
        Some(&other),
        Some(&body),
    ));
    assert!(status.is_success(), "{answer}");
    let (output, json) = publish_json(&repo, &registry, &token, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(
        results(&json),
        [
            ("base", "unchanged"),
            ("left", "published"),
            ("right", "unchanged"),
            ("app", "published")
        ]
    );
    assert_eq!(json["result"], "unchanged");
}

#[test]
fn the_outputs_name_the_worst_result_and_what_was_published() {
    let registry = TestRegistry::start();
    let token = publisher_token(&registry);
    let repo = diamond();
    repo.tag("base@1.0.0");
    repo.tag("left@1.0.0");
    let github_output = repo.path().join(".git/github_output");
    std::fs::write(&github_output, "").unwrap();
    let step_summary = repo.path().join(".git/step_summary");
    let output = repo
        .chuks_ci()
        .args(["publish", "--workspace", "--confirm-tag", "off"])
        .args(["--registry", registry.url()])
        .env("CHUKS_TOKEN", &token)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &github_output)
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_contains(&stdout, "base     1.0.0    base@1.0.0");
    let written = std::fs::read_to_string(&github_output).unwrap();
    assert_contains(&written, "result=published\n");
    assert_contains(&written, "published=base@1.0.0 left@1.0.0\n");
    assert_contains(&written, "results=[{\"name\":\"base\"");
    assert!(!written.contains(&token));
    // The step summary has a row per package.
    let summary = std::fs::read_to_string(&step_summary).unwrap();
    assert_contains(
        &summary,
        "| name | version | tag | result | sha256 | uploader | seconds |",
    );
    assert_contains(
        &summary,
        "| <code>left</code> | <code>1.0.0</code> | <code>left@1.0.0</code> | <code>published</code> |",
    );
}

#[test]
fn check_and_a_dry_run_find_what_publish_would_refuse_and_upload_nothing() {
    let registry = TestRegistry::start();
    let token = publisher_token(&registry);
    let repo = diamond();
    tag_all(&repo);
    let run = |args: &[&str]| {
        let output = repo
            .chuks_ci()
            .args(args)
            .args(["--workspace", "--format", "json", "--confirm-tag", "off"])
            .args(["--registry", registry.url()])
            .env("CHUKS_TOKEN", &token)
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        let json: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
        (output.status.code(), json)
    };
    for command in [&["check"][..], &["publish", "--dry-run"]] {
        let (code, json) = run(command);
        assert_eq!(code, Some(0), "{json}");
        assert_eq!(json["result"], "dry-run", "{json}");
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(registry.publish(&token, "left", "1.0.0", b"other"));
    assert!(status.is_success(), "{body}");
    for command in [&["check"][..], &["publish", "--dry-run"]] {
        let (code, json) = run(command);
        assert_eq!(code, Some(1), "{json}");
        assert_eq!(results(&json)[1], ("left", "failed"), "{json}");
    }
    for name in ["base", "right", "app"] {
        assert!(
            registry.version(name, "1.0.0").is_none(),
            "{name} was uploaded"
        );
    }
}

#[test]
fn bump_dependents_raises_ranges_the_new_version_leaves_behind_in_one_commit_and_one_push() {
    let repo = PackageRepo {
        dir: TempDir::new().unwrap(),
    };
    repo.git(&["init", "-q", "-b", "main"]);
    repo.identify();
    let packages = [
        ("base", "{\"name\": \"base\", \"version\": \"1.4.0\"}\n"),
        (
            "left",
            "{\n  \"name\": \"left\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\"base\": \"^1.2.0\"}\n}\n",
        ),
        (
            "app",
            "{\"name\": \"app\", \"version\": \"3.1.0\", \"dependencies\": {\"left\": \"=1.0.0\", \"base\": \">=1\"}}\n",
        ),
        (
            "pinned",
            "{\"name\": \"pinned\", \"version\": \"0.1.0\", \"dependencies\": {\"base\": \"~1.4.0\"}}\n",
        ),
    ];
    for (dir, manifest) in packages {
        repo.write(&format!("{dir}/chuks.json"), manifest);
    }
    repo.commit("packages");
    let remote = common::BareRemote::new();
    repo.track(&remote);

    let output = repo
        .chuks_ci()
        .args([
            "bump",
            "major",
            "--package",
            "base",
            "--dependents",
            "--push",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let read =
        |dir: &str| std::fs::read_to_string(repo.path().join(dir).join("chuks.json")).unwrap();
    // Only the bytes of the versions and the raised ranges changed.
    assert_eq!(
        read("base"),
        "{\"name\": \"base\", \"version\": \"2.0.0\"}\n"
    );
    assert_eq!(
        read("left"),
        "{\n  \"name\": \"left\",\n  \"version\": \"1.0.1\",\n  \"dependencies\": {\"base\": \"^2.0.0\"}\n}\n"
    );
    // app's `>=1` still takes base 2.0.0; its exact `left` does not take 1.0.1.
    assert_eq!(
        read("app"),
        "{\"name\": \"app\", \"version\": \"3.1.1\", \"dependencies\": {\"left\": \"^1.0.1\", \"base\": \">=1\"}}\n"
    );
    assert_eq!(
        read("pinned"),
        "{\"name\": \"pinned\", \"version\": \"0.1.1\", \"dependencies\": {\"base\": \"~2.0.0\"}}\n"
    );
    let mut tags: Vec<String> = repo
        .git(&["tag", "--points-at", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        ["app@3.1.1", "base@2.0.0", "left@1.0.1", "pinned@0.1.1"]
    );
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]).trim(), "2");
    let pushed = remote.refs();
    for tag in &tags {
        assert_contains(&pushed, &format!("refs/tags/{tag}"));
    }
    // What was bumped is what HEAD now releases, all of it consistent.
    let (output, json) = verify_json(&repo, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["base", "left", "pinned", "app"]);
}

#[test]
fn unpublished_releases_every_package_the_registry_lacks_tagged_or_not() {
    let registry = TestRegistry::start();
    let token = publisher_token(&registry);
    let repo = diamond();
    repo.tag("base@1.0.0");
    let (output, json) = publish_json(&repo, &registry, &token, &[]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(names(&json), ["base"]);

    let (output, json) = publish_json(&repo, &registry, &token, &["--unpublished"]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(
        results(&json),
        [
            ("base", "unchanged"),
            ("left", "published"),
            ("right", "published"),
            ("app", "published")
        ]
    );
    // The untagged packages are recorded without a tag, at the commit released.
    let left = registry.version("left", "1.0.0").unwrap();
    assert!(left["git"]["tag"].is_null(), "{left}");
    assert_eq!(left["git"]["commit"], repo.head());
    assert_eq!(
        registry.version("base", "1.0.0").unwrap()["git"]["tag"],
        "base@1.0.0"
    );

    // Again: nothing is left to release.
    let (output, json) = publish_json(&repo, &registry, &token, &["--unpublished"]);
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(json["result"], "unchanged", "{json}");
}
