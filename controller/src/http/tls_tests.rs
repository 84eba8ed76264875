//! The API over TLS, through real HTTPS on loopback: the typed client that
//! trusts the certificate gets its answer; one that does not is refused
//! for the certificate; a plain HTTP request gets no answer; files that
//! are not a certificate or key are named in the error.

use std::sync::Arc;

use super::*;
use crate::index::Index;

/// A self-signed certificate for `localhost`, written as PEM files.
fn identity(dir: &std::path::Path) -> (TlsFiles, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert = certified.cert.pem();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, &cert).expect("write cert");
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).expect("write key");
    (files, cert)
}

async fn serve(config: Arc<rustls::ServerConfig>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let bounded = crate::http::listener::Bounded::new(listener, 8, std::time::Duration::from_secs(5)).with_tls(config);
    tokio::spawn(async move {
        let _ = axum::serve(bounded, crate::http::router(Index::default())).await;
    });
    port
}

#[tokio::test]
async fn the_api_answers_over_tls_to_a_client_that_trusts_its_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, cert) = identity(dir.path());
    let port = serve(files.load().expect("loads")).await;
    let server = format!("https://localhost:{port}");

    let trusting = sextant_api::client::Client::with_root_ca(&server, None, Some(cert.as_bytes())).expect("client");
    let apps = trusting.apps().await.expect("an answer over TLS");
    assert!(apps.is_empty());

    let wary = sextant_api::client::Client::new(&server, None).expect("client");
    let e = wary.apps().await.expect_err("an unknown certificate is refused");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let plain = reqwest::Client::new()
        .get(format!("http://localhost:{port}/api/v1/apps"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()),
        "plain HTTP gets no answer"
    );

    // The listener still serves after a failed handshake.
    assert!(trusting.apps().await.is_ok());
}

#[test]
fn files_that_are_not_a_certificate_or_a_key_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, _) = identity(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not pem at all\n").expect("write");

    let e = TlsFiles {
        cert: garbage.clone(),
        key: files.key.clone(),
    }
    .load()
    .expect_err("no certificate");
    assert!(
        e.to_string().contains("garbage.pem") && e.to_string().contains("no certificate"),
        "{e}"
    );

    let e = TlsFiles {
        cert: files.cert.clone(),
        key: garbage,
    }
    .load()
    .expect_err("no key");
    assert!(
        e.to_string().contains("garbage.pem") && e.to_string().contains("private key"),
        "{e}"
    );

    let other = rcgen::generate_simple_self_signed(vec!["other".to_string()]).expect("certificate");
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, other.signing_key.serialize_pem()).expect("write");
    let e = TlsFiles {
        cert: files.cert.clone(),
        key: other_key,
    }
    .load()
    .expect_err("a key of another certificate");
    assert!(e.to_string().contains("do not make a TLS identity"), "{e}");

    let e = TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: files.key,
    }
    .load()
    .expect_err("missing");
    assert!(e.to_string().contains("missing.pem"), "{e}");
}
