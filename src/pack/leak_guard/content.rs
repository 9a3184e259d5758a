//! Finding secrets in bytes: tokens as written, percent-encoded, in base64 or in UTF-16, and
//! private keys by their first line, reading a stream in chunks.
//!
//! Tokens as written are found by the separator scan of [`crate::token_patterns`]. Everything
//! else is found through Aho-Corasick automata over fixed needles ([`NeedleSet`]): each
//! secret's literal start (`chuks_pk_`, `-----BEGIN `…) in every encoding it is looked for. A
//! needle hit is decoded locally, at most [`DECODED_LIMIT`] bytes, and checked against the
//! secret's format, so the cost does not grow with how much base64 or UTF-16 a file holds.
//!
//! Not found: encodings stacked on each other (base64 of UTF-16, double percent-encoding),
//! percent-encoding that leaves a token's `_`/`-` as is, base64 broken across lines, and
//! encryption of any kind.

use std::io::{self, Read};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use crate::token_patterns::{self, Strictness, TOKEN_PATTERNS, TokenPattern};

/// How many characters of a token's body a masked match may show.
pub const SHOWN_BODY_CHARS: usize = 4;

pub const SCAN_CHUNK: usize = 64 * 1024;

/// Decoded bytes a candidate is checked on: enough for every token format and key header.
const DECODED_LIMIT: usize = 96;

/// Bytes kept from one chunk to the next: the longest encoded form of [`DECODED_LIMIT`] bytes
/// (percent-encoding triples them), so a secret cut by a chunk boundary is whole in the next.
const OVERLAP: usize = 3 * DECODED_LIMIT + 8;

/// How a secret was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Percent,
    Base64,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    /// Words for a refusal message; nothing for a secret written as is.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            Encoding::Plain => None,
            Encoding::Percent => Some("percent-encoded"),
            Encoding::Base64 => Some("in base64"),
            Encoding::Utf16Le => Some("in UTF-16LE"),
            Encoding::Utf16Be => Some("in UTF-16BE"),
        }
    }
}

/// A secret found in bytes. Only a masked form of a token is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// `masked` shows the token's prefix and a few characters only.
    Token {
        kind: &'static str,
        masked: String,
    },
    PrivateKey {
        kind: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentMatch {
    pub secret: Secret,
    /// 1-based line of the secret's (encoded) first byte.
    pub line: usize,
    pub encoding: Encoding,
}

/// A private key's first line: its literal start and how to tell which key it is.
struct KeyHeader {
    start: &'static [u8],
    kind_of: fn(&[u8]) -> Option<&'static str>,
}

const KEY_HEADERS: [KeyHeader; 2] = [
    KeyHeader {
        start: b"-----BEGIN ",
        kind_of: pem_kind,
    },
    KeyHeader {
        start: b"PuTTY-User-Key-File-",
        kind_of: putty_kind,
    },
];

/// `-----BEGIN [LABEL ]PRIVATE KEY-----`, OpenSSH's and PGP's forms included, on a line of its
/// own followed by the key: the header alone (a parser's string literal, documentation) is
/// not a key.
fn pem_kind(bytes: &[u8]) -> Option<&'static str> {
    let rest = bytes.strip_prefix(b"-----BEGIN ")?;
    let label_len = rest
        .iter()
        .take(48)
        .take_while(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || **byte == b' ')
        .count();
    let (label, after) = rest.split_at(label_len);
    let next_line = after.strip_prefix(b"-----")?;
    let next_line = next_line.strip_prefix(b"\r").unwrap_or(next_line);
    if !starts_key_material(next_line.strip_prefix(b"\n")?) {
        return None;
    }
    match label {
        b"OPENSSH PRIVATE KEY" => Some("an OpenSSH private key"),
        b"PGP PRIVATE KEY BLOCK" => Some("a PGP private key"),
        _ if label.ends_with(b"PRIVATE KEY") => Some("a PEM private key"),
        _ => None,
    }
}

