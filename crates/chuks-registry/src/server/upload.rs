//! Receiving an upload body without holding it: the documented JSON is read as a stream, the
//! base64 payload field decoded and hashed into a temporary file as it arrives, every other field
//! kept (bounded) as the head. Body size, idle time and total time are limited.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tokio_util::io::{StreamReader, SyncIoBridge};

/// Buffered bytes of body read, and of base64 decoded per step.
const CHUNK_BYTES: usize = 64 * 1024;

/// The limits one upload body is read under.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// The whole request body.
    pub max_body_bytes: u64,
    /// Every field but the payload, together.
    pub max_head_bytes: usize,
    /// The decoded payload.
    pub max_payload_bytes: u64,
    /// Longest wait for the next body bytes.
    pub idle: Duration,
    /// Longest time from the first byte of the body to the last.
    pub total: Duration,
}

/// The payload, decoded into an unnamed temporary file (gone when dropped), and its digest.
#[derive(Debug)]
pub struct Spooled {
    pub file: File,
    pub size: u64,
    pub sha256: String,
}

/// An upload read whole: its head fields and its payload.
#[derive(Debug)]
pub struct Received<H> {
    pub head: H,
    pub payload: Spooled,
}

/// Why a body was not accepted; the API maps each to a documented status and code.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload is larger than this registry's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no body bytes arrived for {}s", .0.as_secs_f64())]
    Idle(Duration),
    #[error("the upload took longer than {}s", .0.as_secs_f64())]
    Total(Duration),
    #[error("the request body ended early: {0}")]
    Incomplete(String),
    #[error("the request body is not complete JSON: {0}")]
    InvalidJson(String),
    #[error("the request body does not have the documented fields: {0}")]
    InvalidBody(String),
    #[error("`{field}` is not valid base64 ({reason})")]
    InvalidBase64 { field: &'static str, reason: String },
    #[error("cannot spool the upload: {0}")]
    Spool(io::Error),
}

/// What went wrong while reading the body stream, carried inside an `io::Error`.
#[derive(Debug, thiserror::Error)]
enum BodyFault {
    #[error("too large")]
    TooLarge(u64),
    #[error("idle")]
    Idle(Duration),
    #[error("too slow")]
    Total(Duration),
    #[error("{0}")]
    Broken(String),
}

/// Reads `body` as `{…head fields…, "<field>": "<base64>"}` (fields in any order).
pub async fn receive<H: DeserializeOwned + Send + 'static>(
    body: Body,
    field: &'static str,
    limits: BodyLimits,
    spool_dir: PathBuf,
) -> Result<Received<H>, UploadError> {
    // A declared `Content-Length` over the limit is refused before reading anything.
    if body.size_hint().lower() > limits.max_body_bytes {
        return Err(UploadError::TooLarge {
            limit: limits.max_body_bytes,
        });
    }
    let stream = limited(body.into_data_stream(), limits);
    let reader = SyncIoBridge::new(StreamReader::new(Box::pin(stream)));
    tokio::task::spawn_blocking(move || {
        let reader = BufReader::with_capacity(CHUNK_BYTES, reader);
        Parser::new(reader, field, limits, spool_dir).read()
    })
    .await
    .map_err(|err| UploadError::Spool(io::Error::other(err.to_string())))?
}

/// The body's chunks, failing once it passes the size limit, goes idle or runs out of time.
fn limited(
    body: axum::body::BodyDataStream,
    limits: BodyLimits,
) -> impl Stream<Item = io::Result<Bytes>> + Send {
    let deadline = Instant::now() + limits.total;
    futures_util::stream::unfold(Some((body, 0u64)), move |state| async move {
        let (mut body, seen) = state?;
        let wait = limits
            .idle
            .min(deadline.saturating_duration_since(Instant::now()));
        let fault = match tokio::time::timeout(wait, body.next()).await {
            Ok(None) => return None,
            Ok(Some(Ok(chunk))) => {
                let seen = seen + chunk.len() as u64;
                if seen <= limits.max_body_bytes {
                    return Some((Ok(chunk), Some((body, seen))));
                }
                BodyFault::TooLarge(limits.max_body_bytes)
            }
            Ok(Some(Err(err))) => BodyFault::Broken(err.to_string()),
            Err(_) if Instant::now() >= deadline => BodyFault::Total(limits.total),
            Err(_) => BodyFault::Idle(limits.idle),
        };
        Some((Err(io::Error::other(fault)), None))
    })
}

