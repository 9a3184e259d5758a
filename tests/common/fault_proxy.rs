//! A fault-injecting HTTP proxy for client tests: it forwards requests to the registry, or
//! answers, resets or stalls them as scripted, and records what arrived.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do with one scripted request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Pass it to the registry and relay the answer.
    Forward,
    /// Answer without forwarding: status, extra headers, JSON body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Forward it (so the registry acts on it), then close the client's connection unanswered.
    ForwardThenDrop,
    /// Forward it (so the registry acts on it), then answer this status instead of the registry.
    ForwardThenFail(u16),
    /// Read it, then say nothing for this long before closing.
    Stall(Duration),
}

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub at: Instant,
    pub body_len: usize,
}

pub struct FaultProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FaultProxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`); `script` applies, in order, to requests
    /// whose method is `method`. Every other request, and any past the script, is forwarded.
    pub fn start(upstream: &str, method: &'static str, script: Vec<Fault>) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let log = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (log, script) = (log.clone(), script.clone());
                std::thread::spawn(move || serve(client, upstream, method, &script, &log));
            }
        });
        FaultProxy { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen with this method.
    pub fn seen(&self, method: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == method)
            .cloned()
            .collect()
    }
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    method: &str,
    script: &Mutex<VecDeque<Fault>>,
    log: &Mutex<Vec<Seen>>,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut client = client;
    while let Some((head, body, seen)) = read_request(&mut reader) {
        let fault = if seen.method == method {
            script.lock().unwrap().pop_front().unwrap_or(Fault::Forward)
        } else {
            Fault::Forward
        };
        log.lock().unwrap().push(seen);
        match fault {
            Fault::Forward => {
                let answer = forward(upstream, &head, &body);
                if client.write_all(&answer).is_err() {
                    return;
                }
            }
            Fault::Respond(status, headers, body) => {
                let mut answer = format!(
                    "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    answer.push_str(&format!("{name}: {value}\r\n"));
                }
                answer.push_str("\r\n");
                answer.push_str(&body);
                if client.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
            Fault::ForwardThenFail(status) => {
                forward(upstream, &head, &body);
                let body = r#"{"error":{"code":"internal","message":"lost the answer"}}"#;
                let answer = format!(
                    "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = client.write_all(answer.as_bytes());
                return;
            }
            Fault::ForwardThenDrop => {
                forward(upstream, &head, &body);
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            Fault::Stall(duration) => {
                std::thread::sleep(duration);
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Reads one request: its head (with `Connection: close` forced), its body, and a log entry.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(Vec<u8>, Vec<u8>, Seen)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut head = request_line.clone();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
        if !lower.starts_with("connection:") {
            head.push_str(&line);
        }
    }
    head.push_str("connection: close\r\n\r\n");
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let seen = Seen {
        method,
        path,
        at: Instant::now(),
        body_len: length,
    };
    Some((head.into_bytes(), body, seen))
}

fn forward(upstream: SocketAddr, head: &[u8], body: &[u8]) -> Vec<u8> {
    let mut server = TcpStream::connect(upstream).unwrap();
    server.write_all(head).unwrap();
    server.write_all(body).unwrap();
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).unwrap();
    answer
}
