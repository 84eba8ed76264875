//! The nodes' flags in the Mesos agent's own syntax: `--resources`
//! (`cpus:4;mem:8192;disk:20480;ports:[31000-31999]`) and `--attributes`
//! (`rack:r1;zone:west`), and a node described in one string
//! (`name=a;resources=cpus:2;mem:1024;attributes=rack:r1`), turned into the
//! [`NodeConfig`]s a master starts with.
//!
//! Every error names the flag and the part of its value that is wrong, and
//! nothing is built from a value with an error in it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crate::NodeConfig;
use crate::containerizer::{ContainerizerKind, Script};

/// Most nodes one master starts (each is cheap, but not free).
pub const MAX_NODES: usize = 10_000;

/// A flag value that cannot be used: which flag, which part, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {value:?}: {part}{reason}")]
pub struct NodeFlagError {
    pub flag: String,
    pub value: String,
    /// The offending part, quoted and followed by ": ", or empty.
    part: String,
    reason: String,
}

impl NodeFlagError {
    fn new(flag: &str, value: &str, part: &str, reason: impl Into<String>) -> Self {
        Self {
            flag: flag.to_string(),
            value: value.to_string(),
            part: if part.is_empty() {
                String::new()
            } else {
                format!("`{part}`: ")
            },
            reason: reason.into(),
        }
    }
}

/// What `--resources` sets; `None` leaves the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeResources {
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    pub ports: Option<Vec<RangeInclusive<u16>>>,
}

impl NodeResources {
    fn apply(&self, node: &mut NodeConfig) {
        if let Some(cpus) = self.cpus {
            node.cpus = cpus;
        }
        if let Some(mem) = self.mem {
            node.mem = mem;
        }
        if let Some(disk) = self.disk {
            node.disk = disk;
        }
        if let Some(ports) = &self.ports {
            node.ports = ports.clone();
        }
    }
}

/// Parses a resources flag (`cpus:4;mem:8192;disk:20480;ports:[31000-31999]`).
/// Names may carry the unreserved role, `cpus(*):4`; local nodes offer
/// `cpus`, `mem`, `disk` and `ports` only.
pub fn parse_resources(flag: &str, value: &str) -> Result<NodeResources, NodeFlagError> {
    let error = |part: &str, reason: String| NodeFlagError::new(flag, value, part, reason);
    let mut out = NodeResources::default();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, amount)) = part.split_once(':') else {
            return Err(error(part, "expected NAME:VALUE".to_string()));
        };
        let name = name.trim();
        let name = match name.split_once('(') {
            Some((bare, "*)")) => bare,
            Some(_) => {
                return Err(error(
                    part,
                    "reserved resources are not supported by localmesos; use the role `*` or none".to_string(),
                ));
            }
            None => name,
        };
        let amount = amount.trim();
        let scalar = |slot: &mut Option<f64>| -> Result<(), NodeFlagError> {
            if slot.is_some() {
                return Err(error(part, format!("{name} is given twice")));
            }
            match amount.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => {
                    *slot = Some(v);
                    Ok(())
                }
                _ => Err(error(part, format!("{name} must be a non-negative number"))),
            }
        };
        match name {
            "cpus" => scalar(&mut out.cpus)?,
            "mem" => scalar(&mut out.mem)?,
            "disk" => scalar(&mut out.disk)?,
            "ports" => {
                if out.ports.is_some() {
                    return Err(error(part, "ports is given twice".to_string()));
                }
                out.ports = Some(parse_ranges(amount).map_err(|reason| error(part, reason))?);
            }
            _ => {
                return Err(error(
                    part,
                    format!("unknown resource {name:?}; local nodes offer cpus, mem, disk and ports"),
                ));
            }
        }
    }
    Ok(out)
}

/// `[31000-31999]` or `[31000-31099, 32000-32099]`: inclusive, disjoint.
pub fn parse_ranges(text: &str) -> Result<Vec<RangeInclusive<u16>>, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| "ports must be ranges in brackets, as [31000-31999]".to_string())?;
    let mut ranges: Vec<RangeInclusive<u16>> = Vec::new();
    for range in inner.split(',').map(str::trim) {
        let (first, last) = range
            .split_once('-')
            .ok_or_else(|| format!("range {range:?} must be FIRST-LAST"))?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{:?} in range {range:?} is not a port (0-65535)", p.trim()))
        };
        let (first, last) = (port(first)?, port(last)?);
        if first > last {
            return Err(format!("range {range:?} begins after it ends"));
        }
        if let Some(other) = ranges.iter().find(|r| first <= *r.end() && *r.start() <= last) {
            return Err(format!("range {range:?} overlaps {}-{}", other.start(), other.end()));
        }
        ranges.push(first..=last);
    }
    ranges.sort_by_key(|r| *r.start());
    Ok(ranges)
}

