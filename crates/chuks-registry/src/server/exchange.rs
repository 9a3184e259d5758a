//! The trusted-publishing exchange after verification: a verified ID token that was not
//! exchanged before, matched against the trusted publishers of its issuer, becomes a
//! short-lived `packages:publish` token for the packages that trust it, in one transaction.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, TransactionBehavior, params};

use super::RegistryError;
use super::oidc::IdClaims;
use super::tokens::{self, IssuedToken, TokenRequest};
use super::trusted_publishers::{self, TrustedPublisher};
use crate::protocol::{ClaimMismatch, PublisherClaims};
use crate::token::Scope;
use crate::untrusted::Untrusted;

/// Why no token was minted; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(
        "this ID token was already exchanged\nhint: request a new ID token from the CI for each exchange"
    )]
    Replayed,

    #[error("{}", no_match_message(.mismatch.as_ref(), .claims))]
    NoTrustedPublisher {
        claims: Box<PublisherClaims>,
        mismatch: Option<ClaimMismatch>,
    },

    #[error(
        "this workflow is trusted by packages of several publishers ({publishers}); a token acts for one\nhint: keep the trusted publishers of one workflow under one publisher (`chuks-ci registry trust list`)"
    )]
    SeveralPublishers { publishers: String },

    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl From<rusqlite::Error> for ExchangeError {
    fn from(err: rusqlite::Error) -> ExchangeError {
        ExchangeError::Registry(err.into())
    }
}

/// What the exchange answers with.
pub struct Minted {
    pub issued: IssuedToken,
    pub packages: Vec<String>,
}

/// Refuses a replayed token, matches the claims, records the token as used and mints.
pub fn mint(
    connection: &mut Connection,
    claims: &IdClaims,
    lifetime: Duration,
    now: Timestamp,
) -> Result<Minted, ExchangeError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if was_used(&tx, claims, now)? {
        return Err(ExchangeError::Replayed);
    }
    let candidates = trusted_publishers::for_issuer(&tx, claims.issuer())?;
    let matched = trusted_publishers::matching(&candidates, claims).map_err(|mismatch| {
        ExchangeError::NoTrustedPublisher {
            claims: Box::new(claims.publisher_claims()),
            mismatch,
        }
    })?;
    let first = matched[0];
    check_one_publisher(&matched)?;
    let mut packages: Vec<String> = matched.iter().map(|m| m.package.clone()).collect();
    packages.sort();
    packages.dedup();
    tx.execute(
        "INSERT INTO id_token_uses (replay_key, expires_at) VALUES (?1, ?2)",
        params![claims.replay_key(), claims.expires_at()],
    )?;
    let minted_for = trusted_publishers::minted_for(first, claims);
    // A day at most, so the arithmetic below cannot overflow.
    let lifetime = SignedDuration::from_secs(lifetime.as_secs().min(86_400) as i64);
    let request = TokenRequest {
        publisher: &first.publisher,
        name: &format!("trusted publisher {}", first.id),
        scopes: &[Scope::PackagesPublish],
        packages: Some(&packages),
        minted_for: Some(&minted_for),
    };
    let issued = tokens::insert(&tx, &request, now, now + lifetime)?;
    tx.commit()?;
    Ok(Minted { issued, packages })
}

/// Whether the token was exchanged before; forgets tokens that have expired past the leeway.
fn was_used(connection: &Connection, claims: &IdClaims, now: Timestamp) -> rusqlite::Result<bool> {
    connection.execute(
        "DELETE FROM id_token_uses WHERE expires_at < ?1",
        [now.as_second() - 2 * 60],
    )?;
    connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM id_token_uses WHERE replay_key = ?1)",
        [claims.replay_key()],
        |row| row.get(0),
    )
}

fn check_one_publisher(matched: &[&TrustedPublisher]) -> Result<(), ExchangeError> {
    let mut publishers: Vec<&str> = matched.iter().map(|m| m.publisher.as_str()).collect();
    publishers.sort_unstable();
    publishers.dedup();
    if publishers.len() == 1 {
        return Ok(());
    }
    Err(ExchangeError::SeveralPublishers {
        publishers: publishers
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Names the claim that differed, and for a near match what the trusted publisher expects.
fn no_match_message(mismatch: Option<&ClaimMismatch>, claims: &PublisherClaims) -> String {
    let issuer = claims
        .iss
        .as_ref()
        .map_or_else(String::new, Untrusted::to_string);
    let Some(mismatch) = mismatch else {
        return format!(
            "no trusted publisher trusts ID tokens of `{issuer}`\nhint: add one with `chuks-ci registry trust add` (run `chuks-ci trust explain` in the job to see the settings that would accept it)"
        );
    };
    let found = mismatch
        .found
        .as_ref()
        .map_or_else(|| "nothing".to_string(), |found| format!("`{found}`"));
    match &mismatch.expected {
        None => format!(
            "no trusted publisher trusts this `{}`: the ID token says {found}\nhint: add one for it with `chuks-ci registry trust add` (run `chuks-ci trust explain` in the job to see the settings that would accept it)",
            mismatch.claim
        ),
        Some(expected) => format!(
            "the closest trusted publisher expects `{}` to be `{expected}`, but the ID token says {found}\nhint: publish from the workflow and environment the trusted publisher names, or add one for this workflow with `chuks-ci registry trust add`",
            mismatch.claim
        ),
    }
}