/// What follows a PEM header: base64 (16 characters are enough to tell), or armor headers
/// (`Proc-Type:` of an old encrypted key, PGP's `Version:`) or the blank line ending them.
fn starts_key_material(text: &[u8]) -> bool {
    let base64 = |byte: &u8| byte.is_ascii_alphanumeric() || b"+/=".contains(byte);
    let header_name = text
        .iter()
        .take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'-')
        .count();
    let armor_header = header_name > 0 && text[header_name..].starts_with(b": ");
    let blank_line = text.starts_with(b"\n") || text.starts_with(b"\r\n");
    armor_header || blank_line || (text.len() >= 16 && text[..16].iter().all(base64))
}

/// `PuTTY-User-Key-File-2: ssh-rsa`: a format version, then a colon.
fn putty_kind(bytes: &[u8]) -> Option<&'static str> {
    let rest = bytes.strip_prefix(b"PuTTY-User-Key-File-")?;
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    (digits > 0 && rest.get(digits) == Some(&b':')).then_some("a PuTTY private key")
}

/// Something a needle can lead to.
#[derive(Clone, Copy)]
enum Detector {
    Token(&'static TokenPattern),
    Key(&'static KeyHeader),
}

impl Detector {
    fn start(self) -> &'static [u8] {
        match self {
            Detector::Token(pattern) => pattern.prefix,
            Detector::Key(header) => header.start,
        }
    }

    /// The secret that `decoded` starts with, if it starts with one.
    fn check(self, decoded: &[u8]) -> Option<Secret> {
        match self {
            Detector::Token(pattern) => {
                let body_len = pattern.match_len(decoded, Strictness::Exact)?;
                let found = token_patterns::Found {
                    start: 0,
                    len: pattern.prefix.len() + body_len,
                    pattern,
                };
                Some(Secret::Token {
                    kind: pattern.kind,
                    masked: found.masked(decoded, SHOWN_BODY_CHARS),
                })
            }
            Detector::Key(header) => {
                (header.kind_of)(decoded).map(|kind| Secret::PrivateKey { kind })
            }
        }
    }
}

/// One needle: which secret, in which encoding, and where its encoded form starts relative
/// to the needle.
struct Needle {
    detector: Detector,
    encoding: Encoding,
    /// Source bytes from the start of the encoded secret (for base64: of its 4-character
    /// group) to the needle.
    lead: usize,
    /// Decoded bytes before the secret (for base64: the rest of its 3-byte group).
    skip: usize,
    /// Order within its set, for telling apart hits at the same place (UTF-16LE's needles
    /// come before BE's).
    rank: usize,
}

/// Needles are cut to this length: a hit is only a candidate, checked on the decoded bytes,
/// and short needles keep the automaton small.
const NEEDLE_LEN: usize = 8;

/// Needles searched together. Base64 and plain private-key needles are few enough (under 64)
/// for Aho-Corasick's SIMD prefilter, so text without candidates is skipped many bytes at a
/// time; UTF-16 and percent-encoded needles all hold a NUL or a `%`, so their set only runs on
/// windows holding one.
struct NeedleSet {
    automaton: AhoCorasick,
    /// Each pattern's bytes and the needles sharing them.
    patterns: Vec<(Vec<u8>, Vec<Needle>)>,
    longest: usize,
    /// Bytes one of which every needle of the set holds; `None`: search every window.
    gate: Option<[u8; 2]>,
}

struct Needles {
    sets: [NeedleSet; 2],
}

fn needles() -> &'static Needles {
    static NEEDLES: OnceLock<Needles> = OnceLock::new();
    NEEDLES.get_or_init(build_needles)
}

