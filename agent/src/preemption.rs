//! Preemption: choosing which preemptible tasks to kill so that a waiting
//! production task fits. Pure: the task's asks and, per node, what is free
//! and which preemptible tasks run there, in; one node and its victims out.
//!
//! Only one node is freed for one task. On each node the victims are the
//! fewest whose release makes the task fit (taken greedily, the tasks that
//! cover most of what is missing first, then the youngest; then any victim
//! not needed after all is spared); across nodes the fewest victims win,
//! then the youngest (tasks that have run least lose least). Production
//! tasks are never victims: only preemptible ones are offered here.
//!
//! [`Budget`] is the rate limit: at most so many victims in a sliding
//! window, so that the cluster never thrashes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sextant_proto::proto::TaskSpec;

use crate::placement::Free;

/// A preemptible task that could make room.
#[derive(Debug, Clone, PartialEq)]
pub struct Victim {
    pub task_id: String,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    /// Host ports it holds.
    pub ports: Vec<u64>,
    /// Unix seconds it started running (0: not running yet, youngest).
    pub running_since: f64,
}

/// One node as preemption sees it.
#[derive(Debug, Clone)]
pub struct Room {
    pub agent_id: String,
    pub hostname: String,
    /// What is free there now without killing anything (what an offer
    /// left; nothing when the node made no offer).
    pub free: Free,
    pub victims: Vec<Victim>,
}

/// The node to free and the tasks to kill there.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub agent_id: String,
    pub hostname: String,
    pub victims: Vec<String>,
}

/// The fewest victims on one node whose release makes `spec` fit, or
/// `None` when no node can be freed enough (or one already has room: then
/// the task only waits for its offer).
pub fn choose(spec: &TaskSpec, rooms: &[Room]) -> Option<Choice> {
    if rooms.iter().any(|r| r.free.fits(spec).is_ok()) {
        return None;
    }
    let mut best: Option<(usize, f64, &Room, Vec<usize>)> = None;
    for room in rooms {
        let Some(chosen) = on_node(spec, room) else { continue };
        // Youngest: the latest start among the chosen, on average.
        let age = chosen.iter().map(|&i| room.victims[i].running_since).sum::<f64>() / chosen.len().max(1) as f64;
        let better = match &best {
            None => true,
            Some((count, best_age, _, _)) => chosen.len() < *count || (chosen.len() == *count && age > *best_age),
        };
        if better {
            best = Some((chosen.len(), age, room, chosen));
        }
    }
    best.map(|(_, _, room, chosen)| Choice {
        agent_id: room.agent_id.clone(),
        hostname: room.hostname.clone(),
        victims: chosen.into_iter().map(|i| room.victims[i].task_id.clone()).collect(),
    })
}

/// The victims (indices into `room.victims`) that free `room` for `spec`.
fn on_node(spec: &TaskSpec, room: &Room) -> Option<Vec<usize>> {
    let mut all = room.free.clone();
    for v in &room.victims {
        all.add(v.cpus, v.mem, v.disk, &v.ports);
    }
    all.fits(spec).ok()?;
    // What is missing, per resource (at least a little, to weigh by).
    let missing = |have: f64, want: f64| (want - have).max(0.0);
    let (mc, mm, md) = (
        missing(room.free.cpus, spec.cpus),
        missing(room.free.mem, spec.mem),
        missing(room.free.disk, spec.disk),
    );
    let fixed: Vec<u64> = spec
        .ports
        .iter()
        .map(|p| u64::from(p.host_port))
        .filter(|&p| p != 0 && !room.free.has_port(p))
        .collect();
    let cover = |v: &Victim| {
        let part = |give: f64, need: f64| if need > 0.0 { (give / need).min(1.0) } else { 0.0 };
        part(v.cpus, mc)
            + part(v.mem, mm)
            + part(v.disk, md)
            + v.ports.iter().filter(|p| fixed.contains(p)).count() as f64
            + v.ports.len() as f64 * 1e-3
    };
    let mut order: Vec<usize> = (0..room.victims.len()).collect();
    order.sort_by(|&a, &b| {
        let (va, vb) = (&room.victims[a], &room.victims[b]);
        cover(vb)
            .total_cmp(&cover(va))
            .then(vb.running_since.total_cmp(&va.running_since))
    });
    let mut free = room.free.clone();
    let mut chosen = Vec::new();
    for i in order {
        if free.fits(spec).is_ok() {
            break;
        }
        let v = &room.victims[i];
        free.add(v.cpus, v.mem, v.disk, &v.ports);
        chosen.push(i);
    }
    // Spare, oldest first, any victim the others make room without.
    let mut k = chosen.len();
    while k > 0 {
        k -= 1;
        let without: Vec<usize> = chosen
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, &i)| i)
            .collect();
        let mut free = room.free.clone();
        for &i in &without {
            let v = &room.victims[i];
            free.add(v.cpus, v.mem, v.disk, &v.ports);
        }
        if free.fits(spec).is_ok() {
            chosen = without;
        }
    }
    Some(chosen)
}

