//! Release results written where each CI reads them: `GITHUB_OUTPUT`, the GitHub step summary,
//! and a dotenv file for GitLab's `artifacts: reports: dotenv`.
//!
//! Values (a tag, a name) can come from outside: each is written as [`Untrusted`] text, on one
//! line, with tokens masked; the step summary also HTML-escapes its cells.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::untrusted::Untrusted;

/// Ordered key/value results of a command, e.g. `name`, `version`, `result`.
pub type Pairs = [(&'static str, String)];

/// The output files of this run: the ones the CI names, and a dotenv file if asked for.
#[derive(Debug, Default)]
pub struct Sinks {
    github_output: Option<PathBuf>,
    step_summary: Option<PathBuf>,
    dotenv: Option<PathBuf>,
}

impl Sinks {
    /// `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` when set, and `dotenv`.
    pub fn from_env(dotenv: Option<&Path>) -> Sinks {
        let path = |name| {
            std::env::var_os(name)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        };
        Sinks {
            github_output: path("GITHUB_OUTPUT"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
            dotenv: dotenv.map(Path::to_path_buf),
        }
    }

    /// Writes `pairs` to every sink; returns what could not be written, one line each.
    pub fn write(&self, pairs: &Pairs, summary_title: &str) -> Vec<String> {
        let mut failures = Vec::new();
        let mut attempt = |name: String, result: std::io::Result<()>| {
            if let Err(err) = result {
                failures.push(format!("{name}: {err}"));
            }
        };
        if let Some(path) = &self.github_output {
            attempt(
                "`GITHUB_OUTPUT`".into(),
                append(path, &github_output(pairs)),
            );
        }
        if let Some(path) = &self.step_summary {
            let table = step_summary(pairs, summary_title);
            attempt("`GITHUB_STEP_SUMMARY`".into(), append(path, &table));
        }
        if let Some(path) = &self.dotenv {
            let name = format!("`{}`", Untrusted::path(path));
            attempt(name, write_not_through_a_link(path, &dotenv(pairs)));
        }
        failures
    }
}

/// `key=value` lines, as `GITHUB_OUTPUT` takes them.
fn github_output(pairs: &Pairs) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}\n", single_line(value)))
        .collect()
}

/// A markdown table for `GITHUB_STEP_SUMMARY`; each value in a `<code>` element, HTML-escaped,
/// so a backtick or a `|` in a tag cannot end the code span or the cell.
fn step_summary(pairs: &Pairs, title: &str) -> String {
    let mut text = format!("### {title}\n\n| | |\n| --- | --- |\n");
    for (key, value) in pairs {
        let cell = html_escape(&single_line(value));
        text.push_str(&format!("| {key} | <code>{cell}</code> |\n"));
    }
    text.push('\n');
    text
}

/// Text safe inside an HTML element of a markdown table cell.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '`' => escaped.push_str("&#96;"),
            '|' => escaped.push_str("&#124;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `CHUKS_<KEY>=value` lines, the dotenv format GitLab reads.
fn dotenv(pairs: &Pairs) -> String {
    pairs
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
fn single_line(value: &str) -> String {
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

    #[test]
    fn writes_each_format() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = [
            ("name", "@chuks/numpy".to_string()),
            ("result", "unchanged".to_string()),
        ];
        let sinks = Sinks {
            github_output: Some(dir.path().join("out")),
            step_summary: Some(dir.path().join("summary")),
            dotenv: Some(dir.path().join("env")),
        };
        assert!(sinks.write(&pairs, "Published").is_empty());
        assert!(sinks.write(&pairs, "Published").is_empty());
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
        let sinks = Sinks {
            github_output: Some(dir.path().join("out")),
            step_summary: Some(dir.path().join("summary")),
            dotenv: Some(dir.path().join("env")),
        };
        let canary = format!("chuks_pk_{}", "Q".repeat(40));
        assert!(
            sinks
                .write(&[("tag", format!("v{canary}"))], "t")
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
        let sinks = Sinks {
            github_output: Some(dir.path().join("out")),
            step_summary: Some(dir.path().join("summary")),
            dotenv: Some(dir.path().join("env")),
        };
        let tag = "v1`<b>|x\nresult=published\r::add-mask::\u{202e}\u{1b}[2J##[error]";
        assert!(sinks.write(&[("tag", tag.to_string())], "t").is_empty());
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
        let sinks = Sinks {
            dotenv: Some(link),
            ..Sinks::default()
        };
        let failures = sinks.write(&[("name", "di".to_string())], "t");
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("symbolic link"), "{failures:?}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    }

    #[test]
    fn a_sink_that_cannot_be_written_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = Sinks {
            dotenv: Some(dir.path().join("missing/env")),
            ..Sinks::default()
        };
        let failures = sinks.write(&[("name", "di".to_string())], "t");
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("missing/env"), "{failures:?}");
    }
}
