//! The pre-push guard: the hook script `hook install` writes, and the check `hook pre-push`
//! runs on the refs git is about to push (each release tag against chuks.json at its commit).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::git::{Git, GitError, Object};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::tag::{self, TagKind};

/// The line that marks a hook as chuks-ci's own, so `install` may rewrite it.
pub const MARKER: &str = "# chuks-ci-hook: pre-push";

/// The largest chuks.json the hook reads from a commit; a bigger one is refused unread.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The most input git could reasonably send: one line per ref pushed.
const MAX_INPUT_BYTES: u64 = 16 << 20;

/// An all-zero object id: the ref is being deleted (local) or created (remote).
fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(
        "`{}` is a pre-push hook that chuks-ci did not write\nhint: pass `--force` to replace it, or call `chuks-ci hook pre-push \"$@\"` from it yourself, passing its stdin through", path.display()
    )]
    Foreign { path: PathBuf },

    #[error("could not write `{}`: {source}\nhint: check that the hooks folder is writable", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the current folder is not inside a git repository\nhint: run `chuks-ci hook install` in a clone of the package's repository"
    )]
    NotARepository,

    #[error(
        "could not read the refs being pushed: {reason}\nhint: `chuks-ci hook pre-push` is run by git's pre-push hook, with `<local ref> <local sha> <remote ref> <remote sha>` lines on stdin"
    )]
    BadInput { reason: String },

    #[error(
        "tag `{tag}` is for package `{package}`, but no chuks.json at commit {commit} names it{found}\nhint: tag a package that exists (`name@VERSION` with its `name`), or push with `--no-verify` if this tag is not a Chuks release"
    )]
    PackageNotFound {
        tag: String,
        package: String,
        commit: String,
        found: String,
    },

    #[error(
        "tag `{tag}` points at commit {commit}, which is on no branch of `{remote}` nor on one pushed with it, and CI publishing requires that\nhint: push the tag with its branch: `git push --atomic {remote} BRANCH refs/tags/{tag}` (`chuks-ci bump --push` does this), or `git fetch {remote}` if a branch there has it already"
    )]
    NotOnRemoteBranch {
        tag: String,
        commit: String,
        remote: String,
    },

    #[error(
        "`{path}` at commit {commit} is {size} bytes, more than a chuks.json can be\nhint: check what was committed as `{path}`"
    )]
    ManifestTooLarge {
        path: String,
        commit: String,
        size: u64,
    },
}

/// What `hook install` writes.
#[derive(Debug, Clone)]
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
    /// A hook chuks-ci did not write was replaced (`--force`).
    Replaced,
}

/// Writes the pre-push hook into the repository git runs in; returns its path.
pub fn install(git: &Git, options: &InstallOptions) -> Result<(PathBuf, Installed), HookError> {
    let path = git
        .git_path("hooks")
        .map_err(|_| HookError::NotARepository)?
        .join("pre-push");
    let installed = match std::fs::read(&path) {
        Err(_) => Installed::Written,
        Ok(old) if String::from_utf8_lossy(&old).lines().any(|l| l == MARKER) => Installed::Updated,
        Ok(_) if options.force => Installed::Replaced,
        Ok(_) => return Err(HookError::Foreign { path }),
    };
    write_executable(&path, &script(options)).map_err(|source| HookError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((path, installed))
}

/// The hook: POSIX sh that runs the chuks-ci that installed it (else the one on PATH) with
/// git's arguments and stdin, and fails closed when there is none.
pub fn script(options: &InstallOptions) -> String {
    let mut arguments = Vec::new();
    if options.manifest != MANIFEST_FILE {
        arguments.push(format!("--manifest {}", quote(&options.manifest)));
    }
    if let Some(prefix) = &options.tag_prefix {
        arguments.push(format!("--tag-prefix {}", quote(prefix)));
    }
    let arguments: String = arguments.iter().map(|a| format!(" {a}")).collect();
    let installed = options
        .binary
        .as_ref()
        .and_then(|binary| binary.to_str())
        .map_or_else(String::new, quote);
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

fn quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| "''".to_string(), |quoted| quoted.into_owned())
}

fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
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
pub fn read_refs(input: impl std::io::Read) -> Result<Vec<PushedRef>, HookError> {
    use std::io::Read;
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
            reason: format!(
                "`{}` is not a ref line",
                crate::report::printable(line).escape_default()
            ),
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
}