fn build_needles() -> Needles {
    let mut always = Vec::new();
    let mut gated = Vec::new();
    let detectors = TOKEN_PATTERNS
        .iter()
        .map(Detector::Token)
        .chain(KEY_HEADERS.iter().map(Detector::Key));
    for detector in detectors {
        let start = detector.start();
        let add = |set: &mut Vec<(Vec<u8>, Needle)>, bytes: Vec<u8>, encoding, lead, skip| {
            let rank = set.len();
            set.push((
                bytes,
                Needle {
                    detector,
                    encoding,
                    lead,
                    skip,
                    rank,
                },
            ));
        };
        match detector {
            // Tokens as written are the separator scan's.
            Detector::Token(_) => {
                for hex in [
                    percent_encoded(start, "%5F", "%2D"),
                    percent_encoded(start, "%5f", "%2d"),
                ] {
                    add(&mut gated, hex, Encoding::Percent, 0, 0);
                }
            }
            Detector::Key(_) => add(&mut always, start.to_vec(), Encoding::Plain, 0, 0),
        }
        add(&mut gated, utf16(start, false), Encoding::Utf16Le, 0, 0);
        add(&mut gated, utf16(start, true), Encoding::Utf16Be, 0, 0);
        for url_safe in [false, true] {
            for offset in 0..3 {
                let (bytes, lead) = base64_needle(start, offset, url_safe);
                add(&mut always, bytes, Encoding::Base64, lead, offset);
            }
        }
    }
    Needles {
        sets: [needle_set(always, None), needle_set(gated, Some([0, b'%']))],
    }
}

fn needle_set(entries: Vec<(Vec<u8>, Needle)>, gate: Option<[u8; 2]>) -> NeedleSet {
    let mut patterns: Vec<(Vec<u8>, Vec<Needle>)> = Vec::new();
    for (mut bytes, needle) in entries {
        bytes.truncate(NEEDLE_LEN);
        match patterns.iter_mut().find(|(known, _)| *known == bytes) {
            // Base64 needles without `+/-_` are the same in both alphabets; the decoder reads
            // both, so one of them is enough. Different secrets sharing cut bytes are all kept.
            Some((_, needles)) if needles.iter().any(|other| other.same_as(&needle)) => {}
            Some((_, needles)) => needles.push(needle),
            None => patterns.push((bytes, vec![needle])),
        }
    }
    let longest = patterns
        .iter()
        .map(|(bytes, _)| bytes.len())
        .max()
        .unwrap_or(0);
    // Leftmost-first, unlike standard matching, gets the SIMD prefilter; hits at the same
    // start are all looked at in `first_encoded`.
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns.iter().map(|(bytes, _)| bytes))
        .expect("the needles are few and short");
    NeedleSet {
        automaton,
        patterns,
        longest,
        gate,
    }
}

fn percent_encoded(start: &[u8], underscore: &str, hyphen: &str) -> Vec<u8> {
    let mut encoded = Vec::new();
    for byte in start {
        match byte {
            b'_' => encoded.extend_from_slice(underscore.as_bytes()),
            b'-' => encoded.extend_from_slice(hyphen.as_bytes()),
            _ => encoded.push(*byte),
        }
    }
    encoded
}

fn utf16(start: &[u8], big_endian: bool) -> Vec<u8> {
    start
        .iter()
        .flat_map(|byte| match big_endian {
            true => [0, *byte],
            false => [*byte, 0],
        })
        .collect()
}

/// The base64 characters that depend on `start` alone when it begins `offset` bytes into a
/// 3-byte group, and how many characters of the group come before them.
fn base64_needle(start: &[u8], offset: usize, url_safe: bool) -> (Vec<u8>, usize) {
    let mut bytes = vec![0; offset];
    bytes.extend_from_slice(start);
    bytes.extend_from_slice(&[0, 0]);
    let encoded = engine(url_safe).encode(&bytes);
    // Character j holds bits 6j..6j+6; keep those lying wholly inside `start`'s bits.
    let first = (8 * offset).div_ceil(6);
    let end = 8 * (offset + start.len()) / 6;
    (encoded.as_bytes()[first..end].to_vec(), first)
}

/// Base64 as found in files: padded or not, trailing bits allowed.
fn engine(url_safe: bool) -> GeneralPurpose {
    const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let alphabet = match url_safe {
        true => &base64::alphabet::URL_SAFE,
        false => &base64::alphabet::STANDARD,
    };
    GeneralPurpose::new(alphabet, CONFIG)
}

impl Needle {
    fn same_as(&self, other: &Needle) -> bool {
        self.detector.start() == other.detector.start()
            && (self.encoding, self.lead, self.skip) == (other.encoding, other.lead, other.skip)
    }

