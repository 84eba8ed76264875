//! The app list with 10,000 apps, through the whole stack, each figure
//! against its target:
//!
//! 1. **`GET /api/v1/apps` through the full API**: `http::api(...)` (the
//!    auth middleware and the request-metrics layer, every route merged)
//!    served as the controller serves it (`axum::serve` over the bounded
//!    listener, on 127.0.0.1:0), without tokens and with a read token sent
//!    as a bearer token; the whole list (about 11 MB), a `labelSelector`
//!    matching 1% of the apps, and one namespace (5%). Sequential
//!    requests with reqwest (keep-alive), timed to the body's last byte,
//!    after a few untimed. `http::router(index)` alone (what `core.rs`'s
//!    item 4 measures) is timed beside them. Target: p99 ≤ 50 ms.
//! 2. **`sextant get apps` end to end**: the real release binary run as a
//!    child process against the same API (no tokens), its stdout read
//!    fully through a pipe: process start, the request, the JSON parse,
//!    the filter, the table. `-A` (the table of 10,000 apps), `-A -o json`,
//!    `-A -l cohort=c-07` (1%, filtered by the server), `-n team-03`;
//!    `sextant version` alone for the cost of starting the process. The
//!    children's CPU time comes from `getrusage(RUSAGE_CHILDREN)`.
//!    Target: p99 ≤ 150 ms.
//!
//! The fleet is `core.rs`'s (`fleet/mod.rs`), each app with one more
//! label, `cohort: c-NN` (`i % 100`), for the 1% selector.
//!
//! The binary: `$SEXTANT_BIN`, else `release/sextant` under
//! `$CARGO_TARGET_DIR` (or the workspace's `target/`); build it first with
//! `cargo build --release --bin sextant`. Without it, part 2 is skipped
//! with a message; a binary older than the CLI's sources is reported.
//!
//! `SEXTANT_BENCH_ONLY=1` (or `=2`) runs one of the two parts.
//! `SEXTANT_BENCH_SERVE=SECS` measures nothing: it serves the full API over
//! the fleet for that long, at the address it prints, for profiling a
//! client by hand (`perf record -- sextant get apps -A --server URL`).
//!
//! A plain `Instant` harness (no criterion): percentiles of single
//! requests and runs, printed line by line with their targets; nothing is
//! asserted on time. Results: `docs/benchmarks.md`.
//!
//! `cargo build --release --bin sextant && cargo bench -p sextant-controller --bench list`

mod fleet;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use fleet::{AGENT_URL, APPS, loadavg, ms, quantile, spread, verdict};
use sextant_controller::http;
use sextant_controller::http::auth::Tokens;
use sextant_controller::http::write::Writes;
use sextant_controller::index::Index;
use sextant_controller::source::sync::Configured;
use tokio::sync::Notify;

/// Requests timed per API case, after a few untimed.
const REQUESTS: usize = 200;
const WARMUP_REQUESTS: usize = 5;
/// Runs timed per CLI case, after a few untimed.
const RUNS: usize = 100;
const WARMUP_RUNS: usize = 3;
/// The read token of the server with tokens.
const READ_TOKEN: &str = "bench-read-token-0123456789";
/// The label of 1% of the apps, and the namespace of 5%.
const COHORT: &str = "cohort=c-07";
const NAMESPACE: &str = "team-03";
const API_TARGET: Duration = Duration::from_millis(50);
const CLI_TARGET: Duration = Duration::from_millis(150);

/// The fleet's extra label: 100 cohorts.
fn cohort(i: usize) -> String {
    format!(", cohort: c-{:02}", i % 100)
}

/// Serves `router` as the controller does (the bounded listener) on a
/// loopback port of its own; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let bounded = http::listener::Bounded::new(listener, http::listener::MAX_CONNECTIONS, http::listener::IDLE_TIMEOUT);
    tokio::spawn(async move {
        axum::serve(bounded, router).await.expect("serve");
    });
    format!("http://{addr}")
}

/// The full API over `index`, with or without tokens.
fn full_api(index: &Index, store: &sextant_controller::store::Store, tokens: Option<Tokens>) -> axum::Router {
    let writes = Writes {
        store: store.clone(),
        configured: Configured::new([fleet::SOURCE.to_string()]),
        git_triggers: vec![Arc::new(Notify::new())],
        webhook_secret: None,
    };
    let channel = tonic::transport::Endpoint::from_static(AGENT_URL).connect_lazy();
    http::api(
        index.clone(),
        writes,
        sextant_controller::events::Events::default(),
        tokens,
        sextant_controller::metrics::Metrics::default(),
        sextant_controller::agent_link::client(channel),
    )
}