/// Parses an attributes flag (`rack:r1;zone:west`). Values are offered as
/// TEXT; Mesos' ranges (`[…]`) and sets (`{…}`) are refused.
pub fn parse_attributes(flag: &str, value: &str) -> Result<BTreeMap<String, String>, NodeFlagError> {
    let error = |part: &str, reason: String| NodeFlagError::new(flag, value, part, reason);
    let mut out = BTreeMap::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, text)) = part.split_once(':') else {
            return Err(error(part, "expected NAME:VALUE".to_string()));
        };
        let (name, text) = (name.trim(), text.trim());
        if name.is_empty() || text.is_empty() {
            return Err(error(part, "an attribute needs a name and a value".to_string()));
        }
        if text.starts_with('[') || text.starts_with('{') {
            return Err(error(
                part,
                "range and set attributes are not supported by localmesos; give a text value".to_string(),
            ));
        }
        if let Some(bad) = name.chars().chain(text.chars()).find(|c| !attribute_char(*c)) {
            return Err(error(
                part,
                format!("{bad:?} is not allowed (letters, digits, '_', '-', '.', '/')"),
            ));
        }
        if out.insert(name.to_string(), text.to_string()).is_some() {
            return Err(error(part, format!("attribute {name:?} is given twice")));
        }
    }
    Ok(out)
}

fn attribute_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

/// One node as `--node` describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSpec {
    pub name: Option<String>,
    pub resources: NodeResources,
    pub attributes: BTreeMap<String, String>,
    pub containerizer: Option<ContainerizerKind>,
    pub simulation: Option<Script>,
}

/// The keys of `--node`, in the order documented.
const NODE_KEYS: [&str; 5] = ["name", "resources", "attributes", "containerizer", "simulate"];

/// Parses `name=a;resources=cpus:2;mem:1024;attributes=rack:r1;containerizer=simulated;simulate=exit-after:5s`.
/// A part without `KEY=` continues the value before it, so resources and
/// attributes keep their own `;`-separated syntax.
pub fn parse_node(flag: &str, value: &str) -> Result<NodeSpec, NodeFlagError> {
    let error = |part: &str, reason: String| NodeFlagError::new(flag, value, part, reason);
    let mut fields: Vec<(&str, String)> = Vec::new();
    for part in value.split(';') {
        let key = part.split_once('=').map(|(k, _)| k.trim());
        match (key, part.split_once('=')) {
            (Some(key), Some((_, rest))) if NODE_KEYS.contains(&key) => {
                if fields.iter().any(|(k, _)| *k == key) {
                    return Err(error(part.trim(), format!("{key} is given twice")));
                }
                fields.push((key, rest.trim().to_string()));
            }
            (Some(key), Some(_)) => {
                return Err(error(
                    part.trim(),
                    format!("unknown key {key:?}; expected one of {}", NODE_KEYS.join(", ")),
                ));
            }
            _ => match fields.last_mut() {
                Some((_, text)) => {
                    text.push(';');
                    text.push_str(part);
                }
                None if part.trim().is_empty() => {}
                None => return Err(error(part.trim(), "expected KEY=VALUE".to_string())),
            },
        }
    }
    let mut spec = NodeSpec::default();
    for (key, text) in fields {
        let nested = format!("{flag} {key}");
        match key {
            "name" => {
                validate_hostname(&text).map_err(|reason| error(&format!("name={text}"), reason))?;
                spec.name = Some(text);
            }
            "resources" => spec.resources = parse_resources(&nested, &text)?,
            "attributes" => spec.attributes = parse_attributes(&nested, &text)?,
            "simulate" => {
                spec.simulation =
                    Some(Script::parse(&text).map_err(|reason| NodeFlagError::new(&nested, &text, "", reason))?);
            }
            _ => {
                spec.containerizer = Some(
                    text.parse()
                        .map_err(|reason: String| error(&format!("containerizer={text}"), reason))?,
                );
            }
        }
    }
    Ok(spec)
}

/// A node's hostname: letters, digits, '-' and '.', at most 253 characters.
pub fn validate_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("a node's name must be 1 to 253 characters".to_string());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "{bad:?} is not allowed in a node's name (letters, digits, '-', '.')"
        ));
    }
    Ok(())
}

