//! `chuks-ci registry …`: serve the reference registry and manage its tokens.

use crate::cli::RegistryCommand;
use crate::exit::Exit;
use crate::report::Reporter;

pub fn run(_command: RegistryCommand, _reporter: &mut Reporter) -> anyhow::Result<Exit> {
    anyhow::bail!("`registry` is not implemented yet")
}
