//! Request bodies on a master shared with strangers: each endpoint has a
//! limit, a body over it gets `413` naming the limit before it is read, and
//! a body within it is parsed without a JSON DOM, so that a request costs
//! the master a small multiple of its size and the memory comes back.
//!
//! The master runs in this process: its memory is this process's `VmRSS`.
//! The tests in this file run one after the other (one `#[tokio::test]`)
//! so that they do not disturb each other's measurements.

mod common;

use std::net::SocketAddr;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

const MB: u64 = 1024 * 1024;

/// Sends `head` and then `body` `repeat` times (in the background: the
/// master may answer before reading it all; repeated, so that the client's
/// own memory does not count) and returns the status line and the
/// response's text.
async fn send(addr: SocketAddr, head: String, body: Vec<u8>, repeat: usize) -> (String, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        if write.write_all(head.as_bytes()).await.is_ok() {
            'all: for _ in 0..repeat {
                for piece in body.chunks(64 * 1024) {
                    if write.write_all(piece).await.is_err() {
                        break 'all;
                    }
                }
            }
        }
        write
    });
    let mut response = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::time::timeout(WAIT, read.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length: Option<usize> = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok());
            if length.is_some_and(|len| rest.len() >= len) {
                break;
            }
        }
    }
    writer.abort();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

fn head(addr: SocketAddr, length: usize, extra: &str) -> String {
    format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    )
}

/// Guards: a 60 MB body is refused with `413` before it is read, whether
/// or not it carries a current stream id, and the master's memory stays
/// where it was (it reached 3.7 GB before the limit); a chunked body is cut
/// at the limit; a body at the limit is parsed at a small multiple of its
/// size; the other endpoints have their own, smaller limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_and_cost_a_small_multiple_of_their_size() {
    let master = start().await;
    let addr = master.addr();
    let mut stream = RawStream::subscribe(addr, &subscribe_body("big", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let framework_id = stream.framework_id().await;

    // 60 MB without a stream id: 256 KiB is all a stranger gets.
    let before = rss();
    let piece = vec![b' '; MB as usize];
    let sixty = 60 * MB as usize;
    let (status, text) = send(addr, head(addr, sixty, ""), piece.clone(), 60).await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(text.contains("262144 bytes"), "{text}");
    // With a current stream id, the limit is 4 MiB.
    let (status, text) = send(
        addr,
        head(addr, sixty, &format!("Mesos-Stream-Id: {stream_id}\r\n")),
        piece,
        60,
    )
    .await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(text.contains("4194304 bytes"), "{text}");
    let grown = rss().saturating_sub(before);
    println!("two refused 60 MB bodies grew the master by {} MB", grown / MB);
    assert!(
        grown < 20 * MB,
        "two refused 60 MB bodies grew the master by {} MB",
        grown / MB
    );

    // Chunked, no declared length: cut as it passes the limit.
    let chunked_head = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut chunked = Vec::new();
    for _ in 0..64 {
        chunked.extend_from_slice(format!("{:x}\r\n", 16 * 1024).as_bytes());
        chunked.extend_from_slice(&[b' '; 16 * 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = send(addr, chunked_head, chunked, 1).await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(text.contains("262144 bytes"), "{text}");

    // Just under 4 MiB of small JSON values (the costliest shape for a
    // DOM: a `serde_json::Value` per 2 bytes): a DECLINE of 220,000 offer
    // ids, parsed and answered, costs well under 100 MB.
    let ids: Vec<String> = (0..220_000).map(|i| format!(r#"{{"value":"{i:x}"}}"#)).collect();
    let call = format!(
        r#"{{"type":"DECLINE","framework_id":{{"value":"{framework_id}"}},"decline":{{"offer_ids":[{}]}}}}"#,
        ids.join(",")
    );
    drop(ids);
    assert!(call.len() < 4 * MB as usize, "{} bytes", call.len());
    let before = rss();
    let (status, text) = send(
        addr,
        head(addr, call.len(), &format!("Mesos-Stream-Id: {stream_id}\r\n")),
        call.into_bytes(),
        1,
    )
    .await;
    assert!(status.contains(" 202 "), "{status}: {text}");
    let grown = rss().saturating_sub(before);
    println!("a 4 MiB DECLINE grew the master by {} MB", grown / MB);

    assert!(grown < 100 * MB, "a 4 MiB call grew the master by {} MB", grown / MB);

    // Other endpoints: 64 KiB.
    let teardown_head = format!(
        "POST /master/teardown HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        MB
    );
    let (status, text) = send(addr, teardown_head, vec![b'a'; MB as usize], 1).await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(text.contains("65536 bytes"), "{text}");
    stream.close().await;
}
