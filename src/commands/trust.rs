//! `chuks-ci trust explain`: this job's OIDC ID token (from the CI, or `--id-token-file`) decoded
//! WITHOUT verifying it, the claims a trusted publisher is matched on, and the `registry trust
//! add` line that would accept it. The first thing to run when an exchange is refused.

use std::io::Read;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::Exit;
use crate::cli::{TrustExplainArgs, TrustExplainCommand};
use crate::manifest::Manifest;
use crate::report::{Format, Problem, Reporter};
use crate::trusted_publishing::claims::{self, IdTokenClaims};
use crate::trusted_publishing::{self, Source};
use crate::untrusted::Untrusted;

/// The most read from `--id-token-file`; an ID token is a few KiB.
const MAX_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(
        "`chuks-ci trust explain` found no ID token: this is not a CI that issues them (GitHub Actions, GitLab CI, Bitbucket Pipelines)\nhint: run it in the release job, or pass `--id-token-file`"
    )]
    NotInCi,

    #[error("cannot read the ID token from `{path}`: {reason}\nhint: {hint}")]
    File {
        path: Untrusted,
        reason: String,
        hint: &'static str,
    },
}

pub fn run(command: &TrustExplainCommand, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    match command {
        TrustExplainCommand::Explain(args) => explain(args, reporter),
    }
}

fn explain(args: &TrustExplainArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let (id_token, source, expected) = match &args.id_token_file {
        Some(path) => (read_file(path)?, "file", None),
        None => from_ci(args, reporter)?,
    };
    reporter.mask(id_token.expose_secret());
    let claims = claims::decode(id_token.expose_secret())?;
    if let (Some(expected), Some(aud)) = (&expected, &claims.aud) {
        if !aud.unescaped().split(',').any(|aud| aud == expected) {
            reporter.report(
                Problem::warning(format!(
                    "the ID token's audience is `{aud}`, and the registry expects `{expected}`"
                ))
                .with_hint(format!(
                    "issue the ID token for `{expected}` (GitLab: `aud: {expected}` under `id_tokens:`)"
                )),
            );
        }
    }
    let package = package(args);
    let trust_add = claims.trust_add_line(&package, "<PUBLISHER>");
    if claims.issuer().is_none() {
        reporter.report(
            Problem::warning("the ID token has none of the claims GitHub, GitLab or Bitbucket set")
                .with_hint("trusted publishing accepts ID tokens from those three CIs only"),
        );
    }
    match reporter.format {
        Format::Json => print_json(&claims, source, trust_add.as_ref()),
        Format::Human => print_human(&claims, source, trust_add.as_ref()),
    }
    Ok(Exit::Success)
}

/// Asks the CI running this job for its ID token (for the audience the registry announces,
/// where the CI asks); with the CI's name and that audience.
fn from_ci(
    args: &TrustExplainArgs,
    reporter: &Reporter,
) -> anyhow::Result<(SecretString, &'static str, Option<String>)> {
    let ci = crate::ci::current().ok_or(ExplainError::NotInCi)?;
    let source = Source::offered_by(ci, &|name| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    })?;
    let session = super::context::session(&args.network, reporter)?;
    let url = crate::registry_client::registry_url(args.registry.registry.as_deref())?;
    let client = session.connect_without_token(url)?;
    let id_token = session.block_on(source.id_token(&client, session.retry(), reporter))?;
    let expected = session.block_on(trusted_publishing::audience(&client, reporter))?;
    Ok((id_token, ci.name(), Some(expected)))
}

fn read_file(path: &Path) -> Result<SecretString, ExplainError> {
    let failed = |reason: String, hint| ExplainError::File {
        path: Untrusted::path(path),
        reason,
        hint,
    };
    let file = std::fs::File::open(path)
        .map_err(|err| failed(err.to_string(), "check the path and that it is readable"))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| {
            failed(
                "it is not UTF-8 text".to_string(),
                "give the ID token as text",
            )
        })?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(failed(
            format!("it is larger than {MAX_FILE_BYTES} bytes"),
            "give the file holding the ID token alone",
        ));
    }
    Ok(SecretString::from(text.trim()))
}

/// `--package`, else the manifest's name, else a placeholder.
fn package(args: &TrustExplainArgs) -> String {
    args.package.clone().unwrap_or_else(|| {
        Manifest::load(&args.manifest.manifest)
            .map(|manifest| manifest.name.to_string())
            .unwrap_or_else(|_| "<PACKAGE>".to_string())
    })
}

fn print_human(claims: &IdTokenClaims, source: &str, trust_add: Option<&Untrusted>) {
    crate::outln!(
        "ID token from {source}, decoded without verifying it (only the registry verifies):"
    );
    for (name, value) in claims.shown() {
        crate::outln!("  {name}: {value}");
    }
    if let Some(expires) = claims
        .exp
        .and_then(|exp| jiff::Timestamp::from_second(exp).ok())
    {
        let state = if expires < jiff::Timestamp::now() {
            "expired"
        } else {
            "expires"
        };
        crate::outln!("  {state} at {expires}");
    }
    if let Some(called) = claims.reusable_workflow() {
        crate::outln!(
            "reusable workflow: the job runs `{}`, called from `workflow_ref`; a trusted publisher naming either file accepts it",
            Untrusted::from(called)
        );
    }
    match trust_add {
        Some(line) => {
            crate::outln!("a trusted publisher that accepts this job, on the reference registry:");
            crate::outln!("  {line}");
        }
        None => crate::outln!("no trusted publisher can accept this token: its issuer is unknown"),
    }
}

fn print_json(claims: &IdTokenClaims, source: &str, trust_add: Option<&Untrusted>) {
    let arguments = claims.trust_add_arguments().map(|arguments| {
        arguments
            .into_iter()
            .map(|(flag, value)| (flag.trim_start_matches("--").to_string(), json!(value)))
            .collect::<serde_json::Map<_, _>>()
    });
    crate::report::print_json(&json!({
        "source": source,
        "verified": false,
        "provider": claims.issuer().map(|issuer| issuer.name()),
        "claims": claims,
        "reusable_workflow": claims.reusable_workflow(),
        "trusted_publisher": arguments,
        "trust_add": trust_add,
    }));
}