    /// The secret whose encoded form starts at `source[0]`, if it is one.
    fn check(&self, source: &[u8]) -> Option<Secret> {
        let decoded = match self.encoding {
            Encoding::Plain => source[..source.len().min(DECODED_LIMIT)].to_vec(),
            Encoding::Percent => percent_decode(source),
            Encoding::Utf16Le | Encoding::Utf16Be => {
                utf16_decode(source, self.encoding == Encoding::Utf16Be)
            }
            Encoding::Base64 => base64_decode(source, self.skip + DECODED_LIMIT)?,
        };
        self.detector.check(decoded.get(self.skip..)?)
    }
}

fn percent_decode(source: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(DECODED_LIMIT);
    let mut rest = source;
    while decoded.len() < DECODED_LIMIT {
        let byte = match rest {
            [b'%', high, low, tail @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                rest = tail;
                (hex_value(*high) << 4) | hex_value(*low)
            }
            [byte, tail @ ..] => {
                rest = tail;
                *byte
            }
            [] => break,
        };
        decoded.push(byte);
    }
    decoded
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => (digit | 0x20) - b'a' + 10,
    }
}

/// ASCII characters of UTF-16 text, up to the first other character.
fn utf16_decode(source: &[u8], big_endian: bool) -> Vec<u8> {
    source
        .chunks_exact(2)
        .take(DECODED_LIMIT)
        .map(|unit| match big_endian {
            true => (unit[0], unit[1]),
            false => (unit[1], unit[0]),
        })
        .take_while(|(high, low)| *high == 0 && low.is_ascii())
        .map(|(_, low)| low)
        .collect()
}

/// The first `limit` bytes or so that the base64 run at `source[0]` decodes to, in either
/// alphabet (`+/` or `-_`).
fn base64_decode(source: &[u8], limit: usize) -> Option<Vec<u8>> {
    let standard: Vec<u8> = source
        .iter()
        .take(limit.div_ceil(3) * 4)
        .map_while(|byte| match byte {
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            b'+' | b'/' => Some(*byte),
            _ if byte.is_ascii_alphanumeric() => Some(*byte),
            _ => None,
        })
        .collect();
    // A lone last character of a group holds no whole byte.
    let usable = standard.len() - usize::from(standard.len() % 4 == 1);
    engine(false).decode(&standard[..usable]).ok()
}

/// Finds the first secret in a stream, reading `chunk` bytes at a time.
pub fn scan(reader: impl Read) -> io::Result<Option<ContentMatch>> {
    scan_in_chunks(reader, SCAN_CHUNK)
}

/// Finds the first secret in a short byte string, such as a file name.
pub fn scan_bytes(bytes: &[u8]) -> Option<ContentMatch> {
    scan_window(bytes, bytes.len(), Position { offset: 0, line: 1 })
}

fn scan_in_chunks(mut reader: impl Read, chunk: usize) -> io::Result<Option<ContentMatch>> {
    let mut window: Vec<u8> = Vec::with_capacity(chunk + OVERLAP);
    let mut position = Position { offset: 0, line: 1 };
    loop {
        let kept = window.len();
        window.resize(kept + chunk, 0);
        let read = read_full(&mut reader, &mut window[kept..])?;
        window.truncate(kept + read);
        let at_end = read < chunk;
        // Positions closer to the end than OVERLAP wait for the next chunk, unless none comes.
        let decided = if at_end {
            window.len()
        } else {
            window.len().saturating_sub(OVERLAP)
        };
        if let Some(found) = scan_window(&window, decided, position) {
            return Ok(Some(found));
        }
        if at_end {
            return Ok(None);
        }
        position.line += count_newlines(&window[..decided]);
        position.offset += decided;
        window.drain(..decided);
    }
}

/// Reads until `buf` is full or the stream ends; short reads (pipes, decoders) do not end it.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// A secret found at a start position of the window.
type Candidate = (usize, Secret, Encoding);

/// Which of two candidates comes first: the first character's position, misalignment, needle.
type CandidateOrder = (usize, bool, usize);

/// Where a window starts in its stream.
#[derive(Debug, Clone, Copy)]
struct Position {
    offset: usize,
    line: usize,
}

