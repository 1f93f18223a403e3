//! Reading a request body: at most `--max-body` bytes (413 beyond), within a time limit (408),
//! then parsed as the JSON object every ONTAP write takes. Malformed input is marked as such
//! ([`ApiError::bad_input`]) so that the `bad-input-500` fault can find it.

use crate::mock::errors::{ApiError, CODE_BAD_REQUEST};
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};
use std::pin::Pin;
use std::time::Duration;

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        CODE_BAD_REQUEST,
        format!("The request body is larger than the {max} bytes this mock accepts (--max-body)"),
    )
}

/// How much of an oversized body is read (and thrown away) before the 413 is answered: a client
/// that is still sending when the server answers and closes gets a reset instead of the answer,
/// so the mock reads on, up to this many bytes beyond `--max-body`, then answers.
const DRAIN_BEYOND: u64 = 64 * 1024 * 1024;

/// Reads the body, refusing more than `max` bytes (413) and a client that stalls (408).
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > max as u64
    {
        if len <= max as u64 + DRAIN_BEYOND {
            drain(body, len).await;
        }
        return Err(too_large(max));
    }
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let collect = async move {
        let mut body = body;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                None => break,
                Some(Err(e)) => {
                    return Err(ApiError::bad_input(format!(
                        "The request body could not be read ({e})"
                    )));
                }
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if buf.len() + data.len() > max {
                            drain(body, max as u64 + DRAIN_BEYOND).await;
                            return Err(too_large(max));
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            CODE_BAD_REQUEST,
            "The request body did not arrive in time",
        )),
    }
}

/// Reads and discards up to `limit` bytes of a body (bounded by [`BODY_TIMEOUT`] too), so that
/// the client has sent it all and can read the answer.
async fn drain(mut body: Body, limit: u64) {
    let work = async {
        let mut seen: u64 = 0;
        while seen <= limit {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        seen += data.len() as u64;
                    }
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(BODY_TIMEOUT, work).await;
}

/// Parses a request body: a JSON object (an empty body counts as `{}`).
pub(super) fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_input(format!(
            "The request body is not UTF-8 text (invalid byte at offset {}); expected a JSON object",
            e.valid_up_to()
        ))
    })?;
    let v: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_input(format!(
            "The request body is not valid JSON (line {}, column {}: {e}); expected a JSON object",
            e.line(),
            e.column()
        ))
    })?;
    match v {
        Value::Object(m) => Ok(m),
        other => Err(ApiError::bad_input(format!(
            "The request body is a JSON {}; expected a JSON object",
            json_kind(&other)
        ))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
