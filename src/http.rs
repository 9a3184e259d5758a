//! The one HTTP client builder and the rules every client follows: rustls with ring, chuks-ci's
//! user agent, no redirects, plain http only to loopback; and the one way to fetch a small
//! answer (a forge's tag, a CI's ID token) with retries and a bounded body.

use std::future::Future;
use std::time::Duration;

use reqwest::Url;

use crate::retry::{
    self, AttemptError, RetryError, RetryPolicy, Transient, is_retryable_status, parse_retry_after,
};

/// How chuks-ci names itself to every server.
pub const USER_AGENT: &str = concat!("chuks-ci/", env!("CARGO_PKG_VERSION"));

/// The most of an answer [`fetch`] holds. GitLab's tag answer carries the release notes (up to
/// a million characters), so this leaves room for those and refuses anything past them.
pub const MAX_ANSWER_BYTES: usize = 8 << 20;

/// How long a client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Give up connecting after this long; the retry policy decides whether to try again.
    pub connect: Duration,
    /// Give up on a whole exchange after this long; `None` where the caller watches progress
    /// itself (the registry's streamed uploads).
    pub answer: Option<Duration>,
}

/// A small JSON answer (a forge's tag, a CI's ID token): quick to connect, quick to answer.
pub const SMALL_ANSWER: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    answer: Some(Duration::from_secs(30)),
};

/// Why no client could be built for a destination.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Plain http to a host that is not loopback: a token sent there would be readable.
    #[error("plain http to `{host}`")]
    Insecure { host: String },
    #[error("{0}")]
    Build(String),
}

/// Builds the HTTP client for talking to `destination`, and every HTTP client chuks-ci has is
/// built here. Redirects are not followed (a token header would follow one to another host);
/// `destination` must be https, or plain http to a loopback host, and a client built for an https
/// address refuses plain http altogether.
pub fn client_for(destination: &Url, timeouts: Timeouts) -> Result<reqwest::Client, SetupError> {
    if let Some(host) = insecure_host(destination) {
        return Err(SetupError::Insecure { host });
    }
    install_tls_provider();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(destination.scheme() == "https")
        .connect_timeout(timeouts.connect)
        .user_agent(USER_AGENT);
    if let Some(answer) = timeouts.answer {
        builder = builder.timeout(answer);
    }
    builder
        .build()
        .map_err(|err| SetupError::Build(describe_transport(&err)))
}

/// Installs ring as rustls's provider; reqwest is built without a default one.
/// Installing twice is harmless.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The host of a plain-http URL that is not loopback: sending a token there would expose it.
pub fn insecure_host(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    (url.scheme() == "http" && !is_loopback(host)).then(|| host.to_string())
}

/// One answer, read whole: what the retry loop and the caller's status checks need.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    retry_after: Option<Duration>,
    /// GitHub answers an exhausted rate limit with 403, which is an outage, not a refusal.
    rate_limited: bool,
    pub body: String,
}

impl Reply {
    fn is_retryable(&self) -> bool {
        is_retryable_status(self.status) || self.rate_limited
    }
}

/// Why a request got no answer worth reading.
#[derive(Debug)]
pub enum NoAnswer {
    /// Worth another attempt: refused, reset or timed out.
    Transient(String),
    /// TLS itself failed, which retrying cannot mend.
    Tls(String),
}

