//! The leak guard: refuses files whose name or contents suggest a secret.
//!
//! Contents are scanned as a byte stream in fixed chunks, keeping a short tail of each chunk
//! so that a token split across two reads is still found. Only a masked form of a match is
//! ever kept, so refusals cannot print the secret they protect.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::{PackError, PackFile};

/// File-name patterns that usually hold secrets; `*` only at the start or the end.
/// Matched against the file name, ignoring ASCII case.
const SECRET_NAMES: [&str; 5] = [".env*", ".npmrc", "*.pem", "id_rsa*", "credentials*"];

/// How many characters of a token's body a masked match may show.
const SHOWN_BODY_CHARS: usize = 4;

const SCAN_CHUNK: usize = 64 * 1024;

/// A token format: a literal prefix, then a body of `min_body..=max_body` characters.
struct TokenPattern {
    kind: &'static str,
    prefix: &'static [u8],
    is_body: fn(u8) -> bool,
    min_body: usize,
    /// `Some(n)` for formats of a fixed length: a longer run of body characters is not a match.
    max_body: Option<usize>,
}

const TOKEN_PATTERNS: [TokenPattern; 10] = [
    TokenPattern {
        kind: "a Chuks registry token",
        prefix: b"chuks_pk_",
        is_body: is_base62,
        min_body: 20,
        max_body: None,
    },
    TokenPattern {
        kind: "a GitHub token",
        prefix: b"ghp_",
        is_body: is_base62,
        min_body: 36,
        max_body: Some(36),
    },
    TokenPattern {
        kind: "a GitHub OAuth token",
        prefix: b"gho_",
        is_body: is_base62,
        min_body: 36,
        max_body: Some(36),
    },
    TokenPattern {
        kind: "a GitHub App user token",
        prefix: b"ghu_",
        is_body: is_base62,
        min_body: 36,
        max_body: Some(36),
    },
    TokenPattern {
        kind: "a GitHub Actions or App installation token",
        prefix: b"ghs_",
        is_body: is_base62,
        min_body: 36,
        max_body: Some(36),
    },
    TokenPattern {
        kind: "a GitHub refresh token",
        prefix: b"ghr_",
        is_body: is_base62,
        min_body: 36,
        max_body: Some(36),
    },
    TokenPattern {
        kind: "a GitLab personal access token",
        prefix: b"glpat-",
        is_body: is_base64url,
        min_body: 20,
        max_body: None,
    },
    TokenPattern {
        kind: "a GitHub fine-grained token",
        prefix: b"github_pat_",
        is_body: is_word,
        min_body: 22,
        max_body: None,
    },
    TokenPattern {
        kind: "an npm token",
        prefix: b"npm_",
        is_body: is_base62,
        min_body: 36,
        max_body: Some(36),
    },
    TokenPattern {
        kind: "a PyPI token",
        prefix: b"pypi-AgEI",
        is_body: is_base64url,
        min_body: 32,
        max_body: None,
    },
];

/// Bytes a pattern needs to look at from its start to decide: prefix, body, one byte past it.
const LOOKAHEAD: usize = lookahead();

const fn lookahead() -> usize {
    let mut longest = 0;
    let mut i = 0;
    while i < TOKEN_PATTERNS.len() {
        let pattern = &TOKEN_PATTERNS[i];
        let body = match pattern.max_body {
            Some(max) => max + 1,
            None => pattern.min_body,
        };
        if pattern.prefix.len() + body > longest {
            longest = pattern.prefix.len() + body;
        }
        i += 1;
    }
    longest
}

/// The largest offset of a prefix's first separator: how far before a `_` or `-` a token can
/// start.
const MAX_SEPARATOR_OFFSET: usize = max_separator_offset();

const fn max_separator_offset() -> usize {
    let mut largest = 0;
    let mut i = 0;
    while i < TOKEN_PATTERNS.len() {
        let offset = TOKEN_PATTERNS[i].separator_offset();
        if offset > largest {
            largest = offset;
        }
        i += 1;
    }
    largest
}

fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// A file the leak guard refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub path: String,
    pub finding: Finding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The file name matches one of the secret-name patterns.
    SecretName { pattern: &'static str },
    /// The contents hold a token; `masked` shows its prefix and a few characters only.
    Token(TokenMatch),
}

/// A token found in a file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMatch {
    pub kind: &'static str,
    /// 1-based line of the token's first byte.
    pub line: usize,
    pub masked: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.finding {
            Finding::SecretName { pattern } => write!(
                f,
                "`{}`: the name matches `{pattern}`, which usually holds secrets",
                self.path
            ),
            Finding::Token(token) => write!(
                f,
                "`{}` line {}: {} `{}`",
                self.path, token.line, token.kind, token.masked
            ),
        }
    }
}