impl From<io::Error> for UploadError {
    fn from(err: io::Error) -> UploadError {
        match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<BodyFault>())
        {
            Some(BodyFault::TooLarge(limit)) => UploadError::TooLarge { limit: *limit },
            Some(BodyFault::Idle(after)) => UploadError::Idle(*after),
            Some(BodyFault::Total(after)) => UploadError::Total(*after),
            Some(BodyFault::Broken(reason)) => UploadError::Incomplete(reason.clone()),
            None => UploadError::Incomplete(err.to_string()),
        }
    }
}

/// A single pass over the body: JSON structure at the top level only, values of head fields
/// copied raw (serde checks them afterwards), the payload string decoded as it streams.
struct Parser<R> {
    reader: R,
    field: &'static str,
    limits: BodyLimits,
    spool_dir: PathBuf,
    head: Vec<u8>,
}

impl<R: BufRead> Parser<R> {
    fn new(reader: R, field: &'static str, limits: BodyLimits, spool_dir: PathBuf) -> Self {
        Parser {
            reader,
            field,
            limits,
            spool_dir,
            head: vec![b'{'],
        }
    }

    fn read<H: DeserializeOwned>(mut self) -> Result<Received<H>, UploadError> {
        let mut payload = None;
        self.expect(b'{')?;
        if self.peek_after_whitespace()? == Some(b'}') {
            self.reader.consume(1);
        } else {
            loop {
                self.expect(b'"')?;
                let key = self.key()?;
                self.expect(b':')?;
                if key == self.field {
                    if payload.is_some() {
                        return Err(UploadError::InvalidBody(format!(
                            "duplicate field `{}`",
                            self.field
                        )));
                    }
                    if self.peek_after_whitespace()? != Some(b'"') {
                        return Err(UploadError::InvalidBody(format!(
                            "`{}` must be a base64 string",
                            self.field
                        )));
                    }
                    self.reader.consume(1);
                    payload = Some(self.payload()?);
                } else {
                    self.head_field(&key)?;
                }
                match self.next_significant()? {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(UploadError::InvalidJson("expected `,` or `}`".into())),
                }
            }
        }
        if self.next_significant()?.is_some() {
            return Err(UploadError::InvalidJson(
                "characters after the object".into(),
            ));
        }
        let payload = payload
            .ok_or_else(|| UploadError::InvalidBody(format!("missing field `{}`", self.field)))?;
        self.head.push(b'}');
        let head = serde_json::from_slice(&self.head).map_err(|err| match err.classify() {
            serde_json::error::Category::Data => UploadError::InvalidBody(err.to_string()),
            _ => UploadError::InvalidJson(err.to_string()),
        })?;
        Ok(Received { head, payload })
    }

    /// A key (its opening quote consumed), unescaped.
    fn key(&mut self) -> Result<String, UploadError> {
        let mut raw = vec![b'"'];
        self.copy_string(&mut raw)?;
        serde_json::from_slice(&raw).map_err(|err| UploadError::InvalidJson(err.to_string()))
    }

    /// Appends `"key":<raw value>` to the head.
    fn head_field(&mut self, key: &str) -> Result<(), UploadError> {
        let mut copied = std::mem::take(&mut self.head);
        if copied.len() > 1 {
            copied.push(b',');
        }
        serde_json::to_writer(&mut copied, key)
            .map_err(|err| UploadError::InvalidJson(err.to_string()))?;
        copied.push(b':');
        let result = self.copy_value(&mut copied);
        self.head = copied;
        result
    }

