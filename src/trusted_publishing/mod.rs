//! Trusted publishing, chuks-ci's side: whether a run exchanges the CI's OIDC ID token for a
//! short-lived token (`--trusted-publishing auto|always|never`, an explicit token winning), the
//! exchange itself (`docs/trusted-publishing.md`), and revoking the minted token at the end.
//!
//! Both tokens are secrets: the ID token is masked in the CI's log as soon as it is known, the
//! minted one as soon as it arrives, and neither is ever printed.

pub mod claims;
mod minted_run;
mod refusal;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

use crate::ci::id_token::{IdTokenError, IdTokenOffer};
use crate::ci::{CiProvider, Var};
use crate::protocol::{ErrorCode, OidcAudience, OidcExchangeAnswer, OidcExchangeRequest};
use crate::registry_client::{Answer, ClientError, RegistryClient};
use crate::report::Reporter;
use crate::retry::RetryPolicy;
use crate::token::ApiToken;
use crate::untrusted::Untrusted;
pub use minted_run::{Auth, MintedRun};
pub use refusal::Refusal;

/// The audience asked for when the registry does not announce one.
pub const DEFAULT_AUDIENCE: &str = "chuks";

/// `--trusted-publishing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Exchange when no token is given and the CI offers an ID token.
    #[default]
    Auto,
    /// Exchange, or fail saying why not.
    Always,
    /// Never exchange: a token is needed.
    Never,
}

/// Where this run's ID token comes from: the CI running the job (its name), and how it offers
/// the token.
#[derive(Debug, Clone)]
pub struct Source {
    pub ci: &'static str,
    offer: IdTokenOffer,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "no Chuks token was given, and {ci} offers this job no ID token for trusted publishing: {missing}\nhint: {how_to_enable} for trusted publishing, or set `CHUKS_TOKEN` from the CI's secret store"
    )]
    NoIdToken {
        ci: &'static str,
        missing: String,
        how_to_enable: String,
    },

    #[error(
        "`--trusted-publishing always` needs a CI that issues ID tokens (GitHub Actions, GitLab CI, Bitbucket Pipelines), and this run is on none of them\nhint: run the release job on one of them, or pass `--trusted-publishing auto` with `CHUKS_TOKEN` set"
    )]
    NotInCi,

    #[error(
        "the registry does not offer trusted publishing (`{route}` answered HTTP {status})\nhint: set `CHUKS_TOKEN` to an API token with the `packages:publish` scope"
    )]
    NotOffered { route: String, status: u16 },

    #[error("could not get this job's ID token: {0}")]
    IdToken(#[from] IdTokenError),

    #[error(
        "the registry refused the ID token: {message} (`invalid_id_token`)\nhint: run `chuks-ci trust explain` in this job to see what the token says; the registry names the check that failed"
    )]
    InvalidIdToken { message: Untrusted },

    #[error("{0}")]
    NoTrustedPublisher(Box<Refusal>),

    #[error(
        "the registry has seen this ID token already (`id_token_replayed`): {message}\nhint: every ID token is exchanged once; re-run the job for a fresh one"
    )]
    Replayed { message: Untrusted },

    #[error(
        "the registry refused the exchange: {message} (`{code}`, HTTP {status})\nhint: the registry's message says what it refused; `chuks-ci trust explain` in this job shows what the ID token says, and setting `CHUKS_TOKEN` publishes without trusted publishing"
    )]
    Refused {
        status: u16,
        code: ErrorCode,
        message: Untrusted,
    },

    #[error(
        "the registry's answer to the exchange is not the documented one ({what})\nhint: check that `--registry` points at a Chuks registry; a re-run is safe"
    )]
    UnexpectedAnswer { what: &'static str },

    #[error("trusted publishing failed: {0}")]
    Client(#[from] ClientError),
}

/// Whether this run exchanges an ID token: `None` when an explicit token (given or not) is
/// the way, the ID token's source otherwise. An explicit token always wins; under `auto` a CI
/// that offers no ID token is an error only when no token was given either.
pub fn decide(
    mode: Mode,
    token_given: bool,
    ci: Option<&dyn CiProvider>,
    var: Var,
) -> Result<Option<Source>, TrustError> {
    if token_given || mode == Mode::Never {
        return Ok(None);
    }
    let Some(ci) = ci else {
        return match mode {
            Mode::Always => Err(TrustError::NotInCi),
            // No token and no CI: the token's own "missing" error says what to do.
            _ => Ok(None),
        };
    };
    match Source::offered_by(ci, var) {
        Ok(source) => Ok(Some(source)),
        Err(IdTokenError::NotOffered {
            ci,
            missing,
            how_to_enable,
        }) => Err(TrustError::NoIdToken {
            ci,
            missing,
            how_to_enable,
        }),
        Err(other) => Err(other.into()),
    }
}

/// [`decide`] for this process: its environment and the CI it runs on.
pub fn decide_here(mode: Mode, token_given: bool) -> Result<Option<Source>, TrustError> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    decide(mode, token_given, crate::ci::current(), &var)
}

