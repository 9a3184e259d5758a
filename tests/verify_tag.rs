//! `chuks-ci verify-tag` against real git repositories: tag sources, forms, git state, bad input.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use common::{PackageRepo, git_in, outputs};
use serde_json::Value;

/// Runs `verify-tag --format json` and returns (exit code, parsed JSON, stderr).
fn verify_json(command: &mut assert_cmd::Command) -> (i32, Value, String) {
    let output = command
        .args(["--format", "json", "verify-tag"])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    let json_line = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(json_line)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {stdout}\nstderr: {stderr}"));
    (output.status.code().unwrap(), json, stderr)
}

/// Runs human `verify-tag` with extra args and returns (exit code, stdout, stderr).
fn verify_human(repo: &PackageRepo, args: &[&str]) -> (i32, String, String) {
    let output = repo
        .chuks_ci()
        .arg("verify-tag")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code().unwrap(), stdout, stderr)
}

#[test]
fn lightweight_tag_at_head_matches() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("v1.2.0");
    repo.push();
    let (code, json, _) = verify_json(&mut repo.chuks_ci());
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["result"], "match");
    assert_eq!(json["tag"], "v1.2.0");
    assert_eq!(json["tag_source"], "git");
    assert_eq!(json["name"], "di");
    assert_eq!(json["version"], "1.2.0");
    assert_eq!(json["commit"], repo.head());
    assert_eq!(json["problems"], serde_json::json!([]));
}

#[test]
fn annotated_tag_is_peeled() {
    let repo = PackageRepo::new("@chuks/numpy", "2.0.0-rc.1");
    repo.annotated_tag("@chuks/numpy@2.0.0-rc.1");
    let (code, json, _) = verify_json(&mut repo.chuks_ci());
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["tag"], "@chuks/numpy@2.0.0-rc.1");

    // The same annotated tag named by CI is checked against HEAD after peeling too.
    let (code, json, _) = verify_json(
        repo.chuks_ci()
            .env("CI_COMMIT_TAG", "@chuks/numpy@2.0.0-rc.1"),
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["tag_source"], "gitlab");
}

#[test]
fn tag_not_at_head_fails() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.annotated_tag("v1.2.0");
    let tagged = repo.head();
    repo.write("src/more.chuks", "// later work\n");
    repo.commit("after the release");
    let (code, stdout, stderr) = verify_human(&repo, &["--tag", "v1.2.0"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&tagged) && stderr.contains(&repo.head()),
        "{stderr}"
    );
    common::snapshot_settings(repo.path()).bind(|| insta::assert_snapshot!(stderr));
}

#[test]
fn two_tags_at_head_pick_the_fitting_one() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("nightly");
    repo.tag("v1.2.0");
    let (code, json, _) = verify_json(&mut repo.chuks_ci());
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["tag"], "v1.2.0");
}

#[test]
fn two_fitting_tags_at_head_are_ambiguous() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("1.2.0");
    repo.tag("v1.2.0");
    let (code, stdout, stderr) = verify_human(&repo, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn monorepo_tags_pick_this_package() {
    let repo = PackageRepo::new("@chuks/numpy", "1.2.0");
    repo.tag("@chuks/other@0.3.0");
    repo.tag("@chuks/numpy@1.2.0");
    let (code, json, _) = verify_json(&mut repo.chuks_ci());
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["tag"], "@chuks/numpy@1.2.0");

    let (code, _, stderr) = verify_human(&repo, &["--tag", "@chuks/other@0.3.0"]);
    assert_eq!(code, 1);
    assert_contains(&stderr, "is for package `@chuks/other`");
}

