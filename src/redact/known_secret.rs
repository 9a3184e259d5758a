//! Masking one secret chuks-ci knows exactly (the API token it hands the official CLI) in the
//! forms a program may echo it in: any letter case; hex; base64 and base64url at each of the
//! three byte alignments; with characters escaped as `%5F`, `\u005f`, `\x5f` or `&#95;`; with
//! zero-width characters inside; and split across two lines (a piece of at least
//! [`EDGE_MIN`] characters ending one line or starting the next). Token shapes in general are
//! [`super::redact`]'s job; this knows the value.

use std::borrow::Cow;
use std::ops::Range;

use aho_corasick::AhoCorasick;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The shortest piece of the secret masked where a line ends or starts: a shorter piece of a
/// random token tells little, and matches other text too often.
const EDGE_MIN: usize = 6;

/// The longest escape of one character that is decoded (`\u005f`, `&#x5f;`).
const LONGEST_ESCAPE: usize = 6;

/// One secret and the automata that find its forms.
pub struct KnownSecret {
    /// Matched in any ASCII case: the secret itself and its hex.
    any_case: AhoCorasick,
    /// Matched exactly: the base64 and base64url forms.
    exact: AhoCorasick,
    /// The secret in lower case, for the pieces at a line's ends.
    lower: Vec<u8>,
    /// What a masked form is replaced with.
    mask: String,
}

impl KnownSecret {
    /// Finds `secret` in its forms; each is replaced by `mask`.
    pub fn new(secret: &str, mask: &str) -> KnownSecret {
        let raw = secret.as_bytes();
        let any_case = [raw.to_vec(), hex(raw).into_bytes()];
        let exact: Vec<String> = (0..3)
            .flat_map(|alignment| {
                let core = base64_core(raw, alignment);
                let url_safe = core.replace('+', "-").replace('/', "_");
                [core, url_safe]
            })
            .filter(|form| !form.is_empty())
            .collect();
        KnownSecret {
            any_case: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(any_case)
                .expect("a few short literal patterns always build"),
            exact: AhoCorasick::new(exact).expect("a few short literal patterns always build"),
            lower: raw.to_ascii_lowercase(),
            mask: mask.to_string(),
        }
    }

    /// The most bytes a recognised form takes when printed (every character escaped): whoever
    /// cuts a line must look this far past the cut to see a secret that straddles it.
    pub fn longest_form(&self) -> usize {
        self.lower.len() * LONGEST_ESCAPE
    }

    /// The first `keep` bytes of `line` with every form of the secret masked; a form that
    /// starts before `keep` is masked whole, so a cut never shows part of one.
    pub fn mask<'a>(&self, line: &'a [u8], keep: usize) -> Cow<'a, [u8]> {
        let spans = match needs_decoding(line) {
            true => {
                let view = View::decode(line);
                self.spans_in(&view.bytes)
                    .into_iter()
                    .map(|span| view.origin(span))
                    .collect()
            }
            false => self.spans_in(line),
        };
        if spans.is_empty() {
            return match keep < line.len() {
                true => Cow::Borrowed(&line[..keep]),
                false => Cow::Borrowed(line),
            };
        }
        Cow::Owned(self.replace(line, merged(spans), keep))
    }

    /// Where the forms are in `text`, possibly overlapping.
    fn spans_in(&self, text: &[u8]) -> Vec<Range<usize>> {
        let mut spans: Vec<Range<usize>> = self
            .any_case
            .find_iter(text)
            .chain(self.exact.find_iter(text))
            .map(|found| found.range())
            .collect();
        spans.extend(self.piece_at_end(text));
        spans.extend(self.piece_at_start(text));
        spans
    }

    /// The start of the secret ending the line (spaces after it aside): its rest is on the next.
    fn piece_at_end(&self, text: &[u8]) -> Option<Range<usize>> {
        let end = text.len()
            - text
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        (EDGE_MIN..self.lower.len().min(end + 1))
            .rev()
            .find(|&len| text[end - len..end].eq_ignore_ascii_case(&self.lower[..len]))
            .map(|len| end - len..end)
    }

    /// The end of the secret starting the line (spaces before it aside): its start was on the
    /// line before.
    fn piece_at_start(&self, text: &[u8]) -> Option<Range<usize>> {
        let start = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let secret = self.lower.len();
        (EDGE_MIN..secret.min(text.len() - start + 1))
            .rev()
            .find(|&len| text[start..start + len].eq_ignore_ascii_case(&self.lower[secret - len..]))
            .map(|len| start..start + len)
    }

    /// `line[..keep]` with the sorted, disjoint `spans` replaced by the mask.
    fn replace(&self, line: &[u8], spans: Vec<Range<usize>>, keep: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(keep.min(line.len()) + self.mask.len());
        let mut done = 0;
        for span in spans.into_iter().filter(|span| span.start < keep) {
            out.extend_from_slice(&line[done..span.start]);
            out.extend_from_slice(self.mask.as_bytes());
            done = span.end;
        }
        if done < keep {
            out.extend_from_slice(&line[done..keep.min(line.len())]);
        }
        out
    }
}

