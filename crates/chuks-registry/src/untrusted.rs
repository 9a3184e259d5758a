//! Text that came from outside chuks-ci, held in one type whose `Display` is safe in a terminal
//! and in a CI log.
//!
//! Registry answers, the official CLI's output, file names, git tags and manifest fields can hold
//! anything: escape sequences that redraw a terminal, bidi controls that reorder what a reader
//! sees, newlines that start a line looking like chuks-ci's own `error:`, and CI workflow
//! commands (`::add-mask::…`, `##[set-output …]`) that the GitHub runner obeys on stdout and on
//! stderr alike. [`Untrusted`] has no `Deref` to `str`: formatting it escapes all of that, and
//! the raw text is reached only through [`Untrusted::unescaped`], the one greppable escape hatch,
//! for comparing, parsing and sending on.
//!
//! The escaping, written once here:
//! - C0 and C1 control characters and DEL, newlines included, as `\n`, `\r` or `\u{1b}`: one
//!   value stays on one line and an OSC or CSI sequence is inert (tabs are kept);
//! - Unicode format characters (bidi embeddings and isolates, zero-width characters, the BOM,
//!   tag characters) and the line and paragraph separators, as `\u{202e}`;
//! - the workflow-command openers `::` and `##[`, wherever they appear, by escaping their last
//!   character (`:\u{3a}`, `##\u{5b}`).

use std::fmt::{self, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Text from outside; see the module documentation.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Untrusted(String);

impl Untrusted {
    pub fn new(text: impl Into<String>) -> Self {
        Untrusted(text.into())
    }

    /// Bytes that should be UTF-8 (a child's output, an HTTP body); invalid sequences become
    /// U+FFFD.
    pub fn lossy(bytes: &[u8]) -> Self {
        Untrusted(String::from_utf8_lossy(bytes).into_owned())
    }

    /// A path as text: file names are chosen by whoever made the files.
    pub fn path(path: &Path) -> Self {
        Untrusted(path.to_string_lossy().into_owned())
    }

    /// The text exactly as it came, for comparing, parsing and sending on. Never print it: that
    /// is what `Display` is for.
    pub fn unescaped(&self) -> &str {
        &self.0
    }

    pub fn into_unescaped(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first line only: a registry's message often goes on with advice that repeats ours.
    pub fn first_line(&self) -> Untrusted {
        Untrusted(self.0.lines().next().unwrap_or_default().to_string())
    }

    /// At most `max_chars` characters, with `…` where it was cut.
    pub fn truncated(&self, max_chars: usize) -> Untrusted {
        match self.0.char_indices().nth(max_chars) {
            Some((cut, _)) => Untrusted(format!("{}…", &self.0[..cut])),
            None => self.clone(),
        }
    }
}

/// `value` escaped, or `fallback` (our own words) when there is none.
pub fn or(value: Option<&Untrusted>, fallback: &str) -> String {
    value.map_or_else(|| fallback.to_string(), Untrusted::to_string)
}

impl From<String> for Untrusted {
    fn from(text: String) -> Self {
        Untrusted(text)
    }
}

impl From<&str> for Untrusted {
    fn from(text: &str) -> Self {
        Untrusted(text.to_string())
    }
}

impl PartialEq<str> for Untrusted {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for Untrusted {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<&str> for Untrusted {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(&self.0, f)
    }
}

/// Debug shows the escaped text too: a panic message or a `{:?}` in a log is output as well.
impl fmt::Debug for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Untrusted(\"{self}\")")
    }
}

/// Writes `text` escaped as the module documentation says.
fn escape(text: &str, out: &mut impl fmt::Write) -> fmt::Result {
    for (c, hidden) in classified(text) {
        match (hidden, c) {
            (true, c) => write!(out, "\\u{{{:x}}}", c as u32)?,
            (false, '\n') => out.write_str("\\n")?,
            (false, '\r') => out.write_str("\\r")?,
            (false, c) => out.write_char(c)?,
        }
    }
    Ok(())
}

/// Each character of `text`, and whether it must be written as an escape: an invisible
/// character, or the last character of a workflow-command opener (`::`, `##[`). An escaped
/// character cannot pair with the next one into an opener.
fn classified(text: &str) -> impl Iterator<Item = (char, bool)> + '_ {
    let (mut previous, mut before_previous) = (None, None);
    text.chars().map(move |c| {
        let opens_command = match c {
            ':' => previous == Some(':'),
            '[' => previous == Some('#') && before_previous == Some('#'),
            _ => false,
        };
        let hidden = opens_command || is_invisible(c);
        (before_previous, previous) = match hidden {
            true => (None, None),
            false => (previous, Some(c)),
        };
        (c, hidden)
    })
}

