//! Placement and preemption at scale, CPU time of the pure functions:
//!
//! - one offer round placing 10,000 queued tasks (100 apps, a mix of
//!   constraints) onto offers from 100 nodes, reasons for the unplaced
//!   included (target: at most 100 ms);
//! - choosing victims for one production task on 1,000 nodes running
//!   50,000 preemptible tasks (target: at most 10 ms).
//!
//! `cargo bench -p sextant-agent --bench placement`

use std::time::{Duration, Instant};

use mesos::types::{AgentId, Attribute, FrameworkId, Offer, OfferId, Range, Resource, Text, ValueType};
use sextant_agent::placement::{Free, NothingKnown, RegexCache, place};
use sextant_agent::preemption::{Room, Victim, choose};
use sextant_proto::proto::{Constraint, LaunchRequest, PortSpec, TaskSpec};

fn offer(i: usize) -> Offer {
    Offer {
        id: OfferId::new(format!("O{i}")),
        framework_id: FrameworkId::new("F"),
        agent_id: AgentId::new(format!("S{i}")),
        hostname: format!("node-{i:03}"),
        url: None,
        resources: vec![
            Resource::scalar("cpus", 16.0),
            Resource::scalar("mem", 65536.0),
            Resource::ranges(
                "ports",
                vec![Range {
                    begin: 31000,
                    end: 32000,
                }],
            ),
        ],
        attributes: vec![Attribute {
            name: "rack".into(),
            kind: ValueType::Text,
            scalar: None,
            ranges: None,
            set: None,
            text: Some(Text {
                value: format!("r{}", i % 10),
            }),
        }],
        executor_ids: vec![],
        allocation_info: None,
    }
}

fn constraint(field: &str, operator: &str, value: &str) -> Constraint {
    Constraint {
        field: field.into(),
        operator: operator.into(),
        value: value.into(),
    }
}

/// 100 apps of 100 tasks, a fifth each: no constraint, UNIQUE hostname,
/// MAX_PER rack 5, GROUP_BY rack, LIKE rack.
fn queue() -> Vec<LaunchRequest> {
    let mut out = Vec::new();
    for app in 0..100 {
        let constraints = match app % 5 {
            0 => vec![],
            1 => vec![constraint("hostname", "UNIQUE", "")],
            2 => vec![constraint("rack", "MAX_PER", "5")],
            3 => vec![constraint("rack", "GROUP_BY", "")],
            _ => vec![constraint("rack", "LIKE", "r[0-4]")],
        };
        for i in 0..100 {
            out.push(LaunchRequest {
                task_id: format!("default.app{app}.0a1b2c3d4e.{i:04}"),
                namespace: "default".into(),
                app: format!("app{app}"),
                revision: "0a1b2c3d4e".into(),
                spec: Some(TaskSpec {
                    command: "sleep 1".into(),
                    cpus: 0.1,
                    mem: 64.0,
                    ports: vec![PortSpec {
                        name: "http".into(),
                        ..PortSpec::default()
                    }],
                    constraints: constraints.clone(),
                    ..TaskSpec::default()
                }),
            });
        }
    }
    out
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let offers: Vec<Offer> = (0..100).map(offer).collect();
    let pending = queue();
    let mut samples = Vec::new();
    let mut placed = 0;
    let mut waiting = 0;
    for _ in 0..20 {
        let mut cache = RegexCache::default();
        let started = Instant::now();
        let round = place(&pending, &offers, &NothingKnown, &mut cache);
        samples.push(started.elapsed());
        placed = round.plans.iter().map(|p| p.tasks.len()).sum::<usize>();
        waiting = round.waiting.len();
    }
    println!(
        "place: 10,000 queued tasks, 100 offers: median {:.1} ms (placed {placed}, waiting with a reason {waiting})",
        median(samples).as_secs_f64() * 1e3
    );

    let rooms: Vec<Room> = (0..1000)
        .map(|n| Room {
            agent_id: format!("S{n}"),
            hostname: format!("node-{n:04}"),
            free: Free {
                cpus: 0.05,
                mem: 100.0,
                ..Free::default()
            },
            victims: (0..50)
                .map(|v| Victim {
                    task_id: format!("default.batch{}.0a1b2c3d4e.{n:04}{v:02}", v % 7),
                    cpus: 0.1 + 0.01 * ((n + v) % 13) as f64,
                    mem: 128.0 + 16.0 * ((n * 7 + v) % 11) as f64,
                    disk: 0.0,
                    ports: vec![],
                    running_since: 1_700_000_000.0 + (n * 50 + v) as f64,
                })
                .collect(),
        })
        .collect();
    let spec = TaskSpec {
        cpus: 1.0,
        mem: 2048.0,
        ..TaskSpec::default()
    };
    let mut samples = Vec::new();
    let mut victims = 0;
    for _ in 0..50 {
        let started = Instant::now();
        let choice = choose(&spec, &rooms);
        samples.push(started.elapsed());
        victims = choice.map_or(0, |c| c.victims.len());
    }
    println!(
        "choose victims: 1,000 nodes, 50,000 preemptible tasks: median {:.2} ms ({victims} victims on one node)",
        median(samples).as_secs_f64() * 1e3
    );
}
