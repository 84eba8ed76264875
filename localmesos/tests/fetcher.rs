//! The Mesos fetcher in localmesos: a task's `CommandInfo.uris` are in its
//! sandbox before it runs (http from a local server, `file://` and plain
//! paths), executables are made executable, archives are extracted,
//! `output_file` names the copy, and a failed fetch (a 404, an archive
//! that would escape the sandbox, a bad `output_file`) ends the task
//! TASK_FAILED with a message naming the URI.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use common::*;
use mesos::types::*;

/// Serves `files` (path → body) on a loopback port; anything else is 404.
async fn serve(files: Vec<(&str, Vec<u8>)>) -> SocketAddr {
    let files: Arc<HashMap<String, Vec<u8>>> =
        Arc::new(files.into_iter().map(|(path, body)| (path.to_string(), body)).collect());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let files = Arc::clone(&files);
        async move {
            match files.get(uri.path()) {
                Some(body) => (axum::http::StatusCode::OK, body.clone()),
                None => (axum::http::StatusCode::NOT_FOUND, b"not found".to_vec()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn uri(value: &str) -> CommandUri {
    CommandUri {
        value: value.to_string(),
        executable: None,
        extract: None,
        cache: None,
        output_file: None,
    }
}

fn task_with(id: &str, agent: &AgentId, command: &str, uris: Vec<CommandUri>) -> TaskInfo {
    let mut task = shell_task(id, agent, command);
    if let Some(info) = task.command.as_mut() {
        info.uris = uris;
    }
    task
}

/// Launches the tasks on one offer of a fresh master; returns each task's
/// terminal status, and the master (for its sandboxes).
async fn run(tasks: impl FnOnce(&AgentId) -> Vec<TaskInfo>) -> (BTreeMap<String, TaskStatus>, TestMaster) {
    let master = start().await;
    let sub = subscribe(&master, framework_info("fetcher")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let mut count = 0;
    launch(&caller, &mut events, |agent| {
        let tasks = tasks(agent);
        count = tasks.len();
        tasks
    })
    .await;
    let mut terminal = BTreeMap::new();
    while terminal.len() < count {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state.is_terminal() {
            terminal.insert(status.task_id.value.clone(), status);
        }
    }
    (terminal, master)
}

fn assert_finished(terminal: &BTreeMap<String, TaskStatus>, id: &str) {
    let status = &terminal[id];
    assert_eq!(status.state, TaskState::TaskFinished, "{id}: {status:?}");
}

/// The fetch failure a task ended with; asserts Mesos's shape.
fn fetch_failure<'a>(terminal: &'a BTreeMap<String, TaskStatus>, id: &str) -> &'a str {
    let status = &terminal[id];
    assert_eq!(status.state, TaskState::TaskFailed, "{id}: {status:?}");
    assert_eq!(status.reason.as_deref(), Some("REASON_CONTAINER_LAUNCH_FAILED"));
    assert_eq!(status.source, Some(TaskStatusSource::SourceAgent));
    let message = status.message.as_deref().unwrap_or("");
    assert!(
        message.starts_with("Failed to launch container: Failed to fetch all URIs for container '"),
        "{message}"
    );
    message
}

fn tar_gz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, body, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(*mode);
        builder.append_data(&mut header, path, *body).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn plain_tar(path: &str, body: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    builder.append_data(&mut header, path, body).expect("append");
    builder.into_inner().expect("tar")
}

/// `data` compressed by the `xz` program.
fn xz(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("xz")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xz");
    child.stdin.take().expect("stdin").write_all(data).expect("write");
    let output = child.wait_with_output().expect("xz output");
    assert!(output.status.success());
    output.stdout
}

fn zip(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, body, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        writer.start_file(*path, options).expect("start");
        writer.write_all(body).expect("write");
    }
    writer.finish().expect("zip").into_inner()
}

fn symlink_zip(name: &str, target: &str) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .add_symlink(name, target, zip::write::SimpleFileOptions::default())
        .expect("symlink");
    writer.finish().expect("zip").into_inner()
}

/// A tar.gz with one entry whose name is written raw (the builder refuses
/// `..`), as a hostile archive would be.
fn hostile_tar_gz(name: &str, body: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    builder.append(&header, body).expect("append");
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn symlink_tar(name: &str, target: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder.append_link(&mut header, name, target).expect("link");
    builder.into_inner().expect("tar")
}

/// An http URI is downloaded into the sandbox under its basename before
/// the task starts (the task reads it); `cache` is a plain fetch.
#[tokio::test]
async fn http_uri_is_in_the_sandbox_before_the_task_runs() {
    let addr = serve(vec![("/files/hello.txt", b"hello from the fetcher".to_vec())]).await;
    let (terminal, master) = run(|agent| {
        let mut cached = uri(&format!("http://{addr}/files/hello.txt"));
        cached.cache = Some(true);
        vec![task_with(
            "reads",
            agent,
            r#"test "$(cat hello.txt)" = "hello from the fetcher""#,
            vec![cached],
        )]
    })
    .await;
    assert_finished(&terminal, "reads");
    master.mesos.shutdown().await;
}

/// `executable` makes the copy mode 0755 and is never extracted, even
/// when its name looks like an archive.
#[tokio::test]
async fn executable_uri_is_run_by_the_task() {
    let script = b"#!/bin/sh\necho ran > ran.txt\n".to_vec();
    let addr = serve(vec![("/tool.sh", script.clone()), ("/setup.tgz", script)]).await;
    let (terminal, master) = run(|agent| {
        let mut tool = uri(&format!("http://{addr}/tool.sh"));
        tool.executable = Some(true);
        let mut setup = uri(&format!("http://{addr}/setup.tgz"));
        setup.executable = Some(true);
        vec![task_with(
            "runs",
            agent,
            r#"./tool.sh && test "$(cat ran.txt)" = ran && ./setup.tgz && test "$(stat -c %a tool.sh)" = 755"#,
            vec![tool, setup],
        )]
    })
    .await;
    assert_finished(&terminal, "runs");
    master.mesos.shutdown().await;
}

/// `.tar.gz`, `.tar.bz2`, `.tar.xz` and `.zip` archives are unpacked into the
/// sandbox (modes kept), a lone `.gz` is decompressed next to itself, and
/// `extract: false` keeps the archive as it is.
#[tokio::test]
async fn archives_are_extracted_into_the_sandbox() {
    let targz = tar_gz(&[
        ("app/data.txt", b"from tar", 0o644),
        ("app/run.sh", b"#!/bin/sh\nexit 0\n", 0o755),
    ]);
    let zipped = zip(&[
        ("z/data.txt", b"from zip", 0o644),
        ("z/run.sh", b"#!/bin/sh\nexit 0\n", 0o755),
    ]);
    let mut tar_bz2 = Vec::new();
    {
        let tar = {
            let mut builder = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_gnu();
            header.set_size(7);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, "b/bz.txt", &b"from bz"[..])
                .expect("append");
            builder.into_inner().expect("tar")
        };
        let mut encoder = bzip2::write::BzEncoder::new(&mut tar_bz2, bzip2::Compression::fast());
        encoder.write_all(&tar).expect("bzip2");
        encoder.finish().expect("bzip2");
    }
    let tar_xz = xz(&plain_tar("x/xz.txt", b"from xz"));
    let gz = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"from gz").expect("gzip");
        encoder.finish().expect("gzip")
    };
    let addr = serve(vec![
        ("/app.tar.gz", targz.clone()),
        ("/x.tar.xz", tar_xz),
        ("/app.conf.gz", gz),
        ("/z.zip", zipped),
        ("/b.tar.bz2", tar_bz2),
        ("/kept.tgz", targz),
    ])
    .await;
    let (terminal, master) = run(|agent| {
        let mut kept = uri(&format!("http://{addr}/kept.tgz"));
        kept.extract = Some(false);
        vec![task_with(
            "unpacks",
            agent,
            r#"test "$(cat app/data.txt)" = "from tar" && ./app/run.sh && test "$(cat z/data.txt)" = "from zip" && ./z/run.sh && test "$(cat b/bz.txt)" = "from bz" && test "$(cat x/xz.txt)" = "from xz" && test "$(cat app.conf)" = "from gz" && test -f kept.tgz && test -f app.tar.gz"#,
            vec![
                uri(&format!("http://{addr}/app.tar.gz")),
                uri(&format!("http://{addr}/z.zip")),
                uri(&format!("http://{addr}/b.tar.bz2")),
                uri(&format!("http://{addr}/x.tar.xz")),
                uri(&format!("http://{addr}/app.conf.gz")),
                kept,
            ],
        )]
    })
    .await;
    assert_finished(&terminal, "unpacks");
    master.mesos.shutdown().await;
}

