//! Git's write operations for `bump` (stage, commit, annotated tag, atomic push) and the remote
//! tag query, each with only the extra environment that operation legitimately needs.
//!
//! They run on `Git::command_honouring`, so they start from the same allow-list and the same
//! switched-off programs as every query; the commit, the tag and the push keep the user's hooks
//! and signing (`Honour::HooksAndSigning`). No token variable (`CHUKS_TOKEN`, `GITHUB_TOKEN`,
//! `GH_TOKEN`, `CI_JOB_TOKEN`…) is ever added.

use std::io::IsTerminal;

use super::{Git, GitError, Honour};
use crate::untrusted::Untrusted;

/// Who the commit and tag are by: git reads these before its config.
const IDENTITY_ENV_VARS: &[&str] = &[
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "EMAIL",
];

/// What `commit.gpgSign`/`tag.gpgSign` need to reach the signer: GnuPG's home and agent, the
/// SSH agent for `gpg.format=ssh`, and the terminal or display a pinentry asks on.
const SIGNING_ENV_VARS: &[&str] = &[
    "GNUPGHOME",
    "GPG_AGENT_INFO",
    "GPG_TTY",
    "SSH_AUTH_SOCK",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "TERM",
];

/// What talking to the remote needs: the SSH agent and git's SSH settings for SSH remotes;
/// askpass programs, the session bus and runtime folder that credential helpers (libsecret,
/// Git Credential Manager) use for HTTPS remotes; proxies; and extra CA certificates. Tokens a
/// helper could read from the environment (`GH_TOKEN`…) stay out: helpers fall back to what
/// they store under HOME, which is where a person's push credentials live.
const REMOTE_ENV_VARS: &[&str] = &[
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT",
    "SSH_ASKPASS",
    "GIT_ASKPASS",
    "DISPLAY",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// What an operation needs beyond a query's environment and configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Staging: nothing.
    Nothing,
    /// Committing and tagging: the identity, the hooks and the signer.
    IdentityAndSigning,
    /// Pushing: the remote's credentials and the hooks (`pre-push`).
    Push,
    /// Asking the remote: its credentials.
    RemoteQuery,
}

/// One git command of a release, shown by a dry run and run otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitStep {
    args: Vec<String>,
    needs: Needs,
}

impl GitStep {
    /// `git add -- PATH`
    pub fn add(path: &str) -> GitStep {
        GitStep::new(Needs::Nothing, &["add", "--", path])
    }

    /// `git commit -m MESSAGE`: hooks run and `commit.gpgSign` is honoured.
    pub fn commit(message: &str) -> GitStep {
        GitStep::new(Needs::IdentityAndSigning, &["commit", "-m", message])
    }

    /// `git tag -a TAG -m MESSAGE` on HEAD: annotated, signed when `tag.gpgSign` says so.
    pub fn tag(tag: &str, message: &str) -> GitStep {
        GitStep::new(
            Needs::IdentityAndSigning,
            &["tag", "-a", tag, "-m", message],
        )
    }

    /// `git push --atomic REMOTE HEAD:refs/heads/BRANCH [refs/tags/TAG…]`: the branch and the
    /// tags arrive together or not at all, so CI never sees a tag on a commit that is on no
    /// remote branch. Full ref names keep a branch and a tag of the same name apart.
    pub fn push(remote: &str, branch: &str, tags: &[String]) -> GitStep {
        let branch = format!("HEAD:refs/heads/{branch}");
        let tags: Vec<String> = tags.iter().map(|tag| format!("refs/tags/{tag}")).collect();
        let mut args = vec!["push", "--atomic", remote, &branch];
        args.extend(tags.iter().map(String::as_str));
        GitStep::new(Needs::Push, &args)
    }

    /// The tag a `tag` step makes.
    pub fn made_tag(&self) -> Option<&str> {
        match self.command() {
            "tag" => self.args.get(2).map(String::as_str),
            _ => None,
        }
    }

    /// The git subcommand: `add`, `commit`, `tag` or `push`.
    pub fn command(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }

    fn new(needs: Needs, args: &[&str]) -> GitStep {
        GitStep {
            args: args.iter().map(|arg| arg.to_string()).collect(),
            needs,
        }
    }

    /// The command as a person would type it, quoted for a POSIX shell. Untrusted: the remote
    /// and branch names come from git's configuration.
    pub fn display(&self) -> Untrusted {
        let words = std::iter::once("git").chain(self.args.iter().map(String::as_str));
        Untrusted::new(
            shlex::try_join(words).unwrap_or_else(|_| format!("git {}", self.args.join(" "))),
        )
    }

    /// Runs the step and returns git's stdout.
    pub fn run(&self, git: &Git) -> Result<String, GitError> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        run_with(git, &args, self.needs)
    }
}

/// The tags `remote` has (`git ls-remote --tags --refs`), by name.
pub fn remote_tags(git: &Git, remote: &str) -> Result<Vec<String>, GitError> {
    let args = ["ls-remote", "--tags", "--refs", remote];
    Ok(run_with(git, &args, Needs::RemoteQuery)?
        .lines()
        .filter_map(|line| line.split_once("\trefs/tags/"))
        .map(|(_, tag)| tag.to_string())
        .collect())
}

fn run_with(git: &Git, args: &[&str], needs: Needs) -> Result<String, GitError> {
    let honour = match needs {
        Needs::IdentityAndSigning | Needs::Push => Honour::HooksAndSigning,
        Needs::Nothing | Needs::RemoteQuery => Honour::Nothing,
    };
    let mut command = git.command_honouring(args, honour);
    let extra = match needs {
        Needs::Nothing => &[][..],
        Needs::IdentityAndSigning => {
            for name in IDENTITY_ENV_VARS {
                inherit(&mut command, name);
            }
            SIGNING_ENV_VARS
        }
        Needs::Push | Needs::RemoteQuery => {
            // A person at a terminal may be asked for a password; a script or CI never is.
            if std::io::stdin().is_terminal() {
                command.env("GIT_TERMINAL_PROMPT", "1");
            }
            REMOTE_ENV_VARS
        }
    };
    for name in extra {
        inherit(&mut command, name);
    }
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !output.status.success() {
        return Err(super::failure(&args.join(" "), &output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn inherit(command: &mut std::process::Command, name: &str) {
    if let Some(value) = std::env::var_os(name) {
        command.env(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_display_as_shell_commands() {
        assert_eq!(
            GitStep::commit("Release @chuks/numpy 1.2.0")
                .display()
                .unescaped(),
            "git commit -m 'Release @chuks/numpy 1.2.0'"
        );
        assert_eq!(
            GitStep::push("origin", "main", &["v1.2.0".to_string()])
                .display()
                .unescaped(),
            "git push --atomic origin HEAD:refs/heads/main refs/tags/v1.2.0"
        );
        assert_eq!(
            GitStep::push("origin", "main", &[]).display().unescaped(),
            "git push --atomic origin HEAD:refs/heads/main"
        );
    }
}
