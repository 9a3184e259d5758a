//! `chuks-ci publish`: verify the tag, confirm it on the forge, check the token, pack (or take a
//! prebuilt binary), upload with safe re-runs, read the version back, and report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tempfile::NamedTempFile;

use super::{Connection, registry_client};
use crate::ci::{self, outputs::Outputs};
use crate::cli::PublishArgs;
use crate::confirm;
use crate::exit::{self, Exit};
use crate::manifest::Manifest;
use crate::pack::{self, human_bytes};
use crate::platform;
use crate::registry_client::{Artifact, GitInfo, PublishOutcome, Upload, VersionRecord};
use crate::registry_server::{Registry, RegistryConfig, RunningRegistry};
use crate::report::{Format, Problem, Reporter};
use crate::token::{ApiToken, Scope};
use crate::verify::{self, Findings};

/// The publisher that `--local-registry` publishes as.
const LOCAL_PUBLISHER: &str = "local";

/// How long the token minted for `--local-registry` lives: past the expiry-warning window.
const LOCAL_TOKEN_DAYS: i64 = 30;

/// What a publish found and did, filled in as it goes so failures still report what was known.
#[derive(Debug, Default)]
struct Report {
    outputs: Outputs,
    /// The registry kept an earlier publish's tag and commit for these same bytes.
    first_publish_git: bool,
    file_count: Option<usize>,
    size: Option<u64>,
    record: Option<VersionRecord>,
}

/// The file to upload: a packed tarball in a temp file, or a prebuilt binary the user built.
enum Payload {
    Tarball(NamedTempFile),
    Binary {
        path: PathBuf,
        platform: &'static str,
    },
}

impl Payload {
    fn path(&self) -> &Path {
        match self {
            Payload::Tarball(file) => file.path(),
            Payload::Binary { path, .. } => path,
        }
    }
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
    // Masks must precede every other line in GitHub Actions, so the secrets are read first.
    let forge = super::forge_detection(&args.forge, reporter);
    let token = match args.local_registry {
        Some(_) => None,
        None => super::api_token(&args.access.token, reporter)?,
    };
    let manifest = Manifest::load(&args.manifest.manifest)?;
    report.outputs.set("name", &manifest.name);
    report.outputs.set("version", manifest.version.to_string());

    let rehearsal = args.dry_run || args.local_registry.is_some();
    let mut findings = Findings::default();
    let verified = verify::verify(&manifest, &args.tag, rehearsal, reporter, &mut findings);
    if let Some(tag) = &findings.tag {
        report.outputs.set("tag", &tag.name);
    }
    verified?;
    let runtime = super::runtime()?;
    if findings.tag_not_created_yet {
        reporter.note("tag not confirmed on the forge: it is not created yet (a rehearsal)");
    } else if let Some(tag) = &findings.tag {
        super::confirm_tag_on_forge(
            &runtime,
            &args.forge,
            &forge,
            &tag.name,
            &args.access.network,
            reporter,
        )?;
    }

    let payload = prepare_payload(args, &manifest, reporter, report)?;
    let (sha256, size) = (
        report.outputs.get("sha256").unwrap_or_default().to_string(),
        report.size.unwrap_or_default(),
    );

    if args.dry_run {
        dry_run(args, token, &runtime, reporter, report)?;
        return Ok(());
    }
    let (registry_url, token, _local) = match &args.local_registry {
        Some(dir) => {
            let (local, token) = start_local_registry(dir, reporter)?;
            (
                registry_client::parse_registry_url(local.url())?,
                Some(token),
                Some(local),
            )
        }
        None => (super::registry_url(&args.access.registry)?, token, None),
    };
    report
        .outputs
        .set("registry", registry_url.as_str().trim_end_matches('/'));
    let connection = Connection::open(registry_url, token, &args.access.network, reporter)?;
    super::preflight_publish_token(&runtime, &connection, &args.preflight, reporter)?;

