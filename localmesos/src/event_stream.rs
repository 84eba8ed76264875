//! A subscriber's event stream: the bounded queue between the master and
//! the HTTP body of a SUBSCRIBE response.
//!
//! Sending never blocks the master. Past [`StreamLimits::max_events`]
//! records or [`StreamLimits::max_bytes`] bytes queued that its client has
//! not read, a subscriber that has read nothing for [`STALLED_AFTER`] is
//! cut off, as a real master closes a connection it cannot write to; one
//! that reads, only slower than a burst comes (a framework taking the
//! updates of 100,000 tasks starting), may go on up to
//! [`HARD_LIMIT_FACTOR`] times those limits, and is cut off past that. Cut
//! off: a log line names the framework, the connection is closed (see
//! `http::CloseConnection`), the queued records are freed, and the body's
//! guard tells the master the framework disconnected. A slow reader costs
//! bounded memory, never more.
//!
//! Why not cut off at the limits alone: a reader that keeps up on average
//! but not with a burst was cut off, subscribed again, was sent every
//! unacknowledged update at once, was cut off again, and never recovered
//! (100,000 simulated tasks, `benches/scale.rs`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use mesos::types::FrameworkId;
use tokio::sync::mpsc;
use tracing::warn;

use crate::http::CloseConnection;
use crate::master::Master;

/// How much one subscriber may leave unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    pub max_events: usize,
    pub max_bytes: usize,
}

