//! Release tags: where a tag came from, the accepted forms, and matching against the manifest.
//!
//! Accepted forms for a package `name` at version `V`: `vV`, `V`, `name@V`, `name/vV`, or
//! `PREFIX V` when a `--tag-prefix` is configured. After the form is removed, the rest must
//! equal the manifest's version exactly, prerelease and build metadata included.

use semver::Version;
use serde::Serialize;

use crate::manifest::Manifest;
use crate::untrusted::Untrusted;

/// Where the release tag was found, in the order they are consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagSource {
    Flag,
    /// A CI's variables, as its provider (`crate::ci::CiProvider`) read them.
    Ci {
        /// The provider's id (`github`), which JSON results show.
        provider: &'static str,
        /// Where the tag came from, for people: "GitLab CI (`CI_COMMIT_TAG`)".
        described: &'static str,
    },
    Git,
}

impl TagSource {
    /// How the source is named to a person reading the output.
    pub fn describe(self) -> &'static str {
        match self {
            TagSource::Flag => "--tag",
            TagSource::Ci { described, .. } => described,
            TagSource::Git => "git tags at HEAD",
        }
    }
}

/// JSON names the source in one word: `flag`, the provider's id (`github`), or `git`.
impl Serialize for TagSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            TagSource::Flag => "flag",
            TagSource::Ci { provider, .. } => provider,
            TagSource::Git => "git",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseTag {
    /// From `--tag`, the CI or git: anyone who can push a tag chooses it.
    pub name: Untrusted,
    pub source: TagSource,
}

#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error(
        "no release tag found: not given with `--tag`, not set by CI, and no git tag points at HEAD\nhint: {hint}"
    )]
    NotFound { hint: String },

    #[error(
        "tag `{tag}` is not a release tag for `{package}`: {reason}\nhint: tag releases as {forms}"
    )]
    NotARelease {
        tag: Untrusted,
        package: String,
        reason: String,
        forms: String,
    },

    #[error(
        "tag `{tag}` is for package `{tag_package}`, not `{package}`\nhint: run chuks-ci in `{tag_package}`'s folder (`--manifest`), or tag this package as `{package}@VERSION`"
    )]
    OtherPackage {
        tag: Untrusted,
        tag_package: Untrusted,
        package: String,
    },

    #[error(
        "tag `{tag}` is version `{tag_version}`, but chuks.json has `{manifest_version}`{detail}\nhint: {hint}"
    )]
    VersionMismatch {
        tag: Untrusted,
        tag_version: String,
        manifest_version: String,
        detail: &'static str,
        /// Both fixes: bump the manifest to the tag, or re-tag at the manifest's version.
        hint: String,
    },

    #[error("several tags at HEAD match version `{version}`: {}\nhint: say which one with `--tag`", list(.tags))]
    Ambiguous {
        version: String,
        tags: Vec<Untrusted>,
    },

    #[error("none of the tags at HEAD matches `{package}` version `{version}`: {}\nhint: {tag_head}, or pass `--tag`/`--tag-prefix`", list(.tags))]
    NoneMatch {
        package: String,
        version: String,
        tags: Vec<Untrusted>,
        /// How to tag HEAD with a tag that would match (never one of `tags`).
        tag_head: String,
    },
}

fn list(tags: &[Untrusted]) -> String {
    tags.iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tag split into its form (everything before the version) and the version text.
#[derive(Debug, PartialEq, Eq)]
struct TagParts<'a> {
    form: &'a str,
    version: &'a str,
}

/// Where an existing tag points (`git rev-parse`), so that a hint never suggests creating a tag
/// that is already there: `git tag` would refuse it.
pub type ExistingTag<'a> = &'a dyn Fn(&str) -> Option<String>;

/// For checks that cannot ask git: every tag counts as free.
pub const NO_TAGS: ExistingTag<'static> = &|_| None;

/// Checks that `tag` is a release tag of `manifest` at exactly the manifest's version.
pub fn check(tag: &str, manifest: &Manifest, prefix: Option<&str>) -> Result<(), TagError> {
    check_with(tag, manifest, prefix, NO_TAGS)
}

