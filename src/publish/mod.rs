//! A publish, run as its plan reads: verify the release, confirm its tag on the forge, choose the
//! uploader, prepare the payload, open the destination (or stop at a dry run), send, settle
//! `--if-exists`, read the version back. Each step fills in the report, so a failure still
//! reports what was known.

mod local_registry;
mod payload;
pub mod plan;
pub mod report;
pub mod settle;
pub mod uploader;
pub mod workspace;

use std::time::Duration;

use local_registry::LocalRun;
use payload::Payload;
pub use plan::{PayloadKind, PublishPlan, Registry};
use uploader::{Destination, Uploader};

use crate::manifest::Manifest;
use crate::official_cli::CliError;
use crate::protocol::{ErrorCode, GitInfo};
use crate::publish::report::{PublishReport, PublishResult};
use crate::readback::{self, ReadBackError};
use crate::registry_client::{self, ClientError, RegistryClient, VersionRecord};
use crate::report::{Problem, Reporter};
use crate::session::Session;
use crate::token::TokenError;
use crate::trusted_publishing::{self, Auth, MintedRun};
use crate::untrusted::{self, Untrusted};
use crate::upload::{Sent, Stored, Upload};
use crate::verify::{self, Findings};
use crate::{ci, preflight};

/// Confirms the release tag on the forge. The CI provider knows how, so the command hands it in.
pub type ConfirmTag<'a> = dyn Fn(&Untrusted, &Reporter) -> anyhow::Result<()> + Sync + 'a;

/// Runs `plan` on `session`, filling in `report`.
pub fn run(
    plan: &PublishPlan,
    session: &Session,
    confirm_tag: &ConfirmTag<'_>,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    let prepared = prepare(plan, confirm_tag, reporter, report)?;
    if plan.dry_run {
        return dry_run(plan, session, reporter, report);
    }
    let mut opened = open(plan, session, reporter, report)?;
    let delivered = opened.with_fresh_token(session, reporter, |to, reporter| {
        deliver(plan, &prepared, to, session, reporter, report)
    });
    opened.close(session, reporter);
    delivered
}

/// What the local steps made ready for the upload.
pub struct Prepared {
    findings: Findings,
    uploader: Uploader,
    payload: Payload,
}

impl Prepared {
    /// `--if-exists` applied to what the registry already holds (`sent`), before any upload.
    fn settle_now(
        &self,
        plan: &PublishPlan,
        sent: Sent,
        reporter: &mut Reporter,
    ) -> Result<PublishResult, settle::ExistsError> {
        let git = git_sent(&self.uploader, &plan.manifest, &self.findings);
        let version = plan.manifest.version.to_string();
        settle::settle(
            plan.if_exists,
            sent,
            &self.upload(plan, &version, &git),
            reporter,
        )
    }

    /// The upload `prepared` makes of `plan`'s package; `git` holds what it sends of git.
    fn upload<'a>(
        &'a self,
        plan: &'a PublishPlan,
        version: &'a str,
        git: &'a GitInfo,
    ) -> Upload<'a> {
        Upload {
            name: &plan.manifest.name,
            version,
            artifact: self.payload.artifact(&plan.manifest, git),
        }
    }
}

/// Everything before the network: verify the release, confirm its tag, choose the uploader and
/// prepare the payload (the leak guard included).
pub fn prepare(
    plan: &PublishPlan,
    confirm_tag: &ConfirmTag<'_>,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Prepared> {
    let manifest = &plan.manifest;
    report.name = Some(manifest.name.clone());
    report.version = Some(manifest.version.to_string());
    let findings = verify_release(plan, reporter, report)?;
    confirm_release_tag(&findings, confirm_tag, reporter)?;
    let uploader = Uploader::choose(&plan.uploader, plan.registry.on_this_machine(), reporter)?;
    report.uploader = Some(uploader.name());
    let payload = payload::prepare(&plan.payload, manifest, &uploader, reporter, report)?;
    Ok(Prepared {
        findings,
        uploader,
        payload,
    })
}

/// Sends the prepared upload to `to`, settles `--if-exists` and reads the version back.
pub fn deliver(
    plan: &PublishPlan,
    prepared: &Prepared,
    to: &Destination,
    session: &Session,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    let manifest = &plan.manifest;
    let git = git_sent(&prepared.uploader, manifest, &prepared.findings);
    let version = manifest.version.to_string();
    let upload = prepared.upload(plan, &version, &git);
    let dir = manifest.package_dir();
    let sent = prepared
        .uploader
        .send(&upload, dir, to, session, reporter)?;
    let result = settle::settle(plan.if_exists, sent, &upload, reporter)?;
    report.result = Some(result);
    report.confirmed = Some(false);
    if result != PublishResult::Exists {
        let (client, wait) = (&to.client, plan.confirm_timeout);
        confirm_upload(&upload, result, client, session, wait, reporter, report)?;
    }
    Ok(())
}

