//! Parsing one YAML document into a [`Value`] within bounds, so hostile
//! input is rejected fast instead of exhausting memory or the stack.
//!
//! - Nesting deeper than [`MAX_NESTING`] mappings and lists is refused.
//! - Alias expansion is bounded ("billion laughs"): a document may expand
//!   to at most about one value per byte of its text, and to at most about
//!   twice its size in string bytes. Without aliases no document comes near
//!   these budgets, so they only stop documents whose aliases (`*name`)
//!   repeat large anchors. (serde_yaml 0.9 also bounds alias *jumps*, to a
//!   hundred per event, but not the size of what each jump repeats.)
//!
//! The result is the same [`Value`] serde_yaml builds, duplicate keys
//! included as errors with serde_yaml's message.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

/// Deepest nesting of mappings and lists accepted in a document.
pub const MAX_NESTING: usize = 64;

/// Values a document may expand to beyond one per byte of its text.
const EXTRA_NODES: usize = 10_000;
/// String bytes a document may expand to beyond twice its text.
const EXTRA_BYTES: usize = 64 * 1024;

/// Parses `text`, a single YAML document, into a [`Value`] within the
/// nesting and expansion bounds.
pub fn parse_bounded(text: &str) -> Result<Value, serde_yaml::Error> {
    let budget = Budget {
        nodes: Cell::new(text.len().saturating_add(EXTRA_NODES)),
        bytes: Cell::new(text.len().saturating_mul(2).saturating_add(EXTRA_BYTES)),
    };
    let seed = ValueSeed {
        budget: &budget,
        depth: 0,
    };
    seed.deserialize(serde_yaml::Deserializer::from_str(text))
}

/// What a document may still expand to.
struct Budget {
    nodes: Cell<usize>,
    bytes: Cell<usize>,
}

/// Message of the error for a document nested too deep.
pub const NESTING_MESSAGE: &str = "nesting deeper than 64 levels of mappings and lists is rejected";

/// Message of the error for a document over its expansion budget.
pub const ALIAS_BOMB: &str = "document expands to too many values through YAML aliases (*name repeating an \
                              &anchor); such alias bombs are rejected";

impl Budget {
    fn take<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let nodes = self.nodes.get().checked_sub(1);
        let bytes = self.bytes.get().checked_sub(bytes);
        match (nodes, bytes) {
            (Some(n), Some(b)) => {
                self.nodes.set(n);
                self.bytes.set(b);
                Ok(())
            }
            _ => Err(E::custom(ALIAS_BOMB)),
        }
    }
}

#[derive(Clone, Copy)]
struct ValueSeed<'b> {
    budget: &'b Budget,
    /// Mappings and lists enclosing the value.
    depth: usize,
}

impl ValueSeed<'_> {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_NESTING {
            return Err(E::custom(NESTING_MESSAGE));
        }
        self.budget.take(0)?;
        Ok(ValueSeed {
            budget: self.budget,
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.budget.take(0)?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        self.budget.take(0)?;
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        self.budget.take(0)?;
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        self.budget.take(0)?;
        Ok(Value::Number(f.into()))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.budget.take(s.len())?;
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.budget.take(s.len())?;
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.budget.take(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.nested()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(child)? {
            items.push(v);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.nested()?;
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(child)? {
            if mapping.contains_key(&key) {
                return Err(de::Error::custom(DuplicateKey(&key)));
            }
            let value = map.next_value_seed(child)?;
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // serde_yaml presents a value with a custom tag (`!tag value`) as an
        // enum variant named by the tag.
        let (tag, contents): (String, _) = data.variant()?;
        if tag.is_empty() {
            return Err(de::Error::custom("empty YAML tag is not allowed"));
        }
        let value = contents.newtype_variant_seed(self.nested()?)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

/// serde_yaml's message for a duplicate key.
struct DuplicateKey<'a>(&'a Value);

impl fmt::Display for DuplicateKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("duplicate entry ")?;
        match self.0 {
            Value::Null => f.write_str("with null key"),
            Value::Bool(b) => write!(f, "with key `{b}`"),
            Value::Number(n) => write!(f, "with key {n}"),
            Value::String(s) => write!(f, "with key {s:?}"),
            Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => f.write_str("in YAML map"),
        }
    }
}

/// How a value reads in a message: `the string "x"`, `a list`, ….
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(_) => format!("the string {}", short(v)),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A value for a message: strings quoted and cut at 64 characters.
pub fn short(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out: String = s.chars().take(64).collect();
            if out.len() < s.len() {
                out.push('…');
            }
            format!("{out:?}")
        }
        other => describe(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_serde_yaml() {
        for text in [
            "a: 1\nb: [x, 2.5, true, ~, {c: d}]\n",
            "!tag {a: 1}\n",
            "a: &x [1, 2]\nb: *x\n",
            "? [1]\n: 2\n",
            "",
            "x",
        ] {
            let ours = parse_bounded(text).unwrap();
            let theirs: Value = serde_yaml::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn duplicate_keys_as_serde_yaml() {
        for text in ["a: 1\na: 2\n", "1: a\n1: b\n", "~: a\n~: b\n", "true: 1\ntrue: 2\n"] {
            let ours = parse_bounded(text).unwrap_err().to_string();
            let theirs = serde_yaml::from_str::<Value>(text).unwrap_err().to_string();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn nesting_message_names_the_limit() {
        assert!(NESTING_MESSAGE.contains(&MAX_NESTING.to_string()));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(parse_bounded(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
        let e = parse_bounded(&deep).unwrap_err().to_string();
        assert!(e.contains(NESTING_MESSAGE), "{e}");
        let block: String = (0..200).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        assert!(
            parse_bounded(&block)
                .unwrap_err()
                .to_string()
                .contains("nesting deeper")
        );
        let huge = "[".repeat(100_000);
        assert!(parse_bounded(&huge).is_err());
    }

    #[test]
    fn alias_bombs_are_rejected() {
        let mut bomb =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (i, c) in ('b'..='i').enumerate() {
            let prev = (b'a' + i as u8) as char;
            bomb.push_str(&format!("{c}: &{c} [{}]\n", vec![format!("*{prev}"); 9].join(",")));
        }
        let started = std::time::Instant::now();
        let e = parse_bounded(&bomb).unwrap_err().to_string();
        assert!(e.contains(ALIAS_BOMB), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // One big anchor repeated: few jumps, much data.
        let big = format!(
            "a: &a \"{}\"\nb: [{}]\n",
            "x".repeat(100_000),
            vec!["*a"; 100].join(",")
        );
        assert!(parse_bounded(&big).unwrap_err().to_string().contains(ALIAS_BOMB));
        // Modest reuse is fine.
        assert!(parse_bounded("x: &e {A: '1', B: '2'}\ny: *e\nz: *e\n").is_ok());
    }
}
