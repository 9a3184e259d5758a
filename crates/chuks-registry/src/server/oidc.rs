//! Verifying a CI's OIDC ID token: the issuers trusted, their key sets (found through the
//! discovery document, fetched when first needed, cached, refreshed on an unknown `kid` at most
//! once a minute), the RS256 signature, and `iss`, `aud`, `exp`, `nbf` and `iat`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use jiff::Timestamp;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::RegistryError;
use crate::protocol::{GITHUB_ISSUER, GITLAB_ISSUER, PublisherClaims};
use crate::untrusted::Untrusted;

/// Default `--oidc-audience`.
pub const DEFAULT_AUDIENCE: &str = "chuks";

/// Default `--minted-token-minutes`: long enough for an upload, short enough to be worthless
/// soon after the run.
pub const DEFAULT_MINTED_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Longest ID token accepted; CI tokens are 1 to 2 KB.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// Clock skew allowed between the issuer and the registry, on every time claim.
const LEEWAY_SECONDS: u64 = 60;

/// Longest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// How long a fetch of either may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a key set is used before it is fetched again.
const KEYS_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The least time between two refreshes caused by an unknown `kid`, so tokens naming made-up
/// keys cannot make the registry hammer the issuer.
const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Longest claim value kept; longer ones are cut (they only matter to compare and show).
const MAX_CLAIM_CHARS: usize = 1024;

/// What the exchange trusts and mints.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Issuer URLs (`iss`), without a trailing `/`. Bitbucket's, one per workspace, are trusted
    /// by the trusted publishers that name them.
    pub issuers: Vec<String>,
    /// The `aud` an ID token must carry.
    pub audience: String,
    /// How long a minted token lives.
    pub minted_token_lifetime: Duration,
}

impl Default for OidcConfig {
    /// GitHub's and GitLab.com's issuers, audience `chuks`, 15-minute tokens.
    fn default() -> OidcConfig {
        OidcConfig {
            issuers: vec![GITHUB_ISSUER.to_string(), GITLAB_ISSUER.to_string()],
            audience: DEFAULT_AUDIENCE.to_string(),
            minted_token_lifetime: DEFAULT_MINTED_TOKEN_LIFETIME,
        }
    }
}

/// Checks an issuer URL (https, or plain http to loopback only) and returns it without a
/// trailing `/`, as `iss` spells it.
pub fn check_issuer_url(url: &str) -> Result<String, RegistryError> {
    let refuse = |reason| RegistryError::InvalidIssuer {
        url: Untrusted::from(url).truncated(super::QUOTED_NAME_CHARS * 2),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse("it is not a URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => return Err(refuse("plain http is allowed for loopback issuers only")),
        _ => return Err(refuse("it is not an https URL")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(refuse(
            "an issuer URL has no query, fragment or credentials",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why an ID token was refused, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "the ID token is not a JWT ({0})\nhint: send the CI's OIDC ID token itself, as the CI issued it"
    )]
    Malformed(&'static str),

    #[error(
        "the ID token is longer than {MAX_ID_TOKEN_BYTES} bytes\nhint: send the CI's OIDC ID token itself"
    )]
    TooLarge,

    #[error(
        "the ID token is signed with `{0}`; only RS256 is accepted\nhint: send the token the CI issued, unchanged"
    )]
    Algorithm(Untrusted),

    #[error(
        "the ID token's issuer `{0}` is not trusted by this registry\nhint: the operator trusts issuers with `registry serve --oidc-issuer URL` (Bitbucket's with a trusted publisher's `--issuer`)"
    )]
    UntrustedIssuer(Untrusted),

    #[error(
        "the ID token names no signing key (`kid`)\nhint: send the token the CI issued, unchanged"
    )]
    NoKeyId,

    #[error(
        "the issuer `{issuer}` has no signing key `{kid}`\nhint: the token was not signed by this issuer; request a new ID token from the CI"
    )]
    UnknownKey { issuer: Untrusted, kid: Untrusted },

    #[error(
        "the ID token's signature does not verify\nhint: the token was altered or not signed by its issuer; request a new ID token from the CI"
    )]
    Signature,

    #[error(
        "the ID token expired (`exp`, with {LEEWAY_SECONDS} s of leeway)\nhint: request the ID token right before the exchange; it lives minutes"
    )]
    Expired,

    #[error(
        "the ID token is not valid yet (`nbf`, with {LEEWAY_SECONDS} s of leeway)\nhint: check the clocks of the CI runner and the registry"
    )]
    NotYetValid,

    #[error(
        "the ID token was issued in the future (`iat`, with {LEEWAY_SECONDS} s of leeway)\nhint: check the clocks of the CI runner and the registry"
    )]
    IssuedInFuture,

    #[error(
        "the ID token's audience (`aud`) is not `{expected}`\nhint: request the ID token with the audience `GET /api/oidc/audience` answers (`{expected}`)"
    )]
    Audience { expected: String },

    #[error("the ID token lacks the `{0}` claim\nhint: send the token the CI issued, unchanged")]
    MissingClaim(Untrusted),

    #[error(
        "the ID token's claims are not valid: {0}\nhint: send the token the CI issued, unchanged"
    )]
    Claims(Untrusted),

    #[error(
        "cannot fetch the signing keys of `{issuer}`: {reason}\nhint: retry later; if it persists, the registry's operator should check that it reaches the issuer"
    )]
    Unavailable { issuer: Untrusted, reason: String },
}

