//! What a publish found and did, typed: filled in step by step, so a failure still reports what
//! was known, and rendered for every output (CI output files, `--format json`, the summary).

use serde_json::{Map, Value, json};

use crate::redact::redact;
use crate::registry_client::VersionRecord;
use crate::report::Problem;
use crate::untrusted::Untrusted;

/// How a publish ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishResult {
    /// Stored by this run.
    Published,
    /// The same bytes were already stored: a safe re-run.
    Unchanged,
    /// The registry already holds this version, and what it holds was not compared (it did not
    /// say) or was let be (`--if-exists skip`).
    Exists,
    /// `--dry-run`: everything but the upload.
    DryRun,
    /// Not attempted: a package it depends on, or the run's checks, failed (`--workspace`).
    Skipped,
    Failed,
}

impl PublishResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishResult::Published => "published",
            PublishResult::Unchanged => "unchanged",
            PublishResult::Exists => "exists",
            PublishResult::DryRun => "dry-run",
            PublishResult::Skipped => "skipped",
            PublishResult::Failed => "failed",
        }
    }
}

#[derive(Debug, Default)]
pub struct PublishReport {
    pub name: Option<String>,
    pub version: Option<String>,
    pub tag: Option<Untrusted>,
    /// Set for a prebuilt upload.
    pub platform: Option<&'static str>,
    pub sha256: Option<String>,
    /// The registry's base URL, once it is known; for `--local-registry`, its data folder.
    pub registry: Option<String>,
    /// The registry was started in this process (`--local-registry`) and is gone after it.
    pub registry_is_local: bool,
    /// `http` or `chuks` (the official CLI), once chosen.
    pub uploader: Option<&'static str>,
    /// `token` or `trusted-publishing`, once the registry is opened.
    pub auth: Option<&'static str>,
    pub result: Option<PublishResult>,
    /// Whether the read-back showed our upload; `None` before the upload ended.
    pub confirmed: Option<bool>,
    pub size: Option<u64>,
    pub file_count: Option<usize>,
    /// The version as the registry serves it, after the read-back.
    pub record: Option<VersionRecord>,
    /// The registry kept an earlier publish's tag and commit for these same bytes.
    pub first_publish_git: bool,
}

impl PublishReport {
    /// The results every CI output carries, in a fixed order, leaving out what is not known.
    pub fn outputs(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("name", self.name.clone()),
            ("version", self.version.clone()),
            (
                "tag",
                self.tag.as_ref().map(|tag| tag.unescaped().to_string()),
            ),
            ("platform", self.platform.map(str::to_string)),
            ("sha256", self.sha256.clone()),
            ("registry", self.registry.clone()),
            ("uploader", self.uploader.map(str::to_string)),
            ("auth", self.auth.map(str::to_string)),
            ("result", self.result.map(|r| r.as_str().to_string())),
            ("confirmed", self.confirmed.map(|c| c.to_string())),
        ];
        fields
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key, value)))
            .collect()
    }

    /// The `--format json` object: the outputs, then the exit code, sizes, record and problems.
    pub fn to_json(&self, exit_code: u8, problems: &[Problem]) -> Value {
        let mut object = Map::new();
        for (key, value) in self.outputs() {
            object.insert(key.to_string(), json!(value));
        }
        object.insert("exit_code".into(), json!(exit_code));
        object.insert("size".into(), json!(self.size));
        object.insert("file_count".into(), json!(self.file_count));
        object.insert("record".into(), json!(self.record));
        object.insert("problems".into(), json!(problems));
        Value::Object(object)
    }

    /// The human summary of a successful publish, one line each.
    pub fn summary_lines(&self) -> Vec<String> {
        let text = |field: &Option<String>| field.clone().unwrap_or_default();
        let (name, version) = (text(&self.name), text(&self.version));
        let what = match self.platform {
            Some(platform) => format!("{name} {version} ({platform} prebuilt)"),
            None => format!("{name} {version}"),
        };
        let result = self.result.map_or("", PublishResult::as_str);
        // The tag came from the command line or the CI: a token pasted there stays masked.
        let tag = self
            .tag
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let registry = match self.registry_is_local {
            true => format!("the local registry in `{}`", text(&self.registry)),
            false => text(&self.registry),
        };
        let mut lines = vec![format!(
            "{result}: {what} (tag `{}`) at {registry}",
            redact(&tag)
        )];
        if self.confirmed == Some(true) {
            let recorded = if self.uploader == Some("chuks") && self.platform.is_none() {
                "as the official CLI packed it"
            } else if self.platform.is_some() {
                "with our sha256"
            } else if self.first_publish_git {
                "with our sha256 (its tag and commit are from the first publish)"
            } else {
                "with our sha256, tag and commit"
            };
            lines.push(format!("confirmed: the registry serves it {recorded}"));
        }
        let (sha256, size) = (text(&self.sha256), self.size.unwrap_or_default());
        match &self.record {
            Some(record) => {
                lines.push(format!(
                    "  sha256 {sha256}, {size} bytes, published by {} at {}",
                    record.publisher, record.published_at
                ));
                if let (Some(tag), Some(commit)) = (&record.git.tag, &record.git.commit) {
                    let tag = redact(&tag.to_string()).into_owned();
                    lines.push(format!("  recorded tag `{tag}` at commit {commit}"));
                }
            }
            None if self.sha256.is_some() => lines.push(format!("  sha256 {sha256}, {size} bytes")),
            // The official CLI packed it, and the registry did not say what it stored.
            None => {}
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_leave_out_what_is_not_known() {
        let report = PublishReport {
            name: Some("di".into()),
            version: Some("1.0.0".into()),
            result: Some(PublishResult::Failed),
            ..PublishReport::default()
        };
        assert_eq!(
            report.outputs(),
            [
                ("name", "di".to_string()),
                ("version", "1.0.0".to_string()),
                ("result", "failed".to_string())
            ]
        );
    }

    #[test]
    fn a_confirmed_prebuilt_says_only_the_digest_was_compared() {
        let report = PublishReport {
            platform: Some("linux-x86_64"),
            result: Some(PublishResult::Published),
            confirmed: Some(true),
            ..PublishReport::default()
        };
        let lines = report.summary_lines();
        assert!(lines[0].contains("(linux-x86_64 prebuilt)"), "{lines:?}");
        assert_eq!(
            lines[1],
            "confirmed: the registry serves it with our sha256"
        );
    }
}
