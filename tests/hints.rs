//! Every hint of `bump` and the pre-push hook that names a command, followed: the state is
//! made, the refusal read, and each command the hint names is run as a person would run it (in
//! a shell, in the repository), and must succeed.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BareRemote, PackageRepo, assert_contains, git_in, outputs};

/// `chuks-ci ARGS` in the repository: (exit code, stderr).
fn chuks_ci(repo: &PackageRepo, args: &[&str]) -> (i32, String) {
    let output = repo.chuks_ci().args(args).output().unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code().unwrap(), format!("{stdout}{stderr}"))
}

/// `chuks-ci ARGS`, which must be refused with exit `code`: its output.
#[track_caller]
fn refusal(repo: &PackageRepo, args: &[&str], code: i32) -> String {
    let (exit, output) = chuks_ci(repo, args);
    assert_eq!(exit, code, "{output}");
    output
}

/// The commands the last `hint:` line names: its backticked spans starting with `prefix`.
fn hinted(output: &str, prefix: &str) -> Vec<String> {
    let hint = output
        .lines()
        .rfind(|line| line.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint in:\n{output}"));
    hint.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// The one command the hint names that starts with `prefix`.
fn the_hinted(output: &str, prefix: &str) -> String {
    match hinted(output, prefix).as_slice() {
        [command] => command.clone(),
        other => panic!("expected one `{prefix}…` in the hint, found {other:?}:\n{output}"),
    }
}

/// Runs `command` in a shell in `dir` as the tests' chuks-ci runs there: the chuks-ci under
/// test first on PATH (and nothing else with `only_chuks_ci`), HOME in `.git`, no user or
/// system git config. (succeeded, output)
fn shell(dir: &Path, command: &str, only_chuks_ci: bool) -> (bool, String) {
    let binary = assert_cmd::cargo::cargo_bin("chuks-ci");
    let mut search = std::ffi::OsString::from(binary.parent().unwrap());
    if !only_chuks_ci {
        search.push(":");
        search.push(std::env::var_os("PATH").unwrap_or_default());
    }
    let output = Command::new("/bin/sh")
        .args(["-c", command])
        .current_dir(dir)
        .env_clear()
        .env("PATH", search)
        .env("HOME", dir.join(".git"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.success(), format!("{stdout}{stderr}"))
}

/// [`shell`], which must succeed.
fn run_in(dir: &Path, command: &str, only_chuks_ci: bool) -> String {
    let (succeeded, output) = shell(dir, command, only_chuks_ci);
    assert!(succeeded, "`{command}` failed:\n{output}");
    output
}

fn run(repo: &PackageRepo, command: &str) -> String {
    run_in(repo.path(), command, false)
}

/// A committed package at `version` with an identity for chuks-ci's git.
fn package(version: &str) -> PackageRepo {
    let repo = PackageRepo::new("di", version);
    repo.identify();
    repo
}

/// [`package`], pushed to a bare remote as `origin`.
fn tracked(version: &str) -> (PackageRepo, BareRemote) {
    let remote = BareRemote::new();
    let repo = package(version);
    repo.track(&remote);
    (repo, remote)
}

fn version_in(repo: &PackageRepo, manifest: &str) -> String {
    let text = std::fs::read_to_string(repo.path().join(manifest)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["version"].as_str().unwrap().to_string()
}

fn remote_tags(remote: &BareRemote) -> String {
    git_in(remote.path(), &["tag"])
}

#[cfg(unix)]
fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_version_that_does_not_move_forward_names_one_that_does() {
    // di's history: tags v1.0.1 and v1.0.2 made by mistake on the commit that says 1.0.0.
    let repo = package("1.0.0");
    repo.tag("v1.0.1");
    repo.tag("v1.0.2");
    for backwards in ["1.0.0", "0.9.0"] {
        let output = refusal(&repo, &["bump", backwards], 2);
        assert_contains(
            &output,
            "does not move forward from the current version `1.0.0`",
        );
        assert_eq!(the_hinted(&output, "chuks-ci "), "chuks-ci bump 1.0.3");
    }
    run(&repo, "chuks-ci bump 1.0.3");
    assert_eq!(version_in(&repo, "chuks.json"), "1.0.3");

    // The suggestion keeps what else was asked: the package, and only rewriting it.
    let repo = package("0.1.0");
    let manifest = "packages/di/chuks.json";
    repo.write(manifest, &common::manifest_json("di", "2.0.0"));
    let output = refusal(
        &repo,
        &["bump", "2.0.0", "--manifest", manifest, "--no-commit"],
        2,
    );
    let suggested = the_hinted(&output, "chuks-ci ");
    assert_eq!(
        suggested,
        "chuks-ci bump 2.0.1 --manifest packages/di/chuks.json --no-commit"
    );
    run(&repo, &suggested);
    assert_eq!(version_in(&repo, manifest), "2.0.1");
    assert_eq!(version_in(&repo, "chuks.json"), "0.1.0");
}

#[test]
fn a_taken_tag_names_a_free_version_here_and_on_the_remote() {
    // v1.2.4 was made here and never pushed; the remote already has v1.2.5.
    let (repo, remote) = tracked("1.2.3");
    repo.tag("v1.2.4");
    repo.tag("v1.2.5");
    repo.git(&["push", "-q", "origin", "v1.2.5"]);
    repo.git(&["tag", "-d", "v1.2.5"]);
    let output = refusal(&repo, &["bump", "patch", "--push"], 1);
    assert_contains(&output, "tag `v1.2.4` already exists in this repository");
    assert_eq!(
        hinted(&output, ""),
        [
            "chuks-ci bump 1.2.6 --push",
            "v1.2.4",
            "git tag -d v1.2.4",
            "bump"
        ]
    );
    run(&repo, "chuks-ci bump 1.2.6 --push");
    assert_eq!(remote_tags(&remote), "v1.2.5\nv1.2.6\n");

    // Or the stale tag goes, and the same command runs again.
    let (repo, remote) = tracked("1.2.3");
    repo.tag("v1.2.4");
    let (_, output) = chuks_ci(&repo, &["bump", "patch", "--push"]);
    run(&repo, &the_hinted(&output, "git "));
    run(&repo, "chuks-ci bump patch --push");
    assert_eq!(remote_tags(&remote), "v1.2.4\n");

    // Only on the remote.
    let (repo, remote) = tracked("1.2.3");
    repo.tag("v1.2.4");
    repo.git(&["push", "-q", "origin", "v1.2.4"]);
    repo.git(&["tag", "-d", "v1.2.4"]);
    let output = refusal(&repo, &["bump", "patch", "--push"], 1);
    assert_contains(&output, "tag `v1.2.4` already exists on `origin`");
    run(&repo, &the_hinted(&output, "chuks-ci "));
    assert_eq!(remote_tags(&remote), "v1.2.4\nv1.2.5\n");
}

#[test]
fn a_dirty_tree_is_stashed_as_the_hint_says() {
    let repo = package("1.2.3");
    repo.write("src/index.chuks", "// work in progress\n");
    let output = refusal(&repo, &["bump", "patch"], 1);
    run(&repo, &the_hinted(&output, "git "));
    run(&repo, "chuks-ci bump patch");
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.4");
}

#[test]
fn a_detached_head_switches_back_or_releases_without_pushing() {
    for follow in ["git ", "chuks-ci "] {
        let (repo, remote) = tracked("1.2.3");
        repo.git(&["checkout", "-q", "--detach"]);
        let output = refusal(&repo, &["bump", "patch", "--push"], 1);
        assert_contains(&output, "HEAD is detached");
        let command = the_hinted(&output, follow);
        run(&repo, &command);
        match follow {
            "git " => {
                assert_eq!(command, "git switch main");
                run(&repo, "chuks-ci bump patch --push");
                assert_eq!(remote_tags(&remote), "v1.2.4\n");
            }
            _ => {
                assert_eq!(command, "chuks-ci bump patch");
                assert_eq!(repo.git(&["tag"]), "v1.2.4\n");
            }
        }
    }
}

#[test]
fn a_missing_remote_names_one_that_exists_or_releases_without_pushing() {
    let (repo, remote) = tracked("1.2.3");
    let output = refusal(
        &repo,
        &["bump", "patch", "--push", "--remote", "elsewhere"],
        1,
    );
    let command = the_hinted(&output, "chuks-ci ");
    assert_eq!(command, "chuks-ci bump patch --push --remote origin");
    run(&repo, &command);
    assert_eq!(remote_tags(&remote), "v1.2.4\n");

    let repo = package("1.2.3");
    let output = refusal(&repo, &["bump", "patch", "--push"], 1);
    assert_contains(&output, "add the remote with `git remote add origin URL`");
    run(&repo, &the_hinted(&output, "chuks-ci "));
    assert_eq!(repo.git(&["tag"]), "v1.2.4\n");
}

#[test]
fn an_unreachable_remote_is_looked_at_or_released_without_pushing() {
    let repo = package("1.2.3");
    repo.git(&["remote", "add", "origin", "/nonexistent/remote.git"]);
    let output = refusal(&repo, &["bump", "patch", "--push"], 1);
    assert_contains(&output, "could not check tags on `origin`");
    let url = run(&repo, &the_hinted(&output, "git "));
    assert_contains(&url, "/nonexistent/remote.git");
    let released = run(&repo, &the_hinted(&output, "chuks-ci "));
    assert_contains(&released, "warning: could not check whether `origin`");
    assert_eq!(repo.git(&["tag"]), "v1.2.4\n");
}

#[test]
fn without_git_or_a_repository_only_rewriting_works() {
    // No git on PATH.
    let repo = package("1.2.3");
    let binary = assert_cmd::cargo::cargo_bin("chuks-ci");
    let no_git = binary.parent().unwrap();
    let output = repo
        .chuks_ci()
        .env("PATH", no_git)
        .args(["bump", "patch"])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let command = the_hinted(&stderr, "chuks-ci ");
    assert_eq!(command, "chuks-ci bump patch --no-commit");
    run_in(repo.path(), &command, true);
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.4");

    // Not a repository: rewrite only, or `git init` and commit first.
    let folder = tempfile::TempDir::new().unwrap();
    std::fs::create_dir(folder.path().join(".git-home")).unwrap();
    std::fs::write(
        folder.path().join("chuks.json"),
        common::manifest_json("di", "1.2.3"),
    )
    .unwrap();
    let output = common::chuks_ci(&folder.path().join(".git-home"))
        .current_dir(folder.path())
        .args(["bump", "patch"])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_contains(&stderr, "run `git init` and commit the package first");
    run_in(folder.path(), &the_hinted(&stderr, "chuks-ci "), false);
    run_in(
        folder.path(),
        "git init -q && git add -A && git -c user.name=T -c user.email=t@example.invalid commit -qm first && git config user.name T && git config user.email t@example.invalid",
        false,
    );
    run_in(folder.path(), "chuks-ci bump patch", false);

    // A manifest git would not stage.
    let repo = package("1.2.3");
    repo.write(".gitignore", "vendor/\n");
    repo.commit("ignore vendor");
    repo.write("vendor/x/chuks.json", &common::manifest_json("x", "0.1.0"));
    let output = refusal(
        &repo,
        &["bump", "patch", "--manifest", "vendor/x/chuks.json"],
        1,
    );
    assert_contains(&output, "git would not stage `vendor/x/chuks.json`");
    run(&repo, &the_hinted(&output, "chuks-ci "));
    assert_eq!(version_in(&repo, "vendor/x/chuks.json"), "0.1.1");
}

#[cfg(unix)]
#[test]
fn a_failed_step_is_run_again_finished_or_undone_as_the_hint_says() {
    // The commit fails: chuks.json is put back and the same command runs again.
    let repo = package("1.2.3");
    let pre_commit = repo.path().join(".git/hooks/pre-commit");
    executable(&pre_commit, "#!/bin/sh\nexit 1\n");
    let output = refusal(&repo, &["bump", "patch"], 1);
    assert_contains(
        &output,
        "chuks.json is back to `1.2.3`; fix the cause and run",
    );
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.3");
    std::fs::remove_file(&pre_commit).unwrap();
    run(&repo, &the_hinted(&output, "chuks-ci "));
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.4");

    // The push fails after the commit and the tag: finish it, or undo and run `bump` again.
    for follow in ["finish", "undo"] {
        let (repo, remote) = tracked("1.2.3");
        let before = repo.head();
        let pre_push = repo.path().join(".git/hooks/pre-push");
        executable(&pre_push, "#!/bin/sh\nexit 1\n");
        let output = refusal(&repo, &["bump", "patch", "--push"], 1);
        std::fs::remove_file(&pre_push).unwrap();
        let [finish, undo] = hinted(&output, "git ").try_into().unwrap();
        assert_eq!(
            finish,
            "git push --atomic origin HEAD:refs/heads/main refs/tags/v1.2.4"
        );
        assert_eq!(undo, "git tag -d v1.2.4 && git reset --keep HEAD~1");
        match follow {
            "finish" => run(&repo, &finish),
            _ => {
                run(&repo, &undo);
                assert_eq!(repo.head(), before);
                assert_eq!(repo.git(&["status", "--porcelain"]), "");
                run(&repo, "chuks-ci bump patch --push")
            }
        };
        assert_eq!(remote_tags(&remote), "v1.2.4\n", "{follow}");
    }
}

#[test]
fn a_missing_identity_is_set_as_the_hint_says() {
    let repo = PackageRepo::new("di", "1.2.3");
    repo.git(&["config", "user.useConfigOnly", "true"]);
    let output = refusal(&repo, &["bump", "patch"], 1);
    let commands = hinted(&output, "");
    assert_eq!(
        commands,
        [
            "1.2.3",
            "git config --global user.name \"Your Name\"",
            "git config --global user.email you@example.com",
            "chuks-ci bump patch"
        ]
    );
    for command in &commands[1..] {
        run(&repo, command);
    }
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.4");
}

#[cfg(unix)]
#[test]
fn a_checkout_git_does_not_trust_is_marked_safe_as_the_hint_says() {
    use std::os::unix::fs::MetadataExt;
    let repo = package("1.2.3");
    // Only root can give the checkout to another owner.
    if std::fs::metadata(repo.path().join("chuks.json"))
        .unwrap()
        .uid()
        != 0
    {
        common::skip("giving the checkout to another owner needs root (CI runs as root)");
        return;
    }
    let status = Command::new("chown")
        .args(["-R", "nobody"])
        .arg(repo.path())
        .status();
    if !status.is_ok_and(|status| status.success()) {
        common::skip("`chown` could not give the checkout to `nobody`");
        return;
    }
    let output = refusal(&repo, &["bump", "patch"], 2);
    assert_contains(&output, "dubious ownership");
    run(&repo, &the_hinted(&output, "git "));
    run(&repo, "chuks-ci bump patch");
    let manifest = std::fs::read_to_string(repo.manifest()).unwrap();
    assert_contains(&manifest, "\"version\": \"1.2.4\"");
}

#[test]
fn option_hints_name_values_that_work() {
    let repo = package("1.2.3");
    let output = refusal(&repo, &["bump", "prerelease", "--preid", "1"], 2);
    assert_contains(&output, "e.g. `--preid rc`");
    run(&repo, "chuks-ci bump prerelease --preid rc");
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.4-rc.0");

    let output = refusal(&repo, &["bump", "patch", "--message", "\u{1}"], 2);
    assert_contains(&output, "e.g. `--message \"Release {name} {version}\"`");
    run(
        &repo,
        "chuks-ci bump patch --message \"Release {name} {version}\"",
    );
    assert_eq!(version_in(&repo, "chuks.json"), "1.2.4");
}

/// A package pushed to `origin` with the hook installed.
fn guarded(version: &str) -> (PackageRepo, BareRemote) {
    let (repo, remote) = tracked(version);
    run(&repo, "chuks-ci hook install");
    (repo, remote)
}

/// `git push ARGS` through the hook: (succeeded, output).
fn push(repo: &PackageRepo, args: &str) -> (bool, String) {
    shell(repo.path(), &format!("git push {args}"), false)
}

#[cfg(unix)]
#[test]
fn a_foreign_hook_is_replaced_or_calls_the_check_itself() {
    let repo = package("1.0.0");
    let hook = repo.path().join(".git/hooks/pre-push");
    executable(&hook, "#!/bin/sh\ntrue\n");
    let output = refusal(&repo, &["hook", "install"], 2);
    let [again, call] = hinted(&output, "chuks-ci ").try_into().unwrap();
    assert_eq!(again, "chuks-ci hook install");
    assert_eq!(call, "chuks-ci hook pre-push \"$@\"");
    run(&repo, "chuks-ci hook install --force");

    // The user's own hook calls the check, passing its stdin through.
    let (repo, remote) = tracked("1.0.0");
    executable(
        &repo.path().join(".git/hooks/pre-push"),
        &format!("#!/bin/sh\ntrue\n{call}\n"),
    );
    repo.tag("v1.0.1");
    let (pushed, output) = push(&repo, "origin v1.0.1");
    assert!(!pushed, "{output}");
    assert_contains(&output, "tag `v1.0.1` is version `1.0.1`");
    repo.git(&["tag", "-d", "v1.0.1"]);
    repo.tag("v1.0.0");
    let (pushed, output) = push(&repo, "origin v1.0.0");
    assert!(pushed, "{output}");
    assert_eq!(remote_tags(&remote), "v1.0.0\n");
}

#[test]
fn hook_install_without_git_says_to_install_it_and_run_again() {
    let repo = package("1.0.0");
    let binary = assert_cmd::cargo::cargo_bin("chuks-ci");
    let output = repo
        .chuks_ci()
        .env("PATH", binary.parent().unwrap())
        .args(["hook", "install"])
        .output()
        .unwrap();
    let (_, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_contains(&stderr, "`git` was not found on PATH");
    run(&repo, &the_hinted(&stderr, "chuks-ci "));
}

#[test]
fn refused_tags_are_pushed_as_the_hint_says() {
    // A tag on a commit no branch of the remote has: push it with its branch.
    let (repo, remote) = guarded("1.0.0");
    repo.write("chuks.json", &common::manifest_json("di", "1.1.0"));
    repo.commit("1.1.0");
    repo.tag("v1.1.0");
    let (pushed, output) = push(&repo, "origin v1.1.0");
    assert!(!pushed, "{output}");
    run(&repo, &the_hinted(&output, "git push"));
    assert_eq!(remote_tags(&remote), "v1.1.0\n");

    // A package tag no chuks.json names, when it is not a Chuks release.
    repo.tag("docs@1.0.0");
    let (pushed, output) = push(&repo, "origin docs@1.0.0");
    assert!(!pushed, "{output}");
    run(&repo, &the_hinted(&output, "git push"));
    assert_eq!(remote_tags(&remote), "docs@1.0.0\nv1.1.0\n");

    // A release tag on a commit without chuks.json.
    repo.git(&["rm", "-q", "chuks.json"]);
    repo.commit("no manifest");
    repo.git(&["push", "-q", "--no-verify", "origin", "main"]);
    repo.tag("v2.0.0");
    let (pushed, output) = push(&repo, "origin v2.0.0");
    assert!(!pushed, "{output}");
    run(&repo, &the_hinted(&output, "git push"));
    assert_contains(&remote_tags(&remote), "v2.0.0\n");
}

#[test]
fn a_hook_for_the_wrong_package_is_installed_for_the_right_one() {
    // The package lives in a subfolder, and the hook was installed for the root.
    let remote = BareRemote::new();
    let repo = PackageRepo::uncommitted(&common::manifest_json("di", "2.0.0"));
    std::fs::create_dir_all(repo.path().join("packages/di")).unwrap();
    std::fs::rename(repo.manifest(), repo.path().join("packages/di/chuks.json")).unwrap();
    repo.commit("the package, in a subfolder");
    repo.track(&remote);
    run(&repo, "chuks-ci hook install");
    repo.tag("v2.0.0");
    let (pushed, output) = push(&repo, "origin v2.0.0");
    assert!(!pushed, "{output}");
    assert_contains(&output, "(it has `packages/di/chuks.json`)");
    let install = the_hinted(&output, "chuks-ci ");
    assert_eq!(
        install,
        "chuks-ci hook install --manifest packages/di/chuks.json"
    );
    run(&repo, &install);
    let (pushed, output) = push(&repo, "origin v2.0.0");
    assert!(pushed, "{output}");
    assert_eq!(remote_tags(&remote), "v2.0.0\n");
}
