//! `cfg(has_docker)` when this machine has a Docker engine's socket, so
//! that the Docker tests run where they can and are reported ignored (never
//! passed) where they cannot.

fn main() {
    const SOCKET: &str = "/var/run/docker.sock";
    println!("cargo::rustc-check-cfg=cfg(has_docker)");
    println!("cargo::rerun-if-changed={SOCKET}");
    if std::path::Path::new(SOCKET).exists() {
        println!("cargo::rustc-cfg=has_docker");
    }
}
