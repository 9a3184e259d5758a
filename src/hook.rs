//! The pre-push guard: the hook script `hook install` writes, and the check `hook pre-push`
//! runs on the refs git is about to push (each release tag against chuks.json at its commit).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::git::{self, Git, GitError, Object};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::tag::{self, TagKind};
use crate::untrusted::Untrusted;

/// The second line of every hook chuks-ci writes. A hook is chuks-ci's only when all of it is
/// what [`script`] writes (see [`is_ours`]); the marker alone proves nothing.
pub const MARKER: &str = "# chuks-ci-hook: pre-push";

/// The largest chuks.json the hook reads from a commit; a bigger one is refused unread.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The most input git could reasonably send: one line per ref pushed.
const MAX_INPUT_BYTES: u64 = 16 << 20;

/// A hook larger than this is not one chuks-ci wrote, and is not read further.
const MAX_HOOK_BYTES: u64 = 64 << 10;

/// An all-zero object id: the ref is being deleted (local) or created (remote).
fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(
        "`{path}` is a pre-push hook that chuks-ci did not write\nhint: run `chuks-ci hook install` again with `--force` to replace it, or call `{call}` from it yourself, passing its stdin through"
    )]
    Foreign { path: Untrusted, call: String },

    #[error(
        "`{path}` is a symbolic link to `{target}`, not a hook chuks-ci wrote\nhint: run `chuks-ci hook install` again with `--force` to replace the link with chuks-ci's hook (`{target}` is left as it is), or call `{call}` from `{target}` yourself, passing its stdin through"
    )]
    ForeignLink {
        path: Untrusted,
        target: Untrusted,
        call: String,
    },

    #[error("could not read `{path}`: {source}\nhint: check that the hooks folder is readable")]
    Read {
        path: Untrusted,
        source: std::io::Error,
    },

    #[error("could not write `{path}`: {source}\nhint: check that the hooks folder is writable")]
    Write {
        path: Untrusted,
        source: std::io::Error,
    },

    #[error(
        "`git` was not found on PATH\nhint: install git, then run `chuks-ci hook install` in a clone of the package's repository"
    )]
    NoGit,

    #[error(
        "the current folder is not inside a git repository\nhint: run `chuks-ci hook install` in a clone of the package's repository"
    )]
    NotARepository,

    #[error(
        "could not read the refs being pushed: {reason}\nhint: `chuks-ci hook pre-push` is run by git's pre-push hook, with `<local ref> <local sha> <remote ref> <remote sha>` lines on stdin"
    )]
    BadInput { reason: String },

    #[error(
        "tag `{tag}` is for package `{package}`, but no chuks.json at commit {commit} names it{found}\nhint: tag a package that exists (`name@VERSION` with its `name`), or, if `{tag}` is not a Chuks release, push it without the check: `{unchecked}`"
    )]
    PackageNotFound {
        tag: Untrusted,
        package: Untrusted,
        commit: String,
        found: String,
        unchecked: Untrusted,
    },

    #[error(
        "tag `{tag}` is a release tag, but commit {commit} has no `{manifest}` to check its version against{found}\nhint: {hint}"
    )]
    NoManifest {
        tag: Untrusted,
        commit: String,
        manifest: Untrusted,
        found: String,
        hint: String,
    },

    #[error(
        "tag `{tag}` points at commit {commit}, which is on no branch of `{remote}` nor on one pushed with it, and CI publishing requires that\nhint: {push}, or `git fetch {remote}` if a branch there has it already"
    )]
    NotOnRemoteBranch {
        tag: Untrusted,
        commit: String,
        remote: Untrusted,
        /// How to push the tag with a branch that has it.
        push: String,
    },

    #[error(
        "`{path}` at commit {commit} is {size} bytes, more than a chuks.json can be\nhint: check what was committed as `{path}`"
    )]
    ManifestTooLarge {
        path: Untrusted,
        commit: String,
        size: u64,
    },
}

/// What `hook install` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// The chuks-ci the hook runs first; `None` if its path cannot be written into a script.
    pub binary: Option<PathBuf>,
    /// The package's chuks.json relative to the repository root.
    pub manifest: String,
    pub tag_prefix: Option<String>,
    pub force: bool,
}