/// `output_file` names the copy (in a subdirectory, created); one that
/// leaves the sandbox fails the task.
#[tokio::test]
async fn output_file_names_the_copy() {
    let addr = serve(vec![("/config", b"port=1".to_vec())]).await;
    let (terminal, master) = run(|agent| {
        let mut named = uri(&format!("http://{addr}/config"));
        named.output_file = Some("conf/app.conf".to_string());
        let mut escaping = uri(&format!("http://{addr}/config"));
        escaping.output_file = Some("../app.conf".to_string());
        vec![
            task_with("named", agent, r#"test "$(cat conf/app.conf)" = port=1"#, vec![named]),
            task_with("escaping", agent, "exit 0", vec![escaping]),
        ]
    })
    .await;
    assert_finished(&terminal, "named");
    let message = fetch_failure(&terminal, "escaping");
    assert!(
        message.contains(&format!(
            "cannot fetch 'http://{addr}/config': output_file '../app.conf' must be a relative path"
        )),
        "{message}"
    );
    let sandbox = sandbox_of(&master, "escaping");
    assert!(!sandbox.parent().expect("runs").join("app.conf").exists());
    master.mesos.shutdown().await;
}

/// A URI the server does not have (404) fails the task before it runs,
/// naming the URI and the status; the sandbox's `stderr` says the same.
#[tokio::test]
async fn missing_uri_fails_the_task() {
    let addr = serve(vec![]).await;
    let (terminal, master) = run(|agent| {
        vec![task_with(
            "missing",
            agent,
            "touch ran",
            vec![uri(&format!("http://{addr}/nowhere/app.tgz"))],
        )]
    })
    .await;
    let message = fetch_failure(&terminal, "missing");
    assert!(
        message.ends_with(&format!(
            "cannot fetch 'http://{addr}/nowhere/app.tgz': received HTTP status 404 Not Found"
        )),
        "{message}"
    );
    let sandbox = sandbox_of(&master, "missing");
    assert!(!sandbox.join("ran").exists(), "the task never ran");
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).expect("stderr");
    assert!(stderr.contains("received HTTP status 404"), "{stderr}");
    master.mesos.shutdown().await;
}

