//! What a repository already has that `init` must respect: GitHub workflows that already publish
//! on tag pushes, and a native shim (a `shim/` cdylib crate) that calls for the prebuilt example.
//!
//! Everything read here is the repository's own text: each file is read up to [`MAX_FILE_BYTES`],
//! a YAML file is loaded only when its size with every alias expanded stays under
//! [`MAX_YAML_NODES`] nodes [`MAX_YAML_DEPTH`] deep, and names from it are held as [`Untrusted`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::{Yaml, YamlLoader};

use crate::untrusted::Untrusted;

/// The most of one file that is read.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// The most nodes a workflow may hold with its aliases expanded.
const MAX_YAML_NODES: usize = 100_000;
/// The deepest nesting a workflow may have.
const MAX_YAML_DEPTH: usize = 64;
/// Where GitHub reads workflows from.
pub const WORKFLOWS: &str = ".github/workflows";

/// A workflow that publishes Chuks packages when tags are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPublisher {
    /// Relative to the repository root.
    pub path: PathBuf,
    /// The tag patterns that start it; `*` when every tag does.
    pub tags: Vec<Untrusted>,
    /// The jobs that publish, in file order.
    pub publishing_jobs: Vec<Untrusted>,
    /// The jobs that only publishing jobs (or other such jobs) need, in file order.
    pub helper_jobs: Vec<Untrusted>,
    /// Whether the workflow holds nothing else.
    pub whole_file: bool,
}

/// A workflow file that could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub path: PathBuf,
    pub reason: String,
}

/// The workflows under `.github/workflows` that publish on tags, except `skip` (relative).
pub fn tag_publishers(root: &Path, skip: &Path) -> (Vec<TagPublisher>, Vec<Unread>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(WORKFLOWS))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| Path::new(WORKFLOWS).join(entry.file_name()))
        .filter(|path| path.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .filter(|path| path != skip)
        .collect();
    files.sort();
    let mut publishers = Vec::new();
    let mut unread = Vec::new();
    for path in files {
        match read_yaml(&root.join(&path)) {
            Ok(workflow) => publishers.extend(tag_publisher(path, &workflow)),
            Err(reason) => unread.push(Unread { path, reason }),
        }
    }
    (publishers, unread)
}

/// The workflow as a publisher, when tag pushes start it and one of its jobs publishes.
fn tag_publisher(path: PathBuf, workflow: &Yaml) -> Option<TagPublisher> {
    let tags = tag_triggers(&workflow["on"])?;
    let jobs = workflow["jobs"].as_hash()?;
    let names: Vec<&str> = jobs.keys().filter_map(Yaml::as_str).collect();
    let publishing: BTreeSet<&str> = names
        .iter()
        .copied()
        .filter(|name| publishes(&workflow["jobs"][*name]))
        .collect();
    if publishing.is_empty() {
        return None;
    }
    // In a workflow that only releases, the jobs only the publishers need go with them (`setup`
    // resolving the CLI version); one that also runs on branches keeps its other jobs.
    let helpers = if releases_only(&workflow["on"]) {
        helpers_of(&publishing, &names, &dependents(workflow, &names))
    } else {
        BTreeSet::new()
    };
    let in_order = |set: &BTreeSet<&str>| -> Vec<Untrusted> {
        names
            .iter()
            .filter(|name| set.contains(*name))
            .map(|name| Untrusted::new(*name))
            .collect()
    };
    Some(TagPublisher {
        path,
        tags: tags.into_iter().map(Untrusted::new).collect(),
        publishing_jobs: in_order(&publishing),
        helper_jobs: in_order(&helpers),
        whole_file: publishing.len() + helpers.len() == names.len(),
    })
}

/// The jobs that only `publishing` jobs need, directly or through one another.
fn helpers_of<'a>(
    publishing: &BTreeSet<&'a str>,
    names: &[&'a str],
    needed_by: &HashMap<&'a str, Vec<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut removable = publishing.clone();
    loop {
        let more: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !removable.contains(name))
            .filter(|name| {
                needed_by
                    .get(name)
                    .is_some_and(|users| users.iter().all(|user| removable.contains(user)))
            })
            .collect();
        if more.is_empty() {
            return removable.difference(publishing).copied().collect();
        }
        removable.extend(more);
    }
}

/// Whether the workflow runs on tag pushes and by hand only.
fn releases_only(on: &Yaml) -> bool {
    let Some(events) = on.as_hash() else {
        return false;
    };
    let push = &on["push"];
    events
        .keys()
        .all(|event| matches!(event.as_str(), Some("push" | "workflow_dispatch")))
        && !push["tags"].is_badvalue()
        && push["branches"].is_badvalue()
        && push["branches-ignore"].is_badvalue()
}

