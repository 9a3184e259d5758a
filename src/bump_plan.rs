//! `bump`'s release: work out the new version, the tag and the git steps; refuse what would go
//! wrong (a dirty tree, a tag already taken, no branch or remote to push to) before anything
//! changes; then rewrite chuks.json, commit, tag and push.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use semver::Version;

use crate::bump::{self, BumpError, Rewrite, Target};
use crate::git::write::{self as git_write, GitStep};
use crate::git::{self, Git, GitError};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::report::{Problem, Reporter};
use crate::tag::{self, TagForm};
use crate::untrusted::Untrusted;
use crate::workspace::Workspace;

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
    /// The workspace package bumped (`--package`), named again in hints.
    pub package: Option<String>,
    /// Also release the workspace packages whose ranges the new version leaves behind.
    pub dependents: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BumpRefused {
    #[error(
        "`git` was not found on PATH, so the release cannot be committed\nhint: install git, or only rewrite chuks.json: `{rewrite_only}`"
    )]
    NoGit { rewrite_only: String },

    #[error(
        "the current folder is not inside a git repository\nhint: run `git init` and commit the package first, or only rewrite chuks.json: `{rewrite_only}`"
    )]
    NotARepository { rewrite_only: String },

    #[error(
        "git would not stage `{path}`: {detail}\nhint: release a manifest inside this repository that is not ignored, or only rewrite it: `{rewrite_only}`"
    )]
    NotStageable {
        path: String,
        detail: Untrusted,
        rewrite_only: String,
    },

    #[error(
        "the working tree has uncommitted changes besides `{manifest}`: {files}\nhint: commit or stash them first (`git stash` sets them aside): the release commit holds only the version change"
    )]
    DirtyTree { manifest: String, files: String },

    #[error(
        "tag `{tag}` already exists in this repository\nhint: release a version whose tag is free (`{free}`), or, if `{tag}` was never pushed, delete it with `git tag -d {tag}` and run `bump` again"
    )]
    TagExists { tag: String, free: String },

    #[error(
        "tag `{tag}` already exists on `{remote}`\nhint: a pushed tag may already have been released: release a version whose tag is free (`{free}`)"
    )]
    TagOnRemote {
        tag: String,
        remote: Untrusted,
        free: String,
    },

    #[error(
        "HEAD is detached, so there is no branch to push with the tag\nhint: {switch}or release without pushing: `{without_push}`"
    )]
    DetachedHead {
        /// `switch to … (`git switch main`), `, when a branch is at HEAD.
        switch: String,
        without_push: String,
    },

    #[error("there is no remote `{remote}` to push to\nhint: {hint}")]
    NoRemote { remote: Untrusted, hint: String },

    #[error(
        "could not check tags on `{remote}`: {detail}\nhint: check its URL (`git remote get-url {remote}`) and your credentials, or release without pushing (`{without_push}`) and push later"
    )]
    RemoteUnreachable {
        remote: Untrusted,
        detail: Untrusted,
        without_push: String,
    },

    #[error(
        "tag `{tag}`, the next release of dependent `{package}`, already exists\nhint: `{package}` has a release its chuks.json does not say: set its `version` past `{tag}` and commit, then run `bump` again"
    )]
    DependentTagTaken { tag: String, package: String },

    #[error("`{command}` failed: {detail}\nhint: {hint}")]
    StepFailed {
        command: Untrusted,
        detail: Untrusted,
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
    /// Names from git's configuration: untrusted.
    pub remote: Option<Untrusted>,
    pub branch: Option<Untrusted>,
    pub steps: Vec<GitStep>,
    /// Workspace packages released with it (`--dependents`).
    pub dependents: Vec<Dependent>,
    /// This `bump` command again, for a hint after a failed step.
    retry: String,
    git: Option<Git>,
}

