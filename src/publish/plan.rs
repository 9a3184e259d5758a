//! What a publish was asked to do, decided once from the command line and the environment: the
//! package, the registry and its token, the uploader, the payload, the `--if-exists` policy.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::settle::IfExists;
use super::uploader::UploaderChoice;
use crate::manifest::Manifest;
use crate::pack;
use crate::token::ApiToken;
use crate::verify;

#[derive(Clone)]
pub struct PublishPlan {
    /// The package, its chuks.json read and checked.
    pub manifest: Manifest,
    /// How to find the release tag.
    pub tag: verify::Query,
    pub registry: Registry,
    pub uploader: UploaderChoice,
    pub payload: PayloadKind,
    pub if_exists: IfExists,
    /// Everything but the upload.
    pub dry_run: bool,
    /// How long the read-back waits for the registry to show the upload.
    pub confirm_timeout: Duration,
    /// The token preflight warns when the token expires within this many days.
    pub expiry_warning_days: i64,
    /// Whether to exchange the CI's ID token when no token is given.
    pub trusted_publishing: crate::trusted_publishing::Mode,
}

/// Where the upload goes, and with which token.
#[derive(Clone)]
pub enum Registry {
    /// `--local-registry DIR`: the reference registry, started in this process on DIR for the
    /// run, with a token minted for it.
    Local(PathBuf),
    /// A registry at its base URL, with the token given (`--token`, `CHUKS_TOKEN`, standard
    /// input), if one was.
    Remote { url: Url, token: Option<ApiToken> },
}

/// What is uploaded.
#[derive(Clone)]
pub enum PayloadKind {
    /// The package's source, packed within these limits.
    Source(pack::Limits),
    /// One platform's prebuilt binary, as the user built it.
    Prebuilt {
        platform: &'static str,
        file: PathBuf,
    },
}

impl PublishPlan {
    /// A rehearsal (a dry run, or a local registry): a `--tag` not created yet is only a warning.
    pub fn rehearsal(&self) -> bool {
        self.dry_run || matches!(self.registry, Registry::Local(_))
    }
}

impl Registry {
    /// A registry a dry run can ask what it holds: a remote one, with a token.
    pub fn can_be_asked(&self) -> bool {
        matches!(self, Registry::Remote { token: Some(_), .. })
    }

    /// A registry on this machine: a local one, or one at a loopback address.
    pub fn on_this_machine(&self) -> bool {
        match self {
            Registry::Local(_) => true,
            Registry::Remote { url, .. } => url.host_str().is_some_and(crate::http::is_loopback),
        }
    }
}
