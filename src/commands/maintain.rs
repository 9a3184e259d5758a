//! `chuks-ci maintain examples`, for chuks-ci's maintainers: compare the committed examples and
//! generated files with what this build renders (`--check`, the drift guard CI runs), or
//! rewrite them (`--update`).

use std::path::Path;

use serde_json::json;

use super::Exit;
use super::init::write_file;
use crate::cli::{MaintainCommand, MaintainExamplesArgs};
use crate::pipelines;
use crate::report::{Format, Problem, Reporter};
use crate::untrusted::Untrusted;

pub fn run(command: &MaintainCommand, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    match command {
        MaintainCommand::Examples(MaintainExamplesArgs {
            update: true, dir, ..
        }) => update(dir),
        MaintainCommand::Examples(args) => check(&args.dir, reporter),
    }
}

fn update(root: &Path) -> anyhow::Result<Exit> {
    for (relative, text) in pipelines::all_rendered()? {
        let path = root.join(&relative);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            continue;
        }
        write_file(&path, &text)?;
        crate::outln!("updated {}", Untrusted::path(&relative));
    }
    Ok(Exit::Success)
}

fn check(root: &Path, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let files = pipelines::all_rendered()?;
    let mut drifted = Vec::new();
    for (relative, expected) in &files {
        let path = root.join(relative);
        let problem = match std::fs::read_to_string(&path) {
            Ok(actual) if actual == *expected => continue,
            Ok(actual) => Problem::error(format!(
                "`{}` differs from what this build renders ({})",
                Untrusted::path(relative),
                first_difference(&actual, expected)
            )),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Problem::error(format!("`{}` is missing", Untrusted::path(relative)))
            }
            Err(err) => Problem::error(format!(
                "could not read `{}`: {err}",
                Untrusted::path(&path)
            )),
        };
        reporter.report(problem.with_hint(
            "edit the sources in src/pipelines/, not the rendered files; \
             then rewrite them with `cargo run -- maintain examples --update`",
        ));
        drifted.push(Untrusted::path(relative).to_string());
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