impl NoAnswer {
    /// Sorts a failed exchange (a reqwest error, or one wrapping it) into retryable or not.
    pub fn from_error(err: &(dyn std::error::Error + 'static)) -> NoAnswer {
        let causes = || std::iter::successors(Some(err), |cause| cause.source());
        let timed_out = causes()
            .filter_map(|cause| cause.downcast_ref::<reqwest::Error>())
            .any(reqwest::Error::is_timeout);
        match tls_failure(err) {
            Some(detail) => NoAnswer::Tls(detail),
            None if timed_out => NoAnswer::Transient("timed out".to_string()),
            None => NoAnswer::Transient(describe_transport(err)),
        }
    }
}

/// Why [`fetch`] ended without an answer.
#[derive(Debug)]
pub enum FetchError {
    /// TLS failed; it is not retried.
    Tls(String),
    /// Every attempt failed transiently; `last` is what the last one said.
    Exhausted { attempts: u32, last: String },
    /// The answer was longer than [`MAX_ANSWER_BYTES`].
    TooLarge,
}

/// What ends an attempt for good.
enum Final {
    Tls(String),
    TooLarge,
}

/// Sends a request (`send` makes one attempt) until the server gives an answer worth reading:
/// connect errors, timeouts, retryable statuses and an exhausted rate limit are retried as
/// `policy` says. The answer is read whole, up to [`MAX_ANSWER_BYTES`].
pub async fn fetch<F, Fut>(policy: &RetryPolicy, mut send: F) -> Result<Reply, FetchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<reqwest::Response, NoAnswer>>,
{
    let attempt = || {
        let sent = send();
        async move {
            let transient = |message| AttemptError::Transient(Transient::new(message));
            let reply = match sent.await {
                Ok(response) => read_reply(response).await,
                Err(no_answer) => Err(no_answer),
            };
            match reply {
                Ok(Some(reply)) if !reply.is_retryable() => Ok(reply),
                Ok(Some(reply)) => Err(AttemptError::Transient(Transient {
                    message: match reply.rate_limited {
                        true => "rate limited".to_string(),
                        false => format!("HTTP {}", reply.status),
                    },
                    retry_after: reply.retry_after,
                })),
                Ok(None) => Err(AttemptError::Fatal(Final::TooLarge)),
                Err(NoAnswer::Tls(detail)) => Err(AttemptError::Fatal(Final::Tls(detail))),
                Err(NoAnswer::Transient(message)) => Err(transient(message)),
            }
        }
    };
    retry::with_retries(policy, attempt)
        .await
        .map_err(|err| match err {
            RetryError::Fatal(Final::Tls(detail)) => FetchError::Tls(detail),
            RetryError::Fatal(Final::TooLarge) => FetchError::TooLarge,
            RetryError::Exhausted { attempts, last } => FetchError::Exhausted { attempts, last },
        })
}

/// Reads an answer whole; `None` when it is longer than [`MAX_ANSWER_BYTES`].
async fn read_reply(mut response: reqwest::Response) -> Result<Option<Reply>, NoAnswer> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let status = response.status().as_u16();
    let retry_after =
        header("retry-after").and_then(|value| parse_retry_after(value, jiff::Timestamp::now()));
    let rate_limited = status == 403 && header("x-ratelimit-remaining") == Some("0");
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| NoAnswer::from_error(&err.without_url()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(Reply {
        status,
        retry_after,
        rate_limited,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

/// The TLS failure behind a transport error, if that is what it was. rustls errors travel
/// wrapped in (possibly nested) `io::Error`s, whose `source()` skips the wrapped error, so each
/// wrapper is opened instead.
pub fn tls_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        cause = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// Words a failed exchange for messages: the innermost I/O error says the most.
pub fn describe_transport(err: &(dyn std::error::Error + 'static)) -> String {
    let causes = || std::iter::successors(Some(err), |cause| cause.source());
    match causes().find_map(|cause| cause.downcast_ref::<std::io::Error>()) {
        Some(io) if io.kind() == std::io::ErrorKind::TimedOut => "timed out".to_string(),
        Some(io) => format!("connection failed ({io})"),
        None => {
            // Some errors append a backtrace after the first line.
            let innermost = causes().last().unwrap_or(err).to_string();
            let first = innermost.lines().next().unwrap_or_default();
            format!("request failed ({first})")
        }
    }
}

/// Whether `host` is loopback (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_found_inside_io_errors() {
        let wrapped = std::io::Error::other(rustls::Error::DecryptError);
        assert!(tls_failure(&wrapped).is_some());
        let nested = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::DecryptError,
        ));
        assert!(tls_failure(&nested).is_some());
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls_failure(&plain), None);
    }

