//! Scope ownership: the scope of `@alice/x` is `@alice`. A scope is held by the publisher who
//! first publishes under it and by those the operator grants it to (`registry scope grant`);
//! only its holders may create packages under it. A package that exists keeps its own owner and
//! grants, whoever holds its scope.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::RegistryError;
use crate::untrusted::Untrusted;

/// How a publisher came to hold a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeSource {
    /// Published the first package under it.
    FirstPublish,
    /// Granted by the operator.
    Granted,
}

impl ScopeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeSource::FirstPublish => "first_publish",
            ScopeSource::Granted => "granted",
        }
    }

    fn parse(text: &str) -> Option<ScopeSource> {
        [ScopeSource::FirstPublish, ScopeSource::Granted]
            .into_iter()
            .find(|source| source.as_str() == text)
    }
}

/// One publisher holding one scope. The names are stored text, so they print escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeHolder {
    pub scope: Untrusted,
    pub publisher: Untrusted,
    pub source: ScopeSource,
    pub since: Timestamp,
}

/// A publisher that may not create a package under a scope others hold.
#[derive(Debug, thiserror::Error)]
#[error(
    "publisher `{publisher}` may not create `{name}`: the scope `{scope}` is held by {holders}\nhint: publish under a scope of your own, or ask the registry's operator to run `chuks-ci registry scope grant --scope {scope} --publisher {publisher}`"
)]
pub struct ScopeTaken {
    pub name: String,
    pub scope: String,
    pub publisher: String,
    /// The holders, each in backticks.
    pub holders: String,
}

/// `@alice` of `@alice/x`; `None` for an unscoped name.
pub fn scope_of(name: &str) -> Option<&str> {
    name.strip_prefix('@')?;
    name.split_once('/').map(|(scope, _)| scope)
}

/// A scope as it starts a scoped package name: `@` and a name part.
pub fn check_scope(scope: &str) -> Result<(), RegistryError> {
    let reason = if !scope.starts_with('@') {
        Err("it does not start with `@`")
    } else if scope.contains('/') {
        Err("it holds `/`: name the scope without a package")
    } else {
        crate::manifest::validate_name(&format!("{scope}/x"))
    };
    reason.map_err(|reason| RegistryError::InvalidScope {
        scope: Untrusted::from(scope).truncated(64),
        reason,
    })
}

/// Whether `publisher` may create `name` under `scope` (the inner result); a scope nobody
/// holds becomes theirs. Called inside the publish transaction, so a publish refused later rolls
/// the claim back with the rest.
pub fn claim(
    connection: &Connection,
    name: &str,
    scope: &str,
    publisher: &str,
    now: &str,
) -> rusqlite::Result<Result<(), ScopeTaken>> {
    let holders = holders(connection, scope)?;
    if holders.is_empty() {
        insert(connection, scope, publisher, ScopeSource::FirstPublish, now)?;
        return Ok(Ok(()));
    }
    if holders.iter().any(|holder| holder == publisher) {
        return Ok(Ok(()));
    }
    Ok(Err(ScopeTaken {
        name: name.to_string(),
        scope: scope.to_string(),
        publisher: publisher.to_string(),
        holders: holders
            .iter()
            .map(|holder| format!("`{holder}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }))
}

/// Adds `publisher` to the holders of `scope`; a publisher who already holds it keeps how.
pub fn grant(
    connection: &Connection,
    scope: &str,
    publisher: &str,
    now: Timestamp,
) -> Result<ScopeHolder, RegistryError> {
    insert(
        connection,
        scope,
        publisher,
        ScopeSource::Granted,
        &now.to_string(),
    )?;
    let holder = connection.query_row(
        &format!("SELECT {COLUMNS} FROM scopes WHERE scope = ?1 AND publisher = ?2"),
        params![scope, publisher],
        holder_row,
    )?;
    Ok(holder)
}

pub fn revoke(connection: &Connection, scope: &str, publisher: &str) -> Result<(), RegistryError> {
    let removed = connection.execute(
        "DELETE FROM scopes WHERE scope = ?1 AND publisher = ?2",
        params![scope, publisher],
    )?;
    if removed == 0 {
        return Err(RegistryError::ScopeNotHeld {
            scope: scope.to_string(),
            publisher: publisher.to_string(),
        });
    }
    Ok(())
}

pub fn list(connection: &Connection) -> rusqlite::Result<Vec<ScopeHolder>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM scopes ORDER BY scope, publisher"
    ))?;
    statement.query_map([], holder_row)?.collect()
}

fn holders(connection: &Connection, scope: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        connection.prepare("SELECT publisher FROM scopes WHERE scope = ?1 ORDER BY publisher")?;
    statement
        .query_map([scope], |row| row.get(0))?
        .collect::<Result<_, _>>()
}

fn insert(
    connection: &Connection,
    scope: &str,
    publisher: &str,
    source: ScopeSource,
    now: &str,
) -> rusqlite::Result<usize> {
    connection.execute(
        "INSERT OR IGNORE INTO scopes (scope, publisher, source, since) VALUES (?1, ?2, ?3, ?4)",
        params![scope, publisher, source.as_str(), now],
    )
}

const COLUMNS: &str = "scope, publisher, source, since";

fn holder_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ScopeHolder> {
    let source: String = row.get(2)?;
    Ok(ScopeHolder {
        scope: row.get(0)?,
        publisher: row.get(1)?,
        source: ScopeSource::parse(&source).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown scope source `{source}`").into(),
            )
        })?,
        since: super::tokens::timestamp(row.get(3)?, 3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_of_names() {
        assert_eq!(scope_of("@chuks/numpy"), Some("@chuks"));
        assert_eq!(scope_of("di"), None);
        for good in ["@chuks", "@a-b.c_d", "@0"] {
            assert!(check_scope(good).is_ok(), "{good}");
        }
        for bad in ["chuks", "@", "@Chuks", "@chuks/numpy", "@a b", "@a\u{202e}"] {
            assert!(check_scope(bad).is_err(), "{bad}");
        }
    }
}
