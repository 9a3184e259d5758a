//! The registry client: the one module that speaks the wire format of `docs/registry-api.md`.
//!
//! Adapting chuks-ci to another registry API is a change to this module only. Uploads stream the
//! tarball from disk as base64 inside the JSON body, so memory does not grow with package size.
//! Retries cover only connect errors, timeouts, 408, 429 and 5xx; an ambiguous failure of a
//! publish is settled by reading the version back.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::Stream;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER,
};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use crate::protocol::{
    API_PREFIX, ErrorBody, ErrorCode, ErrorDetail, PREBUILT_PAYLOAD_FIELD, PrebuiltPublishHead,
    PublishAnswer, SOURCE_PAYLOAD_FIELD, SourcePublishHead, StoredDigest,
};
pub use crate::protocol::{GitInfo, PrebuiltRecord, TokenInfo, VersionRecord, YankAnswer};
use crate::retry::{self, AttemptError, RetryError, RetryPolicy, Transient};
use crate::token::{ApiToken, TOKEN_PREFIX};
use crate::untrusted::{self, Untrusted};
use crate::upload::{Artifact, Sent, Stored, Upload};

/// The public Chuks registry.
pub const DEFAULT_REGISTRY: &str = "https://registry.chuks.org/backend";

/// Tarball bytes encoded per body chunk; a multiple of 3 so chunks concatenate to valid base64.
const UPLOAD_CHUNK_BYTES: usize = 3 * 64 * 1024;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Fail when no byte moves, in either direction, for this long.
    pub stall_timeout: Duration,
    pub retry: RetryPolicy,
    /// Print each request and answer line on stderr (`-vv`); the token is shown redacted.
    pub trace_http: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            trace_http: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "`{url}` is not a usable registry URL: {reason}\nhint: pass an https URL such as `{DEFAULT_REGISTRY}` with `--registry` or `CHUKS_REGISTRY_URL`"
    )]
    InvalidUrl { url: String, reason: String },

    #[error(
        "refusing plain http to `{host}`\nhint: use https; plain http is only allowed for loopback addresses such as 127.0.0.1"
    )]
    InsecureUrl { host: String },

    #[error("the registry refused the token: {message} (`{code}`)\nhint: {hint}")]
    Auth {
        code: ErrorCode,
        message: Untrusted,
        hint: String,
    },

    #[error(
        "chuks-ci's HTTP client has no file to send for {what}: the official CLI was to pack it\nhint: this is a bug in chuks-ci, please report it; `--uploader chuks` publishes this source meanwhile"
    )]
    NoFile { what: String },

    #[error(
        "this registry does not offer `{route}` (HTTP {status})\nhint: check that `--registry` is the registry's base URL, without `/api`; this route is an extension of chuks-ci's reference registry that other registries may lack (docs/registry-api.md)"
    )]
    RouteMissing { route: String, status: u16 },

    #[error("the registry refused the request: {message} (`{code}`, HTTP {status})\nhint: {hint}")]
    Refused {
        status: u16,
        code: ErrorCode,
        message: Untrusted,
        hint: String,
    },

    #[error(
        "the registry refused this publisher: {message} (`{code}`)\nhint: ask the package's owner to add your publisher to the package's permissions"
    )]
    NotPermitted { code: ErrorCode, message: Untrusted },

    #[error(
        "the registry answered with a redirect to `{location}`\nhint: chuks-ci does not follow redirects when publishing; pass the final URL with `--registry`"
    )]
    Redirect { location: Untrusted },

    #[error(
        "TLS failed with `{host}`: {detail}\nhint: check the registry URL and this machine's CA certificates; TLS errors are not retried"
    )]
    Tls { host: String, detail: String },

    #[error(
        "the registry is unavailable after {attempts} attempt(s): {last_error}\nhint: a re-run is safe: a version already stored with the same contents is reported as `unchanged`"
    )]
    Unavailable { attempts: u32, last_error: String },

    #[error(
        "unexpected answer from the registry: {0}\nhint: check that `--registry` points at a Chuks registry"
    )]
    Protocol(String),
}

/// What [`RegistryClient::call`] got: a 2xx answer's body, or a refusal's status and error.
#[derive(Debug)]
pub enum Answer {
    Accepted(Bytes),
    Refused { status: u16, detail: ErrorDetail },
}

