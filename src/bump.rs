//! Version arithmetic for `bump` (npm's `semver.inc` rules) and the byte-exact rewrite of
//! `version` in chuks.json: only the bytes between the version string's quotes change.

use std::cmp::Ordering;
use std::io::Write;
use std::path::{Path, PathBuf};

use semver::{BuildMetadata, Prerelease, Version};

use crate::manifest::{self, Manifest, ManifestError};

/// The prerelease identifier used when none is given and the version has none to keep.
pub const DEFAULT_PREID: &str = "rc";

/// A step up from the current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Major,
    Minor,
    Patch,
    Premajor,
    Preminor,
    Prepatch,
    Prerelease,
}

impl Level {
    const ALL: [Level; 7] = [
        Level::Major,
        Level::Minor,
        Level::Patch,
        Level::Premajor,
        Level::Preminor,
        Level::Prepatch,
        Level::Prerelease,
    ];

    /// The name `bump` takes on its command line.
    pub fn name(self) -> &'static str {
        match self {
            Level::Major => "major",
            Level::Minor => "minor",
            Level::Patch => "patch",
            Level::Premajor => "premajor",
            Level::Preminor => "preminor",
            Level::Prepatch => "prepatch",
            Level::Prerelease => "prerelease",
        }
    }
}

/// What `bump` was asked for: a step, or an exact version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Level(Level),
    Exact(Version),
}

/// As given on the command line.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Level(level) => f.write_str(level.name()),
            Target::Exact(version) => write!(f, "{version}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BumpError {
    #[error(
        "`{value}` is neither a bump level nor a SemVer version ({reason})\nhint: give an exact version such as `{example}` (MAJOR.MINOR.PATCH, no `v`), or a level: major, minor, patch, premajor, preminor, prepatch or prerelease"
    )]
    InvalidTarget {
        value: String,
        reason: String,
        /// The version meant, when it is plain (`v1.3.0` → `1.3.0`); else `1.0.0`.
        example: String,
    },

    #[error(
        "`--preid` `{value}` is not a prerelease identifier\nhint: use letters, digits and `-`, e.g. `--preid rc` or `--preid beta`"
    )]
    InvalidPreid { value: String },

    #[error(
        "`{next}` does not move forward from the current version `{current}`\nhint: pick a version above `{current}`, e.g. `{suggestion}`"
    )]
    NotForward {
        current: Version,
        next: Version,
        /// A `chuks-ci bump` command that would succeed.
        suggestion: String,
    },

    #[error(
        "`{}` is not UTF-8 text\nhint: save chuks.json as UTF-8 and run `bump` again",
        crate::untrusted::Untrusted::path(path)
    )]
    NotUtf8 { path: PathBuf },

    #[error(
        "could not place `version` in `{}` well enough to change only its bytes\nhint: write `version` once, as a plain string at the top level, then run `bump` again",
        crate::untrusted::Untrusted::path(path)
    )]
    VersionNotPlaced { path: PathBuf },

    #[error(
        "could not write `{}`: {source}\nhint: check that the file and its folder are writable",
        crate::untrusted::Untrusted::path(path)
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the commit message is empty or holds control characters\nhint: pass a plain message with `--message`, e.g. `--message \"Release {{name}} {{version}}\"`"
    )]
    InvalidMessage,

    #[error(
        "could not place the range of `{dependency}` in `{}` well enough to change only its bytes\nhint: write it once, as a plain string in `dependencies`, or raise it by hand and bump without `--dependents`",
        crate::untrusted::Untrusted::path(path)
    )]
    RangeNotPlaced { path: PathBuf, dependency: String },

    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl Target {
    /// A level name (`major` … `prerelease`) or an exact, strict SemVer version.
    pub fn parse(text: &str) -> Result<Target, BumpError> {
        if let Some(level) = Level::ALL.into_iter().find(|level| level.name() == text) {
            return Ok(Target::Level(level));
        }
        manifest::parse_version(text)
            .map(Target::Exact)
            .map_err(|(reason, _)| {
                let meant = text
                    .strip_prefix(['v', 'V'])
                    .and_then(|rest| Version::parse(rest).ok());
                BumpError::InvalidTarget {
                    value: text.to_string(),
                    reason,
                    example: meant.map_or_else(|| "1.0.0".to_string(), |v| v.to_string()),
                }
            })
    }
}