/// The secret starting first among the first `decided` positions of `window`.
fn scan_window(window: &[u8], decided: usize, position: Position) -> Option<ContentMatch> {
    let plain = token_patterns::find_first(window, decided, Strictness::Exact).map(|found| {
        let secret = Secret::Token {
            kind: found.pattern.kind,
            masked: found.masked(window, SHOWN_BODY_CHARS),
        };
        (found.start, secret, Encoding::Plain)
    });
    // Only an encoded secret starting before the plain token can come first.
    let limit = plain.as_ref().map_or(decided, |(start, _, _)| *start);
    let (start, secret, encoding) = first_encoded(window, position.offset, limit).or(plain)?;
    Some(ContentMatch {
        secret,
        line: position.line + count_newlines(&window[..start]),
        encoding,
    })
}

/// The encoded secret or private key starting first before `limit`; `window[0]` is byte
/// `origin` of the stream.
fn first_encoded(window: &[u8], origin: usize, limit: usize) -> Option<Candidate> {
    // Ordered by where the first character's byte is, then by alignment: ASCII in UTF-16LE
    // also decodes as UTF-16BE one byte earlier (and BE as LE one byte later), and only one
    // of the two starts at an even offset of the stream, as a UTF-16 file's characters do.
    let mut best: Option<(CandidateOrder, Candidate)> = None;
    for set in &needles().sets {
        let haystack = &window[..(limit + set.longest).min(window.len())];
        if set
            .gate
            .is_some_and(|[a, b]| memchr::memchr2(a, b, haystack).is_none())
        {
            continue;
        }
        let mut from = 0;
        while let Some(hit) = set
            .automaton
            .find(Input::new(haystack).span(from..haystack.len()))
        {
            // Every needle starting here, not only the one reported; then on from the next byte,
            // so that hits overlapping this one are seen too.
            from = hit.start() + 1;
            let here = &haystack[hit.start()..];
            let needles = set
                .patterns
                .iter()
                .filter(|(bytes, _)| here.starts_with(bytes))
                .flat_map(|(_, needles)| needles);
            for needle in needles {
                let Some(start) = hit.start().checked_sub(needle.lead) else {
                    continue;
                };
                let is_utf16 = matches!(needle.encoding, Encoding::Utf16Le | Encoding::Utf16Be);
                let order = (
                    start + usize::from(needle.encoding == Encoding::Utf16Be),
                    is_utf16 && (origin + start) % 2 == 1,
                    needle.rank,
                );
                if start >= limit || best.as_ref().is_some_and(|(best, _)| order >= *best) {
                    continue;
                }
                if let Some(secret) = needle.check(&window[start..]) {
                    best = Some((order, (start, secret, needle.encoding)));
                }
            }
        }
    }
    best.map(|(_, candidate)| candidate)
}