/// Every node flag, as given (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct NodeFlags {
    /// `--nodes N`: N alike nodes.
    pub count: Option<usize>,
    /// `--node-resources`.
    pub resources: Option<String>,
    /// `--node-attributes`.
    pub attributes: Option<String>,
    /// `--node`, once per node.
    pub nodes: Vec<String>,
    /// `--containerizer`: every node's, unless its `--node` says otherwise.
    pub containerizer: Option<ContainerizerKind>,
    /// Shorthands `--node-cpus`, `--node-mem`, `--node-ports FIRST-LAST`.
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub ports: Option<String>,
}

impl NodeFlags {
    /// The nodes: defaults, then `--node-cpus/--node-mem/--node-ports`
    /// and `--node-resources` (a resource may be set by one of them only),
    /// then each `--node`'s own resources and attributes (its attributes
    /// added to `--node-attributes`, its values winning).
    pub fn build(&self) -> Result<Vec<NodeConfig>, NodeFlagError> {
        let mut base = NodeConfig::default();
        let resources = match &self.resources {
            Some(text) => parse_resources("--node-resources", text)?,
            None => NodeResources::default(),
        };
        let both = |name: &str, shorthand: &str| {
            NodeFlagError::new(
                "--node-resources",
                self.resources.as_deref().unwrap_or_default(),
                "",
                format!("{name} is also set by {shorthand}; give it once"),
            )
        };
        if self.cpus.is_some() && resources.cpus.is_some() {
            return Err(both("cpus", "--node-cpus"));
        }
        if self.mem.is_some() && resources.mem.is_some() {
            return Err(both("mem", "--node-mem"));
        }
        if self.ports.is_some() && resources.ports.is_some() {
            return Err(both("ports", "--node-ports"));
        }
        let shorthand_scalar = |flag: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(value)
            } else {
                Err(NodeFlagError::new(
                    flag,
                    &value.to_string(),
                    "",
                    "must be a positive number",
                ))
            }
        };
        if let Some(cpus) = self.cpus {
            base.cpus = shorthand_scalar("--node-cpus", cpus)?;
        }
        if let Some(mem) = self.mem {
            base.mem = shorthand_scalar("--node-mem", mem)?;
        }
        if let Some(ports) = &self.ports {
            let ranges = parse_ranges(&format!("[{ports}]"))
                .map_err(|reason| NodeFlagError::new("--node-ports", ports, "", reason))?;
            base.ports = ranges;
        }
        resources.apply(&mut base);
        if let Some(text) = &self.attributes {
            base.attributes = parse_attributes("--node-attributes", text)?;
        }
        if let Some(kind) = self.containerizer {
            base.containerizer = kind;
        }

        let mut nodes = Vec::new();
        if self.nodes.is_empty() {
            let count = self.count.unwrap_or(1);
            if count == 0 || count > MAX_NODES {
                return Err(NodeFlagError::new(
                    "--nodes",
                    &count.to_string(),
                    "",
                    format!("must be between 1 and {MAX_NODES}"),
                ));
            }
            for i in 1..=count {
                let mut node = base.clone();
                if count > 1 {
                    node.hostname = format!("node-{i}");
                }
                nodes.push(node);
            }
        } else {
            if self.count.is_some() {
                return Err(NodeFlagError::new(
                    "--nodes",
                    &self.count.unwrap_or_default().to_string(),
                    "",
                    "cannot be combined with --node (each --node is one node)",
                ));
            }
            if self.nodes.len() > MAX_NODES {
                return Err(NodeFlagError::new(
                    "--node",
                    "",
                    "",
                    format!("at most {MAX_NODES} nodes"),
                ));
            }
            let mut names = BTreeSet::new();
            for (i, text) in self.nodes.iter().enumerate() {
                let spec = parse_node("--node", text)?;
                let mut node = base.clone();
                node.hostname = spec.name.clone().unwrap_or_else(|| format!("node-{}", i + 1));
                spec.resources.apply(&mut node);
                node.attributes.extend(spec.attributes);
                if let Some(kind) = spec.containerizer {
                    node.containerizer = kind;
                }
                if let Some(script) = spec.simulation {
                    node.simulation = script;
                }
                if !names.insert(node.hostname.clone()) {
                    return Err(NodeFlagError::new(
                        "--node",
                        text,
                        "",
                        format!("a node named {:?} is already given", node.hostname),
                    ));
                }
                nodes.push(node);
            }
        }
        Ok(nodes)
    }
}

#[cfg(test)]
#[path = "node_flags_tests.rs"]
mod tests;
