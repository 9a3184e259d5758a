//! The release check shared by `verify-tag` and `publish`: find the tag, match it against the
//! manifest, and make sure the repository agrees (tag present, at HEAD, tree clean).

use crate::ci;
use crate::git::{Git, GitError, Pending, Repo, WorkingTree};
use crate::manifest::Manifest;
use crate::report::{Problem, Reporter};
use crate::tag::{self, ReleaseTag, TagError, TagSource};
use crate::untrusted::Untrusted;

/// How many dirty files a warning names before summarising the rest.
const DIRTY_FILES_SHOWN: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("tag `{tag}` does not exist in this clone\nhint: {hint}")]
    TagMissing { tag: Untrusted, hint: String },

    #[error(
        "tag `{tag}` points at commit {tag_commit}, but HEAD is {head}\nhint: check out the tagged commit (`git checkout {tag}`), or re-tag the commit you mean to release"
    )]
    TagNotAtHead {
        tag: Untrusted,
        tag_commit: String,
        head: String,
    },

    #[error(
        "no remote branch contains commit {commit}, {released_by}; the official `chuks` CLI refuses such a release\nhint: {REMOTE_BRANCH_HINT}"
    )]
    NotOnRemoteBranch { commit: String, released_by: String },

    #[error(
        "cannot tell whether a remote branch contains commit {commit}, {released_by}: {reason}\nhint: {REMOTE_BRANCH_HINT}"
    )]
    RemoteBranchUnknown {
        commit: String,
        released_by: String,
        reason: &'static str,
    },

    #[error(
        "files git does not track would ship in the package: {files}\nhint: commit them, add them to `.gitignore` (or `.chuksignore`) if they are not part of the package, or pass `--allow-untracked`"
    )]
    Untracked { files: String },
}

/// How to give a CI checkout the remote branches, or the remote the commit.
const REMOTE_BRANCH_HINT: &str = "push the branch that holds the commit before the tag; in CI, fetch the branches: `fetch-depth: 0` on actions/checkout, `GIT_DEPTH: 0` on GitLab, `clone: depth: full` on Bitbucket";

/// What the release check is asked: which tag (`tag` when given, else the CI's, else git's at
/// HEAD), in the form that `prefix` (a `--tag-prefix`) sets, and whether untracked files may ship.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub tag: Option<String>,
    pub prefix: Option<String>,
    pub allow_untracked: bool,
    /// Release HEAD without a tag (`publish --workspace --unpublished`): the commit and the
    /// working tree are checked, no tag is looked for.
    pub untagged: bool,
}

/// What the check found, filled in as it goes so a failure can still report what was known.
#[derive(Debug, Default)]
pub struct Findings {
    pub tag: Option<ReleaseTag>,
    pub repo: Option<Repo>,
    /// A rehearsal's `--tag` that is not created yet: there is nothing to confirm on a forge.
    pub tag_not_created_yet: bool,
}

