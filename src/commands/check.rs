//! `chuks-ci check`: a release preflight without uploading: tag, git state, forge, token.

use serde_json::json;

use super::Exit;
use super::context::{self, ForgeCheck, ReleaseContext};
use crate::cli::CheckArgs;
use crate::manifest::Manifest;
use crate::report::{Format, Reporter};
use crate::verify::{self, Findings};

pub fn run(args: &CheckArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let forge = ForgeCheck::detect(&args.forge, reporter);
    let token = context::api_token(&args.access.token, reporter)?;
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

    let context = ReleaseContext::new(&args.access.network, reporter)?;
    context.confirm_tag(&forge, &tag, reporter)?;
    let client = context.connect(context::registry_url(&args.access.registry)?, token)?;
    let info = context.preflight_publish_token(&client, &args.preflight, reporter)?;
    let what = format!("{} {} from tag `{tag}`", manifest.name, manifest.version);
    let what = crate::redact::redact(&what);
    match (reporter.format, &info) {
        (Format::Json, _) => crate::report::print_json(&json!({
            "result": "ready",
            "name": manifest.name,
            "version": manifest.version.to_string(),
            "tag": tag,
            "token": info,
            "token_checked": info.is_some(),
            "problems": reporter.problems(),
        })),
        (Format::Human, Some(info)) => println!(
            "ready: {what}; token `{}` of publisher `{}` can publish (expires {})",
            info.name, info.publisher, info.expires_at
        ),
        (Format::Human, None) => println!(
            "ready: {what}; the token is unchecked: the registry does not say what it may do"
        ),
    }
    Ok(Exit::Success)
}
