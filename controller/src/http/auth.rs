//! Access control for the API: bearer tokens with roles, from a file.
//!
//! ```yaml
//! tokens:
//!   - {name: ci, token: "…", role: write}
//!   - {name: dashboards, token: "…", role: read}
//! ```
//!
//! - Without a tokens file every request is allowed (then `sextant up`
//!   binds loopback only: see the binary).
//! - With one, a write (any method but GET and HEAD) needs a `write` or
//!   `admin` token; a read needs a token too, unless `--anonymous-read`.
//! - Tokens are compared in constant time, against every entry.
//! - Missing or unknown tokens get 401, a token without the role 403, both
//!   with a JSON `{"error": …}` that says what is needed.
//! - Exempt: `/healthz` and `/readyz` (probes) and `POST /api/v1/hooks/git`, which
//!   carries its own signature.
//! - The caller's role travels in the request's extensions: `spec.env`
//!   values are shown to write and admin tokens only.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config_file::{self, ConfigFileError, MIN_SECRET_LEN, invalid};
use sextant_api::wire::ErrorCode;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything (env values hidden).
    Read,
    /// Read, and apply, delete, trigger syncs.
    Write,
    /// Everything.
    Admin,
}

/// One token of the file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token: String,
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tokens: Vec<Entry>,
}

/// The API's tokens.
#[derive(Clone)]
pub struct Tokens {
    entries: Arc<Vec<Entry>>,
    anonymous_read: bool,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("Tokens")
            .field(
                "names",
                &self.entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            )
            .field("anonymous_read", &self.anonymous_read)
            .finish()
    }
}

impl Tokens {
    /// Reads `path`; reads without a token are allowed with `anonymous_read`.
    pub fn load(path: &Path, anonymous_read: bool) -> Result<Self, ConfigFileError> {
        Self::parse(path, &config_file::read(path)?, anonymous_read)
    }

    /// Parses the text of a tokens file (`path` names it in errors).
    pub fn parse(path: &Path, text: &str, anonymous_read: bool) -> Result<Self, ConfigFileError> {
        let file: File = config_file::parse(path, text, "tokens: [{name, token, role: read|write|admin}]")?;
        if file.tokens.is_empty() {
            return Err(invalid(
                path,
                "no tokens: list at least one, or do not pass --tokens".into(),
            ));
        }
        for (i, e) in file.tokens.iter().enumerate() {
            if e.token.len() < MIN_SECRET_LEN {
                return Err(invalid(
                    path,
                    format!(
                        "tokens[{i}] ({}): a token needs at least {MIN_SECRET_LEN} characters",
                        e.name
                    ),
                ));
            }
            if file.tokens[..i].iter().any(|o| o.token == e.token) {
                return Err(invalid(
                    path,
                    format!("tokens[{i}] ({}): the same token is listed twice", e.name),
                ));
            }
        }
        Ok(Self {
            entries: Arc::new(file.tokens),
            anonymous_read,
        })
    }

    /// The role of `token`, comparing against every entry in constant time.
    fn role_of(&self, token: &[u8]) -> Option<(Role, &str)> {
        let mut found = None;
        for e in self.entries.iter() {
            if bool::from(e.token.as_bytes().ct_eq(token)) {
                found = Some((e.role, e.name.as_str()));
            }
        }
        found
    }
}

/// The caller's role, in a request's extensions (`None`: tokens are off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller(pub Option<Role>);

/// The caller's name for records of who did what: the token's `name`,
/// or `anonymous` when tokens are off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerName(pub String);

impl Caller {
    /// Whether the caller may see secret values (`spec.env`).
    pub fn sees_secrets(self) -> bool {
        self.0.is_none_or(|r| r >= Role::Write)
    }
}

fn refuse(code: ErrorCode, message: String) -> Response {
    ApiError::new(code, message).into_response()
}

/// The middleware: checks the bearer token against the role the request needs.
pub async fn check(State(tokens): State<Option<Tokens>>, mut req: Request, next: Next) -> Response {
    let Some(tokens) = tokens else {
        req.extensions_mut().insert(Caller(None));
        return next.run(req).await;
    };
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" || (path == "/api/v1/hooks/git" && req.method() == Method::POST) {
        req.extensions_mut().insert(Caller(Some(Role::Read)));
        return next.run(req).await;
    }
    let needs = if matches!(*req.method(), Method::GET | Method::HEAD) {
        Role::Read
    } else {
        Role::Write
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .map(<[u8]>::trim_ascii);
    let role = match given {
        None if needs == Role::Read && tokens.anonymous_read => Role::Read,
        None => {
            return refuse(
                ErrorCode::Unauthorized,
                format!(
                    "this API needs a token: send `Authorization: Bearer <token>` (the CLI: SEXTANT_TOKEN or --token) with a {} token",
                    role_name(needs)
                ),
            );
        }
        Some(token) => match tokens.role_of(token) {
            Some((role, name)) => {
                let name = CallerName(name.to_string());
                req.extensions_mut().insert(name);
                role
            }
            None => {
                return refuse(
                    ErrorCode::Unauthorized,
                    "the token is not known to this controller".into(),
                );
            }
        },
    };
    if role < needs {
        return refuse(
            ErrorCode::Forbidden,
            format!(
                "{} {} needs a {} token; this one is {}",
                req.method(),
                req.uri().path(),
                role_name(needs),
                role_name(role)
            ),
        );
    }
    req.extensions_mut().insert(Caller(Some(role)));
    next.run(req).await
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Read => "read",
        Role::Write => "write",
        Role::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "tokens:\n  - {name: ci, token: write-token-0123456789, role: write}\n  - {name: dash, token: read-token-0123456789, role: read}\n";

    #[test]
    fn a_tokens_file_is_parsed_and_bad_ones_say_why() {
        let t = Tokens::parse(Path::new("tokens.yaml"), FILE, false).expect("parses");
        assert_eq!(t.role_of(b"write-token-0123456789").map(|r| r.0), Some(Role::Write));
        assert_eq!(t.role_of(b"read-token-0123456789").map(|r| r.0), Some(Role::Read));
        assert_eq!(t.role_of(b"nope"), None);
        assert!(!format!("{t:?}").contains("token-0123"), "Debug never shows tokens");

        let short = "tokens: [{name: x, token: short, role: read}]";
        let err = Tokens::parse(Path::new("t.yaml"), short, false).expect_err("refused");
        assert!(err.to_string().contains("at least 16"), "{err}");
        let bad_role = "tokens: [{name: x, token: aaaaaaaaaaaaaaaaaaaa, role: root}]";
        let err = Tokens::parse(Path::new("t.yaml"), bad_role, false).expect_err("refused");
        assert!(err.to_string().starts_with("t.yaml: 1:"), "{err}");
        let empty = "tokens: []";
        assert!(Tokens::parse(Path::new("t.yaml"), empty, false).is_err());
        let twice = "tokens: [{name: a, token: aaaaaaaaaaaaaaaaaaaa, role: read}, {name: b, token: aaaaaaaaaaaaaaaaaaaa, role: write}]";
        assert!(Tokens::parse(Path::new("t.yaml"), twice, false).is_err());
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
        assert!(Caller(None).sees_secrets());
        assert!(!Caller(Some(Role::Read)).sees_secrets());
        assert!(Caller(Some(Role::Write)).sees_secrets());
    }
}