    let git = git_info(&manifest, &findings);
    let version = manifest.version.to_string();
    let upload = Upload {
        name: &manifest.name,
        version: &version,
        artifact: match &payload {
            Payload::Tarball(_) => Artifact::Source {
                manifest: &manifest.document,
                git: &git,
            },
            Payload::Binary { platform, .. } => Artifact::Prebuilt { platform },
        },
        file: payload.path(),
        sha256: &sha256,
        size,
    };
    let (progress, bar) = crate::progress::for_upload(size, reporter.format == Format::Json);
    let outcome = runtime.block_on(connection.client.publish(&upload, progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let unchanged = outcome? == PublishOutcome::Unchanged;
    report
        .outputs
        .set("result", if unchanged { "unchanged" } else { "published" });
    report.outputs.set("confirmed", "false");

    let wait = Duration::from_secs(args.confirm_timeout);
    let record = runtime.block_on(confirm::read_back(
        &connection.client,
        &upload,
        !unchanged,
        wait,
    ))?;
    report.first_publish_git = !confirm::records_our_git(&record, upload.git());
    if report.first_publish_git {
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

/// Everything but the upload: with a token for a remote registry, the token preflight too.
fn dry_run(
    args: &PublishArgs,
    token: Option<ApiToken>,
    runtime: &tokio::runtime::Runtime,
    reporter: &mut Reporter,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.outputs.set("result", "dry-run");
    let registry = match &args.local_registry {
        Some(dir) => format!("a local registry in `{}`", dir.display()),
        None => {
            let url = super::registry_url(&args.access.registry)?;
            report
                .outputs
                .set("registry", url.as_str().trim_end_matches('/'));
            if token.is_some() {
                let connection =
                    Connection::open(url.clone(), token, &args.access.network, reporter)?;
                super::preflight_publish_token(runtime, &connection, &args.preflight, reporter)?;
            }
            url.to_string()
        }
    };
    reporter.note(format!("dry run: not uploading to {registry}"));
    Ok(())
}

/// Packs the source, or takes the prebuilt binary as it is; records the digest either way.
fn prepare_payload(
    args: &PublishArgs,
    manifest: &Manifest,
    reporter: &Reporter,
    report: &mut Report,
) -> anyhow::Result<Payload> {
    if args.prebuilt {
        let platform = platform::resolve(&args.platform)?;
        let path = args.file.clone().unwrap_or_default();
        let (sha256, size) = pack::file_digest(&path).map_err(|err| {
            anyhow::anyhow!(
                "cannot read the prebuilt `{}`: {err}\nhint: build it first, and pass its path with `--file`",
                path.display()
            )
        })?;
        report.outputs.set("platform", platform);
        report.outputs.set("sha256", sha256);
        report.size = Some(size);
        return Ok(Payload::Binary { path, platform });
    }
    let plan = pack::plan(manifest.package_dir(), &args.pack, None)?;
    let (file, tarball) = pack::write_tempfile(&plan, &std::env::temp_dir())?;
    reporter.note(format!(
        "packed {} {}: {} files, {} ({} unpacked), sha256 {}",
        manifest.name,
        manifest.version,
        tarball.file_count,
        human_bytes(tarball.size),
        human_bytes(tarball.unpacked_size),
        tarball.sha256
    ));
    report.outputs.set("sha256", &tarball.sha256);
    report.size = Some(tarball.size);
    report.file_count = Some(tarball.file_count);
    Ok(Payload::Tarball(file))
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
        LOCAL_TOKEN_DAYS,
    )?;
    reporter.note(format!(
        "started the reference registry at {} (data in `{}`), token #{} with scope `packages:publish`",
        local.url(),
        dir.display(),
        issued.record.id
    ));
    Ok((local, issued.token))
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
            object.insert("size".into(), json!(report.size));
            object.insert("file_count".into(), json!(report.file_count));
            object.insert("record".into(), json!(report.record));
            object.insert("problems".into(), json!(reporter.problems()));
            crate::report::print_json(&serde_json::Value::Object(object));
        }
        Format::Human if exit == Exit::Success => {
            let what = match outputs.get("platform") {
                Some(platform) => format!(
                    "{} {} ({platform} prebuilt)",
                    field("name"),
                    field("version")
                ),
                None => format!("{} {}", field("name"), field("version")),
            };
            println!(
                "{}: {what} (tag `{}`) at {}",
                field("result"),
                crate::redact::redact(field("tag")),
                field("registry")
            );
            if field("confirmed") == "true" {
                let recorded = if outputs.get("platform").is_some() {
                    "with our sha256"
                } else if report.first_publish_git {
                    "with our sha256 (its tag and commit are from the first publish)"
                } else {
                    "with our sha256, tag and commit"
                };
                println!("confirmed: the registry serves it {recorded}");
            }
            match &report.record {
                Some(record) => {
                    println!(
                        "  sha256 {}, {} bytes, published by {} at {}",
                        field("sha256"),
                        report.size.unwrap_or_default(),
                        record.publisher,
                        record.published_at
                    );
                    if let (Some(tag), Some(commit)) = (&record.git.tag, &record.git.commit) {
                        let tag = crate::redact::redact(tag);
                        println!("  recorded tag `{tag}` at commit {commit}");
                    }
                }
                None => println!(
                    "  sha256 {}, {} bytes",
                    field("sha256"),
                    report.size.unwrap_or_default()
                ),
            }
        }
        Format::Human => {}
    }
}