/// [`check`], with hints that know which tags exist.
pub fn check_with(
    tag: &str,
    manifest: &Manifest,
    prefix: Option<&str>,
    existing: ExistingTag<'_>,
) -> Result<(), TagError> {
    let parts = split(tag, &manifest.name, prefix)?;
    let tag_version = Version::parse(parts.version).map_err(|err| TagError::NotARelease {
        tag: tag.into(),
        package: manifest.name.clone(),
        reason: format!(
            "`{}` is not a SemVer version ({})",
            Untrusted::from(parts.version),
            Untrusted::from(err.to_string())
        ),
        forms: accepted_forms(&manifest.name, prefix, &manifest.version),
    })?;
    if tag_version == manifest.version {
        return Ok(());
    }
    let same_release = (tag_version.major, tag_version.minor, tag_version.patch)
        == (
            manifest.version.major,
            manifest.version.minor,
            manifest.version.patch,
        );
    Err(TagError::VersionMismatch {
        tag: tag.into(),
        tag_version: tag_version.to_string(),
        manifest_version: manifest.version.to_string(),
        detail: if same_release {
            " (the prerelease or build metadata differs)"
        } else {
            ""
        },
        hint: mismatch_hint(tag, &tag_version, manifest, parts.form, existing),
    })
}

/// A tag newer than the manifest: set `version` to the tag's and move the tag onto that commit
/// (`bump` alone would refuse, the tag being taken), or re-tag at the manifest's version. A tag
/// older than the manifest: only the re-tag, since a released version never goes back.
fn mismatch_hint(
    tag: &str,
    tag_version: &Version,
    manifest: &Manifest,
    form: &str,
    existing: ExistingTag<'_>,
) -> String {
    let retag = format!("{form}{}", manifest.version);
    let forward = tag_version.cmp_precedence(&manifest.version) == std::cmp::Ordering::Greater;
    if !forward {
        return format!(
            "`{}` is older than chuks.json's `{}` and a released version never goes back: {}",
            Untrusted::from(tag),
            manifest.version,
            tag_head_hint(&retag, manifest, existing)
        );
    }
    let tag = Untrusted::from(tag);
    let bump = bump_command(manifest, &format!("{tag_version} --no-tag"));
    let retag = match existing(&retag) {
        None => format!(", or re-tag the release as `{}`", Untrusted::from(retag)),
        Some(_) => String::new(),
    };
    format!(
        "set `version` in chuks.json to `{tag_version}` and move the tag onto that commit (`{bump} && git tag -f {tag}`){retag}"
    )
}

/// How to make `tag` the release tag of HEAD: `git tag` while the name is free; once it tags
/// another commit, check that commit out to re-run its release, or release a new version.
pub fn tag_head_hint(tag: &str, manifest: &Manifest, existing: ExistingTag<'_>) -> String {
    let tag = Untrusted::from(tag);
    match existing(tag.unescaped()) {
        None => format!("tag HEAD with `git tag {tag}`"),
        Some(commit) => format!(
            "`{tag}` already tags commit {}: check it out to re-run that release (`git checkout {tag}`), or release this commit as a new version (`{}`)",
            Untrusted::from(&commit[..commit.len().min(12)]),
            bump_command(manifest, "patch")
        ),
    }
}

/// `chuks-ci bump ARGS`, with `--manifest` when the manifest is not `./chuks.json`.
fn bump_command(manifest: &Manifest, args: &str) -> String {
    match manifest.path.as_os_str() == crate::manifest::MANIFEST_FILE {
        true => format!("chuks-ci bump {args}"),
        false => format!(
            "chuks-ci bump {args} --manifest {}",
            Untrusted::path(&manifest.path)
        ),
    }
}

/// How a package writes its release tags; the version follows the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagForm {
    /// `v1.2.0`
    V,
    /// `1.2.0`
    Bare,
    /// `name@1.2.0`
    NameAt,
    /// `name/v1.2.0`
    NameSlash,
    /// `PREFIX1.2.0`, from `--tag-prefix`.
    Prefix(String),
}

impl TagForm {
    /// The release tag of `package` at `version` in this form.
    pub fn tag(&self, package: &str, version: &Version) -> String {
        match self {
            TagForm::V => format!("v{version}"),
            TagForm::Bare => version.to_string(),
            TagForm::NameAt => format!("{package}@{version}"),
            TagForm::NameSlash => format!("{package}/v{version}"),
            TagForm::Prefix(prefix) => format!("{prefix}{version}"),
        }
    }

    /// The form of `tag`, if it is a release tag of `manifest` at exactly its version.
    pub fn of(tag: &str, manifest: &Manifest) -> Option<TagForm> {
        check(tag, manifest, None).ok()?;
        let form = &tag[..tag.len() - manifest.version.to_string().len()];
        Some(match form {
            "v" => TagForm::V,
            "" => TagForm::Bare,
            _ if form.ends_with('@') => TagForm::NameAt,
            _ => TagForm::NameSlash,
        })
    }
}

/// Whether a tag is meant as a release, and of which package, judged from its name alone
/// (the pre-push hook sorts the tags being pushed with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKind<'a> {
    /// `name@1.2.0` or `name/v1.2.0`: a release of the named package.
    Package(&'a str),
    /// `v1.2.0`, `1.2.0` or `PREFIX1.2.0`: a release of the repository's configured package.
    Configured,
    /// No version where a release tag has one (`latest`, `deploy-42`, another prefix).
    NotARelease,
}

