//! chuks-ci: publish Chuks packages from CI. Each module owns one concept; `main.rs` only dispatches.

pub mod child_env;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod forge;
pub mod git;
pub mod http;
pub mod manifest;
pub mod official_cli;
pub mod pack;
pub mod pipelines;
pub mod prebuilt;
pub mod preflight;
pub mod progress;
pub mod protocol;
pub mod publish_report;
pub mod readback;
pub mod redact;
pub mod registry_client;
pub mod registry_server;
pub mod report;
pub mod retry;
pub mod tag;
pub mod token;
pub mod token_patterns;
pub mod verify;
