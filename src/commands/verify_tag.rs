//! `chuks-ci verify-tag`: the tag check, runnable locally as a dry run.

use serde_json::json;

use super::exit::{self, Exit};
use crate::cli::VerifyTagArgs;
use crate::manifest::Manifest;
use crate::report::{Format, Problem, Reporter};
use crate::tag::TagError;
use crate::untrusted::Untrusted;
use crate::verify::{self, Findings};
use crate::workspace;

pub fn run(args: &VerifyTagArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    if args.workspace.workspace {
        return run_workspace(args, reporter);
    }
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
    let outcome = outcome(exit);
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

fn outcome(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "match",
        Exit::CheckFailed => "mismatch",
        _ => "error",
    }
}

/// `verify-tag --workspace`: every package HEAD releases is checked, and every problem reported.
fn run_workspace(args: &VerifyTagArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let dir = super::workspace_dir(&args.manifest.manifest);
    let (workspace, tagged) = workspace::tagged_at_head(&dir, &args.workspace.packages)?;
    let mut exit = Exit::Success;
    let mut packages = Vec::new();
    for released in &tagged {
        let (index, tag) = (&released.index, &released.tag);
        let member = &workspace.members[*index];
        let query = super::workspace_query(&workspace, released, args.tag.allow_untracked);
        let mut findings = Findings::default();
        let result = verify::verify(
            &member.manifest,
            &query,
            !crate::ci::is_ci(),
            reporter,
            &mut findings,
        );
        let package_exit = match &result {
            Ok(()) => Exit::Success,
            Err(err) => {
                let problem = super::problem_of(err);
                reporter.report(locate(problem, err, Some(&member.manifest)));
                exit::classify(err)
            }
        };
        exit = exit.worst(package_exit);
        if reporter.format == Format::Human && package_exit == Exit::Success {
            crate::outln!(
                "ok: tag `{}` matches {} {} in {}",
                Untrusted::from(tag.as_deref().unwrap_or_default()),
                member.manifest.name,
                member.manifest.version,
                member.dir_shown()
            );
        }
        packages.push(json!({
            "name": member.manifest.name,
            "version": member.manifest.version.to_string(),
            "tag": tag,
            "manifest": member.manifest.path,
            "result": outcome(package_exit),
        }));
    }
    if reporter.format == Format::Json {
        crate::report::print_json(&json!({
            "result": outcome(exit),
            "packages": packages,
            "problems": reporter.problems(),
        }));
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
