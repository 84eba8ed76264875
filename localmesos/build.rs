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
    // /proc/self belongs to the process's effective user (the root
    // crate's build.rs asks the same way).
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        println!("cargo::rustc-cfg=runs_as_root");
    }
}
