//! `chuks-ci pack`: build the tarball that `publish` would upload.

use crate::cli::PackArgs;
use crate::exit::Exit;
use crate::report::Reporter;

pub fn run(_args: &PackArgs, _reporter: &mut Reporter) -> anyhow::Result<Exit> {
    anyhow::bail!("`pack` is not implemented yet")
}
