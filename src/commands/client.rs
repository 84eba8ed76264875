//! The HTTP client every command that talks to the controller uses: it
//! carries the bearer token (`--token`, `SEXTANT_TOKEN`) when one is given.

use anyhow::{Context, Result};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

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
