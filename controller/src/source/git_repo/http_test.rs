//! Tests of the mirror over real smart HTTP: a tiny std::net HTTP/1.1 server
//! that demands Basic auth (401 with `WWW-Authenticate` otherwise) and runs
//! `git http-backend` as a CGI program, so the credentials file is proven
//! against git's own client and server, not against our reading of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::tests::Fixture;
use super::{GitAuth, Mirror};

const T: Duration = Duration::from_secs(30);

/// Serves the repositories under a directory to clients that send the
/// expected `user:password`.
struct GitHttpServer {
    port: u16,
    expected: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl GitHttpServer {
    fn start(root: &Path, user: &str, password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let expected = Arc::new(Mutex::new(String::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let server = Self { port, expected, stop };
        server.expect(user, password);
        let (root, expected, stop) = (root.to_path_buf(), server.expected.clone(), server.stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let wanted = expected.lock().expect("lock").clone();
                // A broken request only fails the test's fetch, which says so.
                let _ = serve(stream, &root, &wanted);
            }
        });
        server
    }

    /// Changes the credentials accepted from now on (a rotated token).
    fn expect(&self, user: &str, password: &str) {
        *self.expected.lock().expect("lock") = format!("Basic {}", BASE64.encode(format!("{user}:{password}")));
    }

    fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Answers one request and closes the connection (`Connection: close`
/// keeps the server free of keep-alive bookkeeping; curl reconnects).
fn serve(stream: TcpStream, root: &Path, wanted: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if header("authorization") != Some(wanted) {
        let body = "authentication required\n";
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return stream.flush();
    }
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let len = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or(""))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "test")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(encoding) = header("content-encoding") {
        cgi.env("HTTP_CONTENT_ENCODING", encoding);
    }
    if let Some(protocol) = header("git-protocol") {
        cgi.env("GIT_PROTOCOL", protocol);
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    // Written from a thread: the backend may answer before it has read all.
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let mut output = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut output)?;
    let _ = writer.join();
    child.wait()?;

    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| output.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, sep)) => (String::from_utf8_lossy(&output[..i]).into_owned(), &output[i + sep..]),
        None => (String::new(), &output[..]),
    };
    let mut status = "200 OK".to_owned();
    let mut response = String::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => status = value.trim().to_owned(),
            Some(_) => response.push_str(&format!("{}\r\n", line.trim_end())),
            None => {}
        }
    }
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn http_mirror(fx: &Fixture, url: &str, credentials: Option<&str>) -> (Mirror, PathBuf) {
    let file = fx.tmp.path().join("token");
    if let Some(text) = credentials {
        std::fs::write(&file, text).expect("write credentials");
    }
    let auth = GitAuth {
        credentials_file: credentials.map(|_| file.clone()),
        ssh_key: None,
    };
    (Mirror::new(url, "main", fx.tmp.path().join("mirror"), auth), file)
}

#[test]
fn token_from_the_credentials_file_authenticates_and_rotation_is_picked_up() {
    let fx = Fixture::new();
    let first = fx.commit(&[("a.yaml", "one\n")], "first");
    let server = GitHttpServer::start(fx.tmp.path(), "x-access-token", "s3cret-token");
    let (mirror, file) = http_mirror(&fx, &server.url("remote.git"), Some("s3cret-token\n"));
    assert_eq!(mirror.fetch(T).expect("fetch"), first);
    let current = mirror.checkout(&first).expect("checkout");
    assert_eq!(std::fs::read_to_string(current.join("a.yaml")).expect("read"), "one\n");

    // The token is rotated: the server takes only the new one, the file
    // holds it in USER:TOKEN form now, and the next fetch reads it.
    let second = fx.commit(&[("a.yaml", "two\n")], "second");
    server.expect("bob", "rotated-token");
    std::fs::write(&file, "bob:rotated-token\n").expect("rotate");
    assert_eq!(mirror.fetch(T).expect("fetch after rotation"), second);
    // git-credential-store lines are matched by host and port.
    let store = format!(
        "https://bob:wrong@127.0.0.1:{port}\nhttp://bob:rotated%2Dtoken@127.0.0.1:{port}\n",
        port = server.port
    );
    std::fs::write(&file, &store).expect("store lines");
    assert_eq!(mirror.fetch(T).expect("fetch with store lines"), second);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read back"),
        store,
        "the file is never rewritten"
    );
}

#[test]
fn wrong_or_missing_token_is_an_auth_error_without_the_token() {
    let fx = Fixture::new();
    fx.commit(&[("a.yaml", "one\n")], "first");
    let server = GitHttpServer::start(fx.tmp.path(), "x-access-token", "right-token");
    let url = server.url("remote.git");

    let (mirror, _) = http_mirror(&fx, &url, Some("wrong-token\n"));
    let err = mirror.fetch(T).expect_err("wrong token");
    assert_eq!(err.category(), "GitAuth", "{err}");
    let text = err.to_string();
    assert!(!text.contains("wrong-token"), "{text}");
    assert!(!text.contains(&BASE64.encode("x-access-token:wrong-token")), "{text}");

    let (mirror, _) = http_mirror(&fx, &url, None);
    let err = mirror.fetch(T).expect_err("no token");
    assert_eq!(err.category(), "GitAuth", "{err}");
    assert!(err.to_string().contains("could not read Username"), "{err}");
}
