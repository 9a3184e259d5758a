//! Finding secrets in bytes: tokens as written, behind a cheap escape (percent-encoding, JSON
//! `\u` escapes, HTML character references, zero-width characters), in base64, UTF-16 or
//! UTF-32, and private keys by their first line, reading a stream in chunks.
//!
//! Tokens as written are found by the separator scan of [`crate::token_patterns`]; so are tokens
//! behind an escape, once the window holding one is copied with those escapes undone
//! ([`Escape`]). Everything else is found through Aho-Corasick automata over fixed needles
//! ([`NeedleSet`]): each secret's literal start (`chuks_pk_`, `-----BEGIN `…) in every encoding
//! it is looked for. A needle hit is decoded locally, at most [`DECODED_LIMIT`] bytes, and
//! checked against the secret's format, so the cost does not grow with how much base64 or
//! UTF-16 a file holds.
//!
//! Not found: encodings stacked on each other (base64 of UTF-16, double percent-encoding, an
//! escaped zero-width character), a token's prefix escaped some other way (`\x5f`, octal),
//! base64 broken across lines, and encryption of any kind.

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
/// (UTF-32 quadruples them), so a secret cut by a chunk boundary is whole in the next.
const OVERLAP: usize = 4 * DECODED_LIMIT + 8;

/// The longest escape of one token character ([`Escape`]): `\u005f`, `&#x5f;`.
const LONGEST_ESCAPE: usize = 6;

// A token escaped character by character is whole in the overlap too.
const _: () = assert!(OVERLAP >= LONGEST_ESCAPE * token_patterns::LOOKAHEAD);

/// How a secret was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Percent,
    JsonEscape,
    HtmlReference,
    ZeroWidth,
    Base64,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

/// The wide encodings: bytes per character, and whether the ASCII byte comes last.
const WIDE: [(Encoding, usize, bool); 4] = [
    (Encoding::Utf16Le, 2, false),
    (Encoding::Utf16Be, 2, true),
    (Encoding::Utf32Le, 4, false),
    (Encoding::Utf32Be, 4, true),
];

impl Encoding {
    /// Words for a refusal message; nothing for a secret written as is.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            Encoding::Plain => None,
            Encoding::Percent => Some("percent-encoded"),
            Encoding::JsonEscape => Some("with JSON `\\u` escapes"),
            Encoding::HtmlReference => Some("with HTML character references"),
            Encoding::ZeroWidth => Some("with zero-width characters inside"),
            Encoding::Base64 => Some("in base64"),
            Encoding::Utf16Le => Some("in UTF-16LE"),
            Encoding::Utf16Be => Some("in UTF-16BE"),
            Encoding::Utf32Le => Some("in UTF-32LE"),
            Encoding::Utf32Be => Some("in UTF-32BE"),
        }
    }

    /// For a wide encoding: bytes per character, and whether the ASCII byte comes last.
    fn wide(self) -> Option<(usize, bool)> {
        WIDE.iter()
            .find(|(encoding, _, _)| *encoding == self)
            .map(|(_, unit, big_endian)| (*unit, *big_endian))
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

/// `-----BEGIN [LABEL ]PRIVATE KEY-----`, OpenSSH's and PGP's forms included, ending its line
/// and followed by the key: the header alone (a parser's string literal, documentation) is not
/// a key. The line may end as is or as the `\n` escape of a JSON string (a GCP
/// `service-account.json`), and the key's first line may be indented (a YAML block).
fn pem_kind(bytes: &[u8]) -> Option<&'static str> {
    let rest = bytes.strip_prefix(b"-----BEGIN ")?;
    let label_len = rest
        .iter()
        .take(48)
        .take_while(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || **byte == b' ')
        .count();
    let (label, after) = rest.split_at(label_len);
    let after = after.strip_prefix(b"-----")?;
    let (line_break, next_line) = LINE_BREAKS
        .iter()
        .find_map(|line_break| Some((*line_break, after.strip_prefix(*line_break)?)))?;
    if !starts_key_material(next_line, line_break) {
        return None;
    }
    match label {
        b"OPENSSH PRIVATE KEY" => Some("an OpenSSH private key"),
        b"PGP PRIVATE KEY BLOCK" => Some("a PGP private key"),
        _ if label.ends_with(b"PRIVATE KEY") => Some("a PEM private key"),
        _ => None,
    }
}

