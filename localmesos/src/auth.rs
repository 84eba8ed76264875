//! HTTP authentication as a Mesos master does it with its default `basic`
//! authenticator: `Authorization: Basic base64(principal:secret)` checked
//! against the principals of `--credentials`, secrets compared in constant
//! time.
//!
//! Two realms, each switched on by its own master flag:
//! - `mesos-master-scheduler` (`--authenticate_http_frameworks`): every
//!   call on `/api/v1/scheduler`; the principal must then be the one in
//!   `FrameworkInfo.principal` (checked by the scheduler endpoint).
//! - `mesos-master-readwrite` (`--authenticate_http_readwrite`): the
//!   endpoints that change state (`/master/teardown`, localmesos'
//!   `/fault/*`).
//!
//! Without valid credentials the answer is `401 Unauthorized` with
//! `WWW-Authenticate: Basic realm="<realm>"` and no body, before the
//! request's body is read.
//!
//! The credentials file is Mesos': JSON `{"credentials": [{"principal":
//! "p", "secret": "s"}]}`, or text with one `principal secret` per line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::warn;

use crate::http::empty_response;
use crate::master::Master;

/// A principal and its secret: the client's own type, so that a
/// framework's credential and a master's are one (`Debug` hides the
/// secret).
pub use mesos::Credential;

/// Why a credentials file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}: {cause}")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("the credentials file {path} is not valid JSON credentials: {message}")]
    Json { path: PathBuf, message: String },
    #[error("the credentials file {path}, line {line}: expected `principal secret` (two words separated by spaces)")]
    Line { path: PathBuf, line: usize },
    #[error("the credentials file {path} holds no credentials")]
    Empty { path: PathBuf },
}

#[derive(Deserialize)]
struct CredentialsJson {
    credentials: Vec<Credential>,
}

/// Reads a Mesos credentials file (a `file://` prefix is accepted, as in
/// Mesos' flags). Warns, as Mesos does, when others may read it.
pub fn load_credentials(path: &Path) -> Result<Vec<Credential>, CredentialsError> {
    let path = match path.to_str().and_then(|p| p.strip_prefix("file://")) {
        Some(stripped) => PathBuf::from(stripped),
        None => path.to_path_buf(),
    };
    let text = std::fs::read_to_string(&path).map_err(|cause| CredentialsError::Read {
        path: path.clone(),
        cause,
    })?;
    warn_if_readable_by_others(&path);
    let credentials = parse_credentials(&text, &path)?;
    if credentials.is_empty() {
        return Err(CredentialsError::Empty { path });
    }
    Ok(credentials)
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        warn!(
            path = %path.display(),
            "permissions on the credentials file are too open: it should not be accessible by others (chmod 600)"
        );
    }
}

/// The credentials in a file's text: JSON if it starts with `{`, else one
/// `principal secret` per non-empty line.
pub fn parse_credentials(text: &str, path: &Path) -> Result<Vec<Credential>, CredentialsError> {
    if text.trim_start().starts_with('{') {
        let parsed: CredentialsJson = serde_json::from_str(text).map_err(|e| CredentialsError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        return Ok(parsed.credentials);
    }
    let mut credentials = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [principal, secret] => credentials.push(Credential {
                principal: (*principal).to_string(),
                secret: (*secret).to_string(),
            }),
            _ => {
                return Err(CredentialsError::Line {
                    path: path.to_path_buf(),
                    line: index + 1,
                });
            }
        }
    }
    Ok(credentials)
}

/// The master's authentication settings.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    /// Principals and their secrets (`--credentials`).
    pub credentials: Vec<Credential>,
    /// Every scheduler call needs credentials
    /// (`--authenticate_http_frameworks`).
    pub authenticate_frameworks: bool,
    /// The endpoints that change state need credentials
    /// (`--authenticate_http_readwrite`).
    pub authenticate_http_readwrite: bool,
}

/// An authentication realm of the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realm {
    Scheduler,
    ReadWrite,
}