    #[test]
    fn only_remote_plain_http_is_insecure() {
        let host = |text: &str| insecure_host(&Url::parse(text).unwrap());
        assert_eq!(
            host("http://packages.chuks.org"),
            Some("packages.chuks.org".to_string())
        );
        assert_eq!(host("http://10.0.0.1:8080"), Some("10.0.0.1".to_string()));
        for safe in [
            "https://registry.chuks.org/backend",
            "http://127.0.0.1:1",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert_eq!(host(safe), None, "{safe}");
        }
    }

    #[test]
    fn no_client_is_built_for_remote_plain_http() {
        let url = |text: &str| Url::parse(text).unwrap();
        let refused = client_for(&url("http://packages.chuks.org"), SMALL_ANSWER);
        assert!(
            matches!(&refused, Err(SetupError::Insecure { host }) if host == "packages.chuks.org"),
            "{refused:?}"
        );
        assert!(client_for(&url("http://127.0.0.1:1"), SMALL_ANSWER).is_ok());
        assert!(client_for(&url("https://registry.chuks.org"), SMALL_ANSWER).is_ok());
    }

    async fn fetch_from(url: &Url) -> Result<Reply, FetchError> {
        let client = client_for(url, SMALL_ANSWER).unwrap();
        let once = RetryPolicy {
            retries: 0,
            ..RetryPolicy::default()
        };
        fetch(&once, || async {
            client
                .get(url.clone())
                .send()
                .await
                .map_err(|err| NoAnswer::from_error(&err))
        })
        .await
    }

    #[tokio::test]
    async fn an_answer_up_to_the_limit_is_read_and_a_longer_one_refused() {
        let (fits, _) = loopback::serve(loopback::answer(200, "", vec![b'a'; MAX_ANSWER_BYTES]));
        let reply = fetch_from(&fits).await.unwrap();
        assert_eq!((reply.status, reply.body.len()), (200, MAX_ANSWER_BYTES));
        let (over, _) =
            loopback::serve(loopback::answer(200, "", vec![b'a'; MAX_ANSWER_BYTES + 1]));
        assert!(matches!(fetch_from(&over).await, Err(FetchError::TooLarge)));
    }

    #[tokio::test]
    async fn every_request_names_chuks_ci_and_no_redirect_is_followed() {
        let redirect = "Location: http://127.0.0.1:9/elsewhere\r\n";
        let (url, seen) = loopback::serve(loopback::answer(302, redirect, ""));
        let reply = fetch_from(&url).await.unwrap();
        assert_eq!(reply.status, 302);
        let requests = seen.lock().unwrap();
        assert_eq!(requests.len(), 1, "{requests:?}");
        let request = requests[0].to_ascii_lowercase();
        assert!(
            request.contains(&format!("user-agent: {USER_AGENT}")),
            "{request}"
        );
    }
}

/// A loopback HTTP server for the unit tests of the clients built here.
#[cfg(test)]
pub(crate) mod loopback {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    use reqwest::Url;

    /// The requests a server saw, each as the text of its head.
    pub type Seen = Arc<Mutex<Vec<String>>>;

    /// Serves `answer` to every connection; its URL and the requests it saw.
    pub fn serve(answer: Vec<u8>) -> (Url, Seen) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let seen = Seen::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut request = [0u8; 4096];
                let n = stream.read(&mut request).unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).into_owned();
                log.lock().unwrap().push(head);
                let _ = stream.write_all(&answer);
            }
        });
        (url, seen)
    }

    /// An HTTP/1.1 answer: `status`, extra `headers` (each ending in CRLF), `body`.
    pub fn answer(status: u16, headers: &str, body: impl AsRef<[u8]>) -> Vec<u8> {
        let body = body.as_ref();
        let head = format!(
            "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        [head.as_bytes(), body].concat()
    }
}
