//! The work queue of app keys (`"namespace/name"`) that feeds the reconciler,
//! with the semantics of kube-runtime's applier.
//!
//! It owns, for every key it knows: whether the key is ready (waiting in FIFO
//! order for a worker), active (a worker holds its [`Lease`]), dirty (asked
//! for again while active) and its scheduled time, if any. It owns nothing
//! about apps themselves: a key is only a name, and the reconcile reads the
//! store afresh each time (level-triggered), so coalescing many requests for
//! one key into one reconcile loses nothing.
//!
//! The rules:
//! - [`WorkQueue::enqueue`] makes a key ready now. A key already ready keeps
//!   its place; a key being reconciled is marked dirty and becomes ready the
//!   moment its lease ends. One key is never reconciled twice at once.
//! - [`WorkQueue::enqueue_after`] schedules a key at now + delay. Of two
//!   schedules the earlier wins, and "now" beats any schedule. A schedule made
//!   while the key is active is kept: if it comes due before the lease ends,
//!   the key is dirty instead.
//! - [`WorkQueue::next`] hands out the oldest ready key that is not active as
//!   a [`Lease`]; dropping the lease, or [`Lease::done`] with a requeue delay,
//!   ends that reconcile.
//! - After [`WorkQueue::close`], `next` returns `None` for every waiter and
//!   new requests are ignored.
//!
//! Every operation is O(1) or O(log n) under one `std::sync::Mutex`, which is
//! never held across an await. Waiters sleep on a [`Notify`] and on the
//! earliest scheduled time; nothing polls.
//!
//! [`run`] drives a queue with a bounded number of concurrent reconciles.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, sleep_until};

/// How long [`run`] waits before retrying a key whose reconcile panicked.
pub const PANIC_REQUEUE_AFTER: Duration = Duration::from_secs(5);

/// Longer delays are clamped, so `now + delay` cannot overflow an `Instant`.
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Below this many heap entries, stale ones are not worth sweeping.
const COMPACT_MIN: usize = 1024;

/// A queue of app keys to reconcile. Cheap to clone: clones share one queue.
#[derive(Clone, Default)]
pub struct WorkQueue {
    shared: Arc<Shared>,
}

/// The right to reconcile one key: while it lives, no other lease for the
/// same key is handed out. Dropping it ends the reconcile with no requeue.
pub struct Lease {
    shared: Arc<Shared>,
    key: String,
    finished: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    notify: Notify,
}

/// What a change to the state obliges us to wake, once the lock is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Nobody,
    /// A key became ready: one waiter can take it.
    One,
    /// The earliest scheduled time moved earlier (or the queue closed): every
    /// waiter may be sleeping too long and must recompute its deadline.
    All,
}

#[derive(Default)]
struct KeyState {
    /// In `State::ready`. Never together with `active`, `dirty` or `timer`.
    queued: bool,
    /// A lease for it is out.
    active: bool,
    /// Asked for (or came due) while active; only meaningful with `active`.
    dirty: bool,
    /// Its valid entry in `State::timers`; never together with `queued`/`dirty`.
    timer: Option<(Instant, u64)>,
}

impl KeyState {
    fn is_idle(&self) -> bool {
        !self.queued && !self.active && !self.dirty && self.timer.is_none()
    }
}

/// A heap entry. Superseded entries are left in the heap (a binary heap cannot
/// remove from the middle) and recognised as stale because the key's `timer`
/// no longer names their `(at, seq)`. `seq` also keeps FIFO among equal times.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    seq: u64,
    key: String,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, KeyState>,
    ready: VecDeque<String>,
    timers: BinaryHeap<Reverse<Timer>>,
    scheduled: usize,
    active: usize,
    next_seq: u64,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and the state stays
        // consistent between statements, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self, wake: Wake) {
        match wake {
            Wake::Nobody => {}
            Wake::One => self.notify.notify_one(),
            Wake::All => self.notify.notify_waiters(),
        }
    }
}