/// A workspace package released with the bumped one: its ranges raised, its patch released.
#[derive(Debug)]
pub struct Dependent {
    pub name: String,
    pub from: Version,
    pub to: Version,
    pub manifest: PathBuf,
    pub rewrite: Rewrite,
    /// `(dependency, new range)`.
    pub ranges: Vec<(String, String)>,
    /// Its form in `chuks-workspace.json`; `name@version` otherwise.
    pub tag_prefix: Option<String>,
    pub tag: Option<String>,
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
    let to = bump::next_version(&manifest.version, &options.target, options.preid.as_deref());
    if !bump::moves_forward(&manifest.version, &to) {
        return Err(not_forward(options, &manifest, to).into());
    }
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
        dependents: Vec::new(),
        retry: bump_command(options, &options.target.to_string()),
        git: None,
    };
    if options.dependents {
        plan.dependents = dependents(&manifest, &plan.to)?;
    }
    if !options.commit {
        return Ok(plan);
    }
    let git = repository(options)?;
    let path = path_arg(&options.manifest);
    check_stageable(&git, &path, options)?;
    check_clean(&git, &path)?;
    let local_tags = git.tags_matching("*")?;
    let form = match &options.tag_form {
        Some(form) => form.clone(),
        None => form_in_use(&local_tags, &manifest),
    };
    let tag_name = release_tag(&form, options, &manifest, &plan)?;
    plan.message = fill_message(&options.message, &manifest.name, &plan.to, &tag_name);
    let branch = git.current_branch()?;
    let remote = remote_for(&git, options, branch.as_deref())?;
    let remote_exists = git.config(&format!("remote.{remote}.url"))?.is_some();
    let releases = Releases {
        options,
        name: &manifest.name,
        form: &form,
        local_tags: &local_tags,
    };
    let asked_remote = remote_exists.then_some(remote.as_str());
    if options.tag {
        check_local_tag(&git, &releases, &plan.to, &tag_name, asked_remote)?;
    }
    check_push_target(&git, &releases, branch.as_deref(), &remote, remote_exists)?;
    if let (true, Some(remote)) = (options.tag, asked_remote) {
        check_remote_tag(&git, &releases, &plan.to, &tag_name, remote, reporter)?;
    }
    if options.tag {
        check_dependent_tags(&git, &plan.dependents, &local_tags, asked_remote)?;
    }
    plan.message.push_str(&dependents_message(&plan.dependents));
    plan.steps = vec![GitStep::add(&path)];
    for dependent in &plan.dependents {
        plan.steps
            .push(GitStep::add(&path_arg(&dependent.manifest)));
    }
    plan.steps.push(GitStep::commit(&plan.message));
    if options.tag {
        plan.steps.push(GitStep::tag(&tag_name, &plan.message));
        plan.tag = Some(tag_name);
        for dependent in &mut plan.dependents {
            let tag = dependent_tag(dependent)?;
            let message = fill_message(&options.message, &dependent.name, &dependent.to, &tag);
            plan.steps.push(GitStep::tag(&tag, &message));
            dependent.tag = Some(tag);
        }
    }
    plan.branch = branch.clone().map(Untrusted::new);
    // A push without a branch was refused above.
    if let (true, Some(current)) = (options.push, branch.as_deref()) {
        let branch = push_branch(&git, current, &remote)?;
        let tags: Vec<String> = plan
            .tag
            .iter()
            .chain(plan.dependents.iter().filter_map(|d| d.tag.as_ref()))
            .cloned()
            .collect();
        plan.steps.push(GitStep::push(&remote, &branch, &tags));
        plan.branch = Some(Untrusted::new(branch));
    }
    plan.remote = remote_exists.then(|| Untrusted::new(remote));
    plan.git = Some(git);
    Ok(plan)
}

