//! `chuks-ci bump` against real git repositories with a bare remote: byte-exact rewrites, the
//! release commit and tag, refusals, `--push`, `--dry-run`, signing, and the release end to end.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use common::{BareRemote, PackageRepo, git_in, outputs};
use serde_json::Value;

/// A committed package whose chuks.json is `manifest`, with an identity for chuks-ci's git.
fn repo_with(manifest: &str) -> PackageRepo {
    let repo = PackageRepo::uncommitted(manifest);
    repo.write(
        "src/index.chuks",
        "export function answer(): int { return 42 }\n",
    );
    repo.commit("initial commit");
    repo.identify();
    repo
}

/// `chuks-ci bump ARGS` in the repository: (exit code, stdout, stderr).
fn bump(repo: &PackageRepo, args: &[&str]) -> (i32, String, String) {
    let output = repo.chuks_ci().arg("bump").args(args).output().unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code().unwrap(), stdout, stderr)
}

fn manifest_bytes(repo: &PackageRepo) -> Vec<u8> {
    std::fs::read(repo.manifest()).unwrap()
}

/// Every local ref and what it points at, plus the index and HEAD's tree.
fn repo_state(repo: &PackageRepo) -> String {
    let refs = repo.git(&["for-each-ref", "--format=%(refname) %(objectname)"]);
    let index = repo.git(&["ls-files", "--stage"]);
    format!("{refs}{index}")
}

#[test]
fn formatting_is_preserved_byte_for_byte() {
    let styles = [
        (
            "two spaces",
            "{\n  \"name\": \"di\",\n  \"version\": \"1.2.3\",\n  \"license\": \"MIT\"\n}\n",
        ),
        (
            "four spaces",
            "{\n    \"name\": \"di\",\n    \"version\": \"1.2.3\",\n    \"dependencies\": {\n        \"x\": \"^1.0.0\"\n    }\n}\n",
        ),
        (
            "sorted keys",
            "{\n  \"author\": \"A\",\n  \"dependencies\": {\"version\": \"9.9.9\"},\n  \"entry\": \"src/index.chuks\",\n  \"license\": \"MIT\",\n  \"name\": \"di\",\n  \"version\": \"1.2.3\"\n}\n",
        ),
        (
            "version not second",
            "{\n\t\"description\": \"the \\\"version\\\": \\\"1.2.3\\\" text\",\n\t\"name\": \"di\",\n\t\"keywords\": [\"version\"],\n\t\"version\"  :  \"1.2.3\"\n}\n",
        ),
        (
            "CRLF",
            "{\r\n  \"name\": \"di\",\r\n  \"version\": \"1.2.3\",\r\n  \"license\": \"MIT\"\r\n}\r\n",
        ),
        (
            "BOM",
            "\u{feff}{\n  \"name\": \"di\",\n  \"version\": \"1.2.3\"\n}\n",
        ),
        (
            "no final newline",
            "{\n  \"name\": \"di\",\n  \"version\": \"1.2.3\"\n}",
        ),
        (
            "one line",
            "{\"name\":\"di\",\"version\":\"1.2.3\",\"license\":\"MIT\",\"keywords\":[]}",
        ),
    ];
    for (style, before) in styles {
        let repo = repo_with(before);
        #[cfg(unix)]
        set_mode(&repo.manifest(), 0o640);
        let (code, stdout, stderr) = bump(&repo, &["patch"]);
        assert_eq!(code, 0, "{style}: {stdout}{stderr}");
        let expected = before.replacen("\"1.2.3\"", "\"1.2.4\"", 1);
        let expected = match style {
            // The first `"1.2.3"` in these is elsewhere: the version is the last one.
            "version not second" | "sorted keys" => {
                let at = before.rfind("\"1.2.3\"").unwrap();
                format!("{}\"1.2.4\"{}", &before[..at], &before[at + 7..])
            }
            _ => expected,
        };
        assert_eq!(
            String::from_utf8(manifest_bytes(&repo)).unwrap(),
            expected,
            "{style}"
        );
        // The commit holds exactly those bytes, and only that file changed.
        let committed = repo.git(&["show", "HEAD:chuks.json"]);
        assert_eq!(committed, expected, "{style}");
        let changed = repo.git(&["diff", "--name-only", "HEAD~1", "HEAD"]);
        assert_eq!(changed, "chuks.json\n", "{style}");
        // Replaced atomically, keeping its permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(repo.manifest())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o640, "{style}");
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn one_commit_and_an_annotated_tag_per_release() {
    let repo = repo_with(&common::manifest_json("@chuks/numpy", "1.2.3"));
    let (code, stdout, stderr) = bump(&repo, &["minor"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_contains(&stdout, "bumped @chuks/numpy from 1.2.3 to 1.3.0");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]),
        "Release @chuks/numpy 1.3.0\n"
    );
    assert_eq!(repo.git(&["cat-file", "-t", "v1.3.0"]), "tag\n");
    assert_eq!(
        repo.git(&["rev-parse", "v1.3.0^{commit}"]).trim(),
        repo.head()
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");

    // The steps of a prerelease line, each committed and tagged.
    for (args, version) in [
        (&["prerelease"][..], "1.3.1-rc.0"),
        (&["prerelease"], "1.3.1-rc.1"),
        (&["prerelease", "--preid", "rc"], "1.3.1-rc.2"),
        (&["patch"], "1.3.1"),
        (&["premajor", "--preid", "beta"], "2.0.0-beta.0"),
        (&["major"], "2.0.0"),
        (&["preminor"], "2.1.0-rc.0"),
        (&["prepatch"], "2.1.1-rc.0"),
        (
            &["3.0.0-alpha.1", "--message", "Ship {name} as {tag}"],
            "3.0.0-alpha.1",
        ),
    ] {
        let (code, stdout, stderr) = bump(&repo, args);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
        let head = repo.git(&["show", "HEAD:chuks.json"]);
        assert_contains(&head, &format!("\"version\": \"{version}\""));
        assert_eq!(
            repo.git(&["rev-parse", &format!("v{version}^{{commit}}")])
                .trim(),
            repo.head()
        );
    }
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]),
        "Ship @chuks/numpy as v3.0.0-alpha.1\n"
    );
}

