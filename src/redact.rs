//! Masking secrets in text before chuks-ci prints it: every token format of
//! [`crate::token_patterns`], and the parts of a URL that can carry credentials.
//!
//! Diagnostics (`error:`, `warning:`, notes, debug lines, clap's usage errors) pass through
//! [`redact`] on their way out, so a token given where an argument was not expected, or echoed
//! back by a parser, is printed as `chuks_pk_****`. A secret chuks-ci knows exactly is also
//! found in its encodings by [`KnownSecret`].

mod known_secret;

use std::borrow::Cow;

pub use known_secret::KnownSecret;

use crate::token_patterns::{self, Strictness};

/// What replaces a masked secret or URL part.
const MASK: &str = "****";

/// `text` with every token-shaped string replaced by its prefix and `****`. Borrows when there
/// is nothing to mask, which is almost always.
pub fn redact(text: &str) -> Cow<'_, str> {
    mask_tokens(text, 0)
}

/// `text` with every token-shaped string replaced by its prefix, at most `shown` characters
/// of its body, and `****`.
pub fn mask_tokens(text: &str, shown: usize) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some(first) = token_patterns::find_first(bytes, bytes.len(), Strictness::Lenient) else {
        return Cow::Borrowed(text);
    };
    let mut redacted = String::with_capacity(text.len());
    let mut next = Some(first);
    let mut done = 0;
    while let Some(found) = next {
        let start = done + found.start;
        // Prefixes and bodies are ASCII, so both ends fall on character boundaries.
        redacted.push_str(&text[done..start]);
        redacted.push_str(&found.masked(&bytes[done..], shown));
        done = start + found.len;
        let rest = &bytes[done..];
        next = token_patterns::find_first(rest, rest.len(), Strictness::Lenient);
    }
    redacted.push_str(&text[done..]);
    Cow::Owned(redacted)
}

/// A URL as written by a person, for messages: userinfo, query values and the fragment are
/// masked, and so are tokens anywhere else. Works on text that does not parse as a URL too.
pub fn redact_url(text: &str) -> String {
    let (before_fragment, fragment) = match text.split_once('#') {
        Some((before, _)) => (before, Some(MASK)),
        None => (text, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((before, query)) => (before, Some(redact_query(query))),
        None => (before_fragment, None),
    };
    let mut redacted = redact_userinfo(before_query);
    if let Some(query) = query {
        redacted.push('?');
        redacted.push_str(&query);
    }
    if let Some(fragment) = fragment {
        redacted.push('#');
        redacted.push_str(fragment);
    }
    redact(&redacted).into_owned()
}

/// `scheme://user:password@host/path` → `scheme://****@host/path`.
fn redact_userinfo(text: &str) -> String {
    let authority_start = text.find("://").map_or(0, |index| index + 3);
    let authority_end = text[authority_start..]
        .find('/')
        .map_or(text.len(), |index| authority_start + index);
    match text[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}{MASK}{}",
            &text[..authority_start],
            &text[authority_start + at..]
        ),
        None => text.to_string(),
    }
}

/// `a=1&b` → `a=****&****`: names stay readable, values never print.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={MASK}"),
            None if pair.is_empty() => String::new(),
            None => MASK.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Split so the source holds nothing that looks like a live token.
    const CHUKS: &str = concat!("chuks_pk_", "a1b2C3d4E5f6G7h8I9j0KlMn");

    #[test]
    fn every_token_format_is_masked() {
        for (token, masked) in [
            (CHUKS, "chuks_pk_****"),
            ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_****"),
            ("gho_0123456789abcdefghijABCDEFGHIJ012345", "gho_****"),
            ("ghu_0123456789abcdefghijABCDEFGHIJ012345", "ghu_****"),
            ("ghs_0123456789abcdefghijABCDEFGHIJ012345", "ghs_****"),
            ("ghr_0123456789abcdefghijABCDEFGHIJ012345", "ghr_****"),
            (
                "github_pat_11ABCDEFG0abcdefghijkl_0123456789",
                "github_pat_****",
            ),
            ("glpat-xY9_zzzzzzzzzzzzzzzzzz", "glpat-****"),
            ("npm_0123456789abcdefghijABCDEFGHIJ012345", "npm_****"),
            ("pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAw", "pypi-AgEI****"),
        ] {
            let text = format!("error: unexpected argument '{token}' found\n");
            assert_eq!(
                redact(&text),
                format!("error: unexpected argument '{masked}' found\n")
            );
        }
    }

    #[test]
    fn truncated_tokens_and_several_tokens_are_masked() {
        let text = format!("«{CHUKS}» and ghp_abcdefgh, ghp_abc stays");
        assert_eq!(redact(&text), "«chuks_pk_****» and ghp_****, ghp_abc stays");
    }

    #[test]
    fn text_without_tokens_is_borrowed() {
        let text = "the token does not start with `chuks_pk_`: it looks like a GitHub token";
        assert!(matches!(redact(text), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_lose_userinfo_query_values_and_fragment() {
        assert_eq!(
            redact_url("https://user:pw@host.example/api?token=abc&debug#frag"),
            "https://****@host.example/api?token=****&****#****"
        );
        assert_eq!(redact_url("not a url?x=1"), "not a url?x=****");
        assert_eq!(
            redact_url("https://host.example/a"),
            "https://host.example/a"
        );
        assert_eq!(
            redact_url(&format!("https://h/{CHUKS}")),
            "https://h/chuks_pk_****"
        );
    }
}
