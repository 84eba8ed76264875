//! Verifying the push webhooks that make a git source sync at once
//! (`POST /api/v1/hooks/git`), the way the forges sign them:
//!
//! - GitHub (and Gitea, Forgejo): `X-Hub-Signature-256: sha256=<hex>`, an
//!   HMAC-SHA256 of the raw body keyed with the shared secret;
//! - GitLab: `X-Gitlab-Token: <secret>`, the secret itself.
//!
//! Both are compared in constant time. A request with neither, or with a
//! wrong one, is refused and syncs nothing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE: &str = "x-hub-signature-256";
/// GitLab's token header.
pub const GITLAB_TOKEN: &str = "x-gitlab-token";

/// Why a webhook request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Neither header is present.
    #[error("the request carries no X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab) header")]
    Missing,
    /// The signature header is not `sha256=<64 hex digits>`.
    #[error("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")]
    Malformed,
    /// The signature or token does not match the shared secret.
    #[error("the {0} does not match the shared secret (--webhook-secret-file)")]
    Mismatch(&'static str),
}

impl WebhookError {
    /// A short name, for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Missing => "WebhookUnsigned",
            Self::Malformed => "WebhookMalformed",
            Self::Mismatch(_) => "WebhookBadSignature",
        }
    }
}

/// Which forge signed a verified request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// `X-Hub-Signature-256`.
    GitHub,
    /// `X-Gitlab-Token`.
    GitLab,
}

/// Checks a request's signature against `secret`. `header` looks a header
/// up by its lower-case name.
pub fn verify<'h>(
    secret: &[u8],
    header: impl Fn(&str) -> Option<&'h [u8]>,
    body: &[u8],
) -> Result<Signer, WebhookError> {
    if let Some(value) = header(GITHUB_SIGNATURE) {
        let hex = value.strip_prefix(b"sha256=").ok_or(WebhookError::Malformed)?;
        let given = decode_hex(hex).ok_or(WebhookError::Malformed)?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| WebhookError::Malformed)?;
        mac.update(body);
        return mac
            .verify_slice(&given)
            .map(|()| Signer::GitHub)
            .map_err(|_| WebhookError::Mismatch("X-Hub-Signature-256 signature"));
    }
    if let Some(token) = header(GITLAB_TOKEN) {
        return if bool::from(token.ct_eq(secret)) {
            Ok(Signer::GitLab)
        } else {
            Err(WebhookError::Mismatch("X-Gitlab-Token"))
        };
    }
    Err(WebhookError::Missing)
}

/// `sha256=` + hex of the HMAC-SHA256 of `body` under `secret`: what a
/// forge sends (for clients and tests).
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    let mut out = String::from("sha256=");
    if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        mac.update(body);
        for b in mac.finalize().into_bytes() {
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// The secret as read from its file: surrounding whitespace (the newline
/// an editor adds) is not part of it.
pub fn secret_from_file(text: &[u8]) -> Vec<u8> {
    text.trim_ascii().to_vec()
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    fn headers<'a>(pairs: &'a [(&'a str, &'a [u8])]) -> impl Fn(&str) -> Option<&'a [u8]> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    /// The example GitHub documents for validating webhook deliveries.
    #[test]
    fn github_documented_example_verifies() {
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(github_signature(SECRET, BODY), expected);
        let h = [(GITHUB_SIGNATURE, expected.as_bytes())];
        assert_eq!(verify(SECRET, headers(&h), BODY), Ok(Signer::GitHub));
    }

    #[test]
    fn a_changed_body_or_secret_is_refused() {
        let sig = github_signature(SECRET, BODY);
        let h = [(GITHUB_SIGNATURE, sig.as_bytes())];
        assert!(matches!(
            verify(SECRET, headers(&h), b"Hello, World?"),
            Err(WebhookError::Mismatch(_))
        ));
        assert!(matches!(
            verify(b"other", headers(&h), BODY),
            Err(WebhookError::Mismatch(_))
        ));
    }

    #[test]
    fn malformed_and_missing_signatures_are_refused() {
        for bad in [&b"sha1=abc"[..], b"sha256=zz", b"sha256=", b"757107ea"] {
            let h = [(GITHUB_SIGNATURE, bad)];
            assert_eq!(
                verify(SECRET, headers(&h), BODY),
                Err(WebhookError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(verify(SECRET, headers(&[]), BODY), Err(WebhookError::Missing));
    }

    #[test]
    fn gitlab_token() {
        let h = [(GITLAB_TOKEN, SECRET)];
        assert_eq!(verify(SECRET, headers(&h), BODY), Ok(Signer::GitLab));
        let h = [(GITLAB_TOKEN, &b"It's a Secret to Everybod"[..])];
        assert!(matches!(
            verify(SECRET, headers(&h), BODY),
            Err(WebhookError::Mismatch(_))
        ));
    }

    #[test]
    fn the_secret_file_newline_is_not_part_of_the_secret() {
        assert_eq!(secret_from_file(b"  s3cret\n"), b"s3cret");
    }
}