/// What the registry already holds where the prepared upload goes, compared with our bytes:
/// `None` when it holds nothing there or cannot say (no read route).
pub fn already_stored(
    plan: &PublishPlan,
    prepared: &Prepared,
    client: &RegistryClient,
    session: &Session,
) -> Result<Option<Stored>, ClientError> {
    let git = git_sent(&prepared.uploader, &plan.manifest, &prepared.findings);
    let version = plan.manifest.version.to_string();
    let upload = prepared.upload(plan, &version, &git);
    match session.block_on(client.stored(&upload)) {
        Err(ClientError::RouteMissing { .. }) => Ok(None),
        other => other,
    }
}

/// The tag and git checks; in a rehearsal a `--tag` that is not created yet is only a warning.
fn verify_release(
    plan: &PublishPlan,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    let verified = verify::verify(
        &plan.manifest,
        &plan.tag,
        plan.rehearsal(),
        reporter,
        &mut findings,
    );
    report.tag = findings.tag.as_ref().map(|tag| tag.name.clone());
    verified?;
    Ok(findings)
}

/// Confirms the tag on the forge, unless it does not exist yet (a rehearsal).
fn confirm_release_tag(
    findings: &Findings,
    confirm_tag: &ConfirmTag<'_>,
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
        Some(tag) => confirm_tag(&tag.name, reporter),
        None => Ok(()),
    }
}

/// Everything but the upload: with a token for a remote registry, the token preflight too.
/// Without a token, it says whether trusted publishing would give one, without exchanging.
fn dry_run(
    plan: &PublishPlan,
    session: &Session,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    report.result = Some(PublishResult::DryRun);
    let registry = match &plan.registry {
        Registry::Local(dir) => format!("a local registry in `{}`", Untrusted::path(dir)),
        Registry::Remote { url, token } => {
            report.registry = Some(url.as_str().trim_end_matches('/').to_string());
            if let Some(token) = token {
                let client = session.connect(url.clone(), token.clone())?;
                check_token(&client, session, plan.expiry_warning_days, reporter)?;
                report.auth = Some(Auth::Token.as_str());
            } else if let Ok(Some(source)) =
                trusted_publishing::decide_here(plan.trusted_publishing, false)
            {
                report.auth = Some(Auth::TrustedPublishing.as_str());
                reporter.note(format!(
                    "dry run: the upload would exchange {}'s ID token (trusted publishing); a dry run does not",
                    source.ci
                ));
            }
            url.to_string()
        }
    };
    reporter.note(format!("dry run: not uploading to {registry}"));
    Ok(())
}

/// The registry a run uploads to, the local one it started, kept alive for the run, and the
/// minted token's life when trusted publishing gave the token.
pub struct Opened {
    pub to: Destination,
    url: reqwest::Url,
    minted: Option<MintedRun>,
    _local: Option<LocalRun>,
}

impl Opened {
    /// Runs `step` with the destination; a minted token refused as expired is minted again,
    /// once, and `step` run again with it.
    pub fn with_fresh_token<T>(
        &mut self,
        session: &Session,
        reporter: &mut Reporter,
        mut step: impl FnMut(&Destination, &mut Reporter) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let err = match step(&self.to, reporter) {
            Err(err) => err,
            done => return done,
        };
        let Some(minted) = self.minted.as_mut().filter(|_| is_expired_token(&err)) else {
            return Err(err);
        };
        let Some(token) = session.block_on(minted.remint(reporter))? else {
            return Err(err);
        };
        let client = session.connect(self.url.clone(), token.clone())?;
        self.to = Destination { client, token };
        step(&self.to, reporter)
    }

    /// Revokes a minted token: it is no use after the run. A failure is a warning, as the token
    /// expires on its own.
    pub fn close(self, session: &Session, reporter: &mut Reporter) {
        if self.minted.is_none() {
            return;
        }
        match session.block_on(trusted_publishing::revoke(&self.to.client)) {
            Ok(()) => reporter.debug(1, "revoked the minted token"),
            Err(err) => reporter.report(
                Problem::warning(format!("could not revoke the minted token: {err}"))
                    .with_hint("nothing to do: it expires on its own within minutes"),
            ),
        }
    }
}

