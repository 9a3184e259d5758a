//! `chuks-ci init`: write a platform's publish pipeline into a repository.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use super::Exit;
use crate::cli::InitArgs;
use crate::forge::github;
use crate::pipelines::survey::{self, ShimCrate, TagPublisher};
use crate::pipelines::{self, ActionPin, Ci, Example};
use crate::report::{Format, Problem, Reporter};
use crate::untrusted::Untrusted;

pub fn run(args: &InitArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    write(args, args.platform.into(), reporter)
}

fn write(args: &InitArgs, ci: Ci, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let relative = ci.target_path();
    let path = args.dir.join(relative);
    if path.exists() && !args.force {
        anyhow::bail!(
            "`{}` already exists\nhint: pass `--force` to overwrite it, or compare it with `chuks-ci init {} --dir <empty folder>`",
            crate::untrusted::Untrusted::path(&path),
            ci.name()
        );
    }
    let shim = survey::shim_crate(&args.dir);
    let example = match (args.example, &shim) {
        (Some(example), _) => example.into(),
        (None, Some(_)) => Example::PrebuiltBinaries,
        (None, None) => Example::SinglePackage,
    };
    let (publishers, unread) = match ci {
        Ci::Github => survey::tag_publishers(&args.dir, Path::new(relative)),
        Ci::Gitlab | Ci::Bitbucket => Default::default(),
    };
    let (pin, pin_note) = action_pin(ci);
    let library = shim.as_ref().and_then(|shim| shim.library.as_deref());
    let text = pipelines::render_pinned(ci, example, &pin, library)?;
    write_file(&path, &text)?;
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": "written",
            "platform": ci.name(),
            "example": example.name(),
            "path": path,
            "shim_crate": shim.as_ref().map(|shim| json!({"library": shim.library})),
            "existing_publishers": publishers.iter().map(publisher_json).collect::<Vec<_>>(),
            "unread_workflows": unread.iter().map(|u| json!({"path": u.path, "reason": u.reason})).collect::<Vec<_>>(),
            "secret": "CHUKS_TOKEN",
            "next": ci.secret_instructions(),
            "action_pin": pin.commit,
            "pin_note": pin_note,
            "release": "chuks-ci bump patch --push",
            "guard": "chuks-ci hook install",
        })),
        Format::Human => {
            crate::outln!("wrote {}", crate::untrusted::Untrusted::path(&path));
            if let Some(note) = &pin_note {
                reporter.note(note);
            }
            if let Some(note) = example_note(args.example.is_some(), example, shim.as_ref()) {
                reporter.note(note);
            }
            if pipelines::misses_archive_sums(ci, example) {
                reporter.note(format!(
                    "this chuks-ci build pins no sha256 for its own release archives (they are summed after it is built): \
                     copy ci-examples/bitbucket/single-package.bitbucket-pipelines.yml from the `{tag}` tag, which pins them, \
                     or set the repository variable CHUKS_CI_SHA256 to the linux sum in that release's SHA256SUMS",
                    tag = pipelines::release_tag()
                ));
            }
        }
    }
    for publisher in &publishers {
        reporter.report(second_publisher(publisher, relative));
    }
    for unread in &unread {
        reporter.report(
            Problem::warning(format!(
                "could not read `{}` ({}), so it was not checked for a second publisher",
                Untrusted::path(&unread.path),
                unread.reason
            ))
            .with_hint(format!(
                "make sure it does not publish on release tags as `{relative}` now does"
            )),
        );
    }
    if reporter.format == Format::Human {
        crate::outln!("next: {}", ci.secret_instructions());
        crate::outln!(
            "then release with `chuks-ci bump patch --push` (it bumps chuks.json, commits, tags, and pushes the branch and tag together)"
        );
        crate::outln!(
            "and run `chuks-ci hook install` once per clone: its pre-push hook refuses a release tag that disagrees with chuks.json"
        );
    }
    Ok(Exit::Success)
}

