//! `chuks-ci publish`: verify the tag, confirm it on the forge, check the token, pack (or take a
//! prebuilt binary), upload with safe re-runs, read the version back, and report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::NamedTempFile;

use super::context::{self, ForgeCheck, ReleaseContext};
use super::exit::{self, Exit};
use crate::ci::{self, outputs::Sinks};
use crate::cli::{IfExists, PublishArgs};
use crate::manifest::Manifest;
use crate::pack::{self, human_bytes};
use crate::prebuilt;
use crate::publish_report::{PublishReport, PublishResult};
use crate::readback::{self, ReadBackError};
use crate::registry_client::{
    self, Artifact, ClientError, GitInfo, PublishOutcome, RegistryClient, Upload, VersionRecord,
};
use crate::registry_server::{Registry, RegistryConfig, RunningRegistry};
use crate::report::{Format, Problem, Reporter};
use crate::token::{ApiToken, Scope};
use crate::verify::{self, Findings};

/// The publisher that `--local-registry` publishes as.
const LOCAL_PUBLISHER: &str = "local";

/// How long the token minted for `--local-registry` lives: past the expiry-warning window.
const LOCAL_TOKEN_DAYS: i64 = 30;

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

/// The registry a run uploads to, and the local one it started, kept alive for the run.
struct Destination {
    client: RegistryClient,
    _local: Option<RunningRegistry>,
}

pub fn run(args: &PublishArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let mut report = PublishReport::default();
    let result = publish(args, reporter, &mut report);
    let exit = match &result {
        Ok(()) => Exit::Success,
        Err(err) => {
            reporter.report(super::problem_of(err));
            report.result = Some(PublishResult::Failed);
            exit::classify(err)
        }
    };
    write_ci_outputs(args, &report, reporter);
    print_result(&report, reporter, exit);
    Ok(exit)
}

fn publish(
    args: &PublishArgs,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    // Masks must precede every other line in GitHub Actions, so the secrets are read first.
    let forge = ForgeCheck::detect(&args.forge, reporter);
    let token = match args.local_registry {
        Some(_) => None,
        None => context::api_token(&args.access.token, reporter)?,
    };
    let manifest = Manifest::load(&args.manifest.manifest)?;
    report.name = Some(manifest.name.clone());
    report.version = Some(manifest.version.to_string());
    let findings = verify_release(args, &manifest, reporter, report)?;
    let context = ReleaseContext::new(&args.access.network, reporter)?;
    confirm_tag(&context, &forge, &findings, reporter)?;
    let payload = prepare_payload(args, &manifest, reporter, report)?;
    if args.dry_run {
        return dry_run(args, token, &context, reporter, report);
    }
    let destination = open_destination(args, token, &context, reporter, report)?;
    let git = git_info(&manifest, &findings);
    let version = manifest.version.to_string();
    let sha256 = report.sha256.clone().unwrap_or_default();
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
        size: report.size.unwrap_or_default(),
    };
    let sent = send(&context, &destination.client, &upload, reporter);
    let result = settle_existing(args.if_exists, sent, reporter)?;
    report.result = Some(result);
    report.confirmed = Some(false);
    if result == PublishResult::Exists {
        return Ok(());
    }
    let Some(record) = read_back(
        args,
        &context,
        &destination.client,
        &upload,
        result,
        reporter,
    )?
    else {
        return Ok(());
    };
    note_first_publish_git(&record, &upload, reporter, report);
    report.confirmed = Some(true);
    report.record = Some(record);
    Ok(())
}

/// Applies `--if-exists` to what the upload found. A version the registry holds with our bytes
/// is `unchanged` in every mode; one it holds without saying what, or (under `skip`) with other
/// bytes, is `exists` with a warning, except under `error`.
fn settle_existing(
    mode: IfExists,
    sent: anyhow::Result<PublishOutcome>,
    reporter: &mut Reporter,
) -> anyhow::Result<PublishResult> {
    let err = match sent {
        Ok(PublishOutcome::Published) => return Ok(PublishResult::Published),
        Ok(PublishOutcome::Unchanged) => return Ok(PublishResult::Unchanged),
        Err(err) => err,
    };
    let let_be = match (mode, err.downcast_ref::<ClientError>()) {
        (IfExists::Verify | IfExists::Skip, Some(ClientError::ExistsUnknownContents { .. })) => {
            Problem::warning(err.to_string())
        }
        (IfExists::Skip, Some(ClientError::VersionExists { what, .. })) => Problem::warning(
            format!("{what} is already published with other contents; `--if-exists skip` leaves it as it is"),
        )
        .with_hint("expected for a rebuilt prebuilt binary; for source, bump `version` in chuks.json"),
        _ => return Err(err),
    };
    reporter.report(let_be);
    Ok(PublishResult::Exists)
}

