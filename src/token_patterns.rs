//! The token formats chuks-ci recognises, and finding them in bytes: the one table shared by
//! the leak guard (which refuses files holding a token) and the redactor (which masks tokens
//! in text chuks-ci prints).

/// A token format: a literal prefix, then a body of `min_body..=max_body` characters.
pub struct TokenPattern {
    pub kind: &'static str,
    pub prefix: &'static [u8],
    is_body: fn(u8) -> bool,
    min_body: usize,
    /// `Some(n)` for formats of a fixed length: a longer run of body characters is not a match.
    max_body: Option<usize>,
}

/// How closely a candidate must follow a format to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// The exact documented length: what the leak guard refuses, so that near misses in source
    /// files (identifiers, test fixtures) are not refused.
    Exact,
    /// The prefix and at least [`LENIENT_MIN_BODY`] body characters, however many follow: what
    /// the redactor masks, since a truncated or mistyped token is still a secret.
    Lenient,
}

/// Body characters after a prefix that make a lenient match.
pub const LENIENT_MIN_BODY: usize = 8;

pub const TOKEN_PATTERNS: [TokenPattern; 10] = [
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

/// Bytes an exact match needs to look at from its start to decide: prefix, body, one byte past
/// it.
pub const LOOKAHEAD: usize = lookahead();

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
pub const MAX_SEPARATOR_OFFSET: usize = max_separator_offset();

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

/// A token found in a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    /// Prefix and body.
    pub len: usize,
    pub pattern: &'static TokenPattern,
}

impl std::fmt::Debug for TokenPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}

impl PartialEq for TokenPattern {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for TokenPattern {}

impl Found {
    /// The token's prefix and at most `shown` body characters, then `****`. `bytes` is the
    /// slice the token was found in.
    pub fn masked(&self, bytes: &[u8], shown: usize) -> String {
        let end = (self.start + self.pattern.prefix.len() + shown).min(self.start + self.len);
        format!("{}****", String::from_utf8_lossy(&bytes[self.start..end]))
    }
}

/// The token starting earliest among the first `decided` positions of `window` (the earlier
/// pattern on a tie). An exact match looks at most [`LOOKAHEAD`] bytes past its start.
///
/// Every token prefix holds a `_` or a `-` at a fixed offset, so instead of trying each
/// pattern at each byte, the scan jumps between those separators (memchr, many bytes per
/// instruction) and tries only the starts they imply.
pub fn find_first(window: &[u8], decided: usize, strictness: Strictness) -> Option<Found> {
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
            if let Some(body_len) = pattern.match_len(&window[start..], strictness) {
                best = Some((start, index, body_len));
            }
        }
    }
    best.map(|(start, index, body_len)| {
        let pattern = &TOKEN_PATTERNS[index];
        Found {
            start,
            len: pattern.prefix.len() + body_len,
            pattern,
        }
    })
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

    /// The body length of a token starting at `bytes[0]`.
    pub fn match_len(&self, bytes: &[u8], strictness: Strictness) -> Option<usize> {
        let body = bytes.strip_prefix(self.prefix)?;
        let run = |limit: usize| {
            body.iter()
                .take(limit)
                .take_while(|byte| (self.is_body)(**byte))
                .count()
        };
        match strictness {
            Strictness::Exact => {
                let run = run(self.max_body.map_or(self.min_body, |max| max + 1));
                let fits = run >= self.min_body && self.max_body.is_none_or(|max| run <= max);
                fits.then_some(run)
            }
            Strictness::Lenient => Some(run(usize::MAX)).filter(|run| *run >= LENIENT_MIN_BODY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookahead_covers_every_pattern() {
        assert_eq!(LOOKAHEAD, "npm_".len() + 37);
        assert_eq!(MAX_SEPARATOR_OFFSET, "github".len());
    }

    #[test]
    fn lenient_matches_take_the_whole_run() {
        let text = b"x ghp_0123456789 y";
        let found = find_first(text, text.len(), Strictness::Lenient).unwrap();
        assert_eq!((found.start, found.len), (2, 14));
        assert_eq!(find_first(text, text.len(), Strictness::Exact), None);
        assert_eq!(find_first(b"ghp_0123456", 11, Strictness::Lenient), None);
    }
}
