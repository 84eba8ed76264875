//! Tells the tests what this machine can run, so that a test that needs
//! something absent is reported ignored (never passed): `cfg(has_docker)`
//! when it has a Docker engine's socket; `cfg(runs_as_root)` when the
//! build (and so the tests after it) runs as root, which switching a
//! task's user needs.

fn main() {
    const SOCKET: &str = "/var/run/docker.sock";
    println!("cargo::rustc-check-cfg=cfg(has_docker)");
    println!("cargo::rustc-check-cfg=cfg(runs_as_root)");
    println!("cargo::rerun-if-changed={SOCKET}");
    println!("cargo::rerun-if-changed=build.rs");
    if std::path::Path::new(SOCKET).exists() {
        println!("cargo::rustc-cfg=has_docker");
    }
    if effective_uid() == Some(0) {
        println!("cargo::rustc-cfg=runs_as_root");
    }
}

/// The effective uid, from `Uid:` in /proc/self/status (real, effective, ...).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
