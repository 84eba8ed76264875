//! `sextant controller --tls-cert --tls-key` as a user runs it, with the CLI
//! against it: `get apps --server https://… --ca-cert` answers; without the
//! CA the certificate is refused, in words; the config file's `caCert`
//! works as the flag does.

mod common;

use std::time::{Duration, Instant};

use common::{Process, free_addr};

fn cli(args: &[&str], home: &std::path::Path) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("run sextant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Guards the API's TLS end to end: the flags, the banner's scheme, the
/// CLI's `--ca-cert` and `caCert`.
#[test]
fn the_cli_reaches_a_tls_controller_that_it_trusts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("mkdir");
    let addr = free_addr();
    let port = addr.port();
    let log = dir.path().join("controller.log");
    let _controller = Process::spawn(
        &[
            "controller",
            "--manifests",
            manifests.to_str().expect("utf-8"),
            "--data-dir",
            dir.path().join("data").to_str().expect("utf-8"),
            "--api-addr",
            &addr.to_string(),
            "--agent",
            "http://127.0.0.1:1",
            "--tls-cert",
            cert.to_str().expect("utf-8"),
            "--tls-key",
            key.to_str().expect("utf-8"),
        ],
        &log,
    );
    let server = format!("https://localhost:{port}");
    let ca = cert.to_str().expect("utf-8");
    let start = Instant::now();
    let (code, out, err) = loop {
        let answer = cli(&["get", "apps", "--server", &server, "--ca-cert", ca], dir.path());
        if answer.0 == 0 || start.elapsed() > Duration::from_secs(60) {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(code, 0, "{out}{err}\n{}", common::log_tail(&log, 30));
    assert!(out.starts_with("NAME"), "{out}");

    let (code, _, err) = cli(&["get", "apps", "--server", &server], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.to_lowercase().contains("certificate"),
        "refused for the certificate: {err}"
    );

    let config = dir.path().join(".config/sextant");
    std::fs::create_dir_all(&config).expect("mkdir");
    std::fs::write(config.join("config.yaml"), format!("server: {server}\ncaCert: {ca}\n")).expect("config");
    let (code, out, err) = cli(&["get", "apps"], dir.path());
    assert_eq!(code, 0, "the config file's server and caCert: {err}");
    assert!(out.starts_with("NAME"), "{out}");
}