/// Checks every file not allowed by `--allow-file` and reports all refusals together.
pub fn check(files: &[PackFile], allow_files: &[PathBuf]) -> Result<(), PackError> {
    let allowed: Vec<String> = allow_files.iter().map(|path| normalise(path)).collect();
    let mut refusals = Vec::new();
    for file in files {
        if allowed.contains(&file.path) {
            continue;
        }
        if let Some(finding) = inspect(file)? {
            refusals.push(Refusal {
                path: file.path.clone(),
                finding,
            });
        }
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(PackError::Leaks { refusals })
    }
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

fn inspect(file: &PackFile) -> Result<Option<Finding>, PackError> {
    // A symlink is judged by its own name and by its target's.
    let names = [file.path.rsplit('/').next(), file_name(&file.source)];
    if let Some(pattern) = names.into_iter().flatten().find_map(secret_name_rule) {
        return Ok(Some(Finding::SecretName { pattern }));
    }
    let read_error = |source| PackError::Read {
        path: file.source.clone(),
        source,
    };
    let reader = File::open(&file.source).map_err(read_error)?;
    let token = scan_for_tokens(reader, SCAN_CHUNK).map_err(read_error)?;
    Ok(token.map(Finding::Token))
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|name| name.to_str())
}

/// The secret-name pattern a file name matches, if any.
fn secret_name_rule(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.into_iter().find(|pattern| {
        if let Some(prefix) = pattern.strip_suffix('*') {
            name.starts_with(prefix)
        } else if let Some(suffix) = pattern.strip_prefix('*') {
            name.ends_with(suffix)
        } else {
            name == *pattern
        }
    })
}

/// Finds the first token in a stream, reading `chunk` bytes at a time.
fn scan_for_tokens(mut reader: impl Read, chunk: usize) -> io::Result<Option<TokenMatch>> {
    let mut window: Vec<u8> = Vec::with_capacity(chunk + LOOKAHEAD);
    let mut line = 1;
    loop {
        let kept = window.len();
        window.resize(kept + chunk, 0);
        let read = read_some(&mut reader, &mut window[kept..])?;
        window.truncate(kept + read);
        let at_end = read == 0;
        // Positions closer to the end than LOOKAHEAD wait for the next chunk, unless none comes.
        let decided = if at_end {
            window.len()
        } else {
            window.len().saturating_sub(LOOKAHEAD)
        };
        if let Some(found) = scan_window(&window, decided, &mut line) {
            return Ok(Some(found));
        }
        if at_end {
            return Ok(None);
        }
        window.drain(..decided);
    }
}

fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Looks for a token starting at each of the first `decided` positions of `window`; the
/// earliest start wins, then the earlier pattern.
///
/// Every token prefix holds a `_` or a `-` at a fixed offset, so instead of trying each
/// pattern at each byte, the scan jumps between those separators (memchr, many bytes per
/// instruction) and tries only the starts they imply.
fn scan_window(window: &[u8], decided: usize, line: &mut usize) -> Option<TokenMatch> {
    let search_end = (decided + MAX_SEPARATOR_OFFSET).min(window.len());
    // (start, pattern index, body length) of the best match so far.
    let mut best: Option<(usize, usize, usize)> = None;
    for separator in memchr::memchr2_iter(b'_', b'-', &window[..search_end]) {
        if best.is_some_and(|(start, _, _)| separator >= start + MAX_SEPARATOR_OFFSET) {
            break;
        }
        for (index, pattern) in TOKEN_PATTERNS.iter().enumerate() {
            let Some(start) = separator.checked_sub(pattern.separator_offset()) else {
                continue;
            };
            if start >= decided || best.is_some_and(|best| (start, index) >= (best.0, best.1)) {
                continue;
            }
            if let Some(body_len) = pattern.match_len(&window[start..]) {
                best = Some((start, index, body_len));
            }
        }
    }
    let Some((start, index, body_len)) = best else {
        *line += count_newlines(&window[..decided]);
        return None;
    };
    let pattern = &TOKEN_PATTERNS[index];
    Some(TokenMatch {
        kind: pattern.kind,
        line: *line + count_newlines(&window[..start]),
        masked: mask(
            &window[start..start + pattern.prefix.len() + body_len],
            pattern.prefix.len(),
        ),
    })
}

