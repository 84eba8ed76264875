//! What an offer has left while placing: cpus, mem, disk and port ranges,
//! and whether a task's asks fit (checked without copying, taken only
//! once placement chooses the offer).

use mesos::types::{Offer, Range, ValueType};
use sextant_proto::proto::TaskSpec;

/// Mesos keeps scalars to 3 decimals; compare with a little slack.
pub const EPS: f64 = 1e-6;

/// Free resources of one offer (or of a node, for preemption).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Free {
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub ports: Vec<Range>,
}

/// The first reason a task's asks do not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfit {
    /// A fixed host port that is not free.
    HostPort(u64),
    /// Short of scalars or of any-port count.
    Short,
}

impl Free {
    pub fn of(offer: &Offer) -> Self {
        let mut free = Free::default();
        for r in &offer.resources {
            match (r.name.as_str(), r.kind) {
                ("cpus", ValueType::Scalar) => free.cpus += r.scalar.map_or(0.0, |s| s.value),
                ("mem", ValueType::Scalar) => free.mem += r.scalar.map_or(0.0, |s| s.value),
                ("disk", ValueType::Scalar) => free.disk += r.scalar.map_or(0.0, |s| s.value),
                ("ports", ValueType::Ranges) => {
                    if let Some(ranges) = &r.ranges {
                        free.ports
                            .extend(ranges.range.iter().copied().filter(|r| r.begin <= r.end));
                    }
                }
                _ => {}
            }
        }
        free
    }

    /// How many ports are free.
    pub fn port_count(&self) -> u64 {
        self.ports
            .iter()
            .map(|r| r.end.saturating_sub(r.begin).saturating_add(1))
            .sum()
    }

    pub fn has_port(&self, port: u64) -> bool {
        self.ports.iter().any(|r| r.begin <= port && port <= r.end)
    }

    /// Whether `spec` fits, without taking anything.
    pub fn fits(&self, spec: &TaskSpec) -> Result<(), Misfit> {
        let mut fixed = 0u64;
        for port in spec.ports.iter().filter(|p| p.host_port != 0) {
            let p = u64::from(port.host_port);
            if !self.has_port(p) {
                return Err(Misfit::HostPort(p));
            }
            fixed += 1;
        }
        let short = spec.cpus > self.cpus + EPS
            || spec.mem > self.mem + EPS
            || spec.disk > self.disk + EPS
            // The fixed ports are free (above); the rest must come from
            // what they leave.
            || (spec.ports.len() as u64).saturating_sub(fixed) > self.port_count().saturating_sub(fixed);
        if short { Err(Misfit::Short) } else { Ok(()) }
    }

    /// Takes the task's resources (which must fit); returns the chosen host
    /// ports in the spec's order, or `None` if they did not fit after all.
    pub fn take(&mut self, spec: &TaskSpec) -> Option<Vec<u64>> {
        self.fits(spec).ok()?;
        let mut ports = self.ports.clone();
        // Fixed ports first, so that an any-port does not take one of them.
        for port in spec.ports.iter().filter(|p| p.host_port != 0) {
            ports = remove_port(&ports, u64::from(port.host_port));
        }
        let mut chosen = Vec::with_capacity(spec.ports.len());
        for port in &spec.ports {
            let wanted = if port.host_port != 0 {
                u64::from(port.host_port)
            } else {
                let p = ports.iter().find(|r| r.begin <= r.end).map(|r| r.begin)?;
                ports = remove_port(&ports, p);
                p
            };
            chosen.push(wanted);
        }
        self.cpus -= spec.cpus;
        self.mem -= spec.mem;
        self.disk -= spec.disk;
        self.ports = ports;
        Some(chosen)
    }

    /// Adds what a task holds (a preemption victim's release).
    pub fn add(&mut self, cpus: f64, mem: f64, disk: f64, ports: &[u64]) {
        self.cpus += cpus;
        self.mem += mem;
        self.disk += disk;
        self.ports.extend(ports.iter().map(|&p| Range { begin: p, end: p }));
    }
}

fn remove_port(ranges: &[Range], port: u64) -> Vec<Range> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for r in ranges {
        if port < r.begin || port > r.end {
            out.push(*r);
            continue;
        }
        if r.begin < port {
            out.push(Range {
                begin: r.begin,
                end: port - 1,
            });
        }
        if port < r.end {
            out.push(Range {
                begin: port + 1,
                end: r.end,
            });
        }
    }
    out
}
