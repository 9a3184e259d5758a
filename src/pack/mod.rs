//! Packing a package folder into a deterministic `.tar.gz`, with the leak guard.

use crate::exit::{Exit, HasExit};

/// Default limit on the package's total file size.
pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PackError {}

impl HasExit for PackError {
    fn exit(&self) -> Exit {
        Exit::CheckFailed
    }
}