impl State {
    /// The key becomes ready now (or dirty, if active).
    fn make_ready(&mut self, key: String) -> Wake {
        match self.keys.entry(key) {
            Entry::Vacant(vacant) => {
                self.ready.push_back(vacant.key().clone());
                vacant.insert(KeyState {
                    queued: true,
                    ..KeyState::default()
                });
                Wake::One
            }
            Entry::Occupied(mut occupied) => {
                let st = occupied.get_mut();
                if st.queued || st.dirty {
                    return Wake::Nobody;
                }
                // "Now" supersedes any schedule; its heap entry goes stale.
                if st.timer.take().is_some() {
                    self.scheduled = self.scheduled.saturating_sub(1);
                }
                if st.active {
                    st.dirty = true;
                    return Wake::Nobody;
                }
                st.queued = true;
                self.ready.push_back(occupied.key().clone());
                Wake::One
            }
        }
    }

    /// The key becomes ready at `at`, unless something earlier is pending.
    fn schedule(&mut self, key: String, at: Instant) -> Wake {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = match self.keys.entry(key) {
            Entry::Vacant(vacant) => {
                let key = vacant.key().clone();
                vacant.insert(KeyState {
                    timer: Some((at, seq)),
                    ..KeyState::default()
                });
                key
            }
            Entry::Occupied(mut occupied) => {
                let st = occupied.get_mut();
                if st.queued || st.dirty {
                    return Wake::Nobody;
                }
                match st.timer {
                    Some((current, _)) if current <= at => return Wake::Nobody,
                    // Replaced: the old heap entry goes stale.
                    Some(_) => self.scheduled = self.scheduled.saturating_sub(1),
                    None => {}
                }
                // Kept even if the key is active: `promote` turns it into
                // `dirty` if it comes due before the lease ends.
                st.timer = Some((at, seq));
                occupied.key().clone()
            }
        };
        self.scheduled += 1;
        // Waiters sleep until the heap's top; only an earlier top can make
        // one of them sleep too long.
        let earlier = self.timers.peek().is_none_or(|Reverse(top)| at < top.at);
        self.timers.push(Reverse(Timer { at, seq, key }));
        self.compact();
        if earlier { Wake::All } else { Wake::Nobody }
    }

    /// A request for `key` after `delay` (zero means now).
    fn request(&mut self, key: String, delay: Duration, now: Instant) -> Wake {
        if delay.is_zero() {
            self.make_ready(key)
        } else {
            self.schedule(key, now + delay.min(MAX_DELAY))
        }
    }

    fn is_valid(keys: &HashMap<String, KeyState>, timer: &Timer) -> bool {
        keys.get(&timer.key)
            .is_some_and(|st| st.timer == Some((timer.at, timer.seq)))
    }

    /// Sweeps stale heap entries once they outnumber live ones, so repeated
    /// rescheduling cannot grow the heap without bound (amortised O(1)).
    fn compact(&mut self) {
        if self.timers.len() > COMPACT_MIN && self.timers.len() > 2 * self.scheduled {
            let keys = &self.keys;
            self.timers.retain(|Reverse(timer)| Self::is_valid(keys, timer));
        }
    }

    /// Moves every key whose time has come to `ready` (or dirty, if active),
    /// in time order, and drops stale entries off the top so that the top is
    /// the true earliest schedule.
    fn promote(&mut self, now: Instant) -> Wake {
        let mut wake = Wake::Nobody;
        while let Some(Reverse(top)) = self.timers.peek() {
            let valid = Self::is_valid(&self.keys, top);
            if valid && top.at > now {
                break;
            }
            let Some(Reverse(timer)) = self.timers.pop() else {
                break;
            };
            if !valid {
                continue;
            }
            let Some(st) = self.keys.get_mut(&timer.key) else {
                continue;
            };
            st.timer = None;
            self.scheduled = self.scheduled.saturating_sub(1);
            if st.active {
                st.dirty = true;
            } else {
                st.queued = true;
                self.ready.push_back(timer.key);
                wake = Wake::One;
            }
        }
        wake
    }

    fn earliest(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse(top)| top.at)
    }

    fn take(&mut self) -> Option<String> {
        let key = self.ready.pop_front()?;
        if let Some(st) = self.keys.get_mut(&key) {
            st.queued = false;
            st.active = true;
        }
        self.active += 1;
        Some(key)
    }

    /// A lease for `key` ended.
    fn finish(&mut self, key: String, requeue_after: Option<Duration>, now: Instant) -> Wake {
        let Some(st) = self.keys.get_mut(&key) else {
            return Wake::Nobody;
        };
        if !st.active {
            return Wake::Nobody;
        }
        st.active = false;
        self.active = self.active.saturating_sub(1);
        if st.dirty {
            // Requested during the reconcile: that request is "now", which
            // beats whatever requeue the reconcile asked for.
            st.dirty = false;
            st.queued = true;
            self.ready.push_back(key);
            return Wake::One;
        }
        if let Some(delay) = requeue_after {
            return self.request(key, delay, now);
        }
        if st.is_idle() {
            // Forget keys nobody asks for (e.g. deleted apps).
            self.keys.remove(&key);
        }
        Wake::Nobody
    }
}

