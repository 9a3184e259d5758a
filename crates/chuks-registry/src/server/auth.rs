//! Bearer-token authentication, in the documented order: prefix, hash, revoked, expired, scope.

use jiff::Timestamp;
use rusqlite::Connection;

use super::tokens::{self, TokenRecord};
use crate::token::{self, Scope, TOKEN_PREFIX};

/// Who is calling: the publisher comes from the token, never from the payload.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: TokenRecord,
}

impl Caller {
    /// The publisher as stored, for queries; validated when the token was created.
    pub fn publisher(&self) -> &str {
        self.token.publisher.unescaped()
    }
}

/// Why a request was not authenticated. Variants after the lookup carry the token id for logs.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this endpoint needs an API token\nhint: send `Authorization: Bearer chuks_pk_…`")]
    MissingToken,

    #[error(
        "the `Authorization` header does not use the `Bearer` scheme\nhint: send `Authorization: Bearer chuks_pk_…`"
    )]
    NotBearer,

    #[error(
        "the credential is not a Chuks API token: it looks like {looks_like}\nhint: generate an API token in the dashboard's API Tokens tab and send `Authorization: Bearer chuks_pk_…`"
    )]
    NotAnApiToken { looks_like: &'static str },

    #[error(
        "the API token is not known to this registry\nhint: check the token was copied whole, or create a new one"
    )]
    InvalidToken,

    #[error(
        "API token {id} was revoked at {revoked_at}\nhint: create a new token and update the CI secret"
    )]
    Revoked { id: i64, revoked_at: Timestamp },

    #[error(
        "API token {id} expired at {expires_at}\nhint: create a new token and update the CI secret"
    )]
    Expired { id: i64, expires_at: Timestamp },

    #[error(
        "API token {id} lacks the `{scope}` scope\nhint: create a token with the `{scope}` scope"
    )]
    MissingScope { id: i64, scope: Scope },

    #[error("database error: {0}")]
    Store(#[from] rusqlite::Error),
}

impl AuthError {
    /// The token the request presented, once it was found.
    pub fn token_id(&self) -> Option<i64> {
        match self {
            AuthError::Revoked { id, .. }
            | AuthError::Expired { id, .. }
            | AuthError::MissingScope { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// Checks an `Authorization` header value. `scope: None` accepts any valid token. On success the
/// token's `last_used_at` becomes `now`.
pub fn authenticate(
    connection: &Connection,
    authorization: Option<&str>,
    scope: Option<Scope>,
    now: Timestamp,
) -> Result<Caller, AuthError> {
    let raw = bearer_token(authorization)?;
    let mut token =
        tokens::by_hash(connection, &token::token_hash(raw))?.ok_or(AuthError::InvalidToken)?;
    check_lifetime(&token, now)?;
    if let Some(scope) = scope.filter(|scope| !token.scopes.contains(scope)) {
        return Err(AuthError::MissingScope {
            id: token.id,
            scope,
        });
    }
    tokens::touch(connection, token.id, now)?;
    token.last_used_at = Some(now);
    Ok(Caller { token })
}

/// Refuses a token (by id) that was revoked, or has expired, by `now`: checked again in the
/// transaction that commits an upload, since either can happen while its body arrives.
pub fn still_valid(connection: &Connection, id: i64, now: Timestamp) -> Result<(), AuthError> {
    let token = tokens::by_id_if_known(connection, id)?.ok_or(AuthError::InvalidToken)?;
    check_lifetime(&token, now)
}

/// Revocation first, then expiry.
fn check_lifetime(token: &TokenRecord, now: Timestamp) -> Result<(), AuthError> {
    if let Some(revoked_at) = token.revoked_at {
        return Err(AuthError::Revoked {
            id: token.id,
            revoked_at,
        });
    }
    if now >= token.expires_at {
        return Err(AuthError::Expired {
            id: token.id,
            expires_at: token.expires_at,
        });
    }
    Ok(())
}

/// The raw token from `Bearer chuks_pk_…`; the scheme is case-insensitive.
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::MissingToken)?.trim();
    let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(AuthError::MissingToken);
    }
    if !credential.starts_with(TOKEN_PREFIX) {
        return Err(AuthError::NotAnApiToken {
            looks_like: token::looks_like(credential),
        });
    }
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            bearer_token(Some("Bearer chuks_pk_x")).unwrap(),
            "chuks_pk_x"
        );
        assert_eq!(
            bearer_token(Some("bearer  chuks_pk_x ")).unwrap(),
            "chuks_pk_x"
        );
        assert!(matches!(bearer_token(None), Err(AuthError::MissingToken)));
        assert!(matches!(
            bearer_token(Some("Bearer ")),
            Err(AuthError::MissingToken)
        ));
        for header in ["chuks_pk_x", "Basic chuks_pk_x"] {
            assert!(
                matches!(bearer_token(Some(header)), Err(AuthError::NotBearer)),
                "{header}"
            );
        }
        for header in ["Bearer ghp_x", "Bearer eyJx", "Bearer CHUKS_PK_x"] {
            assert!(
                matches!(
                    bearer_token(Some(header)),
                    Err(AuthError::NotAnApiToken { .. })
                ),
                "{header}"
            );
        }
    }
}