/// What `hook install` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    Written,
    /// An older hook of ours was rewritten.
    Updated,
    /// A hook chuks-ci did not write, or a link, was replaced (`--force`).
    Replaced,
}

/// What is at the hook's path now.
enum Existing {
    Nothing,
    Ours,
    Foreign,
    Link(PathBuf),
}

/// Writes the pre-push hook into the repository git runs in; returns its path. A hook that is
/// not chuks-ci's, a symbolic link included, is replaced only with `force`; a link is replaced
/// by a file, never written through.
pub fn install(git: &Git, options: &InstallOptions) -> Result<(PathBuf, Installed), HookError> {
    let path = git
        .git_path("hooks")
        .map_err(|_| HookError::NotARepository)?
        .join("pre-push");
    let installed = match existing(&path)? {
        Existing::Nothing => Installed::Written,
        Existing::Ours => Installed::Updated,
        Existing::Foreign | Existing::Link(_) if options.force => Installed::Replaced,
        Existing::Foreign => {
            return Err(HookError::Foreign {
                path: Untrusted::path(&path),
                call: call(options),
            });
        }
        Existing::Link(target) => {
            return Err(HookError::ForeignLink {
                path: Untrusted::path(&path),
                target: Untrusted::path(&target),
                call: call(options),
            });
        }
    };
    write_executable(&path, &script(options)).map_err(|source| HookError::Write {
        path: Untrusted::path(&path),
        source,
    })?;
    Ok((path, installed))
}

/// Looks at the hook's path without following a link or opening anything but a regular file.
fn existing(path: &Path) -> Result<Existing, HookError> {
    let failed = |source| HookError::Read {
        path: Untrusted::path(path),
        source,
    };
    let metadata = match std::fs::symlink_metadata(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        other => other.map_err(failed)?,
    };
    if metadata.file_type().is_symlink() {
        return Ok(Existing::Link(std::fs::read_link(path).map_err(failed)?));
    }
    if !metadata.is_file() {
        return Ok(Existing::Foreign);
    }
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_HOOK_BYTES + 1).read_to_end(&mut text))
        .map_err(failed)?;
    Ok(match is_ours(&text) {
        true => Existing::Ours,
        false => Existing::Foreign,
    })
}

/// Whether `text` is exactly what [`script`] writes for some binary, manifest and prefix: the
/// values are read back from it and the script written again must be the same bytes. Every
/// hook chuks-ci has written so far is this script; a change to it must keep recognising the
/// old one here.
pub fn is_ours(text: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    written_with(text).is_some_and(|options| script(&options) == text)
}

/// The options a hook in [`script`]'s shape was written with.
fn written_with(text: &str) -> Option<InstallOptions> {
    let installed = text
        .lines()
        .find_map(|line| line.strip_prefix("installed="))?;
    let binary = match installed {
        "" => None,
        quoted => match shlex::split(quoted)?.as_slice() {
            [binary] => Some(PathBuf::from(binary)),
            _ => return None,
        },
    };
    let arguments = text
        .lines()
        .find_map(|line| line.strip_prefix("exec \"$chuks_ci\" hook pre-push"))?
        .strip_suffix(" \"$@\"")?;
    let mut options = InstallOptions {
        binary,
        manifest: MANIFEST_FILE.to_string(),
        tag_prefix: None,
        force: false,
    };
    for pair in shlex::split(arguments)?.chunks(2) {
        match pair {
            [flag, manifest] if flag == "--manifest" => options.manifest = manifest.clone(),
            [flag, prefix] if flag == "--tag-prefix" => options.tag_prefix = Some(prefix.clone()),
            _ => return None,
        }
    }
    Some(options)
}

/// `chuks-ci hook pre-push` with the hook's arguments: what a hook of the user's own can call.
fn call(options: &InstallOptions) -> String {
    format!("chuks-ci hook pre-push{} \"$@\"", arguments(options))
}

/// ` --manifest PATH --tag-prefix PREFIX`, each when it is not the default.
fn arguments(options: &InstallOptions) -> String {
    let mut arguments = String::new();
    if options.manifest != MANIFEST_FILE {
        arguments.push_str(&format!(" --manifest {}", git::quote(&options.manifest)));
    }
    if let Some(prefix) = &options.tag_prefix {
        arguments.push_str(&format!(" --tag-prefix {}", git::quote(prefix)));
    }
    arguments
}

