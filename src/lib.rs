//! chuks-ci: publish Chuks packages from CI. Each module owns one concept; `main.rs` only dispatches.

pub mod bump;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod confirm;
pub mod exit;
pub mod forge;
pub mod git;
pub mod git_write;
pub mod hook;
pub mod http;
pub mod manifest;
pub mod pack;
pub mod platform;
pub mod preflight;
pub mod progress;
pub mod registry_client;
pub mod registry_server;
pub mod release;
pub mod report;
pub mod retry;
pub mod tag;
pub mod templates;
pub mod token;
pub mod verify;
