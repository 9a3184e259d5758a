//! `bump`'s release: work out the new version, the tag and the git steps; refuse what would go
//! wrong (a dirty tree, a tag already taken, no branch or remote to push to) before anything
//! changes; then rewrite chuks.json, commit, tag and push.

use std::path::{Path, PathBuf};

use semver::Version;

use crate::bump::{self, Rewrite, Target};
use crate::git::{Git, GitError};
use crate::git_write::{self, GitStep};
use crate::manifest::Manifest;
use crate::report::{Problem, Reporter, printable};
use crate::tag::{self, TagForm};

/// The default commit and tag message.
pub const DEFAULT_MESSAGE: &str = "Release {name} {version}";

/// What `bump` was asked to do.
#[derive(Debug, Clone)]
pub struct BumpOptions {
    pub manifest: PathBuf,
    pub target: Target,
    pub preid: Option<String>,
    /// `None`: the form of the current version's tag, else `v1.2.0`.
    pub tag_form: Option<TagForm>,
    /// `{name}`, `{version}` and `{tag}` are filled in.
    pub message: String,
    pub commit: bool,
    pub tag: bool,
    pub push: bool,
    pub remote: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BumpRefused {
    #[error(
        "`git` was not found on PATH, so the release cannot be committed\nhint: install git, or pass `--no-commit` to only rewrite chuks.json"
    )]
    NoGit,

    #[error(
        "the current folder is not inside a git repository\nhint: run `git init` and commit the package first, or pass `--no-commit` to only rewrite chuks.json"
    )]
    NotARepository,

    #[error("git would not stage `{path}`: {detail}\nhint: {hint}")]
    NotStageable {
        path: String,
        detail: String,
        hint: &'static str,
    },

    #[error(
        "the working tree has uncommitted changes besides `{manifest}`: {files}\nhint: commit or stash them first: the release commit holds only the version change"
    )]
    DirtyTree { manifest: String, files: String },

    #[error(
        "tag `{tag}` already exists in this repository\nhint: bump to another version, or delete the stale tag with `git tag -d {tag}` if it was never pushed"
    )]
    TagExists { tag: String },

    #[error(
        "tag `{tag}` already exists on `{remote}`\nhint: bump to another version: a pushed tag may already have been released"
    )]
    TagOnRemote { tag: String, remote: String },

    #[error(
        "HEAD is detached, so there is no branch to push with the tag\nhint: switch to the release branch (`git switch main`), or drop `--push`"
    )]
    DetachedHead,

    #[error(
        "there is no remote `{remote}` to push to\nhint: add it with `git remote add {remote} URL`, or name another with `--remote`"
    )]
    NoRemote { remote: String },

    #[error("could not check tags on `{remote}`: {detail}\nhint: {hint}")]
    RemoteUnreachable {
        remote: String,
        detail: String,
        hint: String,
    },

    #[error("`{command}` failed: {detail}\nhint: {hint}")]
    StepFailed {
        command: String,
        detail: String,
        hint: String,
    },
}

/// Everything a release will do, worked out and checked; nothing has changed yet.
#[derive(Debug)]
pub struct Plan {
    pub name: String,
    pub from: Version,
    pub to: Version,
    pub manifest: PathBuf,
    pub rewrite: Rewrite,
    pub message: String,
    pub tag: Option<String>,
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub steps: Vec<GitStep>,
    git: Option<Git>,
}

/// What a carried-out release made.
#[derive(Debug, Default)]
pub struct Applied {
    pub commit: Option<String>,
}

/// Works out and checks the release. Warnings (a remote that could not be asked) go to
/// `reporter`; a refusal is returned before anything is written.
pub fn plan(options: &BumpOptions, reporter: &mut Reporter) -> anyhow::Result<Plan> {
    if let Some(preid) = &options.preid {
        bump::validate_preid(preid)?;
    }
    bump::validate_message(&options.message)?;
    let (text, manifest) = bump::read_manifest(&options.manifest)?;
    let to = bump::next_version(&manifest.version, &options.target, options.preid.as_deref())?;
    let rewrite = bump::rewrite_version(&text, &manifest, &to)?;
    let mut plan = Plan {
        name: manifest.name.clone(),
        from: manifest.version.clone(),
        to,
        manifest: options.manifest.clone(),
        rewrite,
        message: String::new(),
        tag: None,
        remote: None,
        branch: None,
        steps: Vec::new(),
        git: None,
    };
    if !options.commit {
        return Ok(plan);
    }
    let git = repository()?;
    let path = path_arg(&options.manifest);
    check_stageable(&git, &path)?;
    check_clean(&git, &path)?;
    let tag_name = release_tag(&git, options, &manifest, &plan)?;
    plan.message = fill_message(&options.message, &manifest.name, &plan.to, &tag_name);
    if options.tag && git.tag_commit(&tag_name)?.is_some() {
        return Err(BumpRefused::TagExists { tag: tag_name }.into());
    }
    plan.branch = git.current_branch()?;
    let remote = remote_for(&git, options, plan.branch.as_deref())?;
    let remote_exists = check_remote(&git, options, &plan, &remote, &tag_name, reporter)?;
    plan.steps = vec![GitStep::add(&path), GitStep::commit(&plan.message)];
    if options.tag {
        plan.steps.push(GitStep::tag(&tag_name, &plan.message));
        plan.tag = Some(tag_name);
    }
    if options.push {
        let branch = push_branch(&git, plan.branch.as_deref(), &remote)?;
        plan.steps
            .push(GitStep::push(&remote, &branch, plan.tag.as_deref()));
        plan.branch = Some(branch);
    }
    plan.remote = remote_exists.then_some(remote);
    plan.git = Some(git);
    Ok(plan)
}

