//! A registry as text: the OpenMetrics text format (what Prometheus asks
//! for), the Prometheus text format 0.0.4 (for anything else), and the
//! Aurora-style `/vars`, one `name value` per line, parsed from the same
//! OpenMetrics encoding so that both always agree.
//!
//! `/vars` flattening: a sample's name, then each label value in the
//! order the family declares its labels, joined with `_`; in a value,
//! every character but ASCII letters, digits, `.` and `-` becomes `_`,
//! runs of `_` become one, and `_` at either end go (an empty value is
//! left out). So `sextant_tasks{state="TASK_RUNNING"}` is
//! `sextant_tasks_TASK_RUNNING`, and
//! `sextant_http_requests_total{method="GET",route="/api/v1/apps/{namespace}/{name}",code="404"}`
//! is `sextant_http_requests_total_GET_api_v1_apps_namespace_name_404`.
//! Histograms show their `_count` and `_sum` only (buckets are for
//! Prometheus). Two series that flatten to one name are added up.

use std::collections::BTreeMap;

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

/// The content type of the OpenMetrics text format.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = prometheus_text::CONTENT_TYPE;

/// Why a registry could not be encoded (a collector failed).
#[derive(Debug, thiserror::Error)]
#[error("the metrics could not be encoded")]
pub struct EncodeError;

/// The registry in the OpenMetrics text format (ends with `# EOF`).
pub fn openmetrics(registry: &Registry) -> Result<String, EncodeError> {
    let mut out = String::new();
    text::encode(&mut out, registry).map_err(|_| EncodeError)?;
    Ok(out)
}

/// The registry in the Prometheus text format 0.0.4.
pub fn prometheus(registry: &Registry) -> Result<String, EncodeError> {
    let mut out = String::new();
    prometheus_text::encode(&mut out, registry).map_err(|_| EncodeError)?;
    Ok(out)
}

/// Every sample of the registry, flattened (see the module docs), by name.
pub fn vars(registry: &Registry) -> Result<BTreeMap<String, f64>, EncodeError> {
    Ok(parse_vars(&openmetrics(registry)?))
}

/// `/vars` as text: `name value` per line, sorted by name.
pub fn vars_text(vars: &BTreeMap<String, f64>) -> String {
    let mut out = String::new();
    for (name, v) in vars {
        out.push_str(name);
        out.push(' ');
        out.push_str(&number(*v));
        out.push('\n');
    }
    out
}

/// `/vars` as one JSON object, name → number (`null` for NaN and the
/// infinities, which JSON cannot write).
pub fn vars_json(vars: &BTreeMap<String, f64>) -> serde_json::Value {
    let object = vars
        .iter()
        .map(|(name, v)| {
            let value = if is_integer(*v) {
                serde_json::Value::from(*v as i64)
            } else {
                serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, serde_json::Value::Number)
            };
            (name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(object)
}

/// Whether `v` prints as an integer exactly (|v| < 2^53).
fn is_integer(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0
}

/// A value as `/vars` prints it: integers without a fraction.
fn number(v: f64) -> String {
    if is_integer(v) {
        format!("{}", v as i64)
    } else if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

/// Parses OpenMetrics text into flattened vars. Lines that do not parse
/// are left out.
pub fn parse_vars(exposition: &str) -> BTreeMap<String, f64> {
    let mut vars = BTreeMap::new();
    let mut histograms: Vec<&str> = Vec::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((family, "histogram")) = rest.split_once(' ') {
                histograms.push(family);
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(sample) = Sample::parse(line) else {
            continue;
        };
        let bucket = sample
            .name
            .strip_suffix("_bucket")
            .is_some_and(|family| histograms.contains(&family));
        if bucket || sample.name.ends_with("_created") {
            continue;
        }
        *vars.entry(sample.flattened()).or_insert(0.0) += sample.value;
    }
    vars
}

/// One sample line: `name{k="v",…} value [more]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    values: Vec<String>,
    value: f64,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let end = line.find(['{', ' '])?;
        let name = &line[..end];
        let mut rest = &line[end..];
        let mut values = Vec::new();
        if let Some(labels) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(labels)?;
            values = parsed;
            rest = after;
        }
        let value = parse_number(rest.trim_start().split(' ').next()?)?;
        Some(Self { name, values, value })
    }

    fn flattened(&self) -> String {
        let mut out = self.name.to_string();
        for v in &self.values {
            let part = sanitize(v);
            if !part.is_empty() {
                out.push('_');
                out.push_str(&part);
            }
        }
        out
    }
}

