//! `chuks-ci check`: a release preflight without uploading: tag, git state, forge, token.

use serde_json::json;

use std::time::Duration;

use super::Exit;
use super::context::{self, ForgeCheck};
use super::publish_workspace;
use crate::cli::CheckArgs;
use crate::manifest::Manifest;
use crate::pack;
use crate::publish::settle::IfExists;
use crate::publish::uploader::Uploader;
use crate::publish::workspace::WorkspacePlan;
use crate::publish::{PayloadKind, PublishPlan, Registry};
use crate::report::{Format, Reporter};
use crate::token::{ApiToken, TokenError};
use crate::trusted_publishing::{self, Auth};
use crate::untrusted::Untrusted;
use crate::verify::{self, Findings};
use crate::{preflight, registry_client};

pub fn run(args: &CheckArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let forge = ForgeCheck::detect(&args.forge, reporter);
    let token = context::api_token(&args.access.token, reporter)?;
    if args.workspace.workspace {
        return check_workspace(args, token, &forge, reporter);
    }
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let mut findings = Findings::default();
    verify::verify(
        &manifest,
        &args.tag.query(),
        !crate::ci::is_ci(),
        reporter,
        &mut findings,
    )?;
    let tag = findings
        .tag
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();

    let session = context::session(&args.access.network, reporter)?;
    context::confirm_tag(&session, &forge, &tag, reporter)?;
    let registry = registry_client::registry_url(args.access.registry.registry.as_deref())?;
    let on_this_machine = registry.host_str().is_some_and(crate::http::is_loopback);
    let choice = context::uploader_choice(&args.uploader);
    let uploader = Uploader::choose(&choice, on_this_machine, reporter)?;
    let what = format!("{} {} from tag `{tag}`", manifest.name, manifest.version);
    let what = format!(
        "{}; uploader `{}`",
        crate::redact::redact(&what),
        uploader.name()
    );
    let Some(token) = token else {
        let mode = args.trusted_publishing.trusted_publishing.into();
        let source = trusted_publishing::decide_here(mode, false)?.ok_or(TokenError::Missing)?;
        print_trusted_publishing(&manifest, &tag, &what, &uploader, source.ci, reporter);
        return Ok(Exit::Success);
    };
    let client = session.connect(registry, token)?;
    let days = args.preflight.expiry_warning_days;
    let info = session.block_on(preflight::publish_token(&client, days, reporter))?;
    match (reporter.format, &info) {
        (Format::Json, _) => crate::report::print_json(&json!({
            "result": "ready",
            "name": manifest.name,
            "version": manifest.version.to_string(),
            "tag": tag,
            "auth": Auth::Token.as_str(),
            "token": info,
            "token_checked": info.is_some(),
            "uploader": uploader.name(),
            "problems": reporter.problems(),
        })),
        (Format::Human, Some(info)) => crate::outln!(
            "ready: {what}; token `{}` of publisher `{}` can publish (expires {})",
            info.name,
            info.publisher,
            info.expires_at
        ),
        (Format::Human, None) => crate::outln!(
            "ready: {what}; the token is unchecked: the registry does not say what it may do"
        ),
    }
    Ok(Exit::Success)
}

/// `ready`, with trusted publishing to give the token: `check` does not exchange, as an ID token
/// is spent by its exchange.
fn print_trusted_publishing(
    manifest: &Manifest,
    tag: &Untrusted,
    what: &str,
    uploader: &Uploader,
    ci: &str,
    reporter: &Reporter,
) {
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": "ready",
            "name": manifest.name,
            "version": manifest.version.to_string(),
            "tag": tag,
            "auth": Auth::TrustedPublishing.as_str(),
            "token": null,
            "token_checked": false,
            "uploader": uploader.name(),
            "problems": reporter.problems(),
        })),
        Format::Human => crate::outln!(
            "ready: {what}; no token given: publish would use trusted publishing, exchanging {ci}'s ID token (not exchanged by `check`)"
        ),
    }
}

/// `check --workspace`: what `publish --workspace` checks before its first upload (each
/// package's release, tag and files, the token, what the registry already holds), uploading
/// nothing.
fn check_workspace(
    args: &CheckArgs,
    token: Option<ApiToken>,
    forge: &ForgeCheck,
    reporter: &mut Reporter,
) -> anyhow::Result<Exit> {
    let dir = super::workspace_dir(&args.manifest.manifest);
    let (workspace, tagged) = crate::workspace::tagged_at_head(&dir, &args.workspace.packages)?;
    let url = registry_client::registry_url(args.access.registry.registry.as_deref())?;
    if token.is_none() {
        // Without a token, the release needs trusted publishing: say now if it cannot have it.
        let mode = args.trusted_publishing.trusted_publishing.into();
        trusted_publishing::decide_here(mode, false)?.ok_or(TokenError::Missing)?;
    }
    let registry = Registry::Remote { url, token };
    let plans = tagged
        .iter()
        .map(|released| {
            let member = &workspace.members[released.index];
            PublishPlan {
                manifest: member.manifest.clone(),
                tag: super::workspace_query(&workspace, released, args.tag.allow_untracked),
                registry: registry.clone(),
                uploader: context::uploader_choice(&args.uploader),
                payload: PayloadKind::Source(pack::Limits::default()),
                if_exists: IfExists::Verify,
                dry_run: true,
                confirm_timeout: Duration::ZERO,
                expiry_warning_days: args.preflight.expiry_warning_days,
                trusted_publishing: args.trusted_publishing.trusted_publishing.into(),
            }
        })
        .collect();
    let plan = WorkspacePlan {
        plans,
        dependencies: publish_workspace::dependencies(&workspace, &tagged),
        jobs: 2,
    };
    let session = context::session(&args.access.network, reporter)?;
    let runs = publish_workspace::run_plan(&plan, &session, forge, reporter);
    Ok(publish_workspace::report_runs(&runs, None, reporter))
}
