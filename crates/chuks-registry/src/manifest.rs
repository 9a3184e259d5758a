//! `chuks.json`: reading, validating and locating fields of a package manifest.
//!
//! Validation follows what real Chuks packages write: an npm-like `name`, a strict SemVer 2.0
//! `version`, and `dependencies` whose ranges parse. Unknown fields are kept but ignored.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde_json::{Map, Value};

use crate::untrusted::Untrusted;

/// The manifest's file name inside a package folder.
pub const MANIFEST_FILE: &str = "chuks.json";

/// The largest `chuks.json` read; real manifests are a few KiB.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The longest package name accepted, scope included (npm's limit).
pub const MAX_NAME_LEN: usize = 214;

/// A validated `chuks.json`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub name: String,
    pub version: Version,
    /// The entry file: `entry`, or `main` as some real packages write it.
    pub entry: Option<String>,
    pub dependencies: BTreeMap<String, VersionReq>,
    /// The whole document as written, unknown fields included; sent to the registry as-is.
    pub document: Value,
    /// Where each top-level field's value starts, for pointing at it in messages.
    positions: HashMap<String, Location>,
    /// The bytes of the `version` string between its quotes, in the text given to `parse`.
    version_bytes: Option<Range<usize>>,
}

/// A 1-based position in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "no `chuks.json` at `{}`\nhint: run chuks-ci in the package folder or pass `--manifest PATH`",
        Untrusted::path(path)
    )]
    NotFound { path: PathBuf },

    #[error(
        "cannot read `{}`: {source}\nhint: check the file's permissions",
        Untrusted::path(path)
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "`{}` is {what}, not a regular file\nhint: point `--manifest` at the package's `chuks.json` file",
        Untrusted::path(path)
    )]
    NotAFile { path: PathBuf, what: &'static str },

    #[error(
        "`{}` is larger than {} bytes, the most a manifest may be\nhint: check that `--manifest` names the package's `chuks.json`",
        Untrusted::path(path),
        MAX_MANIFEST_BYTES
    )]
    TooLarge { path: PathBuf },

    #[error("`{}` is not valid UTF-8: byte 0x{byte:02X} at line {}, column {}\nhint: save chuks.json as UTF-8", Untrusted::path(&at.file), at.line, at.column)]
    InvalidUtf8 { at: Location, byte: u8 },

    #[error("`{}` is not valid JSON: {message}\nhint: fix the syntax at line {}, column {}", Untrusted::path(&at.file), at.line, at.column)]
    Syntax { at: Location, message: Untrusted },

    #[error("`{}` must hold a JSON object\nhint: wrap the fields in `{{ … }}`", Untrusted::path(&at.file))]
    NotAnObject { at: Location },

    #[error("`{field}` is missing from `{}`\nhint: add `\"{field}\": {example}` to chuks.json", Untrusted::path(&at.file))]
    MissingField {
        field: &'static str,
        example: &'static str,
        at: Location,
    },

    #[error("`{field}` in `{}` must be {expected}\nhint: {hint}", Untrusted::path(&at.file))]
    WrongType {
        field: Untrusted,
        expected: &'static str,
        hint: String,
        at: Location,
    },

    #[error("`version` `{value}` is not a SemVer 2.0 version ({reason})\nhint: {hint}")]
    InvalidVersion {
        value: Untrusted,
        reason: Untrusted,
        hint: String,
        at: Location,
    },

    #[error(
        "`name` `{value}` is not a valid package name ({reason})\nhint: use lowercase letters, digits, `-`, `_` and `.`, optionally scoped like `@scope/name`"
    )]
    InvalidName {
        value: Untrusted,
        reason: &'static str,
        at: Location,
    },

    #[error(
        "dependency `{dependency}` has range `{range}` that does not parse ({reason})\nhint: use a SemVer range such as `^0.1.0`, `~1.2` or `>=1.0.0, <2.0.0`"
    )]
    InvalidDependency {
        dependency: Untrusted,
        range: Untrusted,
        reason: Untrusted,
        at: Location,
    },
}