fn count_newlines(bytes: &[u8]) -> usize {
    // A plain filter-count compiles to vector compares: no per-line loop.
    bytes.iter().filter(|byte| **byte == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose;

    // Split so the source holds nothing that looks like a live token.
    const CHUKS: &str = concat!("chuks_pk_", "a1b2C3d4E5f6G7h8I9j0KlMn");
    const GHP: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    const GITHUB_PAT: &str = "github_pat_11ABCDEFG0abcdefghijkl_0123456789";
    const NPM: &str = "npm_0123456789abcdefghijABCDEFGHIJ012345";
    const PYPI: &str = "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAw";

    fn scan_text(bytes: &[u8]) -> Option<ContentMatch> {
        scan(bytes).unwrap()
    }

    fn token(bytes: &[u8]) -> Option<(usize, String, Encoding)> {
        scan_text(bytes).map(|found| match found.secret {
            Secret::Token { masked, .. } => (found.line, masked, found.encoding),
            other => panic!("not a token: {other:?}"),
        })
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
            let found =
                scan_text(format!("line one\nlet key = \"{token}\";\n").as_bytes()).expect(token);
            assert_eq!(
                found,
                ContentMatch {
                    secret: Secret::Token {
                        kind,
                        masked: masked.to_string()
                    },
                    line: 2,
                    encoding: Encoding::Plain,
                }
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
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC",
            "-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC",
            "if line == \"-----BEGIN RSA PRIVATE KEY-----\" {",
            "-----BEGIN OPENSSH PRIVATE KEY-----\n...\n",
            "PuTTY-User-Key-File-x",
        ] {
            assert_eq!(scan_text(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn a_fixed_length_token_may_end_the_file() {
        assert_eq!(token(NPM.as_bytes()).unwrap().1, "npm_0123****");
        assert_eq!(token(format!("{NPM}.").as_bytes()).unwrap().0, 1);
    }

    #[test]
    fn tokens_split_across_chunks_are_found() {
        for chunk in [1, 2, 3, 7, 16, OVERLAP - 1, OVERLAP, OVERLAP + 1, 1000] {
            for padding in 0..2 * token_patterns::LOOKAHEAD {
                let text = format!("{}\n{NPM}\n", "x".repeat(padding));
                let found = scan_in_chunks(text.as_bytes(), chunk).unwrap();
                assert_eq!(
                    found.map(|m| m.line),
                    Some(2),
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
        let found = scan(OneByte(text.as_bytes())).unwrap();
        assert_eq!(found.map(|m| m.line), Some(3));
    }

    #[test]
    fn masking_shows_the_prefix_and_at_most_four_characters() {
        for token_text in [CHUKS, GHP, GITHUB_PAT, NPM, PYPI] {
            let (_, masked, _) = token(token_text.as_bytes()).unwrap();
            let shown = masked.strip_suffix("****").unwrap();
            let prefix = TOKEN_PATTERNS
                .iter()
                .find(|p| token_text.as_bytes().starts_with(p.prefix))
                .unwrap()
                .prefix;
            assert_eq!(shown.len(), prefix.len() + SHOWN_BODY_CHARS, "{token_text}");
            assert!(token_text.starts_with(shown));
        }
    }

    /// The byte-by-byte scan the separator jumps replaced, kept as the reference.
    fn scan_every_byte(window: &[u8]) -> Option<(usize, String)> {
        let mut line = 1;
        for start in 0..window.len() {
            for pattern in &TOKEN_PATTERNS {
                if let Some(body_len) = pattern.match_len(&window[start..], Strictness::Exact) {
                    let found = token_patterns::Found {
                        start,
                        len: pattern.prefix.len() + body_len,
                        pattern,
                    };
                    return Some((line, found.masked(window, SHOWN_BODY_CHARS)));
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
            for chunk in [1, 5, OVERLAP, 64, SCAN_CHUNK] {
                let found =
                    scan_in_chunks(text.as_bytes(), chunk)
                        .unwrap()
                        .map(|found| match found.secret {
                            Secret::Token { masked, .. } => (found.line, masked),
                            other => panic!("{other:?}"),
                        });
                assert_eq!(found, expected, "chunk {chunk}: {text:?}");
            }
        }
    }

    fn utf16_text(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend(match big_endian {
                true => [0xfe, 0xff],
                false => [0xff, 0xfe],
            });
        }
        for unit in text.encode_utf16() {
            bytes.extend(match big_endian {
                true => unit.to_be_bytes(),
                false => unit.to_le_bytes(),
            });
        }
        bytes
    }

    #[test]
    fn tokens_in_utf16_are_found_with_or_without_a_bom() {
        let text = format!("é line\nkey = {CHUKS}\n");
        for (big_endian, encoding) in [(false, Encoding::Utf16Le), (true, Encoding::Utf16Be)] {
            for bom in [false, true] {
                let bytes = utf16_text(&text, big_endian, bom);
                assert_eq!(
                    token(&bytes),
                    Some((2, "chuks_pk_a1b2****".to_string(), encoding)),
                    "big endian {big_endian}, bom {bom}"
                );
            }
        }
    }

    #[test]
    fn percent_encoded_tokens_are_found() {
        for text in [
            "url=https://x/?t=chuks%5Fpk%5Fa1b2C3d4E5f6G7h8I9j0KlMn&x=1",
            "t=chuks%5fpk%5fa1b2C3d4E5f6G7h8I9j0KlMn",
        ] {
            assert_eq!(
                token(text.as_bytes()),
                Some((1, "chuks_pk_a1b2****".to_string(), Encoding::Percent)),
                "{text}"
            );
        }
        assert_eq!(
            token(b"glpat%2DxY9_zzzzzzzzzzzzzzzzzz").map(|t| t.1),
            Some("glpat-xY9_****".to_string())
        );
    }

    #[test]
    fn base64_tokens_are_found_at_every_offset_in_both_alphabets() {
        for url_safe in [false, true] {
            for lead in ["", "a", "ab", "{\"token\": \"", "?><>?"] {
                let payload = format!("{lead}{CHUKS}\"}}");
                let encoded = engine(url_safe).encode(payload.as_bytes());
                let text = format!("first\nsecret: {encoded}\n");
                assert_eq!(
                    token(text.as_bytes()),
                    Some((2, "chuks_pk_a1b2****".to_string(), Encoding::Base64)),
                    "url safe {url_safe}, lead {lead:?}: {encoded}"
                );
            }
        }
        let padded = general_purpose::STANDARD.encode(GHP);
        assert_eq!(
            token(padded.as_bytes()).map(|t| t.1),
            Some("ghp_0123****".to_string())
        );
    }

    #[test]
    fn base64_inside_a_long_blob_is_found_across_chunks() {
        let mut payload = vec![b'x'; 100_000];
        payload.extend_from_slice(CHUKS.as_bytes());
        payload.extend(vec![b'y'; 1000]);
        let encoded = general_purpose::STANDARD.encode(&payload);
        for chunk in [1000, 4096, SCAN_CHUNK] {
            let found = scan_in_chunks(encoded.as_bytes(), chunk).unwrap();
            assert_eq!(found.map(|f| f.encoding), Some(Encoding::Base64), "{chunk}");
        }
    }

    #[test]
    fn private_keys_are_found_by_their_first_line() {
        for (text, kind) in [
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3",
                "a PEM private key",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\r\nMIIEvgIBADANBgkqhkiG9w0B",
                "a PEM private key",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1",
                "a PEM private key",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n",
                "a PEM private key",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
                "an OpenSSH private key",
            ),
            (
                "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n",
                "a PGP private key",
            ),
            (
                "PuTTY-User-Key-File-3: ssh-ed25519\n",
                "a PuTTY private key",
            ),
        ] {
            let found = scan_text(format!("#\n{text}").as_bytes()).expect(text);
            assert_eq!(
                (found.secret, found.line, found.encoding),
                (Secret::PrivateKey { kind }, 2, Encoding::Plain),
                "{text}"
            );
        }
        // A Kubernetes secret holds its key in base64.
        let key =
            general_purpose::STANDARD.encode("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3");
        let found = scan_text(format!("tls.key: {key}").as_bytes()).unwrap();
        assert_eq!(found.encoding, Encoding::Base64);
        let utf16 = utf16_text(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
            false,
            true,
        );
        assert_eq!(scan_text(&utf16).unwrap().encoding, Encoding::Utf16Le);
    }

    #[test]
    fn the_ungated_needles_stay_few_enough_for_the_simd_prefilter() {
        let [always, gated] = &needles().sets;
        assert!(always.patterns.len() <= 64, "{}", always.patterns.len());
        assert!(gated.gate.is_some() && always.gate.is_none());
    }

    #[test]
    fn base64_needles_are_the_stable_characters() {
        // "chuks_pk_" at a group start encodes as "Y2h1a3NfcGtf".
        let (needle, lead) = base64_needle(b"chuks_pk_", 0, false);
        assert_eq!((needle.as_slice(), lead), (&b"Y2h1a3NfcGtf"[..], 0));
        for offset in 0..3 {
            let (needle, lead) = base64_needle(b"chuks_pk_", offset, false);
            let mut payload = vec![b'!'; offset];
            payload.extend_from_slice(b"chuks_pk_zz");
            let encoded = general_purpose::STANDARD.encode(&payload);
            assert_eq!(
                &encoded.as_bytes()[lead..lead + needle.len()],
                needle.as_slice()
            );
        }
    }
}
