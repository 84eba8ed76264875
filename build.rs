//! Tells the browser tests (`tests/ui_browser.rs`) and the UI bench whether
//! this machine has Debian's chromium and chromedriver: with both,
//! `cfg(has_chromium)` is set; without, the tests are reported ignored
//! (never passed). Rerun when either appears or goes.

use std::path::Path;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_chromium)");
    println!("cargo::rerun-if-changed={CHROMIUM}");
    println!("cargo::rerun-if-changed={CHROMEDRIVER}");
    println!("cargo::rerun-if-changed=build.rs");
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        println!("cargo::rustc-cfg=has_chromium");
    }
}