/// The hook: POSIX sh that runs the chuks-ci that installed it (else the one on PATH) with
/// git's arguments and stdin, and fails closed when there is none.
pub fn script(options: &InstallOptions) -> String {
    let arguments = arguments(options);
    let installed = options
        .binary
        .as_ref()
        .and_then(|binary| binary.to_str())
        .map_or_else(String::new, git::quote);
    format!(
        "#!/bin/sh\n\
         {MARKER}\n\
         # Written by `chuks-ci hook install` (run it again to update; delete this file to remove).\n\
         # Refuses to push a release tag whose version disagrees with chuks.json at the tagged\n\
         # commit. git passes the remote's name and URL as arguments and the refs on stdin; both\n\
         # go to chuks-ci unchanged. `git push --no-verify` skips the check.\n\
         installed={installed}\n\
         if [ -n \"$installed\" ] && [ -x \"$installed\" ]; then\n\
         \x20 chuks_ci=$installed\n\
         elif chuks_ci=$(command -v chuks-ci); then\n\
         \x20 :\n\
         else\n\
         \x20 echo \"pre-push: chuks-ci is neither at $installed nor on PATH: install it, or push with --no-verify\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         exec \"$chuks_ci\" hook pre-push{arguments} \"$@\"\n"
    )
}

/// Writes a new file and renames it over `path`: a link there is replaced, never followed, and
/// git never runs a half-written hook.
fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder)?;
    let mut file = tempfile::NamedTempFile::new_in(folder)?;
    file.write_all(text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))?;
    }
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// One line of git's pre-push input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_id: String,
    pub remote_ref: String,
    pub remote_id: String,
}

/// Reads git's pre-push input: `<local ref> SP <local sha> SP <remote ref> SP <remote sha> LF`.
pub fn read_refs(input: impl Read) -> Result<Vec<PushedRef>, HookError> {
    let mut text = String::new();
    let mut limited = input.take(MAX_INPUT_BYTES + 1);
    limited
        .read_to_string(&mut text)
        .map_err(|err| HookError::BadInput {
            reason: err.to_string(),
        })?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(HookError::BadInput {
            reason: "more than 16 MiB of input".to_string(),
        });
    }
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_ref_line)
        .collect()
}

fn parse_ref_line(line: &str) -> Result<PushedRef, HookError> {
    let is_id = |id: &str| id.len() >= 40 && id.bytes().all(|b| b.is_ascii_hexdigit());
    match line.split(' ').collect::<Vec<_>>().as_slice() {
        [local_ref, local_id, remote_ref, remote_id] if is_id(local_id) && is_id(remote_id) => {
            Ok(PushedRef {
                local_ref: local_ref.to_string(),
                local_id: local_id.to_string(),
                remote_ref: remote_ref.to_string(),
                remote_id: remote_id.to_string(),
            })
        }
        _ => Err(HookError::BadInput {
            reason: format!("`{}` is not a ref line", Untrusted::new(line)),
        }),
    }
}

/// What the hook checks against.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The repository's own chuks.json, relative to its root.
    pub manifest: String,
    pub tag_prefix: Option<String>,
    /// The remote's name; `None` when git pushes to a bare URL, whose branches it cannot know.
    pub remote: Option<String>,
    /// Where the push goes as git was told: the remote's name or a URL (for hints).
    pub destination: Option<String>,
}

/// The hook's finding on one tag being pushed. Tags are the pusher's ref names: untrusted.
#[derive(Debug)]
pub enum Verdict {
    /// The tag matches `manifest` (a path in the commit) at `version`.
    Matches {
        tag: Untrusted,
        commit: String,
        manifest: Manifest,
    },
    /// Not a release tag, or nothing to check it against; `reason` says which.
    Skipped { tag: Untrusted, reason: String },
    /// The push must not go ahead: the same error `verify-tag` would give, and where.
    Refused {
        tag: Untrusted,
        commit: String,
        error: anyhow::Error,
        manifest: Option<Manifest>,
    },
}

