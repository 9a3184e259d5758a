//! Token preflight: before any upload, ask the registry what the token is and whether it can do
//! the job, warning about expiry soon and scopes the pipeline does not need.

use crate::registry_client::{ClientError, RegistryClient, TokenInfo};
use crate::report::{Problem, Reporter};
use crate::token::Scope;
use crate::untrusted::Untrusted;

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "token `{token_name}` lacks the `{scope}` scope (it has {held})\nhint: generate a token with the `{scope}` scope in the dashboard's API Tokens tab and update the CI secret"
    )]
    MissingScope {
        token_name: Untrusted,
        scope: &'static str,
        held: String,
    },

    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The token's description and the warnings about it.
#[derive(Debug)]
pub struct TokenCheck {
    pub info: TokenInfo,
    pub warnings: Vec<Problem>,
}

/// The token preflight for publishing: fails without `packages:publish`, reports the warnings.
/// `None`, with one notice, when the registry offers no token introspection.
pub async fn publish_token(
    client: &RegistryClient,
    warn_days: i64,
    reporter: &mut Reporter,
) -> Result<Option<TokenInfo>, PreflightError> {
    let check = match check_token(client, Scope::PackagesPublish, warn_days).await {
        Ok(check) => check,
        Err(PreflightError::Client(ClientError::RouteMissing { route, .. })) => {
            reporter.note(format!(
                "token not checked before the upload: this registry does not offer `{route}`"
            ));
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    for warning in check.warnings {
        reporter.report(warning);
    }
    Ok(Some(check.info))
}

/// Checks the token holds `needed`, and warns about expiry within `warn_days` and extra scopes.
pub async fn check_token(
    client: &RegistryClient,
    needed: Scope,
    warn_days: i64,
) -> Result<TokenCheck, PreflightError> {
    let info = client.token_info().await?;
    if !info.scopes.iter().any(|scope| scope == needed.as_str()) {
        return Err(PreflightError::MissingScope {
            token_name: info.name.clone(),
            scope: needed.as_str(),
            held: list(&info.scopes),
        });
    }
    let mut warnings = Vec::new();
    if let Some(warning) = expiry_warning(&info, warn_days) {
        warnings.push(warning);
    }
    let extra: Vec<Untrusted> = info
        .scopes
        .iter()
        .filter(|scope| *scope != needed.as_str())
        .cloned()
        .collect();
    if !extra.is_empty() {
        warnings.push(
            Problem::warning(format!(
                "token `{}` also holds {} that this pipeline does not need",
                info.name,
                list(&extra)
            ))
            .with_hint(format!(
                "use the minimum scopes: a pipeline that only does this should hold only `{}`",
                needed.as_str()
            )),
        );
    }
    Ok(TokenCheck { info, warnings })
}

/// Warns when the token expires within `warn_days`, or within the last third of its life when
/// that is shorter: a token made to live a week is not news on every run of that week.
fn expiry_warning(info: &TokenInfo, warn_days: i64) -> Option<Problem> {
    expiry_warning_at(info, warn_days, jiff::Timestamp::now())
}

fn expiry_warning_at(info: &TokenInfo, warn_days: i64, now: jiff::Timestamp) -> Option<Problem> {
    const DAY: i64 = 24 * 3600;
    let expires: jiff::Timestamp = info.expires_at.unescaped().parse().ok()?;
    let mut window = warn_days.saturating_mul(DAY);
    if let Ok(created) = info.created_at.unescaped().parse::<jiff::Timestamp>() {
        window = window.min(expires.duration_since(created).as_secs() / 3);
    }
    let left = expires.duration_since(now);
    if left.as_secs() > window {
        return None;
    }
    let days = left.as_secs().max(0) / DAY;
    Some(
        Problem::warning(format!(
            "token `{}` expires at {} (in {} day{})",
            info.name,
            info.expires_at,
            days,
            if days == 1 { "" } else { "s" }
        ))
        .with_hint("rotate it before it expires: generate a new token and update the CI secret"),
    )
}

fn list(scopes: &[Untrusted]) -> String {
    if scopes.is_empty() {
        return "no scopes".to_string();
    }
    scopes
        .iter()
        .map(|scope| format!("`{scope}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(created: &str, expires: &str) -> TokenInfo {
        TokenInfo {
            id: 1,
            name: "ci".into(),
            publisher: "alice".into(),
            scopes: vec!["packages:publish".into()],
            status: "active".into(),
            created_at: created.into(),
            expires_at: expires.into(),
            last_used_at: None,
            revoked_at: None,
        }
    }

    fn warns(info: &TokenInfo, now: &str) -> bool {
        expiry_warning_at(info, 14, now.parse().unwrap()).is_some()
    }

    #[test]
    fn a_short_lived_token_warns_only_in_the_last_third_of_its_life() {
        let week = token("2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z");
        assert!(!warns(&week, "2026-01-01T00:01:00Z"));
        assert!(!warns(&week, "2026-01-05T00:00:00Z"));
        assert!(warns(&week, "2026-01-06T00:00:00Z"));
        let year = token("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        assert!(!warns(&year, "2026-12-17T00:00:00Z"));
        assert!(warns(&year, "2026-12-19T00:00:00Z"));
    }
}
