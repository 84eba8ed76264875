//! Placement constraints with Marathon's semantics, over a node's hostname
//! and attributes, counting the app's live tasks and those placed in the
//! same round.
//!
//! - `UNIQUE`: the node has the field, and no task of the app runs on a
//!   node with the same value.
//! - `CLUSTER`, `IS`: the field equals the value (`IS` compares scalar
//!   attributes as numbers: `1.0` is `1`).
//! - `LIKE` / `UNLIKE`: the field matches / does not match the regular
//!   expression, anchored at both ends (a node without the field is
//!   unlike anything).
//! - `MAX_PER n`: fewer than `n` of the app's tasks on nodes with the value.
//! - `GROUP_BY [n]`: the value is among the least used of every value of
//!   the field seen on a node: tasks spread evenly over them. `n` is the
//!   number of groups Marathon expects; values are learnt from offers.

use std::collections::{BTreeMap, HashMap};

use mesos::types::{Attribute, Offer, ValueType};
use regex::Regex;
use sextant_proto::proto::Constraint;

/// The `field` naming the node's hostname rather than an attribute.
pub const HOSTNAME: &str = "hostname";

/// What constraints look at on a node: its hostname and its attributes,
/// each as Mesos prints it (`rack:r1`, `cores:8`, `[1-4]`, `{a,b}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFacts {
    pub hostname: String,
    pub attributes: BTreeMap<String, String>,
}

impl NodeFacts {
    pub fn of(offer: &Offer) -> Self {
        Self {
            hostname: offer.hostname.clone(),
            attributes: offer
                .attributes
                .iter()
                .map(|a| (a.name.clone(), attribute_text(a)))
                .collect(),
        }
    }

    /// The field's value on this node, if it has the field.
    pub fn value(&self, field: &str) -> Option<&str> {
        if field == HOSTNAME {
            Some(&self.hostname)
        } else {
            self.attributes.get(field).map(String::as_str)
        }
    }
}

/// An attribute's value as Mesos prints it.
fn attribute_text(a: &Attribute) -> String {
    match a.kind {
        ValueType::Text => a.text.as_ref().map(|t| t.value.clone()).unwrap_or_default(),
        ValueType::Scalar => a.scalar.map(|s| format_scalar(s.value)).unwrap_or_default(),
        ValueType::Ranges => {
            let ranges: Vec<String> = a
                .ranges
                .iter()
                .flat_map(|r| &r.range)
                .map(|r| format!("{}-{}", r.begin, r.end))
                .collect();
            format!("[{}]", ranges.join(", "))
        }
        ValueType::Set => format!("{{{}}}", a.set.as_ref().map(|s| s.item.join(",")).unwrap_or_default()),
        ValueType::Unrecognized => String::new(),
    }
}

fn format_scalar(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The operator of a constraint, parsed.
#[derive(Debug, Clone)]
pub enum Rule {
    Unique,
    Cluster(String),
    Is(String),
    Like(Regex),
    Unlike(Regex),
    MaxPer(u32),
    GroupBy(u32),
}

/// One constraint ready to be checked.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub field: String,
    pub rule: Rule,
    /// As written: `rack GROUP_BY 3`.
    pub text: String,
}

/// Why a constraint could not be used (the controller validates them, so
/// only a client that skipped validation sees this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("constraint {text}: {why}")]
pub struct ConstraintError {
    pub text: String,
    pub why: String,
}

/// Compiled regular expressions, by pattern, kept across offer rounds (a
/// pattern compiles once, not once per round and app). Bounded: cleared
/// when it grows past `MAX`.
#[derive(Debug, Default)]
pub struct RegexCache {
    compiled: HashMap<String, Regex>,
}

impl RegexCache {
    const MAX: usize = 4096;

    fn get(&mut self, pattern: &str) -> Result<Regex, String> {
        if let Some(r) = self.compiled.get(pattern) {
            return Ok(r.clone());
        }
        let anchored = format!("^(?:{pattern})$");
        let regex = regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("not a regular expression: {e}"))?;
        if self.compiled.len() >= Self::MAX {
            self.compiled.clear();
        }
        self.compiled.insert(pattern.to_string(), regex.clone());
        Ok(regex)
    }
}

/// Parses a task's constraints.
pub fn compile(constraints: &[Constraint], cache: &mut RegexCache) -> Result<Vec<Compiled>, ConstraintError> {
    constraints.iter().map(|c| compile_one(c, cache)).collect()
}

fn compile_one(c: &Constraint, cache: &mut RegexCache) -> Result<Compiled, ConstraintError> {
    let text = if c.value.is_empty() {
        format!("{} {}", c.field, c.operator)
    } else {
        format!("{} {} {}", c.field, c.operator, c.value)
    };
    let fail = |why: String| ConstraintError {
        text: text.clone(),
        why,
    };
    let count = |what: &str| -> Result<u32, ConstraintError> {
        c.value
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| fail(format!("{what} must be a positive integer, not {:?}", c.value)))
    };
    let rule = match c.operator.as_str() {
        "UNIQUE" => Rule::Unique,
        "CLUSTER" => Rule::Cluster(c.value.clone()),
        "IS" => Rule::Is(c.value.clone()),
        "LIKE" => Rule::Like(cache.get(&c.value).map_err(fail)?),
        "UNLIKE" => Rule::Unlike(cache.get(&c.value).map_err(fail)?),
        "MAX_PER" => Rule::MaxPer(count("the value")?),
        "GROUP_BY" if c.value.is_empty() => Rule::GroupBy(0),
        "GROUP_BY" => Rule::GroupBy(count("the group count")?),
        other => return Err(fail(format!("unknown operator {other:?}"))),
    };
    Ok(Compiled {
        field: c.field.clone(),
        rule,
        text,
    })
}

