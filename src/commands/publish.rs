//! `chuks-ci publish`: verify the tag, pack, upload with safe re-runs, read back, report.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::ci::{self, outputs::Outputs};
use crate::cli::{NetworkArgs, PublishArgs};
use crate::confirm::{self, Expected};
use crate::exit::{self, Exit};
use crate::forge;
use crate::manifest::Manifest;
use crate::pack::{self, TarballSummary, human_bytes};
use crate::registry_client::parse_registry_url;
use crate::registry_client::{
    ClientOptions, GitInfo, PublishOutcome, RegistryClient, SourceUpload, VersionRecord,
};
use crate::registry_server::{EXPIRY_DAYS, Registry, RegistryConfig, RunningRegistry};
use crate::report::{Format, Problem, Reporter};
use crate::retry::RetryPolicy;
use crate::token;
use crate::token::{ApiToken, Scope};
use crate::verify::{self, Findings};

/// The publisher that `--local-registry` publishes as.
const LOCAL_PUBLISHER: &str = "local";

/// What a publish found and did, filled in as it goes so failures still report what was known.
#[derive(Debug, Default)]
struct Report {
    outputs: Outputs,
    tarball: Option<TarballSummary>,
    record: Option<VersionRecord>,
}

pub fn run(args: &PublishArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let mut report = Report::default();
    let result = publish(args, reporter, &mut report);
    let exit = match &result {
        Ok(()) => Exit::Success,
        Err(err) => {
            reporter.report(Problem::from_error(err));
            report.outputs.set("result", "failed");
            exit::classify(err)
        }
    };
    write_ci_outputs(args, &report, reporter);
    print_result(&report, reporter, exit);
    Ok(exit)
}

