//! The Chuks API token: its `chuks_pk_` format, scopes, and a secret type that never prints it.

use crate::exit::{Exit, HasExit};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {}

impl HasExit for TokenError {
    fn exit(&self) -> Exit {
        Exit::Auth
    }
}