/// The hook's finding on one tag being pushed.
#[derive(Debug)]
pub enum Verdict {
    /// The tag matches `manifest` (a path in the commit) at `version`.
    Matches {
        tag: String,
        commit: String,
        manifest: Manifest,
    },
    /// Not a release tag, or nothing to check it against; `reason` says which.
    Skipped { tag: String, reason: String },
    /// The push must not go ahead: the same error `verify-tag` would give, and where.
    Refused {
        tag: String,
        commit: String,
        error: anyhow::Error,
        manifest: Option<Manifest>,
    },
}

/// A release tag being pushed, with what it is checked against.
struct Candidate<'a> {
    tag: &'a str,
    object: &'a str,
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
        .map(|candidate| format!("{}^{{commit}}", candidate.object))
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
    Ok(verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Verdict::Matches { tag, commit, .. } if off_branches.contains(&commit) => {
                let error = HookError::NotOnRemoteBranch {
                    tag: tag.clone(),
                    commit: commit.clone(),
                    remote: remote.clone(),
                };
                refused(&tag, &commit, error.into(), None)
            }
            other => other,
        })
        .collect())
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
                    tag: tag.to_string(),
                    reason: "not a release tag".to_string(),
                });
                continue;
            }
            TagKind::Configured => None,
            TagKind::Package(package) => Some(package),
        };
        candidates.push(Candidate {
            tag,
            object: &pushed.local_id,
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
        names.push(format!("{}^{{commit}}", candidate.object));
        names.push(format!(
            "{}^{{commit}}:{}",
            candidate.object, options.manifest
        ));
    }
    let objects = git.objects(&names, MAX_MANIFEST_BYTES)?;
    let mut packages = PackageIndex::default();
    for (candidate, answers) in candidates.iter().zip(objects.chunks(2)) {
        let (Object::Found { id: commit, .. } | Object::TooLarge { id: commit, .. }) = &answers[0]
        else {
            verdicts.push(Verdict::Skipped {
                tag: candidate.tag.to_string(),
                reason: "it does not point at a commit".to_string(),
            });
            continue;
        };
        let verdict = match candidate.package {
            None => check_configured(candidate.tag, commit, &answers[1], options),
            Some(package) => {
                let found = packages.find(git, commit, package)?;
                check_package(candidate.tag, commit, package, found)
            }
        };
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// A tag of the repository's own package, against its chuks.json at the commit.
fn check_configured(tag: &str, commit: &str, manifest: &Object, options: &CheckOptions) -> Verdict {
    match manifest {
        Object::Missing => Verdict::Skipped {
            tag: tag.to_string(),
            reason: format!("no `{}` at commit {commit}", options.manifest),
        },
        Object::TooLarge { size, .. } => refused(
            tag,
            commit,
            HookError::ManifestTooLarge {
                path: options.manifest.clone(),
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
    }
}

/// A monorepo tag, against the chuks.json in the commit whose `name` is its package.
fn check_package(tag: &str, commit: &str, package: &str, found: PackageLookup) -> Verdict {
    match found {
        PackageLookup::Found(manifest) => judge(tag, commit, *manifest, None),
        PackageLookup::TooLarge { path, size } => refused(
            tag,
            commit,
            HookError::ManifestTooLarge {
                path,
                commit: commit.to_string(),
                size,
            }
            .into(),
            None,
        ),
        PackageLookup::Absent { names } => {
            let found = match names.is_empty() {
                true => " (it has no chuks.json)".to_string(),
                false => format!(
                    " (it has {})",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let error = HookError::PackageNotFound {
                tag: tag.to_string(),
                package: package.to_string(),
                commit: commit.to_string(),
                found,
            };
            refused(tag, commit, error.into(), None)
        }
    }
}

/// `verify-tag`'s own check, so the refusal reads the same.
fn judge(tag: &str, commit: &str, manifest: Manifest, prefix: Option<&str>) -> Verdict {
    match tag::check(tag, &manifest, prefix) {
        Ok(()) => Verdict::Matches {
            tag: tag.to_string(),
            commit: commit.to_string(),
            manifest,
        },
        Err(err) => refused(tag, commit, err.into(), Some(manifest)),
    }
}

fn refused(tag: &str, commit: &str, error: anyhow::Error, manifest: Option<Manifest>) -> Verdict {
    Verdict::Refused {
        tag: tag.to_string(),
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
}
