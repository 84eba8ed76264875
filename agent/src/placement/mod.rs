//! Placement: matches queued launches to offers and builds the Mesos
//! `TaskInfo`s. Pure: the queue (in launch order), the offers and what is
//! known of the cluster in; a plan per offer, and why each task left
//! waits, out.
//!
//! Each task goes, in queue order, to the offer that satisfies its
//! constraints (`constraints`), fits its asks (`free`) and runs the fewest
//! of its app's tasks: without constraints, an app spreads across nodes.
//! Tasks of one app and revision that did not fit are not tried again in
//! the same round (what is left only shrinks), so a round costs about
//! (apps + placed tasks) × offers checks, not queued tasks × offers.

mod constraints;
mod free;
mod task_info;
#[cfg(test)]
mod tests;
mod why;

use std::collections::HashMap;

use mesos::types::{Offer, OfferId, TaskInfo};
use sextant_proto::proto::{Constraint, HostPort, LaunchRequest, TaskSpec};

pub use constraints::{ConstraintError, HOSTNAME, NodeFacts, RegexCache};
pub use free::Free;
pub use task_info::port_env_name;

use constraints::{Compiled, ValueCounts};
use why::Refusal;

/// What to do with one offer: launch `tasks` (possibly none: decline).
#[derive(Debug, Clone)]
pub struct OfferPlan {
    pub offer_id: OfferId,
    pub agent_id: mesos::types::AgentId,
    pub hostname: String,
    pub tasks: Vec<TaskInfo>,
    /// Host ports given to each launched task, by task id.
    pub ports: Vec<(String, Vec<HostPort>)>,
}

/// What placement knows of the cluster besides this round's offers.
pub trait Known {
    /// How many live, launched tasks of app `namespace/name` run on each
    /// Mesos agent (by agent id).
    fn placed(&self, app: &str) -> Option<&HashMap<String, u32>>;
    /// What offers told of a Mesos agent (hostname, attributes).
    fn facts(&self, agent_id: &str) -> Option<&NodeFacts>;
    /// Every Mesos agent offers told of.
    fn all_facts(&self) -> Vec<&NodeFacts>;
}

/// A cluster of which nothing is known but the offers (no task runs).
pub struct NothingKnown;

impl Known for NothingKnown {
    fn placed(&self, _app: &str) -> Option<&HashMap<String, u32>> {
        None
    }
    fn facts(&self, _agent_id: &str) -> Option<&NodeFacts> {
        None
    }
    fn all_facts(&self) -> Vec<&NodeFacts> {
        Vec::new()
    }
}

/// One offer round placed.
#[derive(Debug, Clone)]
pub struct Round {
    /// One per offer, in the offers' order.
    pub plans: Vec<OfferPlan>,
    /// Every queued task left waiting, with why, in queue order.
    pub waiting: Vec<(String, String)>,
    /// What each offer has left once its plan's tasks are taken.
    pub left: Vec<Free>,
}

/// One app's state within a round: its constraints, compiled, and how
/// many of its tasks each offer's node and each constrained value holds.
struct AppRound {
    raw: Vec<Constraint>,
    constraints: Result<Vec<Compiled>, ConstraintError>,
    counts: Vec<ValueCounts>,
    on_offer: Vec<u32>,
}

impl AppRound {
    fn new(
        app: &str,
        spec: &TaskSpec,
        offers: &[Offer],
        facts: &[NodeFacts],
        known: &dyn Known,
        cache: &mut RegexCache,
    ) -> Self {
        let placed = known.placed(app);
        let on_offer = offers
            .iter()
            .map(|o| placed.and_then(|p| p.get(&o.agent_id.value)).copied().unwrap_or(0))
            .collect();
        let constraints = constraints::compile(&spec.constraints, cache);
        let counts = match &constraints {
            Ok(compiled) if !compiled.is_empty() => {
                let on_nodes: Vec<(&NodeFacts, u32)> = placed
                    .into_iter()
                    .flatten()
                    .filter_map(|(agent, n)| known.facts(agent).map(|f| (f, *n)))
                    .collect();
                let mut all = known.all_facts();
                all.extend(facts);
                constraints::counts_for(compiled, on_nodes.iter().copied(), all.iter().copied())
            }
            _ => Vec::new(),
        };
        Self {
            raw: spec.constraints.clone(),
            constraints,
            counts,
            on_offer,
        }
    }

    /// The first of the constraints node `facts` breaks.
    fn broken(&self, facts: &NodeFacts) -> Option<usize> {
        let compiled = self.constraints.as_ref().ok()?;
        compiled
            .iter()
            .zip(&self.counts)
            .position(|(c, counts)| !c.allows(facts.value(&c.field), counts))
    }
}