impl ManifestError {
    pub fn location(&self) -> Option<&Location> {
        match self {
            ManifestError::NotFound { .. }
            | ManifestError::Unreadable { .. }
            | ManifestError::NotAFile { .. }
            | ManifestError::TooLarge { .. } => None,
            ManifestError::InvalidUtf8 { at, .. }
            | ManifestError::Syntax { at, .. }
            | ManifestError::NotAnObject { at }
            | ManifestError::MissingField { at, .. }
            | ManifestError::WrongType { at, .. }
            | ManifestError::InvalidVersion { at, .. }
            | ManifestError::InvalidName { at, .. }
            | ManifestError::InvalidDependency { at, .. } => Some(at),
        }
    }
}

/// The manifest location carried by an error in a chain, if it is a manifest error.
pub fn location_of(err: &(dyn std::error::Error + 'static)) -> Option<Location> {
    err.downcast_ref::<ManifestError>()
        .and_then(ManifestError::location)
        .cloned()
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let bytes = read_bytes(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|err| {
            let valid = &bytes[..err.valid_up_to()];
            ManifestError::InvalidUtf8 {
                at: position_after(path, valid),
                byte: bytes[err.valid_up_to()],
            }
        })?;
        Manifest::parse(path, text)
    }

    /// Validates manifest text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let bom_len = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let text = &text[bom_len..];
        let at = |line: usize, column: usize| Location {
            file: path.to_path_buf(),
            line,
            column,
        };
        let document: Value = serde_json::from_str(text).map_err(|err| ManifestError::Syntax {
            at: at(err.line().max(1), err.column().max(1)),
            message: syntax_message(&err).into(),
        })?;
        let spans = top_level_value_spans(text);
        let positions: HashMap<String, Location> = spans
            .iter()
            .map(|(key, span)| (key.clone(), at(span.line, span.column)))
            .collect();
        let start = first_brace_position(text);
        let Value::Object(fields) = &document else {
            return Err(ManifestError::NotAnObject {
                at: at(start.0, start.1),
            });
        };
        let field_at = |field: &str| {
            positions
                .get(field)
                .cloned()
                .unwrap_or_else(|| at(start.0, start.1))
        };

        let name = required_string(fields, "name", "\"my-package\"", &field_at)?;
        validate_name(name).map_err(|reason| ManifestError::InvalidName {
            value: name.into(),
            reason,
            at: field_at("name"),
        })?;
        let version_text = required_string(fields, "version", "\"0.1.0\"", &field_at)?;
        let version = parse_version(version_text).map_err(|(reason, hint)| {
            ManifestError::InvalidVersion {
                value: version_text.into(),
                reason: reason.into(),
                hint,
                at: field_at("version"),
            }
        })?;
        for field in [
            "description",
            "entry",
            "main",
            "author",
            "license",
            "visibility",
        ] {
            optional_string(fields, field, &field_at)?;
        }
        let entry = ["entry", "main"]
            .into_iter()
            .find_map(|field| fields.get(field).and_then(Value::as_str))
            .map(str::to_string);
        check_keywords(fields, &field_at)?;
        let dependencies = parse_dependencies(fields, &field_at)?;

        let version_bytes = spans
            .get("version")
            .and_then(|span| string_contents(text, &span.bytes))
            .map(|inner| bom_len + inner.start..bom_len + inner.end);
        Ok(Manifest {
            path: path.to_path_buf(),
            name: name.to_string(),
            version,
            entry,
            dependencies,
            document,
            positions,
            version_bytes,
        })
    }

    /// Where a top-level field's value starts, or the object's opening brace if it is absent.
    pub fn location_of_field(&self, field: &str) -> Location {
        self.positions.get(field).cloned().unwrap_or(Location {
            file: self.path.clone(),
            line: 1,
            column: 1,
        })
    }

    /// `repository` as a URL, whether written as a string or as `{ "url": … }`.
    pub fn repository_url(&self) -> Option<String> {
        let repository = self.document.get("repository")?;
        repository
            .as_str()
            .or_else(|| repository.get("url").and_then(|u| u.as_str()))
            .map(str::to_string)
    }

    /// The bytes of the `version` string between its quotes, as offsets into the text that was
    /// parsed (a byte-order mark included): what `bump` rewrites, and nothing else. `None` if
    /// the scanner could not place it (the parsed document is then the judge).
    pub fn version_bytes(&self) -> Option<Range<usize>> {
        self.version_bytes.clone()
    }

    /// The folder holding the manifest: the package root.
    pub fn package_dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }
}

