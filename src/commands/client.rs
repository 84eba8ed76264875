//! The HTTP plumbing every command that talks to the controller shares: a
//! client that carries the bearer token (`--token`, `SEXTANT_TOKEN`),
//! sending a request with an error that says what to check, and a refusal
//! read back in words.

use anyhow::{Context, Result};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use sextant_controller::ErrorView;
use sextant_controller::http::write::InvalidView;

/// A client sending `token` as `Authorization: Bearer` on every request.
pub fn http(token: Option<&str>) -> Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token (--token, SEXTANT_TOKEN) holds characters an HTTP header cannot carry")?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .context("cannot set up the HTTP client")
}

/// Sends `req` (to `url`) and reads the whole answer.
pub async fn send(req: reqwest::RequestBuilder, url: &str) -> Result<(StatusCode, String)> {
    let response = req.send().await.with_context(|| {
        format!("cannot reach the Sextant controller at {url} (is `sextant up` running? see --server)")
    })?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    Ok((status, body))
}

/// GETs `url`; a non-2xx answer is an error in the controller's words.
pub async fn get(http: &reqwest::Client, url: &str) -> Result<String> {
    let (status, body) = send(http.get(url), url).await?;
    if !status.is_success() {
        return Err(refusal(url, status, &body));
    }
    Ok(body)
}

/// The error an answer carries, in words.
pub fn refusal(url: &str, status: StatusCode, body: &str) -> anyhow::Error {
    if let Ok(invalid) = serde_json::from_str::<InvalidView>(body) {
        return anyhow::anyhow!("the controller refused the manifests:\n{}", invalid.error);
    }
    if let Ok(e) = serde_json::from_str::<ErrorView>(body) {
        return anyhow::anyhow!("{url} answered {status}: {}", e.error);
    }
    anyhow::anyhow!("{url} answered {status}: {body}")
}

/// Rows as left-aligned columns three spaces apart, each line after
/// `indent`.
pub fn table(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