/// Called with (bytes of the file sent, total bytes) as an upload goes.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A client for one registry, with an optional token.
pub struct RegistryClient {
    base: Url,
    http: reqwest::Client,
    token: Option<ApiToken>,
    options: ClientOptions,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .finish()
    }
}

/// Checks a registry URL: https, or http only to a loopback host; no credentials inside.
pub fn parse_registry_url(text: &str) -> Result<Url, ClientError> {
    // Messages show the URL with its query values, fragment and credentials masked.
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: crate::redact::redact_url(text),
        reason: reason.to_string(),
    };
    let url = Url::parse(text).map_err(|err| invalid(&err.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::InvalidUrl {
            url: "(a URL with credentials)".to_string(),
            reason: "credentials in the URL would be printed; give the token through `CHUKS_TOKEN`"
                .to_string(),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "it has a query or fragment; give the registry's base URL",
        ));
    }
    if url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if let Some(host) = crate::http::insecure_host(&url) {
        return Err(ClientError::InsecureUrl { host });
    }
    match url.scheme() {
        "https" | "http" => Ok(url),
        other => Err(invalid(&format!(
            "the scheme `{other}` is not http or https"
        ))),
    }
}

/// The registry to use: `flag` (`--registry`), then `CHUKS_REGISTRY_URL`, then the public
/// registry; checked as [`parse_registry_url`] says.
pub fn registry_url(flag: Option<&str>) -> Result<Url, ClientError> {
    let text = flag
        .map(str::to_string)
        .or_else(|| {
            std::env::var("CHUKS_REGISTRY_URL")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    parse_registry_url(&text)
}

/// One path segment, percent-encoded so `@scope/name` stays a single segment (`/` → `%2F`).
pub fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Why an attempt failed and whether trying again can help.
struct AttemptFailure {
    message: String,
    retry_after: Option<Duration>,
    /// The request may have reached the server, so a publish may have been stored.
    maybe_stored: bool,
}

/// Why one attempt failed: worth trying again, or final.
enum Failure {
    Retry(AttemptFailure),
    Fatal(ClientError),
}

type Attempt<T> = Result<T, Failure>;

impl RegistryClient {
    pub fn new(
        base: Url,
        token: Option<ApiToken>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let timeouts = crate::http::Timeouts {
            connect: options.connect_timeout,
            // Uploads are long: a stalled transfer is caught by `stall_timeout` instead.
            answer: None,
        };
        let http = crate::http::client_for(&base, timeouts).map_err(|err| match err {
            crate::http::SetupError::Insecure { host } => ClientError::InsecureUrl { host },
            crate::http::SetupError::Build(detail) => {
                ClientError::Protocol(format!("cannot build the HTTP client: {detail}"))
            }
        })?;
        Ok(RegistryClient {
            base,
            http,
            token,
            options,
        })
    }

    /// The registry's base URL, as `CHUKS_REGISTRY_URL` holds it: without the trailing `/`.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// How long a transfer may go without progress before it is abandoned.
    pub fn stall_timeout(&self) -> Duration {
        self.options.stall_timeout
    }

    /// `GET /api/tokens/self`; [`ClientError::RouteMissing`] on a registry without it.
    pub async fn token_info(&self) -> Result<TokenInfo, ClientError> {
        let url = self.url(&["tokens", "self"])?;
        let body = self.get_json(&url).await?;
        body.ok_or_else(|| ClientError::Protocol("`/tokens/self` answered 404".to_string()))
    }

    /// `GET /api/packages/{name}/{version}`; `None` when the registry says it has no such package
    /// or version, [`ClientError::RouteMissing`] when it has no such route.
    pub async fn version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<VersionRecord>, ClientError> {
        let url = self.url(&["packages", name, version])?;
        self.get_json(&url).await
    }

    /// `POST /api/packages/{name}/{version}` (source) or `…/prebuilt` (binary), the file
    /// streamed from disk, retried and settled as the module documentation says. A `409` is
    /// settled by its `stored_sha256`, else by reading the version back, else what the registry
    /// holds is [`Stored::Unknown`].
    pub async fn publish(
        &self,
        upload: &Upload<'_>,
        progress: ProgressFn,
    ) -> Result<Sent, ClientError> {
        let Some(file) = upload.file() else {
            return Err(ClientError::NoFile {
                what: upload.what(),
            });
        };
        let (url, head, field) = match &upload.artifact {
            Artifact::Source { manifest, git, .. } => (
                self.url(&["packages", upload.name, upload.version])?,
                serde_json::to_string(&SourcePublishHead {
                    manifest: (*manifest).clone(),
                    sha256: file.sha256.to_string(),
                    size: file.size,
                    git: Some((*git).clone()),
                }),
                SOURCE_PAYLOAD_FIELD,
            ),
            Artifact::Prebuilt { platform, .. } => (
                self.url(&["packages", upload.name, upload.version, "prebuilt"])?,
                serde_json::to_string(&PrebuiltPublishHead {
                    platform: platform.to_string(),
                    sha256: file.sha256.to_string(),
                    size: file.size,
                }),
                PREBUILT_PAYLOAD_FIELD,
            ),
        };
        let head = head.map_err(|err| {
            ClientError::Protocol(format!("cannot serialise the upload's head: {err}"))
        })?;
        // Once an attempt may have stored the version, finding our bytes there means it did.
        let may_have_stored = std::cell::Cell::new(false);
        let ours = |sent: Sent| match sent {
            Sent::Exists(Stored::Ours) if may_have_stored.get() => Sent::Published,
            sent => sent,
        };
        self.with_retries(|| async {
            let response = self
                .send_upload(&url, &head, field, file.path, file.size, progress.clone())
                .await;
            let failure = match response {
                Ok(response) => {
                    match publish_answer(response, upload, self.options.stall_timeout).await {
                        // A 409 that did not say what the registry holds: one read says.
                        Ok(Sent::Exists(Stored::Unknown)) => {
                            let stored = self.settle(upload).await.map_err(Failure::Fatal)?;
                            return Ok(ours(Sent::Exists(stored.unwrap_or(Stored::Unknown))));
                        }
                        Ok(sent) => return Ok(ours(sent)),
                        Err(Failure::Retry(failure)) => failure,
                        Err(fatal) => return Err(fatal),
                    }
                }
                Err(Failure::Fatal(fatal)) => return Err(Failure::Fatal(fatal)),
                Err(Failure::Retry(failure)) => failure,
            };
            if failure.maybe_stored {
                may_have_stored.set(true);
                match self.settle(upload).await.map_err(Failure::Fatal)? {
                    Some(Stored::Ours) => return Ok(Sent::Published),
                    Some(other @ Stored::Other(_)) => return Ok(Sent::Exists(other)),
                    Some(Stored::Unknown) | None => {}
                }
            }
            Err(Failure::Retry(failure))
        })
        .await
    }

    /// What the registry holds where `upload` goes (`None`: nothing there), read with retries.
    /// [`ClientError::RouteMissing`] on a registry without the read.
    pub async fn stored(&self, upload: &Upload<'_>) -> Result<Option<Stored>, ClientError> {
        self.with_retries(|| self.stored_once(upload)).await
    }

    async fn stored_once(&self, upload: &Upload<'_>) -> Attempt<Option<Stored>> {
        let url = self
            .url(&["packages", upload.name, upload.version])
            .map_err(Failure::Fatal)?;
        let record: Option<VersionRecord> = self.get_once(&url).await?;
        Ok(record.and_then(|record| upload.held_in(&record)))
    }

    /// One read after an ambiguous failure or a 409 without digest (the publish loop around it
    /// does the retrying): `None` when it cannot tell (absent, a failed read, no read route).
    async fn settle(&self, upload: &Upload<'_>) -> Result<Option<Stored>, ClientError> {
        match self.stored_once(upload).await {
            Ok(stored) => Ok(stored),
            Err(Failure::Retry(_) | Failure::Fatal(ClientError::RouteMissing { .. })) => Ok(None),
            Err(Failure::Fatal(fatal)) => Err(fatal),
        }
    }

    /// One call for a caller that types its own answers (trusted publishing): `body`, JSON, sent
    /// with `method` to `/api/<segments…>`, retried like every call. A 2xx body or a refusal's
    /// documented error comes back as it is; a route the registry lacks is
    /// [`ClientError::RouteMissing`].
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&[u8]>,
    ) -> Result<Answer, ClientError> {
        let url = self.url(segments)?;
        let stall = self.options.stall_timeout;
        self.with_retries(|| async {
            let response = self.send_small(method.clone(), &url, body).await?;
            let status = response.status();
            if status.is_client_error() && !retry::is_retryable_status(status.as_u16()) {
                let detail = read_error(response, stall).await;
                if is_route_missing(status, &detail) {
                    return Err(Failure::Fatal(ClientError::RouteMissing {
                        route: url.path().to_string(),
                        status: status.as_u16(),
                    }));
                }
                let status = status.as_u16();
                return Ok(Answer::Refused { status, detail });
            }
            Ok(Answer::Accepted(self.success_bytes(response).await?))
        })
        .await
    }

    /// `POST /api/packages/{name}/{version}/yank` or `…/restore`; [`ClientError::RouteMissing`]
    /// on a registry without them.
    pub async fn set_yanked(
        &self,
        name: &str,
        version: &str,
        yanked: bool,
    ) -> Result<YankAnswer, ClientError> {
        let action = if yanked { "yank" } else { "restore" };
        let url = self.url(&["packages", name, version, action])?;
        self.with_retries(|| self.post_empty(&url)).await
    }

    async fn post_empty<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Attempt<T> {
        let response = self.send_without_body(Method::POST, url).await?;
        self.read_json(response, url).await
    }

    /// Sends a request without a body, waiting at most the stall timeout for the answer.
    async fn send_without_body(&self, method: Method, url: &Url) -> Attempt<reqwest::Response> {
        self.send_small(method, url, None).await
    }

    /// Sends a request with a small JSON body, or none, waiting at most the stall timeout for
    /// the answer.
    async fn send_small(
        &self,
        method: Method,
        url: &Url,
        json: Option<&[u8]>,
    ) -> Attempt<reqwest::Response> {
        let mut request = self.request(method, url);
        if let Some(json) = json {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(json.to_vec());
        }
        let send = request.send();
        let response = tokio::time::timeout(self.options.stall_timeout, send)
            .await
            .map_err(|_| Failure::Retry(self.no_answer()))?
            .map_err(|err| self.transport_failure(err, false))?;
        Ok(self.traced(response))
    }

    /// A 2xx answer's JSON body; other statuses become retryable failures or final errors.
    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        response: reqwest::Response,
        url: &Url,
    ) -> Attempt<T> {
        let bytes = self.success_bytes(response).await?;
        serde_json::from_slice(&bytes)
            .map_err(|err| Failure::Fatal(ClientError::Protocol(format!("`{url}`: {err}"))))
    }

    /// A 2xx answer's body; other statuses become retryable failures or final errors.
    async fn success_bytes(&self, response: reqwest::Response) -> Attempt<Bytes> {
        let stall = self.options.stall_timeout;
        let response = check_status(response, stall).await?;
        answer_bytes(response, stall).await.map_err(|message| {
            Failure::Retry(AttemptFailure {
                message,
                retry_after: None,
                maybe_stored: false,
            })
        })
    }

    fn no_answer(&self) -> AttemptFailure {
        AttemptFailure {
            message: format!("no answer within {}s", self.options.stall_timeout.as_secs()),
            retry_after: None,
            maybe_stored: false,
        }
    }

    /// Streams `{...head, "<field>": "<base64 of file>"}` without holding the file in memory,
    /// failing when no byte moves for the stall timeout. `head` is a serialised JSON object.
    async fn send_upload(
        &self,
        url: &Url,
        head: &str,
        field: &str,
        file: &Path,
        size: u64,
        progress: ProgressFn,
    ) -> Attempt<reqwest::Response> {
        let prefix = format!("{},\"{field}\":\"", &head[..head.len() - 1]);
        let suffix = "\"}";
        let length = prefix.len() as u64 + size.div_ceil(3) * 4 + suffix.len() as u64;
        let file = tokio::fs::File::open(file).await.map_err(|err| {
            Failure::Fatal(ClientError::Protocol(format!(
                "cannot reopen the packed tarball: {err}"
            )))
        })?;
        let clock = StallClock::new();
        let body = base64_body(file, prefix, suffix, size, clock.clone(), progress);
        let request = self
            .request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(body));
        tokio::select! {
            response = request.send() => response.map(|r| self.traced(r)).map_err(|err| self.transport_failure(err, true)),
            () = clock.stalled(self.options.stall_timeout) => Err(Failure::Retry(AttemptFailure {
                message: format!("no progress for {}s", self.options.stall_timeout.as_secs()),
                retry_after: None,
                maybe_stored: true,
            })),
        }
    }

    /// GET with retries; 404 is `None`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
    ) -> Result<Option<T>, ClientError> {
        self.with_retries(|| self.get_once(url)).await
    }

    /// Repeats `attempt` while it fails in a retryable way, pausing as the retry policy says.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let attempt = || {
            let tried = attempt();
            async move {
                tried.await.map_err(|failure| match failure {
                    Failure::Retry(failure) => AttemptError::Transient(Transient {
                        message: failure.message,
                        retry_after: failure.retry_after,
                    }),
                    Failure::Fatal(err) => AttemptError::Fatal(err),
                })
            }
        };
        retry::with_retries(&self.options.retry, attempt)
            .await
            .map_err(|err| match err {
                RetryError::Fatal(err) => err,
                RetryError::Exhausted { attempts, last } => ClientError::Unavailable {
                    attempts,
                    last_error: last,
                },
            })
    }

    /// One GET: `None` for the documented "no such package or version"; a route the registry
    /// does not have is [`ClientError::RouteMissing`].
    async fn get_once<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Attempt<Option<T>> {
        let response = self.send_without_body(Method::GET, url).await?;
        let status = response.status();
        if status != StatusCode::NOT_FOUND {
            return self.read_json(response, url).await.map(Some);
        }
        let detail = read_error(response, self.options.stall_timeout).await;
        if is_route_missing(status, &detail) {
            return Err(Failure::Fatal(ClientError::RouteMissing {
                route: url.path().to_string(),
                status: status.as_u16(),
            }));
        }
        Ok(None)
    }

    fn request(&self, method: Method, url: &Url) -> reqwest::RequestBuilder {
        if self.options.trace_http {
            let auth = match &self.token {
                Some(_) => format!(" (authorization: Bearer {TOKEN_PREFIX}***)"),
                None => String::new(),
            };
            crate::report::write_stderr(&format!("debug: > {method} {url}{auth}\n"));
        }
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        request
    }

    fn traced(&self, response: reqwest::Response) -> reqwest::Response {
        if self.options.trace_http {
            crate::report::write_stderr(&format!(
                "debug: < {} from {}\n",
                response.status(),
                response.url()
            ));
        }
        response
    }

    /// `<base>/api/<segments…>`: the base URL is the registry's, without `/api`.
    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut text = self.base.as_str().trim_end_matches('/').to_string();
        text.push_str(API_PREFIX);
        for segment in segments {
            text.push('/');
            text.push_str(&path_segment(segment));
        }
        Url::parse(&text).map_err(|err| ClientError::InvalidUrl {
            url: text.clone(),
            reason: err.to_string(),
        })
    }

    fn transport_failure(&self, err: reqwest::Error, body_sent: bool) -> Failure {
        if let Some(detail) = crate::http::tls_failure(&err) {
            return Failure::Fatal(ClientError::Tls {
                host: self.base.host_str().unwrap_or_default().to_string(),
                detail,
            });
        }
        let connect = err.is_connect();
        Failure::Retry(AttemptFailure {
            message: crate::http::describe_transport(&err),
            retry_after: None,
            maybe_stored: body_sent && !connect,
        })
    }
}

