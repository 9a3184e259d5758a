//! `chuks-ci publish`: verify the tag, confirm it on the forge, check the token, pack (or take a
//! prebuilt binary), upload with safe re-runs, read the version back, and report.

use std::path::PathBuf;
use std::time::Duration;

use tempfile::NamedTempFile;

use super::context::{self, ForgeCheck};
use super::exit::{self, Exit};
use super::local_registry::LocalRun;
use super::uploader::Uploader;
use crate::ci::{self, outputs::Sinks};
use crate::cli::{self, PublishArgs};
use crate::manifest::Manifest;
use crate::official_cli::PublishJob;
use crate::pack::{self, IgnoreFiles, human_bytes};
use crate::prebuilt;
use crate::preflight;
use crate::publish::settle::{self, IfExists};
use crate::publish_report::{PublishReport, PublishResult};
use crate::readback::{self, ReadBackError};
use crate::registry_client::{self, ClientError, GitInfo, RegistryClient, VersionRecord};
use crate::report::{Format, Problem, Reporter};
use crate::session::Session;
use crate::token::ApiToken;
use crate::untrusted::{self, Untrusted};
use crate::upload::{Artifact, File, Sent, Tarball, Upload};
use crate::verify::{self, Findings};

/// What is uploaded: a packed tarball in a temp file, the package folder the official CLI packs
/// itself (its files already through the leak guard), or a prebuilt binary the user built.
enum Payload {
    Tarball {
        file: NamedTempFile,
        sha256: String,
        size: u64,
    },
    Checked,
    Binary {
        path: PathBuf,
        platform: &'static str,
        sha256: String,
        size: u64,
    },
}

impl Payload {
    /// What is uploaded, as both uploaders take it.
    fn artifact<'a>(&'a self, manifest: &'a Manifest, git: &'a GitInfo) -> Artifact<'a> {
        let source = |tarball| Artifact::Source {
            manifest: &manifest.document,
            git,
            tarball,
        };
        match self {
            Payload::Tarball { file, sha256, size } => source(Tarball::Packed(File {
                path: file.path(),
                sha256,
                size: *size,
            })),
            Payload::Checked => source(Tarball::PackedByTheCli),
            Payload::Binary {
                path,
                platform,
                sha256,
                size,
            } => Artifact::Prebuilt {
                platform,
                binary: File {
                    path,
                    sha256,
                    size: *size,
                },
            },
        }
    }
}

/// The registry a run uploads to, and the local one it started, kept alive for the run.
struct Destination {
    client: RegistryClient,
    token: ApiToken,
    _local: Option<LocalRun>,
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
    let context = context::session(&args.access.network, reporter)?;
    confirm_tag(&context, &forge, &findings, reporter)?;
    let uploader = Uploader::choose(&args.uploader, registry_on_this_machine(args)?, reporter)?;
    report.uploader = Some(uploader.name());
    let payload = prepare_payload(args, &manifest, &uploader, reporter, report)?;
    if args.dry_run {
        return dry_run(args, token, &context, reporter, report);
    }
    let destination = open_destination(args, token, &context, reporter, report)?;
    // The official CLI records what it records; only what chuks-ci sent itself is compared.
    let git = match &uploader {
        Uploader::Http => git_info(&manifest, &findings),
        Uploader::Chuks(_) => GitInfo::default(),
    };
    let version = manifest.version.to_string();
    let upload = Upload {
        name: &manifest.name,
        version: &version,
        artifact: payload.artifact(&manifest, &git),
    };
    let job = PublishJob {
        dir: manifest.package_dir(),
        registry: &destination.client,
        token: &destination.token,
        timeout: Duration::from_secs(args.uploader.upload_timeout),
        retry: context.retry(),
    };
    let sent = send(&context, &uploader, &upload, &job, reporter);
    let result = settle::settle(if_exists(args.if_exists), sent?, &upload, reporter)?;
    report.result = Some(result);
    report.confirmed = Some(false);
    if result != PublishResult::Exists {
        confirm_upload(
            args,
            &context,
            &destination,
            &upload,
            result,
            reporter,
            report,
        )?;
    }
    Ok(())
}