fn count_newlines(bytes: &[u8]) -> usize {
    // A plain filter-count compiles to vector compares: no per-line loop.
    bytes.iter().filter(|byte| **byte == b'\n').count()
}

impl TokenPattern {
    /// Where the prefix's first `_` or `-` is.
    const fn separator_offset(&self) -> usize {
        let mut offset = 0;
        while offset < self.prefix.len() {
            if self.prefix[offset] == b'_' || self.prefix[offset] == b'-' {
                return offset;
            }
            offset += 1;
        }
        panic!("every token prefix holds a `_` or a `-`")
    }

    /// The body length of a token starting at `bytes[0]`, looking at most LOOKAHEAD bytes ahead.
    fn match_len(&self, bytes: &[u8]) -> Option<usize> {
        let body = bytes.strip_prefix(self.prefix)?;
        let limit = self.max_body.map_or(self.min_body, |max| max + 1);
        let run = body
            .iter()
            .take(limit)
            .take_while(|byte| (self.is_body)(**byte))
            .count();
        let fits = run >= self.min_body && self.max_body.is_none_or(|max| run <= max);
        fits.then_some(run)
    }
}

/// The token's prefix and at most four body characters, then `****`.
fn mask(token: &[u8], prefix_len: usize) -> String {
    let shown = (prefix_len + SHOWN_BODY_CHARS).min(token.len());
    format!("{}****", String::from_utf8_lossy(&token[..shown]))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Split so the source holds nothing that looks like a live token.
    const CHUKS: &str = concat!("chuks_pk_", "a1b2C3d4E5f6G7h8I9j0KlMn");
    const GHP: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    const GITHUB_PAT: &str = "github_pat_11ABCDEFG0abcdefghijkl_0123456789";
    const NPM: &str = "npm_0123456789abcdefghijABCDEFGHIJ012345";
    const PYPI: &str = "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAw";

    fn scan(text: &str) -> Option<TokenMatch> {
        scan_for_tokens(text.as_bytes(), SCAN_CHUNK).unwrap()
    }

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
    fn each_token_format_is_found_and_masked() {
        for (token, kind, masked) in [
            (CHUKS, "a Chuks registry token", "chuks_pk_a1b2****"),
            (GHP, "a GitHub token", "ghp_0123****"),
            (
                GITHUB_PAT,
                "a GitHub fine-grained token",
                "github_pat_11AB****",
            ),
            (NPM, "an npm token", "npm_0123****"),
            (PYPI, "a PyPI token", "pypi-AgEIcHlw****"),
            (
                "ghs_0123456789abcdefghijABCDEFGHIJ012345",
                "a GitHub Actions or App installation token",
                "ghs_0123****",
            ),
            (
                "gho_0123456789abcdefghijABCDEFGHIJ012345",
                "a GitHub OAuth token",
                "gho_0123****",
            ),
            (
                "glpat-xY9_zzzzzzzzzzzzzzzzzz",
                "a GitLab personal access token",
                "glpat-xY9_****",
            ),
        ] {
            let found = scan(&format!("line one\nlet key = \"{token}\";\n")).expect(token);
            assert_eq!(
                (found.kind, found.line, found.masked.as_str()),
                (kind, 2, masked)
            );
        }
    }

    #[test]
    fn near_misses_are_not_tokens() {
        for text in [
            "chuks_pk_a1b2C3d4E5f6G7h8I9j",              // 19 body chars
            "chuks_pk_a1b2C3d4-E5f6G7h8I9j0",            // body interrupted
            "ghp_0123456789abcdefghijABCDEFGHIJ01234",   // 35
            "ghp_0123456789abcdefghijABCDEFGHIJ0123456", // 37
            "github_pat_11ABCDEFG0abcdefghij",           // 21
            "npm_0123456789abcdefghijABCDEFGHIJ01234",   // 35
            "npm_0123456789abcdefghijABCDEFGHIJ0123456", // 37
            "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTA",      // 27
            "pypi-AgEcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAw", // other prefix
            "CHUKS_PK_a1b2C3d4E5f6G7h8I9j0KlMn",
        ] {
            assert_eq!(scan(text), None, "{text}");
        }
    }

    #[test]
    fn a_fixed_length_token_may_end_the_file() {
        assert_eq!(
            scan(NPM).map(|m| m.masked),
            Some("npm_0123****".to_string())
        );
        assert_eq!(scan(&format!("{NPM}.")).map(|m| m.line), Some(1));
    }

    #[test]
    fn tokens_split_across_chunks_are_found() {
        for chunk in [1, 2, 3, 7, 16, LOOKAHEAD - 1, LOOKAHEAD, LOOKAHEAD + 1, 100] {
            for padding in 0..2 * LOOKAHEAD {
                let text = format!("{}\n{NPM}\n", "x".repeat(padding));
                let found = scan_for_tokens(text.as_bytes(), chunk).unwrap();
                assert_eq!(
                    found.map(|m| (m.line, m.masked)),
                    Some((2, "npm_0123****".to_string())),
                    "chunk {chunk}, padding {padding}"
                );
            }
        }
    }

    #[test]
    fn short_reads_do_not_hide_tokens() {
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let text = format!("a\nb\nkey={CHUKS}");
        let found = scan_for_tokens(OneByte(text.as_bytes()), SCAN_CHUNK).unwrap();
        assert_eq!(found.map(|m| m.line), Some(3));
    }

    #[test]
    fn masking_shows_the_prefix_and_at_most_four_characters() {
        for token in [CHUKS, GHP, GITHUB_PAT, NPM, PYPI] {
            let found = scan(token).unwrap();
            let shown = found.masked.strip_suffix("****").unwrap();
            let prefix = TOKEN_PATTERNS
                .iter()
                .find(|p| token.as_bytes().starts_with(p.prefix))
                .unwrap()
                .prefix;
            assert_eq!(shown.len(), prefix.len() + SHOWN_BODY_CHARS, "{token}");
            assert!(token.starts_with(shown));
        }
        assert_eq!(mask(b"npm_ab", 4), "npm_ab****");
    }

    #[test]
    fn lookahead_covers_every_pattern() {
        assert_eq!(LOOKAHEAD, "npm_".len() + 37);
        assert_eq!(MAX_SEPARATOR_OFFSET, "github".len());
    }

    /// The byte-by-byte scan the separator jumps replaced, kept as the reference.
    fn scan_every_byte(window: &[u8]) -> Option<TokenMatch> {
        let mut line = 1;
        for start in 0..window.len() {
            for pattern in &TOKEN_PATTERNS {
                if let Some(body_len) = pattern.match_len(&window[start..]) {
                    return Some(TokenMatch {
                        kind: pattern.kind,
                        line,
                        masked: mask(
                            &window[start..start + pattern.prefix.len() + body_len],
                            pattern.prefix.len(),
                        ),
                    });
                }
            }
            if window[start] == b'\n' {
                line += 1;
            }
        }
        None
    }

    #[test]
    fn separator_jumps_find_what_a_byte_by_byte_scan_finds() {
        // Tokens, near misses and separators packed close together, cut at every chunk size.
        let pieces = [
            CHUKS,
            GHP,
            GITHUB_PAT,
            NPM,
            PYPI,
            "_",
            "-",
            "\n",
            "npm_",
            "github_",
            "ghp_x",
            "pypi-AgE",
            "chuks_pk",
            "a_b-c",
            "github_pat_",
            "xx",
            "\n\n",
        ];
        let mut state = 7u32;
        for _ in 0..300 {
            let mut text = String::new();
            for _ in 0..12 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                text.push_str(pieces[(state >> 16) as usize % pieces.len()]);
            }
            let expected = scan_every_byte(text.as_bytes());
            for chunk in [1, 5, LOOKAHEAD, 64, SCAN_CHUNK] {
                let found = scan_for_tokens(text.as_bytes(), chunk).unwrap();
                assert_eq!(found, expected, "chunk {chunk}: {text:?}");
            }
        }
    }

    #[test]
    fn refusal_messages_name_the_file_and_never_the_secret() {
        let token = Refusal {
            path: "src/a.chuks".to_string(),
            finding: Finding::Token(scan(CHUKS).unwrap()),
        };
        assert_eq!(
            token.to_string(),
            "`src/a.chuks` line 1: a Chuks registry token `chuks_pk_a1b2****`"
        );
        let name = Refusal {
            path: "config/.env".to_string(),
            finding: Finding::SecretName { pattern: ".env*" },
        };
        assert_eq!(
            name.to_string(),
            "`config/.env`: the name matches `.env*`, which usually holds secrets"
        );
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
        ];
        let Err(PackError::Leaks { refusals }) = check(&files, &[]) else {
            panic!("expected refusals");
        };
        let paths: Vec<&str> = refusals.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, [".env", "src/key.chuks"]);

        let allowed = [PathBuf::from("./.env"), PathBuf::from("src/key.chuks")];
        assert!(check(&files, &allowed).is_ok());
    }
}
