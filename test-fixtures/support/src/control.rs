//! A tiny blocking HTTP/1.1 client for the local AWS's `/zdd/...` control endpoints (loopback
//! only, JSON bodies with Content-Length), also carrying the fixture's EC2 Query calls. An HTTP
//! crate would add build time for a handful of calls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `method path` with an optional JSON body to `endpoint` ("http://127.0.0.1:PORT") and
/// returns the parsed JSON body of a 2xx answer.
pub(crate) fn request_json(
    endpoint: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let (status, answer) = request_json_with_status(endpoint, method, path, body)?;
    if !(200..300).contains(&status) {
        bail!("{method} {endpoint}{path} answered HTTP {status}: {answer}");
    }
    Ok(answer)
}

/// As [`request_json`], for endpoints whose non-2xx answers carry a JSON body the caller reads
/// (e.g. 409 for a refused scaling action): the status and the parsed body, whatever the status.
pub(crate) fn request_json_with_status(
    endpoint: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let payload = body.map(serde_json::Value::to_string).unwrap_or_default();
    let (status, body) = request_text(endpoint, method, path, &[], "application/json", &payload)?;
    let answer = serde_json::from_str(&body)
        .with_context(|| format!("{method} {path} answered HTTP {status}, not JSON: {body}"))?;
    Ok((status, answer))
}

/// Sends `method path` with `headers` and a `content_type` body to `endpoint`, and returns the
/// status and the body as text, whatever the status (also the fixture's EC2 Query calls).
pub(crate) fn request_text(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    payload: &str,
) -> anyhow::Result<(u16, String)> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("control endpoint {endpoint} is not http://"))?
        .trim_end_matches('/');
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n{extra}\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    let mut stream =
        TcpStream::connect(authority).with_context(|| format!("connecting to {endpoint}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading the answer to {method} {path}"))?;
    let (status, body) = split_response(&response)?;
    Ok((status, body.to_string()))
}

fn split_response(response: &[u8]) -> anyhow::Result<(u16, &str)> {
    let text = std::str::from_utf8(response).context("non-UTF-8 HTTP response")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("truncated HTTP response: {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("no HTTP status line in {head:?}"))?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_status_and_body() {
        let (status, body) =
            split_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((status, body), (404, "{}"));
    }

    #[test]
    fn refuses_a_truncated_response() {
        assert!(split_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
