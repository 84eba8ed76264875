//! Resource arithmetic for the local nodes.
//!
//! Scalars are kept in thousandths (Mesos keeps three decimal digits), so
//! sums and differences are exact; port ranges are a normalized set of
//! inclusive intervals. Only unreserved (`role: "*"`) `cpus`, `mem`, `disk`,
//! `gpus` and `ports` exist on a local node.

use std::fmt;

use mesos::types::{AllocationInfo, Range, Resource, ValueType};
use serde_json::{Value, json};

/// Thousandths per unit.
const MILLI: f64 = 1000.0;

/// A set of ports (or any u64s) as sorted, disjoint, non-adjacent intervals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// One inclusive interval (empty if `begin > end`).
    pub fn interval(begin: u64, end: u64) -> Self {
        let mut set = Self::default();
        set.insert(begin, end);
        set
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The intervals, sorted.
    #[cfg(test)]
    pub fn intervals(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Adds `[begin, end]`.
    pub fn insert(&mut self, begin: u64, end: u64) {
        if begin > end {
            return;
        }
        self.ranges.push((begin, end));
        self.ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.ranges.len());
        for &(b, e) in &self.ranges {
            match merged.last_mut() {
                Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((b, e)),
            }
        }
        self.ranges = merged;
    }

    pub fn add(&mut self, other: &RangeSet) {
        for &(b, e) in &other.ranges {
            self.insert(b, e);
        }
    }

    /// Removes every element of `other`.
    pub fn subtract(&mut self, other: &RangeSet) {
        let mut out = Vec::with_capacity(self.ranges.len());
        for &(b, e) in &self.ranges {
            let mut pieces = vec![(b, e)];
            for &(ob, oe) in &other.ranges {
                let mut next = Vec::new();
                for (pb, pe) in pieces {
                    if oe < pb || ob > pe {
                        next.push((pb, pe));
                        continue;
                    }
                    if ob > pb {
                        next.push((pb, ob - 1));
                    }
                    if oe < pe {
                        next.push((oe + 1, pe));
                    }
                }
                pieces = next;
            }
            out.extend(pieces);
        }
        self.ranges = out;
    }

    /// Whether every element of `other` is in `self`.
    pub fn contains(&self, other: &RangeSet) -> bool {
        other
            .ranges
            .iter()
            .all(|&(b, e)| self.ranges.iter().any(|&(sb, se)| sb <= b && e <= se))
    }

    /// Mesos' text form: `[31000-31000, 31005-32000]`.
    pub fn to_mesos_string(&self) -> String {
        let parts: Vec<String> = self.ranges.iter().map(|(b, e)| format!("{b}-{e}")).collect();
        format!("[{}]", parts.join(", "))
    }

    fn to_ranges(&self) -> Vec<Range> {
        self.ranges.iter().map(|&(begin, end)| Range { begin, end }).collect()
    }
}

/// Resources of a node, an offer or a task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Thousandths of a CPU.
    pub cpus: i64,
    /// Thousandths of a MB.
    pub mem: i64,
    /// Thousandths of a MB.
    pub disk: i64,
    /// Thousandths of a GPU (local nodes have none).
    pub gpus: i64,
    pub ports: RangeSet,
}

/// Converts a scalar value to thousandths, as Mesos rounds it.
pub fn to_milli(value: f64) -> i64 {
    // Saturating float-to-int conversion; callers reject non-finite values.
    (value * MILLI).round() as i64
}

/// Thousandths back to a scalar value.
pub fn from_milli(value: i64) -> f64 {
    value as f64 / MILLI
}

impl Resources {
    /// The total resources of a node.
    pub fn node(cpus: f64, mem: f64, disk: f64, ports: &[std::ops::RangeInclusive<u16>]) -> Self {
        let mut set = RangeSet::default();
        for range in ports {
            set.insert(u64::from(*range.start()), u64::from(*range.end()));
        }
        Self {
            cpus: to_milli(cpus).max(0),
            mem: to_milli(mem).max(0),
            disk: to_milli(disk).max(0),
            gpus: 0,
            ports: set,
        }
    }