/// Why this example, when the shim decided it or the choice leaves the shim out.
fn example_note(chosen: bool, example: Example, shim: Option<&ShimCrate>) -> Option<String> {
    let shim = shim?;
    let library = shim
        .library
        .as_ref()
        .map_or_else(String::new, |name| format!(" `{name}`"));
    match (chosen, example) {
        (false, _) => Some(format!(
            "shim/ holds the cdylib crate{library}: wrote the prebuilt-binaries example, which publishes its binary \
             for each platform after the source package; pass `--example single-package` to publish the source alone"
        )),
        (true, Example::SinglePackage) => Some(format!(
            "shim/ holds the cdylib crate{library}, which this example does not build: \
             `--example prebuilt-binaries` also publishes its binary for each platform"
        )),
        (true, _) => None,
    }
}

/// The warning for a workflow that already publishes on tags: what to remove, and where the
/// migration guide shows the change.
fn second_publisher(publisher: &TagPublisher, written: &str) -> Problem {
    let jobs = |names: &[Untrusted]| {
        let list = names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        match names.len() {
            1 => format!("job {list}"),
            _ => format!("jobs {list}"),
        }
    };
    let file = Untrusted::path(&publisher.path);
    let tags = publisher
        .tags
        .iter()
        .map(|tag| format!("`{tag}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let publishing = jobs(&publisher.publishing_jobs);
    let helpers = match publisher.helper_jobs.is_empty() {
        true => String::new(),
        false => format!(" and the {} only they need", jobs(&publisher.helper_jobs)),
    };
    let remove = if publisher.whole_file {
        format!("delete `{file}`, which holds only the {publishing}{helpers}")
    } else {
        format!("remove the {publishing}{helpers} from `{file}`")
    };
    Problem::warning(format!(
        "`{file}` already publishes on tags {tags} ({publishing}): with `{written}` too, every release would be published twice"
    ))
    .with_hint(format!(
        "{remove}; {} shows what moves where (inputs, `if-exists`, the shim jobs)",
        pipelines::migrating_guide_url()
    ))
}

fn publisher_json(publisher: &TagPublisher) -> serde_json::Value {
    json!({
        "path": publisher.path,
        "tags": publisher.tags,
        "publishing_jobs": publisher.publishing_jobs,
        "helper_jobs": publisher.helper_jobs,
        "whole_file": publisher.whole_file,
    })
}

/// How a GitHub pipeline references the action: by the commit this release recorded, else by
/// the commit GitHub says the tag points at, else by the tag, with a note saying how to pin it.
fn action_pin(ci: Ci) -> (ActionPin, Option<String>) {
    let pin = ActionPin::committed();
    if ci != Ci::Github || pin.commit.is_some() {
        return (pin, None);
    }
    let resolved = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())
        .and_then(|runtime| {
            runtime
                .block_on(github::release_commit(
                    &crate::ci::github::api_url(),
                    pipelines::ACTION_REPOSITORY,
                    &pin.tag,
                ))
                .map_err(|err| err.to_string())
        });
    match resolved {
        Ok(commit) => {
            let note = format!(
                "pinned {} to commit {commit} (tag `{}`)",
                pipelines::ACTION_REPOSITORY,
                pin.tag
            );
            (
                ActionPin {
                    commit: Some(commit),
                    ..pin
                },
                Some(note),
            )
        }
        Err(reason) => {
            let note = format!(
                "`{tag}` not resolved to a commit: {reason}; the workflow names the tag. To pin it by commit, run \
                 `git ls-remote https://github.com/{repo} refs/tags/{tag}` and replace `@{tag}` with `@<sha> # {tag}`",
                tag = pin.tag,
                repo = pipelines::ACTION_REPOSITORY,
            );
            (pin, Some(note))
        }
    }
}

/// Writes `text` to `path`, creating its folders.
pub(super) fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let hint = "hint: check that the folder is writable, or pick another with `--dir`";
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "could not create `{}`\n{hint}",
                crate::untrusted::Untrusted::path(parent)
            )
        })?;
    }
    std::fs::write(path, text).with_context(|| {
        format!(
            "could not write `{}`\n{hint}",
            crate::untrusted::Untrusted::path(path)
        )
    })
}
