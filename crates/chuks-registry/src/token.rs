//! The Chuks API token: its `chuks_pk_` format, scopes, and a secret type that never prints it.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Every API token starts with this; it tells API tokens apart from OAuth/session tokens.
pub const TOKEN_PREFIX: &str = "chuks_pk_";

/// The most `--token-stdin` reads; a token is about 50 bytes.
pub const MAX_STDIN_BYTES: u64 = 4096;

/// Random characters after the prefix.
const TOKEN_RANDOM_LEN: usize = 40;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a token may do. Serialized as `packages:read` etc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    PackagesRead,
    PackagesPublish,
    PackagesYank,
    PackagesPermissions,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::PackagesRead,
        Scope::PackagesPublish,
        Scope::PackagesYank,
        Scope::PackagesPermissions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PackagesRead => "packages:read",
            Scope::PackagesPublish => "packages:publish",
            Scope::PackagesYank => "packages:yank",
            Scope::PackagesPermissions => "packages:permissions",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<Scope, TokenError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text.trim())
            .ok_or_else(|| TokenError::UnknownScope {
                scope: text.to_string(),
            })
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A raw API token. It has no `Display` and its `Debug` hides the value, so it cannot end up in
/// logs or messages by accident.
#[derive(Clone)]
pub struct ApiToken(SecretString);

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiToken({TOKEN_PREFIX}***)")
    }
}

impl ApiToken {
    /// Checks the shape of a token read from a flag or the environment.
    ///
    /// Surrounding whitespace (a pasted newline) is removed with a warning. The token itself never
    /// appears in errors or warnings.
    pub fn parse(raw: &str) -> Result<(ApiToken, Vec<String>), TokenError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TokenError::Empty);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        if !trimmed.starts_with(TOKEN_PREFIX) {
            return Err(TokenError::NotAnApiToken {
                looks_like: looks_like(trimmed),
            });
        }
        let mut warnings = Vec::new();
        if trimmed.len() != raw.len() {
            warnings.push(
                "removed whitespace around the token\nhint: store the secret without a trailing newline"
                    .to_string(),
            );
        }
        Ok((ApiToken(trimmed.into()), warnings))
    }

    /// The raw token: only for the `Authorization` header and the one-time print at creation.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Where a token was read from, in the order they are consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Flag,
    Env,
    Stdin,
}

/// A token found in one of the sources, with the shape warnings to print.
#[derive(Debug)]
pub struct ResolvedToken {
    pub token: ApiToken,
    pub source: TokenSource,
    pub warnings: Vec<String>,
}

/// Picks the token: `--token`, then `CHUKS_TOKEN`, then standard input when asked for.
/// `None` when no source holds one. `on_raw` sees the trimmed value before its shape is checked,
/// so even a malformed secret can be masked in CI logs.
pub fn resolve(
    flag: Option<&str>,
    env: Option<String>,
    stdin: Option<&mut dyn Read>,
    on_raw: impl FnOnce(&str),
) -> Result<Option<ResolvedToken>, TokenError> {
    let (raw, source) = match (flag, env, stdin) {
        (Some(flag), _, _) => (flag.to_string(), TokenSource::Flag),
        (None, Some(env), _) => (env, TokenSource::Env),
        (None, None, Some(stdin)) => {
            let mut raw = String::new();
            // Bounded: an endless stream (`yes |`, `/dev/zero`) must not fill memory.
            stdin
                .take(MAX_STDIN_BYTES + 1)
                .read_to_string(&mut raw)
                .map_err(TokenError::Stdin)?;
            if raw.len() as u64 > MAX_STDIN_BYTES {
                return Err(TokenError::StdinTooLarge);
            }
            (raw, TokenSource::Stdin)
        }
        (None, None, None) => return Ok(None),
    };
    if !raw.trim().is_empty() {
        on_raw(raw.trim());
    }
    let (token, warnings) = ApiToken::parse(&raw)?;
    Ok(Some(ResolvedToken {
        token,
        source,
        warnings,
    }))
}

/// Names what a credential that is not an API token appears to be, for hints.
pub fn looks_like(raw: &str) -> &'static str {
    if ["ghp_", "gho_", "ghu_", "ghs_", "github_pat_"]
        .iter()
        .any(|p| raw.starts_with(p))
    {
        "a GitHub token"
    } else if raw.starts_with("glpat-") {
        "a GitLab token"
    } else if raw.starts_with("eyJ") {
        "an OAuth/session token (a JWT)"
    } else {
        "an unrecognised credential"
    }
}

