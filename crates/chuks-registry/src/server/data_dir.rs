//! The registry's data folder, created or opened, marks itself so that it is never committed or
//! packed: a `.gitignore` holding `*` (git and every packer that reads `.gitignore` skip the
//! folder) and [`MARKER_FILE`], which `pack` recognises whatever the ignore files say.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::RegistryError;

use crate::REGISTRY_DATA_MARKER as MARKER_FILE;

const GITIGNORE: &str = ".gitignore";

const GITIGNORE_TEXT: &str =
    "# A chuks-ci registry's data folder (tokens and packages): never commit or pack it.\n*\n";

const MARKER_TEXT: &str = "This folder holds a chuks-ci reference registry's data: its database of token hashes and\n\
packages. `chuks-ci pack` and `chuks-ci publish` never pack a folder holding this file.\n";

/// Creates the folder if needed and marks it, leaving an existing `.gitignore` as it is. A
/// folder holding a package or a git repository is refused: its `.gitignore` is the project's.
pub fn prepare(data_dir: &Path) -> Result<(), RegistryError> {
    for project_file in [crate::manifest::MANIFEST_FILE, ".git"] {
        if fs::symlink_metadata(data_dir.join(project_file)).is_ok() {
            return Err(RegistryError::DataDirIsProject {
                path: data_dir.to_path_buf(),
                found: project_file,
            });
        }
    }
    let failed = |source| RegistryError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(data_dir).map_err(failed)?;
    write_new(&data_dir.join(GITIGNORE), GITIGNORE_TEXT).map_err(failed)?;
    write_new(&data_dir.join(MARKER_FILE), MARKER_TEXT).map_err(failed)
}

/// Writes `text` to a file that does not exist yet; an existing one (even a symlink) is kept.
fn write_new(path: &Path, text: &str) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => file.write_all(text.as_bytes()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}
