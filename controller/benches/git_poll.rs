//! A git poll with nothing new, on a repository of 5,000 manifests
//! (50 directories of 100 files, one app each): the cost the git source
//! pays every `--interval` while nobody pushes. Target: at most 100 ms of
//! CPU per poll.
//!
//! The repository is built once (a working clone committing to a bare
//! repository, as a forge would hold it), then `GitSource::sync_once`
//! runs into a `Store` in a temporary directory: the first sync (fetch,
//! checkout, load, plan and journal of the 5,000 apps) is timed on its
//! own, then 20 more with no new commit, each of which must answer
//! `Attempt::Unchanged`. CPU per poll is the delta of
//! `getrusage(RUSAGE_SELF)` plus `getrusage(RUSAGE_CHILDREN)` (user +
//! system; the children are the `git` processes the mirror runs and
//! waits for, with the `git-upload-pack` each fetch starts); wall time
//! beside it. For the first sync, its parts are timed again afterwards,
//! each alone (a fresh mirror's fetch and checkout, `load_tree` of the
//! checkout, and `Syncer::sync_tree` of it into a fresh journal: load,
//! plan and journal write).
//!
//! A plain `Instant` harness (`harness = false`): figures are printed with
//! their target, nothing is asserted on time. Only `cargo bench` runs it
//! (without `--bench` it says so and returns, so `cargo test --all-targets`
//! stays quick). Results: `docs/benchmarks.md`.
//!
//! `cargo bench -p sextant-controller --bench git_poll`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sextant_controller::Store;
use sextant_controller::source::git::{Attempt, GitConfig, GitSource};
use sextant_controller::source::git_repo::{GitAuth, Mirror};
use sextant_controller::source::plan::Rules;
use sextant_controller::source::sync::{Configured, Syncer};

/// Manifest files in the repository.
const FILES: usize = 5_000;
/// Directories they are spread over.
const DIRS: usize = 50;
/// Polls timed after the first sync.
const POLLS: usize = 20;
/// Repetitions of the first sync's parts, each timed alone.
const PART_RUNS: usize = 3;
/// Target: CPU per poll with no new commit.
const TARGET_CPU: Duration = Duration::from_millis(100);

/// A realistic manifest of about 30 lines: ports, env, labels, a health
/// check and constraints, so loading it costs what a real one does.
fn manifest(n: usize) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: app-{n:04}
  labels:
    team: team-{team}
spec:
  instances: 2
  command: \"exec ./server --port $PORT_HTTP --admin $PORT_ADMIN\"
  resources: {{cpus: 0.1, mem: 64}}
  ports:
    - name: http
    - name: admin
  env:
    LOG_LEVEL: info
    REGION: eu-west-1
    APP_INDEX: \"{n}\"
  healthCheck:
    http: {{port: http, path: /healthz}}
    periodSeconds: 10
  placement:
    constraints:
      - {{field: hostname, operator: UNIQUE}}
  killGracePeriodSeconds: 5
",
        team = n % DIRS
    )
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git (is it installed?)");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare repository holding one commit of [`FILES`] manifests; returns
/// its `file://` URL.
fn build_repo(root: &Path) -> String {
    let bare = root.join("remote.git");
    let work = root.join("work");
    for d in 0..DIRS {
        std::fs::create_dir_all(work.join(format!("team-{d:02}"))).expect("create a manifest directory");
    }
    for n in 0..FILES {
        let path = work
            .join(format!("team-{:02}", n % DIRS))
            .join(format!("app-{n:04}.yaml"));
        std::fs::write(path, manifest(n)).expect("write a manifest");
    }
    let bare_arg = bare.to_str().expect("temporary path is UTF-8");
    git(root, &["init", "-q", "--bare", "-b", "main", bare_arg]);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "5,000 apps"]);
    git(&work, &["push", "-q", bare_arg, "HEAD:main"]);
    format!("file://{}", bare.display())
}