/// Verifies the release of `manifest`; warnings go to `reporter`, the first failure is returned.
/// In a `rehearsal` (a dry run, a local registry, or a check outside CI) a `--tag` that does not
/// exist yet is only a warning, and so is a commit that no remote branch holds (an error in CI
/// otherwise).
pub fn verify(
    manifest: &Manifest,
    query: &Query,
    rehearsal: bool,
    reporter: &mut Reporter,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let git = match Git::locate(manifest.package_dir()) {
        Ok(git) => Some(git),
        Err(GitError::NotInstalled) => None,
        Err(err) => return Err(err.into()),
    };
    let explicit = explicit_tag(query);
    // The git queries the check will need run side by side with the repository query; their
    // answers are still read, and acted on, in the order below. With the tag known up front
    // all of them are needed on the way to success; without it, only the tag list is, since
    // no tag at HEAD ends the check.
    let mut queries = git.as_ref().map(|git| Queries {
        tags_at_head: explicit.is_none().then(|| git.start_tags_at_head()),
        tag_commit: explicit
            .as_ref()
            .map(|tag| git.start_tag_commit(tag.name.unescaped())),
        working_tree: explicit.is_some().then(|| git.start_working_tree()),
        remote_branches: explicit
            .is_some()
            .then(|| git.start_remote_branches_containing_head()),
    });
    findings.repo = match &git {
        Some(git) => git.repo()?,
        None => None,
    };
    if query.untagged {
        return verify_untagged(
            git.as_ref(),
            findings.repo.as_ref(),
            query,
            rehearsal,
            reporter,
        );
    }
    let prefix = query.prefix.as_deref();
    let release_tag = match explicit {
        Some(found) => found,
        None => tag_at_head(
            git.as_ref(),
            findings.repo.as_ref(),
            manifest,
            prefix,
            queries.as_mut().and_then(|q| q.tags_at_head.take()),
            reporter,
        )?,
    };
    reporter.debug(
        1,
        format!(
            "tag `{}` from {}",
            release_tag.name,
            release_tag.source.describe()
        ),
    );
    findings.tag = Some(release_tag.clone());
    match &git {
        Some(git) => tag::check_with(
            release_tag.name.unescaped(),
            manifest,
            prefix,
            &existing_tags(git),
        )?,
        None => tag::check(release_tag.name.unescaped(), manifest, prefix)?,
    }

    match (&git, &findings.repo) {
        (None, _) => reporter.report(
            Problem::warning("`git` was not found, so the tag's commit was not checked")
                .with_hint("install git to check that the tag points at the commit being released"),
        ),
        (Some(_), None) => reporter.report(
            Problem::warning(format!(
                "`{}` is not inside a git repository, so the tag's commit was not checked",
                Untrusted::path(manifest.package_dir())
            ))
            .with_hint("publish from a clone of the package's repository"),
        ),
        (Some(git), Some(repo)) => {
            let mut queries = queries.unwrap_or_default();
            let working_tree = queries
                .working_tree
                .take()
                .unwrap_or_else(|| git.start_working_tree());
            let tag_commit = match queries.tag_commit.take() {
                Some(pending) => pending.wait()?,
                None => git.tag_commit(release_tag.name.unescaped())?,
            };
            findings.tag_not_created_yet =
                check_tag_at_head(tag_commit, repo, &release_tag, rehearsal, reporter)?;
            let remote_branches = queries
                .remote_branches
                .take()
                .unwrap_or_else(|| git.start_remote_branches_containing_head());
            let strict = !rehearsal && ci::is_ci();
            let tag = Some(&release_tag);
            check_on_remote_branch(git, repo, remote_branches, tag, strict, reporter)?;
            let untracked_is_error = strict && !query.allow_untracked;
            check_working_tree(working_tree.wait()?, untracked_is_error, reporter)?;
        }
    }
    Ok(())
}

/// A release without a tag: HEAD must be on a remote branch (in CI), and the working tree is
/// checked as for a tagged release.
fn verify_untagged(
    git: Option<&Git>,
    repo: Option<&Repo>,
    query: &Query,
    rehearsal: bool,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    let (Some(git), Some(repo)) = (git, repo) else {
        let (why, hint) = match git {
            None => (
                "`git` was not found",
                "install git to check the commit released",
            ),
            Some(_) => (
                "the package is not inside a git repository",
                "publish from a clone of the package's repository",
            ),
        };
        reporter.report(
            Problem::warning(format!("{why}, so the commit released was not checked"))
                .with_hint(hint),
        );
        return Ok(());
    };
    let strict = !rehearsal && ci::is_ci();
    let remote_branches = git.start_remote_branches_containing_head();
    check_on_remote_branch(git, repo, remote_branches, None, strict, reporter)?;
    let untracked_is_error = strict && !query.allow_untracked;
    check_working_tree(git.working_tree()?, untracked_is_error, reporter)
}