/// The tag patterns of the `push` trigger; `None` when tag pushes do not start the workflow.
fn tag_triggers(on: &Yaml) -> Option<Vec<String>> {
    let every_tag = || Some(vec!["*".to_string()]);
    match on {
        Yaml::String(event) if event == "push" => every_tag(),
        Yaml::Array(events) if events.iter().any(|e| e.as_str() == Some("push")) => every_tag(),
        Yaml::Hash(events) => {
            let push = events.get(&Yaml::String("push".into()))?;
            let filter = |key: &str| !push[key].is_badvalue();
            if filter("tags") {
                Some(strings(&push["tags"]))
            } else if filter("tags-ignore") || !(filter("branches") || filter("branches-ignore")) {
                every_tag()
            } else {
                None
            }
        }
        _ => None,
    }
}

fn strings(node: &Yaml) -> Vec<String> {
    match node {
        Yaml::Array(items) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        Yaml::String(item) => vec![item.clone()],
        _ => Vec::new(),
    }
}

/// For each job, the jobs that list it in `needs`.
fn dependents<'a>(workflow: &'a Yaml, names: &[&'a str]) -> HashMap<&'a str, Vec<&'a str>> {
    let mut needed_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for user in names {
        for need in strings(&workflow["jobs"][*user]["needs"]) {
            if let Some(need) = names.iter().find(|name| **name == need) {
                needed_by.entry(need).or_default().push(user);
            }
        }
    }
    needed_by
}

/// Whether a job publishes a Chuks package: it calls chuks-ci's action or reusable workflow, or
/// shim-publish-action's, or runs `chuks publish` or `chuks-ci publish`.
fn publishes(job: &Yaml) -> bool {
    let calls_a_publisher = |uses: &str| {
        uses.starts_with(super::ACTION_REPOSITORY) || uses.contains("/shim-publish-action/")
    };
    if job["uses"].as_str().is_some_and(calls_a_publisher) {
        return true;
    }
    job["steps"].as_vec().into_iter().flatten().any(|step| {
        step["uses"].as_str().is_some_and(calls_a_publisher)
            || step["run"].as_str().is_some_and(runs_publish)
    })
}

/// Whether a script runs `chuks publish` (the official CLI, by any path) or `chuks-ci publish`.
fn runs_publish(script: &str) -> bool {
    let words: Vec<&str> = script
        .split_whitespace()
        .map(|word| word.trim_matches(['"', '\'']))
        .collect();
    words.windows(2).any(|pair| {
        let program = pair[0].rsplit('/').next().unwrap_or_default();
        matches!(program, "chuks" | "chuks-ci") && pair[1] == "publish"
    })
}

/// A native shim that the prebuilt example builds: the cdylib crate in `shim/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimCrate {
    /// The library's name as cargo writes its file (`lib<name>.so`), when it is a plain
    /// identifier.
    pub library: Option<String>,
}

/// The crate `shim/Cargo.toml` describes, when it builds a cdylib.
pub fn shim_crate(root: &Path) -> Option<ShimCrate> {
    let text = read_text(&root.join("shim/Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    let lib = manifest.get("lib")?;
    let cdylib = lib
        .get("crate-type")?
        .as_array()?
        .iter()
        .any(|kind| kind.as_str() == Some("cdylib"));
    if !cdylib {
        return None;
    }
    let name = lib
        .get("name")
        .or_else(|| manifest.get("package")?.get("name"))
        .and_then(toml::Value::as_str)
        .map(|name| name.replace('-', "_"));
    let library = name.filter(|name| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    Some(ShimCrate { library })
}

fn read_text(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|err| err.to_string())?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|err| err.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {} KiB", MAX_FILE_BYTES >> 10));
    }
    Ok(text)
}

/// The first YAML document of a file, loaded once its expanded size is known to be bounded.
fn read_yaml(path: &Path) -> Result<Yaml, String> {
    let text = read_text(path)?;
    let mut size = ExpandedSize::default();
    Parser::new_from_str(&text)
        .load(&mut size, true)
        .map_err(|err| format!("not YAML: {err}"))?;
    if size.nodes > MAX_YAML_NODES || size.deepest > MAX_YAML_DEPTH {
        return Err(format!(
            "more than {MAX_YAML_NODES} nodes or {MAX_YAML_DEPTH} levels once its aliases are expanded"
        ));
    }
    YamlLoader::load_from_str(&text)
        .map_err(|err| format!("not YAML: {err}"))?
        .into_iter()
        .next()
        .ok_or_else(|| "empty".to_string())
}

/// Counts the nodes and depth a document has once its aliases are expanded, without expanding
/// them: an alias adds the size its anchor's node had.
#[derive(Default)]
struct ExpandedSize {
    /// Open collections: their anchor, nodes so far, and depth below them.
    open: Vec<(usize, usize, usize)>,
    /// Anchored nodes' sizes and depths.
    anchors: BTreeMap<usize, (usize, usize)>,
    nodes: usize,
    deepest: usize,
}

impl ExpandedSize {
    fn add(&mut self, anchor: usize, nodes: usize, depth: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (nodes, depth));
        }
        match self.open.last_mut() {
            Some((_, parent_nodes, parent_depth)) => {
                *parent_nodes = parent_nodes.saturating_add(nodes);
                *parent_depth = (*parent_depth).max(depth.saturating_add(1));
            }
            None => {
                self.nodes = self.nodes.saturating_add(nodes);
                self.deepest = self.deepest.max(depth);
            }
        }
    }
}