impl Default for StreamLimits {
    /// 100,000 events or 32 MiB: a burst of 10,000 tasks starting (two
    /// updates each, about 500 bytes per update) fits three times over.
    fn default() -> Self {
        Self {
            max_events: 100_000,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Over the limits, a subscriber that read nothing for this long is cut off.
pub const STALLED_AFTER: Duration = Duration::from_secs(10);
/// A subscriber that reads is cut off past this many times the limits.
pub const HARD_LIMIT_FACTOR: usize = 8;

/// What the queue and the body share.
pub struct Shared {
    queued_bytes: AtomicUsize,
    cut: AtomicBool,
    /// When the stream was made, the clock of `last_read_ms`.
    opened: Instant,
    /// Milliseconds after `opened` of the client's last read (0: none yet).
    last_read_ms: AtomicU64,
}

impl Shared {
    /// Whether the client has read nothing for `STALLED_AFTER`.
    fn stalled(&self) -> bool {
        let since_open = self.opened.elapsed();
        let last = Duration::from_millis(self.last_read_ms.load(Ordering::Relaxed));
        since_open.saturating_sub(last) >= STALLED_AFTER
    }
}

/// The master's end of a subscriber's stream.
pub struct EventSender {
    tx: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
    limits: StreamLimits,
    close: Option<CloseConnection>,
}

/// A new stream: the master's sender and the HTTP body's receiver.
pub fn channel(
    limits: StreamLimits,
    close: Option<CloseConnection>,
) -> (EventSender, mpsc::Receiver<Bytes>, Arc<Shared>) {
    let (tx, rx) = mpsc::channel(limits.max_events.saturating_mul(HARD_LIMIT_FACTOR).max(1));
    let shared = Arc::new(Shared {
        queued_bytes: AtomicUsize::new(0),
        cut: AtomicBool::new(false),
        opened: Instant::now(),
        last_read_ms: AtomicU64::new(0),
    });
    let sender = EventSender {
        tx,
        shared: Arc::clone(&shared),
        limits,
        close,
    };
    (sender, rx, shared)
}

impl EventSender {
    /// Queues one record; a subscriber over its limits is cut off
    /// (`framework` names it in the log).
    pub fn send(&self, record: Bytes, framework: &str) {
        if self.shared.cut.load(Ordering::Relaxed) {
            return;
        }
        let len = record.len();
        let queued_bytes = self.shared.queued_bytes.load(Ordering::Relaxed).saturating_add(len);
        let queued_events = self.tx.max_capacity() - self.tx.capacity() + 1;
        let over = if queued_bytes > self.limits.max_bytes {
            Some("bytes")
        } else if queued_events > self.limits.max_events {
            Some("events")
        } else {
            None
        };
        if let Some(what) = over {
            let hard = queued_bytes > self.limits.max_bytes.saturating_mul(HARD_LIMIT_FACTOR);
            if hard || self.shared.stalled() {
                self.cut_off(framework, what);
                return;
            }
        }
        match self.tx.try_send(record) {
            Ok(()) => {
                self.shared.queued_bytes.fetch_add(len, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.cut_off(framework, "events"),
            // The client left; the body's guard reports that.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn cut_off(&self, framework: &str, what: &str) {
        if self.shared.cut.swap(true, Ordering::Relaxed) {
            return;
        }
        warn!(
            framework = %framework,
            max_events = self.limits.max_events,
            max_bytes = self.limits.max_bytes,
            "closing the event stream of framework {framework}: its client does not read it (too many unread {what})"
        );
        if let Some(close) = &self.close {
            close.close();
        }
    }
}

/// The event stream body: one RecordIO record per item, so one per chunk.
/// Ends when the master drops its sender or cuts the subscriber off.
pub struct EventBody {
    rx: mpsc::Receiver<Bytes>,
    shared: Arc<Shared>,
    _guard: StreamGuard,
}

impl EventBody {
    pub fn new(rx: mpsc::Receiver<Bytes>, shared: Arc<Shared>, guard: StreamGuard) -> Self {
        Self {
            rx,
            shared,
            _guard: guard,
        }
    }
}

impl Stream for EventBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.shared.cut.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(record)) = &polled {
            self.shared.queued_bytes.fetch_sub(record.len(), Ordering::Relaxed);
            let at = u64::try_from(self.shared.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.shared.last_read_ms.store(at.max(1), Ordering::Relaxed);
        }
        polled.map(|record| record.map(Ok))
    }
}

/// Reports the stream's end to the master when the body is dropped.
pub struct StreamGuard {
    pub master: Weak<Master>,
    pub framework_id: Option<FrameworkId>,
    pub stream_id: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if let (Some(master), Some(framework_id)) = (self.master.upgrade(), &self.framework_id) {
            master.stream_closed(framework_id, &self.stream_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn body(rx: mpsc::Receiver<Bytes>, shared: Arc<Shared>) -> EventBody {
        let guard = StreamGuard {
            master: Weak::new(),
            framework_id: None,
            stream_id: String::new(),
        };
        EventBody::new(rx, shared, guard)
    }

    /// Guards the recovery of a framework that reads, only slower than a
    /// burst: past the limits it goes on while it reads, and is cut off
    /// only past the hard limit; a stalled one is cut off at the limits.
    #[tokio::test]
    async fn a_reader_is_cut_off_past_the_hard_limit_only() {
        let limits = StreamLimits {
            max_events: 10,
            max_bytes: 1 << 20,
        };
        let (sender, rx, shared) = channel(limits, None);
        let mut body = body(rx, Arc::clone(&shared));
        sender.send(Bytes::from_static(b"first"), "F");
        assert!(body.next().await.is_some(), "the client reads");
        for _ in 0..(10 * HARD_LIMIT_FACTOR) {
            sender.send(Bytes::from_static(b"update"), "F");
        }
        assert!(!shared.cut.load(Ordering::Relaxed), "a reader past the limits goes on");
        sender.send(Bytes::from_static(b"one too many"), "F");
        assert!(shared.cut.load(Ordering::Relaxed), "cut off past the hard limit");

        // A client that read nothing for STALLED_AFTER is cut at the limits.
        let (sender, _rx, shared) = channel(limits, None);
        let stalled = Shared {
            queued_bytes: AtomicUsize::new(0),
            cut: AtomicBool::new(false),
            opened: Instant::now() - STALLED_AFTER,
            last_read_ms: AtomicU64::new(0),
        };
        assert!(stalled.stalled());
        assert!(!shared.stalled(), "a new stream is not stalled yet");
        drop(sender);
    }
}