/// Writes chuks.json, then runs the git steps in order. A failed commit puts chuks.json back;
/// a later failure says what was already made and how to finish or undo it.
pub fn apply(plan: &Plan) -> anyhow::Result<Applied> {
    bump::write_atomically(&plan.manifest, &plan.rewrite.after)?;
    for dependent in &plan.dependents {
        bump::write_atomically(&dependent.manifest, &dependent.rewrite.after)?;
    }
    let Some(git) = &plan.git else {
        return Ok(Applied::default());
    };
    let mut applied = Applied::default();
    for (index, step) in plan.steps.iter().enumerate() {
        if let Err(err) = step.run(git) {
            let fix = err.remedy().map_or_else(
                || "fix the cause and".to_string(),
                |remedy| format!("{remedy}, then"),
            );
            let hint = match applied.commit {
                None => {
                    bump::write_atomically(&plan.manifest, &plan.rewrite.before)?;
                    let _ = git.run(&["reset", "-q", "--", &path_arg(&plan.manifest)]);
                    for dependent in &plan.dependents {
                        bump::write_atomically(&dependent.manifest, &dependent.rewrite.before)?;
                        let _ = git.run(&["reset", "-q", "--", &path_arg(&dependent.manifest)]);
                    }
                    format!(
                        "chuks.json is back to `{}`; {fix} run `{}` again",
                        plan.from, plan.retry
                    )
                }
                Some(_) => finish_or_undo(&plan.steps, index, &fix),
            };
            return Err(step_failed(step, err, hint).into());
        }
        if step.command() == "commit" {
            applied.commit = Some(git.run(&["rev-parse", "HEAD"])?.trim().to_string());
        }
    }
    Ok(applied)
}

/// `chuks-ci bump TARGET` with the options of this run that change what it does, quoted for a
/// shell: what a hint tells a person to run instead.
fn bump_command(options: &BumpOptions, target: &str) -> String {
    let mut words = vec!["chuks-ci", "bump", target];
    let manifest = path_arg(&options.manifest);
    match &options.package {
        Some(package) => words.extend(["--package", package]),
        None if options.manifest != Path::new(MANIFEST_FILE) => {
            words.extend(["--manifest", &manifest]);
        }
        None => {}
    }
    if options.dependents {
        words.push("--dependents");
    }
    match &options.tag_form {
        Some(TagForm::Prefix(prefix)) => words.extend(["--tag-prefix", prefix]),
        Some(TagForm::V) => words.extend(["--tag-form", "v"]),
        Some(TagForm::Bare) => words.extend(["--tag-form", "bare"]),
        Some(TagForm::NameAt) => words.extend(["--tag-form", "at"]),
        Some(TagForm::NameSlash) => words.extend(["--tag-form", "slash"]),
        None => {}
    }
    if let Some(preid) = &options.preid {
        words.extend(["--preid", preid]);
    }
    if options.message != DEFAULT_MESSAGE {
        words.extend(["--message", &options.message]);
    }
    match (options.commit, options.tag) {
        (false, _) => words.push("--no-commit"),
        (true, false) => words.push("--no-tag"),
        (true, true) => {}
    }
    if options.push {
        words.push("--push");
    }
    if let Some(remote) = &options.remote {
        words.extend(["--remote", remote]);
    }
    shlex::try_join(words).unwrap_or_else(|_| format!("chuks-ci bump {target}"))
}

/// The same release without `--push` (a remote that is missing or cannot be reached is then no
/// obstacle).
fn without_push(options: &BumpOptions) -> String {
    let options = BumpOptions {
        push: false,
        ..options.clone()
    };
    bump_command(&options, &options.target.to_string())
}

/// The same release, only rewriting chuks.json: what works without git or a repository.
fn rewrite_only(options: &BumpOptions) -> String {
    let options = BumpOptions {
        commit: false,
        tag: false,
        push: false,
        remote: None,
        ..options.clone()
    };
    bump_command(&options, &options.target.to_string())
}

/// The versions a release could take instead, and the tags they would need.
struct Releases<'a> {
    options: &'a BumpOptions,
    name: &'a str,
    form: &'a TagForm,
    /// The tags this repository has.
    local_tags: &'a [String],
}

impl Releases<'_> {
    /// `chuks-ci bump VERSION` for the first patch release after `after` whose tag is taken
    /// neither here nor in `remote_tags`.
    fn free_after(&self, after: &Version, remote_tags: &[String]) -> String {
        let taken: HashSet<&str> = self
            .local_tags
            .iter()
            .chain(remote_tags)
            .map(String::as_str)
            .collect();
        let mut version = bump::next_patch(after);
        while self.options.tag && taken.contains(self.form.tag(self.name, &version).as_str()) {
            version = bump::next_patch(&version);
        }
        bump_command(self.options, &version.to_string())
    }
}