/// A token the registry minted for this run: short-lived, `packages:publish` only.
pub struct Minted {
    pub token: ApiToken,
    pub expires_at: Untrusted,
    pub packages: Vec<Untrusted>,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// How `ci` offers this job its ID token, or what the pipeline must grant.
    pub fn offered_by(ci: &dyn CiProvider, var: Var) -> Result<Source, IdTokenError> {
        let offer = ci.id_token(var)?;
        Ok(Source {
            ci: ci.name(),
            offer,
        })
    }

    /// The ID token, asked for the audience the registry `client` announces where the CI issues
    /// tokens on request; masked in the CI's log before anything else is printed.
    pub async fn id_token(
        &self,
        client: &RegistryClient,
        retry: &RetryPolicy,
        reporter: &Reporter,
    ) -> Result<SecretString, TrustError> {
        let audience = match &self.offer {
            IdTokenOffer::Issued(_) => DEFAULT_AUDIENCE.to_string(),
            IdTokenOffer::OnRequest { .. } => audience(client, reporter).await?,
        };
        let id_token = self.offer.clone().token(&audience, retry).await?;
        reporter.mask(id_token.expose_secret());
        Ok(id_token)
    }

    /// Gets the ID token and exchanges it at the registry `client` speaks to (a client without
    /// a token). `package` names the package in the `registry trust add` line of a refusal.
    pub async fn mint(
        &self,
        client: &RegistryClient,
        package: &str,
        retry: &RetryPolicy,
        reporter: &Reporter,
    ) -> Result<Minted, TrustError> {
        let id_token = self.id_token(client, retry, reporter).await?;
        let minted = exchange(client, &id_token, package, reporter).await?;
        reporter.note(format!(
            "trusted publishing: exchanged {}'s ID token for a token that can publish {} until {}",
            self.ci,
            list(&minted.packages),
            minted.expires_at
        ));
        Ok(minted)
    }
}

