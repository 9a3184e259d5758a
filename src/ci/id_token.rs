//! The job's OIDC ID token, which trusted publishing exchanges at the registry: what a CI offers
//! ([`IdTokenOffer`], from [`super::CiProvider::id_token`]) and getting the token from the offer.
//! The token is a secret: it is held in a [`SecretString`] and never shown.

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{self, FetchError, NoAnswer};
use crate::retry::RetryPolicy;
use crate::untrusted::Untrusted;

/// How a CI hands this job its ID token.
#[derive(Debug)]
pub enum IdTokenOffer {
    /// The pipeline put it in a variable, for the audience the pipeline named (GitLab's
    /// `id_tokens:`, Bitbucket's `oidc: true`).
    Issued(SecretString),
    /// The runner issues one on request for the audience asked: `GET url&audience=…` with
    /// `Authorization: Bearer <bearer>`, answered `{"value": "<token>"}` (GitHub Actions).
    OnRequest {
        /// The variable `url` came from, for messages.
        url_variable: &'static str,
        url: String,
        bearer: SecretString,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("{ci} offers this job no ID token: {missing}\nhint: {how_to_enable}")]
    NotOffered {
        ci: &'static str,
        missing: String,
        how_to_enable: String,
    },

    #[error(
        "`{variable}` is not a URL an ID token can be asked of ({reason})\nhint: leave `{variable}` as the runner sets it"
    )]
    BadUrl {
        variable: &'static str,
        reason: String,
    },

    #[error(
        "the ID token service did not answer: {detail}\nhint: the runner or the network is failing; a re-run is safe"
    )]
    Unavailable { detail: String },

    #[error("the ID token service refused the request (HTTP {status})\nhint: {hint}")]
    Refused { status: u16, hint: &'static str },

    #[error(
        "the ID token service gave an unexpected answer: {detail}\nhint: leave `{variable}` as the runner sets it; a re-run is safe"
    )]
    UnexpectedAnswer {
        variable: &'static str,
        /// Quotes the service's answer.
        detail: Untrusted,
    },
}

impl IdTokenOffer {
    /// The token the pipeline put in `variable`, or `ci`'s error saying how to have it there.
    pub fn issued_in(
        var: super::Var,
        variable: &str,
        ci: &'static str,
        how_to_enable: &str,
    ) -> Result<IdTokenOffer, IdTokenError> {
        let token = var(variable).ok_or_else(|| IdTokenError::NotOffered {
            ci,
            missing: format!("`{variable}` is not set"),
            how_to_enable: how_to_enable.to_string(),
        })?;
        Ok(IdTokenOffer::Issued(SecretString::from(token.trim())))
    }

    /// The ID token: the one issued, or one asked of the runner for `audience`.
    pub async fn token(
        self,
        audience: &str,
        policy: &RetryPolicy,
    ) -> Result<SecretString, IdTokenError> {
        match self {
            IdTokenOffer::Issued(token) => Ok(token),
            IdTokenOffer::OnRequest {
                url_variable,
                url,
                bearer,
            } => request(url_variable, &url, &bearer, audience, policy).await,
        }
    }
}