/// The refusal of a version that does not move forward, suggesting the next patch release whose
/// tag is free here. Only the local tags are asked: a typo is not worth a trip to the remote.
fn not_forward(options: &BumpOptions, manifest: &Manifest, next: Version) -> BumpError {
    let local_tags = match options.tag {
        true => repository(options)
            .ok()
            .and_then(|git| git.tags_matching("*").ok())
            .unwrap_or_default(),
        false => Vec::new(),
    };
    let form = match &options.tag_form {
        Some(form) => form.clone(),
        None => form_in_use(&local_tags, manifest),
    };
    let releases = Releases {
        options,
        name: &manifest.name,
        form: &form,
        local_tags: &local_tags,
    };
    BumpError::NotForward {
        current: manifest.version.clone(),
        next,
        suggestion: releases.free_after(&manifest.version, &[]),
    }
}

/// The new tag in `form`; it must be one `verify-tag` accepts.
fn release_tag(
    form: &TagForm,
    options: &BumpOptions,
    manifest: &Manifest,
    plan: &Plan,
) -> anyhow::Result<String> {
    let tag_name = form.tag(&manifest.name, &plan.to);
    let released = Manifest::parse(&options.manifest, &plan.rewrite.after)?;
    let prefix = match form {
        TagForm::Prefix(prefix) => Some(prefix.as_str()),
        _ => None,
    };
    tag::check(&tag_name, &released, prefix)?;
    Ok(tag_name)
}

/// A push needs a branch and the remote.
fn check_push_target(
    git: &Git,
    releases: &Releases,
    branch: Option<&str>,
    remote: &str,
    remote_exists: bool,
) -> anyhow::Result<()> {
    let options = releases.options;
    if options.push && branch.is_none() {
        let switch = match git.branches_at("HEAD")?.first() {
            Some(branch) => format!(
                "switch to the release branch (`git switch {}`), ",
                Untrusted::new(git::quote(branch))
            ),
            None => String::new(),
        };
        return Err(BumpRefused::DetachedHead {
            switch,
            without_push: without_push(options),
        }
        .into());
    }
    if options.push && !remote_exists {
        let hint = match git.remotes()?.first() {
            Some(other) => {
                let options = BumpOptions {
                    remote: Some(other.clone()),
                    ..options.clone()
                };
                format!(
                    "push to a remote this repository has: `{}`",
                    Untrusted::new(bump_command(&options, &options.target.to_string()))
                )
            }
            None => format!(
                "add the remote with `git remote add {} URL` (its URL), or release without pushing: `{}`",
                Untrusted::new(git::quote(remote)),
                without_push(options)
            ),
        };
        return Err(BumpRefused::NoRemote {
            remote: Untrusted::new(remote),
            hint,
        }
        .into());
    }
    Ok(())
}

/// Refuses a tag this repository has, suggesting a version whose tag is free here and, when
/// there is a remote to ask, there too.
fn check_local_tag(
    git: &Git,
    releases: &Releases,
    to: &Version,
    tag: &str,
    remote: Option<&str>,
) -> Result<(), BumpRefused> {
    if !releases.local_tags.iter().any(|local| local == tag) {
        return Ok(());
    }
    let remote_tags = remote
        .and_then(|remote| git_write::remote_tags(git, remote).ok())
        .unwrap_or_default();
    Err(BumpRefused::TagExists {
        tag: tag.to_string(),
        free: releases.free_after(to, &remote_tags),
    })
}

