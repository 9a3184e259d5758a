//! One module per subcommand; `run` dispatches and turns errors into diagnostics and exit codes.

mod bump;
mod check;
mod context;
pub mod exit;
mod hook;
mod init;
mod maintain;
mod pack;
mod publish;
mod publish_workspace;
#[cfg(feature = "local-registry")]
mod registry;
mod trust;
mod verify_tag;
mod whoami;
mod yank;

use crate::cli::{Cli, Command};
use crate::report::{Format, Problem, Reporter};
pub use exit::{Exit, classify};

/// Runs the parsed command line and returns the documented exit code.
pub fn run(cli: Cli) -> Exit {
    let ci = crate::ci::current().map(|provider| provider.as_log());
    let mut reporter = Reporter::new(cli.format.into(), cli.verbose, ci);
    let result = match cli.command {
        Command::VerifyTag(args) => verify_tag::run(&args, &mut reporter),
        Command::Pack(args) => pack::run(&args, &mut reporter),
        Command::Publish(args) if args.workspace.workspace => {
            publish_workspace::run(&args, &mut reporter)
        }
        Command::Publish(args) => publish::run(&args, &mut reporter),
        Command::Check(args) => check::run(&args, &mut reporter),
        Command::Whoami(args) => whoami::run(&args, &mut reporter),
        Command::Yank(args) => yank::run_yank(&args, &mut reporter),
        Command::Restore(args) => yank::run_restore(&args, &mut reporter),
        #[cfg(feature = "local-registry")]
        Command::Registry(command) => registry::run(command, &mut reporter),
        Command::Init(args) => init::run(&args, &mut reporter),
        Command::Bump(args) => bump::run(&args, &mut reporter),
        Command::Hook(command) => hook::run(&command, &mut reporter),
        Command::Trust(command) => trust::run(&command, &mut reporter),
        Command::Maintain(command) => maintain::run(&command, &mut reporter),
    };
    let exit = match result {
        Ok(exit) => exit,
        Err(err) => {
            let exit = exit::classify(&err);
            reporter.report(problem_of(&err));
            if reporter.format == Format::Json {
                crate::report::print_json(&serde_json::json!({
                    "result": "error",
                    "exit_code": exit as u8,
                    "problems": reporter.problems(),
                }));
            }
            exit
        }
    };
    // The exit code still says what happened (to an upload, say), even if its report was lost.
    if let Some(failure) = crate::report::stdout_failure() {
        crate::report::write_stderr(&format!(
            "error: could not write the results to stdout: {failure}\nhint: the exit code still says how the command ended; give it a writable stdout to see its results\n"
        ));
    }
    exit
}

/// The error as one problem, pointing into chuks.json when a manifest error says where.
fn problem_of(err: &anyhow::Error) -> Problem {
    let problem = Problem::from_error(err);
    match err.chain().find_map(crate::manifest::location_of) {
        Some(at) => problem.at(at.file, Some(at.line), Some(at.column)),
        None => problem,
    }
}

/// Says which files a pack plan left out on purpose (a registry's data, chuks-ci's own tarballs).
fn note_left_out(plan: &crate::pack::PackPlan, reporter: &Reporter) {
    for left_out in &plan.left_out {
        reporter.note(left_out.to_string());
    }
}

/// The folder a `--workspace` run starts from: the `--manifest`'s.
fn workspace_dir(manifest: &std::path::Path) -> std::path::PathBuf {
    match manifest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// The release check's question for a package of a workspace run: its tag at HEAD (or none: it
/// is released untagged), in its own tag form.
fn workspace_query(
    workspace: &crate::workspace::Workspace,
    released: &crate::workspace::Tagged,
    allow_untracked: bool,
) -> crate::verify::Query {
    crate::verify::Query {
        tag: released.tag.clone(),
        prefix: workspace.members[released.index].tag_prefix.clone(),
        allow_untracked,
        untagged: released.tag.is_none(),
    }
}

/// A commit id shortened for people, as git shows it.
fn short_commit(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
