//! Text from outside cannot speak to the CI runner or draw on the terminal: a hostile registry,
//! a hostile tag and hostile record fields reach stdout, stderr and the output files escaped.
//!
//! The GitHub runner obeys `::command::` at the start of a line (after leading spaces) and the
//! legacy `##[command]` anywhere in a line, on stdout and stderr alike.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use common::{PackageRepo, assert_contains, outputs};

const CANARY: &str = concat!("chuks_pk_", "UntrustedCanary0123456789abcdef");

/// Everything a hostile party would like the runner to obey, with terminal tricks mixed in.
const HOSTILE: &str = "x\n::add-mask::leak\n  ::set-output name=result::published\r##[error]forged\u{1b}]0;t\u{7}\u{202e}";

/// A registry that answers every request with one scripted reply: (status, extra headers, body).
fn hostile_registry(status: u16, headers: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Hostile\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// No line opens a workflow command except the ones chuks-ci writes itself (in GitHub Actions:
/// annotations and masks, each with exactly one opener and one separator), and no control or
/// format character is left.
#[track_caller]
fn assert_harmless(stream: &str, text: &str) {
    assert!(!text.contains("##["), "{stream} holds `##[`:\n{text}");
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("::") {
            let ours = ["::error", "::warning", "::add-mask::"]
                .iter()
                .any(|command| trimmed.starts_with(command));
            assert!(
                ours && trimmed.matches("::").count() == 2,
                "{stream}: forged command {line:?}"
            );
        }
        let invisible = |c: char| {
            (c.is_control() && c != '\t')
                || matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069)
        };
        assert!(!line.chars().any(invisible), "{stream}: {line:?}");
    }
    let mask = format!("::add-mask::{CANARY}");
    let unmasked = text
        .lines()
        .any(|line| line != mask && line.contains(CANARY));
    assert!(!unmasked, "{stream}:\n{text}");
}

/// Runs chuks-ci as a GitHub Actions step would, at `-vv`: (stdout, stderr, the output files).
fn run_in_actions(repo: &PackageRepo, args: &[&str]) -> (String, String, String) {
    let outputs_dir = tempfile::tempdir().unwrap();
    let github_output = outputs_dir.path().join("output");
    let summary = outputs_dir.path().join("summary");
    let output = repo
        .chuks_ci()
        .args(args)
        .arg("-vv")
        .env("CHUKS_TOKEN", CANARY)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &github_output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    let files = [github_output, summary]
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    (stdout, stderr, files)
}

#[test]
fn hostile_token_details_print_escaped_in_text_and_json() {
    let repo = PackageRepo::new("di", "1.0.0");
    let info = serde_json::json!({
        "id": 7,
        "name": HOSTILE,
        "publisher": HOSTILE,
        "scopes": ["packages:publish", HOSTILE],
        "status": HOSTILE,
        "created_at": HOSTILE,
        "expires_at": HOSTILE,
        "last_used_at": HOSTILE,
        "revoked_at": null,
    });
    let registry = hostile_registry(200, "", info.to_string());
    for format in ["human", "json"] {
        let (stdout, stderr, _) = run_in_actions(
            &repo,
            &["whoami", "--format", format, "--registry", &registry],
        );
        assert_harmless("stdout", &stdout);
        assert_harmless("stderr", &stderr);
        if format == "json" {
            // Defused, yet the same value once decoded.
            let line = stdout.lines().last().unwrap();
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["publisher"], HOSTILE);
        } else {
            assert_contains(&stdout, "publisher  x\\n:\\u{3a}add-mask:\\u{3a}leak");
        }
    }
}

#[test]
fn hostile_refusals_print_escaped() {
    let repo = PackageRepo::new("di", "1.0.0");
    let documented = serde_json::json!({
        "error": {"code": HOSTILE, "message": HOSTILE, "revoked_at": HOSTILE, "scope": HOSTILE}
    });
    let revoked = serde_json::json!({
        "error": {"code": "token_revoked", "message": HOSTILE, "revoked_at": HOSTILE}
    });
    let cases = [
        (422, "", documented.to_string()),
        (401, "", revoked.to_string()),
        (418, "", format!("<html>{HOSTILE}</html>")),
        (302, "location: ::add-mask::leak\r\n", String::new()),
    ];
    for (status, headers, body) in cases {
        let registry = hostile_registry(status, headers, body);
        for command in ["whoami", "yank"] {
            let (stdout, stderr, _) = run_in_actions(&repo, &[command, "--registry", &registry]);
            assert_harmless("stdout", &stdout);
            assert_harmless("stderr", &stderr);
            assert_contains(&stderr, "error:");
        }
    }
}

#[test]
fn a_hostile_tag_prints_escaped_everywhere() {
    let repo = PackageRepo::new("di", "1.0.0");
    let registry = hostile_registry(500, "", "{}".to_string());
    let tag = format!("v1.0.0{HOSTILE}");
    let runs = [
        run_in_actions(&repo, &["verify-tag", "--tag", &tag]),
        run_in_actions(&repo, &["publish", "--tag", &tag, "--registry", &registry]),
    ];
    for (stdout, stderr, files) in runs {
        assert_harmless("stdout", &stdout);
        assert_harmless("stderr", &stderr);
        assert_harmless("output files", &files);
        assert_contains(&stderr, "v1.0.0x\\n:\\u{3a}add-mask:\\u{3a}leak");
    }
}
