//! Property tests for the rules every release rests on: package names, versions, tag forms, and
//! `bump`'s byte-exact rewrite.
#![allow(clippy::unwrap_used)] // Tests fail loudly on the first surprise.

use std::path::Path;

use chuks_ci::bump::rewrite_version;
use chuks_ci::manifest::{Manifest, parse_version, validate_name};
use chuks_ci::tag;
use proptest::prelude::*;

/// One part of a name as the rule in docs/chuks-json.md allows it.
fn name_part() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9._-]{0,20}"
}

/// A name as the rule allows it: bare, or scoped.
fn package_name() -> impl Strategy<Value = String> {
    (proptest::option::of(name_part()), name_part()).prop_map(|(scope, name)| match scope {
        Some(scope) => format!("@{scope}/{name}"),
        None => name,
    })
}

/// A SemVer 2.0 version in canonical form, with optional prerelease and build metadata.
fn version() -> impl Strategy<Value = String> {
    let number = 0u64..10_000;
    let identifier = prop_oneof!["[1-9][0-9]{0,3}", "[a-z][a-z0-9-]{0,6}"];
    (
        number.clone(),
        number.clone(),
        number,
        proptest::option::of(identifier.clone()),
        proptest::option::of("[a-zA-Z0-9]{1,6}"),
    )
        .prop_map(|(major, minor, patch, pre, build)| {
            let mut text = format!("{major}.{minor}.{patch}");
            if let Some(pre) = pre {
                text.push_str(&format!("-{pre}"));
            }
            if let Some(build) = build {
                text.push_str(&format!("+{build}"));
            }
            text
        })
}

/// JSON whitespace as manifests are written: spaces and tabs, maybe a LF or CRLF line break.
fn whitespace() -> impl Strategy<Value = String> {
    "[ \t]{0,3}(\r?\n[ \t]{0,4})?"
}

/// A top-level field other than `version`, whose value may mention versions too.
fn other_field() -> impl Strategy<Value = String> {
    prop_oneof![
        "\"[a-z]{1,8}\": \"[a-z0-9. ]{0,12}\"",
        Just(r#""dependencies": {"version": "9.9.9", "di": "^1.0.0"}"#.to_string()),
        Just(r#""keywords": ["version", "1.2.3"]"#.to_string()),
        Just(r#""description": "the \"version\": \"1.0.0\" field""#.to_string()),
    ]
}

fn manifest(name: &str, version: &str) -> Manifest {
    let text = format!(r#"{{"name":"{name}","version":"{version}"}}"#);
    Manifest::parse(Path::new("chuks.json"), &text).expect("a valid manifest")
}

proptest! {
    #[test]
    fn names_the_rule_allows_are_accepted(name in package_name()) {
        prop_assert_eq!(validate_name(&name), Ok(()));
    }

    #[test]
    fn an_uppercase_letter_anywhere_is_refused(name in package_name(), at in any::<prop::sample::Index>()) {
        let position = at.index(name.len());
        let mut upper = name.clone();
        upper.insert(position, 'X');
        let refused = validate_name(&upper).is_err();
        prop_assert!(refused, "{}", upper);
    }

    #[test]
    fn versions_round_trip_exactly(text in version()) {
        let parsed = parse_version(&text).map_err(|(reason, _)| TestCaseError::fail(reason))?;
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn a_leading_zero_or_a_missing_part_is_refused(major in 0u64..100, minor in 0u64..100) {
        let leading_zero = format!("0{major}.{minor}.0");
        let two_parts = format!("{major}.{minor}");
        let refused = parse_version(&leading_zero).is_err() && parse_version(&two_parts).is_err();
        prop_assert!(refused, "{} / {}", leading_zero, two_parts);
    }

    #[test]
    fn every_documented_tag_form_matches_its_version(name in package_name(), version in version()) {
        let manifest = manifest(&name, &version);
        let forms = [
            format!("v{version}"),
            version.clone(),
            format!("{name}@{version}"),
            format!("{name}/v{version}"),
        ];
        for form in forms {
            let matches = tag::check(&form, &manifest, None).is_ok();
            prop_assert!(matches, "{}", form);
        }
        let prefixed = format!("release-{version}");
        let matches = tag::check(&prefixed, &manifest, Some("release-")).is_ok();
        prop_assert!(matches, "{}", prefixed);
    }

    #[test]
    fn a_different_version_never_matches(name in package_name(), ours in version(), theirs in version()) {
        prop_assume!(ours != theirs);
        let manifest = manifest(&name, &ours);
        let v_form = format!("v{theirs}");
        let scoped_form = format!("{name}@{theirs}");
        let v_matches = tag::check(&v_form, &manifest, None).is_ok();
        let scoped_matches = tag::check(&scoped_form, &manifest, None).is_ok();
        prop_assert!(!v_matches, "{}", v_form);
        prop_assert!(!scoped_matches, "{}", scoped_form);
    }

    #[test]
    fn bump_rewrites_only_the_version_bytes(
        current in version(),
        next in version(),
        before in proptest::collection::vec(other_field(), 0..3),
        after in proptest::collection::vec(other_field(), 0..3),
        gaps in proptest::collection::vec(whitespace(), 4),
        bom in any::<bool>(),
        end in prop_oneof![Just(""), Just("\n"), Just("\r\n")],
    ) {
        let mut fields: Vec<String> = vec![r#""name": "di""#.to_string()];
        fields.extend(before);
        let version_at = fields.len();
        fields.push(format!("\"version\"{}:{}\"{current}\"", gaps[0], gaps[1]));
        fields.extend(after);
        let separator = format!(",{}", gaps[2]);
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str(&format!("{{{}", gaps[3]));
        let mut start = 0;
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                text.push_str(&separator);
            }
            if index == version_at {
                start = text.len() + field.len() - current.len() - 1;
            }
            text.push_str(field);
        }
        text.push_str(&format!("{}}}{end}", gaps[3]));
        // Only the version a key of its own names (a later repeat would win; there is none).
        let manifest = Manifest::parse(Path::new("chuks.json"), &text).expect("valid JSON");
        let next_version = semver::Version::parse(&next).unwrap();
        let rewrite = rewrite_version(&text, &manifest, &next_version)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        let expected = format!("{}{next}{}", &text[..start], &text[start + current.len()..]);
        prop_assert_eq!(rewrite.after, expected);
    }
}
