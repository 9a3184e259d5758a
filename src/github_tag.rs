//! Asking GitHub which commit a tag of a public repository points at, so `init` can pin
//! `chuks/publish-action@<sha> # vX.Y.Z`. No token is sent; the answer is bounded and checked.

use std::time::Duration;

/// The GitHub API address; `GITHUB_API_URL` overrides it (GitHub Enterprise, tests).
pub const API_URL_VARIABLE: &str = "GITHUB_API_URL";
const DEFAULT_API_URL: &str = "https://api.github.com";
/// `init` is interactive: an unreachable GitHub costs seconds, not minutes.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A SHA and a newline; anything much longer is not the answer asked for.
const MAX_ANSWER: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("GitHub could not be reached ({0})")]
    Unreachable(String),
    #[error("GitHub answered HTTP {0}")]
    Status(u16),
    #[error("GitHub's answer is not a commit SHA")]
    NotASha,
}

/// The commit `tag` of `repository` (`owner/name`) points at, asked of `api_url`.
pub async fn resolve(api_url: &str, repository: &str, tag: &str) -> Result<String, ResolveError> {
    crate::http::install_tls_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!("chuks-ci/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| ResolveError::Unreachable(crate::http::describe_transport(&err)))?;
    let url = format!(
        "{}/repos/{repository}/commits/{tag}",
        api_url.trim_end_matches('/')
    );
    let reply = client
        .get(url)
        // The commit's SHA as plain text, instead of the whole commit.
        .header("Accept", "application/vnd.github.sha")
        .send()
        .await
        .map_err(|err| ResolveError::Unreachable(crate::http::describe_transport(&err)))?;
    if !reply.status().is_success() {
        return Err(ResolveError::Status(reply.status().as_u16()));
    }
    let mut reply = reply;
    let mut body = Vec::new();
    while let Some(chunk) = reply
        .chunk()
        .await
        .map_err(|err| ResolveError::Unreachable(crate::http::describe_transport(&err)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER {
            return Err(ResolveError::NotASha);
        }
    }
    let body = String::from_utf8_lossy(&body);
    let sha = body.trim();
    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(ResolveError::NotASha)
    }
}

/// The API address to ask: `GITHUB_API_URL` when set, else api.github.com.
pub fn api_url() -> String {
    std::env::var(API_URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_API_URL.to_string())
}
