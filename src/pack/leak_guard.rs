//! The leak guard: refuses files whose name, path or contents suggest a secret.
//!
//! What it refuses (docs/security.md lists the same):
//! - names: a file named like [`SECRET_NAMES`] (`.env*`, `.npmrc`, `*.pem`, `id_rsa*`,
//!   `credentials*`, ignoring case); any file under a folder named `.env*`; a file or folder
//!   whose name holds a token; an SQLite side file ([`DATABASE_NAMES`]: `*-wal`, `*-shm`). A
//!   symlink is judged by its own name and by its target's.
//! - contents ([`content`]): every token format of [`crate::token_patterns`] (Chuks, GitHub,
//!   GitLab, npm, PyPI) as written, behind a cheap escape (percent-encoding, JSON `\u`, HTML
//!   character references, zero-width characters), in base64 (standard or URL-safe, at any
//!   offset, inside longer base64) and in UTF-16 or UTF-32 (LE or BE, with or without a BOM);
//!   private keys by their first line (`-----BEGIN … PRIVATE KEY-----`, OpenSSH, PGP,
//!   `PuTTY-User-Key-File-`), also inside a JSON string or an indented YAML block, whatever the
//!   file is called; SQLite databases, write-ahead logs and journals by their first bytes.
//! - archives ([`unpack`]): gzip, zip (stored or deflate, also appended to another file) and
//!   tar (v7 too), recognised by their bytes, are looked into (names and contents, nested up to
//!   4 deep) within a decompression budget; a decompression bomb, or an archive that cannot be
//!   read, is refused.
//!
//! Only a masked form of a match is ever kept, and paths are printed with tokens masked and as
//! [`Untrusted`] text, so refusals can neither print the secret they protect nor let a file
//! name speak to the terminal or the CI runner.

mod content;
mod unpack;

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{PackError, PackFile};
use crate::redact::mask_tokens;
use crate::untrusted::Untrusted;
pub use content::Encoding;
use content::{ContentMatch, Secret};

/// File-name patterns that usually hold secrets; `*` only at the start or the end.
/// Matched against the file name, ignoring ASCII case.
const SECRET_NAMES: [&str; 5] = [".env*", ".npmrc", "*.pem", "id_rsa*", "credentials*"];

/// Why the official CLI ships what chuks-ci's own tarball leaves out.
const OFFICIAL_CLI_READS: &str = " (it reads only `.gitignore`)";

/// Folder-name patterns whose every file is refused.
const SECRET_FOLDERS: [&str; 1] = [".env*"];

/// SQLite's side files, by name: they hold pages of the database (the reference registry's
/// `registry.sqlite3-wal` holds its token table), and an `-shm` file stands next to them.
const DATABASE_NAMES: [(&str, &str); 2] = [
    ("*-wal", "an SQLite write-ahead log"),
    ("*-shm", "an SQLite shared-memory index"),
];

/// The first bytes of SQLite's files. A write-ahead log's magic is followed by its format
/// version, 3007000.
const DATABASE_MAGIC: [(&[u8], &str); 4] = [
    (b"SQLite format 3\0", "an SQLite database"),
    (
        b"\x37\x7f\x06\x82\x00\x2d\xe2\x18",
        "an SQLite write-ahead log",
    ),
    (
        b"\x37\x7f\x06\x83\x00\x2d\xe2\x18",
        "an SQLite write-ahead log",
    ),
    (
        b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7",
        "an SQLite rollback journal",
    ),
];

/// A file the leak guard refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The packed file's archive path.
    pub path: Untrusted,
    /// For a finding inside an archive: the members leading to it, outermost first.
    pub members: Vec<Untrusted>,
    pub finding: Finding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The file name matches one of the secret-name patterns.
    SecretName { pattern: &'static str },
    /// The file lies under a folder named like a secret: `folder` is that folder's path.
    SecretFolder {
        folder: String,
        pattern: &'static str,
    },
    /// A file or folder name holds a token.
    TokenInName {
        kind: &'static str,
        encoding: Encoding,
    },
    /// The contents hold a token; `masked` shows its prefix and a few characters only.
    Token(TokenMatch),
    /// The contents hold a private key.
    PrivateKey {
        kind: &'static str,
        line: usize,
        encoding: Encoding,
    },
    /// An SQLite database or one of its side files, by its first bytes or its name.
    Database { kind: &'static str },
    /// A tarball chuks-ci wrote, which the official CLI would ship.
    OwnTarball,
    /// A file in a registry's data folder (`folder`), which the official CLI would ship.
    RegistryData { folder: String },
    /// An archive decompresses past the limits.
    Bomb { reason: String },
    /// An archive that cannot be looked into.
    Unscannable { reason: String },
}

/// A token found in a file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMatch {
    pub kind: &'static str,
    /// 1-based line of the token's first byte.
    pub line: usize,
    pub masked: String,
    pub encoding: Encoding,
}