/// How many victims preemption may still take: at most `max` within any
/// `window`.
#[derive(Debug)]
pub struct Budget {
    max: usize,
    window: Duration,
    /// When each victim of the window was taken, oldest first.
    taken: VecDeque<Instant>,
}

impl Budget {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            taken: VecDeque::new(),
        }
    }

    /// How many victims may be taken at `now`.
    pub fn left(&mut self, now: Instant) -> usize {
        while self
            .taken
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= self.window)
        {
            self.taken.pop_front();
        }
        self.max.saturating_sub(self.taken.len())
    }

    /// Records `victims` taken at `now`.
    pub fn spend(&mut self, victims: usize, now: Instant) {
        self.taken.extend(std::iter::repeat_n(now, victims));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards "preemptions are rate-limited so the cluster never thrashes":
    /// victims taken count against the window until they leave it.
    #[test]
    fn the_budget_allows_so_many_victims_per_window() {
        let start = Instant::now();
        let mut budget = Budget::new(20, Duration::from_secs(60));
        assert_eq!(budget.left(start), 20);
        budget.spend(15, start);
        assert_eq!(budget.left(start + Duration::from_secs(30)), 5);
        budget.spend(5, start + Duration::from_secs(30));
        assert_eq!(budget.left(start + Duration::from_secs(59)), 0, "spent");
        assert_eq!(
            budget.left(start + Duration::from_secs(60)),
            15,
            "the first 15 left the window"
        );
        assert_eq!(budget.left(start + Duration::from_secs(90)), 20);
    }

    fn spec(cpus: f64, mem: f64) -> TaskSpec {
        TaskSpec {
            cpus,
            mem,
            ..TaskSpec::default()
        }
    }

    fn victim(id: &str, cpus: f64, mem: f64, since: f64) -> Victim {
        Victim {
            task_id: id.into(),
            cpus,
            mem,
            disk: 0.0,
            ports: vec![],
            running_since: since,
        }
    }

    fn room(name: &str, cpus: f64, mem: f64, victims: Vec<Victim>) -> Room {
        Room {
            agent_id: format!("{name}-agent"),
            hostname: name.into(),
            free: Free {
                cpus,
                mem,
                ..Free::default()
            },
            victims,
        }
    }

    #[test]
    fn the_fewest_victims_on_one_node_are_chosen() {
        let rooms = [
            room(
                "a",
                0.0,
                0.0,
                vec![victim("a1", 0.5, 256.0, 10.0), victim("a2", 0.5, 256.0, 20.0)],
            ),
            room("b", 0.0, 0.0, vec![victim("b1", 1.0, 512.0, 5.0)]),
        ];
        let choice = choose(&spec(1.0, 512.0), &rooms).expect("room on b");
        assert_eq!(
            (choice.hostname.as_str(), choice.victims.as_slice()),
            ("b", &["b1".to_string()][..])
        );
    }

    #[test]
    fn among_equals_the_youngest_go_and_what_is_free_counts() {
        let rooms = [room(
            "a",
            0.5,
            256.0,
            vec![victim("old", 0.5, 256.0, 10.0), victim("young", 0.5, 256.0, 99.0)],
        )];
        let choice = choose(&spec(1.0, 512.0), &rooms).expect("one victim with what is free");
        assert_eq!(choice.victims, ["young"]);
    }

    #[test]
    fn a_victim_not_needed_after_all_is_spared() {
        // Greedy takes the big-mem task first, then needs cpus too; the
        // one big task alone would have done.
        let rooms = [room(
            "a",
            0.0,
            0.0,
            vec![
                victim("mem", 0.1, 1024.0, 1.0),
                victim("cpu", 1.0, 100.0, 2.0),
                victim("both", 1.0, 1024.0, 3.0),
            ],
        )];
        let choice = choose(&spec(1.0, 1000.0), &rooms).expect("room");
        assert_eq!(choice.victims, ["both"]);
    }

    #[test]
    fn nothing_is_killed_when_no_node_can_be_freed_enough_or_one_has_room() {
        let rooms = [room("a", 0.0, 0.0, vec![victim("a1", 0.5, 256.0, 1.0)])];
        assert_eq!(choose(&spec(2.0, 128.0), &rooms), None, "all of a is not enough");
        let rooms = [room("a", 4.0, 4096.0, vec![victim("a1", 0.5, 256.0, 1.0)])];
        assert_eq!(choose(&spec(1.0, 128.0), &rooms), None, "it fits already");
    }

    #[test]
    fn a_fixed_host_port_frees_the_task_holding_it() {
        let mut s = spec(0.1, 16.0);
        s.ports = vec![sextant_proto::proto::PortSpec {
            name: "http".into(),
            host_port: 8080,
            ..Default::default()
        }];
        let mut holder = victim("holder", 0.1, 16.0, 1.0);
        holder.ports = vec![8080];
        let rooms = [room("a", 1.0, 1024.0, vec![victim("other", 0.1, 16.0, 2.0), holder])];
        assert_eq!(choose(&s, &rooms).map(|c| c.victims), Some(vec!["holder".to_string()]));
    }
}
