//! `chuks-ci verify-tag`: the tag check, runnable locally as a dry run.

use serde_json::json;

use super::exit::{self, Exit};
use crate::cli::VerifyTagArgs;
use crate::manifest::Manifest;
use crate::report::{Format, Problem, Reporter};
use crate::tag::TagError;
use crate::untrusted::Untrusted;
use crate::verify::{self, Findings};

pub fn run(args: &VerifyTagArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let manifest_path = &args.manifest.manifest;
    let mut findings = Findings::default();
    let mut manifest = None;
    let result = Manifest::load(manifest_path)
        .map_err(anyhow::Error::from)
        .and_then(|loaded| {
            let loaded = manifest.insert(loaded);
            verify::verify(
                loaded,
                &args.tag.query(),
                !crate::ci::is_ci(),
                reporter,
                &mut findings,
            )
        });
    let exit = match &result {
        Ok(()) => Exit::Success,
        Err(err) => {
            reporter.report(locate(super::problem_of(err), err, manifest.as_ref()));
            exit::classify(err)
        }
    };
    let outcome = match exit {
        Exit::Success => "match",
        Exit::CheckFailed => "mismatch",
        _ => "error",
    };
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": outcome,
            "tag": findings.tag.as_ref().map(|t| &t.name),
            "tag_source": findings.tag.as_ref().map(|t| t.source),
            "name": manifest.as_ref().map(|m| &m.name),
            "version": manifest.as_ref().map(|m| m.version.to_string()),
            "manifest": manifest_path,
            "commit": findings.repo.as_ref().and_then(|r| r.head.as_ref()),
            "problems": reporter.problems(),
        })),
        Format::Human => {
            if let (Ok(()), Some(manifest), Some(tag)) = (&result, &manifest, &findings.tag) {
                crate::outln!(
                    "ok: tag `{}` ({}) matches {} {} in {}",
                    crate::redact::redact(&tag.name.to_string()),
                    tag.source.describe(),
                    manifest.name,
                    manifest.version,
                    Untrusted::path(manifest_path)
                );
            }
        }
    }
    Ok(exit)
}

/// A tag that disagrees with the manifest is a problem with its `version`: point at that line.
fn locate(problem: Problem, err: &anyhow::Error, manifest: Option<&Manifest>) -> Problem {
    let disagrees = err
        .downcast_ref::<TagError>()
        .is_some_and(|err| !matches!(err, TagError::NotFound { .. } | TagError::Ambiguous { .. }));
    match manifest {
        Some(manifest) if disagrees => {
            let at = manifest.location_of_field("version");
            problem.at(at.file, Some(at.line), Some(at.column))
        }
        _ => problem,
    }
}
