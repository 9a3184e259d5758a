//! The reference Chuks registry: an axum server on embedded SQLite that implements `docs/registry-api.md`.

/// Default limit on a published package's decoded tarball size.
pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 256 * 1024 * 1024;