/// A release tag being pushed, with what it is checked against.
struct Candidate<'a> {
    tag: &'a str,
    pushed: &'a PushedRef,
    package: Option<&'a str>,
}

/// Checks every tag in a push: the version at its commit, then that the commit will be on a
/// branch of the remote (already, or through a branch in the same push). Branch pushes and
/// deletions are not looked at otherwise.
pub fn check_push(
    git: &Git,
    refs: &[PushedRef],
    options: &CheckOptions,
) -> Result<Vec<Verdict>, GitError> {
    let (mut verdicts, candidates) = sort_refs(refs, options);
    if candidates.is_empty() {
        return Ok(verdicts);
    }
    let branches = options.remote.as_ref().map(|remote| {
        let mut on_branches = vec![format!("--glob=refs/remotes/{remote}/*")];
        on_branches.extend(
            refs.iter()
                .filter(|pushed| pushed.remote_ref.starts_with("refs/heads/"))
                .filter(|pushed| !is_zero(&pushed.local_id))
                .map(|pushed| pushed.local_id.clone()),
        );
        on_branches
    });
    // The branch query starts before the version check and is collected after it, so the two
    // git processes run side by side: most of what the hook costs is starting processes.
    let tagged: Vec<String> = candidates
        .iter()
        .map(|candidate| format!("{}^{{commit}}", candidate.pushed.local_id))
        .collect();
    let off_branches = branches
        .as_ref()
        .map(|branches| git.start_commits_not_in(&tagged, branches));
    verdicts.extend(check_versions(git, &candidates, options)?);
    let (Some(remote), Some(branches), Some(off_branches)) =
        (&options.remote, &branches, off_branches)
    else {
        return Ok(verdicts);
    };
    let off_branches: HashSet<String> = match off_branches.wait() {
        Ok(commits) => commits.into_iter().collect(),
        // A tag of something that is not a commit fails the query; ask again for the commits.
        Err(_) => {
            let matched: Vec<String> = verdicts
                .iter()
                .filter_map(|verdict| match verdict {
                    Verdict::Matches { commit, .. } => Some(commit.clone()),
                    _ => None,
                })
                .collect();
            match matched.is_empty() {
                true => HashSet::new(),
                false => git
                    .start_commits_not_in(&matched, branches)
                    .wait()?
                    .into_iter()
                    .collect(),
            }
        }
    };
    verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Verdict::Matches { tag, commit, .. } if off_branches.contains(&commit) => {
                let error = not_on_remote_branch(git, refs, tag.unescaped(), &commit, remote)?;
                Ok(refused(tag.unescaped(), &commit, error.into(), None))
            }
            other => Ok(other),
        })
        .collect()
}

/// The refusal of a tag whose commit is on no branch of the remote, naming a local branch that
/// has the commit (the current one, if it does) to push along with it.
fn not_on_remote_branch(
    git: &Git,
    refs: &[PushedRef],
    tag: &str,
    commit: &str,
    remote: &str,
) -> Result<HookError, GitError> {
    let branches = git.branches_containing(commit)?;
    let current = git.current_branch()?;
    let branch = current
        .filter(|current| branches.contains(current))
        .or_else(|| branches.first().cloned());
    let tag_refspec = refs
        .iter()
        .find(|pushed| pushed.remote_ref.strip_prefix("refs/tags/") == Some(tag))
        .map_or_else(|| format!("refs/tags/{tag}"), refspec);
    let push = match branch {
        Some(branch) => format!(
            "push the tag with a branch that has it: `{}`",
            Untrusted::new(format!(
                "git push --atomic {} {} {}",
                git::quote(remote),
                git::quote(&branch),
                git::quote(&tag_refspec)
            ))
        ),
        None => format!(
            "put commit {commit} on a branch and push that branch with the tag in one `git push --atomic`"
        ),
    };
    Ok(HookError::NotOnRemoteBranch {
        tag: Untrusted::new(tag),
        commit: commit.to_string(),
        remote: Untrusted::new(remote),
        push,
    })
}

/// What pushes the same thing as `pushed`: the ref itself, or `local:remote` when they differ.
fn refspec(pushed: &PushedRef) -> String {
    match pushed.local_ref == pushed.remote_ref {
        true => pushed.remote_ref.clone(),
        false => format!("{}:{}", pushed.local_ref, pushed.remote_ref),
    }
}

