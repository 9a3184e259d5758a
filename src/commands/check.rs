//! `chuks-ci check`: a release preflight without uploading: tag, git state, forge, token.

use serde_json::json;

use super::Connection;
use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::forge;
use crate::manifest::Manifest;
use crate::preflight;
use crate::report::{Format, Reporter};
use crate::token::Scope;
use crate::verify::{self, Findings};

pub fn run(args: &CheckArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let forge = super::forge_detection(&args.forge, reporter);
    let token = super::api_token(&args.token, reporter)?;
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let mut findings = Findings::default();
    verify::verify(&manifest, &args.tag, reporter, &mut findings)?;
    let tag = findings
        .tag
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();

    let runtime = super::runtime()?;
    let policy = super::retry_policy(&args.network);
    let outcome = runtime.block_on(forge::confirm(
        args.forge.confirm_tag,
        &forge,
        &tag,
        &policy,
    ))?;
    super::report_forge_outcome(outcome, reporter);

    let connection = Connection::open(
        super::registry_url(&args.registry)?,
        token,
        &args.network,
        reporter,
    )?;
    let check = runtime.block_on(preflight::check_token(
        &connection.client,
        Scope::PackagesPublish,
        args.preflight.expiry_warning_days,
    ))?;
    for warning in check.warnings {
        reporter.report(warning);
    }
    let info = check.info;
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": "ready",
            "name": manifest.name,
            "version": manifest.version.to_string(),
            "tag": tag,
            "token": info,
            "problems": reporter.problems(),
        })),
        Format::Human => println!(
            "ready: {} {} from tag `{tag}`; token `{}` of publisher `{}` can publish (expires {})",
            manifest.name, manifest.version, info.name, info.publisher, info.expires_at
        ),
    }
    Ok(Exit::Success)
}