/// The one seam between the pipeline and what puts the bytes on the wire: chuks-ci's HTTP
/// client, or the official CLI, which packs the source itself.
fn send(
    context: &Session,
    uploader: &Uploader,
    upload: &Upload<'_>,
    job: &PublishJob<'_>,
    reporter: &Reporter,
) -> anyhow::Result<Sent> {
    match uploader {
        Uploader::Http => send_over_http(context, job.registry, upload, reporter),
        Uploader::Chuks(cli) => Ok(context.block_on(cli.publish(job, upload, reporter))?),
    }
}

/// Reads the upload back where the registry offers that, and records what it serves.
fn confirm_upload(
    args: &PublishArgs,
    context: &Session,
    destination: &Destination,
    upload: &Upload<'_>,
    result: PublishResult,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    let Some(record) = read_back(args, context, &destination.client, upload, result, reporter)?
    else {
        return Ok(());
    };
    if upload.sha256().is_none() {
        report.sha256 = Some(record.sha256.to_string());
        report.size = Some(record.size);
    }
    note_first_publish_git(&record, upload, reporter, report);
    report.confirmed = Some(true);
    report.record = Some(record);
    Ok(())
}

/// A registry on this machine: `--local-registry`, or a loopback `--registry`.
fn registry_on_this_machine(args: &PublishArgs) -> anyhow::Result<bool> {
    if args.local_registry.is_some() {
        return Ok(true);
    }
    let url = registry_client::registry_url(args.access.registry.registry.as_deref())?;
    Ok(url.host_str().is_some_and(crate::http::is_loopback))
}

fn if_exists(arg: cli::IfExists) -> IfExists {
    match arg {
        cli::IfExists::Verify => IfExists::Verify,
        cli::IfExists::Skip => IfExists::Skip,
        cli::IfExists::Error => IfExists::Error,
    }
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
    context: &Session,
    forge: &ForgeCheck,
    findings: &Findings,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    if findings.tag_not_created_yet {
        reporter.debug(
            1,
            "tag not confirmed on the forge: it is not created yet (a rehearsal)",
        );
        return Ok(());
    }
    match &findings.tag {
        Some(tag) => context::confirm_tag(context, forge, &tag.name, reporter),
        None => Ok(()),
    }
}

/// Everything but the upload: with a token for a remote registry, the token preflight too.
fn dry_run(
    args: &PublishArgs,
    token: Option<ApiToken>,
    context: &Session,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    report.result = Some(PublishResult::DryRun);
    let registry = match &args.local_registry {
        Some(dir) => format!("a local registry in `{}`", Untrusted::path(dir)),
        None => {
            let url = registry_client::registry_url(args.access.registry.registry.as_deref())?;
            report.registry = Some(url.as_str().trim_end_matches('/').to_string());
            if let Some(token) = token {
                let client = context.connect(url.clone(), token)?;
                let days = args.preflight.expiry_warning_days;
                context.block_on(preflight::publish_token(&client, days, reporter))?;
            }
            url.to_string()
        }
    };
    reporter.note(format!("dry run: not uploading to {registry}"));
    Ok(())
}

