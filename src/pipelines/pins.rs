//! What a release pinned: the chuks-ci archive sums (`action/SHA256SUMS`), the commit of the
//! release tag and the pipe image digest (`release.toml`), as the renderings use them.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleasePins {
    /// The chuks-ci version the commit and digest belong to; they apply to no other.
    pub version: String,
    pub action_commit: String,
    pub pipe_digest: String,
}

impl ReleasePins {
    /// The embedded `release.toml`, for this binary's version only.
    pub fn load(version: &str) -> ReleasePins {
        let pins: ReleasePins =
            toml::from_str(include_str!("release.toml")).expect("release.toml is checked by tests");
        if pins.version == version {
            pins
        } else {
            ReleasePins::default()
        }
    }
}

/// `(platform, sha256)` for each chuks-ci archive of `version` listed in `action/SHA256SUMS`.
pub fn archive_sums(version: &str) -> Vec<(String, String)> {
    parse_sums(include_str!("../../action/SHA256SUMS"), version)
}

fn parse_sums(text: &str, version: &str) -> Vec<(String, String)> {
    let prefix = format!("chuks-ci-{version}-");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (sum, file) = line.split_once(char::is_whitespace)?;
            let file = file.trim_start().trim_start_matches('*');
            let platform = file.strip_prefix(&prefix)?.strip_suffix(".tar.gz")?;
            Some((platform.to_string(), sum.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_of_the_version_only() {
        let text = "# header\n\
            aaaa  chuks-ci-0.2.0-linux-x86_64.tar.gz\n\
            bbbb *chuks-ci-0.2.0-linux-aarch64.tar.gz\n\
            cccc  chuks-ci-0.1.0-linux-x86_64.tar.gz\n";
        assert_eq!(
            parse_sums(text, "0.2.0"),
            [
                ("linux-x86_64".to_string(), "aaaa".to_string()),
                ("linux-aarch64".to_string(), "bbbb".to_string())
            ]
        );
    }

    #[test]
    fn release_toml_parses() {
        let _ = ReleasePins::load(env!("CARGO_PKG_VERSION"));
    }
}
