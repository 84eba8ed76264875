//! The Mesos calls of one subscription, sent from their own tasks so that
//! the event loop never waits on HTTP.
//!
//! Three lanes:
//! - **ordered** (SUPPRESS, REVIVE, RECONCILE; bounded): one at a time,
//!   in order, since a REVIVE overtaking the SUPPRESS before it would
//!   leave offers off;
//! - **pipelined** (ACCEPT, DECLINE, KILL; bounded): up to
//!   `MAX_IN_FLIGHT` at once, each independent;
//! - **acknowledgements** (ACKNOWLEDGE): up to `MAX_IN_FLIGHT` at once,
//!   queued without ever waiting. An ACKNOWLEDGE is queued only once its
//!   update is recorded and published, and Mesos sends a task's next
//!   update only after the previous one is acknowledged, so they never
//!   race for one task, and at most one per task is ever queued (a copy
//!   of an update whose ACKNOWLEDGE is still queued or in flight is not
//!   queued again): the queue is bounded by the task count. Its own lane,
//!   and never full, because the event loop queues one per update: when
//!   it waited for room behind thousands of them (100,000 tasks launching),
//!   it stopped reading events, offers waited behind the updates on the
//!   stream, and ACCEPTs waited behind the acknowledgements.
//!
//! A REVIVE also waits for every ACCEPT and DECLINE queued before it to be
//! answered: those install offer filters (30 s for an idle decline), and
//! one that reached the master after the REVIVE meant to clear it would
//! hold back offers for a launch queued in between ([`Filters`]).
//!
//! What the loop must know of a failure comes back as a [`Report`]: an
//! ACCEPT that failed puts its tasks back in the queue; a REVIVE that
//! failed leaves offers suppressed. The rest is logged (Mesos redelivers
//! unacknowledged updates; KILLs are re-sent after re-subscribing).
//!
//! [`MesosCalls`] is the seam: the real client's `Caller`, or a scripted
//! Mesos in tests.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use mesos::ClientError;
use mesos::client::Caller;
use mesos::types::{AgentId, Call, TaskId};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, UnboundedReceiverStream};
use tracing::warn;

use crate::metrics::AgentMetrics;

/// Calls queued per lane before queueing waits.
const LANE_CAPACITY: usize = 4096;
/// Pipelined calls in flight at once.
pub const MAX_IN_FLIGHT: usize = 32;

/// Sends one call to the Mesos master.
pub trait MesosCalls: Clone + Send + Sync + 'static {
    fn send(&self, call: Call) -> impl Future<Output = Result<(), ClientError>> + Send;
}

impl MesosCalls for Caller {
    fn send(&self, call: Call) -> impl Future<Output = Result<(), ClientError>> + Send {
        let caller = self.clone();
        async move { caller.call(call).await }
    }
}

/// What the event loop must act on.
#[derive(Debug)]
pub enum Report {
    /// These tasks' ACCEPT failed: queue them again.
    AcceptFailed { task_ids: Vec<String> },
    /// REVIVE failed: offers are still suppressed.
    ReviveFailed,
}

/// One call and what to make of its outcome.
struct Outgoing {
    call: Call,
    /// For an ACCEPT, its tasks; for a DECLINE, how many offers.
    tasks: Vec<String>,
    offers: u64,
    /// For an ACCEPT or DECLINE, its place among the filter calls.
    filter: Option<u64>,
    /// For a REVIVE, the filter calls (all below this number) that must be
    /// answered before it goes.
    after: u64,
}

/// The ACCEPTs and DECLINEs not yet answered, by the number each got when
/// queued, so that a REVIVE can wait for those queued before it.
#[derive(Default)]
struct Filters {
    state: Mutex<FilterState>,
    answered: Notify,
}

#[derive(Default)]
struct FilterState {
    next: u64,
    unanswered: BTreeSet<u64>,
}

impl Filters {
    fn lock(&self) -> std::sync::MutexGuard<'_, FilterState> {
        lock(&self.state)
    }

    /// A number for a filter call being queued.
    fn queued(&self) -> u64 {
        let mut state = self.lock();
        let number = state.next;
        state.next += 1;
        state.unanswered.insert(number);
        number
    }

    /// How many filter calls have been queued so far.
    fn queued_so_far(&self) -> u64 {
        self.lock().next
    }

    fn answered(&self, number: u64) {
        self.lock().unanswered.remove(&number);
        self.answered.notify_waiters();
    }

    /// Waits until every filter call numbered below `after` is answered.
    async fn wait_below(&self, after: u64) {
        loop {
            let notified = self.answered.notified();
            tokio::pin!(notified);
            // Registered before the check, so an answer in between wakes us.
            notified.as_mut().enable();
            if self.lock().unanswered.first().is_none_or(|first| *first >= after) {
                return;
            }
            notified.await;
        }
    }
}