/// The manifest's bytes: a regular file (symlinks followed) of at most [`MAX_MANIFEST_BYTES`].
/// A FIFO would block the read and a device (`/dev/zero`) would never end it.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ManifestError> {
    let unreadable = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => ManifestError::NotFound {
            path: path.to_path_buf(),
        },
        _ => ManifestError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    };
    let not_a_file = |file_type: std::fs::FileType| ManifestError::NotAFile {
        path: path.to_path_buf(),
        what: describe_file_type(file_type),
    };
    // Checked before opening, since opening a FIFO blocks until a writer comes.
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(not_a_file(metadata.file_type()));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Checked again on what was opened, in case the path changed in between.
    let opened = file.metadata().map_err(unreadable)?;
    if !opened.is_file() {
        return Err(not_a_file(opened.file_type()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

fn describe_file_type(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "a special file"
    }
}

/// The 1-based line and column just after `text`, counting characters.
fn position_after(path: &Path, text: &[u8]) -> Location {
    let text = String::from_utf8_lossy(text);
    let line_start = text.rfind('\n').map_or(0, |index| index + 1);
    Location {
        file: path.to_path_buf(),
        line: text.matches('\n').count() + 1,
        column: text[line_start..].chars().count() + 1,
    }
}

fn syntax_message(err: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; the location is printed separately.
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_string(),
        None => text,
    }
}

fn required_string<'a>(
    fields: &'a Map<String, Value>,
    field: &'static str,
    example: &'static str,
    field_at: &impl Fn(&str) -> Location,
) -> Result<&'a str, ManifestError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(ManifestError::MissingField {
            field,
            example,
            at: field_at(field),
        }),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(ManifestError::WrongType {
            field: field.into(),
            expected: "a string",
            hint: format!("write it as `\"{field}\": {example}`"),
            at: field_at(field),
        }),
    }
}

fn optional_string(
    fields: &Map<String, Value>,
    field: &str,
    field_at: &impl Fn(&str) -> Location,
) -> Result<(), ManifestError> {
    match fields.get(field) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(ManifestError::WrongType {
            field: field.into(),
            expected: "a string",
            hint: format!("write `{field}` as a quoted string"),
            at: field_at(field),
        }),
    }
}

fn check_keywords(
    fields: &Map<String, Value>,
    field_at: &impl Fn(&str) -> Location,
) -> Result<(), ManifestError> {
    match fields.get("keywords") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(_) => Err(ManifestError::WrongType {
            field: "keywords".into(),
            expected: "an array of strings",
            hint: "write it as `\"keywords\": [\"json\", \"parser\"]`".to_string(),
            at: field_at("keywords"),
        }),
    }
}

fn parse_dependencies(
    fields: &Map<String, Value>,
    field_at: &impl Fn(&str) -> Location,
) -> Result<BTreeMap<String, VersionReq>, ManifestError> {
    let entries = match fields.get("dependencies") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => {
            return Err(ManifestError::WrongType {
                field: "dependencies".into(),
                expected: "an object of package name to version range",
                hint: "write it as `\"dependencies\": { \"di\": \"^0.1.0\" }`".to_string(),
                at: field_at("dependencies"),
            });
        }
    };
    let mut dependencies = BTreeMap::new();
    for (dependency, range) in entries {
        let invalid = |range: String, reason: String| ManifestError::InvalidDependency {
            dependency: dependency.as_str().into(),
            range: range.into(),
            reason: reason.into(),
            at: field_at("dependencies"),
        };
        if let Err(reason) = validate_name(dependency) {
            return Err(invalid(String::new(), format!("bad name: {reason}")));
        }
        let Value::String(range) = range else {
            return Err(invalid(range.to_string(), "not a string".to_string()));
        };
        let requirement =
            VersionReq::parse(range).map_err(|err| invalid(range.clone(), err.to_string()))?;
        dependencies.insert(dependency.clone(), requirement);
    }
    Ok(dependencies)
}