/// Turns an answer to a publish into how it ended, a retryable failure, or a final error.
async fn publish_answer(
    response: reqwest::Response,
    upload: &Upload<'_>,
    stall: Duration,
) -> Attempt<Sent> {
    let status = response.status();
    if status == StatusCode::CONFLICT {
        let detail = read_error(response, stall).await;
        return Ok(Sent::Exists(existing_version(&detail, upload)));
    }
    let response = check_status(response, stall).await?;
    let cut_short = |message: String| {
        Failure::Retry(AttemptFailure {
            message: format!("the answer was cut short: {message}"),
            retry_after: None,
            maybe_stored: true,
        })
    };
    let bytes = answer_bytes(response, stall).await.map_err(cut_short)?;
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(err) if err.is_eof() => return Err(cut_short(err.to_string())),
        // The real registry's success body is not public: a 2xx in another shape is a success.
        Err(_) => return Ok(Sent::Published),
    };
    // Where the answer is the documented one, the digest it reports must be ours.
    if let Ok(answer) = serde_json::from_value::<PublishAnswer<StoredDigest>>(body) {
        let answered_sha = answer.record.sha256;
        if upload.compare(&answered_sha) != Stored::Ours {
            return Err(Failure::Fatal(ClientError::Protocol(format!(
                "the registry reports sha256 {answered_sha} for what we sent as {}",
                upload.sha256().unwrap_or_default()
            ))));
        }
    }
    Ok(Sent::Published)
}