#[test]
fn tag_prefix_and_slash_forms() {
    let repo = PackageRepo::new("numpy", "1.2.0");
    repo.tag("numpy-v1.2.0");
    repo.tag("numpy/v1.2.0");
    let (code, _, stderr) = verify_human(&repo, &["--tag-prefix", "numpy-v"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = verify_human(&repo, &["--tag", "numpy/v1.2.0"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = verify_human(&repo, &["--tag", "v1.2.0", "--tag-prefix", "numpy-v"]);
    assert_eq!(code, 1, "{stderr}");
    assert_contains(&stderr, "does not start with `numpy-v`");
}

#[test]
fn dirty_tree_warns_and_names_files() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("v1.2.0");
    repo.push();
    repo.write(
        "src/index.chuks",
        "export function answer(): int { return 43 }\n",
    );
    repo.write("notes.txt", "untracked\n");
    let (code, stdout, stderr) = verify_human(&repo, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("ok: tag `v1.2.0` (git tags at HEAD) matches di 1.2.0"),
        "{stdout}"
    );
    insta::assert_snapshot!(stderr);
}

#[test]
fn untracked_files_that_would_ship_are_an_error_in_ci_unless_allowed() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("v1.2.0");
    repo.push();
    repo.write("registry-data/registry.sqlite3-wal", "tokens\n");
    let in_ci = |args: &[&str]| {
        let output = repo
            .chuks_ci()
            .env("CI", "true")
            .arg("verify-tag")
            .args(args)
            .output()
            .unwrap();
        (output.status.code().unwrap(), outputs(&output).1)
    };
    let (code, stderr) = in_ci(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert_contains(
        &stderr,
        "error: files git does not track would ship in the package: `registry-data/`",
    );
    assert!(!stderr.contains("uncommitted"), "{stderr}");
    let (code, stderr) = in_ci(&["--allow-untracked"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stderr, "warning: files git does not track would ship");
}

#[test]
fn no_tag_anywhere_is_a_usage_error() {
    let repo = PackageRepo::new("di", "1.2.0");
    let (code, stdout, stderr) = verify_human(&repo, &[]);
    assert_eq!(code, 2, "{stdout}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn shallow_clone_without_the_tag_hints_at_fetch_depth() {
    let origin = PackageRepo::new("di", "1.2.0");
    origin.tag("v1.2.0");
    origin.write("src/next.chuks", "// next\n");
    origin.commit("next");
    let clones = tempfile::TempDir::new().unwrap();
    let url = format!("file://{}", origin.path().to_string_lossy());
    git_in(
        clones.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let shallow = clones.path().join("shallow");

    let output = common::chuks_ci(clones.path())
        .current_dir(&shallow)
        .env("GITHUB_REF", "refs/tags/v1.2.0")
        .arg("verify-tag")
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    insta::assert_snapshot!(stderr);

    let output = common::chuks_ci(clones.path())
        .current_dir(&shallow)
        .arg("verify-tag")
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2));
    assert_contains(&stderr, "`fetch-depth: 0`");
}

#[test]
fn shallow_clone_at_the_tag_matches() {
    let origin = PackageRepo::new("di", "1.2.0");
    origin.tag("v1.2.0");
    let clones = tempfile::TempDir::new().unwrap();
    let url = format!("file://{}", origin.path().to_string_lossy());
    git_in(
        clones.path(),
        &[
            "clone", "-q", "--depth", "1", "--branch", "v1.2.0", &url, "at-tag",
        ],
    );
    let output = common::chuks_ci(clones.path())
        .current_dir(clones.path().join("at-tag"))
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_REF_NAME", "v1.2.0")
        .arg("verify-tag")
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_contains(&stdout, "(GitHub Actions)");
}

#[test]
fn each_ci_environment_is_a_tag_source() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("v1.2.0");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.2.0")],
            "github",
        ),
        (&[("GITHUB_REF", "refs/tags/v1.2.0")], "github"),
        (&[("CI_COMMIT_TAG", "v1.2.0")], "gitlab"),
        (&[("BITBUCKET_TAG", "v1.2.0")], "bitbucket"),
    ];
    for (vars, source) in cases {
        let mut command = repo.chuks_ci();
        command.envs(vars.iter().copied());
        let (code, json, _) = verify_json(&mut command);
        assert_eq!(
            (code, json["tag_source"].as_str()),
            (0, Some(source)),
            "{vars:?}: {json}"
        );
    }
}

#[test]
fn flag_beats_ci_and_ci_beats_git() {
    let repo = PackageRepo::new("di", "1.2.0");
    repo.tag("v1.2.0");
    let output = repo
        .chuks_ci()
        .env("GITHUB_REF", "refs/tags/v9.9.9")
        .args(["--format", "json", "verify-tag", "--tag", "v1.2.0"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{json}");
    assert_eq!(json["tag_source"], "flag");

    // The CI environment names v1.3.0 even though git has v1.2.0 at HEAD: CI wins and mismatches.
    let (code, json, _) = verify_json(repo.chuks_ci().env("CI_COMMIT_TAG", "v1.3.0"));
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["result"], "mismatch");
    assert_eq!(json["tag"], "v1.3.0");
}

#[test]
fn mismatch_annotates_the_version_line_in_github_actions() {
    let repo = PackageRepo::new("di", "1.2.0");
    let output = repo
        .chuks_ci()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", "refs/tags/v1.2.1")
        .arg("verify-tag")
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout.trim(),
        "::error file=chuks.json,line=3,col=14::tag `v1.2.1` is version `1.2.1`, but chuks.json has `1.2.0`%0Ahint: set `version` in chuks.json to `1.2.1` and move the tag onto that commit (`chuks-ci bump 1.2.1 --no-tag && git tag -f v1.2.1`), or re-tag the release as `v1.2.0`"
    );
    insta::assert_snapshot!(stderr);
}

#[test]
fn prerelease_mismatch_fails() {
    let repo = PackageRepo::new("di", "1.2.0-rc.1");
    let (code, _, stderr) = verify_human(&repo, &["--tag", "v1.2.0"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr);
}

#[test]
fn tag_to_be_created_is_a_rehearsal_warning() {
    let repo = PackageRepo::new("di", "1.2.0");
    let (code, stdout, stderr) = verify_human(&repo, &["--tag", "v1.2.0"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("matches di 1.2.0"));
    assert_contains(
        &stderr,
        "warning: tag `v1.2.0` does not exist in this clone yet",
    );
}

#[test]
fn tag_to_be_created_is_an_error_in_ci() {
    let repo = PackageRepo::new("di", "1.2.0");
    let output = repo
        .chuks_ci()
        .env("CI", "true")
        .args(["verify-tag", "--tag", "v1.2.0"])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_contains(&stderr, "error: tag `v1.2.0` does not exist in this clone");
}

#[test]
fn missing_git_is_reported() {
    let repo = PackageRepo::new("di", "1.2.0");
    let empty_path = tempfile::TempDir::new().unwrap();
    let (code, _, stderr) = {
        let output = repo
            .chuks_ci()
            .env("PATH", empty_path.path())
            .arg("verify-tag")
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        (output.status.code().unwrap(), stdout, stderr)
    };
    assert_eq!(code, 2);
    assert_contains(&stderr, "`git` was not found on PATH");

    let output = repo
        .chuks_ci()
        .env("PATH", empty_path.path())
        .args(["verify-tag", "--tag", "v1.2.0"])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_contains(&stderr, "warning: `git` was not found");
}

mod bad_input {
    use super::*;

    /// Runs verify-tag with `--tag v1.2.0` on a repo whose chuks.json is `text`.
    fn run_on(text: &str) -> (i32, String) {
        let repo = PackageRepo::uncommitted(text);
        let (code, _, stderr) = verify_human(&repo, &["--tag", "v1.2.0"]);
        (code, stderr)
    }

    #[test]
    fn missing_manifest() {
        let repo = PackageRepo::new("di", "1.2.0");
        let (code, _, stderr) = verify_human(&repo, &["--manifest", "nope/chuks.json"]);
        assert_eq!(code, 2);
        insta::assert_snapshot!(stderr);
    }

    #[test]
    fn json_syntax_error() {
        let (code, stderr) = run_on("{\n  \"name\": \"di\",\n  \"version\": \"1.2.0\",\n}\n");
        assert_eq!(code, 2);
        insta::assert_snapshot!(stderr);
    }

    #[test]
    fn missing_version() {
        let (code, stderr) = run_on("{\n  \"name\": \"di\"\n}\n");
        assert_eq!(code, 2);
        insta::assert_snapshot!(stderr);
    }

    #[test]
    fn non_semver_versions() {
        for (version, name) in [
            ("1.2", "two_parts"),
            ("v1.2.0", "v_prefix"),
            ("01.2.0", "leading_zero"),
        ] {
            let (code, stderr) = run_on(&common::manifest_json("di", version));
            assert_eq!(code, 2, "{version}");
            insta::assert_snapshot!(format!("non_semver_{name}"), stderr);
        }
    }

    #[test]
    fn bad_name_and_dependency() {
        let (code, stderr) = run_on(&common::manifest_json("Di", "1.2.0"));
        assert_eq!(code, 2);
        assert_contains(&stderr, "`name` `Di` is not a valid package name");
        let (code, stderr) =
            run_on(r#"{"name":"di","version":"1.2.0","dependencies":{"core":"one point two"}}"#);
        assert_eq!(code, 2);
        insta::assert_snapshot!(stderr);
    }

    #[test]
    fn bom_is_tolerated() {
        let (code, stderr) = run_on(&format!("\u{feff}{}", common::manifest_json("di", "1.2.0")));
        assert_eq!(code, 0, "{stderr}");
    }

    #[test]
    fn json_output_on_bad_input_still_names_the_manifest() {
        let repo = PackageRepo::uncommitted("{ nope");
        let (code, json, _) = verify_json(&mut repo.chuks_ci());
        assert_eq!(code, 2);
        assert_eq!(json["result"], "error");
        assert_eq!(json["manifest"], "chuks.json");
        assert_eq!(json["problems"][0]["line"], 1);
        assert_eq!(json["problems"][0]["column"], 3);
    }
}

mod remote_branch_rule {
    use super::*;

    #[test]
    fn a_pushed_tagged_commit_passes_in_ci() {
        let repo = PackageRepo::new("di", "1.2.0");
        repo.tag("v1.2.0");
        repo.push();
        let output = repo
            .chuks_ci()
            .env("CI", "true")
            .arg("verify-tag")
            .output()
            .unwrap();
        let (_, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("remote branch"), "{stderr}");
    }

    #[test]
    fn an_unpushed_tagged_commit_fails_in_ci_and_warns_locally() {
        let repo = PackageRepo::new("di", "1.2.0");
        repo.push();
        repo.write("src/more.chuks", "export const more = 1\n");
        repo.commit("not pushed");
        repo.tag("v1.2.0");
        let head = repo.head();
        let in_ci = repo
            .chuks_ci()
            .env("CI", "true")
            .arg("verify-tag")
            .output()
            .unwrap();
        let (_, stderr) = outputs(&in_ci);
        assert_eq!(in_ci.status.code(), Some(1), "{stderr}");
        assert_contains(
            &stderr,
            &format!("error: no remote branch contains commit {head}, which tag `v1.2.0` releases"),
        );
        assert_contains(&stderr, "`fetch-depth: 0` on actions/checkout");

        let locally = repo.chuks_ci().arg("verify-tag").output().unwrap();
        let (_, stderr) = outputs(&locally);
        assert_eq!(locally.status.code(), Some(0), "{stderr}");
        assert_contains(&stderr, "warning: no remote branch contains commit");
    }

    #[test]
    fn a_shallow_tag_clone_names_the_fetch_depth_fix() {
        let repo = PackageRepo::new("di", "1.2.0");
        repo.tag("v1.2.0");
        repo.push();
        repo.git(&["push", "-q", "bare", "v1.2.0"]);
        let clones = tempfile::TempDir::new().unwrap();
        let clone = clones.path().join("clone");
        let origin = format!("file://{}", repo.bare_remote().to_string_lossy());
        common::git_in(
            clones.path(),
            &[
                "clone", "-q", "--depth", "1", "--branch", "v1.2.0", &origin, "clone",
            ],
        );
        // What a CI tag checkout looks like: shallow, detached, only the tag fetched.
        common::git_in(&clone, &["update-ref", "-d", "refs/remotes/origin/HEAD"]);
        common::git_in(&clone, &["update-ref", "-d", "refs/remotes/origin/main"]);
        let output = common::chuks_ci(&clones.path().join("home"))
            .current_dir(&clone)
            .env("CI", "true")
            .arg("verify-tag")
            .output()
            .unwrap();
        let (_, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("cannot tell whether a remote branch contains commit")
                && stderr.contains("this clone is shallow"),
            "{stderr}"
        );
        assert_contains(&stderr, "`fetch-depth: 0` on actions/checkout");
    }
}

/// Every hint that names a command names one that works in that state: each test follows the
/// hint as a maintainer would, then checks the release again.
mod hints_that_work {
    use super::*;

    /// Runs `command` as a maintainer pasting it into a shell in the repository would, with the
    /// chuks-ci under test first on PATH.
    fn run(repo: &PackageRepo, command: &str) {
        let binary = assert_cmd::cargo::cargo_bin("chuks-ci");
        let path = format!(
            "{}:{}",
            binary.parent().unwrap().to_string_lossy(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", repo.path().join(".git"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        assert!(
            output.status.success(),
            "`{command}` failed:\n{stdout}{stderr}"
        );
    }

    /// The command in backticks that starts with `start`, as the hint wrote it.
    fn named(hint: &str, start: &str) -> String {
        let from = hint
            .find(&format!("`{start}"))
            .unwrap_or_else(|| panic!("no `{start}…` in:\n{hint}"));
        let rest = &hint[from + 1..];
        rest[..rest.find('`').unwrap()].to_string()
    }

    /// `verify-tag` as CI runs it for a pushed `tag`.
    fn verify_in_ci(repo: &PackageRepo, tag: &str) -> (i32, String) {
        let output = repo
            .chuks_ci()
            .env("GITHUB_REF", format!("refs/tags/{tag}"))
            .arg("verify-tag")
            .output()
            .unwrap();
        (output.status.code().unwrap(), outputs(&output).1)
    }

    fn repo_at(version: &str) -> PackageRepo {
        let repo = PackageRepo::new("di", version);
        repo.identify();
        repo
    }

    #[test]
    fn an_older_tag_is_answered_with_a_tag_at_the_manifest_version_not_a_downgrade() {
        let repo = repo_at("1.2.0");
        repo.tag("v1.0.1");
        let (code, stderr) = verify_in_ci(&repo, "v1.0.1");
        assert_eq!(code, 1, "{stderr}");
        assert!(!stderr.contains("bump"), "{stderr}");
        run(&repo, &named(&stderr, "git tag v1.2.0"));
        assert_eq!(verify_human(&repo, &["--tag", "v1.2.0"]).0, 0);
    }

    #[test]
    fn a_newer_tag_is_answered_with_a_bump_that_moves_the_tag() {
        let repo = repo_at("1.2.0");
        repo.tag("v1.3.0");
        let (code, stderr) = verify_in_ci(&repo, "v1.3.0");
        assert_eq!(code, 1, "{stderr}");
        run(&repo, &named(&stderr, "chuks-ci bump 1.3.0"));
        let (code, stderr) = verify_in_ci(&repo, "v1.3.0");
        assert_eq!(code, 0, "{stderr}");
    }

    /// `di` at 0.1.4 with `v0.1.4` on an earlier commit: `git tag v0.1.4` would fail.
    fn version_tag_on_an_earlier_commit() -> PackageRepo {
        let repo = repo_at("0.1.4");
        repo.tag("v0.1.4");
        repo.write("src/more.chuks", "export const more = 1\n");
        repo.commit("more");
        repo
    }

    #[test]
    fn a_taken_tag_is_answered_with_a_checkout_or_a_new_version() {
        let (code, _, stderr) = verify_human(&version_tag_on_an_earlier_commit(), &[]);
        assert_eq!(code, 2, "{stderr}");
        assert!(!stderr.contains("`git tag v0.1.4`"), "{stderr}");
        for start in ["git checkout v0.1.4", "chuks-ci bump patch"] {
            let repo = version_tag_on_an_earlier_commit();
            run(&repo, &named(&stderr, start));
            let (code, _, stderr) = verify_human(&repo, &[]);
            assert_eq!(code, 0, "after `{start}`: {stderr}");
        }
    }

    #[test]
    fn an_older_tag_whose_fix_is_taken_is_answered_the_same_way() {
        let repo = version_tag_on_an_earlier_commit();
        repo.tag("v0.1.3");
        let (code, stderr) = verify_in_ci(&repo, "v0.1.3");
        assert_eq!(code, 1, "{stderr}");
        run(&repo, &named(&stderr, "chuks-ci bump patch"));
        assert_eq!(verify_human(&repo, &[]).0, 0);
    }

    #[test]
    fn stray_release_tags_at_head_are_named_and_their_deletion_works() {
        let repo = repo_at("1.0.0");
        repo.push();
        repo.tag("v1.0.0");
        for patch in 1..=9 {
            repo.tag(&format!("v1.0.{patch}"));
        }
        repo.tag("nightly");
        let (code, _, stderr) = verify_human(&repo, &[]);
        assert_eq!(code, 0, "{stderr}");
        assert_contains(&stderr, "`v1.0.1`, `v1.0.2`");
        assert!(!stderr.contains("nightly"), "{stderr}");
        run(&repo, &named(&stderr, "git tag -d"));
        let (code, _, stderr) = verify_human(&repo, &[]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
    }
}