/// The push of one tag without the hook: for a tag that is not a Chuks release.
fn unchecked_push(pushed: &PushedRef, options: &CheckOptions) -> Untrusted {
    let destination = options
        .destination
        .as_deref()
        .map(|destination| format!(" {}", git::quote(destination)))
        .unwrap_or_default();
    Untrusted::new(format!(
        "git push --no-verify{destination} {}",
        git::quote(&refspec(pushed))
    ))
}

/// Sorts the pushed refs: tags that are not releases are skipped here; release tags are
/// returned to be checked; branches and deletions are left out.
fn sort_refs<'a>(
    refs: &'a [PushedRef],
    options: &CheckOptions,
) -> (Vec<Verdict>, Vec<Candidate<'a>>) {
    let mut skipped = Vec::new();
    let mut candidates = Vec::new();
    for pushed in refs {
        let Some(tag) = pushed.remote_ref.strip_prefix("refs/tags/") else {
            continue;
        };
        if is_zero(&pushed.local_id) {
            continue;
        }
        let package = match tag::kind(tag, options.tag_prefix.as_deref()) {
            TagKind::NotARelease => {
                skipped.push(Verdict::Skipped {
                    tag: Untrusted::new(tag),
                    reason: "not a release tag".to_string(),
                });
                continue;
            }
            TagKind::Configured => None,
            TagKind::Package(package) => Some(package),
        };
        candidates.push(Candidate {
            tag,
            pushed,
            package,
        });
    }
    (skipped, candidates)
}

