//! Release results written where each CI reads them: `GITHUB_OUTPUT`, the GitHub step summary,
//! and a dotenv file for GitLab's `artifacts: reports: dotenv`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

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
            let name = format!("`{}`", path.display());
            attempt(name, std::fs::write(path, dotenv(pairs)));
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

/// A markdown table for `GITHUB_STEP_SUMMARY`.
fn step_summary(pairs: &Pairs, title: &str) -> String {
    let mut text = format!("### {title}\n\n| | |\n| --- | --- |\n");
    for (key, value) in pairs {
        let cell = single_line(value).replace('|', "\\|");
        text.push_str(&format!("| {key} | `{cell}` |\n"));
    }
    text.push('\n');
    text
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

/// Output values are single-line by construction; this guards the file formats anyway.
/// Output values are single-line by construction; this guards the file formats anyway, and masks
/// a token someone pasted where a tag goes: these files outlive the job.
fn single_line(value: &str) -> String {
    crate::redact::redact(value).replace(['\r', '\n'], " ")
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
                .contains("| result | `unchanged` |")
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
