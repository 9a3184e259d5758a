//! The Chuks registry as both sides see it: its rules (package manifests, API tokens and their
//! scopes, prebuilt platforms), its wire format, the one type for text that crosses it, and,
//! behind the `server` feature, the reference registry that implements it on SQLite.
//!
//! chuks-ci uses the rules and the wire format in every build; the server only where it embeds
//! the reference registry (`chuks-ci registry …`, `publish --local-registry`).

pub mod manifest;
pub mod prebuilt;
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
pub mod token;
pub mod untrusted;

/// The file that marks a folder as a reference registry's data (`registry serve --data-dir`):
/// the registry writes it, and a packer must never ship the folder holding it.
pub const REGISTRY_DATA_MARKER: &str = ".chuks-registry-data";