impl Finding {
    fn from_content(found: ContentMatch) -> Finding {
        match found.secret {
            Secret::Token { kind, masked } => Finding::Token(TokenMatch {
                kind,
                line: found.line,
                masked,
                encoding: found.encoding,
            }),
            Secret::PrivateKey { kind } => Finding::PrivateKey {
                kind,
                line: found.line,
                encoding: found.encoding,
            },
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", masked_path(&self.path))?;
        for member in &self.members {
            write!(f, " member `{}`", masked_path(member))?;
        }
        match &self.finding {
            Finding::SecretName { pattern } => {
                write!(
                    f,
                    ": the name matches `{pattern}`, which usually holds secrets"
                )
            }
            Finding::SecretFolder { folder, pattern } => write!(
                f,
                ": it is under `{}/`, and folders named `{pattern}` usually hold secrets",
                masked_path(&Untrusted::new(folder.as_str()))
            ),
            Finding::TokenInName { kind, encoding } => {
                write!(f, ": the name holds {kind}{}", encoded(*encoding))
            }
            Finding::Token(token) => write!(
                f,
                " line {}: {} `{}`{}",
                token.line,
                token.kind,
                token.masked,
                encoded(token.encoding)
            ),
            Finding::PrivateKey {
                kind,
                line,
                encoding,
            } => write!(f, " line {line}: {kind}{}", encoded(*encoding)),
            Finding::Database { kind } => {
                write!(f, ": {kind}, which holds data, not package files")
            }
            Finding::OwnTarball => write!(
                f,
                ": a tarball chuks-ci packed, which the official `chuks` CLI would ship{OFFICIAL_CLI_READS}"
            ),
            Finding::RegistryData { folder } => write!(
                f,
                ": it is in `{}/`, a chuks-ci registry's data folder, which the official `chuks` CLI would ship{OFFICIAL_CLI_READS}",
                masked_path(&Untrusted::new(folder.as_str()))
            ),
            Finding::Bomb { reason } => {
                write!(f, ": {reason}; it was not unpacked (decompression bomb)")
            }
            Finding::Unscannable { reason } => {
                write!(f, ": the leak guard cannot look inside: {reason}")
            }
        }
    }
}

fn encoded(encoding: Encoding) -> String {
    encoding
        .describe()
        .map(|words| format!(" ({words})"))
        .unwrap_or_default()
}

/// A path for messages: tokens in it are masked, a component holding an encoded token is
/// replaced by the token's masked form, and the rest is escaped as untrusted text.
fn masked_path(path: &Untrusted) -> Untrusted {
    let masked = path
        .unescaped()
        .split('/')
        .map(
            |component| match content::scan_bytes(component.as_bytes()) {
                Some(ContentMatch {
                    secret: Secret::Token { masked, .. },
                    encoding,
                    ..
                }) if encoding != Encoding::Plain => masked,
                _ => mask_tokens(component, content::SHOWN_BODY_CHARS).into_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    Untrusted::new(masked)
}

/// The `--allow-file` paths in archive form.
pub fn allowed(allow_files: &[PathBuf]) -> HashSet<String> {
    allow_files.iter().map(|path| normalise(path)).collect()
}

/// Checks every file not `allowed` (by `--allow-file`) and reports all refusals together, in
/// the files' order, with those the plan made already (`made`, in path order, as a plan's
/// files are) merged in. Files are inspected on every core: the scan runs before compression
/// starts.
pub fn check(
    files: &[PackFile],
    allowed: &HashSet<String>,
    made: Vec<Refusal>,
) -> Result<(), PackError> {
    let inspector = unpack::Inspector::new(unpack::DEFAULT_LIMITS);
    let checked: Vec<&PackFile> = files
        .iter()
        .filter(|file| !allowed.contains(&file.path))
        .collect();
    let results = on_every_core(&checked, |file| inspect(file, &inspector));
    let mut made = made.into_iter().peekable();
    let mut refusals = Vec::new();
    for (file, result) in checked.iter().zip(results) {
        if let Some(located) = result? {
            while let Some(earlier) =
                made.next_if(|earlier| earlier.path.unescaped() <= file.path.as_str())
            {
                refusals.push(earlier);
            }
            refusals.push(Refusal {
                path: Untrusted::new(file.path.as_str()),
                members: located.members.into_iter().map(Untrusted::from).collect(),
                finding: located.finding,
            });
        }
    }
    refusals.extend(made);
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(PackError::Leaks { refusals })
    }
}

/// `work` applied to every item, by as many threads as there are cores, answers in order.
fn on_every_core<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let next = AtomicUsize::new(0);
    let mut answers: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(items.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            return done;
                        };
                        done.push((index, work(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    answers.sort_unstable_by_key(|(index, _)| *index);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

/// An `--allow-file` path in archive form: `./a\b` and `a/b` name the same file.
fn normalise(path: &Path) -> String {
    path.components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_string_lossy().replace('\\', "/")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn inspect(
    file: &PackFile,
    inspector: &unpack::Inspector,
) -> Result<Option<unpack::Located>, PackError> {
    // A symlink is judged by its own name and by its target's.
    let target_name = file_name(&file.source).and_then(file_name_finding);
    if let Some(finding) = name_finding(&file.path).or(target_name) {
        return Ok(Some(unpack::Located {
            members: Vec::new(),
            finding,
        }));
    }
    inspector
        .inspect_file(&file.source)
        .map_err(|source| PackError::Read {
            path: file.source.clone(),
            source,
        })
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|name| name.to_str())
}

/// What the `/`-separated `path` of a file (packed, or inside an archive) gives away by its
/// names alone: its file name, a secret folder above it, or a token in any component.
fn name_finding(path: &str) -> Option<Finding> {
    let components: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let (file, folders) = components.split_last()?;
    if let Some(finding) = file_name_finding(file) {
        return Some(finding);
    }
    for (depth, folder) in folders.iter().enumerate() {
        if let Some(pattern) = SECRET_FOLDERS
            .into_iter()
            .find(|pattern| matches_name(pattern, folder))
        {
            return Some(Finding::SecretFolder {
                folder: components[..=depth].join("/"),
                pattern,
            });
        }
    }
    components.iter().find_map(|component| {
        let found = content::scan_bytes(component.as_bytes())?;
        match found.secret {
            Secret::Token { kind, .. } => Some(Finding::TokenInName {
                kind,
                encoding: found.encoding,
            }),
            Secret::PrivateKey { .. } => None,
        }
    })
}

/// What a file name alone gives away: a secret-name pattern or an SQLite side file.
fn file_name_finding(name: &str) -> Option<Finding> {
    if let Some(pattern) = secret_name_rule(name) {
        return Some(Finding::SecretName { pattern });
    }
    DATABASE_NAMES
        .into_iter()
        .find(|(pattern, _)| matches_name(pattern, name))
        .map(|(_, kind)| Finding::Database { kind })
}

/// What the first bytes of a file say it is, if it is one of SQLite's.
fn database_kind(head: &[u8]) -> Option<&'static str> {
    DATABASE_MAGIC
        .into_iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, kind)| kind)
}

/// The secret-name pattern a file name matches, if any.
fn secret_name_rule(name: &str) -> Option<&'static str> {
    SECRET_NAMES
        .into_iter()
        .find(|pattern| matches_name(pattern, name))
}

/// Whether `name` matches `pattern` (`*` only at the start or the end), ignoring ASCII case.
fn matches_name(pattern: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else {
        name == pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Split so the source holds nothing that looks like a live token.
    const CHUKS: &str = concat!("chuks_pk_", "a1b2C3d4E5f6G7h8I9j0KlMn");
    const GHP: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

    #[test]
    fn secret_names_are_refused() {
        for (name, pattern) in [
            (".env", ".env*"),
            (".env.local", ".env*"),
            (".ENV.production", ".env*"),
            (".npmrc", ".npmrc"),
            ("server.pem", "*.pem"),
            ("id_rsa", "id_rsa*"),
            ("id_rsa.pub", "id_rsa*"),
            ("credentials", "credentials*"),
            ("credentials.json", "credentials*"),
        ] {
            assert_eq!(secret_name_rule(name), Some(pattern), "{name}");
        }
        for name in [
            "env",
            "my.env",
            ".npmrc.bak",
            "pem",
            "id_ed25519",
            "my_credentials",
        ] {
            assert_eq!(secret_name_rule(name), None, "{name}");
        }
    }

    #[test]
    fn sqlite_side_files_are_refused_by_name() {
        for (path, kind) in [
            (
                "registry-data/registry.sqlite3-wal",
                "an SQLite write-ahead log",
            ),
            ("app.db-SHM", "an SQLite shared-memory index"),
        ] {
            assert_eq!(
                name_finding(path),
                Some(Finding::Database { kind }),
                "{path}"
            );
        }
        for path in ["wal", "docs/wal.md", "src/shm.chuks", "walrus-shmoo"] {
            assert_eq!(name_finding(path), None, "{path}");
        }
    }

    #[test]
    fn folders_and_tokens_in_names_are_refused() {
        assert_eq!(
            name_finding("config/.env/settings.json"),
            Some(Finding::SecretFolder {
                folder: "config/.env".to_string(),
                pattern: ".env*"
            })
        );
        assert_eq!(name_finding("src/environment/a.chuks"), None);
        for (path, encoding) in [
            (format!("keys/{CHUKS}.txt"), Encoding::Plain),
            (format!("{CHUKS}/readme.md"), Encoding::Plain),
            (
                "t/chuks%5Fpk%5Fa1b2C3d4E5f6G7h8I9j0KlMn".to_string(),
                Encoding::Percent,
            ),
        ] {
            assert_eq!(
                name_finding(&path),
                Some(Finding::TokenInName {
                    kind: "a Chuks registry token",
                    encoding
                }),
                "{path}"
            );
        }
    }

    #[test]
    fn refusal_messages_name_the_file_and_never_the_secret() {
        let token = Refusal {
            path: "src/a.chuks".into(),
            members: Vec::new(),
            finding: Finding::Token(TokenMatch {
                kind: "a Chuks registry token",
                line: 1,
                masked: "chuks_pk_a1b2****".to_string(),
                encoding: Encoding::Plain,
            }),
        };
        assert_eq!(
            token.to_string(),
            "`src/a.chuks` line 1: a Chuks registry token `chuks_pk_a1b2****`"
        );
        let name = Refusal {
            path: "config/.env".into(),
            members: Vec::new(),
            finding: Finding::SecretName { pattern: ".env*" },
        };
        assert_eq!(
            name.to_string(),
            "`config/.env`: the name matches `.env*`, which usually holds secrets"
        );
        let in_name = Refusal {
            path: format!("keys/{CHUKS}").into(),
            members: vec!["chuks%5Fpk%5Fa1b2C3d4E5f6G7h8I9j0KlMn/x".into()],
            finding: Finding::TokenInName {
                kind: "a Chuks registry token",
                encoding: Encoding::Plain,
            },
        };
        assert_eq!(
            in_name.to_string(),
            "`keys/chuks_pk_a1b2****` member `chuks_pk_a1b2****/x`: the name holds a Chuks registry token"
        );
    }

    #[test]
    fn file_names_print_escaped_in_refusals() {
        let refusal = Refusal {
            path: "a\n::error::forged\u{1b}[2J\u{202e}.env".into(),
            members: vec!["##[warning]x".into()],
            finding: Finding::Database {
                kind: "an SQLite database",
            },
        };
        let shown = refusal.to_string();
        assert!(
            shown.starts_with(
                "`a\\n:\\u{3a}error:\\u{3a}forged\\u{1b}[2J\\u{202e}.env` member `##\\u{5b}warning]x`: an SQLite database"
            ),
            "{shown}"
        );
    }

    #[test]
    fn refusals_the_plan_made_are_merged_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PackFile> = ["a/.env", "c/.npmrc"]
            .into_iter()
            .map(|path| PackFile {
                path: path.to_string(),
                source: dir.path().join("none"),
                size: 0,
                executable: false,
            })
            .collect();
        let made = |path: &str| Refusal {
            path: path.into(),
            members: Vec::new(),
            finding: Finding::OwnTarball,
        };
        let Err(PackError::Leaks { refusals }) =
            check(&files, &HashSet::new(), vec![made("b.tgz"), made("d.tgz")])
        else {
            panic!("expected refusals");
        };
        let paths: Vec<&str> = refusals.iter().map(|r| r.path.unescaped()).collect();
        assert_eq!(paths, ["a/.env", "b.tgz", "c/.npmrc", "d.tgz"]);
    }

    #[test]
    fn allow_file_paths_are_normalised() {
        assert_eq!(normalise(Path::new("./config/.env")), "config/.env");
        assert_eq!(normalise(Path::new("config/.env")), "config/.env");
    }

    #[test]
    fn check_reports_every_refused_file_and_honours_allowances() {
        let dir = tempfile::tempdir().unwrap();
        let file = |path: &str, contents: &str| {
            let source = dir.path().join(path.replace('/', "_"));
            std::fs::write(&source, contents).unwrap();
            PackFile {
                path: path.to_string(),
                size: contents.len() as u64,
                executable: false,
                source,
            }
        };
        let files = [
            file(".env", "A=1"),
            file("src/main.chuks", "print(1)"),
            file("src/key.chuks", &format!("x\n{GHP}")),
            file(
                "docs/deploy.txt",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
            ),
        ];
        let Err(PackError::Leaks { refusals }) = check(&files, &HashSet::new(), Vec::new()) else {
            panic!("expected refusals");
        };
        let paths: Vec<&str> = refusals.iter().map(|r| r.path.unescaped()).collect();
        assert_eq!(paths, [".env", "src/key.chuks", "docs/deploy.txt"]);

        let allowed = [
            PathBuf::from("./.env"),
            PathBuf::from("src/key.chuks"),
            PathBuf::from("docs/deploy.txt"),
        ];
        assert!(check(&files, &super::allowed(&allowed), Vec::new()).is_ok());
    }
}