fn publish(args: &PublishArgs, reporter: &mut Reporter, report: &mut Report) -> anyhow::Result<()> {
    // The mask must precede every other line in GitHub Actions, so the token is read first.
    let forge = super::forge_detection(&args.forge, reporter);
    let token = super::api_token(&args.token, reporter)?;
    let manifest = Manifest::load(&args.manifest.manifest)?;
    report.outputs.set("name", &manifest.name);
    report.outputs.set("version", manifest.version.to_string());

    let mut findings = Findings::default();
    let verified = verify::verify(&manifest, &args.tag, reporter, &mut findings);
    if let Some(tag) = &findings.tag {
        report.outputs.set("tag", &tag.name);
    }
    verified?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if let Some(tag) = &findings.tag {
        let policy = retry_policy(&args.network);
        let outcome = runtime.block_on(forge::confirm(
            args.forge.confirm_tag,
            &forge,
            &tag.name,
            &policy,
        ))?;
        super::report_forge_outcome(outcome, reporter);
    }

    let plan = pack::plan(manifest.package_dir(), &args.pack, None)?;
    let (tarball_file, tarball) = pack::write_tempfile(&plan, &std::env::temp_dir())?;
    report.outputs.set("sha256", &tarball.sha256);
    reporter.note(format!(
        "packed {} {}: {} files, {} ({} unpacked), sha256 {}",
        manifest.name,
        manifest.version,
        tarball.file_count,
        human_bytes(tarball.size),
        human_bytes(tarball.unpacked_size),
        tarball.sha256
    ));
    let tarball = report.tarball.insert(tarball);

    let (registry_url, token, _local) = match &args.local_registry {
        Some(dir) => {
            let (local, token) = start_local_registry(dir, reporter)?;
            (parse_registry_url(local.url())?, Some(token), Some(local))
        }
        None => (registry_url(args)?, token, None),
    };
    report.outputs.set("registry", registry_url.as_str());

    if args.dry_run {
        report.outputs.set("result", "dry-run");
        reporter.note(format!("dry run: not uploading to {registry_url}"));
        return Ok(());
    }
    let token = token.ok_or(token::TokenError::Missing)?;
    let options = client_options(&args.network, reporter.verbosity() >= 2);
    let client = RegistryClient::new(registry_url, Some(token), options)?;
    let git = git_info(&manifest, &findings);
    let upload = SourceUpload {
        name: &manifest.name,
        version: &manifest.version.to_string(),
        manifest: &manifest.document,
        git: &git,
        tarball: tarball_file.path(),
        sha256: &tarball.sha256,
        size: tarball.size,
    };
    let (progress, bar) =
        crate::progress::for_upload(tarball.size, reporter.format == Format::Json);
    let outcome = runtime.block_on(client.publish(&upload, progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (result, unchanged) = match outcome? {
        PublishOutcome::Published(_) => ("published", false),
        PublishOutcome::Unchanged(_) => ("unchanged", true),
    };
    report.outputs.set("result", result);
    report.outputs.set("confirmed", "false");

    let expected = Expected {
        name: upload.name,
        version: upload.version,
        sha256: upload.sha256,
        git: &git,
        git_must_match: !unchanged,
    };
    let wait = Duration::from_secs(args.confirm_timeout);
    let record = runtime.block_on(confirm::read_back(&client, &expected, wait))?;
    if !confirm::records_our_git(&record, &git) {
        reporter.report(
            Problem::warning(format!(
                "{} {} was first published from tag `{}` at commit {}; this run's contents are identical",
                record.name,
                record.version,
                record.git.tag.as_deref().unwrap_or("(none)"),
                record.git.commit.as_deref().unwrap_or("(none)")
            ))
            .with_hint("nothing to do: the registry keeps the first publish's git details"),
        );
    }
    report.outputs.set("confirmed", "true");
    report.record = Some(record);
    Ok(())
}

/// Starts the reference registry in this process and mints a publish-only token for the run,
/// the same kind of token a CI pipeline should hold.
fn start_local_registry(
    dir: &Path,
    reporter: &Reporter,
) -> anyhow::Result<(RunningRegistry, ApiToken)> {
    let local = Registry::start(RegistryConfig::new(dir))?;
    let issued = local.create_token(
        LOCAL_PUBLISHER,
        "chuks-ci publish --local-registry",
        &[Scope::PackagesPublish],
        EXPIRY_DAYS.start().to_owned(),
    )?;
    reporter.note(format!(
        "started the reference registry at {} (data in `{}`), token #{} with scope `packages:publish`",
        local.url(),
        dir.display(),
        issued.record.id
    ));
    Ok((local, issued.token))
}

fn registry_url(args: &PublishArgs) -> anyhow::Result<reqwest::Url> {
    let text = args
        .registry
        .registry
        .clone()
        .or_else(|| {
            std::env::var("CHUKS_REGISTRY")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| crate::registry_client::DEFAULT_REGISTRY.to_string());
    Ok(parse_registry_url(&text)?)
}

pub fn client_options(network: &NetworkArgs, trace_http: bool) -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(network.connect_timeout),
        stall_timeout: Duration::from_secs(network.stall_timeout),
        retry: retry_policy(network),
        trace_http,
    }
}

pub fn retry_policy(network: &NetworkArgs) -> RetryPolicy {
    RetryPolicy {
        retries: network.retries,
        ..RetryPolicy::default()
    }
}

/// The tag, commit and repository the registry records with the version.
fn git_info(manifest: &Manifest, findings: &Findings) -> GitInfo {
    GitInfo {
        tag: findings.tag.as_ref().map(|t| t.name.clone()),
        commit: findings
            .repo
            .as_ref()
            .and_then(|r| r.head.clone())
            .or_else(ci::commit_from_env),
        repository: ci::repository_from_env().or_else(|| manifest_repository(manifest)),
    }
}

fn manifest_repository(manifest: &Manifest) -> Option<String> {
    let repository = manifest.document.get("repository")?;
    repository
        .as_str()
        .or_else(|| repository.get("url").and_then(|u| u.as_str()))
        .map(str::to_string)
}

fn write_ci_outputs(args: &PublishArgs, report: &Report, reporter: &mut Reporter) {
    let mut failures = Vec::new();
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        if let Err(err) = report.outputs.append_github_output(path.as_ref()) {
            failures.push(format!("`GITHUB_OUTPUT`: {err}"));
        }
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        if let Err(err) = report
            .outputs
            .append_step_summary(path.as_ref(), "chuks-ci publish")
        {
            failures.push(format!("`GITHUB_STEP_SUMMARY`: {err}"));
        }
    }
    if let Some(path) = &args.dotenv {
        if let Err(err) = report.outputs.write_dotenv(path) {
            failures.push(format!("`{}`: {err}", path.display()));
        }
    }
    for failure in failures {
        reporter.report(
            Problem::warning(format!("could not write {failure}"))
                .with_hint("check that the path is writable"),
        );
    }
}

fn print_result(report: &Report, reporter: &Reporter, exit: Exit) {
    let outputs = &report.outputs;
    let field = |key| outputs.get(key).unwrap_or_default();
    match reporter.format {
        Format::Json => {
            let mut object = serde_json::Map::new();
            for (key, value) in outputs.pairs() {
                object.insert(key.to_string(), json!(value));
            }
            object.insert("exit_code".into(), json!(exit as u8));
            if let Some(tarball) = &report.tarball {
                object.insert("size".into(), json!(tarball.size));
                object.insert("file_count".into(), json!(tarball.file_count));
            }
            object.insert("record".into(), json!(report.record));
            object.insert("problems".into(), json!(reporter.problems()));
            crate::report::print_json(&serde_json::Value::Object(object));
        }
        Format::Human if exit == Exit::Success => {
            println!(
                "{}: {} {} (tag `{}`) at {}",
                field("result"),
                field("name"),
                field("version"),
                field("tag"),
                field("registry")
            );
            if field("confirmed") == "true" {
                println!("confirmed: the registry serves it with our sha256, tag and commit");
            }
            if let Some(record) = &report.record {
                println!(
                    "  sha256 {}, {} bytes, published by {} at {}",
                    record.sha256, record.size, record.publisher, record.published_at
                );
                if let (Some(tag), Some(commit)) = (&record.git.tag, &record.git.commit) {
                    println!("  recorded tag `{tag}` at commit {commit}");
                }
            } else if let Some(tarball) = &report.tarball {
                println!(
                    "  sha256 {}, {} bytes, {} files",
                    tarball.sha256, tarball.size, tarball.file_count
                );
            }
        }
        Format::Human => {}
    }
}