/// Mints a fresh token: the prefix and 40 base62 characters from the OS random source.
pub fn generate() -> ApiToken {
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN);
    token.push_str(TOKEN_PREFIX);
    let mut buffer = [0u8; 64];
    while token.len() < TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN {
        getrandom::fill(&mut buffer).expect("the OS random source is unavailable");
        // Bytes 248..=255 are dropped so each of the 62 characters is equally likely (248 = 4 × 62).
        for byte in buffer.iter().filter(|&&b| b < 248) {
            if token.len() == TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN {
                break;
            }
            token.push(BASE62[usize::from(*byte % 62)] as char);
        }
    }
    ApiToken(token.into())
}

/// The lowercase hex sha256 of a raw token: the only form the registry stores and looks up.
pub fn token_hash(raw: &str) -> String {
    format!("{:x}", Sha256::digest(raw.as_bytes()))
}

/// Token problems. `Empty` and `UnknownScope` are usage errors (exit 2): nothing usable was
/// configured. A present token of the wrong shape is an authentication error (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "no API token was given\nhint: set `CHUKS_TOKEN` from your CI's secret store (or pass `--token-stdin`); create a token with the `packages:publish` scope in the dashboard's API Tokens tab"
    )]
    Missing,

    #[error(
        "could not read the API token from standard input: {0}\nhint: pipe the token in, e.g. `printenv CHUKS_TOKEN | chuks-ci publish --token-stdin`"
    )]
    Stdin(std::io::Error),

    #[error(
        "standard input holds more than {MAX_STDIN_BYTES} bytes, too much for an API token\nhint: pipe only the token in, e.g. `printenv CHUKS_TOKEN | chuks-ci publish --token-stdin`"
    )]
    StdinTooLarge,

    #[error(
        "the API token is empty\nhint: pass `--token` or set `CHUKS_TOKEN` to a token from the dashboard's API Tokens tab"
    )]
    Empty,

    #[error(
        "the API token contains spaces or non-printable characters\nhint: copy the token again from the dashboard; it is `chuks_pk_` followed by letters and digits"
    )]
    NotPrintable,

    #[error(
        "the token does not start with `chuks_pk_`: it looks like {looks_like}\nhint: generate an API token in the dashboard's API Tokens tab and use that instead"
    )]
    NotAnApiToken { looks_like: &'static str },

    #[error(
        "unknown scope `{scope}`\nhint: use `packages:read`, `packages:publish`, `packages:yank` or `packages:permissions`"
    )]
    UnknownScope { scope: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let token = generate();
        let raw = token.expose();
        let random = raw.strip_prefix(TOKEN_PREFIX).unwrap();
        assert_eq!(random.len(), 40);
        assert!(
            random.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{random}"
        );
        assert_ne!(generate().expose(), raw);
    }

    #[test]
    fn generated_characters_cover_the_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            seen.extend(generate().expose()[TOKEN_PREFIX.len()..].bytes());
        }
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn debug_hides_the_secret() {
        let token = generate();
        let printed = format!("{token:?}");
        assert_eq!(printed, "ApiToken(chuks_pk_***)");
        assert!(!printed.contains(&token.expose()[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
        assert!(matches!(
            "packages:write".parse::<Scope>(),
            Err(TokenError::UnknownScope { .. })
        ));
    }

    #[test]
    fn parse_trims_with_a_warning() {
        let (token, warnings) = ApiToken::parse("chuks_pk_abc\n").unwrap();
        assert_eq!(token.expose(), "chuks_pk_abc");
        assert_eq!(warnings.len(), 1);
        let (_, warnings) = ApiToken::parse("chuks_pk_abc").unwrap();
        assert!(warnings.is_empty());
    }

    #[test]
    fn parse_names_foreign_tokens_without_echoing_them() {
        for (raw, expected) in [
            ("ghp_secretvalue", "GitHub"),
            ("github_pat_secretvalue", "GitHub"),
            ("glpat-secretvalue", "GitLab"),
            ("eyJhbGciOi.secretvalue", "OAuth/session"),
        ] {
            let err = ApiToken::parse(raw).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(!text.contains("secretvalue"), "{text}");
        }
        assert!(matches!(
            ApiToken::parse("chuks_pk_a b"),
            Err(TokenError::NotPrintable)
        ));
    }
}
