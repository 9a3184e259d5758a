//! Release results written where the CIs read them: the files each provider names (GitHub's
//! `GITHUB_OUTPUT` and step summary), and a dotenv file (`--dotenv`) for GitLab's
//! `artifacts: reports: dotenv` and Bitbucket's artifacts.
//!
//! Values (a tag, a name) can come from outside: each is written as [`Untrusted`] text, on one
//! line, with tokens masked.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::PROVIDERS;
use crate::untrusted::Untrusted;

/// Ordered key/value results of a command, e.g. `name`, `version`, `result`.
pub type Pairs = [(&'static str, String)];

/// A command's results as the output files take them: key/value pairs and, for a run of several
/// packages, a table with one row per package, which a summary shows and the other files leave
/// to the pairs.
pub struct Results<'a> {
    pub pairs: &'a Pairs,
    pub table: Option<Table<'a>>,
}

/// Rows of values under named columns; an empty value is unknown.
pub struct Table<'a> {
    pub columns: &'a [&'static str],
    pub rows: &'a [Vec<String>],
}

impl<'a> Results<'a> {
    /// Results that are pairs only.
    pub fn pairs(pairs: &'a Pairs) -> Results<'a> {
        Results { pairs, table: None }
    }
}

/// Renders results in a file's format; the second argument is a title for formats that show one.
pub type Render = fn(&Results, &str) -> String;

/// One file results are written to.
#[derive(Debug, Clone)]
pub struct OutputFile {
    /// How messages name it: `` `GITHUB_OUTPUT` ``.
    pub name: String,
    pub path: PathBuf,
    pub render: Render,
    pub write: Write,
}

/// How an output file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Added to: a CI's file that collects every step's results.
    Append,
    /// Replaced, never through a symlink: the file the user names.
    Replace,
}

/// The output files of this run: the ones the CIs name, and a dotenv file if asked for.
#[derive(Debug)]
pub struct Sinks {
    files: Vec<OutputFile>,
}

impl Sinks {
    /// The files any provider names in the environment, then `dotenv`.
    pub fn from_env(dotenv: Option<&Path>) -> Sinks {
        Sinks::from_vars(&super::env_var, dotenv)
    }

    fn from_vars(var: super::Var, dotenv: Option<&Path>) -> Sinks {
        let mut files: Vec<OutputFile> = PROVIDERS
            .iter()
            .flat_map(|provider| provider.output_files(var))
            .collect();
        files.extend(dotenv.map(|path| OutputFile {
            name: format!("`{}`", Untrusted::path(path)),
            path: path.to_path_buf(),
            render: dotenv_lines,
            write: Write::Replace,
        }));
        Sinks { files }
    }

    /// Writes `results` to every sink; returns what could not be written, one line each.
    pub fn write(&self, results: &Results, summary_title: &str) -> Vec<String> {
        let mut failures = Vec::new();
        for file in &self.files {
            let text = (file.render)(results, summary_title);
            let written = match file.write {
                Write::Append => append(&file.path, &text),
                Write::Replace => write_not_through_a_link(&file.path, &text),
            };
            if let Err(err) = written {
                failures.push(format!("{}: {err}", file.name));
            }
        }
        failures
    }
}

/// `CHUKS_<KEY>=value` lines, the dotenv format GitLab reads.
fn dotenv_lines(results: &Results, _title: &str) -> String {
    results
        .pairs
        .iter()
        .map(|(key, value)| format!("{}={}\n", dotenv_key(key), single_line(value)))
        .collect()
}

/// The dotenv variable name for an output key: `sha256` → `CHUKS_SHA256`.
fn dotenv_key(key: &str) -> String {
    format!("CHUKS_{}", key.to_ascii_uppercase())
}

/// A value as these files hold it: escaped as untrusted text (one line, no control or format
/// characters, no workflow command), with a token someone pasted where a tag goes masked: these
/// files outlive the job.
pub fn single_line(value: &str) -> String {
    Untrusted::from(crate::redact::redact(value).into_owned()).to_string()
}

