//! Token preflight: before any upload, ask the registry what the token is and whether it can do
//! the job, warning about expiry soon and scopes the pipeline does not need.

use crate::registry_client::{ClientError, RegistryClient, TokenInfo};
use crate::report::Problem;
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

fn expiry_warning(info: &TokenInfo, warn_days: i64) -> Option<Problem> {
    let expires: jiff::Timestamp = info.expires_at.unescaped().parse().ok()?;
    let left = expires.duration_since(jiff::Timestamp::now());
    if left.as_secs() > warn_days * 24 * 3600 {
        return None;
    }
    let days = left.as_secs() / (24 * 3600);
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
