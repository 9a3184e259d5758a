//! `chuks-ci publish`: the command line made into a plan once, the plan run (`crate::publish`),
//! and its report written to the CI's outputs and printed.

use std::time::Duration;

use super::context::{self, ForgeCheck};
use super::exit::{self, Exit};
use crate::ci::outputs::{Results, Sinks};
use crate::cli::{self, PublishArgs};
use crate::manifest::Manifest;
use crate::publish::report::{PublishReport, PublishResult};
use crate::publish::settle::IfExists;
use crate::publish::{self, PayloadKind, PublishPlan, Registry};
use crate::report::{Format, Problem, Reporter};
use crate::token::ApiToken;
use crate::untrusted::Untrusted;
use crate::{prebuilt, registry_client};

pub fn run(args: &PublishArgs, reporter: &mut Reporter) -> anyhow::Result<Exit> {
    // Masks must precede every other line in GitHub Actions, so the secrets are read first.
    let forge = ForgeCheck::detect(&args.forge, reporter);
    // A run that cannot even be planned still writes its result.
    let outputs = Sinks::from_env(args.dotenv.as_deref());
    let mut report = PublishReport::default();
    let published = plan(args, reporter).and_then(|plan| {
        let session = context::session(&args.access.network, reporter)?;
        let confirm_tag = |tag: &Untrusted, reporter: &Reporter| {
            context::confirm_tag(&session, &forge, tag, reporter)
        };
        publish::run(&plan, &session, &confirm_tag, reporter, &mut report)
    });
    let exit = match &published {
        Ok(()) => Exit::Success,
        Err(err) => {
            reporter.report(super::problem_of(err));
            report.result = Some(PublishResult::Failed);
            exit::classify(err)
        }
    };
    write_ci_outputs(&outputs, &Results::pairs(&report.outputs()), reporter);
    print_result(&report, reporter, exit);
    Ok(exit)
}

/// The plan, from the command line and the environment; the token first.
fn plan(args: &PublishArgs, reporter: &mut Reporter) -> anyhow::Result<PublishPlan> {
    let token = token(args, reporter)?;
    let manifest = Manifest::load(&args.manifest.manifest)?;
    plan_for(args, token, manifest, args.tag.query())
}

/// The token a run to a remote registry was given (a local one mints its own).
pub(super) fn token(
    args: &PublishArgs,
    reporter: &mut Reporter,
) -> anyhow::Result<Option<ApiToken>> {
    match args.local_registry {
        Some(_) => Ok(None),
        None => context::api_token(&args.access.token, reporter),
    }
}

/// The plan for `manifest`, released by the tag `tag` finds.
pub(super) fn plan_for(
    args: &PublishArgs,
    token: Option<ApiToken>,
    manifest: Manifest,
    tag: crate::verify::Query,
) -> anyhow::Result<PublishPlan> {
    let registry = match &args.local_registry {
        Some(dir) => Registry::Local(dir.clone()),
        None => Registry::Remote {
            url: registry_client::registry_url(args.access.registry.registry.as_deref())?,
            token,
        },
    };
    let payload = match args.prebuilt {
        true => PayloadKind::Prebuilt {
            platform: prebuilt::resolve_platform(&args.platform)?,
            file: args.file.clone().unwrap_or_default(),
        },
        false => PayloadKind::Source(args.pack.limits()),
    };
    Ok(PublishPlan {
        manifest,
        tag,
        registry,
        uploader: context::uploader_choice(&args.uploader),
        payload,
        if_exists: match args.if_exists {
            cli::IfExists::Verify => IfExists::Verify,
            cli::IfExists::Skip => IfExists::Skip,
            cli::IfExists::Error => IfExists::Error,
        },
        dry_run: args.dry_run,
        confirm_timeout: Duration::from_secs(args.confirm_timeout),
        expiry_warning_days: args.preflight.expiry_warning_days,
        trusted_publishing: args.trusted_publishing.trusted_publishing.into(),
    })
}

pub(super) fn write_ci_outputs(outputs: &Sinks, results: &Results, reporter: &mut Reporter) {
    for failure in outputs.write(results, "chuks-ci publish") {
        reporter.report(
            Problem::warning(format!("could not write {failure}"))
                .with_hint("check that the path is writable"),
        );
    }
}

fn print_result(report: &PublishReport, reporter: &Reporter, exit: Exit) {
    match reporter.format {
        Format::Json => {
            crate::report::print_json(&report.to_json(exit as u8, reporter.problems()));
        }
        Format::Human if exit == Exit::Success => {
            for line in report.summary_lines() {
                crate::outln!("{line}");
            }
        }
        Format::Human => {}
    }
}