/// The tag and git checks; in a rehearsal (a dry run or a local registry) a `--tag` that is not
/// created yet is only a warning.
fn verify_release(
    args: &PublishArgs,
    manifest: &Manifest,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Findings> {
    let rehearsal = args.dry_run || args.local_registry.is_some();
    let mut findings = Findings::default();
    let verified = verify::verify(
        manifest,
        &args.tag.query(),
        rehearsal,
        reporter,
        &mut findings,
    );
    report.tag = findings.tag.as_ref().map(|tag| tag.name.clone());
    verified?;
    Ok(findings)
}

/// Confirms the tag on the forge, unless it does not exist yet (a rehearsal).
fn confirm_tag(
    context: &ReleaseContext,
    forge: &ForgeCheck,
    findings: &Findings,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    if findings.tag_not_created_yet {
        reporter.note("tag not confirmed on the forge: it is not created yet (a rehearsal)");
        return Ok(());
    }
    match &findings.tag {
        Some(tag) => context.confirm_tag(forge, &tag.name, reporter),
        None => Ok(()),
    }
}

/// Everything but the upload: with a token for a remote registry, the token preflight too.
fn dry_run(
    args: &PublishArgs,
    token: Option<ApiToken>,
    context: &ReleaseContext,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    report.result = Some(PublishResult::DryRun);
    let registry = match &args.local_registry {
        Some(dir) => format!("a local registry in `{}`", dir.display()),
        None => {
            let url = context::registry_url(&args.access.registry)?;
            report.registry = Some(url.as_str().trim_end_matches('/').to_string());
            if token.is_some() {
                let client = context.connect(url.clone(), token)?;
                context.preflight_publish_token(&client, &args.preflight, reporter)?;
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
    report: &mut PublishReport,
) -> anyhow::Result<Payload> {
    if args.prebuilt {
        let platform = prebuilt::resolve_platform(&args.platform)?;
        let path = args.file.clone().unwrap_or_default();
        let (sha256, size) = pack::file_digest(&path).map_err(|err| {
            anyhow::anyhow!(
                "cannot read the prebuilt `{}`: {err}\nhint: build it first, and pass its path with `--file`",
                path.display()
            )
        })?;
        report.platform = Some(platform);
        report.sha256 = Some(sha256);
        report.size = Some(size);
        return Ok(Payload::Binary { path, platform });
    }
    let plan = pack::plan(manifest.package_dir(), &args.pack.limits(), None)?;
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
    report.sha256 = Some(tarball.sha256);
    report.size = Some(tarball.size);
    report.file_count = Some(tarball.file_count);
    Ok(Payload::Tarball(file))
}

/// The registry to upload to: a local one started for the run, or the configured one; either
/// way with the token checked before any upload.
fn open_destination(
    args: &PublishArgs,
    token: Option<ApiToken>,
    context: &ReleaseContext,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Destination> {
    let (url, token, local) = match &args.local_registry {
        Some(dir) => {
            let (local, token) = start_local_registry(dir, reporter)?;
            let url = registry_client::parse_registry_url(local.url())?;
            (url, Some(token), Some(local))
        }
        None => (context::registry_url(&args.access.registry)?, token, None),
    };
    report.registry = Some(url.as_str().trim_end_matches('/').to_string());
    let client = context.connect(url, token)?;
    context.preflight_publish_token(&client, &args.preflight, reporter)?;
    Ok(Destination {
        client,
        _local: local,
    })
}

/// Uploads the payload, showing progress for large ones.
fn send(
    context: &ReleaseContext,
    client: &RegistryClient,
    upload: &Upload<'_>,
    reporter: &Reporter,
) -> anyhow::Result<PublishOutcome> {
    let quiet = reporter.format == Format::Json;
    let (progress, bar) = crate::progress::for_upload(upload.size, quiet);
    let outcome = context.block_on(client.publish(upload, progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(outcome?)
}

/// Reads the version back until the registry shows our upload (and, for a fresh publish, our
/// tag and commit). `None` when the registry offers no read-back: the upload stands, unconfirmed.
fn read_back(
    args: &PublishArgs,
    context: &ReleaseContext,
    client: &RegistryClient,
    upload: &Upload<'_>,
    result: PublishResult,
    reporter: &Reporter,
) -> anyhow::Result<Option<VersionRecord>> {
    let wait = Duration::from_secs(args.confirm_timeout);
    let fresh = result == PublishResult::Published;
    match context.block_on(readback::read_back(client, upload, fresh, wait)) {
        Ok(record) => Ok(Some(record)),
        Err(ReadBackError::Client(ClientError::RouteMissing { route, .. })) => {
            reporter.note(format!(
                "not confirmed: this registry does not offer a read-back (`{route}`), so {} stands as uploaded",
                upload.what()
            ));
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// Identical bytes published before from another tag or commit: the registry keeps the first.
fn note_first_publish_git(
    record: &VersionRecord,
    upload: &Upload<'_>,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) {
    report.first_publish_git = !readback::records_our_git(record, upload.git());
    if !report.first_publish_git {
        return;
    }
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
        repository: ci::repository_from_env().or_else(|| manifest.repository_url()),
    }
}

fn write_ci_outputs(args: &PublishArgs, report: &PublishReport, reporter: &mut Reporter) {
    let sinks = Sinks::from_env(args.dotenv.as_deref());
    for failure in sinks.write(&report.outputs(), "chuks-ci publish") {
        reporter.report(
            Problem::warning(format!("could not write {failure}"))
                .with_hint("check that the path is writable"),
        );
    }
}

fn print_result(report: &PublishReport, reporter: &Reporter, exit: Exit) {
    match reporter.format {
        Format::Json => {
            crate::report::print_json(&report.to_json(exit as u8, reporter.problems()));
        }
        Format::Human if exit == Exit::Success => {
            for line in report.summary_lines() {
                println!("{line}");
            }
        }
        Format::Human => {}
    }
}
