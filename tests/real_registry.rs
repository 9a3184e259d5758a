//! `chuks-ci` against a stand-in for the real Chuks registry, which offers only what is known of
//! it: the upload routes, 409 with a plain-text body on every overwrite, and 404 for the rest.
//! Releases and their re-runs must both end well, with honest results.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use common::assert_contains;

use common::real_registry::RealRegistryStandIn;
use common::registry::TestRegistry;
use common::{PackageRepo, outputs};
use serde_json::Value;

const TOKEN: &str = "chuks_pk_StandInToken0123456789abcdefghij";

/// A pushed, tagged package repository.
fn release(name: &str, version: &str) -> PackageRepo {
    let repo = PackageRepo::new(name, version);
    repo.tag(&format!("v{version}"));
    repo.push();
    repo
}

/// `chuks-ci publish --format json` with the token in `CHUKS_TOKEN`: (exit code, result, stderr).
fn publish(repo: &PackageRepo, registry: &str, extra: &[&str]) -> (i32, Value, String) {
    let output = repo
        .chuks_ci()
        .env("CHUKS_TOKEN", TOKEN)
        .env("CHUKS_REGISTRY_URL", registry)
        .args(["--format", "json", "publish"])
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "token leaked"
    );
    let json = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|err| panic!("{err}: {stdout}\n{stderr}"));
    (output.status.code().unwrap(), json, stderr)
}

fn human(repo: &PackageRepo, registry: &str, args: &[&str]) -> (i32, String, String) {
    let output = repo
        .chuks_ci()
        .env("CHUKS_TOKEN", TOKEN)
        .env("CHUKS_REGISTRY_URL", registry)
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = outputs(&output);
    (output.status.code().unwrap(), stdout, stderr)
}

#[test]
fn a_release_and_its_rerun_both_end_well() {
    let registry = RealRegistryStandIn::start();
    let repo = release("di", "1.0.0");

    let (code, first, stderr) = publish(&repo, registry.url(), &[]);
    assert_eq!(code, 0, "{first}\n{stderr}");
    assert_eq!(first["result"], "published", "{first}");
    assert_eq!(first["confirmed"], "false", "{first}");
    assert!(registry.holds("di", "1.0.0", None));
    let human_first = human(&repo, registry.url(), &["publish", "--dry-run"]).2;
    assert_eq!(
        human_first.matches("token not checked").count(),
        1,
        "one notice for the skipped preflight:\n{human_first}"
    );

    let (code, again, stderr) = publish(&repo, registry.url(), &[]);
    assert_eq!(code, 0, "{again}\n{stderr}");
    assert_eq!(again["result"], "exists", "{again}");
    let warnings: Vec<&Value> = again["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["severity"] == "warning")
        .collect();
    assert!(
        warnings.iter().any(|w| w["message"]
            .as_str()
            .unwrap()
            .contains("did not say what it holds, so the contents were not compared")),
        "{again}"
    );
    let (code, strict, _) = publish(&repo, registry.url(), &["--if-exists", "error"]);
    assert_eq!(code, 1, "{strict}");
    assert_eq!(strict["result"], "failed", "{strict}");

    for request in registry.requests() {
        assert!(request.path.starts_with("/api/"), "{request:?}");
    }
}

#[test]
fn the_first_publish_says_it_was_not_confirmed() {
    let registry = RealRegistryStandIn::start();
    let repo = release("di", "1.0.0");
    let (code, stdout, stderr) = human(&repo, registry.url(), &["publish"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("published: di 1.0.0 (tag `v1.0.0`)"),
        "{stdout}"
    );
    assert!(!stdout.contains("confirmed:"), "{stdout}");
    assert_contains(
        &stderr,
        "not confirmed: this registry does not offer a read-back",
    );
    assert_eq!(stderr.matches("token not checked").count(), 1, "{stderr}");
}

#[test]
fn check_passes_with_the_token_unchecked() {
    let registry = RealRegistryStandIn::start();
    let repo = release("di", "1.0.0");
    let (code, stdout, stderr) = human(&repo, registry.url(), &["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stdout, "the token is unchecked");
}

#[test]
fn whoami_and_yank_say_in_one_line_what_the_registry_lacks() {
    let registry = RealRegistryStandIn::start();
    let repo = release("di", "1.0.0");
    for args in [&["whoami"][..], &["yank"], &["restore", "1.0.0"]] {
        let (code, _, stderr) = human(&repo, registry.url(), args);
        assert_eq!(code, 4, "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("this registry does not offer"),
            "{stderr}"
        );
        assert!(!stderr.contains("debug:"), "{stderr}");
    }
}

#[test]
fn the_registry_flag_beats_the_variable_and_the_variable_beats_the_default() {
    let flagged = RealRegistryStandIn::start();
    let variable = RealRegistryStandIn::start();
    let repo = release("di", "1.0.0");
    let (code, json, stderr) = publish(&repo, variable.url(), &["--registry", flagged.url()]);
    assert_eq!(code, 0, "{json}\n{stderr}");
    assert!(flagged.holds("di", "1.0.0", None));
    assert!(variable.requests().is_empty());
    let (_, json, _) = publish(&repo, variable.url(), &["--dry-run"]);
    assert_eq!(json["registry"], variable.url(), "{json}");
    let output = repo
        .chuks_ci()
        .args(["--format", "json", "publish", "--dry-run"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_str(outputs(&output).0.lines().last().unwrap()).unwrap();
    assert_eq!(
        json["registry"], "https://registry.chuks.org/backend",
        "{json}"
    );
}

mod reference_registry {
    use super::*;
    use chuks_ci::token::Scope;

    #[test]
    fn identical_bytes_are_unchanged_other_bytes_fail_and_skip_lets_them_be() {
        let registry = TestRegistry::start();
        let token = registry.token("alice", &[Scope::PackagesPublish]);
        let repo = release("di", "1.0.0");
        let run = |extra: &[&str]| {
            let output = repo
                .chuks_ci()
                .env("CHUKS_TOKEN", &token)
                .env("CHUKS_REGISTRY_URL", registry.url())
                .args(["--format", "json", "publish"])
                .args(extra)
                .output()
                .unwrap();
            let json: Value =
                serde_json::from_str(outputs(&output).0.lines().last().unwrap()).unwrap();
            (output.status.code().unwrap(), json)
        };
        assert_eq!(run(&[]).1["result"], "published");
        assert_eq!(run(&[]).1["result"], "unchanged");
        assert_eq!(run(&["--if-exists", "error"]).1["result"], "unchanged");

        repo.write(
            "src/index.chuks",
            "export function answer(): int { return 43 }\n",
        );
        repo.commit("other bytes, same version");
        repo.git(&["tag", "-f", "v1.0.0"]);
        repo.push();
        let (code, json) = run(&[]);
        assert_eq!(
            (code, json["result"].as_str()),
            (1, Some("failed")),
            "{json}"
        );
        let (code, json) = run(&["--if-exists", "skip"]);
        assert_eq!(
            (code, json["result"].as_str()),
            (0, Some("exists")),
            "{json}"
        );
        assert_eq!(json["confirmed"], "false", "{json}");
    }
}