#[test]
fn monorepo_packages_keep_their_tag_form() {
    let repo = PackageRepo::uncommitted(&common::manifest_json("tools", "0.1.0"));
    repo.write(
        "packages/numpy/chuks.json",
        &common::manifest_json("@chuks/numpy", "1.2.0"),
    );
    repo.commit("two packages");
    repo.identify();
    repo.git(&["tag", "@chuks/numpy@1.2.0"]);
    let manifest = "packages/numpy/chuks.json";

    let (code, stdout, stderr) = bump(&repo, &["minor", "--manifest", manifest]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_contains(&stdout, "tagged @chuks/numpy@1.3.0");
    let (code, stdout, stderr) = bump(
        &repo,
        &["patch", "--manifest", manifest, "--tag-form", "slash"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_contains(&stdout, "tagged @chuks/numpy/v1.3.1");
    let (code, stdout, stderr) = bump(
        &repo,
        &["patch", "--manifest", manifest, "--tag-prefix", "numpy-"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_contains(&stdout, "tagged numpy-1.3.2");
    // The root package was left alone.
    assert!(repo.git(&["show", "HEAD:chuks.json"]).contains("\"0.1.0\""));
}

#[test]
fn a_dirty_tree_is_refused_and_nothing_changes() {
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.write("src/index.chuks", "// work in progress\n");
    let before = (manifest_bytes(&repo), repo_state(&repo));
    let (code, stdout, stderr) = bump(&repo, &["patch"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("`src/index.chuks`") && stderr.contains("hint: commit or stash"),
        "{stderr}"
    );
    assert_eq!((manifest_bytes(&repo), repo_state(&repo)), before);

    // Staged changes count too; untracked files and chuks.json's own edits do not.
    repo.git(&["add", "src/index.chuks"]);
    assert_eq!(bump(&repo, &["patch"]).0, 1);
    repo.git(&["reset", "-q", "--hard"]);
    repo.write("notes.txt", "untracked\n");
    let edited = common::manifest_json("di", "1.2.3").replace("MIT", "Apache-2.0");
    repo.write("chuks.json", &edited);
    let (code, stdout, stderr) = bump(&repo, &["patch"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        repo.git(&["show", "HEAD:chuks.json"])
            .contains("Apache-2.0")
    );
}

#[test]
fn an_existing_tag_is_refused_locally_and_on_the_remote() {
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.track(&remote);
    repo.tag("v1.2.4");
    let before = (manifest_bytes(&repo), repo_state(&repo));
    let (code, _, stderr) = bump(&repo, &["patch"]);
    assert_eq!(code, 1, "{stderr}");
    assert_contains(&stderr, "tag `v1.2.4` already exists in this repository");
    assert_contains(
        &stderr,
        "hint: release a version whose tag is free (`chuks-ci bump 1.2.5`)",
    );
    assert_eq!((manifest_bytes(&repo), repo_state(&repo)), before);

    // Only on the remote: pushed, then deleted here.
    repo.git(&["push", "-q", "origin", "v1.2.4"]);
    repo.git(&["tag", "-d", "v1.2.4"]);
    let before = (manifest_bytes(&repo), repo_state(&repo));
    let (code, _, stderr) = bump(&repo, &["patch"]);
    assert_eq!(code, 1, "{stderr}");
    assert_contains(&stderr, "tag `v1.2.4` already exists on `origin`");
    assert_eq!((manifest_bytes(&repo), repo_state(&repo)), before);
    // Another version is fine.
    assert_eq!(bump(&repo, &["minor", "--push"]).0, 0);
}

#[test]
fn versions_that_do_not_move_forward_or_do_not_parse_are_refused() {
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    let before = (manifest_bytes(&repo), repo_state(&repo));
    for (args, message) in [
        (
            &["1.2.3"][..],
            "`1.2.3` does not move forward from the current version `1.2.3`",
        ),
        (
            &["1.0.0"],
            "`1.0.0` does not move forward from the current version `1.2.3`",
        ),
        (&["1.2.3-rc.1"], "from the current version `1.2.3`"),
        (
            &["1.2"],
            "`1.2` is neither a bump level nor a SemVer version",
        ),
        (&["v1.3.0"], "the `v` belongs in the git tag"),
        (&["next"], "is neither a bump level"),
        (
            &["prerelease", "--preid", "1"],
            "`--preid` `1` is not a prerelease identifier",
        ),
    ] {
        let (code, stdout, stderr) = bump(&repo, args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert_contains(&stderr, message);
        assert_contains(&stderr, "hint: ");
    }
    assert_eq!((manifest_bytes(&repo), repo_state(&repo)), before);
}

#[test]
fn push_puts_the_branch_at_the_tagged_commit_and_the_tag_on_the_remote() {
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.track(&remote);
    let (code, stdout, stderr) = bump(&repo, &["patch", "--push"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let head = repo.head();
    assert_eq!(
        remote.refs(),
        format!("refs/heads/main {head}\nrefs/tags/v1.2.4 {head}\n")
    );
    assert_contains(
        &stdout,
        "git push --atomic origin HEAD:refs/heads/main refs/tags/v1.2.4",
    );
    // The remote got the annotated tag itself.
    assert_eq!(
        git_in(remote.path(), &["cat-file", "-t", "v1.2.4"]),
        "tag\n"
    );
}

#[test]
fn push_goes_to_the_upstream_branch_and_needs_a_branch_and_a_remote() {
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.git(&[
        "remote",
        "add",
        "upstream",
        &remote.path().to_string_lossy(),
    ]);
    repo.git(&["push", "-q", "upstream", "main:release"]);
    repo.git(&["branch", "-q", "--set-upstream-to", "upstream/release"]);
    let (code, stdout, stderr) = bump(&repo, &["patch", "--push"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        remote
            .refs()
            .contains(&format!("refs/heads/release {}", repo.head()))
    );

    let (code, _, stderr) = bump(&repo, &["patch", "--push", "--remote", "elsewhere"]);
    assert_eq!(code, 1);
    assert_contains(&stderr, "there is no remote `elsewhere`");
    repo.git(&["checkout", "-q", "--detach"]);
    let (code, _, stderr) = bump(&repo, &["patch", "--push"]);
    assert_eq!(code, 1);
    assert_contains(&stderr, "HEAD is detached");
}

#[test]
fn dry_run_changes_nothing_and_shows_the_diff_and_commands() {
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.track(&remote);
    let before = (manifest_bytes(&repo), repo_state(&repo), remote.refs());
    let (code, stdout, stderr) = bump(&repo, &["patch", "--push", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        (manifest_bytes(&repo), repo_state(&repo), remote.refs()),
        before
    );
    insta::assert_snapshot!(stdout);

    let output = repo
        .chuks_ci()
        .args(["--format", "json", "bump", "premajor", "--dry-run"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["result"], "dry-run");
    assert_eq!(json["to"], "2.0.0-rc.0");
    assert_eq!(json["tag"], "v2.0.0-rc.0");
    assert_eq!(json["pushed"], false);
    assert_eq!(json["commands"].as_array().unwrap().len(), 3);
    assert_eq!(
        (manifest_bytes(&repo), repo_state(&repo), remote.refs()),
        before
    );
}

#[test]
fn no_commit_and_no_tag() {
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    let head = repo.head();
    let (code, stdout, stderr) = bump(&repo, &["minor", "--no-commit"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(repo.head(), head);
    assert_eq!(repo.git(&["status", "--porcelain"]), " M chuks.json\n");
    repo.git(&["checkout", "--", "chuks.json"]);

    let (code, stdout, stderr) = bump(&repo, &["minor", "--no-tag", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["result"], "bumped");
    assert_eq!(json["commit"], repo.head());
    assert_eq!(json["tag"], Value::Null);
    assert_eq!(repo.git(&["tag"]), "");
}

#[test]
fn signing_configured_in_git_is_honoured() {
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    // A stand-in for gpg that signs everything, so the test needs no keys.
    let signer = repo.path().join(".git/fake-gpg");
    std::fs::write(
        &signer,
        "#!/bin/sh\ncat >/dev/null\necho '[GNUPG:] SIG_CREATED ' >&2\nprintf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'\n",
    )
    .unwrap();
    #[cfg(unix)]
    set_mode(&signer, 0o755);
    repo.git(&["config", "gpg.program", &signer.to_string_lossy()]);
    repo.git(&["config", "commit.gpgSign", "true"]);
    repo.git(&["config", "tag.gpgSign", "true"]);
    let (code, stdout, stderr) = bump(&repo, &["patch"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let commit = repo.git(&["cat-file", "commit", "HEAD"]);
    assert_contains(&commit, "gpgsig -----BEGIN PGP SIGNATURE-----");
    let tag = repo.git(&["cat-file", "tag", "v1.2.4"]);
    assert_contains(&tag, "-----BEGIN PGP SIGNATURE-----");
}

#[test]
fn bump_patch_push_in_a_fresh_repository_is_accepted_by_verify_tag_in_ci() {
    // A first commit, and an empty remote: nothing pushed yet, no upstream.
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "0.1.0"));
    let url = remote.path().to_string_lossy().into_owned();
    repo.git(&["remote", "add", "origin", &url]);
    let (code, stdout, stderr) = bump(&repo, &["patch", "--push"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let head = repo.head();
    assert_eq!(
        remote.refs(),
        format!("refs/heads/main {head}\nrefs/tags/v0.1.1 {head}\n")
    );

    // CI: a fresh clone of the remote at the tag, told about the tag the way GitHub does.
    let ci = tempfile::TempDir::new().unwrap();
    git_in(
        ci.path(),
        &["clone", "-q", "--branch", "v0.1.1", &url, "checkout"],
    );
    let checkout = ci.path().join("checkout");
    let output = common::chuks_ci(ci.path())
        .current_dir(&checkout)
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", "refs/tags/v0.1.1")
        .args(["verify-tag"])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert_contains(&stdout, "ok: tag `v0.1.1`");
    // The tagged commit is on a remote branch, as the official CLI requires.
    let branches = git_in(&checkout, &["branch", "-r", "--contains", "v0.1.1"]);
    assert_contains(&branches, "origin/main");
}

#[test]
fn no_token_reaches_the_git_that_commits_tags_and_pushes() {
    let canary = format!("chuks_pk_{}", "bumpcanary0123456789abcdefghijkl");
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.track(&remote);
    // Hooks see the environment git runs with: each writes it down.
    for hook in ["pre-commit", "pre-push"] {
        let record = repo.path().join(format!("{hook}.env"));
        let script = format!(
            "#!/bin/sh\nenv > '{}'\ncat >/dev/null\n",
            record.to_string_lossy()
        );
        let path = repo.path().join(".git/hooks").join(hook);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, script).unwrap();
        #[cfg(unix)]
        set_mode(&path, 0o755);
    }
    let output = repo
        .chuks_ci()
        .env("CHUKS_TOKEN", &canary)
        .env("GITHUB_TOKEN", &canary)
        .env("GH_TOKEN", &canary)
        .env("CI_JOB_TOKEN", &canary)
        .env("SSH_AUTH_SOCK", "/tmp/agent.sock")
        .args(["-vv", "bump", "patch", "--push"])
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    for hook in ["pre-commit", "pre-push"] {
        let env = std::fs::read_to_string(repo.path().join(format!("{hook}.env")))
            .unwrap_or_else(|err| panic!("{hook} did not run: {err}"));
        assert!(!env.contains(&canary), "{hook}: {env}");
        assert!(
            !env.contains("CHUKS_TOKEN") && !env.contains("GH_TOKEN"),
            "{hook}: {env}"
        );
        // What a push legitimately needs does get through.
        if hook == "pre-push" {
            assert_contains(&env, "SSH_AUTH_SOCK=/tmp/agent.sock");
        }
    }
    assert!(!stdout.contains(&canary) && !stderr.contains(&canary));
}

/// A script that records that it ran by creating `marker`, then fails.
#[cfg(unix)]
fn marker_script(path: &std::path::Path, marker: &std::path::Path) {
    std::fs::write(
        path,
        format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.to_string_lossy()),
    )
    .unwrap();
    set_mode(path, 0o755);
}

#[cfg(unix)]
#[test]
fn bump_runs_no_program_the_repository_config_names_but_hooks_and_signing() {
    let remote = BareRemote::new();
    let repo = repo_with(&common::manifest_json("di", "1.2.3"));
    repo.write(".gitattributes", "*.json filter=x\n");
    repo.commit("json through filter x");
    repo.track(&remote);
    let programs = tempfile::TempDir::new().unwrap();
    let markers = tempfile::TempDir::new().unwrap();
    for key in [
        "core.fsmonitor",
        "filter.x.clean",
        "filter.x.smudge",
        "remote.origin.uploadpack",
        "remote.origin.receivepack",
        "core.sshCommand",
        "core.askPass",
        "core.gitProxy",
        "credential.helper",
    ] {
        let script = programs.path().join(key);
        marker_script(&script, &markers.path().join(key));
        let value = match key {
            "credential.helper" => format!("!{}", script.to_string_lossy()),
            _ => script.to_string_lossy().into_owned(),
        };
        repo.git(&["config", key, &value]);
    }
    // The user's hooks still run.
    let hook_ran = repo.path().join("pre-commit.ran");
    let hook = repo.path().join(".git/hooks/pre-commit");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(
        &hook,
        format!("#!/bin/sh\ntouch '{}'\n", hook_ran.to_string_lossy()),
    )
    .unwrap();
    set_mode(&hook, 0o755);

    let (code, stdout, stderr) = bump(&repo, &["patch", "--push"]);
    let ran: Vec<String> = std::fs::read_dir(markers.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ran.is_empty(), "bump ran {ran:?}");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(hook_ran.exists(), "the pre-commit hook did not run");
    let head = repo.head();
    assert_eq!(
        remote.refs(),
        format!("refs/heads/main {head}\nrefs/tags/v1.2.4 {head}\n")
    );
    // No filter touched what was committed.
    assert_contains(
        &repo.git(&["show", "HEAD:chuks.json"]),
        "\"version\": \"1.2.4\"",
    );
}