/// A `409`: the version (or prebuilt) exists. Its documented `stored_sha256` says what it
/// holds; without one, [`Stored::Unknown`] (the caller reads the version back).
fn existing_version(detail: &ErrorDetail, upload: &Upload<'_>) -> Stored {
    detail
        .field("stored_sha256")
        .filter(|digest| is_sha256(digest.unescaped()))
        .map_or(Stored::Unknown, |stored| upload.compare(&stored))
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// 404, 405 or 501 that is not the documented "no such package or version": the registry does
/// not have the route at all.
fn is_route_missing(status: StatusCode, detail: &ErrorDetail) -> bool {
    let missing_route_status = matches!(status.as_u16(), 404 | 405 | 501);
    let names_a_resource = matches!(
        detail.code,
        ErrorCode::PackageNotFound | ErrorCode::VersionNotFound | ErrorCode::PrebuiltNotFound
    );
    missing_route_status && !names_a_resource
}

/// Passes 2xx answers through; maps the rest to retryable failures or final errors.
async fn check_status(response: reqwest::Response, stall: Duration) -> Attempt<reqwest::Response> {
    let status = response.status();

    if status.is_success() {
        return Ok(response);
    }
    if status.is_redirection() {
        let location = response.headers().get(LOCATION).map_or_else(
            || Untrusted::from("(no location)"),
            |v| Untrusted::lossy(v.as_bytes()),
        );
        return Err(Failure::Fatal(ClientError::Redirect { location }));
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, jiff::Timestamp::now()));
    let retryable = retry::is_retryable_status(status.as_u16());
    let route = response.url().path().to_string();
    let detail = read_error(response, stall).await;
    if is_route_missing(status, &detail) {
        return Err(Failure::Fatal(ClientError::RouteMissing {
            route,
            status: status.as_u16(),
        }));
    }
    if retryable {
        return Err(Failure::Retry(AttemptFailure {
            message: format!("HTTP {status}: {}", detail.message),
            retry_after,
            // A 5xx may come after the server stored the version; 408 and 429 come before.
            maybe_stored: status.is_server_error(),
        }));
    }
    Err(Failure::Fatal(refusal(status, detail)))
}