/// `spans` sorted and with overlapping or touching ones joined.
fn merged(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|span| span.start);
    let mut joined: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match joined.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => joined.push(span),
        }
    }
    joined
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The base64 characters that depend on `raw` alone when it starts `alignment` bytes into the
/// encoded data: the same whatever comes before and after it.
fn base64_core(raw: &[u8], alignment: usize) -> String {
    let mut data = vec![0; alignment];
    data.extend_from_slice(raw);
    let encoded = STANDARD.encode(&data);
    let first = (8 * alignment).div_ceil(6);
    let end = 8 * (alignment + raw.len()) / 6;
    encoded.get(first..end).unwrap_or_default().to_string()
}

/// Only lines with an escape or a non-ASCII byte need the decoded view; most lines have neither.
fn needs_decoding(line: &[u8]) -> bool {
    line.iter()
        .any(|&byte| matches!(byte, b'%' | b'\\' | b'&') || !byte.is_ascii())
}

/// A line with escaped characters decoded and zero-width characters left out, and for each of
/// its bytes the bytes of the line it came from.
struct View {
    bytes: Vec<u8>,
    from: Vec<Range<usize>>,
}

impl View {
    fn decode(line: &[u8]) -> View {
        let mut view = View {
            bytes: Vec::with_capacity(line.len()),
            from: Vec::with_capacity(line.len()),
        };
        let mut at = 0;
        while at < line.len() {
            let rest = &line[at..];
            if let Some(len) = zero_width(rest) {
                at += len;
                continue;
            }
            let (byte, len) = unescaped(rest).unwrap_or((rest[0], 1));
            view.bytes.push(byte);
            view.from.push(at..at + len);
            at += len;
        }
        view
    }

    /// The bytes of the line that `span` of the view came from.
    fn origin(&self, span: Range<usize>) -> Range<usize> {
        self.from[span.start].start..self.from[span.end - 1].end
    }
}

/// The length of the zero-width character (U+200B–U+200F, U+2060, U+FEFF, soft hyphen) that
/// `rest` starts with.
fn zero_width(rest: &[u8]) -> Option<usize> {
    match rest {
        [0xE2, 0x80, 0x8B..=0x8F, ..] | [0xE2, 0x81, 0xA0, ..] | [0xEF, 0xBB, 0xBF, ..] => Some(3),
        [0xC2, 0xAD, ..] => Some(2),
        _ => None,
    }
}

/// The ASCII byte an escape at the start of `rest` stands for, and the escape's length:
/// `%5F`, `\u005f`, `\x5f`, `&#95;`, `&#x5f;`.
fn unescaped(rest: &[u8]) -> Option<(u8, usize)> {
    let (digits, radix, len) = match rest {
        [b'%', ..] => (rest.get(1..3)?, 16, 3),
        [b'\\', b'u', ..] => (rest.get(2..6)?, 16, 6),
        [b'\\', b'x', ..] => (rest.get(2..4)?, 16, 4),
        [b'&', b'#', b'x' | b'X', after @ ..] => {
            let digits = entity_digits(after)?;
            (digits, 16, 4 + digits.len())
        }
        [b'&', b'#', after @ ..] => {
            let digits = entity_digits(after)?;
            (digits, 10, 3 + digits.len())
        }
        _ => return None,
    };
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    let value = u32::from_str_radix(text, radix).ok()?;
    u8::try_from(value)
        .ok()
        .filter(u8::is_ascii)
        .map(|byte| (byte, len))
}