/// How many of one app's tasks run per value of one constraint's field,
/// and every value of the field seen on a node (for `GROUP_BY`).
#[derive(Debug, Clone, Default)]
pub struct ValueCounts {
    pub counts: HashMap<String, u32>,
    /// The least count over every value seen; kept current as tasks are
    /// placed.
    pub least: u32,
    pub values_seen: usize,
}

impl ValueCounts {
    pub fn count(&self, value: &str) -> u32 {
        self.counts.get(value).copied().unwrap_or(0)
    }

    /// One more task on a node with `value`.
    pub fn add(&mut self, value: &str) {
        *self.counts.entry(value.to_string()).or_default() += 1;
        if self.values_seen > 0 {
            self.least = self.counts.values().copied().min().unwrap_or(0);
            if self.counts.len() < self.values_seen {
                self.least = 0;
            }
        }
    }
}

impl Compiled {
    /// Whether a task may go on a node whose field has `value`, given the
    /// app's counts for this constraint.
    pub fn allows(&self, value: Option<&str>, counts: &ValueCounts) -> bool {
        match (&self.rule, value) {
            (Rule::Unlike(_), None) => true,
            (_, None) => false,
            (Rule::Unique, Some(v)) => counts.count(v) == 0,
            (Rule::Cluster(want), Some(v)) => v == want,
            (Rule::Is(want), Some(v)) => v == want || same_number(v, want),
            (Rule::Like(re), Some(v)) => re.is_match(v),
            (Rule::Unlike(re), Some(v)) => !re.is_match(v),
            (Rule::MaxPer(n), Some(v)) => counts.count(v) < *n,
            (Rule::GroupBy(_), Some(v)) => counts.count(v) <= counts.least,
        }
    }

    /// Why no node allowed it, in words, given how many of `offered` nodes
    /// it turned away (`app` names the app).
    pub fn refusal(&self, refused: usize, offered: usize, app: &str) -> String {
        let nodes = if refused == offered {
            match offered {
                1 => "the offered node".to_string(),
                _ => format!("all {offered} offered nodes"),
            }
        } else {
            format!("{refused} of {offered} offered nodes")
        };
        let (has, field) = (if refused == 1 { "has" } else { "have" }, &self.field);
        let why = match &self.rule {
            Rule::Unique if field == HOSTNAME => {
                format!("{nodes} already run {app}")
            }
            Rule::Unique => format!("{nodes} lack {field} or have a {field} that already runs {app}"),
            Rule::Cluster(want) | Rule::Is(want) => format!("{nodes} {has} no {field} {want}"),
            Rule::Like(_) => format!("{nodes} {has} no {field} that matches"),
            Rule::Unlike(_) => format!("{nodes} {has} a {field} that matches"),
            Rule::MaxPer(n) => format!("{nodes} {has} a {field} that already runs {n} of {app}"),
            Rule::GroupBy(_) => format!("{nodes} {has} a {field} that runs more of {app} than another {field}"),
        };
        format!("constraint {}: {why}", self.text)
    }
}

fn same_number(a: &str, b: &str) -> bool {
    matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if (x - y).abs() < 1e-9)
}

/// For each constraint of an app, its counts: from where its live tasks
/// run (`placed`: Mesos agent id → tasks; `facts`: what is known of each
/// agent) and every value seen on a node (`all_facts`).
pub fn counts_for<'a>(
    constraints: &[Compiled],
    placed: impl Iterator<Item = (&'a NodeFacts, u32)> + Clone,
    all_facts: impl Iterator<Item = &'a NodeFacts> + Clone,
) -> Vec<ValueCounts> {
    constraints
        .iter()
        .map(|c| {
            let mut counts = ValueCounts::default();
            for (facts, n) in placed.clone() {
                if let Some(v) = facts.value(&c.field) {
                    *counts.counts.entry(v.to_string()).or_default() += n;
                }
            }
            if let Rule::GroupBy(groups) = c.rule {
                let mut seen: Vec<&str> = all_facts.clone().filter_map(|f| f.value(&c.field)).collect();
                seen.extend(counts.counts.keys().map(String::as_str));
                seen.sort_unstable();
                seen.dedup();
                // Until `groups` values are known, a value with no task yet
                // is as good as the least used.
                counts.values_seen = seen.len().max(groups as usize);
                counts.least = if seen.len() < counts.values_seen {
                    0
                } else {
                    seen.iter().map(|v| counts.count(v)).min().unwrap_or(0)
                };
            }
            counts
        })
        .collect()
}