/// Writes chuks.json, then runs the git steps in order. A failed commit puts chuks.json back;
/// a later failure says what was already made and how to finish or undo it.
pub fn apply(plan: &Plan) -> anyhow::Result<Applied> {
    bump::write_atomically(&plan.manifest, &plan.rewrite.after)?;
    let Some(git) = &plan.git else {
        return Ok(Applied::default());
    };
    let mut applied = Applied::default();
    for (index, step) in plan.steps.iter().enumerate() {
        if let Err(err) = step.run(git) {
            let hint = match applied.commit {
                None => {
                    bump::write_atomically(&plan.manifest, &plan.rewrite.before)?;
                    let _ = git.run(&["reset", "-q", "--", &path_arg(&plan.manifest)]);
                    format!(
                        "chuks.json is back to `{}`; fix the cause and run `chuks-ci bump` again",
                        plan.from
                    )
                }
                Some(_) => finish_or_undo(&plan.steps[index..], plan.tag.as_deref(), index),
            };
            return Err(step_failed(step, err, hint).into());
        }
        if step.command() == "commit" {
            applied.commit = Some(git.run(&["rev-parse", "HEAD"])?.trim().to_string());
        }
    }
    Ok(applied)
}

/// The new tag, in the requested form or the one in use; it must be one `verify-tag` accepts.
fn release_tag(
    git: &Git,
    options: &BumpOptions,
    manifest: &Manifest,
    plan: &Plan,
) -> anyhow::Result<String> {
    let form = match &options.tag_form {
        Some(form) => form.clone(),
        None => form_in_use(git, manifest)?,
    };
    let tag_name = form.tag(&manifest.name, &plan.to);
    let released = Manifest::parse(&options.manifest, &plan.rewrite.after)?;
    let prefix = match &form {
        TagForm::Prefix(prefix) => Some(prefix.as_str()),
        _ => None,
    };
    tag::check(&tag_name, &released, prefix)?;
    Ok(tag_name)
}

/// The push needs a branch and the remote; the tag must be new there. Returns whether the
/// remote exists.
fn check_remote(
    git: &Git,
    options: &BumpOptions,
    plan: &Plan,
    remote: &str,
    tag: &str,
    reporter: &mut Reporter,
) -> anyhow::Result<bool> {
    let remote_exists = git.config(&format!("remote.{remote}.url"))?.is_some();
    if options.push && plan.branch.is_none() {
        return Err(BumpRefused::DetachedHead.into());
    }
    if options.push && !remote_exists {
        return Err(BumpRefused::NoRemote {
            remote: remote.to_string(),
        }
        .into());
    }
    if options.tag && remote_exists {
        check_remote_tag(git, remote, tag, options.push, reporter)?;
    }
    Ok(remote_exists)
}

fn repository() -> Result<Git, BumpRefused> {
    let git = Git::locate(Path::new(".")).map_err(|_| BumpRefused::NoGit)?;
    match git.repo() {
        Ok(Some(_)) => Ok(git),
        _ => Err(BumpRefused::NotARepository),
    }
}

/// The manifest path as git is given it (relative to the current folder, like the flag).
fn path_arg(manifest: &Path) -> String {
    manifest.to_string_lossy().into_owned()
}

/// `git add --dry-run` finds an ignored or out-of-repository manifest before anything changes.
fn check_stageable(git: &Git, path: &str) -> Result<(), BumpRefused> {
    match git.run(&["add", "--dry-run", "--", path]) {
        Ok(_) => Ok(()),
        Err(err) => Err(BumpRefused::NotStageable {
            path: path.to_string(),
            detail: git_detail(&err),
            hint: "release a manifest inside this repository that is not ignored, or pass `--no-commit`",
        }),
    }
}