/// An archive entry with `..`, or a link pointing out of the sandbox,
/// fails the task, and nothing is written outside the sandbox.
#[tokio::test]
async fn archive_escaping_the_sandbox_fails_the_task() {
    let addr = serve(vec![
        ("/evil.tar.gz", hostile_tar_gz("../escape", b"gotcha")),
        ("/link.tar", symlink_tar("etc", "/etc")),
        ("/up.tar", symlink_tar("up", "../..")),
        ("/link.zip", symlink_zip("etc", "/etc")),
    ])
    .await;
    let (terminal, master) = run(|agent| {
        ["evil.tar.gz", "link.tar", "up.tar", "link.zip"]
            .iter()
            .map(|name| task_with(name, agent, "exit 0", vec![uri(&format!("http://{addr}/{name}"))]))
            .collect()
    })
    .await;
    let evil = fetch_failure(&terminal, "evil.tar.gz");
    assert!(
        evil.ends_with("archive entry '../escape' would be written outside the sandbox"),
        "{evil}"
    );
    let link = fetch_failure(&terminal, "link.tar");
    assert!(
        link.ends_with("archive entry 'etc' is a link to '/etc', which leaves the sandbox"),
        "{link}"
    );
    let zip_link = fetch_failure(&terminal, "link.zip");
    assert!(
        zip_link.ends_with("archive entry 'etc' is a link to '/etc', which leaves the sandbox"),
        "{zip_link}"
    );
    let up = fetch_failure(&terminal, "up.tar");
    assert!(up.contains("is a link to '../..'"), "{up}");
    let sandbox = sandbox_of(&master, "evil.tar.gz");
    let runs = sandbox.parent().expect("runs");
    assert!(!runs.join("escape").exists(), "nothing written outside the sandbox");
    assert!(!sandbox.join("escape").exists());
    assert!(!sandbox_of(&master, "link.tar").join("etc").exists());
    master.mesos.shutdown().await;
}

