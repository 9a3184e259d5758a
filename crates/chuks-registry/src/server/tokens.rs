//! API token rows: create (hash only), look up by hash, list, revoke, and their status.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::RegistryError;
use crate::protocol::{MintedFor, TokenDetails, TokenInfo};
use crate::token::{self, ApiToken, Scope};
use crate::untrusted::Untrusted;

/// Shortest and longest expiry a token may be created with, in days.
pub const EXPIRY_DAYS: std::ops::RangeInclusive<i64> = 7..=365;

/// A token's metadata; never token material. The name and publisher are the operator's text,
/// so they print escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub name: Untrusted,
    pub publisher: Untrusted,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The only packages the token may publish; `None` for an ordinary token.
    pub packages: Option<Vec<String>>,
    /// Set on a token minted by trusted publishing.
    pub minted_for: Option<MintedFor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

impl TokenRecord {
    /// Revocation wins over expiry; a token expires at `expires_at` exactly.
    pub fn status(&self, now: Timestamp) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if now >= self.expires_at {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    /// What `GET /tokens/self` and `token list --format json` show.
    pub fn info(&self, now: Timestamp) -> TokenInfo {
        TokenInfo {
            id: self.id,
            name: self.name.clone(),
            publisher: self.publisher.clone(),
            scopes: self.scopes.iter().map(|s| s.as_str().into()).collect(),
            status: self.status(now).as_str().into(),
            created_at: self.created_at.to_string().into(),
            expires_at: self.expires_at.to_string().into(),
            last_used_at: self.last_used_at.map(|t| t.to_string().into()),
            revoked_at: self.revoked_at.map(|t| t.to_string().into()),
        }
    }

    /// The metadata with the token's package restriction and trusted-publishing origin.
    pub fn details(&self, now: Timestamp) -> TokenDetails {
        TokenDetails {
            info: self.info(now),
            packages: self
                .packages
                .as_ref()
                .map(|names| names.iter().map(|name| name.as_str().into()).collect()),
            trusted_publishing: self.minted_for.clone(),
        }
    }

    /// Whether the token may publish `package`: any, unless it was minted for some only.
    pub fn may_publish(&self, package: &str) -> bool {
        self.packages
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == package))
    }
}

/// A freshly created token: the raw value exists only here.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub record: TokenRecord,
}

/// What a new token is for; checked before anything is stored.
pub struct TokenRequest<'a> {
    pub publisher: &'a str,
    pub name: &'a str,
    pub scopes: &'a [Scope],
    /// Restricts the token to these packages (trusted publishing).
    pub packages: Option<&'a [String]>,
    pub minted_for: Option<&'a MintedFor>,
}

/// Refuses bad publisher names, names that are empty or not one printable line, and empty
/// scope lists.
fn check_request(request: &TokenRequest<'_>) -> Result<(), RegistryError> {
    super::check_publisher_name(request.publisher)?;
    if request.name.trim().is_empty() {
        return Err(RegistryError::EmptyTokenName);
    }
    super::check_token_name(request.name)?;
    if request.scopes.is_empty() {
        return Err(RegistryError::NoScopes);
    }
    Ok(())
}

/// The expiry instant for a token created now that lasts `days` (7 to 365).
pub fn expiry_after_days(now: Timestamp, days: i64) -> Result<Timestamp, RegistryError> {
    if !EXPIRY_DAYS.contains(&days) {
        return Err(RegistryError::ExpiryOutOfRange { days });
    }
    Ok(now + jiff::SignedDuration::from_hours(days * 24))
}

/// Generates a token and stores only its hash.
pub fn insert(
    connection: &Connection,
    request: &TokenRequest<'_>,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<IssuedToken, RegistryError> {
    check_request(request)?;
    let token = token::generate();
    let mut scopes = request.scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let minted_for = request
        .minted_for
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| bad_column(9, err))?;
    connection.execute(
        "INSERT INTO tokens (hash, name, publisher, scopes, created_at, expires_at, packages,
                             minted_for)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            token::token_hash(token.expose()),
            request.name,
            request.publisher,
            join_scopes(&scopes),
            now.to_string(),
            expires_at.to_string(),
            request.packages.map(|names| names.join(" ")),
            minted_for
        ],
    )?;
    let record = by_id(connection, connection.last_insert_rowid())?;
    Ok(IssuedToken { token, record })
}

pub fn by_hash(connection: &Connection, hash: &str) -> rusqlite::Result<Option<TokenRecord>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"),
            [hash],
            record_row,
        )
        .optional()
}

pub fn list(connection: &Connection) -> rusqlite::Result<Vec<TokenRecord>> {
    let mut statement = connection.prepare(&format!("SELECT {COLUMNS} FROM tokens ORDER BY id"))?;
    statement.query_map([], record_row)?.collect()
}

/// Revokes a token; revoking twice keeps the first `revoked_at`.
pub fn revoke(
    connection: &Connection,
    id: i64,
    now: Timestamp,
) -> Result<TokenRecord, RegistryError> {
    connection.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now.to_string()],
    )?;
    by_id(connection, id)
}

/// Records a successful use.
pub fn touch(connection: &Connection, id: i64, now: Timestamp) -> rusqlite::Result<()> {
    connection.execute(
        "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
        params![id, now.to_string()],
    )?;
    Ok(())
}

fn by_id(connection: &Connection, id: i64) -> Result<TokenRecord, RegistryError> {
    by_id_if_known(connection, id)?.ok_or(RegistryError::TokenNotFound { id })
}

pub fn by_id_if_known(connection: &Connection, id: i64) -> rusqlite::Result<Option<TokenRecord>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"),
            [id],
            record_row,
        )
        .optional()
}

const COLUMNS: &str =
    "id, name, publisher, scopes, created_at, expires_at, last_used_at, revoked_at,
     packages, minted_for";

fn record_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        publisher: row.get(2)?,
        scopes: split_scopes(&row.get::<_, String>(3)?, 3)?,
        created_at: timestamp(row.get(4)?, 4)?,
        expires_at: timestamp(row.get(5)?, 5)?,
        last_used_at: row
            .get::<_, Option<String>>(6)?
            .map(|t| timestamp(t, 6))
            .transpose()?,
        revoked_at: row
            .get::<_, Option<String>>(7)?
            .map(|t| timestamp(t, 7))
            .transpose()?,
        packages: row
            .get::<_, Option<String>>(8)?
            .map(|names| names.split_whitespace().map(str::to_string).collect()),
        minted_for: row
            .get::<_, Option<String>>(9)?
            .map(|json| serde_json::from_str(&json).map_err(|err| bad_column(9, err)))
            .transpose()?,
    })
}

fn join_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn split_scopes(text: &str, column: usize) -> rusqlite::Result<Vec<Scope>> {
    text.split_whitespace()
        .map(|scope| scope.parse().map_err(|err| bad_column(column, err)))
        .collect()
}

pub(super) fn timestamp(text: String, column: usize) -> rusqlite::Result<Timestamp> {
    text.parse().map_err(|err| bad_column(column, err))
}

fn bad_column(
    column: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(err))
}
