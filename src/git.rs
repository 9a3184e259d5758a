//! Read-only git queries for the package's repository, run through the `git` binary.

use crate::exit::{Exit, HasExit};

#[derive(Debug, thiserror::Error)]
pub enum GitError {}

impl HasExit for GitError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}
