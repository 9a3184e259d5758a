//! The environment child processes (git, the official `chuks` CLI) inherit: an allow-list, so
//! no CI secret (tokens, OIDC request tokens…) reaches them unless a caller adds it on purpose.

use std::process::Command;

/// The only variables a child inherits: what locates programs, the home and temp folders, and
/// git's own repository variables. Nothing that holds a credential.
const INHERITED_ENV_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "USERPROFILE",
    "HOMEDRIVE",
    "HOMEPATH",
    "APPDATA",
    "PROGRAMDATA",
    "XDG_CONFIG_HOME",
    "GIT_EXEC_PATH",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
];

/// Clears `command`'s environment down to [`INHERITED_ENV_VARS`], as this process has them.
pub fn inherit_allow_listed(command: &mut Command) {
    command.env_clear();
    for name in INHERITED_ENV_VARS {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
}