/// The claims of a verified ID token that are text or numbers, by name.
#[derive(Debug, Clone)]
pub struct IdClaims {
    issuer: String,
    expires_at: i64,
    replay_key: String,
    values: BTreeMap<String, String>,
}

impl IdClaims {
    /// A claim as text; numbers are given as they are written.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `exp`, in seconds since the epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// What identifies this token among every token exchanged: `iss` and `jti`, or the token's
    /// sha256 where it has no `jti`.
    pub fn replay_key(&self) -> &str {
        &self.replay_key
    }

    /// The claims a refusal reports, as the wire types them.
    pub fn publisher_claims(&self) -> PublisherClaims {
        let claim = |name: &str| self.text(name).map(Untrusted::from);
        PublisherClaims {
            iss: Some(self.issuer.as_str().into()),
            repository: claim("repository"),
            repository_owner_id: claim("repository_owner_id"),
            workflow_ref: claim("workflow_ref"),
            job_workflow_ref: claim("job_workflow_ref"),
            environment: claim("environment"),
            project_path: claim("project_path"),
            ci_config_ref_uri: claim("ci_config_ref_uri"),
            workspace_uuid: claim("workspaceUuid"),
            repository_uuid: claim("repositoryUuid"),
        }
    }
}

/// The key sets of the trusted issuers, and the one client that fetches them.
pub struct Verifier {
    config: OidcConfig,
    client: reqwest::Client,
    keys: tokio::sync::Mutex<HashMap<String, IssuerKeys>>,
}

struct IssuerKeys {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Instant,
    /// When an unknown `kid` last caused a fetch.
    refreshed_at: Option<Instant>,
}

