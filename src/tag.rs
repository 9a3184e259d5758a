//! Release tags: the accepted forms and how a tag is matched against the manifest's version.

use crate::exit::{Exit, HasExit};

#[derive(Debug, thiserror::Error)]
pub enum TagError {}

impl HasExit for TagError {
    fn exit(&self) -> Exit {
        Exit::CheckFailed
    }
}
