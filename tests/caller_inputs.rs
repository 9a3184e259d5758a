//! Every input a caller passes to a chuks-ci integration is one the integration defines: the
//! files `init` writes, the committed examples and migrations, the YAML in the docs, and the
//! reusable workflow's own call of the action. What is defined is read from the rendered action,
//! reusable workflow, GitLab component and template and Bitbucket pipe (all rendered from
//! src/pipelines/options.toml), so renaming an input there fails here until every caller follows.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chuks_ci::pipelines;
use tempfile::TempDir;
use yaml_rust2::{Yaml, YamlLoader};

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What callers may pass, per integration.
struct Defined {
    action: BTreeSet<String>,
    reusable_inputs: BTreeSet<String>,
    reusable_secrets: BTreeSet<String>,
    component: BTreeSet<String>,
    classic_variables: BTreeSet<String>,
    pipe_variables: BTreeSet<String>,
}

fn rendered(relative: &str) -> Vec<Yaml> {
    let (_, text) = pipelines::all_rendered()
        .unwrap()
        .into_iter()
        .find(|(path, _)| path == Path::new(relative))
        .unwrap_or_else(|| panic!("{relative} is not rendered"));
    YamlLoader::load_from_str(&text).unwrap()
}

fn keys(node: &Yaml) -> BTreeSet<String> {
    node.as_hash()
        .map(|hash| {
            hash.keys()
                .filter_map(|key| key.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Defined {
    fn load() -> Defined {
        let reusable = &rendered(".github/workflows/publish.yml")[0]["on"]["workflow_call"];
        let classic = &rendered("templates/gitlab/chuks-publish.gitlab-ci.yml")[0];
        let pipe = &rendered("templates/bitbucket/pipe/pipe.yml")[0];
        let defined = Defined {
            action: keys(&rendered("action.yml")[0]["inputs"]),
            reusable_inputs: keys(&reusable["inputs"]),
            reusable_secrets: keys(&reusable["secrets"]),
            component: keys(&rendered("templates/chuks-publish/template.yml")[0]["spec"]["inputs"]),
            classic_variables: keys(&classic[".chuks-publish"]["variables"]),
            pipe_variables: pipe["variables"]
                .as_vec()
                .unwrap()
                .iter()
                .map(|variable| variable["name"].as_str().unwrap().to_string())
                .collect(),
        };
        for (what, names) in [
            ("action inputs", &defined.action),
            ("reusable workflow inputs", &defined.reusable_inputs),
            ("component inputs", &defined.component),
            ("classic template variables", &defined.classic_variables),
            ("pipe variables", &defined.pipe_variables),
        ] {
            assert!(names.len() > 5, "too few {what} read: {names:?}");
        }
        defined
    }
}

/// The calls found in one file and the names they pass that nothing defines.
#[derive(Default)]
struct Findings {
    calls: usize,
    unknown: Vec<String>,
}

impl Findings {
    fn check(&mut self, passed: &Yaml, defined: &BTreeSet<String>, what: &str) {
        self.calls += 1;
        for name in keys(passed) {
            if !defined.contains(&name) {
                self.unknown.push(format!(
                    "`{name}` passed to {what}, which defines {}",
                    defined.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }

    /// Visits every mapping of a document, checking the calls it recognises.
    fn walk(&mut self, node: &Yaml, defined: &Defined) {
        match node {
            Yaml::Array(items) => items.iter().for_each(|item| self.walk(item, defined)),
            Yaml::Hash(hash) => {
                self.check_call(node, defined);
                hash.values().for_each(|value| self.walk(value, defined));
            }
            _ => {}
        }
    }

    fn check_call(&mut self, node: &Yaml, defined: &Defined) {
        let text = |key: &str| node[key].as_str().unwrap_or_default();
        let uses = text("uses");
        if uses.starts_with(&format!("{}@", pipelines::REUSABLE_WORKFLOW)) {
            self.check(
                &node["with"],
                &defined.reusable_inputs,
                "the reusable workflow",
            );
            self.check(
                &node["secrets"],
                &defined.reusable_secrets,
                "the reusable workflow's secrets",
            );
        } else if uses.starts_with(&format!("{}@", pipelines::ACTION_REPOSITORY)) {
            self.check(&node["with"], &defined.action, "the action");
        }
        if text("component").starts_with("gitlab.com/chuks/publish-action/chuks-publish@") {
            self.check(&node["inputs"], &defined.component, "the GitLab component");
        }
        if text("extends") == ".chuks-publish" {
            let variables: Yaml = Yaml::Hash(
                node["variables"]
                    .as_hash()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(key, _)| key.as_str().is_some_and(|k| k.starts_with("CHUKS_")))
                    .collect(),
            );
            self.check(
                &variables,
                &defined.classic_variables,
                "the GitLab template `.chuks-publish`",
            );
        }
        let pipe = text("pipe");
        if pipe
            .trim_start_matches("docker://")
            .starts_with(pipelines::PIPE_IMAGE)
        {
            self.check(
                &node["variables"],
                &defined.pipe_variables,
                "the Bitbucket pipe",
            );
        }
    }
}

/// The YAML blocks of a Markdown file.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![
        repo_root().join("README.md"),
        repo_root().join("ci-examples/README.md"),
    ];
    let mut folders = vec![repo_root().join("docs")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files
}

fn files_in(folder: &str, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Checks one file's documents; returns how many calls it makes.
fn check_file(name: &str, text: &str, defined: &Defined, problems: &mut Vec<String>) -> usize {
    let documents =
        YamlLoader::load_from_str(text).unwrap_or_else(|err| panic!("{name} is not YAML: {err}"));
    let mut findings = Findings::default();
    for document in &documents {
        findings.walk(document, defined);
    }
    problems.extend(
        findings
            .unknown
            .iter()
            .map(|problem| format!("{name}: {problem}")),
    );
    findings.calls
}

#[test]
fn every_input_a_caller_passes_is_defined_by_what_it_calls() {
    let defined = Defined::load();
    let mut problems = Vec::new();
    let mut uncalled = Vec::new();
    let mut check = |name: String, text: &str, must_call: bool| {
        let calls = check_file(&name, text, &defined, &mut problems);
        if must_call && calls == 0 {
            uncalled.push(name);
        }
    };

    // What `init` writes, as a maintainer runs it.
    let home = TempDir::new().unwrap();
    for platform in pipelines::Ci::ALL {
        for example in pipelines::Example::ALL {
            let dir = TempDir::new().unwrap();
            let output = common::chuks_ci(home.path())
                .env("GITHUB_API_URL", "http://127.0.0.1:9")
                .args([
                    "init",
                    platform.name(),
                    "--example",
                    example.name(),
                    "--dir",
                ])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            let written = std::fs::read_to_string(dir.path().join(platform.target_path())).unwrap();
            // The Bitbucket single-package step reads repository variables: it calls nothing.
            let calls_something = !(platform == pipelines::Ci::Bitbucket
                && example == pipelines::Example::SinglePackage);
            check(
                format!("`init {} --example {}`", platform.name(), example.name()),
                &written,
                calls_something,
            );
        }
    }
    // The committed files, rendered or written by hand.
    for (path, text) in pipelines::all_rendered().unwrap() {
        let name = path.to_string_lossy().into_owned();
        if name.ends_with(".yml") {
            let calls_the_action = name == ".github/workflows/publish.yml";
            check(name, &text, calls_the_action);
        }
    }
    for path in files_in("docs/migrating", ".yml") {
        let text = std::fs::read_to_string(&path).unwrap();
        check(path.to_string_lossy().into_owned(), &text, true);
    }
    for path in markdown_files() {
        let markdown = std::fs::read_to_string(&path).unwrap();
        for (index, block) in yaml_blocks(&markdown).iter().enumerate() {
            check(
                format!("{} (YAML block {})", path.to_string_lossy(), index + 1),
                block,
                false,
            );
        }
    }

    assert!(
        uncalled.is_empty(),
        "no call of a chuks-ci integration recognised in: {uncalled:?}"
    );
    assert!(
        problems.is_empty(),
        "inputs that nothing defines:\n{}",
        problems.join("\n")
    );
}