fn check_clean(git: &Git, path: &str) -> anyhow::Result<()> {
    let files = git.dirty_tracked_files_except(path)?;
    if files.is_empty() {
        return Ok(());
    }
    Err(BumpRefused::DirtyTree {
        manifest: path.to_string(),
        files: crate::verify::name_dirty_files(&files),
    }
    .into())
}

/// The form of an existing tag of the current version, so a package keeps its tag style;
/// `v1.2.0` when there is none.
fn form_in_use(git: &Git, manifest: &Manifest) -> Result<TagForm, GitError> {
    let tags = git.tags_matching(&format!("*{}", manifest.version))?;
    Ok(tags
        .iter()
        .find_map(|tag| TagForm::of(tag, manifest))
        .unwrap_or(TagForm::V))
}

fn fill_message(template: &str, name: &str, version: &Version, tag: &str) -> String {
    template
        .replace("{name}", name)
        .replace("{version}", &version.to_string())
        .replace("{tag}", tag)
}

/// `--remote`, then the branch's upstream remote, then `origin`.
fn remote_for(git: &Git, options: &BumpOptions, branch: Option<&str>) -> Result<String, GitError> {
    if let Some(remote) = &options.remote {
        return Ok(remote.clone());
    }
    let upstream = match branch {
        Some(branch) => git.config(&format!("branch.{branch}.remote"))?,
        None => None,
    };
    Ok(upstream
        .filter(|remote| remote != ".")
        .unwrap_or_else(|| "origin".to_string()))
}

/// The remote branch to push to: the upstream's, when it is on `remote`; else the same name.
fn push_branch(git: &Git, branch: Option<&str>, remote: &str) -> Result<String, anyhow::Error> {
    let branch = branch.ok_or(BumpRefused::DetachedHead)?;
    let upstream_remote = git.config(&format!("branch.{branch}.remote"))?;
    let merge = git.config(&format!("branch.{branch}.merge"))?;
    let upstream_branch = merge
        .as_deref()
        .and_then(|merge| merge.strip_prefix("refs/heads/"))
        .filter(|_| upstream_remote.as_deref() == Some(remote));
    Ok(upstream_branch.unwrap_or(branch).to_string())
}

/// Refuses a tag the remote already has. When pushing, a remote that cannot be asked is a
/// refusal too (the push would fail); otherwise it is a warning.
fn check_remote_tag(
    git: &Git,
    remote: &str,
    tag: &str,
    pushing: bool,
    reporter: &mut Reporter,
) -> Result<(), BumpRefused> {
    match git_write::remote_has_tag(git, remote, tag) {
        Ok(false) => Ok(()),
        Ok(true) => Err(BumpRefused::TagOnRemote {
            tag: tag.to_string(),
            remote: remote.to_string(),
        }),
        Err(err) if pushing => Err(BumpRefused::RemoteUnreachable {
            remote: remote.to_string(),
            detail: git_detail(&err),
            hint: format!(
                "check the remote's URL and your credentials with `git ls-remote {remote}`"
            ),
        }),
        Err(err) => {
            reporter.report(
                Problem::warning(format!(
                    "could not check whether `{remote}` already has tag `{tag}`: {}",
                    git_detail(&err)
                ))
                .with_hint(format!(
                    "check with `git ls-remote --tags {remote}` before you push the tag"
                )),
            );
            Ok(())
        }
    }
}

/// After the commit: what is left to run, or how to undo what was made.
fn finish_or_undo(remaining: &[GitStep], tag: Option<&str>, done: usize) -> String {
    let left = remaining
        .iter()
        .map(GitStep::display)
        .collect::<Vec<_>>()
        .join(" && ");
    // The steps are add, commit, then the tag (when asked for), then the push.
    let made_tag = tag.filter(|_| done >= 3);
    let undo = match made_tag {
        Some(tag) => format!("`git tag -d {tag} && git reset --soft HEAD~1`"),
        None => "`git reset --soft HEAD~1`".to_string(),
    };
    format!(
        "the release commit is made locally; fix the cause and run `{left}`, or undo it with {undo}"
    )
}

fn step_failed(step: &GitStep, err: GitError, hint: String) -> BumpRefused {
    BumpRefused::StepFailed {
        command: step.display(),
        detail: git_detail(&err),
        hint,
    }
}

/// What git said, without the generic advice of a `GitError`.
fn git_detail(err: &GitError) -> String {
    match err {
        GitError::Failed { stderr, .. } => printable(stderr),
        other => crate::report::split_hint(&other.to_string()).0.to_string(),
    }
}