/// The lanes of one subscription. Dropping it stops sending (calls in
/// flight are abandoned).
pub struct Outbox {
    ordered: mpsc::Sender<Outgoing>,
    pipelined: mpsc::Sender<Outgoing>,
    /// Each ACKNOWLEDGE with the uuid it acknowledges.
    acks: mpsc::UnboundedSender<(String, Outgoing)>,
    /// The uuids of the acknowledgements queued or in flight.
    acking: Arc<Mutex<HashSet<String>>>,
    filters: Arc<Filters>,
    workers: Vec<JoinHandle<()>>,
}

impl Outbox {
    /// Starts the lanes over `mesos`; reports go to `reports`.
    pub fn start<M: MesosCalls>(mesos: M, metrics: AgentMetrics, reports: mpsc::UnboundedSender<Report>) -> Outbox {
        let (ordered, ordered_rx) = mpsc::channel::<Outgoing>(LANE_CAPACITY);
        let (pipelined, pipelined_rx) = mpsc::channel::<Outgoing>(LANE_CAPACITY);
        let context = Arc::new((mesos, metrics, reports));
        let filters = Arc::new(Filters::default());
        let sequential = {
            let context = Arc::clone(&context);
            let filters = Arc::clone(&filters);
            tokio::spawn(async move {
                let mut rx = ordered_rx;
                while let Some(outgoing) = rx.recv().await {
                    if outgoing.call.name() == "REVIVE" {
                        filters.wait_below(outgoing.after).await;
                    }
                    send(&context, outgoing).await;
                }
            })
        };
        let (acks, acks_rx) = mpsc::unbounded_channel::<(String, Outgoing)>();
        let acking: Arc<Mutex<HashSet<String>>> = Arc::default();
        let acknowledging = {
            let context = Arc::clone(&context);
            let acking = Arc::clone(&acking);
            tokio::spawn(async move {
                UnboundedReceiverStream::new(acks_rx)
                    .for_each_concurrent(MAX_IN_FLIGHT, |(uuid, outgoing)| {
                        let context = Arc::clone(&context);
                        let acking = Arc::clone(&acking);
                        async move {
                            send(&context, outgoing).await;
                            lock(&acking).remove(&uuid);
                        }
                    })
                    .await;
            })
        };
        let concurrent = {
            let filters = Arc::clone(&filters);
            tokio::spawn(async move {
                ReceiverStream::new(pipelined_rx)
                    .for_each_concurrent(MAX_IN_FLIGHT, |outgoing| {
                        let context = Arc::clone(&context);
                        let filters = Arc::clone(&filters);
                        async move {
                            let filter = outgoing.filter;
                            send(&context, outgoing).await;
                            if let Some(number) = filter {
                                filters.answered(number);
                            }
                        }
                    })
                    .await;
            })
        };
        Outbox {
            ordered,
            pipelined,
            acks,
            acking,
            filters,
            workers: vec![sequential, concurrent, acknowledging],
        }
    }

    /// Queues the ACKNOWLEDGE of update `uuid` of `task_id` (never waits),
    /// unless that update's is already queued or in flight.
    pub fn acknowledge(&self, agent_id: AgentId, task_id: TaskId, uuid: String) {
        if !lock(&self.acking).insert(uuid.clone()) {
            return;
        }
        let outgoing = Outgoing {
            call: Call::acknowledge(agent_id, task_id, uuid.clone()),
            tasks: Vec::new(),
            offers: 0,
            filter: None,
            after: 0,
        };
        // A closed lane means the subscription is over: nothing to send.
        let _ = self.acks.send((uuid, outgoing));
    }

    /// Queues a call on its lane; waits only while the lane is full.
    pub async fn push(&self, call: Call) {
        self.enqueue(call, Vec::new(), 0).await;
    }

    /// Queues an ACCEPT of `tasks`.
    pub async fn accept(&self, call: Call, tasks: Vec<String>) {
        self.enqueue(call, tasks, 0).await;
    }

    /// Queues a DECLINE of `offers` offers.
    pub async fn decline(&self, call: Call, offers: u64) {
        self.enqueue(call, Vec::new(), offers).await;
    }