/// A `file://` URI and a plain absolute path are copied into the sandbox;
/// a missing local file fails the task naming it.
#[tokio::test]
async fn local_files_are_copied() {
    let source = tempfile::tempdir().expect("tempdir");
    let path = source.path().join("local.txt");
    std::fs::write(&path, "local bytes").expect("write");
    let plain = source.path().join("plain.txt");
    std::fs::write(&plain, "plain bytes").expect("write");
    let file_uri = format!("file://{}", path.display());
    let plain_uri = plain.display().to_string();
    let missing = source.path().join("missing.txt").display().to_string();
    let (terminal, master) = run(|agent| {
        vec![
            task_with(
                "copies",
                agent,
                r#"test "$(cat local.txt)" = "local bytes" && test "$(cat plain.txt)" = "plain bytes""#,
                vec![uri(&file_uri), uri(&plain_uri)],
            ),
            task_with("missing", agent, "exit 0", vec![uri(&missing)]),
        ]
    })
    .await;
    assert_finished(&terminal, "copies");
    let message = fetch_failure(&terminal, "missing");
    assert!(
        message.contains(&format!("cannot fetch '{missing}': cannot read {missing}:")),
        "{message}"
    );
    assert!(Path::new(&path).exists(), "the source is left alone");
    master.mesos.shutdown().await;
}

/// A server that answers with headers promising a 100-byte body, then
/// never sends it.
async fn stalling_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                    .await;
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            });
        }
    });
    addr
}