/// How a line ends where keys are kept: as is, or escaped inside a JSON or YAML string.
const LINE_BREAKS: [&[u8]; 4] = [b"\r\n", b"\n", br"\r\n", br"\n"];

/// Base64 characters that are enough to tell key material from prose.
const KEY_MATERIAL_CHARS: usize = 16;

/// What follows a PEM header's `line_break`, after any indentation: base64, or armor headers
/// (`Proc-Type:` of an old encrypted key, PGP's `Version:`) or the blank line ending them.
fn starts_key_material(text: &[u8], line_break: &[u8]) -> bool {
    let indent = text
        .iter()
        .take_while(|byte| **byte == b' ' || **byte == b'\t')
        .count();
    let text = &text[indent..];
    let header_name = text
        .iter()
        .take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'-')
        .count();
    let armor_header = header_name > 0 && text[header_name..].starts_with(b": ");
    let blank_line = text.starts_with(line_break) || text.starts_with(b"\r\n");
    let escaped = line_break.starts_with(b"\\");
    armor_header || blank_line || base64_run(text, escaped) >= KEY_MATERIAL_CHARS
}

/// Base64 characters at the start of `text`, up to [`KEY_MATERIAL_CHARS`]; inside a JSON string
/// (`escaped`) a `/` may be written `\/`.
fn base64_run(text: &[u8], escaped: bool) -> usize {
    let mut count = 0;
    let mut rest = text;
    while count < KEY_MATERIAL_CHARS {
        rest = match rest {
            [b'\\', b'/', tail @ ..] if escaped => tail,
            [byte, tail @ ..] if byte.is_ascii_alphanumeric() || b"+/=".contains(byte) => tail,
            _ => break,
        };
        count += 1;
    }
    count
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
/// time; UTF-16 and UTF-32 needles all hold a NUL, so their set only runs on windows holding
/// one.
struct NeedleSet {
    automaton: AhoCorasick,
    /// Each pattern's bytes and the needles sharing them.
    patterns: Vec<(Vec<u8>, Vec<Needle>)>,
    longest: usize,
    /// A byte every needle of the set holds; `None`: search every window.
    gate: Option<u8>,
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
        // Tokens as written or escaped are the separator scan's.
        if let Detector::Key(_) = detector {
            add(&mut always, start.to_vec(), Encoding::Plain, 0, 0);
        }
        for (encoding, unit, big_endian) in WIDE {
            add(&mut gated, widen(start, unit, big_endian), encoding, 0, 0);
        }
        for url_safe in [false, true] {
            for offset in 0..3 {
                let (bytes, lead) = base64_needle(start, offset, url_safe);
                add(&mut always, bytes, Encoding::Base64, lead, offset);
            }
        }
    }
    Needles {
        sets: [needle_set(always, None), needle_set(gated, Some(0))],
    }
}

fn needle_set(entries: Vec<(Vec<u8>, Needle)>, gate: Option<u8>) -> NeedleSet {
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

/// `start` in a wide encoding of `unit` bytes per character.
fn widen(start: &[u8], unit: usize, big_endian: bool) -> Vec<u8> {
    let ascii_at = if big_endian { unit - 1 } else { 0 };
    start
        .iter()
        .flat_map(|byte| (0..unit).map(move |at| if at == ascii_at { *byte } else { 0 }))
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
        let decoded = match (self.encoding, self.encoding.wide()) {
            (Encoding::Base64, _) => base64_decode(source, self.skip + DECODED_LIMIT)?,
            (_, Some((unit, big_endian))) => narrow(source, unit, big_endian),
            _ => source[..source.len().min(DECODED_LIMIT)].to_vec(),
        };
        self.detector.check(decoded.get(self.skip..)?)
    }
}

