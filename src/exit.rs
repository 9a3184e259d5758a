//! Stable process exit codes and the mapping from errors to them.

use std::process::ExitCode;

/// The exit codes documented in the README. Their numbers never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked (including `unchanged` re-publishes).
    Success = 0,
    /// A check failed: tag mismatch, leak guard, version exists with other contents.
    CheckFailed = 1,
    /// Bad usage or input: no manifest, unreadable JSON, no tag found.
    Usage = 2,
    /// Authentication or authorisation refused: bad, expired, revoked token or missing scope.
    Auth = 3,
    /// The registry or forge was unreachable or failing after retries.
    Unavailable = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Implemented by every module-boundary error enum so `main` can pick the exit code.
pub trait HasExit {
    fn exit(&self) -> Exit;
}

/// Picks the exit code for an error: the first error in the chain that knows its code wins;
/// anything unknown is a usage or input error.
pub fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(code) = known_exit(cause) {
            return code;
        }
    }
    Exit::Usage
}

fn known_exit(cause: &(dyn std::error::Error + 'static)) -> Option<Exit> {
    macro_rules! try_types {
        ($($ty:ty),* $(,)?) => {
            $(if let Some(e) = cause.downcast_ref::<$ty>() { return Some(e.exit()); })*
        };
    }
    try_types!(
        crate::manifest::ManifestError,
        crate::tag::TagError,
        crate::git::GitError,
        crate::token::TokenError,
        crate::registry_server::RegistryError,
        crate::pack::PackError,
        crate::verify::ReleaseError,
        crate::registry_client::ClientError,
        crate::confirm::ConfirmError,
        crate::forge::ForgeError,
        crate::platform::PlatformError,
        crate::preflight::PreflightError,
        crate::bump::BumpError,
        crate::release::BumpRefused,
        crate::hook::HookError,
    );
    None
}
