//! `chuks-ci publish` against the reference registry on 127.0.0.1:0, from real git repositories.
//!
//! Every run goes through `Harness::publish`, which runs at `-vv` with GITHUB_OUTPUT, the step
//! summary and a dotenv file set, and git wrapped to record its environment; it then checks that
//! the token in use appears in none of them (the canary rule).
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use std::path::PathBuf;
use std::time::Duration;

use chuks_ci::token::Scope;
use common::PackageRepo;
use common::fault_proxy::{Fault, FaultProxy};
use common::registry::TestRegistry;
use serde_json::Value;
use tempfile::TempDir;

struct Harness {
    registry: TestRegistry,
    repo: PackageRepo,
    sinks: TempDir,
}

/// What one run left behind, everywhere a secret could leak.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    github_output: String,
    summary: String,
    dotenv: String,
    git_env: String,
}

impl Run {
    /// The secret appears nowhere, except as the `::add-mask::` command the runner consumes.
    fn assert_never_shows(&self, secret: &str) {
        if secret.trim().is_empty() {
            return;
        }
        let stdout: String = self
            .stdout
            .lines()
            .filter(|line| !line.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n");
        for (sink, text) in [
            ("stdout", stdout.as_str()),
            ("stderr", &self.stderr),
            ("GITHUB_OUTPUT", &self.github_output),
            ("step summary", &self.summary),
            ("dotenv", &self.dotenv),
            ("git's environment", &self.git_env),
        ] {
            assert!(
                !text.contains(secret),
                "the token leaked into {sink}:\n{text}"
            );
        }
        assert!(
            !self.git_env.contains("CHUKS_TOKEN="),
            "git inherited CHUKS_TOKEN"
        );
    }

    fn json(&self) -> Value {
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

impl Harness {
    /// A registry, and a package repo `name`@`version` tagged `v<version>` at HEAD.
    fn new(name: &str, version: &str) -> Harness {
        let registry = TestRegistry::start();
        let repo = PackageRepo::new(name, version);
        repo.tag(&format!("v{version}"));
        repo.push();
        let sinks = TempDir::new().unwrap();
        let real_git = which_git();
        let fake_bin = sinks.path().join("bin");
        std::fs::create_dir(&fake_bin).unwrap();
        let wrapper = fake_bin.join("git");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nenv >> '{}'\nexec {} \"$@\"\n",
                sinks.path().join("git_env").to_string_lossy(),
                real_git.to_string_lossy()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Harness {
            registry,
            repo,
            sinks,
        }
    }

    fn token(&self, scopes: &[Scope]) -> String {
        let issued = self
            .registry
            .create_token("alice", "ci", scopes, 30)
            .unwrap();
        issued.token.expose().to_string()
    }

    fn url(&self) -> String {
        self.registry.url().trim_end_matches('/').to_string()
    }

    /// Runs `chuks-ci -vv publish` with the token in `CHUKS_TOKEN` (if any) and checks the canary rule.
    fn publish(&self, token: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.publish_to(&self.url(), token, args, env)
    }

    fn publish_to(
        &self,
        registry: &str,
        token: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Run {
        let dotenv = self.sinks.path().join("dotenv");
        let mut full = vec!["--registry", registry, "--dotenv", dotenv.to_str().unwrap()];
        full.extend_from_slice(args);
        self.run("publish", token, &full, env)
    }

    /// Runs `chuks-ci -vv <subcommand> <args>` with every sink set, then checks the canary rule
    /// for the token and for any `chuks_pk_` value in `env`.
    fn run(
        &self,
        subcommand: &str,
        token: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Run {
        let sink = |name: &str| self.sinks.path().join(name);
        for name in ["github_output", "summary", "dotenv", "git_env"] {
            let _ = std::fs::remove_file(sink(name));
        }
        let path = format!(
            "{}:{}",
            self.sinks.path().join("bin").to_string_lossy(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = self.repo.chuks_ci();
        command
            .env("PATH", path)
            .env("GITHUB_OUTPUT", sink("github_output"))
            .env("GITHUB_STEP_SUMMARY", sink("summary"))
            .args(["-vv", subcommand])
            .args(args)
            .envs(env.iter().copied());
        if let Some(token) = token {
            command.env("CHUKS_TOKEN", token);
        }
        let output = command.output().unwrap();
        let read = |name: &str| std::fs::read_to_string(sink(name)).unwrap_or_default();
        let run = Run {
            code: output.status.code().unwrap(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            github_output: read("github_output"),
            summary: read("summary"),
            dotenv: read("dotenv"),
            git_env: read("git_env"),
        };
        if let Some(token) = token {
            run.assert_never_shows(token);
        }
        for (_, value) in env {
            if value.starts_with("chuks_pk_") {
                run.assert_never_shows(value);
            }
        }
        run
    }

    /// Runs a registry subcommand (`check`, `whoami`, `yank`…) against this registry.
    fn registry_command(&self, subcommand: &str, token: &str, args: &[&str]) -> Run {
        let url = self.url();
        let mut full = vec!["--registry", url.as_str()];
        full.extend_from_slice(args);
        self.run(subcommand, Some(token), &full, &[])
    }
}

fn which_git() -> PathBuf {
    let output = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

mod happy_path {
    use super::*;

    #[test]
    fn publishes_reads_back_and_reruns_as_unchanged() {
        let h = Harness::new("@chuks/numpy", "1.2.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let run = h.publish(Some(&token), &[], &[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout
                .starts_with("published: @chuks/numpy 1.2.0 (tag `v1.2.0`)"),
            "{}",
            run.stdout
        );
        let record = h
            .registry
            .version("@chuks/numpy", "1.2.0")
            .expect("the version is stored");
        assert_eq!(record["git"]["tag"], "v1.2.0");
        assert_eq!(record["git"]["commit"], h.repo.head());
        assert_eq!(record["publisher"], "alice");
        assert_contains(&run.github_output, "result=published\n");
        assert!(
            run.github_output
                .contains(&format!("sha256={}\n", record["sha256"].as_str().unwrap()))
        );
        assert_contains(&run.dotenv, "CHUKS_RESULT=published\n");
        assert_contains(&run.summary, "| result | <code>published</code> |");

        // git ran through the recording wrapper, with an allow-listed environment only.
        assert_contains(&run.git_env, "PATH=");
        assert!(!run.git_env.contains("GITHUB_OUTPUT="), "{}", run.git_env);

        common::snapshot_settings(h.repo.path())
            .bind(|| insta::assert_snapshot!("published", run.stdout));

        let again = h.publish(Some(&token), &[], &[]);
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert!(again.stdout.starts_with("unchanged: "), "{}", again.stdout);
        common::snapshot_settings(h.repo.path())
            .bind(|| insta::assert_snapshot!("unchanged", again.stdout));
        assert!(again.github_output.contains("result=unchanged\n"));
        assert_eq!(h.registry.stored_versions("@chuks/numpy"), 1);
    }

    #[test]
    fn different_bytes_for_a_published_version_fail_and_change_nothing() {
        let h = Harness::new("di", "0.3.0");
        let token = h.token(&[Scope::PackagesPublish]);
        assert_eq!(h.publish(Some(&token), &[], &[]).code, 0);
        let before = h.registry.version("di", "0.3.0").unwrap();

        h.repo.write(
            "src/index.chuks",
            "export function answer(): int { return 7 }\n",
        );
        h.repo.git(&["commit", "-qam", "change without a bump"]);
        h.repo.git(&["tag", "-f", "v0.3.0"]);
        let run = h.publish(Some(&token), &["--format", "json"], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("already published with different contents"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("hint: a published version never changes: bump `version` in chuks.json")
        );
        assert_eq!(run.json()["result"], "failed");
        assert_eq!(h.registry.version("di", "0.3.0").unwrap(), before);
    }

    #[test]
    fn a_tag_that_does_not_exist_blocks_a_real_publish_but_not_a_dry_run() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let run = h.publish(Some(&token), &["--tag", "1.0.0"], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("tag `1.0.0` does not exist in this clone"),
            "{}",
            run.stderr
        );
        assert!(h.registry.version("di", "1.0.0").is_none());
        let run = h.publish(Some(&token), &["--tag", "1.0.0", "--dry-run"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }

    #[test]
    fn json_output_is_one_object() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let run = h.publish(Some(&token), &["--format", "json"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let json = run.json();
        assert_eq!(json["result"], "published");
        assert_eq!(json["name"], "di");
        assert_eq!(json["tag"], "v1.0.0");
        assert_eq!(json["record"]["version"], "1.0.0");
        assert_eq!(json["sha256"], json["record"]["sha256"]);
        assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    }

    #[test]
    fn dry_run_uploads_nothing() {
        let h = Harness::new("di", "1.0.0");
        let run = h.publish(None, &["--dry-run"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.starts_with("dry-run: di 1.0.0"),
            "{}",
            run.stdout
        );
        assert!(run.github_output.contains("result=dry-run"));
        assert!(h.registry.version("di", "1.0.0").is_none());
    }

    #[test]
    fn github_actions_masks_the_token_first() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let run = h.publish(Some(&token), &[], &[("GITHUB_ACTIONS", "true")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout.lines().next(),
            Some(format!("::add-mask::{token}").as_str())
        );
    }
}

mod tokens {
    use super::*;

    #[test]
    fn flag_beats_env() {
        let h = Harness::new("di", "1.0.0");
        let good = h.token(&[Scope::PackagesPublish]);
        let unknown = format!("chuks_pk_{}", "x".repeat(40));
        let run = h.publish(Some(&unknown), &["--token", &good], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.assert_never_shows(&good);
        let run = h.publish(Some(&good), &["--token", &unknown], &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        run.assert_never_shows(&unknown);
    }

    #[test]
    fn flag_in_ci_warns_about_the_process_list() {
        let h = Harness::new("di", "1.0.0");
        let good = h.token(&[Scope::PackagesPublish]);
        let run = h.publish(None, &["--token", &good], &[("CI", "true")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "other processes can read it");
        run.assert_never_shows(&good);
    }

    #[test]
    fn stdin_is_the_last_source() {
        let h = Harness::new("di", "1.0.0");
        let good = h.token(&[Scope::PackagesPublish]);
        let output = h
            .repo
            .chuks_ci()
            .args(["publish", "--registry", &h.url(), "--token-stdin"])
            .write_stdin(format!("{good}\n"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert_contains(&stderr, "removed whitespace around the token");
        assert!(
            !stderr.contains(&good) && !String::from_utf8_lossy(&output.stdout).contains(&good)
        );
    }

    #[test]
    fn bad_shapes_are_refused_before_any_request() {
        let h = Harness::new("di", "1.0.0");
        let cases = [
            ("", 2, "the API token is empty"),
            (
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                3,
                "looks like a GitHub token",
            ),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
                3,
                "OAuth/session token",
            ),
            ("chuks_pk_abc\u{7}def", 3, "non-printable"),
        ];
        for (raw, code, message) in cases {
            // An unroutable registry proves no request is made: reaching it would fail differently.
            let run = h.publish_to("http://127.0.0.1:9", Some(raw), &[], &[]);
            assert_eq!(run.code, code, "{raw:?}: {}", run.stderr);
            assert_contains(&run.stderr, message);
        }
        let run = h.publish_to("http://127.0.0.1:9", None, &[], &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        let diagnostics: Vec<&str> = run
            .stderr
            .lines()
            .filter(|line| line.starts_with("error:") || line.starts_with("hint:"))
            .collect();
        insta::assert_snapshot!("no_token", diagnostics.join("\n"));
    }

    #[test]
    fn trailing_newline_is_trimmed_with_a_warning() {
        let h = Harness::new("di", "1.0.0");
        let good = h.token(&[Scope::PackagesPublish]);
        let run = h.publish(Some(&format!("{good} \n")), &[], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("warning: removed whitespace around the token")
        );
        run.assert_never_shows(&good);
    }

    #[test]
    fn expired_revoked_and_unscoped_tokens_exit_3_with_the_fix() {
        let h = Harness::new("di", "1.0.0");
        let expired = h
            .registry
            .mint_token(
                "alice",
                "old",
                &[Scope::PackagesPublish],
                jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1),
            )
            .unwrap();
        let run = h.publish(Some(expired.token.expose()), &[], &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(
            run.stderr.contains("`token_expired`")
                && run.stderr.contains("the token expired at 20"),
            "{}",
            run.stderr
        );

        let revoked = h
            .registry
            .create_token("alice", "leaked", &[Scope::PackagesPublish], 30)
            .unwrap();
        h.registry.revoke_token(revoked.record.id).unwrap();
        let run = h.publish(Some(revoked.token.expose()), &[], &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert_contains(&run.stderr, "the token was revoked at 20");

        let read_only = h.token(&[Scope::PackagesRead]);
        let run = h.publish(Some(&read_only), &[], &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("generate a token with the `packages:publish` scope"),
            "{}",
            run.stderr
        );
        assert!(h.registry.version("di", "1.0.0").is_none());
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let h = Harness::new("di", "1.0.0");
        let good = h.token(&[Scope::PackagesPublish]);
        let run = h.publish_to("http://registry.example.invalid", Some(&good), &[], &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_contains(&run.stderr, "refusing plain http");
    }
}

mod leak_guard {
    use super::*;

    #[test]
    fn env_files_and_embedded_tokens_are_refused_with_a_masked_match() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let canary = h.token(&[Scope::PackagesPublish]);
        h.repo.write(".env", "SECRET=1\n");
        h.repo
            .write("src/config.chuks", &format!("let key = \"{canary}\"\n"));
        let run = h.publish(Some(&token), &[], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_contains(&run.stderr, "`.env`");
        assert_contains(&run.stderr, "src/config.chuks");
        assert_contains(&run.stderr, &format!("{}****", &canary[..13]));
        run.assert_never_shows(&canary);
        assert!(h.registry.version("di", "1.0.0").is_none());
    }
}

mod faults {
    use super::*;

    fn unavailable() -> Fault {
        Fault::Respond(
            503,
            vec![],
            r#"{"error":{"code":"internal","message":"down for maintenance"}}"#.into(),
        )
    }

    #[test]
    fn two_503s_then_success() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let proxy = FaultProxy::start(&h.url(), "POST", vec![unavailable(), unavailable()]);
        let run = h.publish_to(&proxy.url(), Some(&token), &[], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(proxy.seen("POST").len(), 3);
        assert_eq!(h.registry.stored_versions("di"), 1);
    }

    #[test]
    fn a_401_is_sent_exactly_once() {
        let h = Harness::new("di", "1.0.0");
        let unknown = format!("chuks_pk_{}", "y".repeat(40));
        let proxy = FaultProxy::start(&h.url(), "POST", vec![]);
        let run = h.publish_to(&proxy.url(), Some(&unknown), &[], &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        // The preflight's `GET /tokens/self` meets the 401; it is never repeated, nothing is uploaded.
        assert_eq!(proxy.seen("GET").len(), 1);
        assert_eq!(proxy.seen("POST").len(), 0);
        assert!(h.registry.version("di", "1.0.0").is_none());
    }

    #[test]
    fn a_dropped_connection_after_the_body_settles_by_read_back() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let proxy = FaultProxy::start(&h.url(), "POST", vec![Fault::ForwardThenDrop]);
        let run = h.publish_to(&proxy.url(), Some(&token), &[], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with("published: "), "{}", run.stdout);
        assert_eq!(proxy.seen("POST").len(), 1, "settled without re-sending");
        assert_eq!(h.registry.stored_versions("di"), 1);
    }

    #[test]
    fn a_5xx_after_the_registry_stored_it_settles_as_published() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let proxy = FaultProxy::start(&h.url(), "POST", vec![Fault::ForwardThenFail(502)]);
        let run = h.publish_to(&proxy.url(), Some(&token), &[], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with("published: "), "{}", run.stdout);
        assert_contains(&run.github_output, "result=published");
        assert_eq!(
            proxy.seen("POST").len(),
            1,
            "settled by reading back, not re-sent"
        );
        assert_eq!(h.registry.stored_versions("di"), 1);
    }

    #[test]
    fn a_stall_times_out_then_a_retry_succeeds() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let proxy = FaultProxy::start(
            &h.url(),
            "POST",
            vec![Fault::Stall(Duration::from_secs(20))],
        );
        let run = h.publish_to(&proxy.url(), Some(&token), &["--stall-timeout", "1"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(proxy.seen("POST").len(), 2);
        assert_eq!(h.registry.stored_versions("di"), 1);
    }

    #[test]
    fn a_stall_without_retries_exits_4_and_says_rerun_is_safe() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let proxy = FaultProxy::start(
            &h.url(),
            "POST",
            vec![Fault::Stall(Duration::from_secs(20))],
        );
        let run = h.publish_to(
            &proxy.url(),
            Some(&token),
            &["--stall-timeout", "1", "--retries", "0"],
            &[],
        );
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert_contains(&run.stderr, "no progress for 1s");
        assert_contains(&run.stderr, "a re-run is safe");
        assert!(run.github_output.contains("result=failed"));
    }

    #[test]
    fn retry_after_is_honoured() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let limited = Fault::Respond(
            429,
            vec![("retry-after", "2".to_string())],
            r#"{"error":{"code":"rate_limited","message":"slow down"}}"#.into(),
        );
        let proxy = FaultProxy::start(&h.url(), "POST", vec![limited]);
        let run = h.publish_to(&proxy.url(), Some(&token), &[], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let posts = proxy.seen("POST");
        assert_eq!(posts.len(), 2);
        assert!(
            posts[1].at - posts[0].at >= Duration::from_secs(2),
            "{:?}",
            posts[1].at - posts[0].at
        );
        assert_eq!(h.registry.stored_versions("di"), 1);
    }

    #[test]
    fn persistent_5xx_exits_4() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let proxy = FaultProxy::start(&h.url(), "POST", vec![unavailable(), unavailable()]);
        let run = h.publish_to(&proxy.url(), Some(&token), &["--retries", "1"], &[]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert_contains(&run.stderr, "unavailable after 2 attempt(s)");
        assert!(h.registry.version("di", "1.0.0").is_none());
    }

    #[test]
    fn tls_failures_are_not_retried() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        // TLS to a plain-http port fails in the handshake, every time.
        let https = h.url().replacen("http://", "https://", 1);
        let run = h.publish_to(&https, Some(&token), &["--retries", "3"], &[]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert_contains(&run.stderr, "TLS failed with `127.0.0.1`");
        assert_contains(&run.stderr, "TLS errors are not retried");
        assert!(h.registry.version("di", "1.0.0").is_none());
    }

    #[test]
    fn redirects_are_not_followed() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let moved = Fault::Respond(
            307,
            vec![("location", "http://127.0.0.1:9/elsewhere".to_string())],
            String::new(),
        );
        let proxy = FaultProxy::start(&h.url(), "POST", vec![moved]);
        let run = h.publish_to(&proxy.url(), Some(&token), &[], &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("redirect to `http://127.0.0.1:9/elsewhere`"),
            "{}",
            run.stderr
        );
        assert_eq!(proxy.seen("POST").len(), 1);
    }

    #[test]
    fn a_413_is_not_retried() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let too_large = Fault::Respond(
            413,
            vec![],
            r#"{"error":{"code":"package_too_large","message":"over the limit"}}"#.into(),
        );
        let proxy = FaultProxy::start(&h.url(), "POST", vec![too_large]);
        let run = h.publish_to(&proxy.url(), Some(&token), &[], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(proxy.seen("POST").len(), 1);
    }
}

mod forge_confirmation {
    use super::*;

    const GITHUB_TOKEN: &str = "ghs_forgecanary0123456789abcdefghijklmnopqr";

    /// A fake GitHub answering the tag ref lookup with `sha`, and the variables pointing at it.
    fn github(h: &Harness, sha: &str) -> (FaultProxy, Vec<(&'static str, String)>) {
        let answer =
            format!(r#"{{"ref":"refs/tags/v1.0.0","object":{{"type":"commit","sha":"{sha}"}}}}"#);
        let fake = FaultProxy::start(&h.url(), "GET", vec![Fault::Respond(200, vec![], answer)]);
        let env = vec![
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_REF", "refs/tags/v1.0.0".to_string()),
            ("GITHUB_REPOSITORY", "chuks/di".to_string()),
            ("GITHUB_SHA", h.repo.head()),
            ("GITHUB_API_URL", fake.url()),
        ];
        (fake, env)
    }

    fn run(h: &Harness, token: &str, env: &[(&'static str, String)], args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = h.publish(Some(token), args, &env);
        run.assert_never_shows(GITHUB_TOKEN);
        run
    }

    #[test]
    fn tag_at_the_published_commit_is_confirmed_before_upload() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let (fake, mut env) = github(&h, &h.repo.head());
        env.push(("GITHUB_TOKEN", GITHUB_TOKEN.to_string()));
        let run = run(&h, &token, &env, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "confirmed tag `v1.0.0` on GitHub");
        assert_contains(&run.github_output, "confirmed=true");
        assert_eq!(
            fake.seen("GET")[0].path,
            "/repos/chuks/di/git/ref/tags/v1.0.0"
        );
    }

    #[test]
    fn tag_elsewhere_on_the_forge_stops_the_upload() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let (_fake, mut env) = github(&h, &"f".repeat(40));
        env.push(("GITHUB_TOKEN", GITHUB_TOKEN.to_string()));
        let run = run(&h, &token, &env, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(&"f".repeat(40)) && run.stderr.contains(&h.repo.head()),
            "{}",
            run.stderr
        );
        assert!(h.registry.version("di", "1.0.0").is_none());
        assert_contains(&run.stdout, "::error");
    }

    #[test]
    fn missing_credentials_are_a_notice_under_auto_and_an_error_when_required() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let (fake, env) = github(&h, &h.repo.head());
        let run = run(&h, &token, &env, &["--confirm-tag", "required"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(h.registry.version("di", "1.0.0").is_none());
        let run = self::run(&h, &token, &env, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "GITHUB_TOKEN");
        assert!(fake.seen("GET").is_empty());
    }

    #[test]
    fn a_rehearsal_tag_not_created_yet_is_not_asked_of_the_forge() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let (fake, mut env) = github(&h, &h.repo.head());
        env.push(("GITHUB_TOKEN", GITHUB_TOKEN.to_string()));
        let run = run(&h, &token, &env, &["--tag", "1.0.0", "--dry-run"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "it is not created yet (a rehearsal)");
        assert!(fake.seen("GET").is_empty());
    }

    #[test]
    fn github_token_flag_is_masked_and_used() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let (fake, env) = github(&h, &h.repo.head());
        let run = run(&h, &token, &env, &["--github-token", GITHUB_TOKEN]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stdout.lines().next(),
            Some(format!("::add-mask::{GITHUB_TOKEN}").as_str())
        );
        assert_eq!(fake.seen("GET").len(), 1);
    }
}

mod preflight {
    use super::*;

    fn minted(h: &Harness, scopes: &[Scope], expires_in: jiff::SignedDuration) -> String {
        let issued = h
            .registry
            .mint_token(
                "alice",
                "GitHub Actions — di",
                scopes,
                jiff::Timestamp::now() + expires_in,
            )
            .unwrap();
        issued.token.expose().to_string()
    }

    fn diagnostics(run: &Run) -> String {
        run.stderr
            .lines()
            .filter(|line| line.starts_with("error") || line.starts_with("hint"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_ready_release_passes() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let run = h.registry_command("check", &token, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.starts_with("ready: di 1.0.0 from tag `v1.0.0`"),
            "{}",
            run.stdout
        );
        assert!(!run.stderr.contains("warning:"), "{}", run.stderr);
        let run = h.registry_command("check", &token, &["--format", "json"]);
        assert_eq!(
            run.json()["token"]["scopes"],
            serde_json::json!(["packages:publish"])
        );
    }

    #[test]
    fn missing_scope_names_the_scope_to_add() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesRead]);
        let run = h.registry_command("check", &token, &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        insta::assert_snapshot!(diagnostics(&run));
    }

    #[test]
    fn expiry_inside_the_window_warns_with_the_date() {
        let h = Harness::new("di", "1.0.0");
        let token = minted(
            &h,
            &[Scope::PackagesPublish],
            jiff::SignedDuration::from_hours(24 * 3 + 1),
        );
        // Made 27 days ago: a 30-day token in its last 3 days.
        let made = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 27);
        rusqlite::Connection::open(h.registry.database_path())
            .unwrap()
            .execute("UPDATE tokens SET created_at = ?1", [made.to_string()])
            .unwrap();
        let run = h.registry_command("check", &token, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "(in 3 days)");
        assert_contains(&run.stderr, "hint: rotate it before it expires");
        let run = h.registry_command("check", &token, &["--expiry-warning-days", "2"]);
        assert!(!run.stderr.contains("expires at"), "{}", run.stderr);
    }

    #[test]
    fn a_token_made_to_live_a_week_is_not_news_on_every_run() {
        let h = Harness::new("di", "1.0.0");
        let week = jiff::SignedDuration::from_hours(24 * 7);
        let token = minted(&h, &[Scope::PackagesPublish], week);
        let run = h.registry_command("check", &token, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("expires at"), "{}", run.stderr);
    }

    #[test]
    fn extra_scopes_warn_about_least_privilege() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish, Scope::PackagesYank]);
        let run = h.registry_command("check", &token, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("also holds `packages:yank` that this pipeline does not need"),
            "{}",
            run.stderr
        );
        // publish runs the same preflight.
        let run = h.publish(Some(&token), &[], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "also holds `packages:yank`");
    }

    #[test]
    fn revoked_and_expired_tokens_fail_with_their_dates() {
        let h = Harness::new("di", "1.0.0");
        let expired = minted(
            &h,
            &[Scope::PackagesPublish],
            jiff::SignedDuration::from_secs(-1),
        );
        let run = h.registry_command("check", &expired, &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert_contains(&run.stderr, "the token expired at 20");
        let revoked = h
            .registry
            .create_token("alice", "old", &[Scope::PackagesPublish], 30)
            .unwrap();
        h.registry.revoke_token(revoked.record.id).unwrap();
        let run = h.registry_command("check", revoked.token.expose(), &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert_contains(&run.stderr, "the token was revoked at 20");
    }

    #[test]
    fn whoami_describes_the_token_without_showing_it() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let run = h.registry_command("whoami", &token, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stdout, "publisher  alice");
        assert_contains(&run.stdout, "scopes     packages:publish");
        assert_contains(&run.stdout, "last used  20");
    }
}

mod prebuilt {
    use super::*;

    fn binary(h: &Harness, contents: &str) -> String {
        let path = h.sinks.path().join("libdi.so");
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn upload_reupload_and_conflict() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let file = binary(&h, "ELF pretend binary v1");
        let prebuilt = ["--prebuilt", "--platform", "linux-x86_64", "--file", &file];

        let run = h.publish(Some(&token), &prebuilt, &[]);
        assert_eq!(run.code, 1, "the source must come first: {}", run.stderr);
        assert!(
            run.stderr
                .contains("a prebuilt needs its source version published first"),
            "{}",
            run.stderr
        );

        assert_eq!(h.publish(Some(&token), &[], &[]).code, 0);
        let run = h.publish(Some(&token), &prebuilt, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout
                .starts_with("published: di 1.0.0 (linux-x86_64 prebuilt)"),
            "{}",
            run.stdout
        );
        assert!(run.github_output.contains("platform=linux-x86_64"));
        let record = h.registry.version("di", "1.0.0").unwrap();
        assert_eq!(record["prebuilts"][0]["platform"], "linux-x86_64");

        let run = h.publish(Some(&token), &prebuilt, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with("unchanged: "), "{}", run.stdout);

        binary(&h, "ELF pretend binary v2");
        let run = h.publish(Some(&token), &prebuilt, &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_contains(
            &run.stderr,
            "the `linux-x86_64` prebuilt of `di` 1.0.0 is already published with different contents",
        );
        assert_eq!(
            h.registry.version("di", "1.0.0").unwrap()["prebuilts"],
            record["prebuilts"]
        );
        // The hint names the flag for a rebuilt binary, and following it succeeds.
        assert_contains(&run.stderr, "pass `--if-exists skip`");
        assert!(!run.stderr.contains("tarball"), "{}", run.stderr);
        let skip = [prebuilt.as_slice(), &["--if-exists", "skip"]].concat();
        let run = h.publish(Some(&token), &skip, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with("exists: "), "{}", run.stdout);
    }

    #[test]
    fn unknown_platform_is_a_usage_error() {
        let h = Harness::new("di", "1.0.0");
        let token = h.token(&[Scope::PackagesPublish]);
        let file = binary(&h, "x");
        let args = ["--prebuilt", "--platform", "linux-riscv64", "--file", &file];
        let run = h.publish(Some(&token), &args, &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_contains(&run.stderr, "unknown platform `linux-riscv64`");
    }
}

mod yank {
    use super::*;

    #[test]
    fn yank_and_restore_round_trip() {
        let h = Harness::new("di", "1.0.0");
        let publish = h.token(&[Scope::PackagesPublish]);
        assert_eq!(h.publish(Some(&publish), &[], &[]).code, 0);
        let yank = h.token(&[Scope::PackagesYank]);

        let run = h.registry_command("yank", &yank, &[]);
        assert_eq!(
            (run.code, run.stdout.trim()),
            (0, "yanked: di 1.0.0"),
            "{}",
            run.stderr
        );
        assert_eq!(h.registry.version("di", "1.0.0").unwrap()["yanked"], true);
        let run = h.registry_command("yank", &yank, &["1.0.0"]);
        assert_eq!(
            (run.code, run.stdout.trim()),
            (0, "unchanged: di 1.0.0 was already yanked")
        );
        let run = h.registry_command("restore", &yank, &["1.0.0"]);
        assert_eq!(
            (run.code, run.stdout.trim()),
            (0, "restored: di 1.0.0"),
            "{}",
            run.stderr
        );
        assert_eq!(h.registry.version("di", "1.0.0").unwrap()["yanked"], false);
    }

    #[test]
    fn yank_needs_the_yank_scope() {
        let h = Harness::new("di", "1.0.0");
        let publish = h.token(&[Scope::PackagesPublish]);
        assert_eq!(h.publish(Some(&publish), &[], &[]).code, 0);
        let run = h.registry_command("yank", &publish, &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("generate a token with the `packages:yank` scope"),
            "{}",
            run.stderr
        );
        assert_eq!(h.registry.version("di", "1.0.0").unwrap()["yanked"], false);
    }
}

mod other_forges {
    use super::*;

    const JOB_TOKEN: &str = "glcbt-jobcanary0123456789abcdefghij";
    const BITBUCKET_TOKEN: &str = "bbcanary0123456789abcdefghijklmnopqrstuv";

    fn publish_with(
        h: &Harness,
        answer: String,
        env: Vec<(&'static str, String)>,
    ) -> (Run, FaultProxy) {
        let token = h.token(&[Scope::PackagesPublish]);
        let fake = FaultProxy::start(&h.url(), "GET", vec![Fault::Respond(200, vec![], answer)]);
        let mut env = env;
        for (_, value) in env.iter_mut() {
            *value = value.replace("{fake}", &fake.url());
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = h.publish(Some(&token), &[], &env);
        run.assert_never_shows(JOB_TOKEN);
        run.assert_never_shows(BITBUCKET_TOKEN);
        (run, fake)
    }

    #[test]
    fn gitlab_job_token_confirms_the_tag_and_never_shows() {
        let h = Harness::new("di", "1.0.0");
        let head = h.repo.head();
        let answer = format!(
            r#"{{"name":"v1.0.0","target":"{}","commit":{{"id":"{head}"}}}}"#,
            "a".repeat(40)
        );
        let env = vec![
            ("GITLAB_CI", "true".to_string()),
            ("CI_API_V4_URL", "{fake}/api/v4".to_string()),
            ("CI_PROJECT_ID", "42".to_string()),
            ("CI_COMMIT_SHA", head.clone()),
            ("CI_COMMIT_TAG", "v1.0.0".to_string()),
            ("CI_JOB_TOKEN", JOB_TOKEN.to_string()),
        ];
        let (run, fake) = publish_with(&h, answer, env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "confirmed tag `v1.0.0` on GitLab");
        assert_eq!(
            fake.seen("GET")[0].path,
            "/api/v4/projects/42/repository/tags/v1.0.0"
        );
        assert_contains(&run.dotenv, "CHUKS_CONFIRMED=true");
    }

    #[test]
    fn bitbucket_token_confirms_the_tag_and_never_shows() {
        let h = Harness::new("di", "1.0.0");
        let head = h.repo.head();
        let answer = format!(r#"{{"name":"v1.0.0","target":{{"hash":"{head}"}}}}"#);
        let env = vec![
            ("BITBUCKET_REPO_FULL_NAME", "chuks/di".to_string()),
            ("BITBUCKET_COMMIT", head.clone()),
            ("BITBUCKET_TAG", "v1.0.0".to_string()),
            ("BITBUCKET_ACCESS_TOKEN", BITBUCKET_TOKEN.to_string()),
            ("CHUKS_BITBUCKET_API_URL", "{fake}/2.0".to_string()),
        ];
        let (run, fake) = publish_with(&h, answer, env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains(&run.stderr, "confirmed tag `v1.0.0` on Bitbucket");
        assert_eq!(
            fake.seen("GET")[0].path,
            "/2.0/repositories/chuks/di/refs/tags/v1.0.0"
        );
    }
}