/// Sorts a tag by its name: see [`TagKind`].
pub fn kind<'a>(tag: &'a str, prefix: Option<&str>) -> TagKind<'a> {
    if prefix.is_some_and(|prefix| tag.starts_with(prefix)) {
        return TagKind::Configured;
    }
    if let Some(package) = package_named_in(tag).filter(|package| {
        tag[package.len()..]
            .trim_start_matches(['@', '/', 'v'])
            .starts_with(|c: char| c.is_ascii_digit())
    }) {
        return TagKind::Package(package);
    }
    let version = tag.strip_prefix('v').unwrap_or(tag);
    match prefix.is_none() && version.starts_with(|c: char| c.is_ascii_digit()) {
        true => TagKind::Configured,
        false => TagKind::NotARelease,
    }
}

/// From the tags pointing at HEAD, picks the one release tag that fits the manifest.
pub fn pick(
    tags: &[String],
    manifest: &Manifest,
    prefix: Option<&str>,
    existing: ExistingTag<'_>,
) -> Result<String, TagError> {
    let fitting: Vec<&String> = tags
        .iter()
        .filter(|tag| check(tag, manifest, prefix).is_ok())
        .collect();
    match fitting.as_slice() {
        [one] => Ok((*one).clone()),
        [] if tags.len() == 1 => {
            check_with(&tags[0], manifest, prefix, existing).map(|()| tags[0].clone())
        }
        [] => Err(TagError::NoneMatch {
            package: manifest.name.clone(),
            version: manifest.version.to_string(),
            tags: tags.iter().map(|tag| tag.as_str().into()).collect(),
            tag_head: tag_head_hint(&suggested_tag(manifest, prefix), manifest, existing),
        }),
        several => Err(TagError::Ambiguous {
            version: manifest.version.to_string(),
            tags: several.iter().map(|tag| tag.as_str().into()).collect(),
        }),
    }
}

/// The tag to suggest for the manifest's version: in the `--tag-prefix` form when one is
/// configured (even an empty one), since only that form would match; `vVERSION` otherwise.
pub fn suggested_tag(manifest: &Manifest, prefix: Option<&str>) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}{}", manifest.version),
        None => format!("v{}", manifest.version),
    }
}

fn split<'a>(tag: &'a str, package: &str, prefix: Option<&str>) -> Result<TagParts<'a>, TagError> {
    let not_a_release = |reason: String| TagError::NotARelease {
        tag: tag.into(),
        package: package.to_string(),
        reason,
        forms: accepted_forms(package, prefix, &Version::new(1, 2, 0)),
    };
    if let Some(prefix) = prefix {
        return match tag.strip_prefix(prefix) {
            Some(version) => Ok(TagParts {
                form: &tag[..prefix.len()],
                version,
            }),
            None => Err(not_a_release(format!("it does not start with `{prefix}`"))),
        };
    }
    for form in [format!("{package}@"), format!("{package}/v")] {
        if let Some(version) = tag.strip_prefix(form.as_str()) {
            return Ok(TagParts {
                form: &tag[..form.len()],
                version,
            });
        }
    }
    if let Some(tag_package) = package_named_in(tag) {
        return Err(TagError::OtherPackage {
            tag: tag.into(),
            tag_package: tag_package.into(),
            package: package.to_string(),
        });
    }
    let version = tag.strip_prefix('v').unwrap_or(tag);
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(not_a_release("it does not carry a version".to_string()));
    }
    Ok(TagParts {
        form: &tag[..tag.len() - version.len()],
        version,
    })
}

/// The package a monorepo tag (`pkg@1.2.0`, `@scope/pkg@1.2.0`, `pkg/v1.2.0`) is for.
fn package_named_in(tag: &str) -> Option<&str> {
    if let Some(at) = tag.rfind('@').filter(|&at| at > 0) {
        return Some(&tag[..at]);
    }
    let (package, version) = tag.rsplit_once("/v")?;
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then_some(package)
}

