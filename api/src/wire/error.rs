//! The body of every error answer: `{code, message, details}`.
//!
//! `code` is a stable word a program can match on (it never changes with
//! the wording); `message` says what went wrong and what to do, for a
//! person; `details` carries structured data where there is some (the
//! located errors of a manifest that does not load, the per-object result
//! of a refused apply).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The stable codes, one per kind of refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ErrorCode {
    /// The request is malformed (a body that is not UTF-8 or not the
    /// expected JSON, a bad query parameter).
    BadRequest,
    /// No token, or a token that is not known.
    Unauthorized,
    /// The token's role may not do this.
    Forbidden,
    /// No such app (or other object).
    NotFound,
    /// No such endpoint.
    NoSuchEndpoint,
    /// The endpoint exists, not with this method.
    MethodNotAllowed,
    /// The object is owned by another source, or the change conflicts.
    Conflict,
    /// The manifests do not load; `details.errors` locates each problem.
    InvalidManifest,
    /// A value is over a documented limit.
    OverLimit,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// The feature is not configured here (e.g. webhooks without a secret).
    NotConfigured,
    /// The controller is not ready yet; `message` says what it waits for.
    NotReady,
    /// The controller failed; `message` says where.
    Internal,
    /// The agent (the Mesos framework) or Mesos could not answer.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound | Self::NoSuchEndpoint | Self::NotConfigured => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::InvalidManifest | Self::OverLimit => 422,
            Self::Internal => 500,
            Self::Unavailable | Self::NotReady => 503,
        }
    }
}

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// A stable word to match on.
    pub code: ErrorCode,
    /// What went wrong, in words, with what to do where there is a hint.
    pub message: String,
    /// Structured detail: `{"errors": [LocatedError]}` for
    /// `InvalidManifest`, an `ApplyResult` for a refused apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    /// An error without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
