//! `chuks-ci init`: write a platform's publish pipeline into a repository, or check the examples.

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
    match args.platform {
        Some(platform) => write(args, platform.into(), reporter),
        None if args.update_examples => update(&args.dir),
        None => check(&args.dir, reporter),
    }
}

fn update(root: &Path) -> anyhow::Result<Exit> {
    for (relative, text) in pipelines::all_rendered() {
        let path = root.join(&relative);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            continue;
        }
        write_file(&path, &text)?;
        crate::outln!("updated {}", crate::untrusted::Untrusted::path(&relative));
    }
    Ok(Exit::Success)
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
    let mut text = pipelines::render_pinned(ci, example, &pin);
    let library = shim.as_ref().and_then(|shim| shim.library.as_deref());
    if example == Example::PrebuiltBinaries && ci != Ci::Github {
        if let Some(library) = library {
            text = pipelines::for_shim_library(&text, library);
        }
    }
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

fn check(root: &Path, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let files = pipelines::all_rendered();
    let mut drifted = Vec::new();
    for (relative, expected) in &files {
        let path = root.join(relative);
        let problem = match std::fs::read_to_string(&path) {
            Ok(actual) if actual == *expected => continue,
            Ok(actual) => Problem::error(format!(
                "`{}` differs from what `chuks-ci init` renders ({})",
                crate::untrusted::Untrusted::path(relative),
                first_difference(&actual, expected)
            )),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Problem::error(format!(
                "`{}` is missing",
                crate::untrusted::Untrusted::path(relative)
            )),
            Err(err) => Problem::error(format!(
                "could not read `{}`: {err}",
                crate::untrusted::Untrusted::path(&path)
            )),
        };
        reporter.report(problem.with_hint(
            "edit the sources in src/pipelines/ (or templates/github/publish.yml), not the rendered files; \
             then regenerate with `chuks-ci init <platform> --example <name>` or copy the rendering",
        ));
        drifted.push(crate::untrusted::Untrusted::path(relative).to_string());
    }
    let exit = if drifted.is_empty() {
        Exit::Success
    } else {
        Exit::CheckFailed
    };
    match reporter.format {
        Format::Json => crate::report::print_json(&json!({
            "result": if drifted.is_empty() { "match" } else { "drift" },
            "checked": files.len(),
            "drifted": drifted,
            "problems": reporter.problems(),
        })),
        Format::Human if drifted.is_empty() => {
            crate::outln!("ok: {} rendered files match", files.len())
        }
        Format::Human => {}
    }
    Ok(exit)
}

/// "line N: expected `…`" for the first line that differs.
fn first_difference(actual: &str, expected: &str) -> String {
    let mut actual_lines = actual.lines();
    for (index, want) in expected.lines().enumerate() {
        match actual_lines.next() {
            Some(got) if got == want => {}
            Some(got) => return format!("line {}: expected `{want}`, found `{got}`", index + 1),
            None => {
                return format!(
                    "line {}: expected `{want}`, found the end of the file",
                    index + 1
                );
            }
        }
    }
    match actual_lines.next() {
        Some(extra) => format!(
            "line {}: unexpected `{extra}`",
            expected.lines().count() + 1
        ),
        None => "only line endings differ".to_string(),
    }
}

/// Writes `text` to `path`, creating its folders.
fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
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