/// The audience the registry announces, or [`DEFAULT_AUDIENCE`] when it does not say.
pub async fn audience(client: &RegistryClient, reporter: &Reporter) -> Result<String, TrustError> {
    let answer = match client.call(Method::GET, &["oidc", "audience"], None).await {
        Err(ClientError::RouteMissing { route, .. }) => {
            reporter.debug(
                1,
                format!(
                    "the registry does not announce an audience (`{route}`), so the ID token is asked for `{DEFAULT_AUDIENCE}`"
                ),
            );
            return Ok(DEFAULT_AUDIENCE.to_string());
        }
        answer => answer?,
    };
    let Answer::Accepted(body) = answer else {
        return Err(TrustError::UnexpectedAnswer {
            what: "`GET /api/oidc/audience` was refused",
        });
    };
    let audience = serde_json::from_slice::<OidcAudience>(&body)
        .ok()
        .map(|answer| answer.audience.into_unescaped())
        .filter(|audience| {
            !audience.is_empty()
                && audience.len() <= 256
                && audience.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .ok_or(TrustError::UnexpectedAnswer {
            what: "`GET /api/oidc/audience` did not answer `{\"audience\": \"…\"}`",
        })?;
    reporter.debug(1, format!("the registry's audience: `{audience}`"));
    Ok(audience)
}

/// `POST /api/oidc/token`: the ID token for a minted token, masked as soon as it arrives.
async fn exchange(
    client: &RegistryClient,
    id_token: &SecretString,
    package: &str,
    reporter: &Reporter,
) -> Result<Minted, TrustError> {
    let request = OidcExchangeRequest {
        token: id_token.expose_secret().to_string(),
    };
    let body = serde_json::to_vec(&request).map_err(|_| TrustError::UnexpectedAnswer {
        what: "the request could not be written",
    })?;
    let answer = match client
        .call(Method::POST, &["oidc", "token"], Some(&body))
        .await
    {
        Err(ClientError::RouteMissing { route, status }) => {
            return Err(TrustError::NotOffered { route, status });
        }
        answer => answer?,
    };
    let body = match answer {
        Answer::Accepted(body) => body,
        Answer::Refused { status, mut detail } => {
            // A registry that quotes the token back must not have it printed.
            let quoted = detail
                .message
                .unescaped()
                .replace(id_token.expose_secret(), "[ID token]");
            detail.message = Untrusted::from(quoted);
            return Err(match detail.code {
                ErrorCode::InvalidIdToken => TrustError::InvalidIdToken {
                    message: detail.message,
                },
                ErrorCode::NoTrustedPublisher => TrustError::NoTrustedPublisher(Box::new(
                    Refusal::new(&detail, id_token.expose_secret(), package),
                )),
                ErrorCode::IdTokenReplayed => TrustError::Replayed {
                    message: detail.message,
                },
                code => TrustError::Refused {
                    status,
                    code,
                    message: detail.message,
                },
            });
        }
    };
    // The answer holds the minted token: no parse error may quote it.
    let unexpected = TrustError::UnexpectedAnswer {
        what: "not `{\"token\", \"expires_at\", \"scopes\", \"packages\"}` JSON",
    };
    let answer: OidcExchangeAnswer = serde_json::from_slice(&body).map_err(|_| unexpected)?;
    if !answer.token.trim().is_empty() {
        reporter.mask(answer.token.trim());
    }
    let (token, _) = ApiToken::parse(&answer.token).map_err(|_| TrustError::UnexpectedAnswer {
        what: "the minted token is not a `chuks_pk_` API token",
    })?;
    Ok(Minted {
        token,
        expires_at: answer.expires_at,
        packages: answer.packages,
    })
}

/// `DELETE /api/tokens/self` with the minted token `client` holds: it is no use after the run.
pub async fn revoke(client: &RegistryClient) -> Result<(), ClientError> {
    match client
        .call(Method::DELETE, &["tokens", "self"], None)
        .await?
    {
        Answer::Accepted(_) => Ok(()),
        // Already gone (expired, or revoked by an operator): what revoking wanted.
        Answer::Refused { detail, .. }
            if matches!(
                detail.code,
                ErrorCode::TokenExpired | ErrorCode::TokenRevoked
            ) =>
        {
            Ok(())
        }
        Answer::Refused { status, detail } => Err(ClientError::Refused {
            status,
            code: detail.code,
            message: detail.message,
            hint: "the minted token expires on its own within minutes".to_string(),
        }),
    }
}

/// `a`, `a` and `b`, or `a`, `b` and `c`: the packages a minted token may publish.
fn list(packages: &[Untrusted]) -> String {
    let quoted: Vec<String> = packages.iter().map(|name| format!("`{name}`")).collect();
    match quoted.split_last() {
        None => "no package".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            let value = pairs.iter().find(|(variable, _)| *variable == name);
            value.map(|(_, value)| value.to_string())
        }
    }

    fn github() -> Option<&'static dyn CiProvider> {
        Some(&crate::ci::github::GithubActions)
    }

    const OFFERED: &[(&str, &str)] = &[
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://runner.example/t?x=1",
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer"),
    ];

    #[test]
    fn an_explicit_token_always_wins() {
        for mode in [Mode::Auto, Mode::Always, Mode::Never] {
            let decided = decide(mode, true, github(), &env(OFFERED)).unwrap();
            assert!(decided.is_none(), "{mode:?}");
        }
    }

    #[test]
    fn auto_exchanges_only_when_the_ci_offers_an_id_token() {
        let offered = decide(Mode::Auto, false, github(), &env(OFFERED)).unwrap();
        assert_eq!(offered.unwrap().ci, "GitHub Actions");
        assert!(
            decide(Mode::Auto, false, None, &env(&[]))
                .unwrap()
                .is_none()
        );
        assert!(
            decide(Mode::Never, false, github(), &env(OFFERED))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_ci_without_an_id_token_says_what_to_grant() {
        for mode in [Mode::Auto, Mode::Always] {
            let err = decide(mode, false, github(), &env(&[])).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains("permissions: id-token: write"), "{shown}");
            assert!(shown.contains("CHUKS_TOKEN"), "{shown}");
        }
        let err = decide(Mode::Always, false, None, &env(&[])).unwrap_err();
        assert!(matches!(err, TrustError::NotInCi), "{err:?}");
    }

    #[test]
    fn packages_are_listed_for_people() {
        let names = |names: &[&str]| {
            names
                .iter()
                .map(|&n| Untrusted::from(n))
                .collect::<Vec<_>>()
        };
        assert_eq!(list(&names(&["a"])), "`a`");
        assert_eq!(list(&names(&["a", "b", "c"])), "`a`, `b` and `c`");
    }
}