    async fn enqueue(&self, call: Call, tasks: Vec<String>, offers: u64) {
        let name = call.name();
        let filter = matches!(name, "ACCEPT" | "DECLINE").then(|| self.filters.queued());
        let after = if name == "REVIVE" {
            self.filters.queued_so_far()
        } else {
            0
        };
        let lane = if is_ordered(&call) {
            &self.ordered
        } else {
            &self.pipelined
        };
        let outgoing = Outgoing {
            call,
            tasks,
            offers,
            filter,
            after,
        };
        // A closed lane means the subscription is over: nothing to send.
        if lane.send(outgoing).await.is_err()
            && let Some(number) = filter
        {
            self.filters.answered(number);
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
    }
}

/// Locks state of plain values (the filter numbers, the uuids being
/// acknowledged): a panic elsewhere cannot leave it half-changed, so a
/// poisoned lock is still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn is_ordered(call: &Call) -> bool {
    matches!(call.name(), "SUPPRESS" | "REVIVE" | "RECONCILE" | "TEARDOWN")
}

async fn send<M: MesosCalls>(context: &(M, AgentMetrics, mpsc::UnboundedSender<Report>), outgoing: Outgoing) {
    let (mesos, metrics, reports) = context;
    let name = outgoing.call.name();
    match mesos.send(outgoing.call).await {
        Ok(()) => match name {
            "ACCEPT" => metrics.offers_accepted.inc(),
            "DECLINE" => metrics.offers_declined.inc_by(outgoing.offers),
            _ => 0,
        },
        Err(error) => {
            match name {
                "ACCEPT" => {
                    warn!(%error, tasks = ?outgoing.tasks, "ACCEPT failed; its tasks go back to the queue");
                    let _ = reports.send(Report::AcceptFailed {
                        task_ids: outgoing.tasks,
                    });
                }
                "REVIVE" => {
                    warn!(%error, "REVIVE failed");
                    let _ = reports.send(Report::ReviveFailed);
                }
                "ACKNOWLEDGE" => warn!(%error, "ACKNOWLEDGE failed; Mesos will redeliver"),
                "KILL" => warn!(%error, "KILL failed; it is re-sent after re-subscribing"),
                _ => warn!(%error, call = name, "Mesos call failed"),
            }
            0
        }
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use mesos::types::OfferId;
    use tokio::sync::Notify;

    use super::*;

    /// A scripted Mesos: records calls in the order they are answered;
    /// calls named in `hold` hang until released; calls named in `fail`
    /// fail.
    #[derive(Clone, Default)]
    struct Scripted {
        calls: Arc<Mutex<Vec<&'static str>>>,
        hold: Option<(&'static str, Arc<Notify>)>,
        fail: Vec<&'static str>,
    }

    impl MesosCalls for Scripted {
        fn send(&self, call: Call) -> impl Future<Output = Result<(), ClientError>> + Send {
            let me = self.clone();
            async move {
                let name = call.name();
                if let Some((held, hold)) = &me.hold
                    && *held == name
                {
                    hold.notified().await;
                }
                me.calls.lock().expect("lock").push(name);
                if me.fail.contains(&name) {
                    return Err(ClientError::StreamEnded);
                }
                Ok(())
            }
        }
    }

    /// An outbox over a scripted Mesos on which `call` hangs until the
    /// returned `Notify` releases it.
    fn holding(call: &'static str) -> (Scripted, Arc<Notify>, Outbox) {
        let hold = Arc::new(Notify::new());
        let mesos = Scripted {
            hold: Some((call, Arc::clone(&hold))),
            ..Scripted::default()
        };
        // The reports go nowhere: these tests watch the calls.
        let (tx, _rx) = mpsc::unbounded_channel();
        let outbox = Outbox::start(mesos.clone(), AgentMetrics::default(), tx);
        (mesos, hold, outbox)
    }

    async fn until(calls: &Arc<Mutex<Vec<&'static str>>>, n: usize) -> Vec<&'static str> {
        for _ in 0..200 {
            let seen = calls.lock().expect("lock").clone();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("only {:?}", calls.lock().expect("lock"));
    }

    /// Guards "KILLs and acknowledgements never wait behind a slow call":
    /// 300 KILLs went out over ~2 s when each waited for the one before.
    #[tokio::test]
    async fn kills_and_acknowledgements_do_not_wait_behind_a_slow_accept() {
        let (mesos, hold, outbox) = holding("ACCEPT");
        outbox
            .accept(Call::accept(vec![OfferId::new("O1")], vec![], 1.0), vec!["t".into()])
            .await;
        for i in 0..100 {
            outbox.push(Call::kill(TaskId::new(format!("k{i}")), None, None)).await;
        }
        outbox.acknowledge(AgentId::new("S1"), TaskId::new("a"), "dXVpZA==".into());
        let seen = until(&mesos.calls, 101).await;
        assert!(!seen.contains(&"ACCEPT"), "the ACCEPT still hangs");
        assert_eq!(seen.iter().filter(|c| **c == "KILL").count(), 100);
        hold.notify_one();
        assert_eq!(until(&mesos.calls, 102).await.last(), Some(&"ACCEPT"));
    }

    /// Guards "offers never wait behind acknowledgements": at 100,000
    /// tasks the event loop waited for room among thousands of queued
    /// ACKNOWLEDGEs, and the ACCEPTs queued behind them.
    #[tokio::test]
    async fn acknowledgements_never_wait_nor_hold_up_an_accept() {
        let (mesos, _hold, outbox) = holding("ACKNOWLEDGE");
        // Twice what a bounded lane holds, each queued without waiting,
        // while Mesos answers none.
        for i in 0..2 * LANE_CAPACITY {
            outbox.acknowledge(AgentId::new("S1"), TaskId::new(format!("t{i}")), format!("u{i}"));
        }
        outbox
            .accept(Call::accept(vec![OfferId::new("O1")], vec![], 1.0), vec!["t".into()])
            .await;
        outbox.push(Call::kill(TaskId::new("k"), None, None)).await;
        let seen = until(&mesos.calls, 2).await;
        assert!(seen.contains(&"ACCEPT") && seen.contains(&"KILL"), "{seen:?}");
        assert!(!seen.contains(&"ACKNOWLEDGE"), "the acknowledgements still hang");
    }

    /// Guards "a redelivered update is acknowledged once, not once per
    /// copy, while its acknowledgement is queued; and again once that one
    /// was answered (it may have been lost)".
    #[tokio::test]
    async fn a_copy_of_an_update_being_acknowledged_is_not_acknowledged_twice() {
        let mesos = Scripted::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        let outbox = Outbox::start(mesos.clone(), AgentMetrics::default(), tx);
        // On this test's one thread, nothing is sent before the await.
        for _ in 0..3 {
            outbox.acknowledge(AgentId::new("S1"), TaskId::new("t"), "u1".into());
        }
        outbox.acknowledge(AgentId::new("S1"), TaskId::new("t2"), "u2".into());
        assert_eq!(until(&mesos.calls, 2).await.len(), 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(mesos.calls.lock().expect("lock").len(), 2, "one per update");
        outbox.acknowledge(AgentId::new("S1"), TaskId::new("t"), "u1".into());
        assert_eq!(until(&mesos.calls, 3).await.len(), 3);
    }

    #[tokio::test]
    async fn suppress_and_revive_keep_their_order() {
        let mesos = Scripted::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        let outbox = Outbox::start(mesos.clone(), AgentMetrics::default(), tx);
        for _ in 0..10 {
            outbox.push(Call::suppress()).await;
            outbox.push(Call::revive()).await;
        }
        let seen = until(&mesos.calls, 20).await;
        assert!(seen.chunks(2).all(|pair| pair == ["SUPPRESS", "REVIVE"]), "{seen:?}");
    }

    /// Guards "a launch queued just after an idle decline gets offers":
    /// the DECLINE (a 30 s filter) was answered after the REVIVE queued
    /// behind it, and the fresh launches waited 30 s for offers.
    #[tokio::test]
    async fn a_revive_waits_for_the_declines_queued_before_it() {
        let (mesos, hold, outbox) = holding("DECLINE");
        outbox.decline(Call::decline(vec![OfferId::new("O1")], 30.0), 1).await;
        outbox.push(Call::revive()).await;
        outbox.push(Call::kill(TaskId::new("k"), None, None)).await;
        assert_eq!(until(&mesos.calls, 1).await, ["KILL"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            *mesos.calls.lock().expect("lock"),
            ["KILL"],
            "the REVIVE overtook the DECLINE"
        );
        hold.notify_one();
        assert_eq!(until(&mesos.calls, 3).await, ["KILL", "DECLINE", "REVIVE"]);
        // A REVIVE with nothing before it goes at once.
        outbox.push(Call::revive()).await;
        assert_eq!(until(&mesos.calls, 4).await[3], "REVIVE");
    }

    #[tokio::test]
    async fn a_failed_accept_and_a_failed_revive_are_reported() {
        let mesos = Scripted {
            fail: vec!["ACCEPT", "REVIVE", "KILL"],
            ..Scripted::default()
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let outbox = Outbox::start(mesos, AgentMetrics::default(), tx);
        outbox
            .accept(
                Call::accept(vec![OfferId::new("O1")], vec![], 1.0),
                vec!["a".into(), "b".into()],
            )
            .await;
        outbox.push(Call::kill(TaskId::new("k"), None, None)).await;
        outbox.push(Call::revive()).await;
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(
                tokio::time::timeout(Duration::from_secs(5), rx.recv())
                    .await
                    .expect("a report"),
            );
        }
        assert!(
            got.iter()
                .any(|r| matches!(r, Some(Report::AcceptFailed { task_ids }) if task_ids == &["a", "b"]))
        );
        assert!(got.iter().any(|r| matches!(r, Some(Report::ReviveFailed))));
    }
}