impl WorkQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `key` ready now (see the module doc for dedup and active keys).
    pub fn enqueue(&self, key: impl Into<String>) {
        let wake = {
            let mut st = self.shared.lock();
            if st.closed {
                return;
            }
            st.make_ready(key.into())
        };
        self.shared.wake(wake);
    }

    /// Makes `key` ready at now + `delay`, unless it is due earlier already.
    pub fn enqueue_after(&self, key: impl Into<String>, delay: Duration) {
        let wake = {
            let mut st = self.shared.lock();
            if st.closed {
                return;
            }
            st.request(key.into(), delay, Instant::now())
        };
        self.shared.wake(wake);
    }

    /// [`enqueue`](Self::enqueue) for many keys under one lock (the periodic resync).
    pub fn enqueue_all<I>(&self, keys: I)
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut wake = Wake::Nobody;
        {
            let mut st = self.shared.lock();
            if st.closed {
                return;
            }
            for key in keys {
                if st.make_ready(key.into()) == Wake::One {
                    wake = Wake::One;
                }
            }
        }
        // One wake-up suffices: each waiter that takes a key wakes the next
        // while keys remain.
        self.shared.wake(wake);
    }

    /// Waits for a ready key that is not active and leases it; `None` once
    /// the queue is closed. Cancel-safe: a key is only taken when this returns.
    pub async fn next(&self) -> Option<Lease> {
        loop {
            // Registered before looking at the state, so that a wake-up sent
            // between the look and the wait is not missed.
            let mut notified = pin!(self.shared.notify.notified());
            notified.as_mut().enable();
            let deadline = {
                let mut st = self.shared.lock();
                if st.closed {
                    return None;
                }
                st.promote(Instant::now());
                if let Some(key) = st.take() {
                    let more = !st.ready.is_empty();
                    drop(st);
                    if more {
                        // Pass the baton: a single wake-up may have stood
                        // for several ready keys.
                        self.shared.notify.notify_one();
                    }
                    return Some(Lease {
                        shared: Arc::clone(&self.shared),
                        key,
                        finished: false,
                    });
                }
                st.earliest()
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Ends the queue: every current and future `next` returns `None`, and
    /// further requests are ignored. Leases already out may still finish.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake(Wake::All);
    }

    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// How many keys are ready and waiting for a worker (dirty active keys
    /// are not counted until their lease ends).
    pub fn len(&self) -> usize {
        self.due().ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys have a scheduled time still in the future.
    pub fn scheduled(&self) -> usize {
        self.due().scheduled
    }

    /// How many leases are out.
    pub fn active(&self) -> usize {
        self.shared.lock().active
    }

    /// The state with every due schedule promoted, so counts agree with the clock.
    fn due(&self) -> MutexGuard<'_, State> {
        let mut st = self.shared.lock();
        if st.promote(Instant::now()) == Wake::One {
            // Waiters would wake at that deadline anyway; don't make them wait
            // for their timer to fire.
            self.shared.notify.notify_one();
        }
        st
    }
}

impl fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("WorkQueue")
            .field("ready", &st.ready.len())
            .field("scheduled", &st.scheduled)
            .field("active", &st.active)
            .field("closed", &st.closed)
            .finish()
    }
}

impl Lease {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Ends the reconcile; with `Some(delay)` the key is scheduled again after
    /// `delay` (earlier pending requests still win).
    pub fn done(mut self, requeue_after: Option<Duration>) {
        self.finish(requeue_after);
    }

    fn finish(&mut self, requeue_after: Option<Duration>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let key = std::mem::take(&mut self.key);
        let wake = self.shared.lock().finish(key, requeue_after, Instant::now());
        self.shared.wake(wake);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.finish(None);
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("key", &self.key).finish()
    }
}