/// Each URI is bounded: a download past `max_size`, an archive whose
/// contents exceed it, and a fetch past `timeout` fail the task.
#[tokio::test]
async fn fetches_are_bounded_in_size_and_time() {
    let zeros = tar_gz(&[("zeros", &[0u8; 4000], 0o644)]);
    assert!(zeros.len() < 1000, "compresses well: {}", zeros.len());
    let addr = serve(vec![("/big.bin", vec![7u8; 2000]), ("/bomb.tar.gz", zeros)]).await;
    let stall = stalling_server().await;
    let master = start_with(|config| {
        config.fetcher.max_size = 1000;
        config.fetcher.timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let sub = subscribe(&master, framework_info("fetcher-bounds")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![
            task_with("big", agent, "exit 0", vec![uri(&format!("http://{addr}/big.bin"))]),
            task_with(
                "bomb",
                agent,
                "exit 0",
                vec![uri(&format!("http://{addr}/bomb.tar.gz"))],
            ),
            task_with("slow", agent, "exit 0", vec![uri(&format!("http://{stall}/slow.bin"))]),
        ]
    })
    .await;
    let mut terminal = BTreeMap::new();
    while terminal.len() < 3 {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state.is_terminal() {
            terminal.insert(status.task_id.value.clone(), status);
        }
    }
    let big = fetch_failure(&terminal, "big");
    assert!(
        big.ends_with("it is larger than the fetcher's limit of 1000 bytes"),
        "{big}"
    );
    assert!(
        !sandbox_of(&master, "big").join("big.bin").exists(),
        "a partial download is removed"
    );
    let bomb = fetch_failure(&terminal, "bomb");
    assert!(
        bomb.ends_with("the archive holds more than the fetcher's limit of 1000 bytes"),
        "{bomb}"
    );
    let slow = fetch_failure(&terminal, "slow");
    assert!(
        slow.ends_with(&format!("cannot fetch 'http://{stall}/slow.bin': timed out after 0.3s")),
        "{slow}"
    );
    master.mesos.shutdown().await;
}

/// A KILL while the URIs are being fetched stops the fetch: TASK_KILLED
/// from the agent, REASON_TASK_KILLED_DURING_LAUNCH, and the task never
/// runs.
#[tokio::test]
async fn kill_during_the_fetch_kills_the_task() {
    let stall = stalling_server().await;
    let master = start().await;
    let sub = subscribe(&master, framework_info("fetcher-kill")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let offer = launch(&caller, &mut events, |agent| {
        vec![task_with(
            "stuck",
            agent,
            "touch ran",
            vec![uri(&format!("http://{stall}/slow.bin"))],
        )]
    })
    .await;
    // The fetch is under way once its sandbox exists.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !master.dir.path().join("slaves").exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    caller
        .kill(TaskId::new("stuck"), Some(offer.agent_id.clone()), None)
        .await
        .expect("KILL");
    let killed = next_update_acked(&caller, &mut events).await;
    assert_eq!(killed.state, TaskState::TaskKilled, "{killed:?}");
    assert_eq!(killed.source, Some(TaskStatusSource::SourceAgent));
    assert_eq!(killed.reason.as_deref(), Some("REASON_TASK_KILLED_DURING_LAUNCH"));
    assert_eq!(
        killed.message.as_deref(),
        Some("Killed before delivery to the executor")
    );
    assert!(!sandbox_of(&master, "stuck").join("ran").exists());
    master.mesos.shutdown().await;
}

/// An https URI is downloaded with the certificate verified (as the Mesos
/// fetcher does): a self-signed server fails the task, in words.
#[tokio::test]
async fn https_uri_with_an_untrusted_certificate_fails() {
    let port = self_signed_https_server().await;
    let (terminal, master) = run(|agent| {
        vec![task_with(
            "untrusted",
            agent,
            "exit 0",
            vec![uri(&format!("https://127.0.0.1:{port}/app.txt"))],
        )]
    })
    .await;
    let message = fetch_failure(&terminal, "untrusted");
    assert!(
        message.contains(&format!("cannot fetch 'https://127.0.0.1:{port}/app.txt': ")),
        "{message}"
    );
    assert!(
        message.ends_with("TLS handshake failed: invalid peer certificate: UnknownIssuer"),
        "{message}"
    );
    master.mesos.shutdown().await;
}

/// Guards a fetch for a task of another user: under root, what the fetcher
/// put in the sandbox (a file, an extracted directory) belongs to the
/// task's user, who can read and change it, as a Mesos agent gives it.
#[tokio::test]
#[cfg_attr(
    not(runs_as_root),
    ignore = "needs root to switch a task's user (run the tests as root)"
)]
async fn fetched_files_belong_to_the_tasks_user() {
    let archive = tar_gz(&[("dir/inner.txt", b"inside", 0o644)]);
    let addr = serve(vec![("/hello.txt", b"hello".to_vec()), ("/pack.tar.gz", archive)]).await;
    let (terminal, master) = run(|agent| {
        let mut task = task_with(
            "as-nobody",
            agent,
            "test -O hello.txt && test -O dir && test -O dir/inner.txt && echo more >> dir/inner.txt",
            vec![
                uri(&format!("http://{addr}/hello.txt")),
                uri(&format!("http://{addr}/pack.tar.gz")),
            ],
        );
        if let Some(command) = &mut task.command {
            command.user = Some("nobody".to_string());
        }
        vec![task]
    })
    .await;
    assert_finished(&terminal, "as-nobody");
    master.mesos.shutdown().await;
}