fn accepted_forms(package: &str, prefix: Option<&str>, version: &Version) -> String {
    match prefix {
        Some(prefix) => format!("`{prefix}{version}` (the configured `--tag-prefix`)"),
        None => {
            format!("`v{version}`, `{version}`, `{package}@{version}` or `{package}/v{version}`")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(name: &str, version: &str) -> Manifest {
        let text = format!(r#"{{"name":"{name}","version":"{version}"}}"#);
        Manifest::parse(Path::new("chuks.json"), &text).unwrap()
    }

    #[test]
    fn accepts_every_documented_form() {
        let numpy = manifest("@chuks/numpy", "1.2.0");
        for tag in [
            "v1.2.0",
            "1.2.0",
            "@chuks/numpy@1.2.0",
            "@chuks/numpy/v1.2.0",
        ] {
            assert!(check(tag, &numpy, None).is_ok(), "{tag}");
        }
        assert!(check("numpy-v1.2.0", &numpy, Some("numpy-v")).is_ok());
        assert!(matches!(
            check("v1.2.0", &numpy, Some("numpy-v")),
            Err(TagError::NotARelease { .. })
        ));
    }

    #[test]
    fn version_must_match_exactly() {
        let m = manifest("di", "1.2.0-rc.1+build.7");
        assert!(check("v1.2.0-rc.1+build.7", &m, None).is_ok());
        for tag in [
            "v1.2.0",
            "v1.2.0-rc.1",
            "v1.2.0-rc.2+build.7",
            "v1.2.0-rc.1+build.8",
        ] {
            let err = check(tag, &m, None).unwrap_err();
            assert!(matches!(err, TagError::VersionMismatch { .. }), "{tag}");
            assert!(err.to_string().contains("prerelease or build"), "{err}");
        }
    }

    #[test]
    fn mismatch_suggests_a_tag_in_the_same_form() {
        let m = manifest("@chuks/numpy", "1.2.0");
        let err = check("@chuks/numpy@1.3.0", &m, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("re-tag the release as `@chuks/numpy@1.2.0`"),
            "{err}"
        );
    }

    #[test]
    fn an_older_tag_is_never_answered_with_a_downgrade() {
        let m = manifest("di", "1.2.0");
        let hint = check("v1.0.1", &m, None).unwrap_err().to_string();
        assert!(!hint.contains("bump"), "{hint}");
        assert!(hint.contains("`git tag v1.2.0`"), "{hint}");
        let taken: ExistingTag = &|tag| (tag == "v1.2.0").then(|| "ab".repeat(20));
        let hint = check_with("v1.0.1", &m, None, taken)
            .unwrap_err()
            .to_string();
        assert!(!hint.contains("git tag v1.2.0"), "{hint}");
        assert!(hint.contains("`git checkout v1.2.0`"), "{hint}");
        assert!(hint.contains("`chuks-ci bump patch`"), "{hint}");
    }

    #[test]
    fn tags_of_other_packages_are_named() {
        let m = manifest("@chuks/numpy", "1.2.0");
        for (tag, other) in [
            ("@chuks/other@1.2.0", "@chuks/other"),
            ("di/v1.2.0", "di"),
            ("di@1.2.0", "di"),
        ] {
            match check(tag, &m, None) {
                Err(TagError::OtherPackage { tag_package, .. }) => assert_eq!(tag_package, other),
                result => panic!("{tag}: {result:?}"),
            }
        }
    }

    #[test]
    fn non_versions_are_not_releases() {
        let m = manifest("di", "1.2.0");
        for tag in ["latest", "v1.2", "release-1.2.0", "v01.2.0"] {
            assert!(
                matches!(check(tag, &m, None), Err(TagError::NotARelease { .. })),
                "{tag}"
            );
        }
    }

    #[test]
    fn pick_chooses_the_fitting_tag() {
        let m = manifest("@chuks/numpy", "1.2.0");
        let tags = vec![
            "@chuks/other@0.3.0".to_string(),
            "@chuks/numpy@1.2.0".to_string(),
        ];
        assert_eq!(
            pick(&tags, &m, None, NO_TAGS).unwrap(),
            "@chuks/numpy@1.2.0"
        );
        let both = vec!["1.2.0".to_string(), "v1.2.0".to_string()];
        assert!(matches!(
            pick(&both, &m, None, NO_TAGS),
            Err(TagError::Ambiguous { .. })
        ));
        // With an empty prefix only the bare version matches: the hint must not name a tag
        // that is already there and does not match.
        let existing = vec!["v1.2.0".to_string(), "nightly".to_string()];
        match pick(&existing, &m, Some(""), NO_TAGS) {
            Err(err @ TagError::NoneMatch { .. }) => {
                assert!(err.to_string().contains("`git tag 1.2.0`"), "{err}")
            }
            other => panic!("{other:?}"),
        }
        let neither = vec!["v0.9.0".to_string(), "nightly".to_string()];
        assert!(matches!(
            pick(&neither, &m, None, NO_TAGS),
            Err(TagError::NoneMatch { .. })
        ));
        let single = vec!["v0.9.0".to_string()];
        assert!(matches!(
            pick(&single, &m, None, NO_TAGS),
            Err(TagError::VersionMismatch { .. })
        ));
    }
}
