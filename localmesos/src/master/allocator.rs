//! The allocator: turns each node's free resources into offers.
//!
//! Every `offer_interval` (and right after a subscription, a REVIVE or a
//! task's end) each connected, active framework with an unsuppressed role
//! gets one offer per node with whatever is neither used by tasks nor held
//! by another outstanding offer. Frameworks holding the fewest CPUs go
//! first. DECLINE and the unused part of an ACCEPT install a filter: the
//! same (or a smaller) set of resources on that node is not offered to that
//! framework and role again until `refuse_seconds` pass or it REVIVEs.
//! Host ports some other program listens on are left out of offers.

use std::time::Duration;

use mesos::types::{AllocationInfo, Attribute, Event, EventType, OfferId, Offers, Text, Url, ValueType};
use tokio::time::Instant;

use super::{Master, Offer, State};
use crate::resources::Resources;

/// `Filters.refuse_seconds` default.
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;
/// Longest refusal honoured (365 days).
const MAX_REFUSE_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// "Do not offer these resources of this node to this framework (role)
/// again before `expires`."
#[derive(Debug, Clone)]
pub struct Filter {
    pub framework_id: String,
    pub role: String,
    pub agent: usize,
    pub resources: Resources,
    pub expires: Instant,
}

/// How long a refusal lasts: default 5 s, negative → default, capped at a
/// year.
pub fn refuse_duration(refuse_seconds: Option<f64>) -> Duration {
    let seconds = match refuse_seconds {
        Some(s) if s.is_finite() && s >= 0.0 => s.min(MAX_REFUSE_SECONDS),
        Some(s) if s == f64::INFINITY => MAX_REFUSE_SECONDS,
        _ => DEFAULT_REFUSE_SECONDS,
    };
    Duration::from_secs_f64(seconds)
}

/// Installs a filter for `resources` of node `agent` (nothing for a zero
/// duration or no resources).
pub(super) fn add_filter(
    state: &mut State,
    framework_id: &str,
    role: &str,
    agent: usize,
    resources: Resources,
    refuse_seconds: Option<f64>,
) {
    let duration = refuse_duration(refuse_seconds);
    if duration.is_zero() || resources.is_empty() {
        return;
    }
    state.filters.push(Filter {
        framework_id: framework_id.to_string(),
        role: role.to_string(),
        agent,
        resources,
        expires: Instant::now() + duration,
    });
}

impl Master {
    /// Makes offers of every node's free resources.
    pub(super) fn allocate(&self, state: &mut State, now: Instant) {
        state.filters.retain(|f| f.expires > now);
        let State {
            frameworks,
            agents,
            offers,
            filters,
            next_offer,
            ..
        } = state;

        let mut offered = vec![Resources::default(); agents.len()];
        let mut held_cpus: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
        for offer in offers.values() {
            if let Some(slot) = offered.get_mut(offer.agent) {
                slot.add(&offer.resources);
            }
            *held_cpus.entry(offer.framework_id.as_str()).or_default() += offer.resources.cpus;
        }
        let mut order: Vec<(i64, String)> = frameworks
            .values()
            .filter(|f| f.connected() && f.active)
            .map(|f| {
                // Kept per node and framework: the cost is the nodes', not
                // the tasks'.
                let used: i64 = agents.iter().filter_map(|a| a.cpus_by_framework.get(&f.id.value)).sum();
                let held = held_cpus.get(f.id.value.as_str()).copied().unwrap_or(0);
                (used + held, f.id.value.clone())
            })
            .collect();
        order.sort();
        // Ports another program listens on are not offered (read once per
        // pass, only when someone may get an offer).
        let taken =
            (self.skip_bound_ports && !order.is_empty()).then(|| Resources::ports(crate::host_ports::listening()));

        for (_, framework_id) in order {
            let Some(framework) = frameworks.get(&framework_id) else {
                continue;
            };
            let roles: Vec<String> = framework
                .roles()
                .into_iter()
                .filter(|r| !framework.suppressed_roles.contains(r))
                .collect();
            if roles.is_empty() {
                continue;
            }
            let multi_role = framework.multi_role();
            let mut batch = Vec::new();
            for (index, agent) in agents.iter().enumerate() {
                if agent.reach != super::faults::Reach::Reachable {
                    continue;
                }
                let mut free = agent.total.clone();
                free.subtract(&agent.used);
                free.subtract(&offered[index]);
                if let Some(taken) = &taken {
                    free.subtract(taken);
                }
                if !free.is_allocatable() {
                    continue;
                }
                let filtered = |role: &String| {
                    filters.iter().any(|f| {
                        f.framework_id == framework_id
                            && f.role == *role
                            && f.agent == index
                            && f.resources.contains(&free)
                    })
                };
                let Some(role) = roles.iter().find(|r| !filtered(r)) else {
                    continue;
                };
                let id = format!("{}-O{}", self.identity.id, *next_offer);
                *next_offer += 1;
                offered[index].add(&free);
                let allocation_role = multi_role.then_some(role.as_str());
                batch.push(mesos::types::Offer {
                    id: OfferId::new(id.clone()),
                    framework_id: framework.id.clone(),
                    agent_id: agent.id.clone(),
                    hostname: agent.config.hostname.clone(),
                    url: Some(Url {
                        scheme: "http".to_string(),
                        address: mesos::types::Address {
                            hostname: Some(agent.config.hostname.clone()),
                            ip: Some(self.identity.ip.to_string()),
                            port: i32::from(self.identity.port),
                        },
                        path: Some(format!("/slave({})", index + 1)),
                    }),
                    resources: free.to_offer_resources(allocation_role),
                    attributes: agent
                        .config
                        .attributes
                        .iter()
                        .map(|(name, value)| Attribute {
                            name: name.clone(),
                            kind: ValueType::Text,
                            scalar: None,
                            ranges: None,
                            set: None,
                            text: Some(Text { value: value.clone() }),
                        })
                        .collect(),
                    executor_ids: Vec::new(),
                    allocation_info: allocation_role.map(|role| AllocationInfo {
                        role: Some(role.to_string()),
                    }),
                });
                offers.insert(
                    id.clone(),
                    Offer {
                        id,
                        framework_id: framework_id.clone(),
                        agent: index,
                        role: role.clone(),
                        resources: free,
                    },
                );
            }
            if !batch.is_empty() {
                tracing::debug!(framework = %framework_id, offers = batch.len(), "sending offers");
                framework.send(&Event {
                    offers: Some(Offers { offers: batch }),
                    ..Event::of(EventType::Offers)
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuse_seconds_defaults_and_caps() {
        assert_eq!(refuse_duration(None), Duration::from_secs(5));
        assert_eq!(refuse_duration(Some(-1.0)), Duration::from_secs(5));
        assert_eq!(refuse_duration(Some(0.0)), Duration::ZERO);
        assert_eq!(refuse_duration(Some(1.5)), Duration::from_millis(1500));
        assert_eq!(refuse_duration(Some(1e12)), Duration::from_secs(365 * 24 * 3600));
    }
}