/// Answers are small JSON documents; anything larger is not a registry talking.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// An answer's body, read chunk by chunk: failing when nothing arrives for `stall`, or when it
/// grows past [`MAX_ANSWER_BYTES`].
async fn answer_bytes(mut response: reqwest::Response, stall: Duration) -> Result<Bytes, String> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(stall, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(format!(
                        "the answer is larger than {MAX_ANSWER_BYTES} bytes"
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => return Ok(Bytes::from(body)),
            Ok(Err(err)) => return Err(crate::http::describe_transport(&err)),
            Err(_) => return Err(format!("the answer stalled for {}s", stall.as_secs())),
        }
    }
}

/// How much of an undocumented error body a message quotes.
const QUOTED_BODY_CHARS: usize = 500;

async fn read_error(response: reqwest::Response, stall: Duration) -> ErrorDetail {
    let status = response.status();
    let bytes = answer_bytes(response, stall).await.unwrap_or_default();
    serde_json::from_slice::<ErrorBody>(&bytes)
        .map(|body| {
            // The server's own advice would repeat ours; keep its first line, the fact.
            let mut error = body.error;
            error.message = error.message.first_line();
            error
        })
        .unwrap_or_else(|_| ErrorDetail {
            code: ErrorCode::Other("unknown".into()),
            message: undocumented_body_message(status, &bytes),
            extra: Map::new(),
        })
}

