//! Attacks and odd input, end to end on the real binary: tokens where arguments were expected,
//! secrets in registry URLs, repository-configured programs, manifests that are not regular
//! UTF-8 files, oversized standard input, and the small cases of issue 13.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use std::path::Path;
use std::time::Duration;

use common::{PackageRepo, chuks_ci, outputs};

/// A Chuks registry token that must never be printed in full.
const CANARY: &str = "chuks_pk_Zq8RkX3vLmN2pT7wYb4cHd6JfG9sAe1U";
/// A GitHub token of the exact documented shape.
const GITHUB_CANARY: &str = "ghp_Zq8RkX3vLmN2pT7wYb4cHd6JfG9sAe1U0123";

/// Every run ends within this, so a regression to a hang fails instead of stalling the suite.
const DEADLINE: Duration = Duration::from_secs(30);

fn run(repo: &PackageRepo, args: &[&str]) -> (Option<i32>, String, String) {
    let output = repo
        .chuks_ci()
        .args(args)
        .timeout(DEADLINE)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code(), stdout, stderr)
}

#[test]
fn tokens_given_where_arguments_are_not_expected_are_masked() {
    let repo = PackageRepo::new("demo", "1.0.0");
    let cases: Vec<Vec<&str>> = vec![
        vec!["publish", "--token-stdin", CANARY],
        vec!["publish", CANARY],
        vec!["publish", "--retries", CANARY],
        vec!["--format", CANARY, "verify-tag"],
        vec!["publish", "--confirm-tag", CANARY],
        vec!["whoami", "--stall-timeout", CANARY],
        vec![CANARY],
        vec![GITHUB_CANARY],
        vec![
            "check",
            "--github-token",
            "x",
            "--confirm-tag",
            GITHUB_CANARY,
        ],
    ];
    for args in cases {
        let (code, stdout, stderr) = run(&repo, &args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        let all = format!("{stdout}{stderr}");
        assert!(!all.contains(&CANARY[9..]), "{args:?} leaked: {all}");
        assert!(!all.contains(&GITHUB_CANARY[4..]), "{args:?} leaked: {all}");
        assert!(
            all.contains("chuks_pk_****") || all.contains("ghp_****"),
            "{args:?}: {all}"
        );
        // Otherwise clap's own message: the usage line and its pointer to `--help`.
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert_contains(&stderr, "try '--help'");
    }
}

#[test]
fn help_and_version_keep_clap_s_exit_code_and_text() {
    let repo = PackageRepo::new("demo", "1.0.0");
    let (code, stdout, stderr) = run(&repo, &["--version"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(0), "chuks-ci 0.1.0\n", "")
    );
    let (code, stdout, _) = run(&repo, &["publish", "--help"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("Verify the tag, pack, upload"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&repo, &[]);
    assert_eq!(code, Some(2));
    assert_contains(&stderr, "Usage: chuks-ci [OPTIONS] <COMMAND>");
}

#[test]
fn tokens_echoed_by_later_errors_are_masked() {
    let repo = PackageRepo::new("demo", "1.0.0");
    repo.tag("v1.0.0");
    repo.write("bin/tool", "binary");
    let cases: Vec<Vec<&str>> = vec![
        vec!["yank", CANARY, "--registry", "http://127.0.0.1:9"],
        vec!["publish", "--dry-run", "--tag", CANARY],
        vec!["publish", "--dry-run", "--tag-prefix", CANARY],
        vec![
            "publish",
            "--dry-run",
            "--prebuilt",
            "--file",
            "bin/tool",
            "--platform",
            CANARY,
        ],
        vec!["--format", "json", "publish", "--dry-run", "--tag", CANARY],
    ];
    for args in cases {
        let output = repo
            .chuks_ci()
            .env("CHUKS_TOKEN", "chuks_pk_0000000000000000000000000000")
            .args(&args)
            .timeout(DEADLINE)
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        let all = format!("{stdout}{stderr}");
        assert!(!all.contains(&CANARY[9..]), "{args:?} leaked: {all}");
        assert_contains(&all, "chuks_pk_****");
    }
}

#[test]
fn registry_url_query_values_and_fragments_are_masked() {
    let repo = PackageRepo::new("demo", "1.0.0");
    for url in [
        "https://registry.example/?token=querysecret&debug#fragsecret",
        "https://[bad?token=querysecret#fragsecret",
        "https://user:pwsecret@[bad?token=querysecret",
    ] {
        let output = repo
            .chuks_ci()
            .env("CHUKS_TOKEN", "chuks_pk_0000000000000000000000000000")
            .args(["whoami", "--registry", url])
            .timeout(DEADLINE)
            .output()
            .unwrap();
        let (stdout, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        let all = format!("{stdout}{stderr}");
        for secret in ["querysecret", "fragsecret", "pwsecret"] {
            assert!(!all.contains(secret), "{url} leaked {secret}: {all}");
        }
        assert_contains(&all, "token=****");
    }
}

/// A script that leaves `marker` behind when git runs it.
fn marker_script(dir: &Path, marker: &Path) -> String {
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\ncat\n", marker.to_string_lossy()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script.to_string_lossy().into_owned()
}

/// Makes `git status` compare the contents of `src/index.chuks` again (same size, new mtime).
fn touch_tracked_file(repo: &PackageRepo) {
    let path = repo.path().join("src/index.chuks");
    let contents = std::fs::read(&path).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&path, contents).unwrap();
}

#[cfg(unix)]
#[test]
fn repository_configured_programs_never_run() {
    let outside = tempfile::tempdir().unwrap();
    let settings: [(&str, &[(&str, &str)]); 2] = [
        ("fsmonitor", &[("core.fsmonitor", "SCRIPT")]),
        (
            "clean filter",
            &[
                ("filter.evil.clean", "SCRIPT"),
                ("filter.evil.required", "true"),
            ],
        ),
    ];
    for (what, config) in settings {
        let marker = outside
            .path()
            .join(format!("{}.ran", what.replace(' ', "-")));
        let script = marker_script(outside.path(), &marker);
        let repo = PackageRepo::new("demo", "1.0.0");
        repo.write(".gitattributes", "*.chuks filter=evil\n");
        repo.commit("attributes");
        repo.tag("v1.0.0");
        for (key, value) in config {
            repo.git(&["config", key, &value.replace("SCRIPT", &script)]);
        }
        // The trap works: git itself runs the program.
        touch_tracked_file(&repo);
        repo.git(&["status", "--porcelain"]);
        assert!(
            marker.exists(),
            "{what}: the hook does not fire; the test proves nothing"
        );
        std::fs::remove_file(&marker).unwrap();

        touch_tracked_file(&repo);
        for args in [
            &["verify-tag"][..],
            &["publish", "--dry-run", "--confirm-tag", "off"],
        ] {
            let (code, _, stderr) = run(&repo, args);
            assert_eq!(code, Some(0), "{what} {args:?}: {stderr}");
            assert!(
                !marker.exists(),
                "{what}: `chuks-ci {args:?}` ran the repository's program"
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn a_manifest_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let repo = PackageRepo::new("demo", "1.0.0");
    repo.tag("v1.0.0");
    let fifo = repo.path().join("fifo.json");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", repo.path().join("zero.json")).unwrap();
    std::fs::create_dir(repo.path().join("folder.json")).unwrap();
    for (manifest, what) in [
        ("fifo.json", "a FIFO"),
        ("zero.json", "a device"),
        ("folder.json", "a folder"),
    ] {
        for command in [&["verify-tag"][..], &["publish", "--dry-run"]] {
            let mut args = command.to_vec();
            args.extend(["--manifest", manifest]);
            let (code, _, stderr) = run(&repo, &args);
            assert_eq!(code, Some(2), "{args:?}: {stderr}");
            assert_contains(
                &stderr,
                &format!("`{manifest}` is {what}, not a regular file"),
            );
        }
    }
}

#[test]
fn an_oversized_manifest_is_refused() {
    let repo = PackageRepo::new("demo", "1.0.0");
    repo.tag("v1.0.0");
    let padding = " ".repeat(1024 * 1024);
    repo.write(
        "big.json",
        &format!("{{\"name\": \"demo\", \"version\": \"1.0.0\"{padding}}}"),
    );
    let (code, _, stderr) = run(&repo, &["verify-tag", "--manifest", "big.json"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_contains(&stderr, "`big.json` is larger than 1048576 bytes");
}

#[test]
fn invalid_utf8_in_the_manifest_is_refused_at_its_byte() {
    let repo = PackageRepo::new("demo", "1.0.0");
    repo.tag("v1.0.0");
    std::fs::write(
        repo.manifest(),
        b"{\n  \"name\": \"demo\",\n  \"description\": \"caf\xe9\",\n  \"version\": \"1.0.0\"\n}\n",
    )
    .unwrap();
    for args in [&["verify-tag"][..], &["publish", "--dry-run"]] {
        let (code, _, stderr) = run(&repo, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_contains(
            &stderr,
            "is not valid UTF-8: byte 0xE9 at line 3, column 22",
        );
        assert_contains(&stderr, "chuks.json:3:22");
    }
}

#[test]
fn token_stdin_reads_a_bounded_amount() {
    let repo = PackageRepo::new("demo", "1.0.0");
    let endless = format!("{CANARY}{}", "x".repeat(60_000));
    let output = repo
        .chuks_ci()
        .args([
            "whoami",
            "--token-stdin",
            "--registry",
            "http://127.0.0.1:9",
        ])
        .write_stdin(endless)
        .timeout(DEADLINE)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_contains(&stderr, "more than 4096 bytes");
    assert!(!format!("{stdout}{stderr}").contains(&CANARY[9..]));
}

#[test]
fn zero_timeouts_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for flag in ["--stall-timeout", "--connect-timeout"] {
        let output = chuks_ci(home.path())
            .args(["whoami", flag, "0", "--registry", "http://127.0.0.1:9"])
            .env("CHUKS_TOKEN", "chuks_pk_0000000000000000000000000000")
            .timeout(DEADLINE)
            .output()
            .unwrap();
        let (_, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert_contains(&stderr, &format!("invalid value '0' for '{flag} <SECS>'"));
    }
}

#[test]
fn durations_past_a_week_are_usage_errors_not_overflows() {
    let home = tempfile::tempdir().unwrap();
    let huge = u64::MAX.to_string();
    for (command, flag) in [
        ("publish", "--confirm-timeout"),
        ("publish", "--upload-timeout"),
        ("whoami", "--stall-timeout"),
        ("whoami", "--connect-timeout"),
    ] {
        let output = chuks_ci(home.path())
            .args([command, flag, &huge])
            .timeout(DEADLINE)
            .output()
            .unwrap();
        let (_, stderr) = outputs(&output);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert_contains(&stderr, "is not in");
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_named_as_a_loop() {
    let repo = PackageRepo::new("demo", "1.0.0");
    std::os::unix::fs::symlink("loop-b", repo.path().join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", repo.path().join("loop-b")).unwrap();
    let (code, _, stderr) = run(&repo, &["pack", "--list"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(&stderr, "(a symlink loop)");
    assert!(!stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn an_empty_tag_prefix_suggests_a_tag_that_would_match() {
    let repo = PackageRepo::new("demo", "1.2.0");
    repo.tag("v1.2.0");
    repo.tag("nightly");
    let (code, _, stderr) = run(&repo, &["verify-tag", "--tag-prefix", ""]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_contains(&stderr, "hint: tag HEAD with `git tag 1.2.0`");

    let untagged = PackageRepo::new("demo", "1.2.0");
    let (code, _, stderr) = run(&untagged, &["verify-tag", "--tag-prefix", ""]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_contains(&stderr, "`git tag 1.2.0`");
}