/// The first segment of a JWT.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct Key {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl Verifier {
    pub fn new(config: OidcConfig) -> Result<Verifier, RegistryError> {
        // reqwest is built without a TLS provider; installing ring twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("chuks-registry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| RegistryError::Serve(std::io::Error::other(err)))?;
        Ok(Verifier {
            config,
            client,
            keys: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Verifies `token` against the issuer it names, which must be one of the configured
    /// issuers or `also_trusted` (Bitbucket's, named by trusted publishers).
    pub async fn verify(
        &self,
        token: &str,
        also_trusted: &[String],
        now: Timestamp,
    ) -> Result<IdClaims, VerifyError> {
        if token.len() > MAX_ID_TOKEN_BYTES {
            return Err(VerifyError::TooLarge);
        }
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(_), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(VerifyError::Malformed("it is not three segments"));
        };
        let header: Header = decode_segment(header, "its header")?;
        if header.alg != "RS256" {
            return Err(VerifyError::Algorithm(
                Untrusted::from(header.alg).truncated(32),
            ));
        }
        let unverified: Map<String, Value> = decode_segment(payload, "its claims")?;
        let issuer = match unverified.get("iss") {
            Some(Value::String(issuer)) => issuer.clone(),
            _ => return Err(VerifyError::MissingClaim("iss".into())),
        };
        let trusted = self.config.issuers.iter().chain(also_trusted);
        if !trusted.into_iter().any(|known| *known == issuer) {
            return Err(VerifyError::UntrustedIssuer(
                Untrusted::from(issuer).truncated(MAX_CLAIM_CHARS),
            ));
        }
        let kid = header.kid.ok_or(VerifyError::NoKeyId)?;
        let key = self.key(&issuer, &kid).await?;
        let claims = self.check(token, &key, &issuer)?;
        check_issued_at(&claims, now)?;
        Ok(id_claims(issuer, claims, token))
    }

    /// The signature and the claims jsonwebtoken checks: `iss`, `aud`, `exp`, `nbf`.
    fn check(
        &self,
        token: &str,
        key: &DecodingKey,
        issuer: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "iat"]);
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.into_kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
                ErrorKind::InvalidAudience => VerifyError::Audience {
                    expected: self.config.audience.clone(),
                },
                ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => VerifyError::Signature,
                ErrorKind::MissingRequiredClaim(claim) => VerifyError::MissingClaim(claim.into()),
                ErrorKind::InvalidAlgorithm => VerifyError::Algorithm("?".into()),
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => VerifyError::Malformed("a segment does not decode"),
                other => VerifyError::Claims(Untrusted::from(format!("{other:?}")).truncated(200)),
            })
    }

    /// The issuer's key `kid`: from the cache, else from a fresh key set. An unknown `kid`
    /// fetches the set again (the issuer may have rotated its keys), at most once a minute.
    async fn key(&self, issuer: &str, kid: &str) -> Result<DecodingKey, VerifyError> {
        let mut cache = self.keys.lock().await;
        let now = Instant::now();
        let fetch = match cache.get(issuer) {
            None => Some(None),
            Some(cached) if now.duration_since(cached.fetched_at) > KEYS_LIFETIME => Some(None),
            Some(cached) if cached.keys.contains_key(kid) => None,
            Some(cached) => cached
                .refreshed_at
                .is_none_or(|at| now.duration_since(at) >= REFRESH_INTERVAL)
                .then_some(Some(now)),
        };
        if let Some(refreshed_at) = fetch {
            let keys = self.fetch_keys(issuer).await?;
            cache.insert(
                issuer.to_string(),
                IssuerKeys {
                    keys,
                    fetched_at: now,
                    refreshed_at,
                },
            );
        }
        cache
            .get(issuer)
            .and_then(|cached| cached.keys.get(kid))
            .cloned()
            .ok_or_else(|| VerifyError::UnknownKey {
                issuer: issuer.into(),
                kid: Untrusted::from(kid).truncated(64),
            })
    }

    /// The discovery document, then the key set it points at; RSA keys with a `kid` only.
    async fn fetch_keys(&self, issuer: &str) -> Result<HashMap<String, DecodingKey>, VerifyError> {
        let unavailable = |reason: String| VerifyError::Unavailable {
            issuer: issuer.into(),
            reason,
        };
        let discovery: Discovery = self
            .get_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await
            .map_err(unavailable)?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(unavailable(
                "its discovery document names another issuer".to_string(),
            ));
        }
        check_issuer_url(&discovery.jwks_uri)
            .map_err(|_| unavailable("its `jwks_uri` is not https".to_string()))?;
        let set: KeySet = self
            .get_json(&discovery.jwks_uri)
            .await
            .map_err(unavailable)?;
        Ok(set
            .keys
            .into_iter()
            .filter(|key| key.kty == "RSA")
            .filter_map(|key| {
                let decoding =
                    DecodingKey::from_rsa_components(key.n.as_deref()?, key.e.as_deref()?).ok()?;
                Some((key.kid?, decoding))
            })
            .collect())
    }

    /// A small JSON document, read up to [`MAX_DOCUMENT_BYTES`].
    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let shown = Untrusted::from(url).truncated(200);
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|err| format!("`{shown}` did not answer ({})", describe(&err)))?;
        if !response.status().is_success() {
            return Err(format!("`{shown}` answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| format!("`{shown}` broke off ({})", describe(&err)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "`{shown}` is larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| format!("`{shown}` is not the expected JSON"))
    }
}

/// A reqwest error's kind, without the URL it repeats.
fn describe(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "transport error"
    }
}

fn decode_segment<T: DeserializeOwned>(
    segment: &str,
    what: &'static str,
) -> Result<T, VerifyError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed(what))
}

/// `iat` must not be in the future; jsonwebtoken checks only `exp` and `nbf`.
fn check_issued_at(claims: &Map<String, Value>, now: Timestamp) -> Result<(), VerifyError> {
    let issued_at = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| VerifyError::MissingClaim("iat".into()))?;
    if issued_at > now.as_second() + LEEWAY_SECONDS as i64 {
        return Err(VerifyError::IssuedInFuture);
    }
    Ok(())
}

fn id_claims(issuer: String, claims: Map<String, Value>, token: &str) -> IdClaims {
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let replay_key = match claims.get("jti").and_then(Value::as_str) {
        Some(jti) => format!("{issuer} {jti}"),
        None => format!("sha256 {}", crate::token::token_hash(token)),
    };
    let values = claims
        .into_iter()
        .filter_map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some((name, text.chars().take(MAX_CLAIM_CHARS).collect()))
        })
        .collect();
    IdClaims {
        issuer,
        expires_at,
        replay_key,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_are_https_or_loopback_http() {
        for good in [
            "https://token.actions.githubusercontent.com",
            "https://gitlab.com/",
            "http://127.0.0.1:4000",
            "http://localhost:1/x",
            "http://[::1]:80",
        ] {
            assert!(check_issuer_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            check_issuer_url("https://gitlab.com/").unwrap(),
            "https://gitlab.com"
        );
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://x",
            "gitlab.com",
            "https://u:p@x.example",
            "https://x.example/?a=b",
        ] {
            assert!(check_issuer_url(bad).is_err(), "{bad}");
        }
    }
}
