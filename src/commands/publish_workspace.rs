//! `chuks-ci publish --workspace`: the packages HEAD releases made into one plan each, run as one
//! workspace publish, and reported one row per package.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::{self, ForgeCheck};
use super::exit::{self, Exit};
use super::publish::{plan_for, token, write_ci_outputs};
use crate::ci::outputs::{Results, Sinks, Table};
use crate::cli::PublishArgs;
use crate::publish::report::PublishResult;
use crate::publish::settle::IfExists;
use crate::publish::workspace::{self, PackageRun, WorkspacePlan};
use crate::redact::redact;
use crate::report::{Format, Reporter};
use crate::session::Session;
use crate::untrusted::Untrusted;
use crate::workspace::{Tagged, Workspace, releases_at_head};

pub fn run(args: &PublishArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let forge = ForgeCheck::detect(&args.forge, reporter);
    let outputs = Sinks::from_env(args.dotenv.as_deref());
    let plan = plan(args, reporter).and_then(|plan| {
        let session = context::session(&args.access.network, reporter)?;
        Ok((plan, session))
    });
    let (plan, session) = match plan {
        Ok(planned) => planned,
        Err(err) => {
            reporter.report(super::problem_of(&err));
            let exit = exit::classify(&err);
            let pairs = [("result", "failed".to_string())];
            write_ci_outputs(&outputs, &Results::pairs(&pairs), reporter);
            print_json_if_asked(&[], reporter, exit);
            return Ok(exit);
        }
    };
    let runs = run_plan(&plan, &session, &forge, reporter);
    Ok(report_runs(&runs, Some(&outputs), reporter))
}

/// Runs the plan, confirming each tag on the forge.
pub(super) fn run_plan(
    plan: &WorkspacePlan,
    session: &Session,
    forge: &ForgeCheck,
    reporter: &mut Reporter,
) -> Vec<PackageRun> {
    let confirm_tag =
        |tag: &Untrusted, reporter: &Reporter| context::confirm_tag(session, forge, tag, reporter);
    workspace::run(plan, session, &confirm_tag, reporter)
}

/// Reports every failure, writes the outputs (when the command has any) and prints the rows;
/// the exit code is the worst of the packages'.
pub(super) fn report_runs(
    runs: &[PackageRun],
    outputs: Option<&Sinks>,
    reporter: &mut Reporter,
) -> Exit {
    let mut exit = Exit::Success;
    for run in runs {
        if let Some(err) = &run.error {
            reporter.report(super::problem_of(err));
            exit = exit.worst(exit::classify(err));
        }
    }
    if let Some(outputs) = outputs {
        let rows = package_rows(runs);
        let results = Results {
            pairs: &output_pairs(runs),
            table: Some(Table {
                columns: &COLUMNS,
                rows: &rows,
            }),
        };
        write_ci_outputs(outputs, &results, reporter);
    }
    match reporter.format {
        Format::Json => print_json_if_asked(runs, reporter, exit),
        Format::Human => print_table(runs),
    }
    exit
}

/// One plan per package HEAD releases, in release order, with its workspace dependencies.
fn plan(args: &PublishArgs, reporter: &mut Reporter) -> anyhow::Result<WorkspacePlan> {
    if args.prebuilt {
        anyhow::bail!(
            "`--workspace` publishes source packages, not a prebuilt binary\nhint: publish each prebuilt with its own `chuks-ci publish --prebuilt --manifest PATH`"
        );
    }
    let token = token(args, reporter)?;
    let dir = super::workspace_dir(&args.manifest.manifest);
    let (workspace, tagged) = releases_at_head(&dir, &args.workspace.packages, args.unpublished)?;
    let mut plans = Vec::with_capacity(tagged.len());
    for released in &tagged {
        let member = &workspace.members[released.index];
        let query = super::workspace_query(&workspace, released, args.tag.allow_untracked);
        let mut plan = plan_for(args, token.clone(), member.manifest.clone(), query)?;
        if args.unpublished {
            // A version the registry holds is not this run's to release: left as it is.
            plan.if_exists = IfExists::Skip;
        }
        plans.push(plan);
    }
    Ok(WorkspacePlan {
        plans,
        dependencies: dependencies(&workspace, &tagged),
        jobs: usize::from(args.jobs),
    })
}

/// For each package of the run, the positions of those it depends on.
pub(super) fn dependencies(workspace: &Workspace, tagged: &[Tagged]) -> Vec<Vec<usize>> {
    tagged
        .iter()
        .map(|released| dependencies_in_run(workspace, tagged, released.index))
        .collect()
}

