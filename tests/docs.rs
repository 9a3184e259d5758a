//! The docs, followed literally: the README's quickstart prints what the README shows, the
//! rehearsal in docs/reference-registry.md publishes twice and ships nothing of the registry,
//! and every link between the pages leads somewhere.
#![cfg(unix)] // The rehearsal is a POSIX sh script.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{PackageRepo, git_in};
use tempfile::TempDir;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative)).unwrap()
}

/// The fenced block that follows the first `<!-- marker…` comment of `markdown`.
fn marked_block(markdown: &str, marker: &str) -> String {
    let comment = format!("<!-- {marker}");
    let mut lines = markdown
        .lines()
        .skip_while(|line| !line.starts_with(&comment));
    assert!(lines.next().is_some(), "no `{comment}` comment");
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "`{comment}` is not followed by a fenced block but by {fence:?}"
    );
    let block: Vec<&str> = lines.take_while(|line| !line.starts_with("```")).collect();
    block.join("\n") + "\n"
}

/// Whether `line` starts the way `shown` shows it, `…` standing for any text.
fn starts_like(line: &str, shown: &str) -> bool {
    let mut parts = shown.split('…');
    let Some(mut rest) = line.strip_prefix(parts.next().unwrap_or_default()) else {
        return false;
    };
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// PATH with the chuks-ci under test first.
fn path_with_chuks_ci() -> OsString {
    let binary = assert_cmd::cargo::cargo_bin("chuks-ci");
    let mut path = OsString::from(binary.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

#[test]
fn the_quickstart_prints_what_the_readme_shows_and_then_unchanged() {
    let readme = read("README.md");
    let command = marked_block(&readme, "quickstart:");
    let args = command
        .trim()
        .strip_prefix("cargo run -q -- ")
        .unwrap_or_else(|| panic!("the quickstart is not a `cargo run -q --` command: {command}"));
    let args = shlex::split(args).unwrap();
    let shown = marked_block(&readme, "quickstart output:");

    // A fresh clone, as far as the quickstart can tell: the example package in a git repository.
    let clone = TempDir::new().unwrap();
    let example = clone.path().join("ci-examples/hello");
    copy_folder(&repo_root().join("ci-examples/hello"), &example);
    git_in(clone.path(), &["init", "-q", "-b", "main"]);
    git_in(clone.path(), &["add", "-A"]);
    git_in(clone.path(), &["commit", "-q", "-m", "a clone"]);

    let run = || {
        let home = TempDir::new().unwrap();
        let output = common::chuks_ci(home.path())
            .args(&args)
            .current_dir(clone.path())
            .output()
            .unwrap();
        let (stdout, stderr) = common::outputs(&output);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        stdout
    };
    let first = run();
    let lines: Vec<&str> = first.lines().collect();
    assert!(lines.len() >= shown.lines().count(), "{first}");
    for (line, shown_line) in lines.iter().zip(shown.lines()) {
        assert!(
            starts_like(line, shown_line),
            "the README shows {shown_line:?} where the quickstart printed {line:?}:\n{first}"
        );
    }
    let again = run();
    assert!(
        again.starts_with("unchanged: hello 0.1.0"),
        "the README says a second run reports `unchanged`:\n{again}"
    );
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A sandbox for the rehearsal: HOME, TMPDIR and the folder holding the package are all in it,
/// so wherever the docs put the registry's data (`$TMPDIR/…`, `../…`, `./…`), it lands here.
struct Sandbox {
    dir: TempDir,
    package: PackageRepo,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = TempDir::new().unwrap();
        for folder in ["home", "tmp", "work"] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
        }
        let package = PackageRepo {
            dir: TempDir::new_in(dir.path().join("work")).unwrap(),
        };
        package.git(&["init", "-q", "-b", "main"]);
        package.write("chuks.json", &common::manifest_json("rehearsed", "1.0.0"));
        package.write(
            "src/index.chuks",
            "export function answer(): int { return 42 }\n",
        );
        package.commit("initial commit");
        package.push();
        package.tag("v1.0.0");
        Sandbox { dir, package }
    }

    /// Runs `script` with `sh -e` in the package, in a process group of its own; returns how it
    /// ended and what it printed. Whatever the script left running is killed, and reported.
    fn run(&self, script: &Path) -> (ExitStatus, String, bool) {
        let output = self.dir.path().join("output");
        let printing = std::fs::File::create(&output).unwrap();
        let child = Command::new("sh")
            .arg("-e")
            .arg(script)
            .current_dir(self.package.path())
            .env_clear()
            .env("PATH", path_with_chuks_ci())
            .env("HOME", self.dir.path().join("home"))
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(printing.try_clone().unwrap())
            .stderr(printing)
            .process_group(0)
            .spawn()
            .unwrap();
        let group = child.id();
        let status = wait_or_kill(child, group);
        let left_running = kill_group(group);
        let mut printed = String::new();
        std::fs::File::open(&output)
            .unwrap()
            .read_to_string(&mut printed)
            .unwrap();
        (status, printed, left_running)
    }

    /// Every registry database under the sandbox.
    fn databases(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut folders = vec![self.dir.path().to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    folders.push(entry.path());
                } else if entry.file_name() == "registry.sqlite3" {
                    found.push(entry.path());
                }
            }
        }
        found
    }
}

