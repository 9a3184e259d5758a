//! The stable process exit codes, and which error means which: a command-level decision, so the
//! domain modules only describe what went wrong.

use std::process::ExitCode;

use super::trust::ExplainError;
use crate::bump::BumpError;
use crate::bump_plan::BumpRefused;
use crate::ci::id_token::IdTokenError;
use crate::forge::ForgeError;
use crate::git::GitError;
use crate::hook::HookError;
use crate::manifest::ManifestError;
use crate::official_cli::CliError;
use crate::pack::PackError;
use crate::prebuilt::PlatformError;
use crate::preflight::PreflightError;
use crate::publish::settle::ExistsError;
use crate::readback::ReadBackError;
use crate::registry_client::ClientError;
#[cfg(feature = "local-registry")]
use crate::registry_server::RegistryError;
use crate::tag::TagError;
use crate::token::TokenError;
use crate::trusted_publishing::TrustError;
use crate::trusted_publishing::claims::ClaimsError;
use crate::verify::ReleaseError;
use crate::workspace::WorkspaceError;

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

impl Exit {
    /// The worse of two ends: the higher code, as a run of several packages reports.
    pub fn worst(self, other: Exit) -> Exit {
        match (self as u8) < (other as u8) {
            true => other,
            false => self,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Picks the exit code for an error: the first error in the chain whose type has a documented
/// code wins; anything unknown is a usage or input error.
pub fn classify(err: &anyhow::Error) -> Exit {
    err.chain().find_map(known_exit).unwrap_or(Exit::Usage)
}

fn known_exit(cause: &(dyn std::error::Error + 'static)) -> Option<Exit> {
    macro_rules! try_types {
        ($($ty:ty),* $(,)?) => {
            $(if let Some(e) = cause.downcast_ref::<$ty>() { return Some(e.exit()); })*
        };
    }
    #[cfg(feature = "local-registry")]
    try_types!(RegistryError);
    try_types!(
        ManifestError,
        TagError,
        GitError,
        TokenError,
        PackError,
        ReleaseError,
        ClientError,
        ExistsError,
        ReadBackError,
        ForgeError,
        PlatformError,
        PreflightError,
        CliError,
        BumpError,
        BumpRefused,
        HookError,
        TrustError,
        IdTokenError,
        ClaimsError,
        ExplainError,
        WorkspaceError,
    );
    None
}

/// The documented exit code of one module's errors.
trait HasExit {
    fn exit(&self) -> Exit;
}

impl HasExit for ManifestError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for TagError {
    fn exit(&self) -> Exit {
        match self {
            TagError::NotFound { .. } | TagError::Ambiguous { .. } => Exit::Usage,
            _ => Exit::CheckFailed,
        }
    }
}

impl HasExit for WorkspaceError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for GitError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for TokenError {
    fn exit(&self) -> Exit {
        match self {
            TokenError::Empty
            | TokenError::Missing
            | TokenError::Stdin(_)
            | TokenError::StdinTooLarge
            | TokenError::UnknownScope { .. } => Exit::Usage,
            TokenError::NotPrintable | TokenError::NotAnApiToken { .. } => Exit::Auth,
        }
    }
}

#[cfg(feature = "local-registry")]
impl HasExit for RegistryError {
    fn exit(&self) -> Exit {
        match self {
            RegistryError::Sqlite(_) | RegistryError::Bind { .. } | RegistryError::Serve(_) => {
                Exit::Unavailable
            }
            _ => Exit::Usage,
        }
    }
}

impl HasExit for PackError {
    fn exit(&self) -> Exit {
        match self {
            PackError::SymlinkOutside { .. }
            | PackError::SymlinkDangling { .. }
            | PackError::SymlinkLoop { .. }
            | PackError::SymlinkToUnpacked { .. }
            | PackError::SymlinkToFolder { .. }
            | PackError::TooLarge { .. }
            | PackError::Leaks { .. } => Exit::CheckFailed,
            PackError::NoManifest { .. }
            | PackError::Walk { .. }
            | PackError::Read { .. }
            | PackError::NonUtf8Path { .. }
            | PackError::Changed { .. }
            | PackError::Write { .. } => Exit::Usage,
        }
    }
}

impl HasExit for ReleaseError {
    fn exit(&self) -> Exit {
        Exit::CheckFailed
    }
}

impl HasExit for ClientError {
    fn exit(&self) -> Exit {
        match self {
            // A redirect means the configured URL is not the registry's: a re-run cannot help.
            ClientError::InvalidUrl { .. }
            | ClientError::InsecureUrl { .. }
            | ClientError::Redirect { .. }
            | ClientError::NoFile { .. } => Exit::Usage,
            ClientError::Auth { .. } | ClientError::NotPermitted { .. } => Exit::Auth,
            ClientError::Refused { .. } => Exit::CheckFailed,
            ClientError::RouteMissing { .. }
            | ClientError::Tls { .. }
            | ClientError::Unavailable { .. }
            | ClientError::Protocol(_) => Exit::Unavailable,
        }
    }
}

impl HasExit for TrustError {
    fn exit(&self) -> Exit {
        match self {
            TrustError::NoIdToken { .. } | TrustError::NotInCi | TrustError::NotOffered { .. } => {
                Exit::Usage
            }
            TrustError::InvalidIdToken { .. }
            | TrustError::NoTrustedPublisher(_)
            | TrustError::Replayed { .. }
            | TrustError::Refused { .. } => Exit::Auth,
            TrustError::UnexpectedAnswer { .. } => Exit::Unavailable,
            TrustError::IdToken(err) => err.exit(),
            TrustError::Client(err) => err.exit(),
        }
    }
}

impl HasExit for IdTokenError {
    fn exit(&self) -> Exit {
        match self {
            IdTokenError::NotOffered { .. } | IdTokenError::BadUrl { .. } => Exit::Usage,
            IdTokenError::Refused { .. } => Exit::Auth,
            IdTokenError::Unavailable { .. } | IdTokenError::UnexpectedAnswer { .. } => {
                Exit::Unavailable
            }
        }
    }
}

impl HasExit for ClaimsError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for ExplainError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for ExistsError {
    fn exit(&self) -> Exit {
        Exit::CheckFailed
    }
}

impl HasExit for ReadBackError {
    fn exit(&self) -> Exit {
        match self {
            ReadBackError::NotVisible { .. } => Exit::Unavailable,
            ReadBackError::OtherContents { .. } => Exit::CheckFailed,
            ReadBackError::Client(err) => err.exit(),
        }
    }
}

impl HasExit for ForgeError {
    fn exit(&self) -> Exit {
        match self {
            ForgeError::TagMissing { .. }
            | ForgeError::TagElsewhere { .. }
            | ForgeError::NotACommit { .. } => Exit::CheckFailed,
            ForgeError::AuthRefused { .. } => Exit::Auth,
            ForgeError::Unavailable { .. }
            | ForgeError::Tls { .. }
            | ForgeError::UnexpectedAnswer { .. }
            | ForgeError::Client { .. } => Exit::Unavailable,
            ForgeError::BadApiUrl { .. }
            | ForgeError::InsecureApiUrl { .. }
            | ForgeError::CannotConfirm { .. }
            | ForgeError::NotInCi => Exit::Usage,
        }
    }
}

impl HasExit for PlatformError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for PreflightError {
    fn exit(&self) -> Exit {
        match self {
            PreflightError::MissingScope { .. } => Exit::Auth,
            PreflightError::Client(err) => err.exit(),
        }
    }
}

impl HasExit for CliError {
    fn exit(&self) -> Exit {
        match self {
            CliError::NotFound { .. }
            | CliError::NotRunnable { .. }
            | CliError::Missing
            | CliError::Prepacked { .. } => Exit::Usage,
            CliError::AuthRefused { .. } => Exit::Auth,
            CliError::SupplyChainRefused { .. } => Exit::CheckFailed,
            // Nothing was published, whatever the CLI claimed: a re-run may succeed.
            CliError::Unavailable { .. }
            | CliError::TimedOut { .. }
            | CliError::Failed { .. }
            | CliError::ExistsRefuted { .. }
            | CliError::Spawn(_) => Exit::Unavailable,
            CliError::Registry(err) => err.exit(),
        }
    }
}

impl HasExit for BumpError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl HasExit for BumpRefused {
    fn exit(&self) -> Exit {
        Exit::CheckFailed
    }
}

impl HasExit for HookError {
    fn exit(&self) -> Exit {
        match self {
            HookError::PackageNotFound { .. }
            | HookError::ManifestTooLarge { .. }
            | HookError::NotOnRemoteBranch { .. } => Exit::CheckFailed,
            _ => Exit::Usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ApiToken;

    fn exit_of(err: impl std::error::Error + Send + Sync + 'static) -> Exit {
        classify(&anyhow::Error::from(err))
    }

    #[test]
    fn a_present_token_of_the_wrong_shape_is_an_auth_failure() {
        for raw in ["ghp_secretvalue", "github_pat_x", "glpat-x", "eyJhbGciOi.x"] {
            assert_eq!(exit_of(ApiToken::parse(raw).unwrap_err()), Exit::Auth);
        }
        assert_eq!(exit_of(ApiToken::parse(" \n").unwrap_err()), Exit::Usage);
    }

    #[test]
    fn an_oversize_package_is_a_failed_check() {
        let err = PackError::TooLarge {
            total: 2,
            limit: 1,
            largest: Vec::new(),
        };
        assert_eq!(exit_of(err), Exit::CheckFailed);
    }

    #[test]
    fn the_cause_deepest_in_context_still_decides() {
        let err = anyhow::Error::from(TokenError::Missing).context("while publishing");
        assert_eq!(classify(&err), Exit::Usage);
        assert_eq!(classify(&anyhow::anyhow!("unknown")), Exit::Usage);
    }
}
