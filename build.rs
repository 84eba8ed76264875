//! Tells the root crate's tests what this machine can run, so that a test
//! that needs something absent is reported ignored (never passed):
//! `cfg(has_chromium)` with Debian's chromium and chromedriver (the browser
//! tests, `tests/ui_browser.rs`, and the UI bench); `cfg(has_docker)` with a
//! Docker engine's socket (`tests/docker.rs`). Rerun when either appears or
//! goes. `cfg(runs_as_root)` when the build (and so the tests after it)
//! runs as root, which a test that hides the machine's cgroups in a mount
//! namespace of its own needs (`tests/nodes.rs`).

use std::path::Path;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_chromium)");
    println!("cargo::rustc-check-cfg=cfg(has_docker)");
    println!("cargo::rustc-check-cfg=cfg(runs_as_root)");
    println!("cargo::rerun-if-changed={CHROMIUM}");
    println!("cargo::rerun-if-changed={CHROMEDRIVER}");
    println!("cargo::rerun-if-changed={DOCKER_SOCKET}");
    println!("cargo::rerun-if-changed=build.rs");
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        println!("cargo::rustc-cfg=has_chromium");
    }
    if Path::new(DOCKER_SOCKET).exists() {
        println!("cargo::rustc-cfg=has_docker");
    }
    // /proc/self belongs to the process's effective user.
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        println!("cargo::rustc-cfg=runs_as_root");
    }
}