/// Packs the source, or takes the prebuilt binary as it is, recording the digest; for the
/// official CLI, which packs the source itself, runs the leak guard over the files it will ship.
fn prepare_payload(
    args: &PublishArgs,
    manifest: &Manifest,
    uploader: &Uploader,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Payload> {
    if args.prebuilt {
        let platform = prebuilt::resolve_platform(&args.platform)?;
        let path = args.file.clone().unwrap_or_default();
        let (sha256, size) = pack::file_digest(&path).map_err(|err| {
            anyhow::anyhow!(
                "cannot read the prebuilt `{}`: {err}\nhint: build it first, and pass its path with `--file`",
                Untrusted::path(&path)
            )
        })?;
        report.platform = Some(platform);
        report.sha256 = Some(sha256.clone());
        report.size = Some(size);
        // The official CLI runs in the package root: give it a path that holds from there.
        let path = std::path::absolute(&path).unwrap_or(path);
        return Ok(Payload::Binary {
            path,
            platform,
            sha256,
            size,
        });
    }
    let root = manifest.package_dir();
    if let Uploader::Chuks(_) = uploader {
        let limits = pack::Limits {
            ignore_files: IgnoreFiles::GitOnly,
            ..args.pack.limits()
        };
        if root.join(pack::CHUKS_IGNORE_FILE).exists() {
            reporter.report(
                Problem::warning("the official `chuks` CLI does not read `.chuksignore`, so what it lists ships anyway")
                    .with_hint("move those patterns to `.gitignore`, or publish with `--uploader http`"),
            );
        }
        let plan = pack::plan(root, &limits, None)?;
        super::note_left_out(&plan, reporter);
        reporter.note(format!(
            "checked the {} files the official CLI will ship ({} unpacked): no secrets found",
            plan.files.len(),
            human_bytes(plan.unpacked_size())
        ));
        report.file_count = Some(plan.files.len());
        return Ok(Payload::Checked);
    }
    let plan = pack::plan(root, &args.pack.limits(), None)?;
    super::note_left_out(&plan, reporter);
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
    report.sha256 = Some(tarball.sha256.clone());
    report.size = Some(tarball.size);
    report.file_count = Some(tarball.file_count);
    Ok(Payload::Tarball {
        file,
        sha256: tarball.sha256,
        size: tarball.size,
    })
}

/// The registry to upload to: a local one started for the run, or the configured one; either
/// way with the token checked before any upload.
fn open_destination(
    args: &PublishArgs,
    token: Option<ApiToken>,
    context: &Session,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Destination> {
    let (url, token, local) = match &args.local_registry {
        Some(dir) => {
            let (local, token) = LocalRun::start(dir, reporter)?;
            let url = registry_client::parse_registry_url(local.url())?;
            // Its URL dies with this process: the folder is what names it.
            report.registry = Some(Untrusted::path(dir).to_string());
            report.registry_is_local = true;
            (url, Some(token), Some(local))
        }
        None => {
            let url = registry_client::registry_url(args.access.registry.registry.as_deref())?;
            report.registry = Some(url.as_str().trim_end_matches('/').to_string());
            (url, token, None)
        }
    };
    let token = token.ok_or(crate::token::TokenError::Missing)?;
    let client = context.connect(url, token.clone())?;
    let days = args.preflight.expiry_warning_days;
    context.block_on(preflight::publish_token(&client, days, reporter))?;
    Ok(Destination {
        client,
        token,
        _local: local,
    })
}

/// Uploads the payload with chuks-ci's HTTP client, showing progress for large ones.
fn send_over_http(
    context: &Session,
    client: &RegistryClient,
    upload: &Upload<'_>,
    reporter: &Reporter,
) -> anyhow::Result<Sent> {
    let quiet = reporter.format == Format::Json;
    let (progress, bar) =
        crate::progress::for_upload(upload.file().map_or(0, |file| file.size), quiet);
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
    context: &Session,
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
            untrusted::or(record.git.tag.as_ref(), "(none)"),
            untrusted::or(record.git.commit.as_ref(), "(none)")
        ))
        .with_hint("nothing to do: the registry keeps the first publish's git details"),
    );
}

/// The tag, commit and repository the registry records with the version.
fn git_info(manifest: &Manifest, findings: &Findings) -> GitInfo {
    GitInfo {
        tag: findings.tag.as_ref().map(|t| t.name.clone()),
        commit: findings
            .repo
            .as_ref()
            .and_then(|r| r.head.clone())
            .or_else(ci::commit_from_env)
            .map(Untrusted::from),
        repository: ci::repository_from_env()
            .or_else(|| manifest.repository_url())
            .map(Untrusted::from),
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
                crate::outln!("{line}");
            }
        }
        Format::Human => {}
    }
}