/// Refuses a tag the remote has. A remote that cannot be asked is a refusal when pushing (the
/// push would fail), otherwise a warning.
fn check_remote_tag(
    git: &Git,
    releases: &Releases,
    to: &Version,
    tag: &str,
    remote: &str,
    reporter: &mut Reporter,
) -> Result<(), BumpRefused> {
    let remote_tags = match git_write::remote_tags(git, remote) {
        Ok(tags) => tags,
        Err(err) if releases.options.push => {
            return Err(BumpRefused::RemoteUnreachable {
                remote: Untrusted::new(remote),
                detail: git_detail(&err),
                without_push: without_push(releases.options),
            });
        }
        Err(err) => {
            reporter.report(
                Problem::warning(format!(
                    "could not check whether `{}` already has tag `{tag}`: {}",
                    Untrusted::new(remote),
                    git_detail(&err)
                ))
                .with_hint("before you push the tag, check that the remote does not have it yet"),
            );
            return Ok(());
        }
    };
    match remote_tags.iter().any(|remote_tag| remote_tag == tag) {
        false => Ok(()),
        true => Err(BumpRefused::TagOnRemote {
            tag: tag.to_string(),
            remote: Untrusted::new(remote),
            free: releases.free_after(to, &remote_tags),
        }),
    }
}

/// The repository around the current folder. git's own refusal (a checkout it does not trust)
/// is passed on with its hint.
fn repository(options: &BumpOptions) -> anyhow::Result<Git> {
    let git = Git::locate(Path::new(".")).map_err(|_| BumpRefused::NoGit {
        rewrite_only: rewrite_only(options),
    })?;
    match git.repo()? {
        Some(_) => Ok(git),
        None => Err(BumpRefused::NotARepository {
            rewrite_only: rewrite_only(options),
        }
        .into()),
    }
}

/// The manifest path as git is given it (relative to the current folder, like the flag).
fn path_arg(manifest: &Path) -> String {
    manifest.to_string_lossy().into_owned()
}

