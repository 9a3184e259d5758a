//! `chuks-ci check`: a release preflight without uploading: tag, git state, forge, token.

use serde_json::json;

use super::Connection;
use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::manifest::Manifest;
use crate::report::{Format, Reporter};
use crate::verify::{self, Findings};

pub fn run(args: &CheckArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let forge = super::forge_detection(&args.forge, reporter);
    let token = super::api_token(&args.access.token, reporter)?;
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let mut findings = Findings::default();
    verify::verify(
        &manifest,
        &args.tag,
        !crate::ci::is_ci(),
        reporter,
        &mut findings,
    )?;
    let tag = findings
        .tag
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();

    let runtime = super::runtime()?;
    super::confirm_tag_on_forge(
        &runtime,
        &args.forge,
        &forge,
        &tag,
        &args.access.network,
        reporter,
    )?;
    let registry = super::registry_url(&args.access.registry)?;
    let connection = Connection::open(registry, token, &args.access.network, reporter)?;
    let info = super::preflight_publish_token(&runtime, &connection, &args.preflight, reporter)?;
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
            "ready: {} {} from tag `{}`; token `{}` of publisher `{}` can publish (expires {})",
            manifest.name,
            manifest.version,
            crate::redact::redact(&tag),
            info.name,
            info.publisher,
            info.expires_at
        ),
    }
    Ok(Exit::Success)
}
