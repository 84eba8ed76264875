//! A real headless browser for the web UI's tests and bench: Debian's
//! `/usr/bin/chromium` driven through `/usr/bin/chromedriver` (WebDriver)
//! with fantoccini, on a fresh profile, with the flags this machine's
//! closed network needs (no background connections). Screenshots go to
//! `<target dir>/ui-screenshots/` as test artifacts.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process and the browser session it drives; both end on
/// drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    test: String,
    step: usize,
}

/// Where screenshots go: `ui-screenshots/` in the target directory (the
/// test binary lives in `<target>/<profile>/deps/`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("the test's path");
            exe.ancestors().nth(3).expect("target dir").to_path_buf()
        });
    target.join("ui-screenshots")
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless chromium
    /// of `width` × `height`; `test` names its screenshots.
    pub async fn start(test: &str, width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": CHROMIUM, "args": args}),
        );
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot open a chromium session through chromedriver: {e}"),
            }
        };
        std::fs::create_dir_all(screenshot_dir()).expect("screenshot dir");
        Browser {
            client,
            driver,
            _profile: profile,
            test: test.to_string(),
            step: 0,
        }
    }

    /// Saves a PNG of the page as `<test>-<nn>-<label>.png`.
    pub async fn shot(&mut self, label: &str) -> PathBuf {
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{}-{:02}-{label}.png", self.test, self.step));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("open the page");
    }

    /// The text of the first element matching `css`, once it contains
    /// `want` (waits up to `within`); panics with what it read instead.
    pub async fn wait_text(&self, css: &str, want: &str, within: Duration) -> String {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < within {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if last.contains(want) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} did not show {want:?} within {within:?}; it shows {last:?}");
    }

    /// Waits until `css` matches an element.
    pub async fn wait_for(&self, css: &str, within: Duration) -> fantoccini::elements::Element {
        let started = Instant::now();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                return el;
            }
            assert!(started.elapsed() < within, "nothing matched {css} within {within:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element `css` (waiting for it).
    pub async fn click(&self, css: &str) {
        self.wait_for(css, Duration::from_secs(10))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the field `css` after clearing it, as a user does.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait_for(css, Duration::from_secs(10)).await;
        el.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Picks the option of value `value` in the select `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.wait_for(css, Duration::from_secs(10)).await;
        el.select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// Runs `script` in the page with `args`.
    pub async fn js(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        self.client
            .execute(script, args)
            .await
            .expect("run a script in the page")
    }

    /// Errors the page did not expect (`window.sextantErrors`, kept by
    /// `main.js`): none, or the test fails naming them.
    pub async fn assert_no_page_errors(&self) {
        let errors = self.js("return window.sextantErrors || [];", vec![]).await;
        assert_eq!(errors, serde_json::json!([]), "the page raised errors");
    }

    /// Checks the page raised no error, then ends the session and
    /// chromedriver.
    pub async fn close(mut self) {
        self.assert_no_page_errors().await;
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