/// Checks a `--preid`: one prerelease identifier that is not a number.
pub fn validate_preid(preid: &str) -> Result<(), BumpError> {
    let one_identifier = !preid.contains('.') && Prerelease::new(preid).is_ok();
    let alphanumeric = preid.bytes().any(|b| !b.is_ascii_digit());
    if one_identifier && alphanumeric {
        Ok(())
    } else {
        Err(BumpError::InvalidPreid {
            value: preid.to_string(),
        })
    }
}

/// Checks a commit message: not blank, and no control characters besides line breaks and tabs.
pub fn validate_message(message: &str) -> Result<(), BumpError> {
    let plain = message
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\t'));
    match plain && !message.trim().is_empty() {
        true => Ok(()),
        false => Err(BumpError::InvalidMessage),
    }
}

/// The version `target` names from `current`. `preid` names the prerelease; without it a
/// prerelease keeps its identifier and a new one gets `rc`. It may not move forward: see
/// [`moves_forward`].
pub fn next_version(current: &Version, target: &Target, preid: Option<&str>) -> Version {
    match target {
        Target::Exact(version) => version.clone(),
        Target::Level(level) => increment(current, *level, preid),
    }
}

/// Whether `next` is higher than `current` by SemVer precedence (build metadata does not count).
pub fn moves_forward(current: &Version, next: &Version) -> bool {
    next.cmp_precedence(current) == Ordering::Greater
}

/// The next patch release: `1.2.3` → `1.2.4`, `1.2.3-rc.1` → `1.2.3`; always forward.
pub fn next_patch(current: &Version) -> Version {
    increment(current, Level::Patch, None)
}

/// npm's `semver.inc`: a release level drops the prerelease, and leaves the numbers alone when
/// the prerelease already was that release (`1.2.3-rc.1` + patch = `1.2.3`); a `pre*` level
/// steps the number, then starts the prerelease at `.0`; `prerelease` steps the prerelease.
fn increment(current: &Version, level: Level, preid: Option<&str>) -> Version {
    let mut next = Version {
        build: BuildMetadata::EMPTY,
        ..current.clone()
    };
    let was_prerelease = !current.pre.is_empty();
    let release = |next: &mut Version| next.pre = Prerelease::EMPTY;
    match level {
        Level::Major => {
            if !(was_prerelease && current.minor == 0 && current.patch == 0) {
                next.major += 1;
            }
            (next.minor, next.patch) = (0, 0);
            release(&mut next);
        }
        Level::Minor => {
            if !(was_prerelease && current.patch == 0) {
                next.minor += 1;
            }
            next.patch = 0;
            release(&mut next);
        }
        Level::Patch => {
            if !was_prerelease {
                next.patch += 1;
            }
            release(&mut next);
        }
        Level::Premajor => {
            (next.major, next.minor, next.patch) = (current.major + 1, 0, 0);
            next.pre = first_prerelease(preid);
        }
        Level::Preminor => {
            (next.minor, next.patch) = (current.minor + 1, 0);
            next.pre = first_prerelease(preid);
        }
        Level::Prepatch => {
            next.patch += 1;
            next.pre = first_prerelease(preid);
        }
        Level::Prerelease if !was_prerelease => {
            next.patch += 1;
            next.pre = first_prerelease(preid);
        }
        Level::Prerelease => next.pre = step_prerelease(&current.pre, preid),
    }
    next
}

/// `<preid>.0`.
fn first_prerelease(preid: Option<&str>) -> Prerelease {
    prerelease(&format!("{}.0", preid.unwrap_or(DEFAULT_PREID)))
}

