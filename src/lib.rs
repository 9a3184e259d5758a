//! chuks-ci: publish Chuks packages from CI. Each module owns one concept; `main.rs` only dispatches.

pub mod bump;
pub mod bump_plan;
pub mod child_env;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod forge;
pub mod git;
pub mod hook;
pub mod http;
pub mod official_cli;
pub mod pack;
pub mod pipelines;
pub mod preflight;
pub mod progress;
pub mod publish;
pub mod readback;
pub mod redact;
pub mod registry_client;
pub mod report;
pub mod retry;
pub mod session;
pub mod tag;
pub mod token_patterns;
pub mod trusted_publishing;
pub mod upload;
pub mod verify;
pub mod workspace;

// The registry's rules and wire format live in the `chuks-registry` crate, which the reference
// registry shares; they keep their paths here.
pub use chuks_registry::{manifest, prebuilt, protocol, token, untrusted};

/// The reference registry, embedded (the default `local-registry` feature).
#[cfg(feature = "local-registry")]
pub use chuks_registry::server as registry_server;
