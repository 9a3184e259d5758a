//! `chuks-ci bump`: set the next version in chuks.json, commit, tag, and optionally push.

use std::path::PathBuf;

use serde_json::json;

use super::Exit;
use crate::bump::{self, Target};
use crate::bump_plan::{self, Applied, BumpOptions, Plan};
use crate::cli::{BumpArgs, TagFormArg};
use crate::git::write::GitStep;
use crate::report::{Format, Reporter};
use crate::tag::TagForm;
use crate::workspace::Workspace;

pub fn run(args: &BumpArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    let options = options(args)?;
    let plan = bump_plan::plan(&options, reporter)?;
    let applied = match args.dry_run {
        true => None,
        false => Some(bump_plan::apply(&plan)?),
    };
    match reporter.format {
        Format::Json => print_json(&plan, applied.as_ref(), reporter),
        Format::Human => match &applied {
            None => print_dry_run(&plan),
            Some(applied) => print_applied(&plan, applied),
        },
    }
    Ok(Exit::Success)
}

fn options(args: &BumpArgs) -> anyhow::Result<BumpOptions> {
    let tag_form = match (&args.tag_prefix, args.tag_form) {
        (Some(prefix), _) => Some(TagForm::Prefix(prefix.clone())),
        (None, form) => form.map(|form| match form {
            TagFormArg::V => TagForm::V,
            TagFormArg::Bare => TagForm::Bare,
            TagFormArg::At => TagForm::NameAt,
            TagFormArg::Slash => TagForm::NameSlash,
        }),
    };
    let (manifest, tag_form) = match &args.package {
        Some(name) => workspace_package(args, name, tag_form)?,
        None => (args.manifest.manifest.clone(), tag_form),
    };
    Ok(BumpOptions {
        manifest,
        target: Target::parse(&args.target)?,
        preid: args.preid.clone(),
        tag_form,
        message: args.message.clone(),
        commit: !args.no_commit,
        tag: !args.no_commit && !args.no_tag,
        push: args.push,
        remote: args.remote.clone(),
        package: args.package.clone(),
        dependents: args.dependents,
    })
}

/// `--package NAME`: the member's chuks.json, and its tag form: what was asked, else the
/// workspace file's `tag-prefix`, else `name@1.2.0`, which names the package among the others.
fn workspace_package(
    args: &BumpArgs,
    name: &str,
    asked: Option<TagForm>,
) -> anyhow::Result<(PathBuf, Option<TagForm>)> {
    let mut workspace = Workspace::discover(&super::workspace_dir(&args.manifest.manifest))?;
    workspace.retain_named(&[name.to_string()])?;
    let member = &workspace.members[0];
    let form = asked.unwrap_or_else(|| match &member.tag_prefix {
        Some(prefix) => TagForm::Prefix(prefix.clone()),
        None => TagForm::NameAt,
    });
    Ok((member.manifest.path.clone(), Some(form)))
}

fn print_dry_run(plan: &Plan) {
    crate::outln!(
        "dry run: would bump {} from {} to {}; nothing was changed",
        plan.name,
        plan.from,
        plan.to
    );
    for line in diff(plan).lines() {
        crate::outln!("{line}");
    }
    for line in dependent_lines(plan, "would release") {
        crate::outln!("{line}");
    }
    if !plan.steps.is_empty() {
        crate::outln!("would run:");
        for step in &plan.steps {
            crate::outln!("  {}", step.display());
        }
    }
}

fn print_applied(plan: &Plan, applied: &Applied) {
    crate::outln!(
        "bumped {} from {} to {} in {}",
        plan.name,
        plan.from,
        plan.to,
        crate::untrusted::Untrusted::path(&plan.manifest)
    );
    if let Some(commit) = &applied.commit {
        crate::outln!(
            "committed {}: {}",
            super::short_commit(commit),
            first_line(&plan.message)
        );
    }
    for line in dependent_lines(plan, "released") {
        crate::outln!("{line}");
    }
    let tags: Vec<&String> = plan
        .tag
        .iter()
        .chain(plan.dependents.iter().filter_map(|d| d.tag.as_ref()))
        .collect();
    for tag in &tags {
        crate::outln!("tagged {tag}");
    }
    if let (Some(push), Some(remote), Some(branch)) = (pushed(plan), &plan.remote, &plan.branch) {
        let what = match tags.is_empty() {
            false => format!(
                "{branch} and {}",
                tags.iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            true => branch.to_string(),
        };
        crate::outln!("pushed {what} to {remote} ({})", push.display());
    }
}

/// One line per dependent released with the package (`--dependents`).
fn dependent_lines(plan: &Plan, verb: &str) -> Vec<String> {
    plan.dependents
        .iter()
        .map(|dependent| {
            let ranges: Vec<String> = dependent
                .ranges
                .iter()
                .map(|(dependency, range)| format!("`{dependency}` to `{range}`"))
                .collect();
            format!(
                "{verb} {} {} (from {}), raising {}",
                dependent.name,
                dependent.to,
                dependent.from,
                ranges.join(", ")
            )
        })
        .collect()
}

fn print_json(plan: &Plan, applied: Option<&Applied>, reporter: &Reporter) {
    crate::report::print_json(&json!({
        "result": if applied.is_some() { "bumped" } else { "dry-run" },
        "name": plan.name,
        "from": plan.from.to_string(),
        "to": plan.to.to_string(),
        "manifest": plan.manifest,
        "diff": diff(plan),
        "commit": applied.and_then(|applied| applied.commit.as_ref()),
        "tag": plan.tag,
        "remote": pushed(plan).and(plan.remote.as_ref()),
        "branch": pushed(plan).and(plan.branch.as_ref()),
        "pushed": applied.is_some() && pushed(plan).is_some(),
        "dependents": plan.dependents.iter().map(|dependent| json!({
            "name": dependent.name,
            "from": dependent.from.to_string(),
            "to": dependent.to.to_string(),
            "manifest": dependent.manifest,
            "ranges": dependent.ranges.iter().map(|(dependency, range)| json!({
                "dependency": dependency,
                "range": range,
            })).collect::<Vec<_>>(),
            "tag": dependent.tag,
        })).collect::<Vec<_>>(),
        "commands": plan.steps.iter().map(GitStep::display).collect::<Vec<_>>(),
        "problems": reporter.problems(),
    }));
}

fn diff(plan: &Plan) -> String {
    bump::diff(
        &plan.rewrite,
        &crate::untrusted::Untrusted::path(&plan.manifest).to_string(),
    )
}

/// The push step, when the plan has one.
fn pushed(plan: &Plan) -> Option<&GitStep> {
    plan.steps.iter().find(|step| step.command() == "push")
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}
