//! Shared helpers for the localmesos integration tests: a master on a free
//! loopback port with short timings, a raw HTTP/1.1 client that sees bytes
//! and chunk boundaries, event helpers on top of `mesos::Client`, and an
//! HTTPS server with a self-signed certificate.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use localmesos::{LocalMesos, LocalMesosConfig};
use mesos::client::{Caller, EventStream};
use mesos::types::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestMaster {
    pub mesos: LocalMesos,
    pub dir: tempfile::TempDir,
}

impl TestMaster {
    pub fn url(&self) -> String {
        self.mesos.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.mesos.addr()
    }
}

pub fn config(dir: &tempfile::TempDir) -> LocalMesosConfig {
    let mut config = LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().to_path_buf());
    config.update_retry_initial = Duration::from_millis(500);
    config.offer_interval = Duration::from_millis(100);
    config
}

pub async fn start() -> TestMaster {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut LocalMesosConfig)) -> TestMaster {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&dir);
    adjust(&mut config);
    let mesos = localmesos::start(config).await.expect("start localmesos");
    TestMaster { mesos, dir }
}

pub fn capabilities(kinds: &[FrameworkCapabilityType]) -> Vec<FrameworkCapability> {
    kinds.iter().map(|k| FrameworkCapability { kind: Some(*k) }).collect()
}

/// The name of the user the tests run as (tasks run as their framework's
/// user, which must exist, and can only be another user under root).
pub fn current_user() -> String {
    // SAFETY: getpwuid's result is read at once, before any other call
    // that could overwrite it.
    unsafe {
        let entry = libc::getpwuid(libc::geteuid());
        assert!(!entry.is_null(), "the current user has a passwd entry");
        std::ffi::CStr::from_ptr((*entry).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// A MULTI_ROLE, PARTITION_AWARE, TASK_KILLING_STATE framework in role `*`,
/// of the current user.
pub fn framework_info(name: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: current_user(),
        name: name.to_string(),
        roles: vec!["*".to_string()],
        capabilities: capabilities(&[
            FrameworkCapabilityType::MultiRole,
            FrameworkCapabilityType::TaskKillingState,
            FrameworkCapabilityType::PartitionAware,
        ]),
        ..FrameworkInfo::default()
    }
}

pub async fn subscribe(master: &TestMaster, info: FrameworkInfo) -> mesos::Subscription {
    let client = mesos::Client::new(&master.url()).expect("client");
    tokio::time::timeout(WAIT, client.subscribe(info))
        .await
        .expect("subscribe in time")
        .expect("subscribed")
}

/// The next event that is not a HEARTBEAT.
pub async fn next_event(events: &mut EventStream) -> Event {
    loop {
        let event = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("an event in time")
            .expect("stream alive");
        if event.kind != EventType::Heartbeat {
            return event;
        }
    }
}

/// The next OFFERS event's offers.
pub async fn next_offers(events: &mut EventStream) -> Vec<Offer> {
    loop {
        let event = next_event(events).await;
        if let Some(offers) = event.offers {
            return offers.offers;
        }
    }
}

/// The next UPDATE's status (offers and other events are skipped).
pub async fn next_update(events: &mut EventStream) -> TaskStatus {
    loop {
        let event = next_event(events).await;
        if let Some(update) = event.update {
            return update.status;
        }
    }
}

/// Acknowledges a reliable update.
pub async fn ack(caller: &Caller, status: &TaskStatus) {
    let uuid = status.uuid.clone().expect("reliable update has a uuid");
    let agent_id = status.agent_id.clone().expect("agent id");
    caller
        .acknowledge(agent_id, status.task_id.clone(), uuid)
        .await
        .expect("ACKNOWLEDGE accepted");
}

/// Next update, acknowledged if it carries a uuid.
pub async fn next_update_acked(caller: &Caller, events: &mut EventStream) -> TaskStatus {
    let status = next_update(events).await;
    if status.uuid.is_some() {
        ack(caller, &status).await;
    }
    status
}

pub fn shell_task(id: &str, agent_id: &AgentId, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.to_string(),
        task_id: TaskId::new(id),
        agent_id: agent_id.clone(),
        resources: vec![Resource::scalar("cpus", 0.1), Resource::scalar("mem", 32.0)],
        command: Some(CommandInfo {
            value: Some(command.to_string()),
            ..CommandInfo::default()
        }),
        labels: None,
        health_check: None,
        kill_policy: None,
        container: None,
    }
}

/// Subscribes, waits for an offer and launches `tasks` on it.
pub async fn launch(caller: &Caller, events: &mut EventStream, tasks: impl FnOnce(&AgentId) -> Vec<TaskInfo>) -> Offer {
    let offer = next_offers(events).await.remove(0);
    caller
        .accept(vec![offer.id.clone()], tasks(&offer.agent_id), 0.0)
        .await
        .expect("ACCEPT accepted");
    offer
}

/// Where a cgroup hierarchy is mounted (`/proc/self/mountinfo`): the
/// cgroup2 one (`controller` none), or the v1 one of `controller`.
pub fn cgroup_mount(controller: Option<&str>) -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let (mount, rest) = line.split_once(" - ")?;
        let mut rest = rest.split(' ');
        let (fstype, options) = (rest.next()?, rest.nth(1).unwrap_or(""));
        let wanted = match controller {
            None => fstype == "cgroup2",
            Some(c) => fstype == "cgroup" && options.split(',').any(|o| o == c),
        };
        wanted.then(|| mount.split(' ').nth(4).map(std::path::PathBuf::from))?
    })
}