/// One API case: sequential GETs of `url`; the samples and the last body.
async fn requests(http: &reqwest::Client, url: &str, token: Option<&str>) -> (Vec<Duration>, axum::body::Bytes) {
    let mut samples = Vec::with_capacity(REQUESTS);
    let mut body = axum::body::Bytes::new();
    for n in 0..WARMUP_REQUESTS + REQUESTS {
        let mut request = http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let t = Instant::now();
        let resp = request.send().await.expect("request");
        assert_eq!(resp.status(), 200, "{url}");
        body = resp.bytes().await.expect("body");
        let d = t.elapsed();
        if n >= WARMUP_REQUESTS {
            samples.push(d);
        }
    }
    (samples, body)
}

/// Part 1; whether each judged case met the target.
async fn api_cases(index: &Index, store: &sextant_controller::store::Store) -> Vec<bool> {
    let router_only = serve(http::router(index.clone())).await;
    let open = serve(full_api(index, store, None)).await;
    let tokens = Tokens::parse(
        Path::new("tokens.yaml"),
        &format!("tokens: [{{name: bench, token: {READ_TOKEN}, role: read}}]"),
        false,
    )
    .expect("tokens");
    let guarded = serve(full_api(index, store, Some(tokens))).await;
    // Without the token the guarded API refuses: the middleware is on.
    let client = reqwest::Client::new();
    let refused = client
        .get(format!("{guarded}/api/v1/apps"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401);

    let selector = format!("?labelSelector={}", COHORT.replace('=', "%3D"));
    let namespace = format!("?namespace={NAMESPACE}");
    let cases: [(&str, &str, &str, Option<&str>, usize); 7] = [
        ("http::router only, whole list", &router_only, "", None, APPS),
        ("http::api, no tokens, whole list", &open, "", None, APPS),
        (
            "http::api, read token, whole list",
            &guarded,
            "",
            Some(READ_TOKEN),
            APPS,
        ),
        (
            "http::api, no tokens, labelSelector (1%)",
            &open,
            &selector,
            None,
            APPS / 100,
        ),
        (
            "http::api, read token, labelSelector (1%)",
            &guarded,
            &selector,
            Some(READ_TOKEN),
            APPS / 100,
        ),
        (
            "http::api, no tokens, namespace (5%)",
            &open,
            &namespace,
            None,
            APPS / 20,
        ),
        (
            "http::api, read token, namespace (5%)",
            &guarded,
            &namespace,
            Some(READ_TOKEN),
            APPS / 20,
        ),
    ];
    println!("1. GET /api/v1/apps with {APPS} apps, {REQUESTS} sequential requests per case (reqwest, keep-alive)");
    let mut verdicts = Vec::new();
    for (what, base, query, token, expected) in cases {
        let url = format!("{base}/api/v1/apps{query}");
        let (mut samples, body) = requests(&client, &url, token).await;
        let apps: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON list");
        assert_eq!(apps.len(), expected, "{what}");
        samples.sort_unstable();
        let p99 = quantile(&samples, 0.99);
        let ok = p99 <= API_TARGET;
        // The router alone is the reference, not a target of this bench.
        if base != router_only {
            verdicts.push(ok);
        }
        println!(
            "   {what}: {}; body {:.2} MB{}",
            spread(&mut samples, ms),
            body.len() as f64 / 1e6,
            if base == router_only {
                String::new()
            } else {
                format!(" (target p99 <= 50 ms: {})", verdict(ok))
            }
        );
    }
    verdicts
}

/// The release binary, and whether it is older than the CLI's sources.
fn sextant_bin() -> Option<(PathBuf, bool)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = std::env::var_os("SEXTANT_BIN").map(PathBuf::from).or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        Some(target.join("release").join("sextant"))
    })?;
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok()?;
    let newest = ["src", "api/src"]
        .iter()
        .map(|dir| newest_mtime(&workspace.join(dir)))
        .max()
        .flatten();
    Some((bin, newest.is_some_and(|n| n > built)))
}

/// The newest modification time of the files under `dir`.
fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

/// User + system CPU of the waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru), 0, "getrusage");
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One run of the CLI: wall time to its exit, stdout read fully.
fn run_cli(bin: &Path, home: &Path, args: &[&str]) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sextant");
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("stdout read");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr read");
    let status = child.wait().expect("wait");
    let d = t.elapsed();
    assert!(status.success(), "sextant {args:?}: {status}: {err}");
    (d, out)
}