/// `HTTP 422: <the body's first 500 characters>`, its whitespace collapsed: a registry that
/// answers in its own words still reaches the user, on one line.
fn undocumented_body_message(status: StatusCode, body: &[u8]) -> Untrusted {
    let text = String::from_utf8_lossy(body);
    let quoted = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let quoted = Untrusted::from(quoted).truncated(QUOTED_BODY_CHARS);
    match quoted.is_empty() {
        true => Untrusted::from(format!("HTTP {status}")),
        false => Untrusted::from(format!("HTTP {status}: {}", quoted.unescaped())),
    }
}

/// A final refusal, with the hint that fits its documented code.
fn refusal(status: StatusCode, detail: ErrorDetail) -> ClientError {
    if matches!(
        detail.code,
        ErrorCode::NotAPublisher | ErrorCode::NotTheOwner
    ) {
        return ClientError::NotPermitted {
            code: detail.code,
            message: detail.message,
        };
    }
    if let Some(hint) = auth_hint(&detail) {
        return ClientError::Auth {
            code: detail.code,
            message: detail.message,
            hint,
        };
    }
    let hint =
        supply_chain_hint(detail.message.unescaped()).unwrap_or_else(|| refusal_hint(&detail.code));
    ClientError::Refused {
        status: status.as_u16(),
        hint,
        code: detail.code,
        message: detail.message,
    }
}