/// User + system CPU of this process and of its waited-for children.
fn cpu_now() -> Duration {
    fn of(who: libc::c_int) -> Duration {
        // SAFETY: getrusage only writes the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(who, &mut usage) };
        assert_eq!(rc, 0, "getrusage failed");
        let tv = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
        };
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }
    of(libc::RUSAGE_SELF) + of(libc::RUSAGE_CHILDREN)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn git_source(url: &str, data: &Path, store: Store) -> GitSource {
    let name = sextant_controller::source::git_source_name(url);
    let config = GitConfig {
        url: url.to_string(),
        branch: "main".into(),
        path: None,
        interval: Duration::from_secs(30),
        auth: GitAuth::default(),
    };
    GitSource::new(config, data, store, Configured::new([name]), Rules::default())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("git_poll: a benchmark; run it with `cargo bench -p sextant-controller --bench git_poll`");
        return;
    }
    println!(
        "git poll: {FILES} manifests in {DIRS} directories; load average at start: {}",
        loadavg()
    );
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let built = Instant::now();
    let url = build_repo(dir.path());
    println!("repository built in {} (untimed)", ms(built.elapsed()));

    let store = Store::open(dir.path().join("journal")).expect("open the journal");
    let source = git_source(&url, &dir.path().join("data"), store.clone());

    let (cpu0, wall0) = (cpu_now(), Instant::now());
    let first = source.sync_once().expect("first sync: the journal failed");
    let (first_wall, first_cpu) = (wall0.elapsed(), cpu_now() - cpu0);
    match &first {
        Attempt::Synced { report, .. } => {
            assert_eq!(
                report.outcome.added.len(),
                FILES,
                "the first sync did not add every app: {report:?}"
            );
            assert_eq!(report.problems, 0, "the first sync found problems: {report:?}");
        }
        other => panic!("the first sync did not sync: {other:?}"),
    }
    println!(
        "first sync (fetch + checkout + load + plan + journal of {FILES} apps): wall {}, CPU {}",
        ms(first_wall),
        ms(first_cpu)
    );

    let mut cpu = Vec::with_capacity(POLLS);
    let mut wall = Vec::with_capacity(POLLS);
    for i in 0..POLLS {
        let (c0, w0) = (cpu_now(), Instant::now());
        let attempt = source.sync_once().expect("poll: the journal failed");
        wall.push(w0.elapsed());
        cpu.push(cpu_now() - c0);
        assert!(
            matches!(attempt, Attempt::Unchanged(_)),
            "poll {i} with no new commit did not answer Unchanged: {attempt:?}"
        );
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / u32::try_from(v.len()).unwrap_or(1);
    let max = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    println!(
        "poll with no new commit, {POLLS} polls: CPU mean {} max {}; wall mean {} max {}",
        ms(mean(&cpu)),
        ms(max(&cpu)),
        ms(mean(&wall)),
        ms(max(&wall))
    );
    println!(
        "   per poll CPU: {}",
        cpu.iter()
            .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let ok = mean(&cpu) <= TARGET_CPU && max(&cpu) <= TARGET_CPU;
    println!(
        "   target CPU <= {} per poll: {}",
        ms(TARGET_CPU),
        if ok { "met" } else { "MISSED" }
    );

    // The first sync's parts, again, each timed alone, [`PART_RUNS`] times
    // (medians): a fresh mirror's fetch and checkout, `load_tree` of the
    // checkout, and the sync of that tree into a fresh journal (load,
    // plan, journal write, the source's record).
    let mut parts: [Vec<Duration>; 4] = Default::default();
    for k in 0..PART_RUNS {
        let mirror = Mirror::new(
            url.clone(),
            "main",
            dir.path().join(format!("mirror-{k}")),
            GitAuth::default(),
        );
        let t = Instant::now();
        let sha = mirror
            .fetch(Duration::from_secs(120))
            .expect("fetch into a fresh mirror");
        parts[0].push(t.elapsed());
        let t = Instant::now();
        let current = mirror.checkout(&sha).expect("check out into a fresh mirror");
        parts[1].push(t.elapsed());
        let t = Instant::now();
        let files = sextant_api::load::load_tree(&current).expect("load the checkout");
        parts[2].push(t.elapsed());
        assert_eq!(files.len(), FILES, "the checkout does not hold every manifest");
        drop(files);
        let info = mirror.commit_info(&sha).expect("read the commit");
        let syncer = Syncer {
            store: Store::open(dir.path().join(format!("journal-{k}"))).expect("open a fresh journal"),
            name: sextant_controller::source::git_source_name(&url),
            about: Default::default(),
            rules: Rules::default(),
            configured: Configured::new([sextant_controller::source::git_source_name(&url)]),
            metrics: Default::default(),
        };
        let t = Instant::now();
        let report = syncer.sync_tree(&current, Some(&info)).expect("sync the checkout");
        parts[3].push(t.elapsed());
        assert_eq!(
            report.outcome.added.len(),
            FILES,
            "the tree's sync did not add every app"
        );
    }
    let [fetch, checkout, load, sync] = parts.map(|mut v| {
        v.sort();
        v[v.len() / 2]
    });
    println!(
        "   the first sync's parts, each timed alone (median of {PART_RUNS}): fetch {}, checkout {}; sync of the tree {} = load_tree {} + plan and journal {}",
        ms(fetch),
        ms(checkout),
        ms(sync),
        ms(load),
        ms(sync.saturating_sub(load))
    );
    println!("load average at the end: {}", loadavg());
}