/// The next prerelease: the last numeric identifier goes up by one (`.0` is added if there is
/// none); a different `preid` starts over at `<preid>.0`.
fn step_prerelease(current: &Prerelease, preid: Option<&str>) -> Prerelease {
    let mut parts: Vec<String> = current.split('.').map(str::to_string).collect();
    if preid.is_some_and(|id| parts[0] != id) {
        return first_prerelease(preid);
    }
    match parts
        .iter_mut()
        .rev()
        .find_map(|part| part.parse::<u64>().ok().map(|n| (part, n)))
    {
        Some((part, number)) => *part = (number + 1).to_string(),
        None => parts.push("0".to_string()),
    }
    prerelease(&parts.join("."))
}

/// Prereleases built here are made of valid identifiers.
fn prerelease(text: &str) -> Prerelease {
    Prerelease::new(text).expect("built from valid identifiers")
}

/// A manifest's text with `version` changed to `next`, every other byte as it was.
#[derive(Debug)]
pub struct Rewrite {
    pub before: String,
    pub after: String,
    /// The line the version is on (1-based), where the two texts differ.
    pub line: usize,
}

/// Reads the manifest at `path` as it is on disk, byte for byte.
pub fn read_manifest(path: &Path) -> Result<(String, Manifest), BumpError> {
    let bytes = manifest::read_bytes(path)?;
    let text = String::from_utf8(bytes).map_err(|_| BumpError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    let manifest = Manifest::parse(path, &text)?;
    Ok((text, manifest))
}

/// Replaces only the bytes between the quotes of `version` with `next`. The result is parsed
/// again and must be the same document with only `version` changed, so a manifest the scanner
/// misreads (a repeated key, say) is refused rather than damaged.
pub fn rewrite_version(
    text: &str,
    manifest: &Manifest,
    next: &Version,
) -> Result<Rewrite, BumpError> {
    let not_placed = || BumpError::VersionNotPlaced {
        path: manifest.path.clone(),
    };
    let span = manifest.version_bytes().ok_or_else(not_placed)?;
    let written = text.get(span.clone()).ok_or_else(not_placed)?;
    if manifest::parse_version(written).ok().as_ref() != Some(&manifest.version) {
        return Err(not_placed());
    }
    let after = format!("{}{next}{}", &text[..span.start], &text[span.end..]);
    let reparsed = Manifest::parse(&manifest.path, &after).map_err(|_| not_placed())?;
    let mut expected = manifest.document.clone();
    expected["version"] = serde_json::Value::String(next.to_string());
    if reparsed.version != *next || reparsed.document != expected {
        return Err(not_placed());
    }
    Ok(Rewrite {
        before: text.to_string(),
        line: text[..span.start].matches('\n').count() + 1,
        after,
    })
}

/// Replaces the range `dependencies.<dependency>` in `text` with `range`, byte for byte
/// elsewhere. As for `version`, the result must parse to the same document with only that range
/// changed, or the manifest is refused rather than damaged.
pub fn rewrite_range(
    text: &str,
    manifest: &Manifest,
    dependency: &str,
    range: &str,
) -> Result<String, BumpError> {
    let not_placed = || BumpError::RangeNotPlaced {
        path: manifest.path.clone(),
        dependency: dependency.to_string(),
    };
    let written = manifest.document["dependencies"][dependency]
        .as_str()
        .ok_or_else(not_placed)?;
    let pattern = format!(
        r#""{}"\s*:\s*"({})""#,
        regex::escape(dependency),
        regex::escape(written)
    );
    let pattern = regex::Regex::new(&pattern).map_err(|_| not_placed())?;
    let mut places = pattern.captures_iter(text);
    let (Some(place), None) = (places.next(), places.next()) else {
        return Err(not_placed());
    };
    let span = place.get(1).ok_or_else(not_placed)?.range();
    let after = format!("{}{range}{}", &text[..span.start], &text[span.end..]);
    let reparsed = Manifest::parse(&manifest.path, &after).map_err(|_| not_placed())?;
    let mut expected = manifest.document.clone();
    expected["dependencies"][dependency] = serde_json::Value::String(range.to_string());
    if reparsed.document != expected {
        return Err(not_placed());
    }
    Ok(after)
}

/// Writes `text` to `path` atomically: a temporary file in the same folder, given the old
/// file's permissions, then renamed over it. A symlinked manifest is written through the link.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), BumpError> {
    let failed = |source| BumpError::Write {
        path: path.to_path_buf(),
        source,
    };
    let target = std::fs::canonicalize(path).map_err(failed)?;
    let folder = target.parent().unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(&target).map_err(failed)?.permissions();
    let mut temporary = tempfile::NamedTempFile::new_in(folder).map_err(failed)?;
    temporary.write_all(text.as_bytes()).map_err(failed)?;
    temporary.as_file().sync_all().map_err(failed)?;
    temporary
        .as_file()
        .set_permissions(permissions)
        .map_err(failed)?;
    temporary
        .persist(&target)
        .map_err(|err| failed(err.error))?;
    Ok(())
}

