//! Structural validation: a parsed YAML document checked against the App's
//! JSON schema ([`crate::schema::json_schema`]), reporting every unknown
//! field (with a "did you mean" suggestion), wrong type, out-of-range
//! integer, unknown enum value and missing required field at once.
//!
//! serde stops at the first error of a document; this walk does not. It
//! follows serde_yaml's own leniency (a field of type string takes any
//! scalar, as written; a null mapping or list is empty; tagged values are
//! left to serde), so it never rejects what deserialization accepts. The
//! loader still deserializes every document that passes, and reports
//! serde's error when the walk missed one.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use crate::load::yaml::{describe, short};
use crate::suggest::did_you_mean;

/// One step of a path into the document, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// What a structural problem is about, for locating it in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The key at the end of `Problem::located`.
    Key,
    /// The value at `Problem::located`.
    Value,
}

/// A structural problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field path the message is about (`spec` for an unknown field of
    /// the spec).
    pub field: Vec<PathSeg>,
    /// The path to point at in the text.
    pub located: Vec<PathSeg>,
    /// Point at the key or at the value of `located`.
    pub at: At,
    /// What is wrong.
    pub message: String,
    /// An unknown field: the rest of the document can still be read
    /// without it.
    pub unknown_field: bool,
}

/// The outcome of [`check`].
#[derive(Debug, Default)]
pub struct Checked {
    /// Every problem, in document order.
    pub problems: Vec<Problem>,
    /// Whether the parsed value holds exactly what deserializing the text
    /// would read: no scalar read into a string as written, no empty value
    /// read as an empty mapping or list, no tag. Then deserializing the
    /// value gives the same result as deserializing the text, without
    /// parsing it again.
    pub exact: bool,
}

/// Checks `value`, found at `path`, against `schema`, resolving `$ref`s in
/// `root`.
pub fn check(value: &Yaml, schema: &Json, root: &Json, path: &[PathSeg]) -> Checked {
    let mut w = Walker::new(root);
    let mut path = path.to_vec();
    w.check(value, schema, &mut path, false);
    Checked {
        problems: w.problems,
        exact: !w.inexact,
    }
}

struct Walker<'s> {
    root: &'s Json,
    problems: Vec<Problem>,
    /// serde_yaml's leniency was relied on (see [`Checked::exact`]).
    inexact: bool,
}

/// `$ref`s followed before giving up (a schema referring to itself).
const MAX_REFS: usize = 16;

impl<'s> Walker<'s> {
    fn new(root: &'s Json) -> Self {
        Walker {
            root,
            problems: Vec::new(),
            inexact: false,
        }
    }

    fn resolve(&self, mut schema: &'s Json) -> &'s Json {
        for _ in 0..MAX_REFS {
            let Some(r) = schema.get("$ref").and_then(Json::as_str) else {
                break;
            };
            match r.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                Some(s) => schema = s,
                None => break,
            }
        }
        schema
    }

    fn push(&mut self, path: &[PathSeg], at: At, message: String) {
        self.problems.push(Problem {
            field: path.to_vec(),
            located: path.to_vec(),
            at,
            message,
            unknown_field: false,
        });
    }