    /// Copies one JSON value as it stands: strings and nesting tracked, scalars up to the next
    /// delimiter.
    fn copy_value(&mut self, out: &mut Vec<u8>) -> Result<(), UploadError> {
        let mut depth = 0usize;
        loop {
            let Some(byte) = self.peek_after_whitespace()? else {
                return Err(self.ended());
            };
            match byte {
                b'"' => {
                    self.take_into(out)?;
                    self.copy_string(out)?;
                }
                b'{' | b'[' => {
                    self.take_into(out)?;
                    depth += 1;
                    continue;
                }
                b'}' | b']' if depth > 0 => {
                    self.take_into(out)?;
                    depth -= 1;
                }
                b',' | b':' if depth > 0 => {
                    self.take_into(out)?;
                    continue;
                }
                _ => self.copy_scalar(out)?,
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// Copies a string's rest up to and including its closing quote.
    fn copy_string(&mut self, out: &mut Vec<u8>) -> Result<(), UploadError> {
        loop {
            let Some(byte) = self.take_into(out)? else {
                return Err(self.ended());
            };
            match byte {
                b'"' => return Ok(()),
                b'\\' if self.take_into(out)?.is_none() => return Err(self.ended()),
                _ => {}
            }
        }
    }

    /// Copies a number, `true`, `false` or `null` up to the next delimiter.
    fn copy_scalar(&mut self, out: &mut Vec<u8>) -> Result<(), UploadError> {
        while let Some(byte) = self.peek()? {
            if matches!(byte, b',' | b'}' | b']' | b':') || byte.is_ascii_whitespace() {
                return Ok(());
            }
            self.take_into(out)?;
        }
        Ok(())
    }

    /// The payload string's rest, decoded and hashed into a temporary file.
    fn payload(&mut self) -> Result<Spooled, UploadError> {
        let file = tempfile::tempfile_in(&self.spool_dir).map_err(UploadError::Spool)?;
        let mut decoder = PayloadDecoder::new(file, self.field, self.limits.max_payload_bytes);
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                return Err(self.ended());
            }
            let end = memchr::memchr2(b'"', b'\\', buffer);
            let text = &buffer[..end.unwrap_or(buffer.len())];
            decoder.push(text)?;
            let used = text.len();
            let stop = end.map(|at| buffer[at]);
            self.reader.consume(used);
            match stop {
                None => {}
                Some(b'"') => {
                    self.reader.consume(1);
                    return decoder.finish();
                }
                // JSON may escape `/`; no other escape can stand in base64.
                Some(_) => {
                    self.reader.consume(1);
                    match self.take()? {
                        Some(b'/') => decoder.push(b"/")?,
                        _ => return Err(decoder.invalid("an escape other than `\\/`")),
                    }
                }
            }
        }
    }

    fn take_into(&mut self, out: &mut Vec<u8>) -> Result<Option<u8>, UploadError> {
        if out.len() >= self.limits.max_head_bytes {
            return Err(UploadError::TooLarge {
                limit: self.limits.max_head_bytes as u64,
            });
        }
        let byte = self.take()?;
        out.extend(byte);
        Ok(byte)
    }

    fn take(&mut self) -> Result<Option<u8>, UploadError> {
        let byte = self.peek()?;
        if byte.is_some() {
            self.reader.consume(1);
        }
        Ok(byte)
    }

    fn peek(&mut self) -> Result<Option<u8>, UploadError> {
        Ok(self.reader.fill_buf()?.first().copied())
    }

    fn peek_after_whitespace(&mut self) -> Result<Option<u8>, UploadError> {
        while let Some(byte) = self.peek()? {
            if !byte.is_ascii_whitespace() {
                return Ok(Some(byte));
            }
            self.reader.consume(1);
        }
        Ok(None)
    }

    fn next_significant(&mut self) -> Result<Option<u8>, UploadError> {
        let byte = self.peek_after_whitespace()?;
        if byte.is_some() {
            self.reader.consume(1);
        }
        Ok(byte)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), UploadError> {
        match self.next_significant()? {
            Some(byte) if byte == wanted => Ok(()),
            Some(_) => Err(UploadError::InvalidJson(format!(
                "expected `{}`",
                wanted as char
            ))),
            None => Err(self.ended()),
        }
    }

    fn ended(&self) -> UploadError {
        UploadError::InvalidJson("the body ended inside the JSON".into())
    }
}

/// Base64 text in, decoded bytes out to the file and the hasher, in aligned steps.
struct PayloadDecoder {
    out: BufWriter<File>,
    hasher: Sha256,
    field: &'static str,
    limit: u64,
    size: u64,
    pending: Vec<u8>,
    decoded: Vec<u8>,
    padded: bool,
}

impl PayloadDecoder {
    fn new(file: File, field: &'static str, limit: u64) -> Self {
        PayloadDecoder {
            out: BufWriter::with_capacity(CHUNK_BYTES, file),
            hasher: Sha256::new(),
            field,
            limit,
            size: 0,
            pending: Vec::with_capacity(CHUNK_BYTES + 4),
            decoded: vec![0; CHUNK_BYTES / 4 * 3 + 3],
            padded: false,
        }
    }

    fn push(&mut self, mut text: &[u8]) -> Result<(), UploadError> {
        while !text.is_empty() {
            let room = CHUNK_BYTES - self.pending.len();
            let (now, later) = text.split_at(room.min(text.len()));
            self.pending.extend_from_slice(now);
            text = later;
            if self.pending.len() == CHUNK_BYTES {
                self.decode_pending()?;
            }
        }
        Ok(())
    }

