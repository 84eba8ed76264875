//! The summary form of resources in the master's legacy JSON endpoints
//! (`/master/slaves`, `/master/state`): one object per set of resources,
//! `{"cpus":4.0,"disk":10240.0,"gpus":0.0,"mem":4096.0,"ports":"[31000-32000]"}`
//! (Mesos 1.11, `src/common/http.cpp`, `json(…, const Resources&)`):
//! `cpus`, `gpus`, `mem` and `disk` always there, scalars summed by name,
//! ranges and sets as Mesos prints them (`[a-b, c-d]`, `{x,y}`), revocable
//! resources under `<name>_revocable`.
//!
//! Reading is tolerant: names it does not know and values of another
//! shape are kept aside (`others`), never an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Resources as a summary object: the standard ones, and the rest as text.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(from = "BTreeMap<String, Value>")]
pub struct ResourceSummary {
    /// Fractions of a CPU.
    pub cpus: f64,
    /// MB (Mesos' MB are MiB).
    pub mem: f64,
    /// MB.
    pub disk: f64,
    pub gpus: f64,
    /// Port ranges, inclusive, sorted and merged.
    pub ports: PortRanges,
    /// Every other resource (revocable ones, custom scalars, sets), as
    /// Mesos prints its value.
    pub others: BTreeMap<String, String>,
}

impl From<BTreeMap<String, Value>> for ResourceSummary {
    fn from(fields: BTreeMap<String, Value>) -> Self {
        let mut summary = ResourceSummary::default();
        for (name, value) in fields {
            let slot = match name.as_str() {
                "cpus" => &mut summary.cpus,
                "mem" => &mut summary.mem,
                "disk" => &mut summary.disk,
                "gpus" => &mut summary.gpus,
                "ports" => {
                    if let Some(ranges) = value.as_str().and_then(PortRanges::parse) {
                        summary.ports = ranges;
                        continue;
                    }
                    summary.others.insert(name, value_text(&value));
                    continue;
                }
                _ => {
                    summary.others.insert(name, value_text(&value));
                    continue;
                }
            };
            match value.as_f64().filter(|v| v.is_finite()) {
                Some(number) => *slot = number.max(0.0),
                None => {
                    summary.others.insert(name, value_text(&value));
                }
            }
        }
        summary
    }
}

impl ResourceSummary {
    /// What is left of `self` once `used` is taken: scalars never below
    /// zero, ports without those `used` holds. (`others` are not
    /// subtracted: they are kept as text.)
    pub fn minus(&self, used: &ResourceSummary) -> ResourceSummary {
        let left = |total: f64, taken: f64| round_milli((total - taken).max(0.0));
        ResourceSummary {
            cpus: left(self.cpus, used.cpus),
            mem: left(self.mem, used.mem),
            disk: left(self.disk, used.disk),
            gpus: left(self.gpus, used.gpus),
            ports: self.ports.minus(&used.ports),
            others: BTreeMap::new(),
        }
    }
}

/// Mesos keeps scalars to three decimal places; differences of such
/// numbers are rounded back to them (4.0 − 3.9 is 0.1, not 0.10000000000000009).
fn round_milli(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// A value as text: a string as it is, a number as Rust prints it (`4`,
/// `2.5`), anything else as compact JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => float.to_string(),
            _ => number.to_string(),
        },
        other => other.to_string(),
    }
}

/// Inclusive port ranges, sorted, disjoint and not adjacent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRanges(Vec<(u64, u64)>);

impl PortRanges {
    /// From intervals in any order (a `begin > end` interval is dropped).
    pub fn new(intervals: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut ranges: Vec<(u64, u64)> = intervals.into_iter().filter(|(b, e)| b <= e).collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (begin, end) in ranges {
            match merged.last_mut() {
                Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((begin, end)),
            }
        }
        Self(merged)
    }

