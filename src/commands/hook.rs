//! `chuks-ci hook install` and `chuks-ci hook pre-push`: the guard against mismatched release
//! tags, installed into and run by git.

use std::io::IsTerminal;
use std::path::Path;

use serde_json::json;

use super::Exit;
use crate::cli::{HookCommand, HookInstallArgs, HookPrePushArgs};
use crate::git::Git;
use crate::hook::{self, CheckOptions, HookError, InstallOptions, Installed, Verdict};
use crate::report::{Format, Problem, Reporter};
use crate::untrusted::Untrusted;

pub fn run(command: &HookCommand, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    match command {
        HookCommand::Install(args) => install(args, reporter),
        HookCommand::PrePush(args) => pre_push(args, reporter),
    }
}

fn install(args: &HookInstallArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let git = repository(Path::new("."))?;
    let options = InstallOptions {
        binary: std::env::current_exe().and_then(std::fs::canonicalize).ok(),
        manifest: repo_relative(&args.manifest.manifest)?,
        tag_prefix: args.tag_prefix.clone(),
        force: args.force,
    };
    let (path, installed) = hook::install(&git, &options)?;
    let action = match installed {
        Installed::Written => "installed",
        Installed::Updated => "updated",
        Installed::Replaced => "replaced",
    };
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": action,
            "path": path,
            "manifest": options.manifest,
        })),
        Format::Human => {
            crate::outln!("{action} the pre-push hook at {}", Untrusted::path(&path));
            crate::outln!(
                "it refuses to push a release tag that disagrees with {} at the tagged commit; `git push --no-verify` skips it",
                Untrusted::new(options.manifest.as_str())
            );
        }
    }
    Ok(Exit::Success)
}

/// The manifest's path relative to the repository root, as the hook reads it from commits.
fn repo_relative(manifest: &Path) -> anyhow::Result<String> {
    let folder = match manifest.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let prefix = repository(folder)?.prefix()?;
    let file = manifest
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| crate::manifest::MANIFEST_FILE.to_string());
    Ok(format!("{prefix}{file}"))
}

/// The repository around `folder`. git's own refusal (a checkout it does not trust) is passed
/// on with its hint.
fn repository(folder: &Path) -> anyhow::Result<Git> {
    let git = Git::locate(folder).map_err(|_| HookError::NoGit)?;
    match git.repo()? {
        Some(_) => Ok(git),
        None => Err(HookError::NotARepository.into()),
    }
}

fn pre_push(args: &HookPrePushArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    // Run by hand at a terminal, reading stdin would wait for input that never comes.
    if std::io::stdin().is_terminal() {
        return Err(HookError::BadInput {
            reason: "standard input is a terminal".to_string(),
        }
        .into());
    }
    let refs = hook::read_refs(std::io::stdin().lock())?;
    let git = Git::locate(Path::new("."))?;
    // Pushing to a URL, git passes it as the remote's name too: then there are no branches of
    // that remote to know of.
    let remote = args
        .remote
        .clone()
        .filter(|remote| Some(remote) != args.url.as_ref());
    let options = CheckOptions {
        manifest: args.manifest.clone(),
        tag_prefix: args.tag_prefix.clone(),
        remote,
        destination: args.remote.clone(),
    };
    let verdicts = hook::check_push(&git, &refs, &options)?;
    let mut refused = Vec::new();
    for verdict in &verdicts {
        match verdict {
            Verdict::Matches {
                tag,
                commit,
                manifest,
            } => reporter.note(format!(
                "pre-push: tag `{tag}` matches {} {} in {} at commit {}",
                manifest.name,
                manifest.version,
                Untrusted::path(&manifest.path),
                super::short_commit(commit)
            )),
            Verdict::Skipped { tag, reason } => {
                reporter.debug(1, format!("pre-push: tag `{tag}` not checked: {reason}"))
            }
            Verdict::Refused {
                tag,
                error,
                manifest,
                ..
            } => {
                refused.push(format!("`{tag}`"));
                reporter.report(locate(Problem::from_error(error), manifest.as_ref()));
            }
        }
    }
    if reporter.format == Format::Json {
        crate::report::print_json(&json!({
            "result": if refused.is_empty() { "ok" } else { "refused" },
            "remote": args.remote,
            "tags": verdicts.iter().map(describe).collect::<Vec<_>>(),
            "problems": reporter.problems(),
        }));
    }
    if refused.is_empty() {
        return Ok(Exit::Success);
    }
    reporter.note(format!(
        "pre-push: push refused for {} (`git push --no-verify` skips this check)",
        refused.join(", ")
    ));
    Ok(Exit::CheckFailed)
}

/// Points a refusal at the manifest's `version`, as `verify-tag` does.
fn locate(problem: Problem, manifest: Option<&crate::manifest::Manifest>) -> Problem {
    match manifest {
        Some(manifest) => {
            let at = manifest.location_of_field("version");
            problem.at(at.file, Some(at.line), Some(at.column))
        }
        None => problem,
    }
}

fn describe(verdict: &Verdict) -> serde_json::Value {
    match verdict {
        Verdict::Matches {
            tag,
            commit,
            manifest,
        } => json!({"tag": tag, "result": "match", "commit": commit, "manifest": manifest.path}),
        Verdict::Skipped { tag, reason } => {
            json!({"tag": tag, "result": "skipped", "reason": reason})
        }
        Verdict::Refused { tag, commit, .. } => {
            json!({"tag": tag, "result": "refused", "commit": commit})
        }
    }
}