    /// Only the ports (for taking ports away).
    pub fn ports(ports: RangeSet) -> Self {
        Self {
            ports,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cpus <= 0 && self.mem <= 0 && self.disk <= 0 && self.gpus <= 0 && self.ports.is_empty()
    }

    /// Whether the default allocator would offer these
    /// (`--min_allocatable_resources=cpus:0.01|mem:32`).
    pub fn is_allocatable(&self) -> bool {
        self.cpus >= 10 || self.mem >= 32_000
    }

    pub fn add(&mut self, other: &Resources) {
        self.cpus = self.cpus.saturating_add(other.cpus);
        self.mem = self.mem.saturating_add(other.mem);
        self.disk = self.disk.saturating_add(other.disk);
        self.gpus = self.gpus.saturating_add(other.gpus);
        self.ports.add(&other.ports);
    }

    /// Subtracts, never going below zero.
    pub fn subtract(&mut self, other: &Resources) {
        self.cpus = self.cpus.saturating_sub(other.cpus).max(0);
        self.mem = self.mem.saturating_sub(other.mem).max(0);
        self.disk = self.disk.saturating_sub(other.disk).max(0);
        self.gpus = self.gpus.saturating_sub(other.gpus).max(0);
        self.ports.subtract(&other.ports);
    }

    /// Whether `other` fits within `self`.
    pub fn contains(&self, other: &Resources) -> bool {
        other.cpus <= self.cpus
            && other.mem <= self.mem
            && other.disk <= self.disk
            && other.gpus <= self.gpus
            && self.ports.contains(&other.ports)
    }

    /// Parses what a framework asks for (TaskInfo.resources). `offer_role`
    /// is the role the offer was allocated to: resources naming another
    /// allocation role, or any reservation, are not available on a local
    /// node.
    pub fn from_request(resources: &[Resource], offer_role: &str) -> Result<Self, String> {
        let mut out = Resources::default();
        for r in resources {
            if let Some(role) = r.role.as_deref()
                && role != "*"
            {
                return Err(format!(
                    "Resource '{}' is reserved for role '{role}', which no local node has",
                    r.name
                ));
            }
            if let Some(role) = r.allocation_info.as_ref().and_then(|a| a.role.as_deref())
                && role != offer_role
            {
                return Err(format!(
                    "Resource '{}' is allocated to role '{role}' but the offer is allocated to '{offer_role}'",
                    r.name
                ));
            }
            match (r.name.as_str(), r.kind) {
                ("cpus" | "mem" | "disk" | "gpus", ValueType::Scalar) => {
                    let value = r
                        .scalar
                        .map(|s| s.value)
                        .ok_or_else(|| format!("Invalid scalar resource '{}': no 'scalar' value", r.name))?;
                    if !value.is_finite() || value < 0.0 {
                        return Err(format!("Invalid scalar resource '{}': {value}", r.name));
                    }
                    let milli = to_milli(value);
                    let slot = match r.name.as_str() {
                        "cpus" => &mut out.cpus,
                        "mem" => &mut out.mem,
                        "disk" => &mut out.disk,
                        _ => &mut out.gpus,
                    };
                    *slot = slot.saturating_add(milli);
                }
                ("ports", ValueType::Ranges) => {
                    let ranges = r.ranges.as_ref().map(|r| r.range.as_slice()).unwrap_or_default();
                    for range in ranges {
                        if range.begin > range.end {
                            return Err(format!(
                                "Invalid ranges resource 'ports': range [{}-{}] is empty",
                                range.begin, range.end
                            ));
                        }
                        let piece = RangeSet::interval(range.begin, range.end);
                        let mut fresh = piece.clone();
                        fresh.subtract(&out.ports);
                        if fresh != piece {
                            return Err("Invalid ranges resource 'ports': overlapping ranges".to_string());
                        }
                        out.ports.insert(range.begin, range.end);
                    }
                }
                (name, kind) => {
                    return Err(format!(
                        "Resource '{name}' of type {kind:?} is not offered by local nodes"
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The offer form: `ports, cpus, mem, disk` (the order a real agent
    /// given `cpus;mem;disk;ports` shows), unreserved, with
    /// `allocation_info` when the framework is MULTI_ROLE.
    pub fn to_offer_resources(&self, allocation_role: Option<&str>) -> Vec<Resource> {
        let mut out = Vec::new();
        if !self.ports.is_empty() {
            out.push(Resource::ranges("ports", self.ports.to_ranges()));
        }
        for (name, value) in [
            ("cpus", self.cpus),
            ("mem", self.mem),
            ("disk", self.disk),
            ("gpus", self.gpus),
        ] {
            if value > 0 {
                out.push(Resource::scalar(name, from_milli(value)));
            }
        }
        for r in &mut out {
            r.role = Some("*".to_string());
            r.allocation_info = allocation_role.map(|role| AllocationInfo {
                role: Some(role.to_string()),
            });
        }
        out
    }

    /// The summary object of `/master/state`:
    /// `{"cpus":0.5,"disk":0.0,"gpus":0.0,"mem":128.0,"ports":"[31001-31001]"}`.
    pub fn summary(&self) -> Value {
        let mut object = json!({
            "cpus": from_milli(self.cpus),
            "disk": from_milli(self.disk),
            "gpus": from_milli(self.gpus),
            "mem": from_milli(self.mem),
        });
        if !self.ports.is_empty()
            && let Some(map) = object.as_object_mut()
        {
            map.insert("ports".to_string(), Value::String(self.ports.to_mesos_string()));
        }
        object
    }
}

impl fmt::Display for Resources {
    /// Mesos-like text: `cpus:0.5; mem:128; ports:[31000-31000]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, value) in [
            ("cpus", self.cpus),
            ("mem", self.mem),
            ("disk", self.disk),
            ("gpus", self.gpus),
        ] {
            if value > 0 {
                parts.push(format!("{name}:{}", from_milli(value)));
            }
        }
        if !self.ports.is_empty() {
            parts.push(format!("ports:{}", self.ports.to_mesos_string()));
        }
        if parts.is_empty() {
            f.write_str("{}")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_set_arithmetic() {
        let mut set = RangeSet::interval(31000, 32000);
        set.subtract(&RangeSet::interval(31001, 31001));
        assert_eq!(set.intervals(), &[(31000, 31000), (31002, 32000)]);
        assert!(set.contains(&RangeSet::interval(31500, 31600)));
        assert!(!set.contains(&RangeSet::interval(31000, 31001)));
        set.insert(31001, 31001);
        assert_eq!(set, RangeSet::interval(31000, 32000));
        assert_eq!(set.to_mesos_string(), "[31000-32000]");
    }

    #[test]
    fn scalars_are_exact_in_thousandths() {
        let mut node = Resources::node(4.0, 4096.0, 10240.0, &[31000..=32000]);
        let task = Resources::from_request(&[Resource::scalar("cpus", 0.1), Resource::scalar("mem", 32.0)], "*")
            .expect("valid");
        for _ in 0..40 {
            assert!(node.contains(&task));
            node.subtract(&task);
        }
        assert_eq!(node.cpus, 0);
        assert!(!node.contains(&task));
    }

    #[test]
    fn unknown_or_reserved_resources_are_refused() {
        assert!(Resources::from_request(&[Resource::scalar("bogus", 1.0)], "*").is_err());
        let mut reserved = Resource::scalar("cpus", 1.0);
        reserved.role = Some("web".into());
        assert!(Resources::from_request(&[reserved], "*").is_err());
        assert!(Resources::from_request(&[Resource::scalar("cpus", -1.0)], "*").is_err());
    }

    #[test]
    fn offer_resources_in_agent_order() {
        let node = Resources::node(4.0, 4096.0, 10240.0, &[31000..=32000]);
        let json = serde_json::to_string(&node.to_offer_resources(Some("*"))).expect("json");
        assert_eq!(
            json,
            r#"[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*","allocation_info":{"role":"*"}},{"name":"cpus","type":"SCALAR","scalar":{"value":4.0},"role":"*","allocation_info":{"role":"*"}},{"name":"mem","type":"SCALAR","scalar":{"value":4096.0},"role":"*","allocation_info":{"role":"*"}},{"name":"disk","type":"SCALAR","scalar":{"value":10240.0},"role":"*","allocation_info":{"role":"*"}}]"#
        );
    }
}