/// Runs `reconcile` for keys from `queue`, at most `concurrency` at once (at
/// least one), each key at most once at a time. A reconcile's result is its
/// key's requeue_after. A reconcile that panics is logged and its key retried
/// after [`PANIC_REQUEUE_AFTER`]. Returns once the queue is closed and the
/// reconciles already running have finished.
pub async fn run<F, Fut>(queue: WorkQueue, concurrency: usize, reconcile: F)
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Duration>> + Send + 'static,
{
    let limit = concurrency.max(1);
    let reconcile = Arc::new(reconcile);
    let mut running = JoinSet::new();
    loop {
        if running.len() >= limit {
            // At the limit, don't take a lease we could not start.
            if let Some(joined) = running.join_next().await {
                log_join(joined);
            }
            continue;
        }
        tokio::select! {
            Some(joined) = running.join_next(), if !running.is_empty() => log_join(joined),
            lease = queue.next() => match lease {
                Some(lease) => {
                    running.spawn(reconcile_one(Arc::clone(&reconcile), lease));
                }
                None => break,
            },
        }
    }
    while let Some(joined) = running.join_next().await {
        log_join(joined);
    }
}

async fn reconcile_one<F, Fut>(reconcile: Arc<F>, lease: Lease)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Option<Duration>>,
{
    let key = lease.key().to_owned();
    // The call itself runs inside the async block, so a panic while building
    // the future is caught as well as one while polling it.
    let outcome = AssertUnwindSafe(async { reconcile(key).await }).catch_unwind().await;
    match outcome {
        Ok(requeue_after) => lease.done(requeue_after),
        Err(payload) => {
            tracing::error!(
                key = lease.key(),
                panic = panic_message(payload.as_ref()),
                retry_in = ?PANIC_REQUEUE_AFTER,
                "reconcile panicked"
            );
            lease.done(Some(PANIC_REQUEUE_AFTER));
        }
    }
}