/// The label values of `k="v",…}` and what follows the `}`.
fn parse_labels(s: &str) -> Option<(Vec<String>, &str)> {
    let mut values = Vec::new();
    let mut rest = s;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Some((values, after));
        }
        let (_key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        values.push(value);
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

fn parse_number(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// A label value as part of a name (see the module docs).
fn sanitize(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '_'
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP sextant_tasks Tasks.
# TYPE sextant_tasks gauge
sextant_tasks{state=\"TASK_RUNNING\"} 3
sextant_tasks{state=\"PENDING\"} 0
# HELP sextant_http_requests HTTP.
# TYPE sextant_http_requests counter
sextant_http_requests_total{method=\"GET\",route=\"/api/v1/apps/{namespace}/{name}\",code=\"404\"} 2
# HELP sextant_reconcile_duration_seconds Time.
# TYPE sextant_reconcile_duration_seconds histogram
# UNIT sextant_reconcile_duration_seconds seconds
sextant_reconcile_duration_seconds_sum{namespace=\"default\",app=\"web\"} 0.25
sextant_reconcile_duration_seconds_count{namespace=\"default\",app=\"web\"} 2
sextant_reconcile_duration_seconds_bucket{le=\"0.001\",namespace=\"default\",app=\"web\"} 1
# TYPE sextant_source info
sextant_source_info{source=\"git:https://x/\\\"r\\\"\",kind=\"git\",url=\"\"} 1
sextant_apps 4
# EOF
";

    #[test]
    fn samples_are_flattened_aurora_style() {
        let vars = parse_vars(TEXT);
        let want: BTreeMap<String, f64> = [
            ("sextant_tasks_TASK_RUNNING", 3.0),
            ("sextant_tasks_PENDING", 0.0),
            ("sextant_http_requests_total_GET_api_v1_apps_namespace_name_404", 2.0),
            ("sextant_reconcile_duration_seconds_sum_default_web", 0.25),
            ("sextant_reconcile_duration_seconds_count_default_web", 2.0),
            ("sextant_source_info_git_https_x_r_git", 1.0),
            ("sextant_apps", 4.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(vars, want);
        let text = vars_text(&vars);
        assert!(text.starts_with("sextant_apps 4\n"), "sorted: {text}");
        assert!(
            text.contains("sextant_reconcile_duration_seconds_sum_default_web 0.25\n"),
            "{text}"
        );
        let json = vars_json(&vars);
        assert_eq!(json["sextant_tasks_TASK_RUNNING"], serde_json::json!(3));
        assert_eq!(
            json["sextant_reconcile_duration_seconds_sum_default_web"],
            serde_json::json!(0.25)
        );
    }

    #[test]
    fn broken_lines_are_left_out_and_collisions_add_up() {
        let vars = parse_vars("x{a=\"1\" 2\ny{a=\"p/q\"} 1\ny{a=\"p_q\"} 2\nz notanumber\nw +Inf\n");
        assert_eq!(vars.get("y_p_q"), Some(&3.0));
        assert_eq!(vars.get("w"), Some(&f64::INFINITY));
        assert_eq!(vars.len(), 2, "{vars:?}");
        assert_eq!(vars_text(&vars), "w +Inf\ny_p_q 3\n");
        assert_eq!(vars_json(&vars)["w"], serde_json::Value::Null);
    }
}