/// ASCII characters of wide text (`unit` bytes per character), up to the first other character.
fn narrow(source: &[u8], unit: usize, big_endian: bool) -> Vec<u8> {
    source
        .chunks_exact(unit)
        .take(DECODED_LIMIT)
        .map(|character| match big_endian {
            true => (character[unit - 1], &character[..unit - 1]),
            false => (character[0], &character[1..]),
        })
        .take_while(|(ascii, zeros)| ascii.is_ascii() && zeros.iter().all(|byte| *byte == 0))
        .map(|(ascii, _)| ascii)
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

/// The first secret among the first `decided` positions of `window`: as stored, else behind
/// an escape.
fn scan_window(window: &[u8], decided: usize, position: Position) -> Option<ContentMatch> {
    let line_of = |bytes: &[u8], start: usize| position.line + count_newlines(&bytes[..start]);
    if let Some((start, secret, encoding)) = first_as_stored(window, decided, position.offset) {
        return Some(ContentMatch {
            secret,
            line: line_of(window, start),
            encoding,
        });
    }
    ESCAPES.into_iter().find_map(|escape| {
        let (undone, decided) = escape.undo(window, decided)?;
        let found = token_patterns::find_first(&undone, decided, Strictness::Exact)?;
        Some(ContentMatch {
            secret: token_secret(&found, &undone),
            line: line_of(&undone, found.start),
            encoding: escape.encoding(),
        })
    })
}

fn token_secret(found: &token_patterns::Found, bytes: &[u8]) -> Secret {
    Secret::Token {
        kind: found.pattern.kind,
        masked: found.masked(bytes, SHOWN_BODY_CHARS),
    }
}

/// The secret starting first among the first `decided` positions of `window`, with no escape
/// undone: a token as written, or an encoded secret or private key.
fn first_as_stored(window: &[u8], decided: usize, origin: usize) -> Option<Candidate> {
    let plain = token_patterns::find_first(window, decided, Strictness::Exact)
        .map(|found| (found.start, token_secret(&found, window), Encoding::Plain));
    // Only an encoded secret starting before the plain token can come first.
    let limit = plain.as_ref().map_or(decided, |(start, _, _)| *start);
    first_encoded(window, origin, limit).or(plain)
}

/// The encoded secret or private key starting first before `limit`; `window[0]` is byte
/// `origin` of the stream.
fn first_encoded(window: &[u8], origin: usize, limit: usize) -> Option<Candidate> {
    // Ordered by where the first character's ASCII byte is, then by alignment: ASCII in
    // UTF-16LE also decodes as UTF-16BE one byte earlier (UTF-32: three), and only one of the
    // two starts at a multiple of the character size, as a wide file's characters do.
    let mut best: Option<(CandidateOrder, Candidate)> = None;
    for set in &needles().sets {
        let haystack = &window[..(limit + set.longest).min(window.len())];
        if set
            .gate
            .is_some_and(|gate| memchr::memchr(gate, haystack).is_none())
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
                let (unit, big_endian) = needle.encoding.wide().unwrap_or((1, false));
                let order = (
                    start + if big_endian { unit - 1 } else { 0 },
                    (origin + start) % unit != 0,
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

/// A cheap escape that hides a token from the separator scan. It is undone on a copy of a
/// window holding one, which the separator scan then reads again. Only escapes of the
/// characters tokens are made of (`A-Za-z0-9_-`) are undone, so lines stay where they were.
#[derive(Debug, Clone, Copy)]
enum Escape {
    /// `%5F`
    Percent,
    /// `\u005f`
    Json,
    /// `&#95;`, `&#x5f;`, `&lowbar;`
    Html,
    /// U+200B, U+200C, U+200D, U+2060 or U+FEFF in UTF-8, standing for nothing.
    ZeroWidth,
}

const ESCAPES: [Escape; 4] = [
    Escape::Percent,
    Escape::Json,
    Escape::Html,
    Escape::ZeroWidth,
];

const ZERO_WIDTH: [&str; 5] = ["\u{200b}", "\u{200c}", "\u{200d}", "\u{2060}", "\u{feff}"];

/// HTML's names for token characters.
const HTML_NAMES: [(&[u8], u8); 2] = [(b"&lowbar;", b'_'), (b"&UnderBar;", b'_')];

impl Escape {
    fn encoding(self) -> Encoding {
        match self {
            Escape::Percent => Encoding::Percent,
            Escape::Json => Encoding::JsonEscape,
            Escape::Html => Encoding::HtmlReference,
            Escape::ZeroWidth => Encoding::ZeroWidth,
        }
    }

    /// Where escapes of this kind may start in `window`: at every one of its first bytes.
    fn starts(self, window: &[u8]) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            Escape::Percent => Box::new(memchr::memchr_iter(b'%', window)),
            Escape::Json => Box::new(memchr::memchr_iter(b'\\', window)),
            Escape::Html => Box::new(memchr::memchr_iter(b'&', window)),
            Escape::ZeroWidth => Box::new(memchr::memchr2_iter(0xe2, 0xef, window)),
        }
    }

    /// The escape at `bytes[0]`, if there is one: its length, and the token character it
    /// stands for (none for a zero-width character).
    fn at(self, bytes: &[u8]) -> Option<(usize, Option<u8>)> {
        match self {
            Escape::Percent => {
                let code = number(bytes.strip_prefix(b"%")?.get(..2)?, 16)?;
                token_char(code).map(|byte| (3, Some(byte)))
            }
            Escape::Json => {
                let code = number(bytes.strip_prefix(b"\\u")?.get(..4)?, 16)?;
                token_char(code).map(|byte| (6, Some(byte)))
            }
            Escape::Html => html_reference(bytes),
            Escape::ZeroWidth => ZERO_WIDTH
                .iter()
                .any(|character| bytes.starts_with(character.as_bytes()))
                .then_some((3, None)),
        }
    }

    /// `window` with these escapes undone, and where its `decided` position lands in the copy;
    /// `None` when it holds no such escape.
    fn undo(self, window: &[u8], decided: usize) -> Option<(Vec<u8>, usize)> {
        let mut undone: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut decided_at = None;
        for start in self.starts(window) {
            if start < copied {
                continue;
            }
            let Some((len, stands_for)) = self.at(&window[start..]) else {
                continue;
            };
            let out = undone.get_or_insert_with(|| Vec::with_capacity(window.len()));
            if decided_at.is_none() && start >= decided {
                decided_at = Some(out.len() + decided.saturating_sub(copied));
            }
            out.extend_from_slice(&window[copied..start]);
            out.extend(stands_for);
            copied = start + len;
        }
        let mut out = undone?;
        let decided_at = decided_at.unwrap_or(out.len() + decided.saturating_sub(copied));
        out.extend_from_slice(&window[copied..]);
        Some((out, decided_at))
    }
}

/// `&#95;`, `&#x5f;` (any case, leading zeros allowed) or a name of [`HTML_NAMES`], ending in
/// `;`.
fn html_reference(bytes: &[u8]) -> Option<(usize, Option<u8>)> {
    if let Some((name, byte)) = HTML_NAMES.iter().find(|(name, _)| bytes.starts_with(name)) {
        return Some((name.len(), Some(*byte)));
    }
    let rest = bytes.strip_prefix(b"&#")?;
    let (radix, digits) = match rest.strip_prefix(b"x").or(rest.strip_prefix(b"X")) {
        Some(hex) => (16, hex),
        None => (10, rest),
    };
    let count = digits
        .iter()
        .take(8)
        .take_while(|byte| byte.is_ascii_digit() || (radix == 16 && byte.is_ascii_hexdigit()))
        .count();
    if digits.get(count) != Some(&b';') {
        return None;
    }
    let len = bytes.len() - digits.len() + count + 1;
    token_char(number(&digits[..count], radix)?).map(|byte| (len, Some(byte)))
}

/// The value of `digits`, which must all be digits of `radix` (no sign).
fn number(digits: &[u8], radix: u32) -> Option<u32> {
    let digits = std::str::from_utf8(digits).ok()?;
    if !digits.chars().all(|digit| digit.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// The character `code` stands for, if tokens are made of it.
fn token_char(code: u32) -> Option<u8> {
    u8::try_from(code)
        .ok()
        .filter(|byte| byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b'-')
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

    /// `text` in a wide encoding, after a byte-order mark if `bom`.
    fn wide_text(text: &str, encoding: Encoding, bom: bool) -> Vec<u8> {
        let (unit, big_endian) = encoding.wide().unwrap();
        let text: String = bom
            .then_some('\u{feff}')
            .into_iter()
            .chain(text.chars())
            .collect();
        let units: Vec<u32> = match unit {
            2 => text.encode_utf16().map(u32::from).collect(),
            _ => text.chars().map(u32::from).collect(),
        };
        units
            .into_iter()
            .flat_map(|code| match big_endian {
                true => code.to_be_bytes()[4 - unit..].to_vec(),
                false => code.to_le_bytes()[..unit].to_vec(),
            })
            .collect()
    }

    #[test]
    fn tokens_in_utf16_and_utf32_are_found_with_or_without_a_bom() {
        let text = format!("é line\nkey = {CHUKS}\n");
        for (encoding, _, _) in WIDE {
            for bom in [false, true] {
                let bytes = wide_text(&text, encoding, bom);
                assert_eq!(
                    token(&bytes),
                    Some((2, "chuks_pk_a1b2****".to_string(), encoding)),
                    "{encoding:?}, bom {bom}"
                );
                for chunk in [7, 64, OVERLAP + 3] {
                    let found = scan_in_chunks(&bytes[..], chunk).unwrap();
                    assert_eq!(found.map(|f| f.encoding), Some(encoding), "chunk {chunk}");
                }
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
        let utf16 = wide_text(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
            Encoding::Utf16Le,
            true,
        );
        assert_eq!(scan_text(&utf16).unwrap().encoding, Encoding::Utf16Le);
    }

    #[test]
    fn the_ungated_needles_stay_few_enough_for_the_simd_prefilter() {
        let [always, gated] = &needles().sets;
        assert!(always.patterns.len() <= 64, "{}", always.patterns.len());
        assert!(gated.patterns.len() <= 64, "{}", gated.patterns.len());
        assert!(gated.gate.is_some() && always.gate.is_none());
    }

    fn key_kind(text: &str) -> Option<(&'static str, usize, Encoding)> {
        scan_text(text.as_bytes()).map(|found| match found.secret {
            Secret::PrivateKey { kind } => (kind, found.line, found.encoding),
            other => panic!("not a key: {other:?}"),
        })
    }

    #[test]
    fn keys_inside_json_strings_and_yaml_blocks_are_found() {
        let service_account = concat!(
            "{\n  \"type\": \"service_account\",\n",
            "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            "\\n-----END PRIVATE KEY-----\\n\"\n}\n"
        );
        assert_eq!(
            key_kind(service_account),
            Some(("a PEM private key", 3, Encoding::Plain))
        );
        // PHP's `json_encode` writes `/` as `\/`.
        let slashes = r#""key": "-----BEGIN RSA PRIVATE KEY-----\r\nMII\/pAIBA\/KCAQEA3b7""#;
        assert_eq!(key_kind(slashes).map(|k| k.0), Some("a PEM private key"));
        let yaml = concat!(
            "apiVersion: v1\nkind: Secret\nstringData:\n  tls.key: |\n",
            "    -----BEGIN EC PRIVATE KEY-----\n",
            "    MHcCAQEEIIrYSSNQFaA2Hwf1\n",
            "    -----END EC PRIVATE KEY-----\n"
        );
        assert_eq!(
            key_kind(yaml),
            Some(("a PEM private key", 5, Encoding::Plain))
        );
        let tabs = "key:\n\t-----BEGIN OPENSSH PRIVATE KEY-----\n\t\tb3BlbnNzaC1rZXktdjEAAAAA\n";
        assert_eq!(key_kind(tabs).map(|k| k.0), Some("an OpenSSH private key"));
    }

    #[test]
    fn a_key_header_without_key_material_is_still_not_a_key() {
        for text in [
            r#"const HEADER: &str = "-----BEGIN RSA PRIVATE KEY-----\n";"#,
            r#"{"begin": "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"}"#,
            r#"{"key": "-----BEGIN PRIVATE KEY-----\n<paste your key here>\n"}"#,
            "docs:\n  -----BEGIN RSA PRIVATE KEY-----\n    (your key)\n",
            "  -----BEGIN PRIVATE KEY-----\n  -----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\\t MIIEvQIBADANBgkqhkiG9w0B",
        ] {
            assert_eq!(scan_text(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn tokens_behind_json_and_html_escapes_are_found() {
        let body = &CHUKS["chuks_pk_".len()..];
        for (text, encoding) in [
            (
                format!("{{\"t\": \"chuks\\u005fpk\\u005f{body}\"}}"),
                Encoding::JsonEscape,
            ),
            (format!("chuks\\u005Fpk\\u005F{body}"), Encoding::JsonEscape),
            // Only the second separator escaped, or every character.
            (format!("chuks_pk\\u005f{body}"), Encoding::JsonEscape),
            (
                format!("\\u0063\\u0068\\u0075\\u006b\\u0073_pk_{body}"),
                Encoding::JsonEscape,
            ),
            (
                format!("<p>chuks&#95;pk&#95;{body}</p>"),
                Encoding::HtmlReference,
            ),
            (
                format!("chuks&#x5f;pk&#X5F;{body}"),
                Encoding::HtmlReference,
            ),
            (
                format!("chuks&#00095;pk&lowbar;{body}"),
                Encoding::HtmlReference,
            ),
            (
                "chuks_pk_%61%31b2C3d4E5f6G7h8I9j0KlMn".to_string(),
                Encoding::Percent,
            ),
        ] {
            assert_eq!(
                token(format!("x\n{text}\n").as_bytes()),
                Some((2, "chuks_pk_a1b2****".to_string(), encoding)),
                "{text}"
            );
        }
        assert_eq!(
            token(b"glpat&#45;xY9_zzzzzzzzzzzzzzzzzz").map(|t| (t.1, t.2)),
            Some(("glpat-xY9_****".to_string(), Encoding::HtmlReference))
        );
        assert_eq!(
            token(b"pypi\\u002dAgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAw").map(|t| t.2),
            Some(Encoding::JsonEscape)
        );
    }

    #[test]
    fn escapes_of_other_characters_change_nothing() {
        for text in [
            "chuks\\u0020pk_a1b2C3d4E5f6G7h8I9j0KlMn",
            "chuks&#32;pk_a1b2C3d4E5f6G7h8I9j0KlMn",
            "chuks&#95pk&#95a1b2C3d4E5f6G7h8I9j0KlMn",
            "chuks\\u+05fpk\\u+05fa1b2C3d4E5f6G7h8I9j0KlMn",
            "chuks%5Gpk%5Ga1b2C3d4E5f6G7h8I9j0KlMn",
            "chuks_pk_a1b2C3d4E5f6G7h8I9j\\u0020KlMn",
            "50% & \\u00e9 &amp; &#x;",
        ] {
            assert_eq!(scan_text(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn a_zero_width_character_inside_a_token_does_not_hide_it() {
        for zero_width in ZERO_WIDTH {
            for cut in [3, 6, 9, 14, 28] {
                let text = format!(
                    "a\nb\nkey = {}{zero_width}{}\n",
                    &CHUKS[..cut],
                    &CHUKS[cut..]
                );
                assert_eq!(
                    token(text.as_bytes()),
                    Some((3, "chuks_pk_a1b2****".to_string(), Encoding::ZeroWidth)),
                    "{zero_width:?} at {cut}"
                );
            }
        }
        let many: String = GHP.chars().flat_map(|c| [c, '\u{200b}']).collect();
        assert_eq!(
            token(many.as_bytes()).map(|t| t.2),
            Some(Encoding::ZeroWidth)
        );
        // A file starting with a UTF-8 byte-order mark is plain text.
        assert_eq!(
            token(format!("\u{feff}{NPM}").as_bytes()).map(|t| t.2),
            Some(Encoding::Plain)
        );
    }

    #[test]
    fn keys_in_utf32_are_found_and_utf16_is_not_taken_for_it() {
        let key = wide_text(
            "#\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
            Encoding::Utf32Be,
            false,
        );
        let found = scan_text(&key).unwrap();
        assert_eq!((found.line, found.encoding), (2, Encoding::Utf32Be));
        // UTF-16 text is not taken for UTF-32, nor the other way round.
        let utf16 = wide_text(&format!("{GHP}\n"), Encoding::Utf16Le, false);
        assert_eq!(token(&utf16).map(|t| t.2), Some(Encoding::Utf16Le));
    }

    #[test]
    fn escaped_tokens_cut_by_a_chunk_boundary_are_found() {
        let escaped: String = CHUKS
            .bytes()
            .map(|byte| format!("\\u{:04x}", byte))
            .collect();
        for chunk in [1, 5, 64, OVERLAP - 1, OVERLAP, OVERLAP + 1, 1000] {
            for padding in [0, 1, 63, 200, 511] {
                let text = format!("{}\n{escaped}\n", "x".repeat(padding));
                let found = scan_in_chunks(text.as_bytes(), chunk).unwrap();
                assert_eq!(
                    found.map(|f| (f.line, f.encoding)),
                    Some((2, Encoding::JsonEscape)),
                    "chunk {chunk}, padding {padding}"
                );
            }
        }
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