/// Whether `err` is the registry refusing a token as expired: `token_expired` to chuks-ci's
/// client (the preflight's included), or the official CLI's refusal that says so.
fn is_expired_token(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let client_error = cause.downcast_ref::<ClientError>().or_else(|| {
            match cause.downcast_ref::<preflight::PreflightError>() {
                Some(preflight::PreflightError::Client(err)) => Some(err),
                _ => None,
            }
        });
        let client_said = matches!(
            client_error,
            Some(ClientError::Auth {
                code: ErrorCode::TokenExpired,
                ..
            })
        );
        let cli_said = matches!(
            cause.downcast_ref::<CliError>(),
            Some(CliError::AuthRefused { said })
                if said.unescaped().to_ascii_lowercase().contains("expired")
        );
        client_said || cli_said
    })
}

/// Opens the registry to upload to: a local one started for the run, or the planned one;
/// either way with the token checked before any upload. With no token given, the CI's ID token
/// is exchanged for one here, after every local step.
pub fn open(
    plan: &PublishPlan,
    session: &Session,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<Opened> {
    let (url, token, local) = match &plan.registry {
        Registry::Local(dir) => {
            let (local, token) = LocalRun::start(dir, reporter)?;
            let url = registry_client::parse_registry_url(local.url())?;
            // Its URL dies with this process: the folder is what names it.
            report.registry = Some(Untrusted::path(dir).to_string());
            report.registry_is_local = true;
            (url, Some(token), Some(local))
        }
        Registry::Remote { url, token } => {
            report.registry = Some(url.as_str().trim_end_matches('/').to_string());
            (url.clone(), token.clone(), None)
        }
    };
    let (token, minted) = match token {
        Some(token) => (token, None),
        None => {
            let source = trusted_publishing::decide_here(plan.trusted_publishing, false)?
                .ok_or(TokenError::Missing)?;
            let client = session.connect_without_token(url.clone())?;
            let package = &plan.manifest.name;
            let minting = MintedRun::start(source, client, package, *session.retry(), reporter);
            let (minted, token) = session.block_on(minting)?;
            (token, Some(minted))
        }
    };
    let auth = match minted {
        Some(_) => Auth::TrustedPublishing,
        None => Auth::Token,
    };
    report.auth = Some(auth.as_str());
    let client = session.connect(url.clone(), token.clone())?;
    let mut opened = Opened {
        to: Destination { client, token },
        url,
        minted,
        _local: local,
    };
    // A minted token lives minutes: warning that it expires soon would be noise.
    let days = match auth {
        Auth::Token => plan.expiry_warning_days,
        Auth::TrustedPublishing => 0,
    };
    let checked = opened.with_fresh_token(session, reporter, |to, reporter| {
        check_token(&to.client, session, days, reporter)
    });
    match checked {
        Ok(()) => Ok(opened),
        Err(err) => {
            opened.close(session, reporter);
            Err(err)
        }
    }
}

fn check_token(
    client: &RegistryClient,
    session: &Session,
    expiry_warning_days: i64,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    session.block_on(preflight::publish_token(
        client,
        expiry_warning_days,
        reporter,
    ))?;
    Ok(())
}

/// The tag, commit and repository the registry records with the version. The official CLI
/// records what it records: only what chuks-ci sends itself is compared.
fn git_sent(uploader: &Uploader, manifest: &Manifest, findings: &Findings) -> GitInfo {
    if let Uploader::Chuks { .. } = uploader {
        return GitInfo::default();
    }
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

/// Reads the upload back where the registry offers that, and records what it serves.
fn confirm_upload(
    upload: &Upload<'_>,
    result: PublishResult,
    client: &RegistryClient,
    session: &Session,
    wait: Duration,
    reporter: &mut Reporter,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    let Some(record) = read_back(upload, result, client, session, wait, reporter)? else {
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

/// Reads the version back until the registry shows our upload (and, for a fresh publish, our
/// tag and commit). `None` when the registry offers no read-back: the upload stands, unconfirmed.
fn read_back(
    upload: &Upload<'_>,
    result: PublishResult,
    client: &RegistryClient,
    session: &Session,
    wait: Duration,
    reporter: &Reporter,
) -> anyhow::Result<Option<VersionRecord>> {
    let fresh = result == PublishResult::Published;
    match session.block_on(readback::read_back(client, upload, fresh, wait)) {
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
