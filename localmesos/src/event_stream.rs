//! A subscriber's event stream: the bounded queue between the master and
//! the HTTP body of a SUBSCRIBE response.
//!
//! Sending never blocks the master. Each subscriber may have at most
//! [`StreamLimits::max_events`] records or [`StreamLimits::max_bytes`]
//! bytes queued that its client has not read; past that it is cut off, as
//! a real master closes a connection it cannot write to: a log line names
//! the framework, the connection is closed (see `http::CloseConnection`),
//! the queued records are freed, and the body's guard tells the master the
//! framework disconnected. A slow reader costs bounded memory, never more.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

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

/// What the queue and the body share.
pub struct Shared {
    queued_bytes: AtomicUsize,
    cut: AtomicBool,
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
    let (tx, rx) = mpsc::channel(limits.max_events.max(1));
    let shared = Arc::new(Shared {
        queued_bytes: AtomicUsize::new(0),
        cut: AtomicBool::new(false),
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
        let queued = self.shared.queued_bytes.load(Ordering::Relaxed);
        if queued.saturating_add(len) > self.limits.max_bytes {
            self.cut_off(framework, "bytes");
            return;
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
