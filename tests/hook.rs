//! `chuks-ci hook install` and the pre-push guard, driven through real `git push`es to a bare
//! remote: the `di` mistake, matching and several tags, branch pushes, monorepo packages.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use common::{BareRemote, PackageRepo, git_output, outputs};

/// A package at `version` pushed to a bare remote, with the hook installed.
fn guarded(name: &str, version: &str) -> (PackageRepo, BareRemote) {
    let remote = BareRemote::new();
    let repo = PackageRepo::new(name, version);
    repo.track(&remote);
    install(&repo, &[]);
    (repo, remote)
}

fn install(repo: &PackageRepo, args: &[&str]) -> (i32, String, String) {
    let output = repo
        .chuks_ci()
        .args(["hook", "install"])
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code().unwrap(), stdout, stderr)
}

/// `git push ARGS`: (succeeded, stderr).
fn push(repo: &PackageRepo, args: &[&str]) -> (bool, String) {
    let mut all = vec!["push"];
    all.extend(args);
    let output = git_output(repo.path(), &all);
    (output.status.success(), outputs(&output).1)
}

fn remote_tags(remote: &BareRemote) -> Vec<String> {
    common::git_in(remote.path(), &["tag"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_di_mistake_is_refused_with_the_verify_tag_message() {
    let (repo, remote) = guarded("di", "1.0.0");
    // The work tree already says 1.0.1, but the tagged commit does not.
    repo.write("chuks.json", &common::manifest_json("di", "1.0.1"));
    repo.tag("v1.0.1");
    let (pushed, stderr) = push(&repo, &["origin", "v1.0.1"]);
    assert!(!pushed, "{stderr}");
    assert_contains(
        &stderr,
        "error: tag `v1.0.1` is version `1.0.1`, but chuks.json has `1.0.0`",
    );
    assert_contains(
        &stderr,
        "hint: set `version` in chuks.json to `1.0.1` and move the tag onto that commit",
    );
    assert!(remote_tags(&remote).is_empty());

    // verify-tag, on the tagged commit's chuks.json, says the same (the work tree would have
    // fooled it: checking the commit is the point of the hook).
    repo.git(&["checkout", "--", "chuks.json"]);
    let output = repo
        .chuks_ci()
        .args(["verify-tag", "--tag", "v1.0.1"])
        .output()
        .unwrap();
    let verify_stderr = outputs(&output).1;
    assert_contains(&stderr, &verify_stderr);
}

#[test]
fn a_matching_tag_goes_through_and_branch_pushes_are_not_checked() {
    let (repo, remote) = guarded("di", "1.0.0");
    repo.annotated_tag("v1.0.0");
    let (pushed, stderr) = push(&repo, &["origin", "v1.0.0"]);
    assert!(pushed, "{stderr}");
    assert_contains(&stderr, "pre-push: tag `v1.0.0` matches di 1.0.0");
    assert_eq!(remote_tags(&remote), ["v1.0.0"]);

    // A branch whose chuks.json is broken is not the hook's business.
    repo.write("chuks.json", "{ not json");
    repo.commit("broken manifest");
    let (pushed, stderr) = push(&repo, &["origin", "main"]);
    assert!(pushed, "{stderr}");
    // Nor are tags that are not releases, or deleting a release tag.
    repo.tag("nightly");
    let (pushed, stderr) = push(&repo, &["origin", "nightly", ":v1.0.0"]);
    assert!(pushed, "{stderr}");
    assert_eq!(remote_tags(&remote), ["nightly"]);
    // A version-like tag of a tree has no commit to check, and does not upset the others.
    repo.git(&["tag", "v9.0.0", "HEAD^{tree}"]);
    repo.tag("v1.0.5");
    let (pushed, stderr) = push(&repo, &["origin", "v9.0.0", "v1.0.5"]);
    assert!(!pushed, "{stderr}");
    assert_contains(&stderr, "`chuks.json` is not valid JSON");
    assert_contains(&stderr, "push refused for `v1.0.5`");
    assert!(!stderr.contains("v9.0.0"), "{stderr}");
}

#[test]
fn every_tag_of_a_push_is_checked() {
    let (repo, remote) = guarded("di", "1.0.0");
    repo.tag("v1.0.0");
    repo.write("chuks.json", &common::manifest_json("di", "1.1.0"));
    repo.commit("1.1.0");
    repo.annotated_tag("v1.1.0");
    repo.tag("v1.2.0");
    let (pushed, stderr) = push(&repo, &["--atomic", "origin", "main", "--tags"]);
    assert!(!pushed, "{stderr}");
    assert_contains(
        &stderr,
        "tag `v1.2.0` is version `1.2.0`, but chuks.json has `1.1.0`",
    );
    assert!(!stderr.contains("tag `v1.0.0` is version"), "{stderr}");
    assert_contains(&stderr, "push refused for `v1.2.0` (");
    assert!(
        remote_tags(&remote).is_empty(),
        "git refuses the whole push"
    );

    repo.git(&["tag", "-d", "v1.2.0"]);
    let (pushed, stderr) = push(&repo, &["--atomic", "origin", "main", "--tags"]);
    assert!(pushed, "{stderr}");
    assert!(
        stderr.contains("`v1.0.0` matches") && stderr.contains("`v1.1.0` matches"),
        "{stderr}"
    );
    assert_eq!(remote_tags(&remote), ["v1.0.0", "v1.1.0"]);
}

#[test]
fn a_tag_on_no_remote_branch_is_refused_unless_its_branch_comes_along() {
    let (repo, remote) = guarded("di", "1.0.0");
    repo.write("chuks.json", &common::manifest_json("di", "1.1.0"));
    repo.commit("1.1.0, not pushed");
    repo.annotated_tag("v1.1.0");
    let (pushed, stderr) = push(&repo, &["origin", "v1.1.0"]);
    assert!(!pushed, "{stderr}");
    assert_contains(&stderr, "which is on no branch of `origin`");
    assert_contains(&stderr, "`git push --atomic origin main refs/tags/v1.1.0`");
    assert!(remote_tags(&remote).is_empty());

    let (pushed, stderr) = push(&repo, &["--atomic", "origin", "main", "v1.1.0"]);
    assert!(pushed, "{stderr}");
    assert_eq!(remote_tags(&remote), ["v1.1.0"]);
}

#[test]
fn a_monorepo_tag_is_checked_against_its_own_package() {
    let remote = BareRemote::new();
    let repo = PackageRepo::uncommitted(&common::manifest_json("tools", "0.1.0"));
    repo.write(
        "packages/numpy/chuks.json",
        &common::manifest_json("@chuks/numpy", "1.2.0"),
    );
    repo.write(
        "packages/di/chuks.json",
        &common::manifest_json("di", "2.0.0"),
    );
    repo.commit("three packages");
    repo.track(&remote);
    install(&repo, &[]);

    for good in ["@chuks/numpy@1.2.0", "di/v2.0.0", "v0.1.0"] {
        repo.tag(good);
        let (pushed, stderr) = push(&repo, &["origin", good]);
        assert!(pushed, "{good}: {stderr}");
    }
    repo.tag("@chuks/numpy@0.1.0");
    let (pushed, stderr) = push(&repo, &["origin", "@chuks/numpy@0.1.0"]);
    assert!(!pushed, "{stderr}");
    assert_contains(
        &stderr,
        "tag `@chuks/numpy@0.1.0` is version `0.1.0`, but chuks.json has `1.2.0`",
    );
    assert_contains(&stderr, "--> packages/numpy/chuks.json:3:14");
    repo.tag("missing@1.0.0");
    let (pushed, stderr) = push(&repo, &["origin", "missing@1.0.0"]);
    assert!(!pushed, "{stderr}");
    assert_contains(
        &stderr,
        "tag `missing@1.0.0` is for package `missing`, but no chuks.json",
    );
    assert_contains(&stderr, "`@chuks/numpy`");
    // Installed for a package in a subfolder, plain tags are that package's.
    let (code, stdout, stderr) = install(&repo, &["--manifest", "packages/di/chuks.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    repo.tag("v2.0.0");
    let (pushed, stderr) = push(&repo, &["origin", "v2.0.0"]);
    assert!(pushed, "{stderr}");
    assert_contains(&stderr, "matches di 2.0.0 in packages/di/chuks.json");
    repo.tag("v0.2.0");
    let (pushed, stderr) = push(&repo, &["origin", "v0.2.0"]);
    assert!(!pushed, "{stderr}");
    assert_contains(
        &stderr,
        "tag `v0.2.0` is version `0.2.0`, but chuks.json has `2.0.0`",
    );
    assert_contains(&stderr, "--> packages/di/chuks.json:3:14");
}

/// The pre-push hook's path in `repo`.
fn hook_path(repo: &PackageRepo) -> std::path::PathBuf {
    repo.path().join(".git/hooks/pre-push")
}

#[test]
fn a_hook_that_only_carries_the_marker_is_not_ours() {
    let repo = PackageRepo::new("di", "1.0.0");
    let theirs = format!("#!/bin/sh\n{}\n./my-own-checks \"$@\"\n", chuks_ci_marker());
    let hook = hook_path(&repo);
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, &theirs).unwrap();
    let (code, stdout, stderr) = install(&repo, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_contains(&stderr, "is a pre-push hook that chuks-ci did not write");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);

    // Ours with a line added is theirs too.
    let (code, _, _) = install(&repo, &["--force"]);
    assert_eq!(code, 0);
    let mut ours = std::fs::read_to_string(&hook).unwrap();
    ours.push_str("./my-own-checks\n");
    std::fs::write(&hook, &ours).unwrap();
    let (code, stdout, stderr) = install(&repo, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), ours);
}

#[cfg(unix)]
#[test]
fn force_replaces_a_symlinked_hook_and_leaves_its_target_alone() {
    let repo = PackageRepo::new("di", "1.0.0");
    // husky's layout: the hook is a link to a script the repository tracks.
    let tracked = "#!/bin/sh\nnpm test\n";
    repo.write(".husky/pre-push", tracked);
    repo.commit("husky");
    let hook = hook_path(&repo);
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("../../.husky/pre-push", &hook).unwrap();

    let (code, stdout, stderr) = install(&repo, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_contains(&stderr, "is a symbolic link to `../../.husky/pre-push`");
    assert!(std::fs::symlink_metadata(&hook).unwrap().is_symlink());

    let (code, stdout, stderr) = install(&repo, &["--force"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join(".husky/pre-push")).unwrap(),
        tracked,
        "written through the link"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(stdout.starts_with("replaced the pre-push hook"), "{stdout}");
    assert!(std::fs::symlink_metadata(&hook).unwrap().is_file());
    assert_contains(&std::fs::read_to_string(&hook).unwrap(), chuks_ci_marker());
}

#[test]
fn a_release_tag_on_a_commit_without_chuks_json_is_refused() {
    let (repo, remote) = guarded("di", "1.0.0");
    repo.git(&["rm", "-q", "chuks.json"]);
    repo.commit("no manifest");
    repo.tag("v1.0.1");
    let (pushed, stderr) = push(&repo, &["--atomic", "origin", "main", "v1.0.1"]);
    assert!(!pushed, "{stderr}");
    assert_contains(&stderr, "error: tag `v1.0.1` is a release tag, but commit ");
    assert_contains(&stderr, "has no `chuks.json` to check its version against");
    assert_contains(
        &stderr,
        "push it without the check: `git push --no-verify origin refs/tags/v1.0.1`",
    );
    assert!(remote_tags(&remote).is_empty());
}

#[test]
fn install_never_overwrites_a_foreign_hook_without_force() {
    let repo = PackageRepo::new("di", "1.0.0");
    let hook = repo.path().join(".git/hooks/pre-push");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, "#!/bin/sh\nexec ./my-own-checks\n").unwrap();
    let (code, stdout, stderr) = install(&repo, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("chuks-ci did not write") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\nexec ./my-own-checks\n"
    );

    let (code, stdout, _) = install(&repo, &["--force"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("replaced the pre-push hook"), "{stdout}");
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains(chuks_ci_marker())
    );
    // Its own hook it rewrites freely.
    let (code, stdout, _) = install(&repo, &[]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("updated the pre-push hook"), "{stdout}");
}

fn chuks_ci_marker() -> &'static str {
    "# chuks-ci-hook: pre-push"
}

#[test]
fn the_hook_falls_back_to_chuks_ci_on_path() {
    let (repo, remote) = guarded("di", "1.0.0");
    let hook = repo.path().join(".git/hooks/pre-push");
    let script = std::fs::read_to_string(&hook).unwrap();
    let moved = script
        .lines()
        .map(|line| match line.starts_with("installed=") {
            true => "installed=/nowhere/chuks-ci".to_string(),
            false => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&hook, moved).unwrap();
    repo.tag("v1.0.1");
    let (pushed, stderr) = push(&repo, &["origin", "v1.0.1"]);
    assert!(!pushed, "{stderr}");
    assert_contains(&stderr, "tag `v1.0.1` is version `1.0.1`");
    assert!(remote_tags(&remote).is_empty());
}

#[test]
fn bump_push_passes_its_own_hook() {
    let (repo, remote) = guarded("di", "1.0.0");
    repo.identify();
    let output = repo
        .chuks_ci()
        .args(["bump", "patch", "--push"])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(remote_tags(&remote), ["v1.0.1"]);
}
