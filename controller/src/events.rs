//! Events: what happened, in order, for people and tools to follow
//! (`GET /api/v1/events`, a server-sent event stream, and `sextant get
//! events`). A bounded buffer keeps the latest [`BUFFER`] events, each
//! with an id that only grows, so a client that reconnects with
//! `Last-Event-ID` gets what it missed (or, if that is gone from the
//! buffer, everything still held).
//!
//! Kinds:
//! - `task`: a task's state changed (with Mesos's reason and message);
//! - `desired`: a source created, changed or removed an app;
//! - `sync`: a source's sync outcome changed (new commit, problems, a
//!   refusal, a fetch error, recovery);
//! - `condition`: an app's condition changed status or reason (rollout
//!   progress, completion, failure, rollback, degradation).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Events kept for replay.
pub const BUFFER: usize = 10_000;
/// Events a live subscriber may fall behind by before it is cut off (it
/// reconnects with `Last-Event-ID` and replays from the buffer).
const LIVE_BACKLOG: usize = 1024;

pub use sextant_api::wire::Event;

/// What a producer says; the bus numbers and stamps it.
#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    /// Kind.
    pub kind: &'static str,
    /// App key.
    pub app: Option<String>,
    /// Task id.
    pub task: Option<String>,
    /// Source name.
    pub source: Option<String>,
    /// Short word.
    pub reason: String,
    /// Words.
    pub message: String,
}

struct Ring {
    next_id: u64,
    events: VecDeque<Arc<Event>>,
}

/// The event bus. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    ring: Arc<Mutex<Ring>>,
    live: broadcast::Sender<Arc<Event>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self {
            ring: Arc::new(Mutex::new(Ring {
                next_id: 1,
                events: VecDeque::new(),
            })),
            live: broadcast::channel(LIVE_BACKLOG).0,
        }
    }
}

/// Which events a reader wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this app (`namespace/name`).
    pub app: Option<String>,
    /// Only these kinds (empty: all).
    pub kinds: Vec<String>,
}

impl Filter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &Event) -> bool {
        self.app.as_ref().is_none_or(|a| e.app.as_ref() == Some(a))
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
    }
}

impl Events {
    /// Records an event and hands it to live readers.
    pub fn emit(&self, new: NewEvent) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let event = Arc::new(Event {
            id: ring.next_id,
            time: crate::store::rfc3339(crate::store::now_unix()).unwrap_or_default(),
            kind: new.kind.to_string(),
            app: new.app,
            task: new.task,
            source: new.source,
            reason: new.reason,
            message: new.message,
        });
        ring.next_id += 1;
        if ring.events.len() == BUFFER {
            ring.events.pop_front();
        }
        ring.events.push_back(Arc::clone(&event));
        // Sent under the lock, so a subscriber that read the buffer under
        // it misses nothing and sees nothing twice.
        let _ = self.live.send(event);
    }

    /// The id of the latest event (0 before any).
    pub fn last_id(&self) -> u64 {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).next_id - 1
    }

    /// The held events after `after` that pass `filter`, and a receiver of
    /// every later one.
    pub fn subscribe(&self, after: u64, filter: &Filter) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let held = ring
            .events
            .iter()
            .filter(|e| e.id > after && filter.admits(e))
            .cloned()
            .collect();
        (held, self.live.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit(bus: &Events, app: &str, kind: &'static str) {
        bus.emit(NewEvent {
            kind,
            app: Some(app.into()),
            reason: "r".into(),
            message: "m".into(),
            ..NewEvent::default()
        });
    }

    #[test]
    fn ids_grow_and_a_reconnect_gets_what_it_missed() {
        let bus = Events::default();
        emit(&bus, "default/a", "task");
        emit(&bus, "default/b", "task");
        emit(&bus, "default/a", "condition");
        let (all, _) = bus.subscribe(0, &Filter::default());
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3]);
        let (missed, _) = bus.subscribe(2, &Filter::default());
        assert_eq!(missed.iter().map(|e| e.id).collect::<Vec<_>>(), [3]);
        let only_a = Filter {
            app: Some("default/a".into()),
            kinds: vec!["task".into()],
        };
        let (a, _) = bus.subscribe(0, &only_a);
        assert_eq!(a.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    }

    #[tokio::test]
    async fn live_readers_get_later_events() {
        let bus = Events::default();
        let (held, mut rx) = bus.subscribe(0, &Filter::default());
        assert!(held.is_empty());
        emit(&bus, "default/a", "task");
        let e = rx.recv().await.expect("live event");
        assert_eq!(e.id, 1);
    }

    #[test]
    fn the_buffer_is_bounded() {
        let bus = Events::default();
        for _ in 0..BUFFER + 5 {
            emit(&bus, "default/a", "task");
        }
        let (held, _) = bus.subscribe(0, &Filter::default());
        assert_eq!(held.len(), BUFFER);
        assert_eq!(held[0].id, 6);
    }
}
