//! The scheduler client against a master that answers with raw bytes, as
//! captured from Mesos 1.11 (mesos-wire-samples.md): what it must make of a
//! silent stream, a refused subscription and a closed stream.

use std::time::{Duration, Instant};

use mesos::types::FrameworkInfo;
use mesos::{Client, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SUBSCRIBED: &str =
    r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"F-0000"},"heartbeat_interval_seconds":0.1}}"#;

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "test".into(),
        ..FrameworkInfo::default()
    }
}

/// One HTTP chunk holding one RecordIO record, as Mesos frames them.
fn chunk(payload: &str) -> String {
    let record = format!("{}\n{payload}", payload.len());
    format!("{:x}\r\n{record}\r\n", record.len())
}

/// Serves one SUBSCRIBE: reads the request, answers 200 with the captured
/// headers, writes `records` as chunks, then ends the stream or keeps it open
/// without a byte.
async fn master(records: Vec<&'static str>, end_stream: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        read_request(&mut socket).await;
        let mut response = String::from(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nMesos-Stream-Id: 1069924e-3309-4f7d-9b46-113cf86e7c46\r\nContent-Type: application/json\r\n\r\n",
        );
        for record in records {
            response.push_str(&chunk(record));
        }
        if end_stream {
            response.push_str("0\r\n\r\n");
        }
        socket.write_all(response.as_bytes()).await.expect("write");
        // Hold the connection open (silently) until the client goes away.
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest).await;
    });
    format!("http://{addr}")
}

async fn read_request(socket: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Headers, then the body by Content-Length.
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.expect("read");
        assert!(n > 0, "client closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    let head_len = text.find("\r\n\r\n").expect("head") + 4;
    let length: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().expect("length"))
        })
        .unwrap_or(0);
    while seen.len() < head_len + length {
        let n = socket.read(&mut buf).await.expect("read");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// A half-open stream is only caught by heartbeat monitoring (brief §6.12):
/// after SUBSCRIBED with a 0.1 s interval, silence must end the stream
/// within five missed heartbeats.
#[tokio::test]
async fn a_silent_master_is_detected_by_missed_heartbeats() {
    let url = master(vec![SUBSCRIBED, r#"{"type":"HEARTBEAT"}"#], false).await;
    let mut subscription = Client::new(&url)
        .expect("client")
        .subscribe(framework())
        .await
        .expect("subscribed");
    assert_eq!(subscription.subscribed.framework_id.value, "F-0000");
    let heartbeat = subscription.events.next().await.expect("the heartbeat");
    assert_eq!(heartbeat.kind, mesos::types::EventType::Heartbeat);
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), subscription.events.next())
        .await
        .expect("detected well before 10 s")
        .expect_err("silence is an error");
    assert!(matches!(err, ClientError::HeartbeatTimeout(_)), "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "not before ~5 intervals"
    );
}

/// A refused subscription is still an HTTP 200: the first record is ERROR.
#[tokio::test]
async fn an_error_record_refuses_the_subscription() {
    let url = master(
        vec![r#"{"type":"ERROR","error":{"message":"Framework has been removed"}}"#],
        true,
    )
    .await;
    let err = Client::new(&url)
        .expect("client")
        .subscribe(framework())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&err, ClientError::SubscribeRefused(m) if m == "Framework has been removed"),
        "{err}"
    );
}

/// The master closing the stream (teardown, failover: `0\r\n\r\n`) ends it.
#[tokio::test]
async fn a_closed_stream_ends_the_subscription() {
    let url = master(vec![SUBSCRIBED], true).await;
    let mut subscription = Client::new(&url)
        .expect("client")
        .subscribe(framework())
        .await
        .expect("subscribed");
    let err = subscription.events.next().await.expect_err("ended");
    assert!(matches!(err, ClientError::StreamEnded), "{err}");
}
