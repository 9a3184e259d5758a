//! Release results written where each CI reads them: `GITHUB_OUTPUT`, the GitHub step summary,
//! and a dotenv file for GitLab's `artifacts: reports: dotenv`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// Ordered key/value results of a command, e.g. `name`, `version`, `result`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outputs {
    pairs: Vec<(&'static str, String)>,
}

impl Outputs {
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.pairs
    }

    /// Appends `key=value` lines to the file named by `GITHUB_OUTPUT`.
    pub fn append_github_output(&self, path: &Path) -> std::io::Result<()> {
        let mut text = String::new();
        for (key, value) in &self.pairs {
            text.push_str(&format!("{key}={}\n", single_line(value)));
        }
        append(path, &text)
    }

    /// Appends a markdown table to the file named by `GITHUB_STEP_SUMMARY`.
    pub fn append_step_summary(&self, path: &Path, title: &str) -> std::io::Result<()> {
        let mut text = format!("### {title}\n\n| | |\n| --- | --- |\n");
        for (key, value) in &self.pairs {
            let cell = single_line(value).replace('|', "\\|");
            text.push_str(&format!("| {key} | `{cell}` |\n"));
        }
        text.push('\n');
        append(path, &text)
    }

    /// Writes `CHUKS_<KEY>=value` lines, the dotenv format GitLab reads.
    pub fn write_dotenv(&self, path: &Path) -> std::io::Result<()> {
        let mut text = String::new();
        for (key, value) in &self.pairs {
            text.push_str(&format!("{}={}\n", dotenv_key(key), single_line(value)));
        }
        std::fs::write(path, text)
    }
}

/// The dotenv variable name for an output key: `sha256` → `CHUKS_SHA256`.
fn dotenv_key(key: &str) -> String {
    format!("CHUKS_{}", key.to_ascii_uppercase())
}

/// Output values are single-line by construction; this guards the file formats anyway.
fn single_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
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
        let mut outputs = Outputs::default();
        outputs.set("name", "@chuks/numpy");
        outputs.set("result", "published");
        outputs.set("result", "unchanged");
        let github = dir.path().join("out");
        outputs.append_github_output(&github).unwrap();
        outputs.append_github_output(&github).unwrap();
        assert_eq!(
            std::fs::read_to_string(&github).unwrap(),
            "name=@chuks/numpy\nresult=unchanged\nname=@chuks/numpy\nresult=unchanged\n"
        );
        let dotenv = dir.path().join("env");
        outputs.write_dotenv(&dotenv).unwrap();
        assert_eq!(
            std::fs::read_to_string(&dotenv).unwrap(),
            "CHUKS_NAME=@chuks/numpy\nCHUKS_RESULT=unchanged\n"
        );
        let summary = dir.path().join("summary");
        outputs.append_step_summary(&summary, "Published").unwrap();
        assert!(
            std::fs::read_to_string(&summary)
                .unwrap()
                .contains("| result | `unchanged` |")
        );
    }
}