/// Git queries started ahead of need; `None` once collected, or when not started.
#[derive(Default)]
struct Queries {
    tags_at_head: Option<Pending<Vec<String>>>,
    tag_commit: Option<Pending<Option<String>>>,
    working_tree: Option<Pending<WorkingTree>>,
    remote_branches: Option<Pending<Vec<String>>>,
}

/// `--tag` first, then the CI environment.
fn explicit_tag(query: &Query) -> Option<ReleaseTag> {
    match &query.tag {
        Some(name) => Some(ReleaseTag {
            name: name.as_str().into(),
            source: TagSource::Flag,
        }),
        None => ci::tag_from_env(),
    }
}

fn tag_at_head(
    git: Option<&Git>,
    repo: Option<&Repo>,
    manifest: &Manifest,
    prefix: Option<&str>,
    started: Option<Pending<Vec<String>>>,
    reporter: &mut Reporter,
) -> anyhow::Result<ReleaseTag> {
    let git = git.ok_or(GitError::NotInstalled)?;
    let example = tag::suggested_tag(manifest, prefix);
    let Some(repo) = repo else {
        return Err(TagError::NotFound {
            hint: format!(
                "this folder is not a git repository: pass the tag, e.g. `--tag {example}`"
            ),
        }
        .into());
    };
    let tags = match started {
        Some(pending) => pending.wait()?,
        None => git.tags_at_head()?,
    };
    let existing = existing_tags(git);
    if tags.is_empty() {
        let tag_head = tag::tag_head_hint(&example, manifest, &existing);
        let hint = if repo.shallow {
            format!(
                "this clone is shallow and may lack tags: set `fetch-depth: 0` on actions/checkout or run `git fetch --tags`; or {tag_head}"
            )
        } else {
            format!(
                "{tag_head}, run `git fetch --tags` if it exists on the remote, or pass `--tag`"
            )
        };
        return Err(TagError::NotFound { hint }.into());
    }
    let name = tag::pick(&tags, manifest, prefix, &existing)?;
    warn_about_other_release_tags(&tags, &name, manifest, prefix, reporter);
    Ok(ReleaseTag {
        name: name.into(),
        source: TagSource::Git,
    })
}

/// Asks git where a tag points, for hints that must not suggest creating a tag that exists.
fn existing_tags(git: &Git) -> impl Fn(&str) -> Option<String> + '_ {
    |tag| git.tag_commit(tag).ok().flatten()
}

/// Release tags of this package at HEAD other than the one picked cannot all be right: each says
/// HEAD is a version that chuks.json is not (`di`'s `v1.0.1`…`v1.0.9` beside `v1.0.0`).
fn warn_about_other_release_tags(
    tags: &[String],
    picked: &str,
    manifest: &Manifest,
    prefix: Option<&str>,
    reporter: &mut Reporter,
) {
    let stray: Vec<&String> = tags
        .iter()
        .filter(|tag| tag.as_str() != picked)
        .filter(|tag| match tag::kind(tag, prefix) {
            tag::TagKind::Configured => true,
            tag::TagKind::Package(package) => package == manifest.name,
            tag::TagKind::NotARelease => false,
        })
        .collect();
    if stray.is_empty() {
        return;
    }
    let named = stray
        .iter()
        .map(|tag| format!("`{}`", Untrusted::from(tag.as_str())))
        .collect::<Vec<_>>()
        .join(", ");
    let delete = stray
        .iter()
        .map(|tag| Untrusted::from(tag.as_str()).to_string())
        .collect::<Vec<_>>()
        .join(" ");
    reporter.report(
        Problem::warning(format!(
            "HEAD also carries release tags that do not match chuks.json's `{}`: {named}",
            manifest.version
        ))
        .with_hint(format!(
            "a release tag must name the version it releases; delete the ones made by mistake with `git tag -d {delete}` (and `git push origin --delete {delete}` where they were pushed)"
        )),
    );
}