/// The one to four alphanumerics before the `;` that ends an HTML character reference.
fn entity_digits(rest: &[u8]) -> Option<&[u8]> {
    let len = rest.iter().take(5).position(|&b| b == b';')?;
    let digits = &rest[..len];
    (!digits.is_empty() && digits.iter().all(u8::is_ascii_alphanumeric)).then_some(digits)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE;

    use super::*;

    // Split so the source holds nothing that looks like a live token.
    const CANARY: &str = concat!("chuks_pk_", "Canary0123456789abcdefghijKLMNOPQRSTUVwx");
    const MASK: &str = "chuks_pk_****";

    fn masked(line: &str) -> String {
        let secret = KnownSecret::new(CANARY, MASK);
        String::from_utf8(secret.mask(line.as_bytes(), line.len()).into_owned()).unwrap()
    }

    /// Nothing of the canary's random part, 8 characters in a row, in `text`.
    fn assert_no_piece(text: &str) {
        let body = &CANARY["chuks_pk_".len()..];
        for start in 0..=body.len() - 8 {
            let piece = &body[start..start + 8];
            assert!(
                !text
                    .to_ascii_lowercase()
                    .contains(&piece.to_ascii_lowercase()),
                "`{piece}` in {text}"
            );
        }
    }

    #[test]
    fn the_secret_in_any_case_and_in_hex_is_masked() {
        for form in [
            CANARY.to_string(),
            CANARY.to_uppercase(),
            CANARY.to_lowercase(),
            hex(CANARY.as_bytes()),
            hex(CANARY.as_bytes()).to_uppercase(),
        ] {
            let out = masked(&format!("debug: sending {form} now"));
            assert_eq!(out, format!("debug: sending {MASK} now"));
        }
    }

    #[test]
    fn base64_at_every_alignment_is_masked() {
        for before in [&b""[..], b"a", b"ab", b"user:", b"Authorization: Bearer "] {
            let mut data = before.to_vec();
            data.extend_from_slice(CANARY.as_bytes());
            data.extend_from_slice(b" and after");
            for encoded in [STANDARD.encode(&data), URL_SAFE.encode(&data)] {
                let out = masked(&encoded);
                // What is left around the mask encodes what was around the secret, and at most
                // the two characters at each end that mix its bits with theirs.
                let (left, right) = out.split_once(MASK).expect("masked");
                assert!(left.len() <= before.len() * 4 / 3 + 2, "{out}");
                assert!(right.len() <= b" and after".len() * 4 / 3 + 4, "{out}");
            }
        }
    }

    #[test]
    fn escaped_characters_are_seen_through() {
        let percent: String = CANARY.bytes().map(|b| format!("%{b:02X}")).collect();
        let unicode: String = CANARY.bytes().map(|b| format!("\\u{b:04x}")).collect();
        for form in [
            percent,
            unicode,
            CANARY.replace('_', "%5F"),
            CANARY.replace('_', "\\u005f"),
            CANARY.replace('_', "\\u005F"),
            CANARY.replace('_', "\\x5f"),
            CANARY.replace('_', "&#95;"),
            CANARY.replace('_', "&#x5f;"),
        ] {
            let out = masked(&format!("{{\"token\": \"{form}\"}}"));
            assert_eq!(out, format!("{{\"token\": \"{MASK}\"}}"), "{form}");
        }
    }

    #[test]
    fn zero_width_characters_inside_do_not_hide_it() {
        for zw in ["\u{200b}", "\u{200d}", "\u{2060}", "\u{feff}", "\u{ad}"] {
            let form = format!("{}{zw}{}", &CANARY[..12], &CANARY[12..]);
            assert_eq!(masked(&format!("[{form}]")), format!("[{MASK}]"), "{zw:?}");
        }
    }

    #[test]
    fn a_secret_split_across_two_lines_is_masked_on_both() {
        for cut in [6, 9, 20, CANARY.len() - 6] {
            let (first, second) = CANARY.split_at(cut);
            let end = masked(&format!("debug: token {first}  "));
            let start = masked(&format!("  {second} (continued)"));
            assert_no_piece(&format!("{end}\n{start}"));
            assert!(end.contains(MASK) && start.contains(MASK), "{end}\n{start}");
        }
        // A short piece tells little and is left alone: it matches other text too often.
        assert_eq!(masked("ends with chuk"), "ends with chuk");
        assert_eq!(masked("Vwx starts it"), "Vwx starts it");
    }

    #[test]
    fn a_cut_never_shows_part_of_a_secret() {
        let line = format!("{}{CANARY} tail", "x".repeat(10));
        let secret = KnownSecret::new(CANARY, MASK);
        for keep in [5, 10, 11, 30, line.len() - 3] {
            let out = String::from_utf8(secret.mask(line.as_bytes(), keep).into_owned()).unwrap();
            assert_no_piece(&out);
            assert!(out.len() <= keep.max(10) + MASK.len(), "{keep}: {out}");
        }
        assert_eq!(
            secret.mask(b"nothing here", 7).as_ref(),
            b"nothing",
            "a plain cut"
        );
        assert!(secret.longest_form() >= CANARY.len() * 6);
    }

    #[test]
    fn other_text_is_untouched_and_borrowed() {
        let secret = KnownSecret::new(CANARY, MASK);
        for text in [
            "Packing 409 files",
            "50% done & 100% \\ ok",
            "naïve café",
            "chuks_pk_**** is a placeholder",
        ] {
            let out = secret.mask(text.as_bytes(), text.len());
            assert_eq!(out.as_ref(), text.as_bytes());
            assert!(matches!(out, Cow::Borrowed(_)), "{text}");
        }
    }
}
