//! The reference registry's HTTP/1.1 connections, one request each. The request head is read
//! and checked here, under the header timeout, before hyper sees it: hyper answers a URI that
//! is too long or a malformed head with an empty body and closes a timed-out connection without
//! a word, and the API promises the documented error JSON for every error.

use std::convert::Infallible;
use std::io::Cursor;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::protocol::{ErrorBody, ErrorCode, ErrorDetail};
use crate::untrusted::Untrusted;

/// The longest request target (path and query).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The longest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// More header fields than this is a malformed request.
const MAX_HEADERS: usize = 64;

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (the peer already gone, out of descriptors) ends one connection.
                let Ok((stream, peer)) = accepted else { continue };
                connections.spawn(connection(stream, peer, app.clone(), header_timeout));
            }
            () = &mut shutdown => break,
        }
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// One connection: its request head checked, then the request served by hyper and axum.
async fn connection(mut stream: TcpStream, peer: SocketAddr, app: Router, timeout: Duration) {
    let head = match read_head(&mut stream, timeout).await {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(refusal) => {
            let _ = stream.write_all(&refusal.into_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
    };
    let (reader, writer) = stream.into_split();
    let io = TokioIo::new(tokio::io::join(Cursor::new(head).chain(reader), writer));
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                Ok::<_, Infallible>(
                    app.oneshot(request)
                        .await
                        .unwrap_or_else(|never| match never {}),
                )
            }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .serve_connection(io, service)
        .await;
}

/// The bytes read up to the end of the head (and any body bytes after it); `None` when the peer
/// closed before sending anything.
async fn read_head(stream: &mut TcpStream, timeout: Duration) -> Result<Option<Vec<u8>>, Refusal> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buffer = Vec::with_capacity(4096);
    loop {
        if !buffer.is_empty() && check_head(&buffer)? == Head::Complete {
            return Ok(Some(buffer));
        }
        let mut chunk = [0u8; 4096];
        let read = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(read)) => read,
            Ok(Err(_)) => return Ok(None),
            Err(_) => return Err(Refusal::header_timeout(timeout)),
        };
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// How much of a request head has arrived.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Partial,
    Complete,
}

/// Checks the head as far as it has arrived (the bytes may run on into the body): it parses
/// (so a TLS handshake or other garbage is refused at once), its target and its size are not too
/// long, and a complete head's `Content-Length` (if any) is one plain decimal number.
fn check_head(bytes: &[u8]) -> Result<Head, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = request.parse(bytes);
    let request_line = memchr::memmem::find(bytes, b"\r\n").unwrap_or(bytes.len());
    if request_line > MAX_URI_BYTES + 32
        || request.path.is_some_and(|path| path.len() > MAX_URI_BYTES)
    {
        return Err(Refusal::uri_too_long());
    }
    match parsed {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD_BYTES => {
            return Err(Refusal::head_too_large());
        }
        Ok(httparse::Status::Partial) => return Ok(Head::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::head_too_large()),
        Err(err) => {
            return Err(Refusal::bad_request(&format!(
                "the request head is malformed ({err})"
            )));
        }
    }
    let lengths: Vec<&[u8]> = request
        .headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("content-length"))
        .map(|header| header.value)
        .collect();
    let plain = |value: &&[u8]| !value.is_empty() && value.iter().all(u8::is_ascii_digit);
    let agree = lengths.windows(2).all(|pair| pair[0] == pair[1]);
    if !lengths.iter().all(plain) || !agree {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidContentLength,
            "`Content-Length` is not one plain decimal number\nhint: send the body's length in bytes, once",
        ));
    }
    Ok(Head::Complete)
}

/// A complete error answer written by hand, with the documented JSON body.
struct Refusal {
    status: StatusCode,
    // Boxed: every check returns `Result<(), Refusal>`.
    body: Box<ErrorBody>,
}

impl Refusal {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            body: Box::new(ErrorBody {
                error: ErrorDetail {
                    code,
                    message: Untrusted::from(message.into()),
                    extra: serde_json::Map::new(),
                },
            }),
        }
    }

    fn header_timeout(timeout: Duration) -> Refusal {
        Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::HeaderTimeout,
            format!(
                "the request head did not arrive within {}s\nhint: send the request line and headers at once",
                timeout.as_secs_f64()
            ),
        )
    }

    fn uri_too_long() -> Refusal {
        Refusal::new(
            StatusCode::URI_TOO_LONG,
            ErrorCode::UriTooLong,
            format!(
                "the request target is longer than {MAX_URI_BYTES} bytes\nhint: check the package name and version in the path"
            ),
        )
    }

    fn head_too_large() -> Refusal {
        Refusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!(
                "the request head is larger than {MAX_HEAD_BYTES} bytes or has more than {MAX_HEADERS} fields\nhint: send fewer or shorter headers"
            ),
        )
    }

    fn bad_request(message: &str) -> Refusal {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("{message}\nhint: send an HTTP/1.1 request as docs/registry-api.md describes"),
        )
    }

    fn into_bytes(self) -> Vec<u8> {
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut answer = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(head: &str) -> Option<String> {
        match check_head(head.as_bytes()) {
            Ok(Head::Complete) => None,
            Ok(Head::Partial) => Some("partial".to_string()),
            Err(refusal) => Some(refusal.body.error.code.to_string()),
        }
    }

    #[test]
    fn heads_are_checked_before_hyper_sees_them() {
        assert_eq!(code("GET /api/health HTTP/1.1\r\nHost: r\r\n\r\n"), None);
        assert_eq!(
            code("POST /api/x HTTP/1.1\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n"),
            None
        );
        for bad in ["+5", "5 5", "0x10", "", "١"] {
            let head = format!("POST /api/x HTTP/1.1\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(
                code(&head).as_deref(),
                Some("invalid_content_length"),
                "{bad}"
            );
        }
        let twice = "POST /api/x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(code(twice).as_deref(), Some("invalid_content_length"));
        let long = format!("GET /api/{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_BYTES));
        assert_eq!(code(&long).as_deref(), Some("uri_too_long"));
        assert_eq!(code("GET\r\n\r\n").as_deref(), Some("bad_request"));
        assert_eq!(code("\u{16}\u{3}\u{1}").as_deref(), Some("bad_request"));
        assert_eq!(code("GET /api/health HT").as_deref(), Some("partial"));
        let endless = format!("GET /api/{}", "a".repeat(MAX_URI_BYTES + 100));
        assert_eq!(code(&endless).as_deref(), Some("uri_too_long"));
    }
}