/// The tag must exist locally and point at HEAD. In a rehearsal, a tag given with `--tag` that
/// does not exist yet is only a warning; the result says whether that was the case.
fn check_tag_at_head(
    tag_commit: Option<String>,
    repo: &Repo,
    release_tag: &ReleaseTag,
    rehearsal: bool,
    reporter: &mut Reporter,
) -> anyhow::Result<bool> {
    let tag = &release_tag.name;
    let Some(tag_commit) = tag_commit else {
        if rehearsal && release_tag.source == TagSource::Flag {
            reporter.report(
                Problem::warning(format!("tag `{tag}` does not exist in this clone yet"))
                    .with_hint(format!(
                        "create it on HEAD with `git tag {tag}` and push it to release"
                    )),
            );
            return Ok(true);
        }
        let hint = if repo.shallow {
            "this clone is shallow: set `fetch-depth: 0` on actions/checkout, or run `git fetch --tags`".to_string()
        } else {
            format!("run `git fetch --tags`, or create the tag with `git tag {tag}`")
        };
        return Err(ReleaseError::TagMissing {
            tag: tag.clone(),
            hint,
        }
        .into());
    };
    if repo.head.as_deref() != Some(tag_commit.as_str()) {
        return Err(ReleaseError::TagNotAtHead {
            tag: tag.clone(),
            tag_commit,
            head: repo
                .head
                .clone()
                .unwrap_or_else(|| "unborn (no commits)".to_string()),
        }
        .into());
    }
    Ok(false)
}

/// The official CLI publishes only a commit that a remote branch contains
/// (`git branch -r --contains`), so that rule is checked before any upload: an error when
/// `strict`, otherwise a warning.
fn check_on_remote_branch(
    git: &Git,
    repo: &Repo,
    remote_branches: Pending<Vec<String>>,
    release_tag: Option<&ReleaseTag>,
    strict: bool,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    let Some(commit) = repo.head.clone() else {
        return Ok(());
    };
    if !remote_branches.wait()?.is_empty() {
        return Ok(());
    }
    let released_by = match release_tag {
        Some(tag) => format!("which tag `{}` releases", tag.name),
        None => "which this run releases without a tag".to_string(),
    };
    let problem = if repo.shallow {
        ReleaseError::RemoteBranchUnknown {
            commit,
            released_by,
            reason: "this clone is shallow",
        }
    } else if !git.has_remote_branches()? {
        ReleaseError::RemoteBranchUnknown {
            commit,
            released_by,
            reason: "this clone has no remote branches",
        }
    } else {
        ReleaseError::NotOnRemoteBranch {
            commit,
            released_by,
        }
    };
    if strict {
        return Err(problem.into());
    }
    reporter.report(Problem::warning(problem.to_string()));
    Ok(())
}

/// Changed files are a warning: the package is built from the working tree. Untracked files
/// that would ship are named as such, a warning locally and, `untracked_is_error`, an error.
fn check_working_tree(
    tree: WorkingTree,
    untracked_is_error: bool,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    if !tree.changed.is_empty() {
        reporter.report(
            Problem::warning(format!(
                "the working tree has uncommitted changes: {}",
                name_dirty_files(&tree.changed)
            ))
            .with_hint(
                "commit or stash them; the package is built from the working tree, not from the tag",
            ),
        );
    }
    if tree.untracked.is_empty() {
        return Ok(());
    }
    let untracked = ReleaseError::Untracked {
        files: name_dirty_files(&tree.untracked),
    };
    if untracked_is_error {
        return Err(untracked.into());
    }
    reporter.report(Problem::warning(untracked.to_string()));
    Ok(())
}

/// The first few dirty files in backticks, and how many more there are.
pub fn name_dirty_files(files: &[String]) -> String {
    let mut named = files
        .iter()
        .take(DIRTY_FILES_SHOWN)
        .map(|f| format!("`{}`", Untrusted::from(f.as_str())))
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > DIRTY_FILES_SHOWN {
        named.push_str(&format!(" and {} more", files.len() - DIRTY_FILES_SHOWN));
    }
    named
}