/// Replaces the file at `path`, refusing to follow a symlink there: a checkout can hold a link
/// named like the dotenv file that points at a file the job must not overwrite.
fn write_not_through_a_link(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err(std::io::Error::other(
            "it is a symbolic link; chuks-ci does not write through links",
        ));
    }
    options.open(path)?.write_all(text.as_bytes())
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GitHub job's output files (`out`, `summary`) and a dotenv file (`env`), all in `dir`.
    fn every_sink_in(dir: &Path) -> Sinks {
        let var = |name: &str| {
            let file = match name {
                "GITHUB_OUTPUT" => "out",
                "GITHUB_STEP_SUMMARY" => "summary",
                _ => return None,
            };
            Some(dir.join(file).to_string_lossy().into_owned())
        };
        Sinks::from_vars(&var, Some(&dir.join("env")))
    }

    #[test]
    fn writes_each_format() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = [
            ("name", "@chuks/numpy".to_string()),
            ("result", "unchanged".to_string()),
        ];
        let sinks = every_sink_in(dir.path());
        let results = Results::pairs(&pairs);
        assert!(sinks.write(&results, "Published").is_empty());
        assert!(sinks.write(&results, "Published").is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out")).unwrap(),
            "name=@chuks/numpy\nresult=unchanged\nname=@chuks/numpy\nresult=unchanged\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("env")).unwrap(),
            "CHUKS_NAME=@chuks/numpy\nCHUKS_RESULT=unchanged\n"
        );
        assert!(
            std::fs::read_to_string(dir.path().join("summary"))
                .unwrap()
                .contains("| result | <code>unchanged</code> |")
        );
    }

    #[test]
    fn a_token_in_a_value_is_masked_in_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = every_sink_in(dir.path());
        let canary = format!("chuks_pk_{}", "Q".repeat(40));
        assert!(
            sinks
                .write(&Results::pairs(&[("tag", format!("v{canary}"))]), "t")
                .is_empty()
        );
        for file in ["out", "summary", "env"] {
            let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
            assert!(!text.contains(&canary), "{file}: {text}");
            assert!(text.contains("chuks_pk_****"), "{file}: {text}");
        }
    }

    #[test]
    fn outside_text_is_escaped_in_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = every_sink_in(dir.path());
        let tag = "v1`<b>|x\nresult=published\r::add-mask::\u{202e}\u{1b}[2J##[error]";
        assert!(
            sinks
                .write(&Results::pairs(&[("tag", tag.to_string())]), "t")
                .is_empty()
        );
        for file in ["out", "summary", "env"] {
            let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
            let forged = text.lines().any(|line| line.starts_with("result="));
            assert!(
                !forged && !text.contains("::") && !text.contains("##["),
                "{file}: {text}"
            );
            assert!(
                !text.contains(['\u{202e}', '\u{1b}', '\r']),
                "{file}: {text}"
            );
        }
        let summary = std::fs::read_to_string(dir.path().join("summary")).unwrap();
        assert!(
            summary.contains("| tag | <code>v1&#96;&lt;b&gt;&#124;x\\nresult=published"),
            "{summary}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_dotenv_file_is_not_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("tracked.txt");
        std::fs::write(&target, "keep me\n").unwrap();
        let link = dir.path().join("chuks.env");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let sinks = Sinks::from_vars(&|_: &str| None, Some(&link));
        let failures = sinks.write(&Results::pairs(&[("name", "di".to_string())]), "t");
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("symbolic link"), "{failures:?}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    }

    #[test]
    fn a_sink_that_cannot_be_written_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = Sinks::from_vars(&|_: &str| None, Some(&dir.path().join("missing/env")));
        let failures = sinks.write(&Results::pairs(&[("name", "di".to_string())]), "t");
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("missing/env"), "{failures:?}");
    }
}
