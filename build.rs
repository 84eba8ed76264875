//! Tells the root crate's tests what this machine can run, so that a test
//! that needs something absent is reported ignored (never passed):
//! `cfg(has_chromium)` with Debian's chromium and chromedriver (the browser
//! tests, `tests/ui_browser.rs`, and the UI bench); `cfg(has_docker)` with a
//! Docker engine's socket (`tests/docker.rs`). Rerun when either appears or
//! goes.

use std::path::Path;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_chromium)");
    println!("cargo::rustc-check-cfg=cfg(has_docker)");
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
}