    /// `strict`: inside an `anyOf`, where a custom deserializer sees the
    /// value's own type (no string leniency).
    fn check(&mut self, v: &Yaml, schema: &'s Json, path: &mut Vec<PathSeg>, strict: bool) {
        let schema = self.resolve(schema);
        if matches!(v, Yaml::Tagged(_)) {
            // serde_yaml reads some tags (`!!str`, variant tags) and ignores
            // others: leave tagged values to deserialization.
            self.inexact = true;
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Json::as_array) {
            // schemars writes a `$ref` with a description or default as
            // `allOf: [{$ref}]`.
            for sub in all {
                self.check(v, sub, path, strict);
            }
            return;
        }
        if let Some(alts) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            self.alternatives(v, alts, path);
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Json::as_array) {
            let names: Vec<&str> = values.iter().filter_map(Json::as_str).collect();
            self.enumeration(v, &names, path);
            return;
        }
        if let Some(c) = schema.get("const").and_then(Json::as_str) {
            self.enumeration(v, &[c], path);
            return;
        }
        let types = types_of(schema);
        if !types.is_empty() && !types.iter().any(|t| fits(v, t, true)) {
            if !types.iter().any(|t| fits(v, t, strict)) {
                let message = format!("expected {}, found {}", expected(&types), describe(v));
                self.push(path, At::Value, message);
                return;
            }
            self.inexact = true;
        }
        match v {
            Yaml::Mapping(m) if types.is_empty() || types.contains(&"object") => self.object(m, schema, path),
            Yaml::Sequence(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        path.push(PathSeg::Index(i));
                        self.check(item, item_schema, path, false);
                        path.pop();
                    }
                }
            }
            Yaml::Number(n) if types.contains(&"integer") => self.range(n, schema, path),
            _ => {}
        }
    }

    fn object(&mut self, m: &serde_yaml::Mapping, schema: &'s Json, path: &mut Vec<PathSeg>) {
        let props = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        for (k, v) in m {
            let key = match k {
                Yaml::String(s) => s.clone(),
                // serde_yaml reads a scalar key of a string map as written.
                Yaml::Number(_) | Yaml::Bool(_) | Yaml::Null if props.is_none() => {
                    self.inexact = true;
                    continue;
                }
                other => {
                    let message = format!("unexpected key: {}", describe(other));
                    self.push(path, At::Key, message);
                    continue;
                }
            };
            if let Some(prop) = props.and_then(|p| p.get(&key)) {
                path.push(PathSeg::Key(key));
                self.check(v, prop, path, false);
                path.pop();
                continue;
            }
            match additional {
                Some(Json::Bool(false)) => {
                    let mut known: Vec<&str> = props
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    known.sort_unstable();
                    let message = match did_you_mean(&key, known.iter().copied()) {
                        Some(s) => format!("unknown field {key:?}, did you mean {s:?}?"),
                        None if known.is_empty() => format!("unknown field {key:?}: no fields are allowed here"),
                        None => format!("unknown field {key:?}; expected one of: {}", known.join(", ")),
                    };
                    let mut located = path.clone();
                    located.push(PathSeg::Key(key));
                    self.problems.push(Problem {
                        field: path.clone(),
                        located,
                        at: At::Key,
                        message,
                        unknown_field: true,
                    });
                }
                Some(s @ Json::Object(_)) => {
                    path.push(PathSeg::Key(key));
                    self.check(v, s, path, false);
                    path.pop();
                }
                _ => {}
            }
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for name in required.iter().filter_map(Json::as_str) {
                if !m.contains_key(name) {
                    self.push(path, At::Key, format!("missing field {name:?}"));
                }
            }
        }
    }

    fn range(&mut self, n: &serde_yaml::Number, schema: &Json, path: &[PathSeg]) {
        let (fmt_min, fmt_max) = match schema.get("format").and_then(Json::as_str) {
            Some("uint8") => (0.0, f64::from(u8::MAX)),
            Some("uint16") => (0.0, f64::from(u16::MAX)),
            Some("uint32") => (0.0, f64::from(u32::MAX)),
            Some("uint64" | "uint") => (0.0, u64::MAX as f64),
            Some("int32") => (f64::from(i32::MIN), f64::from(i32::MAX)),
            _ => (i64::MIN as f64, u64::MAX as f64),
        };
        let min = schema
            .get("minimum")
            .and_then(Json::as_f64)
            .unwrap_or(fmt_min)
            .max(fmt_min);
        let max = schema
            .get("maximum")
            .and_then(Json::as_f64)
            .unwrap_or(fmt_max)
            .min(fmt_max);
        let (value, shown) = match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => (i as f64, i.to_string()),
            (None, Some(u)) => (u as f64, u.to_string()),
            _ => return,
        };
        if value < min || value > max {
            let message = if min == 0.0 && value < 0.0 {
                format!("must not be negative, found {shown}")
            } else {
                format!("must be an integer from {min} to {max}, found {shown}")
            };
            self.push(path, At::Value, message);
        }
    }

    fn enumeration(&mut self, v: &Yaml, names: &[&str], path: &[PathSeg]) {
        let listed = || names.join(", ");
        match v {
            Yaml::String(s) if names.contains(&s.as_str()) => {}
            Yaml::String(s) => {
                let message = match did_you_mean(s, names.iter().copied()) {
                    Some(m) => format!(
                        "unknown value {s:?}, did you mean {m:?}? (expected one of: {})",
                        listed()
                    ),
                    None => format!("unknown value {}; expected one of: {}", short(v), listed()),
                };
                self.push(path, At::Value, message);
            }
            other => {
                let message = format!("expected one of: {}; found {}", listed(), describe(other));
                self.push(path, At::Value, message);
            }
        }
    }

    fn alternatives(&mut self, v: &Yaml, alts: &'s [Json], path: &mut Vec<PathSeg>) {
        let alts: Vec<&'s Json> = alts.iter().map(|a| self.resolve(a)).collect();
        // A choice of constants is an enumeration.
        let consts: Option<Vec<&str>> = alts.iter().map(|a| a.get("const").and_then(Json::as_str)).collect();
        if let Some(names) = consts {
            self.enumeration(v, &names, path);
            return;
        }
        // Option<T>: null, or a T (serde reads both `x:` and `x: ~` as None).
        let (nulls, others): (Vec<&Json>, Vec<&Json>) = alts.iter().partition(|a| types_of(a) == ["null"]);
        if !nulls.is_empty() {
            if matches!(v, Yaml::Null) {
                return;
            }
            if let [only] = others.as_slice() {
                self.check(v, only, path, false);
                return;
            }
        }
        // Alternatives whose type fits the value; the first whose check
        // passes wins. Inside an untagged choice, a custom deserializer sees
        // the value's own type: no string leniency.
        let candidates: Vec<&Json> = others
            .iter()
            .copied()
            .filter(|a| {
                let t = types_of(a);
                t.is_empty() || t.iter().any(|t| fits(v, t, true))
            })
            .collect();
        let mut first_failure = None;
        for c in &candidates {
            let mut trial = Walker::new(self.root);
            trial.check(v, c, path, true);
            if trial.problems.is_empty() {
                self.inexact |= trial.inexact;
                return;
            }
            first_failure.get_or_insert(trial.problems);
        }
        match first_failure {
            Some(problems) => self.problems.extend(problems),
            None => {
                let mut types: Vec<&str> = others.iter().flat_map(|a| types_of(a)).collect();
                types.dedup();
                let message = format!("expected {}, found {}", expected(&types), describe(v));
                self.push(path, At::Value, message);
            }
        }
    }
}