    /// Decodes everything pending; `=` padding may only end the payload.
    fn decode_pending(&mut self) -> Result<(), UploadError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.padded {
            return Err(self.invalid("data after `=` padding"));
        }
        let written = base64::engine::general_purpose::STANDARD
            .decode_slice(&self.pending, &mut self.decoded)
            .map_err(|err| self.invalid(&err.to_string()))?;
        self.padded = self.pending.last() == Some(&b'=');
        self.pending.clear();
        self.size += written as u64;
        if self.size > self.limit {
            return Err(UploadError::TooLarge { limit: self.limit });
        }
        self.hasher.update(&self.decoded[..written]);
        self.out
            .write_all(&self.decoded[..written])
            .map_err(UploadError::Spool)
    }

    fn finish(mut self) -> Result<Spooled, UploadError> {
        self.decode_pending()?;
        let mut file = self
            .out
            .into_inner()
            .map_err(|err| UploadError::Spool(err.into_error()))?;
        file.rewind().map_err(UploadError::Spool)?;
        Ok(Spooled {
            file,
            size: self.size,
            sha256: format!("{:x}", self.hasher.finalize()),
        })
    }

    fn invalid(&self, reason: &str) -> UploadError {
        UploadError::InvalidBase64 {
            field: self.field,
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[derive(Debug, serde::Deserialize)]
    struct Head {
        size: u64,
        manifest: serde_json::Value,
    }

    fn limits() -> BodyLimits {
        BodyLimits {
            max_body_bytes: u64::MAX,
            max_head_bytes: 1024,
            max_payload_bytes: 1 << 20,
            idle: Duration::from_secs(5),
            total: Duration::from_secs(5),
        }
    }

    fn parse(body: &str) -> Result<Received<Head>, UploadError> {
        let dir = tempfile::tempdir().unwrap();
        let reader = BufReader::with_capacity(7, body.as_bytes());
        Parser::new(reader, "tarball", limits(), dir.path().to_path_buf()).read()
    }

    #[test]
    fn fields_in_any_order_and_the_payload_streams_to_a_file() {
        let payload = vec![7u8; 100_000];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
        for body in [
            format!(
                r#"{{"manifest": {{"a": [1, "}}\"", {{"b": null}}]}}, "size": 3, "tarball": "{encoded}"}}"#
            ),
            format!(
                r#" {{ "tarball" : "{encoded}" , "size":3,"manifest":{{"a":[1,"}}\"",{{"b":null}}]}} }} "#
            ),
        ] {
            let mut received = parse(&body).unwrap();
            assert_eq!(received.head.size, 3);
            assert_eq!(received.head.manifest["a"][1], "}\"");
            assert_eq!(received.payload.size, 100_000);
            assert_eq!(
                received.payload.sha256,
                format!("{:x}", Sha256::digest(&payload))
            );
            let mut stored = Vec::new();
            received.payload.file.read_to_end(&mut stored).unwrap();
            assert_eq!(stored, payload);
        }
    }

    fn kind(err: &UploadError) -> &'static str {
        match err {
            UploadError::InvalidBase64 { .. } => "base64",
            UploadError::InvalidBody(_) => "body",
            UploadError::InvalidJson(_) => "json",
            _ => "other",
        }
    }

    #[test]
    fn malformed_bodies_get_the_documented_refusals() {
        for (body, expected) in [
            (
                r#"{"size": 1, "manifest": {}, "tarball": "ab$="}"#,
                "base64",
            ),
            (
                r#"{"size": 1, "manifest": {}, "tarball": "AA==AA=="}"#,
                "base64",
            ),
            (r#"{"size": 1, "manifest": {}, "tarball": 5}"#, "body"),
            (r#"{"size": 1, "manifest": {}}"#, "body"),
            (r#"{"size": "x", "manifest": {}, "tarball": ""}"#, "body"),
            (r#"{"size": 1, "manifest": {}, "tarball": "AAAA"#, "json"),
            (
                r#"{"size": 1, "manifest": {"x": "y"}, "tarball": ""} x"#,
                "json",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(kind(&err), expected, "{body}: {err:?}");
        }
        let big_head = format!(
            r#"{{"manifest": "{}", "size": 1, "tarball": ""}}"#,
            "x".repeat(2000)
        );
        assert!(matches!(
            parse(&big_head),
            Err(UploadError::TooLarge { limit: 1024 })
        ));
    }
}