/// The Actions runtime's token request, through the one HTTP client builder.
async fn request(
    variable: &'static str,
    url: &str,
    bearer: &SecretString,
    audience: &str,
    policy: &RetryPolicy,
) -> Result<SecretString, IdTokenError> {
    let bad_url = |reason: String| IdTokenError::BadUrl { variable, reason };
    let mut url = Url::parse(url).map_err(|err| bad_url(err.to_string()))?;
    url.query_pairs_mut().append_pair("audience", audience);
    let client = http::client_for(&url, http::SMALL_ANSWER).map_err(|err| match err {
        http::SetupError::Insecure { host } => bad_url(format!(
            "plain http to `{host}`, which would expose its token"
        )),
        http::SetupError::Build(detail) => IdTokenError::Unavailable { detail },
    })?;
    let mut authorization = HeaderValue::from_str(&format!("Bearer {}", bearer.expose_secret()))
        .map_err(|_| bad_url("its request token holds characters no token has".to_string()))?;
    authorization.set_sensitive(true);
    let reply = http::fetch(policy, || async {
        client
            .get(url.clone())
            .header(AUTHORIZATION, authorization.clone())
            .send()
            .await
            .map_err(|err| NoAnswer::from_error(&err.without_url()))
    })
    .await
    .map_err(|err| match err {
        FetchError::Tls(detail) => IdTokenError::Unavailable {
            detail: format!("TLS failed ({detail})"),
        },
        FetchError::Exhausted { attempts, last } => IdTokenError::Unavailable {
            detail: format!("{last}, after {attempts} attempts"),
        },
        FetchError::TooLarge => IdTokenError::UnexpectedAnswer {
            variable,
            detail: Untrusted::from("an answer too long to be a token"),
        },
    })?;
    let unexpected = |detail: &str| IdTokenError::UnexpectedAnswer {
        variable,
        detail: Untrusted::from(detail),
    };
    match reply.status {
        200..=299 => {}
        status @ (401 | 403) => {
            return Err(IdTokenError::Refused {
                status,
                hint: "the request token expires with the job: ask from the job itself, and give it `permissions: id-token: write`",
            });
        }
        status => return Err(unexpected(&format!("HTTP {status}"))),
    }
    let answer: Answer =
        serde_json::from_str(&reply.body).map_err(|_| unexpected("not `{\"value\": …}` JSON"))?;
    let token = answer.value.trim();
    if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(unexpected(
            "the token is empty or holds characters no token has",
        ));
    }
    Ok(SecretString::from(token))
}

/// The runner's answer; `value` is the ID token.
#[derive(Deserialize)]
struct Answer {
    value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::loopback;

    const BEARER: &str = "request-token-canary-1f2e3d";
    const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjaHVrcyJ9.c2lnbmF0dXJl";

    /// A loopback token service answering every request with `status` and `body`; its URL
    /// (with the query the runner's URL has) and the requests it saw.
    fn token_service(status: u16, body: &str) -> (String, loopback::Seen) {
        let (url, seen) = loopback::serve(loopback::answer(status, "", body));
        (format!("{url}_apis/token?api-version=2.0"), seen)
    }

    fn offer(url: String) -> IdTokenOffer {
        IdTokenOffer::OnRequest {
            url_variable: "ACTIONS_ID_TOKEN_REQUEST_URL",
            url,
            bearer: SecretString::from(BEARER),
        }
    }

    fn once() -> RetryPolicy {
        RetryPolicy {
            retries: 0,
            ..RetryPolicy::default()
        }
    }

    #[tokio::test]
    async fn the_runner_is_asked_for_the_audience_with_its_request_token() {
        let (url, seen) = token_service(200, &format!(r#"{{"count":1,"value":"{ID_TOKEN}"}}"#));
        let token = offer(url).token("chuks", &once()).await.unwrap();
        assert_eq!(token.expose_secret(), ID_TOKEN);
        let request = seen.lock().unwrap()[0].clone();
        assert!(
            request.starts_with("GET /_apis/token?api-version=2.0&audience=chuks "),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains(&format!("authorization: bearer {BEARER}")),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_refusal_says_which_permission_the_job_needs_and_shows_no_token() {
        let (url, _) = token_service(403, "{}");
        let err = offer(url).token("chuks", &once()).await.unwrap_err();
        let shown = format!("{err}{err:?}");
        assert!(shown.contains("id-token: write"), "{shown}");
        assert!(!shown.contains(BEARER), "{shown}");
    }

    #[tokio::test]
    async fn an_answer_without_a_token_is_refused() {
        for body in ["<html>", r#"{"value":""}"#, r#"{"value":"a b"}"#] {
            let (url, _) = token_service(200, body);
            let err = offer(url).token("chuks", &once()).await.unwrap_err();
            assert!(
                matches!(err, IdTokenError::UnexpectedAnswer { .. }),
                "{body}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_request_token_is_never_sent_over_plain_http_to_another_host() {
        let offer = offer("http://runner.example.invalid/token?x=1".to_string());
        let err = offer.token("chuks", &once()).await.unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
    }

    #[tokio::test]
    async fn an_issued_token_is_used_as_it_is() {
        let issued = IdTokenOffer::Issued(SecretString::from(ID_TOKEN));
        let token = issued.token("ignored", &once()).await.unwrap();
        assert_eq!(token.expose_secret(), ID_TOKEN);
    }
}
