//! The launch queue: which queued task placement tries first.
//!
//! Production before preemptible; within a tier, fair across apps: each
//! app's queued tasks take successive *rounds*, and an app that queues
//! later starts at the round the queue has reached, so its first task goes
//! next to the others' current ones instead of behind all of a big app's
//! tasks (start-time fair queueing, one share per app). Ordered by
//! (tier, round, arrival) in a `BTreeMap`: queueing, taking and dropping a
//! task cost O(log n), and placement walks it in order without a copy.

use std::collections::{BTreeMap, HashMap};

use sextant_proto::proto::Priority;

/// The two tiers, in launch order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Production = 0,
    Preemptible = 1,
}

impl Tier {
    /// The tier of a contract priority (unspecified is production).
    pub fn of(priority: i32) -> Tier {
        match Priority::try_from(priority) {
            Ok(Priority::Preemptible) => Tier::Preemptible,
            _ => Tier::Production,
        }
    }

    /// As `ListQueue` and messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Production => "production",
            Tier::Preemptible => "preemptible",
        }
    }
}

/// A queued task's place in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    tier: Tier,
    round: u64,
    seq: u64,
}

/// An app's share of a tier: the round its next queued task takes, and how
/// many it has queued (the entry goes when none are left).
#[derive(Debug)]
struct Share {
    next_round: u64,
    queued: usize,
}

/// Queued task ids in launch order.
#[derive(Debug, Default)]
pub struct LaunchQueue {
    order: BTreeMap<Key, String>,
    keys: HashMap<String, (Key, String)>,
    shares: HashMap<(Tier, String), Share>,
    /// Per tier, the latest round a task was taken from.
    reached: [u64; 2],
    /// Tasks queued at the back, and put in front, so far: keys count up
    /// from `MIDDLE` and down from it, so every key is distinct.
    seq: u64,
    fronts: u64,
}

const MIDDLE: u64 = u64::MAX / 2;

impl LaunchQueue {
    /// Queues `task_id` of app `app` (a `namespace/name` key) at the back of
    /// its app's share. Queueing an id already queued changes nothing.
    pub fn push(&mut self, task_id: &str, app: &str, tier: Tier) {
        if self.keys.contains_key(task_id) {
            return;
        }
        let reached = self.reached[tier as usize];
        let share = self.shares.entry((tier, app.to_string())).or_insert(Share {
            next_round: reached,
            queued: 0,
        });
        let round = share.next_round.max(reached);
        share.next_round = round + 1;
        share.queued += 1;
        self.seq += 1;
        let seq = MIDDLE + self.seq;
        self.insert(task_id, app, Key { tier, round, seq });
    }

    /// Queues `task_id` ahead of every task of its tier (a task whose
    /// ACCEPT failed goes first again).
    pub fn push_front(&mut self, task_id: &str, app: &str, tier: Tier) {
        if self.keys.contains_key(task_id) {
            return;
        }
        let share = self.shares.entry((tier, app.to_string())).or_insert(Share {
            next_round: self.reached[tier as usize],
            queued: 0,
        });
        share.queued += 1;
        // Round 0 sorts before every round reached; among tasks put in
        // front, the latest goes first.
        self.fronts += 1;
        let seq = MIDDLE - self.fronts;
        self.insert(task_id, app, Key { tier, round: 0, seq });
    }

    fn insert(&mut self, task_id: &str, app: &str, key: Key) {
        self.order.insert(key, task_id.to_string());
        self.keys.insert(task_id.to_string(), (key, app.to_string()));
    }

    /// Takes `task_id` out because it was placed: the queue has reached its
    /// round. Returns whether it was queued.
    pub fn take(&mut self, task_id: &str) -> bool {
        match self.unlink(task_id) {
            Some(key) => {
                let reached = &mut self.reached[key.tier as usize];
                *reached = (*reached).max(key.round);
                true
            }
            None => false,
        }
    }

    /// Takes `task_id` out without launching it (dropped, or it ended).
    /// Returns whether it was queued.
    pub fn remove(&mut self, task_id: &str) -> bool {
        self.unlink(task_id).is_some()
    }

    fn unlink(&mut self, task_id: &str) -> Option<Key> {
        let (key, app) = self.keys.remove(task_id)?;
        self.order.remove(&key);
        let share_key = (key.tier, app);
        if let Some(share) = self.shares.get_mut(&share_key) {
            share.queued = share.queued.saturating_sub(1);
            if share.queued == 0 {
                self.shares.remove(&share_key);
            }
        }
        Some(key)
    }

    /// Queued ids in launch order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.order.values().map(String::as_str)
    }

    pub fn contains(&self, task_id: &str) -> bool {
        self.keys.contains_key(task_id)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(q: &LaunchQueue) -> Vec<&str> {
        q.iter().collect()
    }

    #[test]
    fn production_goes_before_preemptible_whatever_the_arrival() {
        let mut q = LaunchQueue::default();
        q.push("batch.1", "ns/batch", Tier::Preemptible);
        q.push("web.1", "ns/web", Tier::Production);
        assert_eq!(ids(&q), ["web.1", "batch.1"]);
    }

    #[test]
    fn one_big_app_does_not_starve_an_app_that_queues_after_it() {
        let mut q = LaunchQueue::default();
        for i in 0..100 {
            q.push(&format!("big.{i:03}"), "ns/big", Tier::Production);
        }
        q.push("small.0", "ns/small", Tier::Production);
        q.push("small.1", "ns/small", Tier::Production);
        let order = ids(&q);
        let pos = |id: &str| order.iter().position(|x| *x == id).unwrap_or(usize::MAX);
        assert!(
            pos("small.0") <= 1,
            "small's first task goes next to big's first: {order:?}"
        );
        assert!(pos("small.1") <= 3, "then alternates: {order:?}");
    }

    #[test]
    fn an_app_arriving_later_starts_at_the_round_reached() {
        let mut q = LaunchQueue::default();
        for i in 0..10 {
            q.push(&format!("big.{i}"), "ns/big", Tier::Production);
        }
        for i in 0..5 {
            assert!(q.take(&format!("big.{i}")));
        }
        q.push("late.0", "ns/late", Tier::Production);
        // Not ahead of big's remaining tasks as if it had waited since
        // round 0, and not behind all of them.
        assert_eq!(&ids(&q)[..3], ["late.0", "big.5", "big.6"]);
    }

    #[test]
    fn a_failed_accept_goes_first_again_and_removal_forgets() {
        let mut q = LaunchQueue::default();
        q.push("a.0", "ns/a", Tier::Production);
        q.push("a.1", "ns/a", Tier::Production);
        assert!(q.take("a.0"));
        q.push_front("a.0", "ns/a", Tier::Production);
        assert_eq!(ids(&q), ["a.0", "a.1"]);
        q.push_front("b.0", "ns/b", Tier::Production);
        assert_eq!(ids(&q), ["b.0", "a.0", "a.1"], "each put in front has its own place");
        assert!(q.remove("b.0"));
        q.push("a.0", "ns/a", Tier::Production);
        assert_eq!(q.len(), 2, "queueing a queued id changes nothing");
        assert!(q.remove("a.1"));
        assert!(!q.remove("a.1"));
        assert!(q.take("a.0"));
        assert!(q.is_empty());
        assert!(q.shares.is_empty(), "an app with nothing queued leaves no share behind");
    }
}