/// Control characters other than tab, newline and carriage return (which get short escapes),
/// and the characters that change how text around them is shown without being seen.
fn is_invisible(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => false,
        c if c.is_control() => true,
        _ => is_format(c),
    }
}

/// Unicode's format characters (general category Cf) and the line and paragraph separators.
fn is_format(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// A JSON document made safe to print as one line of a CI log without changing what it
/// decodes to: the invisible characters inside its strings become `\uXXXX` escapes (serde_json
/// escapes only C0), and so does the last character of `::` and `##[`, which can only occur
/// inside strings.
pub fn defuse_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for (c, hidden) in classified(json) {
        if !hidden {
            out.push(c);
            continue;
        }
        for unit in c.encode_utf16(&mut [0; 2]) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        Untrusted::new(text).to_string()
    }

    #[test]
    fn control_characters_are_escaped_and_one_value_stays_on_one_line() {
        assert_eq!(shown("a\x1b[31mb\rc\td\ne"), "a\\u{1b}[31mb\\rc\td\\ne");
        assert_eq!(shown("osc\x1b]0;title\x07"), "osc\\u{1b}]0;title\\u{7}");
        assert_eq!(shown("c1\u{9b}2J\u{85}"), "c1\\u{9b}2J\\u{85}");
        assert_eq!(shown("del\x7f"), "del\\u{7f}");
    }

    #[test]
    fn bidi_and_zero_width_characters_are_escaped() {
        assert_eq!(shown("v1.0.0\u{202e}0.2.1v"), "v1.0.0\\u{202e}0.2.1v");
        for c in [
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{2066}',
            '\u{2069}',
            '\u{feff}',
            '\u{2028}',
            '\u{e0041}',
            '\u{ad}',
        ] {
            assert_eq!(shown(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
        assert_eq!(shown("naïve café ✓"), "naïve café ✓");
    }

    #[test]
    fn workflow_commands_are_defused_wherever_they_appear() {
        assert_eq!(shown("::add-mask::x"), ":\\u{3a}add-mask:\\u{3a}x");
        assert_eq!(shown("  ::error::x"), "  :\\u{3a}error:\\u{3a}x");
        assert_eq!(shown("a ##[error]b"), "a ##\\u{5b}error]b");
        assert_eq!(shown(":::"), ":\\u{3a}:");
        assert_eq!(shown("a: b"), "a: b");
        assert_eq!(shown("# [x] #[y]"), "# [x] #[y]");
        // A newline escaped in between cannot rebuild the opener on the next line.
        assert_eq!(
            shown("x\n::stop-commands::t"),
            "x\\n:\\u{3a}stop-commands:\\u{3a}t"
        );
    }

    #[test]
    fn the_escaped_text_holds_no_opener_and_no_invisible_character() {
        let nasty = "\u{1b}]8;;x\u{7}::set-output name=a::b\n##[error]\u{202e}\u{2028}:\u{200d}:";
        let out = shown(nasty);
        assert!(!out.contains("::") && !out.contains("##["), "{out}");
        assert!(!out.chars().any(|c| is_invisible(c) || c == '\n'), "{out}");
    }

    #[test]
    fn the_raw_text_is_kept_for_comparing_and_sending_on() {
        let text = Untrusted::new("a::b\n");
        assert_eq!(text.unescaped(), "a::b\n");
        assert_eq!(text, "a::b\n");
        assert_eq!(serde_json::to_string(&text).unwrap(), r#""a::b\n""#);
        assert_eq!(format!("{text:?}"), r#"Untrusted("a:\u{3a}b\n")"#);
    }

    #[test]
    fn truncation_and_first_line() {
        assert_eq!(Untrusted::new("abcdef").truncated(3).to_string(), "abc…");
        assert_eq!(Untrusted::new("abc").truncated(3).to_string(), "abc");
        assert_eq!(Untrusted::new("one\ntwo").first_line(), "one");
    }

    #[test]
    fn json_keeps_its_meaning_and_loses_its_openers() {
        let value = serde_json::json!({
            "tag": "##[error]x::y",
            "name": "a\u{202e}b\u{85}c\u{1f600}",
        });
        let line = defuse_json(&value.to_string());
        assert!(!line.contains("::") && !line.contains("##["), "{line}");
        assert!(!line.chars().any(is_invisible), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, value);
    }
}
