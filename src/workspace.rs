//! A repository's workspace: its Chuks packages (every tracked `chuks.json`, or the list in
//! `chuks-workspace.json`), which of them a run releases, and the order their workspace-local
//! dependencies impose.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::Glob;
use semver::Version;
use serde::Deserialize;

use crate::git::{Git, GitError};
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestError};
use crate::tag::{self, TagForm};
use crate::untrusted::Untrusted;

/// The optional list of a workspace's packages, at the repository root.
pub const WORKSPACE_FILE: &str = "chuks-workspace.json";

/// Installed dependencies live here; their manifests are never workspace members.
const INSTALLED_PACKAGES: &str = "chuks_packages";

/// The most packages one workspace may hold; a bound on what a hostile tree can make us load.
pub const MAX_MEMBERS: usize = 1000;

/// The largest `chuks-workspace.json` read.
const MAX_WORKSPACE_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("`{}` is not in a git repository\nhint: run it in the repository that holds the packages", .0)]
    NotInRepository(Untrusted),

    #[error(transparent)]
    Git(#[from] GitError),

    #[error(
        "cannot use `{path}`: {reason}\nhint: write it as `{{\"packages\": [\"packages/*\"]}}`, with an optional `\"tag-prefix\": {{\"NAME\": \"PREFIX\"}}`"
    )]
    BadWorkspaceFile { path: Untrusted, reason: Untrusted },

    #[error(
        "`{pattern}` in `{WORKSPACE_FILE}` is not a folder pattern: {reason}\nhint: write folders relative to the repository root, such as `packages/*`"
    )]
    BadPattern {
        pattern: Untrusted,
        reason: Untrusted,
    },

    #[error(
        "`{pattern}` in `{WORKSPACE_FILE}` names no folder with a tracked `chuks.json`\nhint: fix the entry, or `git add` the package's chuks.json"
    )]
    NothingMatched { pattern: Untrusted },

    #[error(
        "the repository holds no tracked `chuks.json`\nhint: `git add` the packages' chuks.json files, or list them in `{WORKSPACE_FILE}`"
    )]
    Empty,

    #[error(
        "the workspace holds {count} packages, more than the {MAX_MEMBERS} chuks-ci takes\nhint: list the packages to release in `{WORKSPACE_FILE}`"
    )]
    TooMany { count: usize },

    #[error("`{}` is not a valid package manifest", .path)]
    Manifest {
        path: Untrusted,
        #[source]
        source: Box<ManifestError>,
    },

    #[error(
        "two packages are called `{name}`: `{first}` and `{second}`\nhint: give each package of the workspace its own name"
    )]
    DuplicateName {
        name: Untrusted,
        first: Untrusted,
        second: Untrusted,
    },

    #[error(
        "`{prefix_of}` has a `tag-prefix` in `{WORKSPACE_FILE}` but no package of the workspace has that name\nhint: the workspace's packages are {known}"
    )]
    UnknownPrefixPackage { prefix_of: Untrusted, known: String },

    #[error("the workspace has no package `{name}`\nhint: its packages are {known}")]
    UnknownPackage { name: Untrusted, known: String },

    #[error("no package of the workspace has its release tag at HEAD{}\nhint: tag each package to release in its own form at HEAD, such as `{example}`", tags_text(.tags))]
    NothingTagged {
        tags: Vec<Untrusted>,
        example: Untrusted,
    },

    #[error("the workspace's dependencies form a cycle: {}\nhint: a package cannot be released before itself; remove one of these dependencies", cycle_text(.0))]
    Cycle(Vec<Untrusted>),
}