/// Places `pending` (in launch order) onto `offers`. Every offer gets a
/// plan, with no tasks when nothing went there (the caller declines it).
pub fn place<'a>(
    pending: impl IntoIterator<Item = &'a LaunchRequest>,
    offers: &[Offer],
    known: &dyn Known,
    cache: &mut RegexCache,
) -> Round {
    let facts: Vec<NodeFacts> = offers.iter().map(NodeFacts::of).collect();
    let mut free: Vec<Free> = offers.iter().map(Free::of).collect();
    let mut plans: Vec<OfferPlan> = offers
        .iter()
        .map(|o| OfferPlan {
            offer_id: o.id.clone(),
            agent_id: o.agent_id.clone(),
            hostname: o.hostname.clone(),
            tasks: Vec::new(),
            ports: Vec::new(),
        })
        .collect();
    let mut apps: HashMap<String, AppRound> = HashMap::new();
    // (app, revision) → the spec that did not fit, and why.
    let mut failed: HashMap<(String, &str), (&TaskSpec, String)> = HashMap::new();
    let mut waiting = Vec::new();
    for request in pending {
        let Some(spec) = &request.spec else { continue };
        let app = crate::tasks::app_key(&request.namespace, &request.app);
        if let Some((failed_spec, why)) = failed.get(&(app.clone(), request.revision.as_str()))
            && *failed_spec == spec
        {
            waiting.push((request.task_id.clone(), why.clone()));
            continue;
        }
        let state = apps
            .entry(app.clone())
            .or_insert_with(|| AppRound::new(&app, spec, offers, &facts, known, cache));
        if state.raw != spec.constraints {
            *state = AppRound::new(&app, spec, offers, &facts, known, cache);
        }
        if let Err(e) = &state.constraints {
            waiting.push((request.task_id.clone(), format!("cannot be placed: {e}")));
            continue;
        }
        let mut best: Option<(u32, usize)> = None;
        for i in 0..offers.len() {
            let score = state.on_offer[i];
            if best.is_some_and(|(s, _)| s <= score) || free[i].fits(spec).is_err() || state.broken(&facts[i]).is_some()
            {
                continue;
            }
            best = Some((score, i));
            if score == 0 {
                break;
            }
        }
        let Some((_, i)) = best else {
            let refusals: Vec<Refusal> = facts
                .iter()
                .zip(&free)
                .map(|(f, left)| match state.broken(f) {
                    Some(c) => Refusal::Constraint(c),
                    None => match left.fits(spec) {
                        Err(free::Misfit::HostPort(p)) => Refusal::HostPort(p),
                        _ => Refusal::Short,
                    },
                })
                .collect();
            let compiled = state.constraints.as_deref().unwrap_or_default();
            let left: Vec<&Free> = free.iter().collect();
            let why = why::message(spec, compiled, &request.app, &refusals, &left);
            waiting.push((request.task_id.clone(), why.clone()));
            failed.insert((app, request.revision.as_str()), (spec, why));
            continue;
        };
        let Some(host_ports) = free[i].take(spec) else { continue };
        state.on_offer[i] += 1;
        if let Ok(compiled) = &state.constraints {
            for (c, counts) in compiled.iter().zip(state.counts.iter_mut()) {
                if let Some(v) = facts[i].value(&c.field) {
                    counts.add(v);
                }
            }
        }
        let ports: Vec<HostPort> = spec
            .ports
            .iter()
            .zip(&host_ports)
            .map(|(p, &hp)| HostPort {
                name: p.name.clone(),
                port: u32::try_from(hp).unwrap_or(0),
            })
            .collect();
        plans[i]
            .tasks
            .push(task_info::task_info(request, spec, &offers[i], &host_ports));
        plans[i].ports.push((request.task_id.clone(), ports));
    }
    Round {
        plans,
        waiting,
        left: free,
    }
}

/// Why a task waits before any offer round has judged it: what placement
/// will look for.
pub fn waiting_message(spec: &TaskSpec) -> String {
    let mut needs = format!("cpus {}, mem {} MiB, disk {} MiB", spec.cpus, spec.mem, spec.disk);
    let any = spec.ports.iter().filter(|p| p.host_port == 0).count();
    if any > 0 {
        needs.push_str(&format!(", {any} port{}", if any == 1 { "" } else { "s" }));
    }
    let fixed: Vec<String> = spec
        .ports
        .iter()
        .filter(|p| p.host_port != 0)
        .map(|p| p.host_port.to_string())
        .collect();
    if !fixed.is_empty() {
        let label = if fixed.len() == 1 { "host port" } else { "host ports" };
        needs.push_str(&format!(", {label} {}", fixed.join(", ")));
    }
    format!("waiting for an offer: needs {needs}")
}