/// The `type` of a schema: one name, a list, or none (anything).
fn types_of(schema: &Json) -> Vec<&str> {
    match schema.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether serde_yaml deserializes `v` into a field of JSON type `t`.
fn fits(v: &Yaml, t: &str, strict: bool) -> bool {
    match (t, v) {
        ("null", Yaml::Null) => true,
        ("boolean", Yaml::Bool(_)) => true,
        ("integer", Yaml::Number(n)) => n.is_i64() || n.is_u64(),
        ("number", Yaml::Number(_)) => true,
        ("string", Yaml::String(_)) => true,
        // serde_yaml reads any scalar as a string, as written.
        ("string", Yaml::Number(_) | Yaml::Bool(_) | Yaml::Null) => !strict,
        // An empty value is an empty list or mapping.
        ("array", Yaml::Sequence(_)) | ("object", Yaml::Mapping(_)) => true,
        ("array" | "object", Yaml::Null) => !strict,
        _ => false,
    }
}

/// "a string", "an integer or a string", ….
fn expected(types: &[&str]) -> String {
    let names: Vec<&str> = types
        .iter()
        .map(|t| match *t {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            "array" => "a list",
            "object" => "a mapping",
            "null" => "null",
            _ => "a value",
        })
        .collect();
    match names.as_slice() {
        [] => "a value".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Renders a path: `spec.ports[1].name`.
pub fn render(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(schema: &Json, yaml: &str) -> Vec<String> {
        let v: Yaml = serde_yaml::from_str(yaml).unwrap();
        check(&v, schema, schema, &[PathSeg::Key("spec".into())])
            .problems
            .into_iter()
            .map(|p| format!("{}: {}", render(&p.field), p.message))
            .collect()
    }

    fn schema() -> Json {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "count": {"type": "integer", "format": "uint16", "minimum": 0},
                "mode": {"$ref": "#/definitions/Mode"},
                "env": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                "size": {"anyOf": [{"type": "number"}, {"type": "string"}]},
                "inner": {"anyOf": [{"$ref": "#/definitions/Inner"}, {"type": "null"}]},
                "list": {"type": "array", "items": {"$ref": "#/definitions/Inner"}}
            },
            "definitions": {
                "Mode": {"oneOf": [{"const": "host"}, {"const": "bridge"}]},
                "Inner": {"type": "object", "additionalProperties": false, "properties": {"flag": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn exactness() {
        let s = schema();
        let exact = |yaml: &str| {
            let v: Yaml = serde_yaml::from_str(yaml).unwrap();
            check(&v, &s, &s, &[]).exact
        };
        assert!(exact("name: x\ncount: 3\nenv: {A: b}\ninner: ~\nsize: 1\n"));
        assert!(!exact("name: 1\n"));
        assert!(!exact("name: x\nenv: {A: 1}\n"));
        assert!(!exact("name: x\nenv: {1: a}\n"));
        assert!(!exact("name: x\nlist:\n"));
        assert!(!exact("name: !t x\n"));
    }

    #[test]
    fn reports_everything() {
        let s = schema();
        assert_eq!(
            run(&s, "name: x\ncount: 3\nmode: host\nenv: {A: 1}\nsize: 1\ninner: ~\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            run(
                &s,
                "nmae: x\ncount: 70000\nmode: Bridge\nenv: {A: [1]}\nsize: true\ninner: {flg: true}\nlist: [{flag: 1}]\n"
            ),
            vec![
                "spec: unknown field \"nmae\", did you mean \"name\"?",
                "spec.count: must be an integer from 0 to 65535, found 70000",
                "spec.mode: unknown value \"Bridge\", did you mean \"bridge\"? (expected one of: host, bridge)",
                "spec.env.A: expected a string, found a list",
                "spec.size: expected a number or a string, found the boolean true",
                "spec.inner: unknown field \"flg\", did you mean \"flag\"?",
                "spec.list[0].flag: expected true or false, found the number 1",
                "spec: missing field \"name\"",
            ]
        );
        assert_eq!(
            run(&s, "name: x\ncount: -1\nxyz: 1\n"),
            vec![
                "spec.count: must not be negative, found -1",
                "spec: unknown field \"xyz\"; expected one of: count, env, inner, list, mode, name, size",
            ]
        );
        assert_eq!(
            run(&s, "name: x\nmode: 3\n"),
            vec!["spec.mode: expected one of: host, bridge; found the number 3"]
        );
        assert_eq!(run(&s, "name: !t [1]\nmode: !x 1\n"), Vec::<String>::new());
    }
}