/// The directory of `pid`'s cgroup (`/proc/<pid>/cgroup`): in the cgroup2
/// hierarchy (`controller` none), or in the v1 one of `controller`.
pub fn cgroup_dir_of(pid: i32, controller: Option<&str>) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match controller {
            None => id == "0" && controllers.is_empty(),
            Some(c) => controllers.split(',').any(|x| x == c),
        };
        wanted.then_some(path.to_string())
    })?;
    Some(cgroup_mount(controller)?.join(path.trim_start_matches('/')))
}

/// The parent of `pid`, from `/proc/<pid>/stat`.
pub fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    stat.rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|ppid| ppid.parse().ok())
        .expect("ppid")
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// Waits until `pid` is gone (or the timeout passes).
pub async fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !alive(pid)
}

/// Finds the one sandbox of `task_id` under the work directory.
pub fn sandbox_of(master: &TestMaster, task_id: &str) -> std::path::PathBuf {
    fn walk(dir: &std::path::Path, task_id: &str, found: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                let is_run = path.parent().and_then(|p| p.file_name()).is_some_and(|n| n == "runs")
                    && path
                        .parent()
                        .and_then(|p| p.parent())
                        .and_then(|p| p.file_name())
                        .is_some_and(|n| n == task_id);
                if is_run {
                    found.push(path);
                } else {
                    walk(&path, task_id, found);
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(master.dir.path(), task_id, &mut found);
    assert_eq!(found.len(), 1, "exactly one sandbox for {task_id}: {found:?}");
    let path = found.remove(0);
    std::fs::canonicalize(&path).unwrap_or(path)
}

// ------------------------------------------------------------ raw HTTP ---

/// A raw HTTP/1.1 response: status line, headers in wire order, and the
/// rest of the connection's bytes.
pub struct RawResponse {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn status(&self) -> u16 {
        self.status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// Reads a response head from `stream`; returns it and any body bytes
/// already read.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "connection closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let rest = buf[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    (status_line, headers, rest)
}

/// One request on a fresh connection, sent like the captures' client (no
/// `Connection` header); the body is read by its `Content-Length`.
pub async fn raw(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(&request_bytes(method, path, headers, body))
        .await
        .expect("write");
    let (status_line, headers, mut body) = read_head(&mut stream).await;
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("a Content-Length");
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("body in time")
            .expect("read body");
        assert!(n > 0, "connection closed before the body ended");
        body.extend_from_slice(&chunk[..n]);
    }
    RawResponse {
        status_line,
        headers,
        body,
    }
}

/// A POST of a JSON call to the scheduler endpoint.
pub async fn post_call(addr: SocketAddr, extra_headers: &[(&str, &str)], body: &str) -> RawResponse {
    let mut headers = vec![("Content-Type", "application/json"), ("Accept", "application/json")];
    headers.extend_from_slice(extra_headers);
    raw(addr, "POST", "/api/v1/scheduler", &headers, body).await
}

/// A SUBSCRIBE stream read chunk by chunk.
pub struct RawStream {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawStream {
    /// Reads the SUBSCRIBED record and returns the framework id in it.
    pub async fn framework_id(&mut self) -> String {
        let subscribed = self.next_record().await.expect("SUBSCRIBED");
        subscribed["subscribed"]["framework_id"]["value"]
            .as_str()
            .expect("framework id")
            .to_string()
    }

    pub async fn subscribe(addr: SocketAddr, body: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut request = format!(
            "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        request.push_str(body);
        stream.write_all(request.as_bytes()).await.expect("write");
        let (status_line, headers, buf) = read_head(&mut stream).await;
        Self {
            status_line,
            headers,
            stream,
            buf,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("stream data in time")
            .expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The next HTTP chunk's data; `None` for the terminating `0` chunk.
    pub async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let line_end = loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                break pos;
            }
            assert!(self.fill().await, "stream closed mid-chunk");
        };
        let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.trim(), 16).expect("hex chunk size");
        while self.buf.len() < line_end + 2 + size + 2 {
            assert!(self.fill().await, "stream closed mid-chunk");
        }
        let data = self.buf[line_end + 2..line_end + 2 + size].to_vec();
        assert_eq!(
            &self.buf[line_end + 2 + size..line_end + 4 + size],
            b"\r\n",
            "chunk ends with CRLF"
        );
        self.buf.drain(..line_end + 4 + size);
        if size == 0 { None } else { Some(data) }
    }

    /// The next chunk, which must be exactly one RecordIO record; returns
    /// its JSON payload.
    pub async fn next_record(&mut self) -> Option<Value> {
        let text = self.next_record_text().await?;
        Some(serde_json::from_str(&text).expect("JSON event"))
    }

    /// Like `next_record`, but the payload as sent (key order kept).
    pub async fn next_record_text(&mut self) -> Option<String> {
        let data = self.next_chunk().await?;
        let newline = data.iter().position(|&b| b == b'\n').expect("length line");
        let len: usize = std::str::from_utf8(&data[..newline])
            .expect("ascii")
            .parse()
            .expect("decimal length");
        let payload = &data[newline + 1..];
        assert_eq!(payload.len(), len, "one chunk holds exactly one record");
        Some(String::from_utf8(payload.to_vec()).expect("UTF-8 event"))
    }

    /// The next record that is not a HEARTBEAT.
    pub async fn next_non_heartbeat(&mut self) -> Option<Value> {
        loop {
            let record = self.next_record().await?;
            if record["type"] != "HEARTBEAT" {
                return Some(record);
            }
        }
    }

    /// Whether the peer closed the connection (after the last chunk).
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// Closes the client side.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }
}

pub fn subscribe_body(name: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"SUBSCRIBE","subscribe":{{"framework_info":{{"user":"{user}","name":"{name}","roles":["*"],"capabilities":[{{"type":"MULTI_ROLE"}},{{"type":"TASK_KILLING_STATE"}},{{"type":"PARTITION_AWARE"}}]{extra}}}}}}}"#,
        user = current_user()
    )
}

pub fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Serves HTTPS on a loopback port with a fresh self-signed certificate:
/// every request gets `200 OK`.
pub async fn self_signed_https_server() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}