/// Parses a strict SemVer 2.0 version; on failure gives the reason and a concrete fix.
pub fn parse_version(text: &str) -> Result<Version, (String, String)> {
    if let Some(rest) = text.strip_prefix(['v', 'V']) {
        if Version::parse(rest).is_ok() {
            return Err((
                "the `v` belongs in the git tag, not the version".to_string(),
                format!("write `\"version\": \"{rest}\"`; tag the release `v{rest}`"),
            ));
        }
    }
    Version::parse(text).map_err(|err| {
        let hint = match suggest_version(text) {
            Some(fixed) => format!("write `\"version\": \"{fixed}\"`"),
            None => "use MAJOR.MINOR.PATCH, e.g. `\"version\": \"1.2.0\"`".to_string(),
        };
        (err.to_string(), hint)
    })
}

/// A likely intended version for common mistakes: `1.2` → `1.2.0`, `01.2.0` → `1.2.0`.
fn suggest_version(text: &str) -> Option<String> {
    let core_end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(core_end);
    let mut parts: Vec<u64> = core
        .split('.')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    parts.resize(3, 0);
    let fixed = format!("{}.{}.{}{rest}", parts[0], parts[1], parts[2]);
    Version::parse(&fixed).ok().map(|_| fixed)
}

/// Checks the package-name rule documented in docs/chuks-json.md.
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("it is longer than 214 characters");
    }
    let bare = match name.strip_prefix('@') {
        Some(scoped) => {
            let (scope, bare) = scoped
                .split_once('/')
                .ok_or("a scoped name needs `/`, like `@scope/name`")?;
            validate_part(scope)?;
            bare
        }
        None => name,
    };
    validate_part(bare)
}

fn validate_part(part: &str) -> Result<(), &'static str> {
    let mut chars = part.chars();
    match chars.next() {
        None => return Err("a scope or name part is empty"),
        Some(first) if !(first.is_ascii_lowercase() || first.is_ascii_digit()) => {
            return Err("each part must start with a lowercase letter or digit");
        }
        Some(_) => {}
    }
    if part.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("uppercase letters are not allowed");
    }
    if !part
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
    {
        return Err("only lowercase letters, digits, `-`, `_` and `.` are allowed");
    }
    Ok(())
}

/// Line and column (1-based) of the opening `{`, where a missing field "should be".
fn first_brace_position(text: &str) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in text.chars() {
        if c == '{' {
            return (line, column);
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (1, 1)
}

/// Where a top-level value is written: its first character's position, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueSpan {
    line: usize,
    column: usize,
    /// Byte offsets of the whole value (quotes included for a string) in the scanned text.
    bytes: Range<usize>,
}

/// The bytes between the quotes of a string value, or `None` if `value` is not one.
fn string_contents(text: &str, value: &Range<usize>) -> Option<Range<usize>> {
    let written = text.get(value.clone())?;
    let quoted = written.len() >= 2 && written.starts_with('"') && written.ends_with('"');
    quoted.then(|| value.start + 1..value.end - 1)
}

