//! `chuks-ci registry …` through the real binary: token create/list/revoke and `serve`.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use common::assert_contains;
use serde_json::Value;

fn chuks_ci() -> Command {
    let mut command = Command::cargo_bin("chuks-ci").unwrap();
    command.env_remove("GITHUB_ACTIONS").env("NO_COLOR", "1");
    command
}

fn run(args: &[&str]) -> (i32, String, String) {
    let output = chuks_ci().args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn create_token(data: &Path, publisher: &str, days: &str) -> (i32, String, String) {
    run(&[
        "registry",
        "token",
        "create",
        "--data-dir",
        data.to_str().unwrap(),
        "--publisher",
        publisher,
        "--name",
        "GitHub Actions — di",
        "--scopes",
        "packages:publish,packages:read",
        "--expires-in-days",
        days,
    ])
}

#[test]
fn token_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = create_token(dir.path(), "alice", "30");
    assert_eq!(code, 0, "{stderr}");
    let token = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        token.starts_with("chuks_pk_") && token.len() == 49,
        "{token}"
    );
    assert_contains(&stderr, "only time it is shown");
    assert!(!stderr.contains(token));

    let (code, table, _) = run(&["registry", "token", "list", "--data-dir", data]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    for column in [
        "ID",
        "NAME",
        "PUBLISHER",
        "SCOPES",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "STATUS",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    assert!(lines[1].starts_with("1 "), "{table}");
    for value in [
        "GitHub Actions — di",
        "alice",
        "packages:read,packages:publish",
        "never",
        "active",
    ] {
        assert!(lines[1].contains(value), "{value} in {table}");
    }
    assert!(!table.contains("chuks_pk_"), "{table}");

    let (code, stdout, _) = run(&["registry", "token", "revoke", "--data-dir", data, "1"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("token 1 `GitHub Actions — di` is revoked since "),
        "{stdout}"
    );

    let (code, json, _) = run(&[
        "--format",
        "json",
        "registry",
        "token",
        "list",
        "--data-dir",
        data,
    ]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&json).unwrap();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "revoked tokens stay listed");
    assert_eq!(tokens[0]["status"], "revoked");
    assert!(tokens[0]["revoked_at"].is_string());
    assert!(tokens[0].get("token").is_none());
    assert!(!json.contains("chuks_pk_"));
}

#[test]
fn token_create_json_shows_the_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = chuks_ci()
        .args([
            "--format",
            "json",
            "registry",
            "token",
            "create",
            "--data-dir",
        ])
        .arg(dir.path())
        .args([
            "--publisher",
            "alice",
            "--name",
            "ci",
            "--scopes",
            "packages:yank",
            "--expires-in-days",
            "7",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("chuks_pk_"));
    assert_eq!(created["id"], 1);
    assert_eq!(created["scopes"], serde_json::json!(["packages:yank"]));
    assert_eq!(created["status"], "active");
}

#[test]
fn token_create_refuses_bad_input_with_usage_exit() {
    let dir = tempfile::tempdir().unwrap();
    for days in ["6", "366"] {
        let (code, stdout, stderr) = create_token(dir.path(), "alice", days);
        assert_eq!(code, 2, "{days}: {stderr}");
        assert!(stdout.is_empty());
        assert_contains(
            &stderr,
            &format!("error: a token cannot expire in {days} days"),
        );
        assert_contains(&stderr, "hint: choose `--expires-in-days` from 7 to 365");
    }
    let (code, _, stderr) = run(&[
        "registry",
        "token",
        "create",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--publisher",
        "alice",
        "--name",
        "x",
        "--scopes",
        "packages:write",
        "--expires-in-days",
        "30",
    ]);
    assert_eq!(code, 2);
    assert_contains(&stderr, "unknown scope `packages:write`");
    let (code, _, stderr) = run(&[
        "registry",
        "token",
        "revoke",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "9",
    ]);
    assert_eq!(code, 2);
    assert_contains(&stderr, "no token has id 9");
}

/// A minimal HTTP/1.1 GET; returns the status line and body.
fn http_get(base: &str, path: &str, token: Option<&str>) -> (String, String) {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: registry\r\n{authorization}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[test]
fn serve_prints_its_url_logs_without_secrets_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (_, token, _) = create_token(dir.path(), "alice", "30");
    let token = token.trim();
    let mut child = chuks_ci()
        .args(["registry", "serve", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first_line}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    assert_eq!(
        http_get(url, "/api/health", None),
        (
            "HTTP/1.1 200 OK".to_string(),
            r#"{"status":"ok"}"#.to_string()
        )
    );
    let (status, body) = http_get(url, "/api/tokens/self", Some(token));
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (me["id"].as_i64(), me["publisher"].as_str()),
        (Some(1), Some("alice"))
    );

    // The path is the client's text: the log line shows it escaped.
    let (status, _) = http_get(url, "/api/::add-mask::x%1B%5B2J", None);
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_contains(&stderr, "GET /api/health 200\n");
    assert_contains(&stderr, "GET /api/tokens/self 200 token=1\n");
    assert_contains(&stderr, "GET /api/:\\u{3a}add-mask:\\u{3a}x%1B%5B2J 404\n");
    assert_contains(&stderr, "registry stopped");
    assert!(!stderr.contains("chuks_pk_"), "{stderr}");
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = chuks_ci()
        .args(["registry", "serve", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(
        first_line.starts_with("listening on http://127.0.0.1:"),
        "{first_line}"
    );
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn scope_grant_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let scope = |action: &str, scope: &str, publisher: &str| {
        run(&[
            "registry",
            "scope",
            action,
            "--data-dir",
            data,
            "--scope",
            scope,
            "--publisher",
            publisher,
        ])
    };
    let (code, _, stderr) = run(&["registry", "scope", "list", "--data-dir", data]);
    assert_eq!(code, 0);
    assert_contains(&stderr, "no scope is held yet");

    let (code, stdout, stderr) = scope("grant", "@chuks", "bob");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("publisher `bob` holds `@chuks` (granted since "),
        "{stdout}"
    );
    let (code, table, _) = run(&["registry", "scope", "list", "--data-dir", data]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("SCOPE   PUBLISHER  HOW      SINCE"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("@chuks  bob        granted  "),
        "{table}"
    );
    let (code, json, _) = run(&[
        "--format",
        "json",
        "registry",
        "scope",
        "list",
        "--data-dir",
        data,
    ]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed["scopes"][0]["scope"], "@chuks");
    assert_eq!(listed["scopes"][0]["source"], "granted");

    let (code, _, stderr) = scope("revoke", "@chuks", "bob");
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stderr, "publisher `bob` no longer holds `@chuks`");
    let (code, _, stderr) = scope("revoke", "@chuks", "bob");
    assert_eq!(code, 2);
    assert_contains(&stderr, "error: publisher `bob` does not hold `@chuks`");
    assert_contains(&stderr, "hint: run `chuks-ci registry scope list`");

    for (scope_arg, publisher, message) in [
        (
            "chuks",
            "bob",
            "`chuks` is not a valid scope (it does not start with `@`)",
        ),
        (
            "@cHuks",
            "bob",
            "`@cHuks` is not a valid scope (uppercase letters",
        ),
        (
            "@chuks/numpy",
            "bob",
            "`@chuks/numpy` is not a valid scope (it holds `/`",
        ),
        (
            "@chuks",
            "bob\u{202e}",
            "`bob\\u{202e}` is not a valid publisher name",
        ),
        (
            "@chuks",
            "bob\n::add-mask::x",
            "`bob\\n:\\u{3a}add-mask:\\u{3a}x` is not a valid publisher name",
        ),
    ] {
        let (code, stdout, stderr) = scope("grant", scope_arg, publisher);
        assert_eq!(code, 2, "{scope_arg} {publisher}: {stderr}");
        assert!(stdout.is_empty());
        assert_contains(&stderr, &format!("error: {message}"));
        assert_contains(&stderr, "\nhint: ");
    }
}

#[test]
fn token_names_are_one_printable_line_and_list_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let create = |name: &str| {
        run(&[
            "registry",
            "token",
            "create",
            "--data-dir",
            data,
            "--publisher",
            "alice",
            "--name",
            name,
            "--scopes",
            "packages:read",
            "--expires-in-days",
            "30",
        ])
    };
    for (name, shown) in [
        ("ci\n::add-mask::x", "`ci\\n:\\u{3a}add-mask:\\u{3a}x`"),
        ("evil\u{202e}gnp.exe", "`evil\\u{202e}gnp.exe`"),
        ("\u{1b}]0;title\u{7}", "`\\u{1b}]0;title\\u{7}`"),
        ("tab\there", "`tab\there`"),
    ] {
        let (code, stdout, stderr) = create(name);
        assert_eq!(code, 2, "{name:?}: {stderr}");
        assert!(stdout.is_empty());
        assert_contains(
            &stderr,
            &format!("error: the token name {shown} holds characters"),
        );
        assert_contains(
            &stderr,
            "hint: pass a descriptive `--name` of one printable line",
        );
    }
    let (code, _, stderr) = create(&"n".repeat(129));
    assert_eq!(code, 2);
    assert_contains(&stderr, "is too long");
    let (code, _, stderr) = create("GitHub Actions — di ✓");
    assert_eq!(code, 0, "{stderr}");

    // A name stored before these rules (or written by hand) still prints as one escaped cell.
    let database = dir.path().join("registry.sqlite3");
    rusqlite::Connection::open(database)
        .unwrap()
        .execute(
            "UPDATE tokens SET name = ?1, publisher = ?2",
            ["hand\n::set-output name=x::y\u{202e}", "al\u{1b}[2Jice"],
        )
        .unwrap();
    let (code, table, _) = run(&["registry", "token", "list", "--data-dir", data]);
    assert_eq!(code, 0);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(!table.contains("::") && !table.contains('\u{1b}') && !table.contains('\u{202e}'));
    assert_contains(&table, "hand\\n:\\u{3a}set-output name=x:\\u{3a}y\\u{202e}");
    assert_contains(&table, "al\\u{1b}[2Jice");
    let (code, stdout, _) = run(&["registry", "token", "revoke", "--data-dir", data, "1"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("token 1 `hand\\n:\\u{3a}set-output"),
        "{stdout}"
    );
}

#[test]
fn the_data_folder_marks_itself_so_it_is_never_committed_or_packed() {
    let repo = common::PackageRepo::new("di", "1.0.0");
    let data = repo.path().join("registry-data");
    let (code, _, stderr) = create_token(&data, "alice", "30");
    assert_eq!(code, 0, "{stderr}");
    assert!(data.join(".chuks-registry-data").is_file());
    let ignore = std::fs::read_to_string(data.join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|line| line == "*"), "{ignore}");
    // git sees nothing of it: not the database, its WAL, nor the marker.
    assert!(data.join("registry.sqlite3").is_file());
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        ""
    );

    // A `.gitignore` of the user's own is kept.
    let own = tempfile::tempdir().unwrap();
    std::fs::write(own.path().join(".gitignore"), "registry.sqlite3*\n").unwrap();
    let (code, _, stderr) = create_token(own.path(), "alice", "30");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(own.path().join(".gitignore")).unwrap(),
        "registry.sqlite3*\n"
    );
    assert!(own.path().join(".chuks-registry-data").is_file());

    // The package's own folder is not a data folder.
    let (code, _, stderr) = create_token(repo.path(), "alice", "30");
    assert_eq!(code, 2, "{stderr}");
    assert_contains(
        &stderr,
        "holds `chuks.json`: it is a project, not registry data",
    );
    assert_contains(
        &stderr,
        "hint: keep the registry's data outside the package",
    );
    assert!(!repo.path().join(".chuks-registry-data").exists());
}