/// The version check of every release tag. All objects are read with one
/// `git cat-file --batch` (two for monorepo tags), whatever the number of tags.
fn check_versions(
    git: &Git,
    candidates: &[Candidate],
    options: &CheckOptions,
) -> Result<Vec<Verdict>, GitError> {
    let mut verdicts = Vec::new();
    let mut names = Vec::new();
    for candidate in candidates {
        let object = &candidate.pushed.local_id;
        names.push(format!("{object}^{{commit}}"));
        names.push(format!("{object}^{{commit}}:{}", options.manifest));
    }
    let objects = git.objects(&names, MAX_MANIFEST_BYTES)?;
    let mut packages = PackageIndex::default();
    for (candidate, answers) in candidates.iter().zip(objects.chunks(2)) {
        let (Object::Found { id: commit, .. } | Object::TooLarge { id: commit, .. }) = &answers[0]
        else {
            verdicts.push(Verdict::Skipped {
                tag: Untrusted::new(candidate.tag),
                reason: "it does not point at a commit".to_string(),
            });
            continue;
        };
        let verdict = match candidate.package {
            None => check_configured(git, candidate, commit, &answers[1], options)?,
            Some(package) => {
                let found = packages.find(git, commit, package)?;
                check_package(candidate, commit, package, found, options)
            }
        };
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// A tag of the repository's own package, against its chuks.json at the commit. A commit
/// without one is refused: a release tag there could not be published.
fn check_configured(
    git: &Git,
    candidate: &Candidate,
    commit: &str,
    manifest: &Object,
    options: &CheckOptions,
) -> Result<Verdict, GitError> {
    let tag = candidate.tag;
    Ok(match manifest {
        Object::Missing => {
            let error = no_manifest(git, candidate, commit, options)?;
            refused(tag, commit, error.into(), None)
        }
        Object::TooLarge { size, .. } => refused(
            tag,
            commit,
            HookError::ManifestTooLarge {
                path: Untrusted::new(options.manifest.as_str()),
                commit: commit.to_string(),
                size: *size,
            }
            .into(),
            None,
        ),
        Object::Found { contents, .. } => {
            let text = String::from_utf8_lossy(contents);
            match Manifest::parse(Path::new(&options.manifest), &text) {
                Ok(manifest) => judge(tag, commit, manifest, options.tag_prefix.as_deref()),
                Err(err) => refused(tag, commit, err.into(), None),
            }
        }
    })
}

/// The refusal of a release tag on a commit without the configured chuks.json, naming the
/// chuks.json files the commit does have: with exactly one, the hook may be installed for the
/// wrong package.
fn no_manifest(
    git: &Git,
    candidate: &Candidate,
    commit: &str,
    options: &CheckOptions,
) -> Result<HookError, GitError> {
    let others: Vec<String> = git
        .tree_paths(commit)?
        .into_iter()
        .filter(|path| Path::new(path).file_name() == Some(MANIFEST_FILE.as_ref()))
        .collect();
    let found = match others.is_empty() {
        true => String::new(),
        false => format!(" (it has {})", backticked(&others)),
    };
    let install = match others.as_slice() {
        [other] => format!(
            "if the tag is for `{}`, install the hook for it, from the repository's root: `{}`; else ",
            Untrusted::new(other.as_str()),
            Untrusted::new(format!(
                "chuks-ci hook install --manifest {}",
                git::quote(other)
            ))
        ),
        _ => String::new(),
    };
    let tag = Untrusted::new(candidate.tag);
    let manifest = Untrusted::new(options.manifest.as_str());
    let hint = format!(
        "{install}tag a commit that has `{manifest}`, or, if `{tag}` is not a Chuks release, push it without the check: `{}`",
        unchecked_push(candidate.pushed, options)
    );
    Ok(HookError::NoManifest {
        tag,
        commit: commit.to_string(),
        manifest,
        found,
        hint,
    })
}

/// Names in backticks, comma-separated, each escaped.
fn backticked(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{}`", Untrusted::new(name.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A monorepo tag, against the chuks.json in the commit whose `name` is its package.
fn check_package(
    candidate: &Candidate,
    commit: &str,
    package: &str,
    found: PackageLookup,
    options: &CheckOptions,
) -> Verdict {
    let tag = candidate.tag;
    match found {
        PackageLookup::Found(manifest) => judge(tag, commit, *manifest, None),
        PackageLookup::TooLarge { path, size } => refused(
            tag,
            commit,
            HookError::ManifestTooLarge {
                path: Untrusted::new(path),
                commit: commit.to_string(),
                size,
            }
            .into(),
            None,
        ),
        PackageLookup::Absent { names } => {
            let found = match names.is_empty() {
                true => " (it has no chuks.json)".to_string(),
                false => format!(" (it has {})", backticked(&names)),
            };
            let error = HookError::PackageNotFound {
                tag: Untrusted::new(tag),
                package: Untrusted::new(package),
                commit: commit.to_string(),
                found,
                unchecked: unchecked_push(candidate.pushed, options),
            };
            refused(tag, commit, error.into(), None)
        }
    }
}

/// `verify-tag`'s own check, so the refusal reads the same.
fn judge(tag: &str, commit: &str, manifest: Manifest, prefix: Option<&str>) -> Verdict {
    match tag::check(tag, &manifest, prefix) {
        Ok(()) => Verdict::Matches {
            tag: Untrusted::new(tag),
            commit: commit.to_string(),
            manifest,
        },
        Err(err) => refused(tag, commit, err.into(), Some(manifest)),
    }
}

fn refused(tag: &str, commit: &str, error: anyhow::Error, manifest: Option<Manifest>) -> Verdict {
    Verdict::Refused {
        tag: Untrusted::new(tag),
        commit: commit.to_string(),
        error,
        manifest,
    }
}

/// A chuks.json in a commit: parsed, or too large to read.
type Package = Result<Manifest, Oversized>;

/// A chuks.json too large to be read.
struct Oversized {
    path: String,
    size: u64,
}

/// The packages of each commit, read once however many tags point at it.
#[derive(Default)]
struct PackageIndex {
    commits: HashMap<String, Vec<Package>>,
}

enum PackageLookup {
    Found(Box<Manifest>),
    TooLarge { path: String, size: u64 },
    Absent { names: Vec<String> },
}

impl PackageIndex {
    fn find(&mut self, git: &Git, commit: &str, package: &str) -> Result<PackageLookup, GitError> {
        if !self.commits.contains_key(commit) {
            let manifests = read_manifests(git, commit)?;
            self.commits.insert(commit.to_string(), manifests);
        }
        let manifests = &self.commits[commit];
        let mut names = Vec::new();
        for entry in manifests {
            match entry {
                Ok(manifest) if manifest.name == package => {
                    return Ok(PackageLookup::Found(Box::new(manifest.clone())));
                }
                Ok(manifest) => names.push(manifest.name.clone()),
                Err(oversized) => {
                    return Ok(PackageLookup::TooLarge {
                        path: oversized.path.clone(),
                        size: oversized.size,
                    });
                }
            }
        }
        Ok(PackageLookup::Absent { names })
    }
}

/// Every chuks.json in the commit's tree that parses, and those too large to read.
fn read_manifests(git: &Git, commit: &str) -> Result<Vec<Package>, GitError> {
    let paths: Vec<String> = git
        .tree_paths(commit)?
        .into_iter()
        .filter(|path| {
            !path.contains('\n') && Path::new(path).file_name() == Some(MANIFEST_FILE.as_ref())
        })
        .collect();
    let names: Vec<String> = paths
        .iter()
        .map(|path| format!("{commit}:{path}"))
        .collect();
    let objects = git.objects(&names, MAX_MANIFEST_BYTES)?;
    Ok(paths
        .into_iter()
        .zip(objects)
        .filter_map(|(path, object)| match object {
            Object::Found { contents, .. } => {
                Manifest::parse(Path::new(&path), &String::from_utf8_lossy(&contents))
                    .ok()
                    .map(Ok)
            }
            Object::TooLarge { size, .. } => Some(Err(Oversized { path, size })),
            Object::Missing => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_lines_are_parsed_and_checked() {
        let zero = "0".repeat(40);
        let id = "a".repeat(40);
        let input = format!("refs/tags/v1.0.1 {id} refs/tags/v1.0.1 {zero}\n\n");
        let refs = read_refs(input.as_bytes()).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].remote_ref, "refs/tags/v1.0.1");
        for bad in [
            "refs/tags/v1 abc refs/tags/v1 def",
            "one two",
            "a\u{1b}[31m b c d",
        ] {
            assert!(
                matches!(read_refs(bad.as_bytes()), Err(HookError::BadInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_script_runs_the_installing_binary_first_and_passes_everything_through() {
        let script = script(&InstallOptions {
            binary: Some(PathBuf::from("/opt/it's here/chuks-ci")),
            manifest: "packages/di/chuks.json".to_string(),
            tag_prefix: Some("di-v".to_string()),
            force: false,
        });
        assert!(script.starts_with("#!/bin/sh\n"), "{script}");
        assert!(script.lines().any(|line| line == MARKER), "{script}");
        assert!(
            script.contains(r#"installed="/opt/it's here/chuks-ci""#),
            "{script}"
        );
        assert!(
            script.contains(
                r#"exec "$chuks_ci" hook pre-push --manifest packages/di/chuks.json --tag-prefix di-v "$@""#
            ),
            "{script}"
        );
    }

    #[test]
    fn only_the_script_we_write_is_ours() {
        let variants = [
            (None, MANIFEST_FILE, None),
            (Some("/usr/local/bin/chuks-ci"), MANIFEST_FILE, None),
            (
                Some("/opt/it's here/chuks-ci"),
                "packages/di/chuks.json",
                Some("di-v"),
            ),
            (Some("/a b/c"), "odd name/chuks.json", Some("it's-")),
        ];
        for (binary, manifest, prefix) in variants {
            let options = InstallOptions {
                binary: binary.map(PathBuf::from),
                manifest: manifest.to_string(),
                tag_prefix: prefix.map(str::to_string),
                force: false,
            };
            let ours = script(&options);
            assert!(is_ours(ours.as_bytes()), "{ours}");
            assert_eq!(written_with(&ours), Some(options), "{ours}");
            // Anything added, removed or changed makes it the user's.
            for theirs in [
                format!("{ours}./my-own-checks\n"),
                ours.replacen("exit 1", "exit 0", 1),
                ours.replacen(" \"$@\"\n", " \"$@\"; rm -rf /tmp/x\n", 1),
                ours.replace('\n', "\r\n"),
                ours.trim_end().to_string(),
            ] {
                assert!(!is_ours(theirs.as_bytes()), "{theirs}");
            }
        }
        let marked = format!("#!/bin/sh\n{MARKER}\n./my-own-checks\n");
        assert!(!is_ours(marked.as_bytes()));
        assert!(!is_ours(b"\xff\xfe"));
    }
}