/// A unified diff of the one changed line, for a dry run. Line ends and a byte-order mark are
/// not shown.
pub fn diff(rewrite: &Rewrite, label: &str) -> String {
    let line_of = |text: &str| {
        let line = text.split('\n').nth(rewrite.line - 1).unwrap_or_default();
        line.trim_start_matches('\u{feff}')
            .trim_end_matches('\r')
            .to_string()
    };
    format!(
        "--- a/{label}\n+++ b/{label}\n@@ -{n} +{n} @@\n-{}\n+{}\n",
        line_of(&rewrite.before),
        line_of(&rewrite.after),
        n = rewrite.line
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(current: &str, target: &str, preid: Option<&str>) -> String {
        let current = Version::parse(current).unwrap();
        let next = next_version(&current, &Target::parse(target).unwrap(), preid);
        assert!(moves_forward(&current, &next), "{current} {target}");
        next.to_string()
    }

    #[test]
    fn release_levels() {
        for (current, level, expected) in [
            ("1.2.3", "major", "2.0.0"),
            ("1.2.3", "minor", "1.3.0"),
            ("1.2.3", "patch", "1.2.4"),
            ("1.2.3+build.5", "patch", "1.2.4"),
            ("0.0.0", "patch", "0.0.1"),
            // A prerelease of exactly that release is finished, not skipped.
            ("1.2.3-rc.1", "patch", "1.2.3"),
            ("1.3.0-rc.1", "minor", "1.3.0"),
            ("1.2.3-rc.1", "minor", "1.3.0"),
            ("2.0.0-rc.1", "major", "2.0.0"),
            ("2.1.0-rc.1", "major", "3.0.0"),
        ] {
            assert_eq!(next(current, level, None), expected, "{current} {level}");
        }
    }

    #[test]
    fn prerelease_levels() {
        for (current, level, preid, expected) in [
            ("1.2.3", "premajor", None, "2.0.0-rc.0"),
            ("1.2.3", "preminor", None, "1.3.0-rc.0"),
            ("1.2.3", "prepatch", None, "1.2.4-rc.0"),
            ("1.2.3", "prerelease", None, "1.2.4-rc.0"),
            ("1.2.3", "prerelease", Some("beta"), "1.2.4-beta.0"),
            ("1.2.3-rc.1", "prerelease", None, "1.2.3-rc.2"),
            ("1.2.3-rc.1", "prerelease", Some("rc"), "1.2.3-rc.2"),
            ("1.2.3-alpha.9", "prerelease", None, "1.2.3-alpha.10"),
            ("1.2.3-alpha.1", "prerelease", Some("beta"), "1.2.3-beta.0"),
            ("1.2.3-rc", "prerelease", None, "1.2.3-rc.0"),
            ("1.2.3-rc.1.x", "prerelease", None, "1.2.3-rc.2.x"),
            ("2.0.0-rc.1", "premajor", None, "3.0.0-rc.0"),
            ("1.2.3-rc.1", "prepatch", Some("beta"), "1.2.4-beta.0"),
        ] {
            assert_eq!(
                next(current, level, preid),
                expected,
                "{current} {level} {preid:?}"
            );
        }
    }

    #[test]
    fn exact_versions_must_move_forward() {
        assert_eq!(next("1.2.3", "1.4.0-beta.1", None), "1.4.0-beta.1");
        let current = Version::parse("1.2.3").unwrap();
        for target in ["1.2.3", "1.2.2", "1.2.3+build.1", "1.2.3-rc.9"] {
            let next = next_version(&current, &Target::parse(target).unwrap(), None);
            assert!(!moves_forward(&current, &next), "{target}");
        }
        let rc = Version::parse("1.2.3-rc.1").unwrap();
        let backwards = next_version(&rc, &Target::Level(Level::Prerelease), Some("alpha"));
        assert!(!moves_forward(&rc, &backwards));
        for current in ["1.2.3", "1.2.3-rc.1", "0.0.0"] {
            let current = Version::parse(current).unwrap();
            assert!(moves_forward(&current, &next_patch(&current)), "{current}");
        }
    }

    #[test]
    fn invalid_targets_and_preids_are_refused() {
        for bad in ["1.2", "v1.2.3", "huge", "", "01.2.3"] {
            assert!(
                matches!(Target::parse(bad), Err(BumpError::InvalidTarget { .. })),
                "{bad}"
            );
        }
        let meant = Target::parse("v1.3.0").unwrap_err().to_string();
        assert!(meant.contains("such as `1.3.0`"), "{meant}");
        for level in Level::ALL {
            let target = Target::parse(level.name()).unwrap();
            assert_eq!(target.to_string(), level.name());
        }
        for bad in ["", "1", "rc.1", "r c", "é"] {
            assert!(validate_preid(bad).is_err(), "{bad}");
        }
        for good in ["rc", "beta-2", "0x"] {
            assert!(validate_preid(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn rewrite_changes_only_the_version_bytes() {
        let text = "\u{feff}{\"version\" :\t\"1.2.3\" , \"name\":\"di\"}";
        let manifest = Manifest::parse(Path::new("chuks.json"), text).unwrap();
        let rewrite = rewrite_version(text, &manifest, &Version::parse("1.10.0").unwrap()).unwrap();
        assert_eq!(
            rewrite.after,
            "\u{feff}{\"version\" :\t\"1.10.0\" , \"name\":\"di\"}"
        );
        assert_eq!(
            diff(&rewrite, "chuks.json"),
            "--- a/chuks.json\n+++ b/chuks.json\n@@ -1 +1 @@\n-{\"version\" :\t\"1.2.3\" , \"name\":\"di\"}\n+{\"version\" :\t\"1.10.0\" , \"name\":\"di\"}\n"
        );
    }

    #[test]
    fn the_version_that_counts_is_the_one_rewritten() {
        let text = r#"{"name":"di","version":"1.0.0","version":"1.2.3"}"#;
        let manifest = Manifest::parse(Path::new("chuks.json"), text).unwrap();
        assert_eq!(manifest.version.to_string(), "1.2.3");
        let rewrite = rewrite_version(text, &manifest, &Version::parse("1.2.4").unwrap()).unwrap();
        assert_eq!(
            rewrite.after,
            r#"{"name":"di","version":"1.0.0","version":"1.2.4"}"#
        );
        let nested = r#"{"name":"di","version":"1.2.3","x":{"version":"9.9.9"}}"#;
        let manifest = Manifest::parse(Path::new("chuks.json"), nested).unwrap();
        let rewrite = rewrite_version(nested, &manifest, &Version::parse("2.0.0").unwrap());
        assert_eq!(
            rewrite.unwrap().after,
            r#"{"name":"di","version":"2.0.0","x":{"version":"9.9.9"}}"#
        );
    }
}