/// What to do about a refused token, for the codes that mean one.
fn auth_hint(detail: &ErrorDetail) -> Option<String> {
    let date = |field| untrusted::or(detail.field(field).as_ref(), "an unknown date");
    Some(match detail.code {
        ErrorCode::MissingToken => "pass `--token` or set `CHUKS_TOKEN`".to_string(),
        ErrorCode::NotAnApiToken => "this looks like an OAuth/session token; generate an API token in the dashboard's API Tokens tab".to_string(),
        ErrorCode::InvalidToken => "the registry does not know this token: check it was copied whole and belongs to this registry".to_string(),
        ErrorCode::TokenRevoked => format!("the token was revoked at {}: generate a new one in the dashboard's API Tokens tab and update the CI secret", date("revoked_at")),
        ErrorCode::TokenExpired => format!("the token expired at {}: generate a new one in the dashboard's API Tokens tab and update the CI secret", date("expires_at")),
        ErrorCode::MissingScope => format!("generate a token with the `{}` scope", untrusted::or(detail.field("scope").as_ref(), "needed")),
        _ => return None,
    })
}

/// The real registry scans a package for the permissions its code uses and checks network use
/// against `declaredDomains`; its refusals name them. What real maintainers did about each.
pub fn supply_chain_hint(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("declareddomains") || lower.contains("domain") {
        return Some("list the domain the code reaches in `declaredDomains` in chuks.json (localhost needs no entry), or remove the network use".to_string());
    }
    if lower.contains("permission") {
        return Some("declare the permission in chuks.json, or keep the code that uses it out of the tarball: test code under `tests/` is often the cause; exclude it in `.gitignore`".to_string());
    }
    None
}

fn refusal_hint(code: &ErrorCode) -> String {
    match code {
        ErrorCode::PackageTooLarge => {
            "make the package smaller (`.chuksignore`) or ask the registry for a higher limit"
                .to_string()
        }
        ErrorCode::ChecksumMismatch
        | ErrorCode::SizeMismatch
        | ErrorCode::InvalidJson
        | ErrorCode::IncompleteBody => "the upload was damaged on the way; re-run the job".to_string(),
        ErrorCode::PackageNotFound | ErrorCode::VersionNotFound => {
            "check the name and version; a prebuilt needs its source version published first (`needs:` the source job)".to_string()
        }
        ErrorCode::ManifestMismatch | ErrorCode::InvalidManifest => {
            "fix chuks.json; `chuks-ci verify-tag` shows what the registry will check".to_string()
        }
        ErrorCode::ScopeTaken => "the scope belongs to another publisher: publish under a scope your publisher holds, or ask the registry's operator to grant you this one".to_string(),
        code => format!("`{code}` is described in chuks-ci's docs/registry-api.md"),
    }
}

/// Milliseconds since the last byte moved, shared by the body stream and the watchdog.
#[derive(Clone)]
struct StallClock {
    start: Instant,
    last_progress_ms: Arc<AtomicU64>,
}