    /// Mesos' text form, `[31000-31000, 31005-32000]` (`[]` when empty);
    /// `None` when the text is not of that form.
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
        if inner.is_empty() {
            return Some(Self::default());
        }
        let mut intervals = Vec::new();
        for piece in inner.split(',') {
            let (begin, end) = piece.trim().split_once('-')?;
            intervals.push((begin.trim().parse().ok()?, end.trim().parse().ok()?));
        }
        Some(Self::new(intervals))
    }

    /// The intervals, sorted.
    pub fn intervals(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// How many ports.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|(b, e)| e - b + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ports of `self` that `other` does not hold.
    pub fn minus(&self, other: &PortRanges) -> PortRanges {
        let mut left = Vec::with_capacity(self.0.len());
        for &(begin, end) in &self.0 {
            let mut pieces = vec![(begin, end)];
            for &(ob, oe) in &other.0 {
                pieces = pieces
                    .into_iter()
                    .flat_map(|(pb, pe)| {
                        if oe < pb || ob > pe {
                            return vec![(pb, pe)];
                        }
                        let mut rest = Vec::with_capacity(2);
                        if ob > pb {
                            rest.push((pb, ob - 1));
                        }
                        if oe < pe {
                            rest.push((oe + 1, pe));
                        }
                        rest
                    })
                    .collect();
            }
            left.extend(pieces);
        }
        PortRanges(left)
    }
}

impl std::fmt::Display for PortRanges {
    /// Mesos' text form, `[31000-31000, 31005-32000]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(b, e)| format!("{b}-{e}")).collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_resources_are_read_and_the_rest_kept_as_text() {
        let summary: ResourceSummary = serde_json::from_str(
            r#"{"disk":10240.0,"mem":4096.0,"gpus":0.0,"cpus":4.0,"ports":"[31000-31099, 32000-32000]","cpus_revocable":2.0,"bugs":"{a,b}"}"#,
        )
        .expect("a summary");
        assert_eq!(
            (summary.cpus, summary.mem, summary.disk, summary.gpus),
            (4.0, 4096.0, 10240.0, 0.0)
        );
        assert_eq!(summary.ports.intervals(), &[(31000, 31099), (32000, 32000)]);
        assert_eq!(summary.ports.count(), 101);
        assert_eq!(summary.others.get("cpus_revocable").map(String::as_str), Some("2"));
        assert_eq!(summary.others.get("bugs").map(String::as_str), Some("{a,b}"));
    }

    #[test]
    fn values_of_another_shape_are_not_an_error() {
        let summary: ResourceSummary = serde_json::from_str(r#"{"cpus":"lots","ports":[1,2]}"#).expect("tolerated");
        assert_eq!(summary.cpus, 0.0);
        assert!(summary.ports.is_empty());
        assert_eq!(summary.others.get("cpus").map(String::as_str), Some("lots"));
        assert_eq!(summary.others.get("ports").map(String::as_str), Some("[1,2]"));
    }

    #[test]
    fn free_is_total_minus_used() {
        let total = ResourceSummary {
            cpus: 4.0,
            mem: 4096.0,
            ports: PortRanges::new([(31000, 32000)]),
            ..ResourceSummary::default()
        };
        let used = ResourceSummary {
            cpus: 3.9,
            mem: 5000.0,
            ports: PortRanges::new([(31000, 31000), (31500, 31501)]),
            ..ResourceSummary::default()
        };
        let free = total.minus(&used);
        assert_eq!((free.cpus, free.mem), (0.1, 0.0), "rounded, never negative");
        assert_eq!(free.ports.to_string(), "[31001-31499, 31502-32000]");
        assert_eq!(free.ports.count(), 1001 - 3);
    }

    #[test]
    fn port_ranges_parse_as_mesos_prints_them() {
        assert_eq!(PortRanges::parse("[]"), Some(PortRanges::default()));
        assert_eq!(
            PortRanges::parse("[31001-31001, 31000-31000]").map(|r| r.intervals().to_vec()),
            Some(vec![(31000, 31001)]),
            "sorted and merged"
        );
        assert_eq!(PortRanges::parse("31000-32000"), None);
        assert_eq!(PortRanges::parse("[a-b]"), None);
    }
}
