//! The API's optional TLS (`--tls-cert FILE --tls-key FILE`, PEM): the
//! certificate chain and private key read once at start, into a rustls
//! server config (aws-lc-rs, TLS 1.2 and 1.3, HTTP/1.1). Errors name the file
//! and say what was expected. The handshake itself happens per connection
//! in `listener`, so a slow client holds only its own connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Largest PEM file read.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Where the certificate and the key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file holds no usable PEM item.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong, in words.
        what: String,
    },
    /// rustls refused the pair.
    #[error("the certificate {cert} and the key {key} do not make a TLS identity: {reason}")]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's words.
        reason: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    let unreadable = |reason: String| TlsError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if meta.len() > MAX_PEM_BYTES {
        return Err(unreadable(format!("it is larger than {MAX_PEM_BYTES} bytes")));
    }
    std::fs::read(path).map_err(|e| unreadable(e.to_string()))
}

impl TlsFiles {
    /// The server config of these files.
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let invalid = |path: &Path, what: String| TlsError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        let cert_pem = read(&self.cert)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(&self.cert, format!("not a PEM certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(invalid(
                &self.cert,
                "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        let key_pem = read(&self.key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            invalid(
                &self.key,
                format!("no private key in it (expected PEM PRIVATE KEY, RSA or EC): {e}"),
            )
        })?;
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Refused {
                cert: self.cert.clone(),
                key: self.key.clone(),
                reason: e.to_string(),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