/// Finds where each top-level key's value is written; like serde_json, the last occurrence of
/// a key wins.
/// Only called on text that already parsed as JSON, so it tracks just strings, nesting and
/// the key/value state.
fn top_level_value_spans(text: &str) -> HashMap<String, ValueSpan> {
    let mut spans = HashMap::new();
    let (mut line, mut column) = (1usize, 0usize);
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    let mut pending_key: Option<String> = None;
    let mut last_string = String::new();
    let mut awaiting_value = false;
    // The value being read: its key, its start, and where its last non-space character ends.
    let mut open: Option<(String, usize, usize, usize)> = None;
    let mut value_end = 0usize;
    while let Some((offset, c)) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
            continue;
        }
        column += 1;
        if awaiting_value && !c.is_whitespace() {
            if let Some(key) = pending_key.take() {
                open = Some((key, line, column, offset));
            }
            awaiting_value = false;
        }
        if depth == 1 && matches!(c, ',' | '}') {
            if let Some((key, line, column, start)) = open.take() {
                spans.insert(
                    key,
                    ValueSpan {
                        line,
                        column,
                        bytes: start..value_end,
                    },
                );
            }
        }
        match c {
            '"' => {
                last_string.clear();
                while let Some((_, s)) = chars.next() {
                    column += 1;
                    match s {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                column += 1;
                                last_string.push(escaped);
                            }
                        }
                        '"' => break,
                        other => last_string.push(other),
                    }
                }
            }
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            ':' if depth == 1 => {
                pending_key = Some(std::mem::take(&mut last_string));
                awaiting_value = true;
            }
            _ => {}
        }
        if !c.is_whitespace() {
            value_end = chars.peek().map_or(text.len(), |&(next, _)| next);
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("chuks.json"), text)
    }

    #[test]
    fn accepts_real_package_shapes() {
        let manifest = parse(
            r#"{
  "name": "@chuks/numpy",
  "version": "1.2.0-rc.1+build.5",
  "description": "arrays",
  "entry": "src/index.chuks",
  "author": "Chuks",
  "license": "MIT",
  "keywords": ["math"],
  "repository": {"type": "git", "url": "https://example.invalid/numpy"},
  "dependencies": {"di": "^0.1.0", "@chuks/core": ">=1.0.0, <2.0.0"},
  "visibility": "public",
  "declaredDomains": ["example.invalid"],
  "iosEngine": {"min": 14}
}"#,
        )
        .unwrap();
        assert_eq!(manifest.name, "@chuks/numpy");
        assert_eq!(manifest.version.to_string(), "1.2.0-rc.1+build.5");
        assert_eq!(manifest.dependencies.len(), 2);
        assert_eq!(manifest.location_of_field("version").line, 3);
        assert_eq!(manifest.location_of_field("version").column, 14);
    }

    #[test]
    fn main_is_read_as_the_entry() {
        let with_main = parse(r#"{"name":"di","version":"1.0.0","main":"src/di.chuks"}"#).unwrap();
        assert_eq!(with_main.entry.as_deref(), Some("src/di.chuks"));
        let with_entry =
            parse(r#"{"name":"di","version":"1.0.0","entry":"a.chuks","main":"b.chuks"}"#).unwrap();
        assert_eq!(with_entry.entry.as_deref(), Some("a.chuks"));
        assert!(parse(r#"{"name":"di","version":"1.0.0","main":3}"#).is_err());
    }

    #[test]
    fn tolerates_a_bom() {
        let manifest = parse("\u{feff}{\"name\":\"di\",\"version\":\"0.1.0\"}").unwrap();
        assert_eq!(manifest.name, "di");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse("{\n  \"name\": \"di\",\n  \"version\": \"0.1.0\",\n}").unwrap_err();
        let location = err.location().unwrap();
        assert_eq!((location.line, location.column), (4, 1));
    }

    #[test]
    fn missing_version_points_at_the_object() {
        let err = parse("\n\n{ \"name\": \"di\" }").unwrap_err();
        assert!(matches!(
            err,
            ManifestError::MissingField {
                field: "version",
                ..
            }
        ));
        assert_eq!(err.location().unwrap().line, 3);
    }

    #[test]
    fn non_semver_versions_are_refused_with_a_fix() {
        for (bad, fix) in [("1.2", "1.2.0"), ("v1.2.0", "1.2.0"), ("01.2.0", "1.2.0")] {
            let err = parse(&format!("{{\"name\":\"di\",\"version\":\"{bad}\"}}")).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, ManifestError::InvalidVersion { .. }), "{bad}");
            assert!(text.contains(&format!("\"version\": \"{fix}\"")), "{text}");
        }
    }

    #[test]
    fn bad_dependency_range_is_an_error() {
        let err = parse(r#"{"name":"di","version":"0.1.0","dependencies":{"x":"not a range"}}"#)
            .unwrap_err();
        assert!(matches!(err, ManifestError::InvalidDependency { .. }));
    }

    #[test]
    fn name_rule() {
        for good in ["di", "@chuks/numpy", "my_package", "a.b-c", "0x", "@a1/b"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", "Di", "@chuks", "@/x", "@chuks/", "-x", ".x", "_x", "a b", "a/b", "@a/b/c", "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(validate_name(&"a".repeat(215)).is_err());
    }

    #[test]
    fn strict_semver() {
        for good in [
            "0.0.0",
            "1.2.3-alpha.1",
            "1.2.3+build.01",
            "10.20.30-rc.1+meta",
        ] {
            assert!(parse_version(good).is_ok(), "{good}");
        }
        for bad in [
            "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-01", " 1.2.3", "1.2.3-",
        ] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
    }
}