impl MarkedEventReceiver for ExpandedSize {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::Scalar(_, _, anchor, _) => self.add(anchor, 1, 0),
            Event::Alias(anchor) => {
                let (nodes, depth) = self.anchors.get(&anchor).copied().unwrap_or((1, 0));
                self.add(0, nodes, depth);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.open.push((anchor, 1, 0));
                self.deepest = self.deepest.max(self.open.len());
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, nodes, depth)) = self.open.pop() {
                    self.add(anchor, nodes, depth);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher(yaml: &str) -> Option<TagPublisher> {
        let workflow = YamlLoader::load_from_str(yaml).unwrap().remove(0);
        tag_publisher(PathBuf::from("w.yml"), &workflow)
    }

    fn names(list: &[Untrusted]) -> Vec<&str> {
        list.iter().map(Untrusted::unescaped).collect()
    }

    #[test]
    fn a_tag_triggered_job_running_chuks_publish_is_a_publisher_with_the_jobs_it_needs() {
        let found = publisher(
            "on:\n  push:\n    tags: [\"v*\"]\n  workflow_dispatch: {}\njobs:\n  setup:\n    runs-on: x\n    steps: [{run: echo}]\n  \
             test:\n    runs-on: x\n    steps: [{run: cargo test}]\n  publish:\n    needs: [setup, test]\n    runs-on: x\n    \
             steps:\n      - run: |\n          \"$HOME/chuks/bin/chuks\" publish 2>&1 | tee log\n",
        )
        .unwrap();
        assert_eq!(names(&found.tags), ["v*"]);
        assert_eq!(names(&found.publishing_jobs), ["publish"]);
        assert_eq!(names(&found.helper_jobs), ["setup", "test"]);
        assert!(found.whole_file);
    }

    #[test]
    fn jobs_that_serve_something_else_stay() {
        let found = publisher(
            "on: push\njobs:\n  lint:\n    runs-on: x\n    steps: [{run: make lint}]\n  release:\n    \
             uses: chuks-programming-language/shim-publish-action/.github/workflows/build.yml@v1\n",
        )
        .unwrap();
        assert_eq!(names(&found.tags), ["*"]);
        assert_eq!(names(&found.publishing_jobs), ["release"]);
        assert!(found.helper_jobs.is_empty());
        assert!(!found.whole_file);
    }

    #[test]
    fn branch_only_workflows_and_workflows_that_do_not_publish_are_not_publishers() {
        assert_eq!(
            publisher(
                "on:\n  push:\n    branches: [main]\njobs:\n  p:\n    steps: [{run: chuks publish}]\n"
            ),
            None
        );
        assert_eq!(
            publisher(
                "on:\n  push:\n    tags: [v*]\njobs:\n  p:\n    steps: [{run: echo chuks publishing}]\n"
            ),
            None
        );
        assert!(
            publisher("on: [push]\njobs:\n  p:\n    steps: [{uses: chuks/publish-action@v1}]\n")
                .is_some()
        );
    }

    #[test]
    fn a_workflow_that_expands_past_the_limit_is_not_loaded() {
        let dir = tempfile::TempDir::new().unwrap();
        // Seven levels of ten aliases each: ten million nodes once expanded.
        let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..7 {
            let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("l{level}: &l{level} [{aliases}]\n"));
        }
        let path = dir.path().join("bomb.yml");
        std::fs::write(&path, bomb).unwrap();
        assert!(
            read_yaml(&path)
                .unwrap_err()
                .contains("aliases are expanded")
        );

        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        std::fs::write(&path, deep).unwrap();
        assert!(read_yaml(&path).is_err());
    }

    #[test]
    fn a_shim_is_a_cdylib_crate_in_shim() {
        let dir = tempfile::TempDir::new().unwrap();
        assert_eq!(shim_crate(dir.path()), None);
        std::fs::create_dir(dir.path().join("shim")).unwrap();
        let manifest = dir.path().join("shim/Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname = \"numpy-shim\"\n[lib]\ncrate-type = [\"rlib\"]\n",
        )
        .unwrap();
        assert_eq!(shim_crate(dir.path()), None);
        std::fs::write(
            &manifest,
            "[package]\nname = \"numpy-shim\"\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        assert_eq!(
            shim_crate(dir.path()),
            Some(ShimCrate {
                library: Some("numpy_shim".into())
            })
        );
    }
}