/// The positions in `tagged` of the packages `member` depends on: a dependency not released in
/// this run is already on the registry, or the install fails there, as it would without us.
fn dependencies_in_run(workspace: &Workspace, tagged: &[Tagged], member: usize) -> Vec<usize> {
    workspace
        .dependencies_of(member)
        .into_iter()
        .filter_map(|dependency| tagged.iter().position(|t| t.index == dependency))
        .collect()
}

/// The run's result: the worst of the packages'.
fn worst_result(runs: &[PackageRun]) -> PublishResult {
    let rank = |result: PublishResult| match result {
        PublishResult::Published => 0,
        PublishResult::Unchanged => 1,
        PublishResult::DryRun => 2,
        PublishResult::Exists => 3,
        PublishResult::Skipped => 4,
        PublishResult::Failed => 5,
    };
    runs.iter()
        .map(|run| run.report.result.unwrap_or(PublishResult::Failed))
        .max_by_key(|result| rank(*result))
        .unwrap_or(PublishResult::Failed)
}

/// `result` (the worst), `published` (`name@version` of each upload this run made) and
/// `results` (one compact JSON object per package).
fn output_pairs(runs: &[PackageRun]) -> Vec<(&'static str, String)> {
    let published: Vec<String> = runs
        .iter()
        .filter(|run| run.report.result == Some(PublishResult::Published))
        .map(|run| {
            let report = &run.report;
            format!(
                "{}@{}",
                report.name.as_deref().unwrap_or_default(),
                report.version.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let results: Vec<Value> = runs.iter().map(row_json).collect();
    vec![
        ("result", worst_result(runs).as_str().to_string()),
        ("published", published.join(" ")),
        ("results", Value::Array(results).to_string()),
    ]
}

/// A package's row: its CI outputs, why it was skipped, and its time.
fn row_json(run: &PackageRun) -> Value {
    let mut row = serde_json::Map::new();
    for (key, value) in run.report.outputs() {
        row.insert(key.to_string(), json!(value));
    }
    if let Some(because) = &run.skipped_because {
        row.insert("skipped_because".into(), json!(because));
    }
    row.insert(
        "seconds".into(),
        json!(run.elapsed.map(|elapsed| elapsed.as_secs_f64())),
    );
    Value::Object(row)
}

fn print_json_if_asked(runs: &[PackageRun], reporter: &Reporter, exit: Exit) {
    if reporter.format != Format::Json {
        return;
    }
    crate::report::print_json(&json!({
        "result": worst_result(runs).as_str(),
        "exit_code": exit as u8,
        "packages": runs.iter().map(row_json).collect::<Vec<_>>(),
        "problems": reporter.problems(),
    }));
}

/// The columns of the per-package table, as the step summary names them.
const COLUMNS: [&str; 7] = [
    "name", "version", "tag", "result", "sha256", "uploader", "seconds",
];

/// One row per package under [`COLUMNS`], values as they are (empty when unknown).
fn package_rows(runs: &[PackageRun]) -> Vec<Vec<String>> {
    runs.iter()
        .map(|run| {
            let report = &run.report;
            let text = |field: &Option<String>| field.clone().unwrap_or_default();
            let result = report.result.unwrap_or(PublishResult::Failed);
            vec![
                text(&report.name),
                text(&report.version),
                report
                    .tag
                    .as_ref()
                    .map(|tag| tag.unescaped().to_string())
                    .unwrap_or_default(),
                result.as_str().to_string(),
                text(&report.sha256),
                report.uploader.unwrap_or_default().to_string(),
                run.elapsed.map(seconds).unwrap_or_default(),
            ]
        })
        .collect()
}

/// The rows for people: outside text escaped and tokens masked, the sha256 shortened, `-` for
/// what is unknown.
fn print_table(runs: &[PackageRun]) {
    let header = [
        "package", "version", "tag", "result", "sha256", "uploader", "time",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = package_rows(runs)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .enumerate()
                .map(|(column, value)| match (column, value.is_empty()) {
                    (_, true) => "-".to_string(),
                    (4, false) => value.chars().take(12).collect(),
                    (6, false) => format!("{value}s"),
                    (_, false) => Untrusted::from(redact(&value).into_owned()).to_string(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        crate::outln!("{}", cells.join("  ").trim_end());
    }
    for run in runs {
        if let (Some(because), Some(name)) = (&run.skipped_because, &run.report.name) {
            crate::outln!("skipped {name}: {because}");
        }
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}", elapsed.as_secs_f64())
}