/// Part 2 against the API at `base`; whether each judged case met the
/// target.
fn cli_cases(bin: &Path, base: &str) -> Vec<bool> {
    let home = tempfile::tempdir().expect("home");
    let lines = |out: &[u8]| out.iter().filter(|b| **b == b'\n').count();
    let json_items = |out: &[u8]| {
        serde_json::from_slice::<Vec<serde_json::Value>>(out)
            .expect("a JSON list")
            .len()
    };
    type Check = fn(&[u8]) -> usize;
    let cases: [(&str, Vec<&str>, Check, usize); 5] = [
        ("sextant version (the process alone)", vec!["version"], |_| 0, 0),
        ("get apps -A (table)", vec!["get", "apps", "-A"], lines, APPS + 1),
        (
            "get apps -A -o json",
            vec!["get", "apps", "-A", "-o", "json"],
            json_items,
            APPS,
        ),
        (
            "get apps -A -l cohort=c-07 (1%)",
            vec!["get", "apps", "-A", "-l", COHORT],
            lines,
            APPS / 100 + 1,
        ),
        (
            "get apps -n team-03 (5%)",
            vec!["get", "apps", "-n", NAMESPACE],
            lines,
            APPS / 20 + 1,
        ),
    ];
    println!("2. sextant get apps end to end with {APPS} apps, {RUNS} runs per case (stdout read through a pipe)");
    let mut verdicts = Vec::new();
    for (what, mut args, check, expected) in cases {
        if args[0] != "version" {
            args.extend(["--server", base]);
        }
        let mut out = Vec::new();
        for _ in 0..WARMUP_RUNS {
            out = run_cli(bin, home.path(), &args).1;
        }
        if expected > 0 {
            assert_eq!(check(&out), expected, "{what}");
        }
        let cpu0 = children_cpu();
        let mut samples: Vec<Duration> = (0..RUNS).map(|_| run_cli(bin, home.path(), &args).0).collect();
        let cpu = (children_cpu() - cpu0) / RUNS as u32;
        samples.sort_unstable();
        let p99 = quantile(&samples, 0.99);
        let ok = p99 <= CLI_TARGET;
        let judged = args[0] != "version";
        if judged {
            verdicts.push(ok);
        }
        println!(
            "   {what}: {}; child CPU mean {}; stdout {:.2} MB{}",
            spread(&mut samples, ms),
            ms(cpu),
            out.len() as f64 / 1e6,
            if judged {
                format!(" (target p99 <= 150 ms: {})", verdict(ok))
            } else {
                String::new()
            }
        );
    }
    verdicts
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("list: a benchmark; run it with `cargo bench -p sextant-controller --bench list`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    println!(
        "the app list: {APPS} apps x {} tasks; load average at start: {}",
        fleet::TASKS_PER_APP,
        loadavg()
    );
    eprintln!("building the index");
    let built = rt.block_on(fleet::build(cohort, |_| {}));
    if let Some(secs) = std::env::var("SEXTANT_BENCH_SERVE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        let base = rt.block_on(async { serve(full_api(&built.index, &built.writer.store, None)).await });
        println!("serving the full API over {APPS} apps at {base} for {secs} s");
        std::thread::sleep(Duration::from_secs(secs));
        return;
    }
    let only = std::env::var("SEXTANT_BENCH_ONLY").unwrap_or_default();
    let mut ok = Vec::new();
    if only != "2" {
        ok.extend(rt.block_on(api_cases(&built.index, &built.writer.store)));
        println!("   load average: {}", loadavg());
    }
    match sextant_bin() {
        _ if only == "1" => {}
        Some((bin, stale)) => {
            println!("   the CLI: {}", bin.display());
            if stale {
                println!(
                    "   WARNING: it is older than the CLI's sources; rebuild it with `cargo build --release --bin sextant`"
                );
            }
            let open = rt.block_on(async { serve(full_api(&built.index, &built.writer.store, None)).await });
            ok.extend(cli_cases(&bin, &open));
        }
        None => println!(
            "2. skipped: no release binary; build it with `cargo build --release --bin sextant` (or set SEXTANT_BIN)"
        ),
    }
    println!("load average at end: {}", loadavg());
    let missed = ok.iter().filter(|o| !**o).count();
    println!("{} of {} cases met their targets", ok.len() - missed, ok.len());
}