fn log_join(joined: Result<(), JoinError>) {
    // Panics are caught inside the task; this is only a backstop. The task's
    // Lease was dropped with it either way, so its key is not wedged.
    if let Err(err) = joined
        && err.is_panic()
    {
        tracing::error!(error = %err, "reconcile task panicked");
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::time::{sleep, timeout};

    /// Waits (in paused time) for a lease, failing the test if none comes.
    async fn lease(queue: &WorkQueue) -> Lease {
        timeout(Duration::from_secs(3600), queue.next())
            .await
            .expect("no key became ready within an hour")
            .expect("queue closed")
    }

    /// True if no key becomes ready within `within`.
    async fn stays_idle(queue: &WorkQueue, within: Duration) -> bool {
        timeout(within, queue.next()).await.is_err()
    }

    /// Records the (paused) time of every reconcile of every key.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<(String, Duration)>>>);

    impl Log {
        fn push(&self, key: &str, at: Duration) {
            self.0.lock().unwrap().push((key.to_owned(), at));
        }
        fn times(&self, key: &str) -> Vec<Duration> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, at)| *at)
                .collect()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ready_keys_are_deduplicated_and_keep_their_place() {
        let queue = WorkQueue::new();
        queue.enqueue("default/a");
        queue.enqueue("default/b");
        queue.enqueue("default/a");
        queue.enqueue_all(["default/b", "default/a"]);
        assert_eq!(queue.len(), 2);
        let a = lease(&queue).await;
        let b = lease(&queue).await;
        assert_eq!((a.key(), b.key()), ("default/a", "default/b"));
        drop((a, b));
        assert!(stays_idle(&queue, Duration::from_secs(60)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn key_enqueued_while_active_runs_again_exactly_once() {
        let queue = WorkQueue::new();
        queue.enqueue("default/web");
        let first = lease(&queue).await;
        for _ in 0..5 {
            queue.enqueue("default/web");
        }
        queue.enqueue_after("default/web", Duration::from_secs(1));
        // Not handed out while active, and not counted as ready yet.
        assert_eq!(queue.len(), 0);
        assert!(stays_idle(&queue, Duration::from_secs(10)).await);
        drop(first);
        assert_eq!(queue.len(), 1);
        let second = lease(&queue).await;
        assert_eq!(second.key(), "default/web");
        drop(second);
        assert!(stays_idle(&queue, Duration::from_secs(60)).await);
        assert_eq!(queue.active(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn never_two_concurrent_reconciles_of_one_key() {
        const KEYS: usize = 5;
        let queue = WorkQueue::new();
        let active: Arc<Vec<AtomicUsize>> = Arc::new((0..KEYS).map(|_| AtomicUsize::new(0)).collect());
        let overlaps = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let runner = tokio::spawn(run(queue.clone(), 8, {
            let (active, overlaps, runs) = (active.clone(), overlaps.clone(), runs.clone());
            move |key: String| {
                let (active, overlaps, runs) = (active.clone(), overlaps.clone(), runs.clone());
                async move {
                    let i: usize = key.trim_start_matches("k").parse().unwrap();
                    if active[i].fetch_add(1, Ordering::SeqCst) != 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    let n = runs.fetch_add(1, Ordering::SeqCst);
                    sleep(Duration::from_millis(1 + (n % 7) as u64)).await;
                    tokio::task::yield_now().await;
                    active[i].fetch_sub(1, Ordering::SeqCst);
                    None
                }
            }
        }));
        for round in 0..2000 {
            queue.enqueue(format!("k{}", round % KEYS));
            if round % 3 == 0 {
                queue.enqueue_after(format!("k{}", (round / 3) % KEYS), Duration::from_millis(2));
            }
            if round % 10 == 0 {
                sleep(Duration::from_millis(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
        sleep(Duration::from_secs(1)).await;
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
        assert_eq!((queue.len(), queue.scheduled(), queue.active()), (0, 0, 0));
        queue.close();
        runner.await.unwrap();
        assert!(runs.load(Ordering::SeqCst) > 100, "too few runs to prove anything");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_bound_is_respected() {
        let queue = WorkQueue::new();
        let now_running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        queue.enqueue_all((0..50).map(|i| format!("default/app{i}")));
        let runner = tokio::spawn(run(queue.clone(), 4, {
            let (now_running, peak, runs) = (now_running.clone(), peak.clone(), runs.clone());
            move |_key| {
                let (now_running, peak, runs) = (now_running.clone(), peak.clone(), runs.clone());
                async move {
                    let n = now_running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    sleep(Duration::from_secs(1)).await;
                    now_running.fetch_sub(1, Ordering::SeqCst);
                    runs.fetch_add(1, Ordering::SeqCst);
                    None
                }
            }
        }));
        sleep(Duration::from_secs(100)).await;
        queue.close();
        runner.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 50);
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn enqueue_after_fires_on_time_and_earlier_schedule_wins() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.enqueue_after("default/a", Duration::from_secs(10));
        queue.enqueue_after("default/a", Duration::from_secs(5));
        queue.enqueue_after("default/a", Duration::from_secs(20));
        assert_eq!((queue.len(), queue.scheduled()), (0, 1));
        let a = lease(&queue).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        assert_eq!(queue.scheduled(), 0);
        drop(a);
        // The superseded 10 s and 20 s schedules do not fire.
        assert!(stays_idle(&queue, Duration::from_secs(60)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn schedules_fire_in_time_order() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.enqueue_after("c", Duration::from_secs(3));
        queue.enqueue_after("a", Duration::from_secs(1));
        queue.enqueue_after("b", Duration::from_secs(2));
        for (key, at) in [("a", 1), ("b", 2), ("c", 3)] {
            let l = lease(&queue).await;
            assert_eq!((l.key(), start.elapsed()), (key, Duration::from_secs(at)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn enqueue_now_supersedes_a_later_schedule() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.enqueue_after("default/a", Duration::from_secs(10));
        queue.enqueue("default/a");
        assert_eq!((queue.len(), queue.scheduled()), (1, 0));
        // A later schedule for a ready key is ignored too.
        queue.enqueue_after("default/a", Duration::from_secs(10));
        assert_eq!(queue.scheduled(), 0);
        let a = lease(&queue).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(a);
        assert!(stays_idle(&queue, Duration::from_secs(60)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_made_while_active_is_not_lost() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.enqueue("a");
        queue.enqueue("b");
        let a = lease(&queue).await;
        let b = lease(&queue).await;
        queue.enqueue_after("a", Duration::from_secs(5));
        queue.enqueue_after("b", Duration::from_secs(5));
        assert_eq!(queue.scheduled(), 2);
        // `a`'s lease ends before its schedule: it fires on time.
        sleep(Duration::from_secs(1)).await;
        drop(a);
        let again = lease(&queue).await;
        assert_eq!((again.key(), start.elapsed()), ("a", Duration::from_secs(5)));
        drop(again);
        // `b`'s schedule came due while active: ready as soon as it ends.
        assert!(stays_idle(&queue, Duration::from_secs(5)).await);
        b.done(None);
        let again = lease(&queue).await;
        assert_eq!((again.key(), start.elapsed()), ("b", Duration::from_secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn lease_done_requeues_after_the_delay_and_dirty_beats_it() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.enqueue("a");
        lease(&queue).await.done(Some(Duration::from_secs(30)));
        assert_eq!(queue.scheduled(), 1);
        let a = lease(&queue).await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        // Enqueued during the reconcile: ready at once, not in 30 s.
        queue.enqueue("a");
        a.done(Some(Duration::from_secs(30)));
        let _a = lease(&queue).await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn requeue_after_from_the_reconcile_result() {
        let queue = WorkQueue::new();
        let log = Log::default();
        let start = Instant::now();
        let runner = tokio::spawn(run(queue.clone(), 2, {
            let log = log.clone();
            move |key: String| {
                let log = log.clone();
                async move {
                    log.push(&key, start.elapsed());
                    // Requeue twice, then settle.
                    (log.times(&key).len() < 3).then_some(Duration::from_secs(30))
                }
            }
        }));
        queue.enqueue("default/web");
        sleep(Duration::from_secs(600)).await;
        queue.close();
        runner.await.unwrap();
        let secs = |s| Duration::from_secs(s);
        assert_eq!(log.times("default/web"), [secs(0), secs(30), secs(60)]);
    }

    #[tokio::test(start_paused = true)]
    async fn close_wakes_waiters_and_ends_run_after_running_reconciles() {
        let queue = WorkQueue::new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.next().await.is_none() })
            })
            .collect();
        let start = Instant::now();
        let finished = Arc::new(AtomicUsize::new(0));
        let runner = tokio::spawn(run(queue.clone(), 4, {
            let finished = finished.clone();
            move |_key| {
                let finished = finished.clone();
                async move {
                    sleep(Duration::from_secs(10)).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    None
                }
            }
        }));
        sleep(Duration::from_secs(1)).await;
        // No one may be starved: the waiters and `run` compete for this key.
        queue.enqueue("x");
        sleep(Duration::from_secs(1)).await;
        queue.close();
        assert!(queue.is_closed());
        queue.enqueue("ignored");
        assert_eq!(queue.len(), 0);
        for waiter in waiters {
            // A waiter that won "x" got Some; the rest saw the close.
            let _ = waiter.await.unwrap();
        }
        runner.await.unwrap();
        assert!(start.elapsed() <= Duration::from_secs(12));
        assert!(queue.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn close_ends_run_waiting_for_the_running_reconcile() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.enqueue("x");
        let runner = tokio::spawn(run(queue.clone(), 1, |_key| async {
            sleep(Duration::from_secs(10)).await;
            Some(Duration::from_secs(1))
        }));
        sleep(Duration::from_secs(1)).await;
        queue.close();
        runner.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn panicking_reconcile_is_retried_after_backoff_and_blocks_no_one() {
        let queue = WorkQueue::new();
        let log = Log::default();
        let start = Instant::now();
        queue.enqueue("bad");
        queue.enqueue("good");
        // One worker: "good" can only run if the panic freed it.
        let runner = tokio::spawn(run(queue.clone(), 1, {
            let log = log.clone();
            move |key: String| {
                let log = log.clone();
                async move {
                    log.push(&key, start.elapsed());
                    if key == "bad" && log.times("bad").len() == 1 {
                        panic!("boom");
                    }
                    None
                }
            }
        }));
        sleep(Duration::from_secs(60)).await;
        queue.close();
        runner.await.unwrap();
        assert_eq!(log.times("good"), [Duration::ZERO]);
        assert_eq!(log.times("bad"), [Duration::ZERO, PANIC_REQUEUE_AFTER]);
    }

    #[tokio::test(start_paused = true)]
    async fn panic_while_creating_the_future_is_caught() {
        let queue = WorkQueue::new();
        let calls = Arc::new(AtomicUsize::new(0));
        queue.enqueue("k");
        let runner = tokio::spawn(run(queue.clone(), 1, {
            let calls = calls.clone();
            move |_key| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("before the future exists");
                }
                async { None }
            }
        }));
        sleep(Duration::from_secs(6)).await;
        queue.close();
        runner.await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn enqueue_all_of_10000_keys_runs_each_exactly_once() {
        const N: usize = 10_000;
        let queue = WorkQueue::new();
        let keys: Vec<String> = (0..N).map(|i| format!("ns/app{i}")).collect();
        queue.enqueue_all(keys.iter().cloned());
        queue.enqueue_all(keys.iter().cloned());
        assert_eq!(queue.len(), N);
        let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
        let total = Arc::new(AtomicUsize::new(0));
        let runner = tokio::spawn(run(queue.clone(), 16, {
            let (counts, total, queue) = (counts.clone(), total.clone(), queue.clone());
            move |key: String| {
                let (counts, total, queue) = (counts.clone(), total.clone(), queue.clone());
                async move {
                    let i: usize = key.trim_start_matches("ns/app").parse().unwrap();
                    counts[i].fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    if total.fetch_add(1, Ordering::SeqCst) + 1 == N {
                        queue.close();
                    }
                    None
                }
            }
        }));
        timeout(Duration::from_secs(60), runner).await.unwrap().unwrap();
        assert!(counts.iter().all(|c| c.load(Ordering::SeqCst) == 1));
        assert_eq!((queue.len(), queue.active()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn rescheduling_does_not_grow_the_heap_without_bound() {
        let queue = WorkQueue::new();
        for i in 0..100_000u64 {
            // Each call is earlier than the last, so each supersedes it.
            queue.enqueue_after("k", Duration::from_secs(200_000 - i));
        }
        assert_eq!(queue.scheduled(), 1);
        assert!(queue.shared.lock().timers.len() <= 2 * COMPACT_MIN);
        // Forgotten once reconciled with nothing pending.
        queue.enqueue("k");
        lease(&queue).await.done(None);
        assert!(queue.shared.lock().keys.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn many_ready_keys_wake_every_waiter() {
        let queue = WorkQueue::new();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    while let Some(lease) = queue.next().await {
                        sleep(Duration::from_secs(1)).await;
                        drop(lease);
                    }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        // One lock, one wake-up, four keys: all four waiters must get one.
        queue.enqueue_all(["a", "b", "c", "d"]);
        sleep(Duration::from_millis(10)).await;
        assert_eq!((queue.active(), queue.len()), (4, 0));
        // Likewise for schedules coming due together.
        sleep(Duration::from_secs(2)).await;
        for key in ["a", "b", "c", "d"] {
            queue.enqueue_after(key, Duration::from_secs(3));
        }
        sleep(Duration::from_millis(3010)).await;
        assert_eq!((queue.active(), queue.len()), (4, 0));
        queue.close();
        for worker in workers {
            worker.await.unwrap();
        }
    }

    /// Real threads, no paused clock: checks the wake-up logic against races.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn threads_racing_lose_no_keys_and_never_overlap() {
        const KEYS: usize = 200;
        let queue = WorkQueue::new();
        let active: Arc<Vec<AtomicUsize>> = Arc::new((0..KEYS).map(|_| AtomicUsize::new(0)).collect());
        let overlaps = Arc::new(AtomicUsize::new(0));
        let runner = tokio::spawn(run(queue.clone(), 8, {
            let (active, overlaps) = (active.clone(), overlaps.clone());
            move |key: String| {
                let (active, overlaps) = (active.clone(), overlaps.clone());
                async move {
                    let i: usize = key.parse().unwrap();
                    if active[i].fetch_add(1, Ordering::SeqCst) != 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::task::yield_now().await;
                    active[i].fetch_sub(1, Ordering::SeqCst);
                    None
                }
            }
        }));
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    for n in 0..5_000 {
                        queue.enqueue(((n * 7 + p) % KEYS).to_string());
                        if n % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.unwrap();
        }
        // Drained within a generous real-time bound, or a wake-up was lost.
        timeout(Duration::from_secs(20), async {
            while queue.len() + queue.active() > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("queue did not drain");
        queue.close();
        runner.await.unwrap();
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn queue_and_lease_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<WorkQueue>();
        check::<Lease>();
    }
}