impl StallClock {
    fn new() -> Self {
        StallClock {
            start: Instant::now(),
            last_progress_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn tick(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_progress_ms.store(now, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `limit`.
    async fn stalled(&self, limit: Duration) {
        let check_every = (limit / 4).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(check_every).await;
            let idle = (self.start.elapsed().as_millis() as u64)
                .saturating_sub(self.last_progress_ms.load(Ordering::Relaxed));
            if idle >= limit.as_millis() as u64 {
                return;
            }
        }
    }
}

/// The JSON body as a stream: prefix, the file as base64 in 3-byte-aligned chunks, suffix.
fn base64_body(
    file: tokio::fs::File,
    prefix: String,
    suffix: &'static str,
    total: u64,
    clock: StallClock,
    progress: ProgressFn,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    enum Part {
        Prefix(String, tokio::fs::File),
        File(tokio::fs::File, u64),
        Suffix,
        Done,
    }
    futures_util::stream::unfold(Part::Prefix(prefix, file), move |part| {
        let clock = clock.clone();
        let progress = progress.clone();
        async move {
            clock.tick();
            match part {
                Part::Prefix(prefix, file) => Some((Ok(Bytes::from(prefix)), Part::File(file, 0))),
                Part::File(mut file, sent) => {
                    let mut buffer = vec![0u8; UPLOAD_CHUNK_BYTES];
                    match read_full(&mut file, &mut buffer).await {
                        Ok(0) => Some((Ok(Bytes::from_static(suffix.as_bytes())), Part::Suffix)),
                        Ok(read) => {
                            let sent = sent + read as u64;
                            progress(sent, total);
                            let encoded =
                                base64::engine::general_purpose::STANDARD.encode(&buffer[..read]);
                            Some((Ok(Bytes::from(encoded)), Part::File(file, sent)))
                        }
                        Err(err) => Some((Err(err), Part::Done)),
                    }
                }
                Part::Suffix | Part::Done => None,
            }
        }
    })
}

/// Reads until the buffer is full or the file ends, keeping chunks 3-byte aligned.
async fn read_full(file: &mut tokio::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_are_one_segment() {
        assert_eq!(path_segment("@chuks/numpy"), "@chuks%2Fnumpy");
        assert_eq!(path_segment("1.2.0-rc.1+build.5"), "1.2.0-rc.1%2Bbuild.5");
        assert_eq!(path_segment("di"), "di");
    }

    #[test]
    fn an_undocumented_body_is_quoted_short_and_without_control_characters() {
        let body = format!("package refused:\x1b[31m fs\npermission{}", "x".repeat(900));
        let message = undocumented_body_message(StatusCode::UNPROCESSABLE_ENTITY, body.as_bytes())
            .to_string();
        assert!(
            message.starts_with(
                "HTTP 422 Unprocessable Entity: package refused:\\u{1b}[31m fs permission"
            ),
            "{message}"
        );
        assert!(
            !message.contains('\x1b') && !message.contains('\n'),
            "{message}"
        );
        assert!(message.chars().count() < 540, "{}", message.len());
        assert_eq!(
            undocumented_body_message(StatusCode::BAD_GATEWAY, b""),
            "HTTP 502 Bad Gateway"
        );
    }

    #[test]
    fn supply_chain_refusals_get_what_real_maintainers_did() {
        let permissions =
            supply_chain_hint("undeclared permission `fs` used by tests/io.chuks").unwrap();
        assert!(permissions.contains("`.gitignore`"), "{permissions}");
        let domains = supply_chain_hint("api.example.com is not in declaredDomains").unwrap();
        assert!(domains.contains("`declaredDomains`"), "{domains}");
        assert_eq!(supply_chain_hint("name is taken"), None);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse_registry_url("https://registry.chuks.org/backend").is_ok());
        assert!(parse_registry_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_registry_url("http://[::1]:8080").is_ok());
        assert!(parse_registry_url("http://localhost:8080").is_ok());
        assert!(matches!(
            parse_registry_url("http://packages.chuks.org"),
            Err(ClientError::InsecureUrl { .. })
        ));
        assert!(matches!(
            parse_registry_url("https://user:secret@packages.chuks.org"),
            Err(ClientError::InvalidUrl { .. })
        ));
        assert!(parse_registry_url("ftp://x").is_err());
    }
}
