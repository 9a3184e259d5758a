//! `chuks-ci verify-tag`: the tag check, runnable locally as a dry run.

use crate::cli::VerifyTagArgs;
use crate::exit::Exit;
use crate::report::Reporter;

pub fn run(_args: &VerifyTagArgs, _reporter: &mut Reporter) -> anyhow::Result<Exit> {
    anyhow::bail!("not implemented yet")
}
