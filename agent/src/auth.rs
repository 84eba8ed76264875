//! Who may call the agent's gRPC: the holder of a shared token, sent as
//! `authorization: Bearer <token>` on every call and compared in constant
//! time. Without a token the agent serves loopback only (`agent::start`
//! refuses anything else), since a caller can launch any command. With a
//! `ServerIdentity`, the gRPC is served over TLS (rustls, aws-lc-rs).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Shorter tokens are refused: they could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;
/// The metadata key the token travels in.
pub const AUTHORIZATION: &str = "authorization";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}: {cause}")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("the token {origin} {problem}")]
    Invalid { origin: String, problem: String },
}

/// A shared secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    /// A token from text (surrounding whitespace dropped); `origin` names
    /// where it came from, for the error.
    pub fn new(text: &str, origin: &str) -> Result<Token, TokenError> {
        let invalid = |problem: String| TokenError::Invalid {
            origin: origin.to_string(),
            problem,
        };
        let token = text.trim();
        if token.len() < MIN_TOKEN_LEN {
            return Err(invalid(format!(
                "has {} characters; at least {MIN_TOKEN_LEN} are needed",
                token.len()
            )));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "holds spaces, control or non-ASCII characters; use letters, digits and punctuation".to_string(),
            ));
        }
        Ok(Token(token.into()))
    }

    /// The token in `path` (one line).
    pub fn load(path: &Path) -> Result<Token, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|cause| TokenError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        Token::new(&text, &format!("in {}", path.display()))
    }

    /// A fresh random token (244 random bits, as 64 hex digits).
    pub fn generate() -> Token {
        let text = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Token(text.into())
    }

    /// The secret itself, to hand to the controller.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `Bearer <token>`, the `authorization` value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    fn matches(&self, given: &str) -> bool {
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

/// The certificate and key the gRPC is served with over TLS. Its `Debug`
/// never shows the key.
#[derive(Clone)]
pub struct ServerIdentity(pub tonic::transport::Identity);

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerIdentity(<certificate and key>)")
    }
}

/// The server's check, on every call: passes everything when no token is
/// configured (loopback only), else needs `Bearer <token>`.
#[derive(Clone, Debug)]
pub struct RequireToken {
    expected: Option<Token>,
}

impl RequireToken {
    pub fn new(expected: Option<Token>) -> Self {
        Self { expected }
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        let Some(value) = request.metadata().get(AUTHORIZATION) else {
            return Err(Status::unauthenticated(
                "the agent needs a token: send `authorization: Bearer <token>` (the controller's --agent-token-file, the agent's --token-file)",
            ));
        };
        let given = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(token) if expected.matches(token) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "the token is not the agent's: the controller's --agent-token-file must hold the agent's --token-file",
            )),
            None => Err(Status::unauthenticated(
                "the authorization metadata must be `Bearer <token>`",
            )),
        }
    }
}

/// Adds `authorization: Bearer <token>` to a client's calls.
#[derive(Clone, Debug)]
pub struct SendToken(MetadataValue<tonic::metadata::Ascii>);

impl SendToken {
    pub fn new(token: &Token) -> Self {
        // A token is visible ASCII by construction: always a valid value.
        let value = MetadataValue::try_from(token.bearer()).unwrap_or_else(|_| MetadataValue::from_static(""));
        Self(value)
    }
}

impl Interceptor for SendToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert(AUTHORIZATION, self.0.clone());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(v) = value {
            request.metadata_mut().insert(AUTHORIZATION, v.parse().unwrap());
        }
        request
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let token = Token::new("s3cret-s3cret-s3cret", "test").unwrap();
        let mut check = RequireToken::new(Some(token.clone()));
        assert!(check.call(with(Some(&token.bearer()))).is_ok());
        for (value, words) in [
            (None, "needs a token"),
            (Some("Bearer s3cret-s3cret-s3creX"), "not the agent's"),
            (Some("Bearer s3cret"), "not the agent's"),
            (Some("s3cret-s3cret-s3cret"), "must be `Bearer <token>`"),
        ] {
            let status = check.call(with(value)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            assert!(status.message().contains(words), "{value:?}: {}", status.message());
        }
        assert!(RequireToken::new(None).call(with(None)).is_ok(), "no token configured");
    }

    #[test]
    fn weak_or_unprintable_tokens_are_refused_and_never_shown() {
        let short = Token::new("short", "in t.txt").unwrap_err().to_string();
        assert_eq!(short, "the token in t.txt has 5 characters; at least 16 are needed");
        assert!(Token::new("with a space inside it", "x").is_err());
        let token = Token::new("  0123456789abcdef\n", "x").unwrap();
        assert_eq!(token.expose(), "0123456789abcdef");
        assert_eq!(format!("{token:?}"), "Token(<hidden>)");
        let generated = Token::generate();
        assert_eq!(generated.expose().len(), 64);
        assert_ne!(generated, Token::generate());
        assert!(Token::new(generated.expose(), "x").is_ok());
    }
}
