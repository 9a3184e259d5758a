//! `chuks-ci yank` and `chuks-ci restore`: hide a version from resolution, or bring it back.

use serde_json::json;

use super::Exit;
use super::context;
use crate::cli::{ManifestArgs, RegistryAccessArgs, RestoreArgs, YankArgs};
use crate::manifest::Manifest;
use crate::registry_client;
use crate::report::{Format, Reporter};
use crate::token::TokenError;

pub fn run_yank(args: &YankArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let target = Target {
        version: args.package_version.as_deref(),
        manifest: &args.manifest,
        access: &args.access,
    };
    set_yanked(&target, true, reporter)
}

pub fn run_restore(args: &RestoreArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let target = Target {
        version: Some(&args.package_version),
        manifest: &args.manifest,
        access: &args.access,
    };
    set_yanked(&target, false, reporter)
}

struct Target<'a> {
    version: Option<&'a str>,
    manifest: &'a ManifestArgs,
    access: &'a RegistryAccessArgs,
}

fn set_yanked(target: &Target, yanked: bool, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let manifest = Manifest::load(&target.manifest.manifest)?;
    let version = match target.version {
        Some(text) => crate::manifest::parse_version(text)
            .map_err(|(reason, hint)| {
                anyhow::anyhow!("`{text}` is not a SemVer version ({reason})\nhint: {hint}")
            })?
            .to_string(),
        None => manifest.version.to_string(),
    };
    let token = context::api_token(&target.access.token, reporter)?;
    let session = context::session(&target.access.network, reporter)?;
    let url = registry_client::registry_url(target.access.registry.registry.as_deref())?;
    let client = session.connect(url, token.ok_or(TokenError::Missing)?)?;
    let answer = session.block_on(client.set_yanked(&manifest.name, &version, yanked))?;
    let state = if yanked { "yanked" } else { "restored" };
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": state,
            "changed": answer.changed,
            "name": manifest.name,
            "version": version,
            "record": answer.record,
        })),
        Format::Human if answer.changed => crate::outln!("{state}: {} {version}", manifest.name),
        Format::Human => crate::outln!(
            "unchanged: {} {version} was already {}",
            manifest.name,
            if yanked { "yanked" } else { "not yanked" }
        ),
    }
    Ok(Exit::Success)
}