fn tags_text(tags: &[Untrusted]) -> String {
    match tags.is_empty() {
        true => " (HEAD has no tags)".to_string(),
        false => format!(
            " (HEAD has {})",
            tags.iter()
                .map(|tag| format!("`{tag}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn cycle_text(cycle: &[Untrusted]) -> String {
    cycle
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// One package of the workspace.
#[derive(Debug, Clone)]
pub struct Member {
    pub manifest: Manifest,
    /// The package's folder relative to the repository root (empty for the root itself).
    pub dir: String,
    /// The tag form `chuks-workspace.json` sets for it: `PREFIX1.2.0`.
    pub tag_prefix: Option<String>,
}

impl Member {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The folder for people: `packages/maths`, or `.` for the root.
    pub fn dir_shown(&self) -> Untrusted {
        match self.dir.is_empty() {
            true => Untrusted::from("."),
            false => Untrusted::from(self.dir.as_str()),
        }
    }

    /// The tag that releases this package's version: `PREFIX1.2.0` under a `tag-prefix`, else
    /// `name@1.2.0`.
    pub fn release_tag_name(&self) -> String {
        match &self.tag_prefix {
            Some(prefix) => TagForm::Prefix(prefix.clone()),
            None => TagForm::NameAt,
        }
        .tag(&self.manifest.name, &self.manifest.version)
    }

    /// The tag among `tags` that releases this package: one in a form that names it (its
    /// `tag-prefix`, else `name@…` or `name/v…`; a plain `v…` only when the workspace has no
    /// other package, `sole`), preferring one for the manifest's version. A tag for another
    /// version is still returned, so that the check reports the mismatch instead of skipping
    /// the package.
    pub fn release_tag<'a>(&self, tags: &'a [String], sole: bool) -> Option<&'a String> {
        let prefix = self.tag_prefix.as_deref();
        let naming: Vec<&String> = tags.iter().filter(|tag| self.names(tag, sole)).collect();
        naming
            .iter()
            .find(|tag| tag::check(tag, &self.manifest, prefix).is_ok())
            .or(naming.first())
            .copied()
    }

    /// Whether `tag` is a release tag of this package, whatever its version.
    fn names(&self, tag: &str, sole: bool) -> bool {
        let name = &self.manifest.name;
        let version = match &self.tag_prefix {
            Some(prefix) => tag.strip_prefix(prefix.as_str()),
            None => tag
                .strip_prefix(&format!("{name}@"))
                .or_else(|| tag.strip_prefix(&format!("{name}/v")))
                .or_else(|| sole.then(|| tag.strip_prefix('v').unwrap_or(tag))),
        };
        version.is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    }
}

/// A package a run releases, and the tag that releases it; `None` for a package released
/// without one (`--unpublished`).
#[derive(Debug, Clone)]
pub struct Tagged {
    pub index: usize,
    pub tag: Option<String>,
}

/// A package `bump --dependents` releases too: the ranges it raises (dependency, new range) and
/// its next patch version.
#[derive(Debug, Clone)]
pub struct DependentRelease {
    pub index: usize,
    pub to: Version,
    pub ranges: Vec<(String, String)>,
}

/// The range a dependent writes for `version`: in the range's own style (`~` stays `~`), else `^`.
fn range_for(old: &str, version: &Version) -> String {
    match old.trim_start().starts_with('~') {
        true => format!("~{version}"),
        false => format!("^{version}"),
    }
}

/// The packages of a repository, sorted by folder.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub members: Vec<Member>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceFile {
    packages: Vec<String>,
    #[serde(default, rename = "tag-prefix")]
    tag_prefix: BTreeMap<String, String>,
}

/// The workspace around `dir`, narrowed to `names` when any are given, and the packages HEAD
/// releases, in release order.
pub fn tagged_at_head(
    dir: &Path,
    names: &[String],
) -> Result<(Workspace, Vec<Tagged>), WorkspaceError> {
    releases_at_head(dir, names, false)
}

/// As [`tagged_at_head`]; with `every_package`, every package is released, with its release tag
/// at HEAD where it has one and without a tag otherwise (`--unpublished`).
pub fn releases_at_head(
    dir: &Path,
    names: &[String],
    every_package: bool,
) -> Result<(Workspace, Vec<Tagged>), WorkspaceError> {
    let mut workspace = Workspace::discover(dir)?;
    let sole = workspace.members.len() == 1;
    workspace.retain_named(names)?;
    let order = workspace.release_order()?;
    let tags = Git::locate(&workspace.root)?.tags_at_head()?;
    let released = match every_package {
        true => order
            .iter()
            .map(|&index| Tagged {
                index,
                tag: workspace.members[index].release_tag(&tags, sole).cloned(),
            })
            .collect(),
        false => workspace.tagged(&order, &tags, sole)?,
    };
    Ok((workspace, released))
}

impl Workspace {
    /// The workspace of the repository around `dir`.
    pub fn discover(dir: &Path) -> Result<Workspace, WorkspaceError> {
        let git = Git::locate(dir)?;
        if git.repo()?.is_none() {
            return Err(WorkspaceError::NotInRepository(Untrusted::path(dir)));
        }
        let root = git.toplevel()?;
        let tracked: Vec<String> = git
            .tracked_named(MANIFEST_FILE)?
            .into_iter()
            .filter(|path| !is_installed(path))
            .collect();
        let listed = read_workspace_file(&root)?;
        let dirs = match &listed {
            Some(file) => matching_dirs(&tracked, &file.packages)?,
            None => tracked.iter().map(|path| parent_dir(path)).collect(),
        };
        if dirs.is_empty() {
            return Err(WorkspaceError::Empty);
        }
        if dirs.len() > MAX_MEMBERS {
            return Err(WorkspaceError::TooMany { count: dirs.len() });
        }
        let members = load_members(&root, dirs)?;
        let mut workspace = Workspace { root, members };
        if let Some(file) = listed {
            workspace.set_tag_prefixes(file.tag_prefix)?;
        }
        Ok(workspace)
    }

    /// Keeps only the packages named (`--package`); every name must be a member.
    pub fn retain_named(&mut self, names: &[String]) -> Result<(), WorkspaceError> {
        if names.is_empty() {
            return Ok(());
        }
        for name in names {
            if self.index_of(name).is_none() {
                return Err(WorkspaceError::UnknownPackage {
                    name: Untrusted::from(name.as_str()),
                    known: self.known_names(),
                });
            }
        }
        self.members
            .retain(|member| names.iter().any(|name| name == member.name()));
        Ok(())
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|member| member.name() == name)
    }

    /// The members `members[index]` depends on, by index: only dependencies inside the
    /// workspace count.
    pub fn dependencies_of(&self, index: usize) -> Vec<usize> {
        self.members[index]
            .manifest
            .dependencies
            .keys()
            .filter_map(|name| self.index_of(name))
            .collect()
    }

    /// Every member, each after the members it depends on; ties keep folder order. A cycle is
    /// an error naming it.
    pub fn release_order(&self) -> Result<Vec<usize>, WorkspaceError> {
        let count = self.members.len();
        let dependencies: Vec<Vec<usize>> = (0..count).map(|i| self.dependencies_of(i)).collect();
        let mut placed = vec![false; count];
        let mut order = Vec::with_capacity(count);
        while order.len() < count {
            let ready: Vec<usize> = (0..count)
                .filter(|&i| !placed[i] && dependencies[i].iter().all(|&d| placed[d]))
                .collect();
            if ready.is_empty() {
                return Err(WorkspaceError::Cycle(
                    self.find_cycle(&dependencies, &placed),
                ));
            }
            for i in ready {
                placed[i] = true;
                order.push(i);
            }
        }
        Ok(order)
    }

    /// What releasing `members[index]` at `to` asks of the packages that depend on it: each
    /// whose range leaves `to` out has it raised and releases its next patch, which in turn may
    /// leave its own dependents' ranges behind. In release order.
    pub fn dependents_of_release(&self, index: usize, to: &Version) -> Vec<DependentRelease> {
        let mut new_versions: BTreeMap<usize, Version> = BTreeMap::from([(index, to.clone())]);
        let mut releases: BTreeMap<usize, DependentRelease> = BTreeMap::new();
        let mut pending = vec![index];
        while let Some(released) = pending.pop() {
            let name = self.members[released].name().to_string();
            let version = new_versions[&released].clone();
            for (dependent, member) in self.members.iter().enumerate() {
                let Some(requirement) = member.manifest.dependencies.get(&name) else {
                    continue;
                };
                if requirement.matches(&version) || dependent == index {
                    continue;
                }
                let written = member.manifest.document["dependencies"][&name]
                    .as_str()
                    .unwrap_or_default();
                let release = releases
                    .entry(dependent)
                    .or_insert_with(|| DependentRelease {
                        index: dependent,
                        to: crate::bump::next_patch(&member.manifest.version),
                        ranges: Vec::new(),
                    });
                release
                    .ranges
                    .push((name.clone(), range_for(written, &version)));
                if let Entry::Vacant(unreleased) = new_versions.entry(dependent) {
                    unreleased.insert(release.to.clone());
                    pending.push(dependent);
                }
            }
        }
        let order = self
            .release_order()
            .unwrap_or_else(|_| (0..self.members.len()).collect());
        order
            .into_iter()
            .filter_map(|i| releases.remove(&i))
            .collect()
    }

    /// The members `order` lists whose release tag is among `tags_at_head`, in that order; an
    /// error when there is none. `sole`: the workspace has one package, which plain `v1.2.0`
    /// tags release.
    pub fn tagged(
        &self,
        order: &[usize],
        tags_at_head: &[String],
        sole: bool,
    ) -> Result<Vec<Tagged>, WorkspaceError> {
        let tagged: Vec<Tagged> = order
            .iter()
            .filter_map(|&index| {
                let tag = self.members[index].release_tag(tags_at_head, sole)?;
                Some(Tagged {
                    index,
                    tag: Some(tag.clone()),
                })
            })
            .collect();
        if tagged.is_empty() {
            return Err(WorkspaceError::NothingTagged {
                tags: tags_at_head
                    .iter()
                    .map(|t| Untrusted::from(t.as_str()))
                    .collect(),
                example: Untrusted::from(self.members[order[0]].release_tag_name()),
            });
        }
        Ok(tagged)
    }

    /// A cycle among the members not yet placed, which all wait on each other: following the
    /// first unplaced dependency from any of them must come back round.
    fn find_cycle(&self, dependencies: &[Vec<usize>], placed: &[bool]) -> Vec<Untrusted> {
        let Some(start) = (0..placed.len()).find(|&i| !placed[i]) else {
            return Vec::new();
        };
        let mut path = vec![start];
        loop {
            let current = path[path.len() - 1];
            let Some(&next) = dependencies[current].iter().find(|&&d| !placed[d]) else {
                return Vec::new();
            };
            if let Some(at) = path.iter().position(|&i| i == next) {
                let mut cycle: Vec<Untrusted> = path[at..]
                    .iter()
                    .map(|&i| Untrusted::from(self.members[i].name()))
                    .collect();
                cycle.push(Untrusted::from(self.members[next].name()));
                return cycle;
            }
            path.push(next);
        }
    }

    fn set_tag_prefixes(
        &mut self,
        prefixes: BTreeMap<String, String>,
    ) -> Result<(), WorkspaceError> {
        for (name, prefix) in prefixes {
            let Some(index) = self.index_of(&name) else {
                return Err(WorkspaceError::UnknownPrefixPackage {
                    prefix_of: Untrusted::from(name),
                    known: self.known_names(),
                });
            };
            self.members[index].tag_prefix = Some(prefix);
        }
        Ok(())
    }

    fn known_names(&self) -> String {
        let names: Vec<String> = self
            .members
            .iter()
            .map(|member| format!("`{}`", Untrusted::from(member.name())))
            .collect();
        names.join(", ")
    }
}

fn is_installed(path: &str) -> bool {
    path.split('/').any(|part| part == INSTALLED_PACKAGES)
}

/// `packages/maths/chuks.json` → `packages/maths`; `chuks.json` → ``.
fn parent_dir(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(String::new(), |(dir, _)| dir.to_string())
}

fn read_workspace_file(root: &Path) -> Result<Option<WorkspaceFile>, WorkspaceError> {
    let path = root.join(WORKSPACE_FILE);
    let bad = |reason: String| WorkspaceError::BadWorkspaceFile {
        path: Untrusted::from(WORKSPACE_FILE),
        reason: Untrusted::from(reason),
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(bad(err.to_string())),
    };
    let mut text = Vec::new();
    file.take(MAX_WORKSPACE_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|err| bad(err.to_string()))?;
    if text.len() as u64 > MAX_WORKSPACE_FILE_BYTES {
        return Err(bad(format!(
            "it is larger than {MAX_WORKSPACE_FILE_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|err| bad(err.to_string()))
}

/// The folders of `tracked` manifests that the workspace file's patterns name, in order.
fn matching_dirs(tracked: &[String], patterns: &[String]) -> Result<Vec<String>, WorkspaceError> {
    let dirs: Vec<String> = tracked.iter().map(|path| parent_dir(path)).collect();
    let mut chosen = BTreeSet::new();
    for pattern in patterns {
        let matcher = folder_glob(pattern)?.compile_matcher();
        let matching: Vec<&String> = dirs
            .iter()
            .filter(|dir| matcher.is_match(dir.as_str()))
            .collect();
        if matching.is_empty() {
            return Err(WorkspaceError::NothingMatched {
                pattern: Untrusted::from(pattern.as_str()),
            });
        }
        chosen.extend(matching.into_iter().cloned());
    }
    Ok(chosen.into_iter().collect())
}

/// A folder pattern relative to the root: no `..`, no absolute path; `.` is the root.
fn folder_glob(pattern: &str) -> Result<Glob, WorkspaceError> {
    let bad = |reason: &str| WorkspaceError::BadPattern {
        pattern: Untrusted::from(pattern),
        reason: Untrusted::from(reason),
    };
    let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
    if trimmed.starts_with('/') || trimmed.split('/').any(|part| part == "..") {
        return Err(bad("it leaves the repository"));
    }
    let trimmed = if trimmed == "." { "" } else { trimmed };
    globset::GlobBuilder::new(trimmed)
        .literal_separator(true)
        .build()
        .map_err(|err| bad(&err.to_string()))
}

fn load_members(root: &Path, dirs: Vec<String>) -> Result<Vec<Member>, WorkspaceError> {
    let mut members: Vec<Member> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let path = root.join(&dir).join(MANIFEST_FILE);
        let manifest = Manifest::load(&path).map_err(|source| WorkspaceError::Manifest {
            path: Untrusted::path(&path),
            source: Box::new(source),
        })?;
        let member = Member {
            manifest,
            dir,
            tag_prefix: None,
        };
        if let Some(first) = members.iter().find(|m| m.name() == member.name()) {
            return Err(WorkspaceError::DuplicateName {
                name: Untrusted::from(member.name()),
                first: first.dir_shown(),
                second: member.dir_shown(),
            });
        }
        members.push(member);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, version: &str, dependencies: &[&str]) -> Member {
        let dependencies: Vec<String> = dependencies
            .iter()
            .map(|name| format!("\"{name}\": \"*\""))
            .collect();
        let text = format!(
            r#"{{"name":"{name}","version":"{version}","dependencies":{{{}}}}}"#,
            dependencies.join(",")
        );
        Member {
            manifest: Manifest::parse(Path::new("chuks.json"), &text).unwrap(),
            dir: name.to_string(),
            tag_prefix: None,
        }
    }

    fn workspace(members: Vec<Member>) -> Workspace {
        Workspace {
            root: PathBuf::from("."),
            members,
        }
    }

    fn names(workspace: &Workspace, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .map(|&i| workspace.members[i].name().to_string())
            .collect()
    }

    #[test]
    fn a_diamond_releases_each_package_after_what_it_depends_on() {
        let ws = workspace(vec![
            member("app", "1.0.0", &["left", "right"]),
            member("base", "1.0.0", &[]),
            member("left", "1.0.0", &["base"]),
            member("right", "1.0.0", &["base", "left-pad"]),
        ]);
        let order = ws.release_order().unwrap();
        assert_eq!(names(&ws, &order), ["base", "left", "right", "app"]);
    }

    #[test]
    fn a_release_outside_its_dependents_ranges_raises_them_and_releases_them_in_turn() {
        let mut ws = workspace(vec![
            member("app", "3.0.0", &["mid"]),
            member("base", "1.4.0", &[]),
            member("mid", "2.0.0", &["base"]),
            member("other", "1.0.0", &["base"]),
        ]);
        // `mid` needs base ^1.0.0 and app needs mid ~2.0.0; `other` takes any base.
        let ranges = [
            ("mid", "base", "^1.0.0"),
            ("app", "mid", "~2.0.0"),
            ("other", "base", "*"),
        ];
        for (name, dependency, range) in ranges {
            let member = ws.members.iter_mut().find(|m| m.name() == name).unwrap();
            member
                .manifest
                .dependencies
                .insert(dependency.into(), range.parse().unwrap());
            member.manifest.document["dependencies"][dependency] = range.into();
        }
        let base = ws.index_of("base").unwrap();
        let within = ws.dependents_of_release(base, &Version::new(1, 5, 0));
        assert!(within.is_empty());
        let releases = ws.dependents_of_release(base, &Version::new(2, 0, 0));
        // mid 2.0.1 is still within app's ~2.0.0: app is left alone.
        assert_eq!(releases.len(), 1);
        assert_eq!(ws.members[releases[0].index].name(), "mid");
        assert_eq!(releases[0].to.to_string(), "2.0.1");
        assert_eq!(
            releases[0].ranges,
            vec![("base".to_string(), "^2.0.0".to_string())]
        );
        let mid = ws.index_of("mid").unwrap();
        let releases = ws.dependents_of_release(mid, &Version::new(2, 1, 0));
        assert_eq!(releases.len(), 1);
        assert_eq!(
            releases[0].ranges,
            vec![("mid".to_string(), "~2.1.0".to_string())]
        );
        assert_eq!(releases[0].to.to_string(), "3.0.1");
    }

    #[test]
    fn a_cycle_is_named_in_full() {
        let ws = workspace(vec![
            member("a", "1.0.0", &["b"]),
            member("b", "1.0.0", &["c"]),
            member("c", "1.0.0", &["a"]),
            member("d", "1.0.0", &[]),
        ]);
        let err = ws.release_order().unwrap_err();
        assert_eq!(
            err.to_string().lines().next().unwrap(),
            "the workspace's dependencies form a cycle: `a` → `b` → `c` → `a`"
        );
    }

    #[test]
    fn a_package_tag_names_its_package_unless_the_workspace_has_one() {
        let maths = member("@acme/maths", "1.2.0", &[]);
        let tags = ["v1.2.0".to_string(), "@acme/maths@1.2.0".to_string()];
        assert_eq!(maths.release_tag(&tags, false), Some(&tags[1]));
        assert_eq!(maths.release_tag(&tags[..1], false), None);
        assert_eq!(maths.release_tag(&tags[..1], true), Some(&tags[0]));
        let slash = ["@acme/maths/v1.2.0".to_string()];
        assert_eq!(maths.release_tag(&slash, false), Some(&slash[0]));
        // Another version's tag still names the package, so its check reports the mismatch.
        let older = [
            "@acme/maths@1.1.0".to_string(),
            "@acme/mathsx@1.2.0".to_string(),
        ];
        assert_eq!(maths.release_tag(&older, false), Some(&older[0]));
        assert_eq!(maths.release_tag(&older[1..], false), None);
    }

    #[test]
    fn a_tag_prefix_is_the_only_form_of_its_package() {
        let mut cli = member("cli", "0.3.0", &[]);
        cli.tag_prefix = Some("cli-v".into());
        let tags = ["cli@0.3.0".to_string(), "cli-v0.3.0".to_string()];
        assert_eq!(cli.release_tag(&tags, false), Some(&tags[1]));
        assert_eq!(cli.release_tag_name(), "cli-v0.3.0");
    }

    #[test]
    fn patterns_name_folders_and_stay_in_the_repository() {
        let tracked = [
            "chuks.json".to_string(),
            "packages/a/chuks.json".to_string(),
            "packages/b/chuks.json".to_string(),
            "packages/b/nested/chuks.json".to_string(),
        ];
        let dirs = matching_dirs(&tracked, &["packages/*".into()]).unwrap();
        assert_eq!(dirs, ["packages/a", "packages/b"]);
        let dirs = matching_dirs(&tracked, &[".".into(), "packages/b".into()]).unwrap();
        assert_eq!(dirs, ["", "packages/b"]);
        for pattern in ["../x", "/etc", "packages/../../x"] {
            assert!(matches!(
                matching_dirs(&tracked, &[pattern.into()]),
                Err(WorkspaceError::BadPattern { .. })
            ));
        }
        assert!(matches!(
            matching_dirs(&tracked, &["tools/*".into()]),
            Err(WorkspaceError::NothingMatched { .. })
        ));
    }

    #[test]
    fn installed_dependencies_are_not_members() {
        assert!(is_installed("app/chuks_packages/di/chuks.json"));
        assert!(!is_installed("packages/chuks_packages_docs/chuks.json"));
    }
}