/// Waits for the script; one that hangs (a registry that never answers, say) is killed after
/// ten minutes, so the test fails instead of hanging.
fn wait_or_kill(mut child: Child, group: u32) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            kill_group(group);
            panic!("the rehearsal did not finish in ten minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills what is left of the process group; whether anything was.
fn kill_group(group: u32) -> bool {
    let group = -libc::pid_t::try_from(group).unwrap();
    // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory.
    let alive = unsafe { libc::kill(group, 0) } == 0;
    if alive {
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
    }
    alive
}

/// The paths inside every tarball stored in the registry whose database is `database`.
fn stored_tarballs(database: &Path) -> Vec<BTreeSet<String>> {
    let connection = rusqlite::Connection::open(database).unwrap();
    let mut statement = connection
        .prepare("SELECT blobs.bytes FROM versions JOIN blobs ON blobs.sha256 = versions.sha256")
        .unwrap();
    let tarballs: Vec<Vec<u8>> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tarballs
        .iter()
        .map(|bytes| {
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
            archive
                .entries()
                .unwrap()
                .map(|entry| {
                    let entry = entry.unwrap();
                    entry.path().unwrap().to_string_lossy().into_owned()
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_rehearsal_publishes_twice_and_ships_no_registry_file() {
    let rehearsal = marked_block(&read("docs/reference-registry.md"), "rehearsal:");
    let sandbox = Sandbox::new();
    let script = sandbox.dir.path().join("rehearsal.sh");
    std::fs::write(&script, &rehearsal).unwrap();

    for (run, result) in [
        (1, "published: rehearsed 1.0.0"),
        (2, "unchanged: rehearsed 1.0.0"),
    ] {
        let (status, printed, left_running) = sandbox.run(&script);
        assert!(
            status.success(),
            "run {run} of the rehearsal failed ({status}):\n{printed}"
        );
        assert!(
            printed.lines().any(|line| line.starts_with(result)),
            "run {run} of the rehearsal printed no `{result}`:\n{printed}"
        );
        assert!(
            !left_running,
            "run {run} of the rehearsal left its registry running:\n{printed}"
        );
    }

    let databases = sandbox.databases();
    assert_eq!(databases.len(), 1, "one registry database: {databases:?}");
    let tracked: BTreeSet<String> = sandbox
        .package
        .git(&["ls-files"])
        .lines()
        .map(str::to_string)
        .collect();
    let tarballs = stored_tarballs(&databases[0]);
    assert_eq!(tarballs.len(), 1, "one version stored");
    let shipped_untracked: Vec<&String> = tarballs[0].difference(&tracked).collect();
    assert!(
        shipped_untracked.is_empty(),
        "the rehearsal shipped files that are not the package's: {shipped_untracked:?} \
         (the registry's data is at {})",
        databases[0].parent().unwrap().to_string_lossy()
    );
}

/// What a `uses:`, `component:` or `pipe:` line of a pipeline names, a pin by commit
/// (`name@<sha> # tag`) read as the tag it stands for.
fn reference(line: &str) -> Option<String> {
    let line = line.trim_start().trim_start_matches("- ");
    let value = ["uses:", "component:", "pipe:"]
        .iter()
        .find_map(|key| line.strip_prefix(key))?
        .trim();
    Some(match value.split_once(" # ") {
        Some((pinned, tag)) => {
            let name = pinned.split_once('@').map_or(pinned, |(name, _)| name);
            format!("{name}@{}", tag.trim())
        }
        None => value.to_string(),
    })
}

/// The lines of a Markdown file's YAML blocks.
fn yaml_lines(markdown: &str) -> Vec<&str> {
    let mut in_yaml = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_yaml = line == "```yaml";
        } else if in_yaml {
            lines.push(line);
        }
    }
    lines
}

#[test]
fn the_readme_snippets_name_what_the_committed_examples_name() {
    let mut named_by_examples = BTreeSet::new();
    for platform in ["github", "gitlab", "bitbucket"] {
        let folder = repo_root().join("ci-examples").join(platform);
        for entry in std::fs::read_dir(folder).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            named_by_examples.extend(text.lines().filter_map(reference));
        }
    }
    let readme = read("README.md");
    let named_by_readme: Vec<String> = yaml_lines(&readme)
        .into_iter()
        .filter_map(reference)
        .collect();
    assert!(named_by_readme.len() >= 4, "{named_by_readme:?}");
    let unknown: Vec<&String> = named_by_readme
        .iter()
        .filter(|name| !named_by_examples.contains(*name))
        .collect();
    assert!(
        unknown.is_empty(),
        "the README names {unknown:?}, which no example in ci-examples/ names (they name \
         {named_by_examples:?}); `chuks-ci maintain examples --check` keeps the examples current"
    );
}

/// The relative links of a Markdown file: (target file, anchor).
fn links(markdown: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = markdown;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((file, anchor)) => (file, Some(anchor.to_string())),
            None => (target, None),
        };
        found.push((file.to_string(), anchor));
    }
    found
}

/// GitHub's anchor for a heading: lowercase, punctuation other than `-` and `_` dropped,
/// spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_fence = false;
    let mut found = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

fn doc_pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(repo_root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_link_between_the_pages_leads_to_a_file_and_a_heading() {
    let mut broken = Vec::new();
    for page in std::iter::once("README.md".to_string()).chain(doc_pages()) {
        let folder = repo_root().join(&page).parent().unwrap().to_path_buf();
        for (file, anchor) in links(&read(&page)) {
            let target = if file.is_empty() {
                repo_root().join(&page)
            } else {
                folder.join(&file)
            };
            if !target.exists() {
                broken.push(format!("{page}: `{file}` does not exist"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            let is_markdown = target.extension().is_some_and(|e| e == "md");
            if is_markdown && !anchors(&std::fs::read_to_string(&target).unwrap()).contains(&anchor)
            {
                broken.push(format!("{page}: `{file}` has no heading `#{anchor}`"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_links_every_page_in_docs() {
    let linked: BTreeSet<String> = links(&read("README.md"))
        .into_iter()
        .map(|(file, _)| file)
        .collect();
    let unlinked: Vec<String> = doc_pages()
        .into_iter()
        .filter(|page| !linked.contains(page))
        .collect();
    assert!(
        unlinked.is_empty(),
        "pages the README does not link: {unlinked:?}"
    );
}

#[test]
fn starts_like_takes_the_ellipsis_for_any_text() {
    assert!(starts_like("published: a 1 at http://x", "published: a 1"));
    assert!(starts_like(
        "  sha256 ab, 5 bytes, by x",
        "  sha256 …, … bytes, by …"
    ));
    assert!(!starts_like("unchanged: a 1", "published: a 1"));
    assert!(!starts_like("  sha256 ab, 5 B", "  sha256 …, … bytes"));
}