/// `git add --dry-run` finds an ignored or out-of-repository manifest before anything changes.
fn check_stageable(git: &Git, path: &str, options: &BumpOptions) -> Result<(), BumpRefused> {
    match git.run(&["add", "--dry-run", "--", path]) {
        Ok(_) => Ok(()),
        Err(err) => Err(BumpRefused::NotStageable {
            path: path.to_string(),
            detail: git_detail(&err),
            rewrite_only: rewrite_only(options),
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

/// The workspace packages whose ranges `to` leaves behind, each with its ranges raised and its
/// next patch written, checked to parse as the same manifest with only those changes.
fn dependents(manifest: &Manifest, to: &Version) -> anyhow::Result<Vec<Dependent>> {
    let workspace = Workspace::discover(manifest.package_dir())?;
    let index = workspace
        .index_of(&manifest.name)
        .ok_or_else(|| anyhow::anyhow!("`{}` is not a package of this repository's workspace\nhint: `--dependents` works on a package of the workspace; bump it without `--dependents`", manifest.name))?;
    workspace
        .dependents_of_release(index, to)
        .into_iter()
        .map(|release| {
            let member = &workspace.members[release.index];
            let (text, current) = bump::read_manifest(&member.manifest.path)?;
            let mut rewrite = bump::rewrite_version(&text, &current, &release.to)?;
            for (dependency, range) in &release.ranges {
                let written = Manifest::parse(&current.path, &rewrite.after)?;
                rewrite.after = bump::rewrite_range(&rewrite.after, &written, dependency, range)?;
            }
            Ok(Dependent {
                name: member.name().to_string(),
                from: current.version.clone(),
                to: release.to,
                manifest: member.manifest.path.clone(),
                rewrite,
                ranges: release.ranges,
                tag_prefix: member.tag_prefix.clone(),
                tag: None,
            })
        })
        .collect()
}

/// A dependent's release tag: `name@version`, or in its `tag-prefix` form.
fn dependent_tag(dependent: &Dependent) -> anyhow::Result<String> {
    let form = match &dependent.tag_prefix {
        Some(prefix) => TagForm::Prefix(prefix.clone()),
        None => TagForm::NameAt,
    };
    let tag = form.tag(&dependent.name, &dependent.to);
    let released = Manifest::parse(&dependent.manifest, &dependent.rewrite.after)?;
    let prefix = match &form {
        TagForm::Prefix(prefix) => Some(prefix.as_str()),
        _ => None,
    };
    tag::check(&tag, &released, prefix)?;
    Ok(tag)
}

/// Refuses a dependent's next tag that this repository (or the remote asked) already has.
fn check_dependent_tags(
    git: &Git,
    dependents: &[Dependent],
    local_tags: &[String],
    remote: Option<&str>,
) -> Result<(), BumpRefused> {
    let remote_tags = match (dependents.is_empty(), remote) {
        (false, Some(remote)) => git_write::remote_tags(git, remote).unwrap_or_default(),
        _ => Vec::new(),
    };
    for dependent in dependents {
        for form in [TagForm::NameAt, TagForm::NameSlash] {
            let tag = form.tag(&dependent.name, &dependent.to);
            if local_tags
                .iter()
                .chain(&remote_tags)
                .any(|taken| *taken == tag)
            {
                return Err(BumpRefused::DependentTagTaken {
                    tag,
                    package: dependent.name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The commit message's lines for the dependents released with the package.
fn dependents_message(dependents: &[Dependent]) -> String {
    if dependents.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = dependents
        .iter()
        .map(|dependent| {
            let ranges: Vec<String> = dependent
                .ranges
                .iter()
                .map(|(dependency, range)| format!("{dependency} {range}"))
                .collect();
            format!(
                "- {} {} (depends on {})",
                dependent.name,
                dependent.to,
                ranges.join(", ")
            )
        })
        .collect();
    format!(
        "\n\nAlso released, for the new version:\n{}",
        lines.join("\n")
    )
}

/// The form of an existing tag of the current version, so a package keeps its tag style;
/// `v1.2.0` when there is none.
fn form_in_use(tags: &[String], manifest: &Manifest) -> TagForm {
    let version = manifest.version.to_string();
    tags.iter()
        .filter(|tag| tag.ends_with(&version))
        .find_map(|tag| TagForm::of(tag, manifest))
        .unwrap_or(TagForm::V)
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
fn push_branch(git: &Git, branch: &str, remote: &str) -> Result<String, GitError> {
    let upstream_remote = git.config(&format!("branch.{branch}.remote"))?;
    let merge = git.config(&format!("branch.{branch}.merge"))?;
    let upstream_branch = merge
        .as_deref()
        .and_then(|merge| merge.strip_prefix("refs/heads/"))
        .filter(|_| upstream_remote.as_deref() == Some(remote));
    Ok(upstream_branch.unwrap_or(branch).to_string())
}

/// After the commit: what is left to run, or how to undo what was made.
fn finish_or_undo(steps: &[GitStep], failed: usize, fix: &str) -> String {
    let left = steps[failed..]
        .iter()
        .map(|step| step.display().to_string())
        .collect::<Vec<_>>()
        .join(" && ");
    let made_tags: Vec<&str> = steps[..failed]
        .iter()
        .filter_map(GitStep::made_tag)
        .collect();
    // `--keep` puts chuks.json back too, so the same `bump` makes the same release again.
    let undo = match made_tags.is_empty() {
        true => "`git reset --keep HEAD~1`".to_string(),
        false => format!(
            "`git tag -d {} && git reset --keep HEAD~1`",
            made_tags.join(" ")
        ),
    };
    format!("the release commit is made locally; {fix} run `{left}`, or undo it with {undo}")
}

fn step_failed(step: &GitStep, err: GitError, hint: String) -> BumpRefused {
    BumpRefused::StepFailed {
        command: step.display(),
        detail: git_detail(&err),
        hint,
    }
}

/// What git said, without the generic advice of a `GitError`.
fn git_detail(err: &GitError) -> Untrusted {
    match err {
        // A hook that refuses may print nothing.
        GitError::Failed { stderr, .. } if stderr.is_empty() => {
            Untrusted::new("git gave no reason (a hook may have refused)")
        }
        GitError::Failed { stderr, .. } => stderr.clone(),
        other => Untrusted::new(crate::report::split_hint(&other.to_string()).0),
    }
}