impl Realm {
    pub fn name(self) -> &'static str {
        match self {
            Realm::Scheduler => "mesos-master-scheduler",
            Realm::ReadWrite => "mesos-master-readwrite",
        }
    }
}

/// Checks requests against the credentials.
#[derive(Debug, Default)]
pub struct Authenticator {
    secrets: BTreeMap<String, String>,
    frameworks: bool,
    readwrite: bool,
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Self {
        let secrets = config
            .credentials
            .iter()
            .map(|c| (c.principal.clone(), c.secret.clone()))
            .collect();
        Self {
            secrets,
            frameworks: config.authenticate_frameworks,
            readwrite: config.authenticate_http_readwrite,
        }
    }

    fn enabled(&self, realm: Realm) -> bool {
        match realm {
            Realm::Scheduler => self.frameworks,
            Realm::ReadWrite => self.readwrite,
        }
    }

    /// The authenticated principal (`None` when the realm needs none), or
    /// the `401` to answer.
    pub fn authenticate(&self, realm: Realm, headers: &HeaderMap) -> Result<Option<String>, Unauthorized> {
        if !self.enabled(realm) {
            return Ok(None);
        }
        match self.principal_of(headers) {
            Some(principal) => Ok(Some(principal)),
            None => Err(Unauthorized(realm)),
        }
    }

    /// The principal whose secret the `Authorization: Basic` header holds.
    fn principal_of(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = BASE64.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (principal, secret) = decoded.split_once(':')?;
        let expected = self.secrets.get(principal)?;
        let matches: bool = expected.as_bytes().ct_eq(secret.as_bytes()).into();
        matches.then(|| principal.to_string())
    }
}

/// `401 Unauthorized` with the realm's Basic challenge and no body, as
/// libprocess' basic authenticator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthorized(pub Realm);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = empty_response(StatusCode::UNAUTHORIZED);
        if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{}\"", self.0.name())) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Middleware for the read-write endpoints.
pub async fn require_readwrite(State(master): State<std::sync::Arc<Master>>, request: Request, next: Next) -> Response {
    match master.auth.authenticate(Realm::ReadWrite, request.headers()) {
        Ok(_) => next.run(request).await,
        Err(unauthorized) => unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(principal: &str, secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", BASE64.encode(format!("{principal}:{secret}")));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).expect("header"));
        headers
    }

    #[test]
    fn both_file_formats() {
        let path = Path::new("creds");
        let json = r#"{"credentials": [{"principal": "a", "secret": "s1"}, {"principal": "b", "secret": "s2"}]}"#;
        let text = "a s1\n\n  b   s2  \n";
        let expected = vec![
            Credential {
                principal: "a".into(),
                secret: "s1".into(),
            },
            Credential {
                principal: "b".into(),
                secret: "s2".into(),
            },
        ];
        assert_eq!(parse_credentials(json, path).expect("json"), expected);
        assert_eq!(parse_credentials(text, path).expect("text"), expected);
        assert!(matches!(
            parse_credentials("a s1\nlonely\n", path),
            Err(CredentialsError::Line { line: 2, .. })
        ));
        assert!(format!("{:?}", expected[0]).contains("<hidden>"));
    }

    #[test]
    fn basic_auth_is_checked_per_realm() {
        let auth = Authenticator::new(&AuthConfig {
            credentials: vec![Credential {
                principal: "p".into(),
                secret: "s".into(),
            }],
            authenticate_frameworks: true,
            authenticate_http_readwrite: false,
        });
        assert_eq!(auth.authenticate(Realm::ReadWrite, &HeaderMap::new()).ok(), Some(None));
        assert_eq!(
            auth.authenticate(Realm::Scheduler, &basic("p", "s")).ok(),
            Some(Some("p".to_string()))
        );
        for headers in [HeaderMap::new(), basic("p", "wrong"), basic("q", "s"), basic("p", "")] {
            let response = auth
                .authenticate(Realm::Scheduler, &headers)
                .expect_err("refused")
                .into_response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()),
                Some("Basic realm=\"mesos-master-scheduler\"")
            );
        }
    }
}
