//! A stand-in for the real Chuks registry: it answers only what is publicly known of it
//! (the chuks-programming-language/shim-publish-action README and `build.yml`, and the release
//! workflows of chuks-lang/chuks_numpy and chuks-lang/chuks_ffmpeg) and nothing more.
//!
//! - `POST <base>/api/packages/<name>/<version>`: a source publish with chuks-ci's body.
//! - `POST <base>/api/packages/<name>/<version>/prebuilt`: a prebuilt upload (the `platform`
//!   field of chuks-ci's body names the slot).
//! - Both answer `201` with a plain-text body the first time, and `409` with a plain-text body
//!   for every overwrite, identical bytes included. No digest is ever given back.
//! - A request without `Authorization: Bearer chuks_pk_…` gets a plain-text `401`.
//! - Every other method and path gets a plain `404` without the documented error body.
//!
//! It records each request so tests can check what chuks-ci asked for.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the stand-in saw it; the token itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub bearer_token: bool,
    pub status: u16,
}

/// What the stand-in holds: `(name, version, platform)` with `None` for the source tarball.
type Slot = (String, String, Option<String>);

#[derive(Default)]
struct State {
    requests: Mutex<Vec<SeenRequest>>,
    stored: Mutex<HashSet<Slot>>,
    stopping: AtomicBool,
}

pub struct RealRegistryStandIn {
    url: String,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl RealRegistryStandIn {
    /// Listens on 127.0.0.1 on a free port until dropped.
    pub fn start() -> RealRegistryStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        let serving = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if serving.stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let state = Arc::clone(&serving);
                    std::thread::spawn(move || answer(stream, &state));
                }
            }
        });
        RealRegistryStandIn {
            url,
            state,
            thread: Some(thread),
        }
    }

    /// The base URL, without `/api`, as `CHUKS_REGISTRY_URL` holds it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Whether the source tarball (`platform: None`) or a prebuilt of a version is stored.
    pub fn holds(&self, name: &str, version: &str, platform: Option<&str>) -> bool {
        let slot = (
            name.to_string(),
            version.to_string(),
            platform.map(str::to_string),
        );
        self.state.stored.lock().unwrap().contains(&slot)
    }
}

impl Drop for RealRegistryStandIn {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request, answers it and closes the connection.
fn answer(stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some((method, path, headers)) = read_head(&mut reader) else {
        return;
    };
    let length = header(&headers, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let bearer_token = header(&headers, "authorization")
        .is_some_and(|value| value.starts_with("Bearer chuks_pk_"));
    let (status, text) = route(&method, &path, bearer_token, &body, state);
    state.requests.lock().unwrap().push(SeenRequest {
        method,
        path,
        bearer_token,
        status,
    });
    let reason = match status {
        201 => "Created",
        401 => "Unauthorized",
        409 => "Conflict",
        _ => "Not Found",
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn route(method: &str, path: &str, bearer: bool, body: &[u8], state: &State) -> (u16, String) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let slot = match (method, segments.as_slice()) {
        ("POST", ["api", "packages", name, version]) => (decode(name), decode(version), None),
        ("POST", ["api", "packages", name, version, "prebuilt"]) => {
            let platform = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|body| body["platform"].as_str().map(str::to_string));
            (decode(name), decode(version), platform)
        }
        _ => return (404, String::new()),
    };
    if !bearer {
        return (401, "unauthorized".to_string());
    }
    if state.stored.lock().unwrap().insert(slot) {
        (201, "published".to_string())
    } else {
        (409, "version already exists".to_string())
    }
}

/// A request's method, path (query dropped) and headers (names lowercased).
type Head = (String, String, Vec<(String, String)>);

fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            return Some((method, path, headers));
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Percent-decodes a path segment (`@chuks%2Fnumpy` → `@chuks/numpy`).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
