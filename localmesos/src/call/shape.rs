//! The master's JSON-to-protobuf checks on a request body, made while the
//! body is read once as a stream of JSON tokens: no `serde_json::Value`
//! is built, so checking a body costs memory for its nesting depth and
//! the names of missing fields, not for its size.
//!
//! What it reports, in a Mesos master's order: a JSON syntax error
//! anywhere in the body first (the master parses the whole text before
//! converting it); then a body that is not an object; then the first hard
//! conversion error (an unknown value of a required enum, undecodable
//! base64) or the missing required fields, walked like protobuf's
//! `FindInitializationErrors` (a message's own fields in declaration
//! order, then its set sub-messages). The list of missing fields is cut
//! after [`MAX_LISTED`] names.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::schema::{self, Field, Kind, Msg};

/// How many missing fields are named in one answer.
pub const MAX_LISTED: usize = 100;

/// What the rest of the parse needs from the walk.
#[derive(Debug)]
pub struct Shape {
    /// The Call's `type`: `None` if absent or null, `Err` with the JSON
    /// type's name if it is not a string.
    pub kind: Option<Result<String, &'static str>>,
    /// The Call's top-level fields that are set (present and not null).
    pub present: Vec<&'static str>,
}

/// Why a body does not convert into a Call.
#[derive(Debug)]
pub enum ShapeError {
    /// Not JSON at all (the master: `Failed to parse body into JSON`).
    Syntax(serde_json::Error),
    /// JSON that is no Call protobuf (`Failed to convert JSON into Call
    /// protobuf: …`).
    Convert(String),
}

/// Walks `body` once.
pub fn check(body: &[u8]) -> Result<Shape, ShapeError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let root = RootSeed.deserialize(&mut deserializer).map_err(ShapeError::Syntax)?;
    deserializer.end().map_err(ShapeError::Syntax)?;
    let Some(walked) = root else {
        return Err(ShapeError::Convert("Expecting a JSON object".to_string()));
    };
    let missing = walked.result.map_err(ShapeError::Convert)?;
    if !missing.paths.is_empty() {
        let mut text = format!("Missing required fields: {}", missing.paths.join(", "));
        if missing.more > 0 {
            text.push_str(&format!(" (and {} more)", missing.more));
        }
        return Err(ShapeError::Convert(text));
    }
    Ok(Shape {
        kind: walked.kind,
        present: walked.present,
    })
}

/// Missing required fields, in protobuf's order, the first
/// [`MAX_LISTED`] by name.
#[derive(Debug, Default)]
struct Missing {
    paths: Vec<String>,
    more: usize,
}

impl Missing {
    fn push(&mut self, path: impl FnOnce() -> String) {
        if self.paths.len() < MAX_LISTED {
            self.paths.push(path());
        } else {
            self.more += 1;
        }
    }

    fn extend(&mut self, other: Missing) {
        for path in other.paths {
            self.push(|| path);
        }
        self.more += other.more;
    }
}

/// What was seen of one field of one message.
#[derive(Default)]
struct FieldState {
    /// Present and not null.
    present: bool,
    /// A conversion error in the field's own value.
    hard: Option<String>,
    /// The missing fields of its sub-message(s), items in order.
    child: Missing,
    /// The first conversion error inside its sub-message(s).
    child_hard: Option<String>,
}

impl FieldState {
    fn absorb(&mut self, result: Result<Missing, String>) {
        match result {
            Ok(missing) => self.child.extend(missing),
            Err(error) => {
                self.child_hard.get_or_insert(error);
            }
        }
    }
}

/// One walked message.
struct Walked {
    result: Result<Missing, String>,
    present: Vec<&'static str>,
    kind: Option<Result<String, &'static str>>,
}

/// protobuf's order: this message's own required fields and value errors
/// in declaration order, then its sub-messages'.
fn compose(fields: &[Field], states: Vec<FieldState>, prefix: &str) -> Result<Missing, String> {
    let mut missing = Missing::default();
    for (field, state) in fields.iter().zip(&states) {
        if field.required && !state.present {
            missing.push(|| format!("{prefix}{}", field.name));
        }
        if let Some(error) = &state.hard {
            return Err(error.clone());
        }
    }
    for state in states {
        if let Some(error) = state.child_hard {
            return Err(error);
        }
        missing.extend(state.child);
    }
    Ok(missing)
}

// ------------------------------------------------------------ the root ---

struct RootSeed;

impl<'de> DeserializeSeed<'de> for RootSeed {
    type Value = Option<Walked>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The visits of a value that is not an object (an array's items are
/// skipped): `None`, for the typed parse after the walk to name the error.
macro_rules! not_a_message {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

impl<'de> Visitor<'de> for RootSeed {
    type Value = Option<Walked>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        MessageVisitor {
            msg: Msg::Call,
            prefix: String::new(),
            root: true,
        }
        .visit_map(map)
        .map(Some)
    }

    not_a_message!();
}

// ----------------------------------------------------------- a message ---

struct MessageVisitor {
    msg: Msg,
    prefix: String,
    root: bool,
}

/// A key of a message: one of its checked fields, the Call's `type`, or
/// anything else (ignored, as protobuf's JSON conversion ignores unknown
/// keys).
enum Key {
    Field(usize),
    Type,
    Other,
}

struct KeySeed<'a> {
    fields: &'a [Field],
    root: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        if self.root && name == "type" {
            return Ok(Key::Type);
        }
        Ok(self
            .fields
            .iter()
            .position(|f| f.name == name)
            .map_or(Key::Other, Key::Field))
    }
}

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Walked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
        let fields = schema::fields(self.msg);
        let mut states: Vec<FieldState> = fields.iter().map(|_| FieldState::default()).collect();
        let mut kind = None;
        while let Some(key) = map.next_key_seed(KeySeed {
            fields: &fields,
            root: self.root,
        })? {
            match key {
                Key::Field(i) => {
                    // A repeated key: the last value counts, as in a JSON object.
                    states[i] = FieldState::default();
                    map.next_value_seed(FieldSeed {
                        field: fields[i],
                        prefix: &self.prefix,
                        state: &mut states[i],
                    })?;
                }
                Key::Type => kind = map.next_value_seed(TypeSeed)?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let present = fields
            .iter()
            .zip(&states)
            .filter(|(_, s)| s.present)
            .map(|(f, _)| f.name)
            .collect();
        Ok(Walked {
            result: compose(&fields, states, &self.prefix),
            present,
            kind,
        })
    }
}

// ----------------------------------------------------- the Call's type ---

struct TypeSeed;

impl<'de> DeserializeSeed<'de> for TypeSeed {
    type Value = Option<Result<String, &'static str>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TypeSeed {
    type Value = Option<Result<String, &'static str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a call type")
    }

    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(Some(Ok(name.to_string())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some(Err("boolean")))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some(Err("number")))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some(Err("number")))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some(Err("number")))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Some(Err("array")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Some(Err("object")))
    }
}

// ----------------------------------------------------- a field's value ---

struct FieldSeed<'a> {
    field: Field,
    prefix: &'a str,
    state: &'a mut FieldState,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.state.present = true;
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.state.present = true;
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.state.present = true;
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.state.present = true;
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        self.state.present = true;
        match self.field.kind {
            Kind::Enum(values) if !values.contains(&text) => {
                self.state.hard = Some(format!("Failed to find enum for '{text}'"));
            }
            Kind::Bytes if BASE64.decode(text).is_err() => {
                self.state.hard = Some(format!(
                    "Failed to base64 decode bytes field '{}': Invalid base64 string",
                    self.field.name
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.state.present = true;
        let Kind::Message(sub) = self.field.kind else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        if !self.field.repeated {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            let item = ItemSeed {
                msg: sub,
                prefix: format!("{}{}[{index}].", self.prefix, self.field.name),
            };
            match seq.next_element_seed(item)? {
                None => break,
                Some(Some(result)) => self.state.absorb(result),
                Some(None) => {}
            }
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.state.present = true;
        match self.field.kind {
            Kind::Message(sub) if !self.field.repeated => {
                let walked = MessageVisitor {
                    msg: sub,
                    prefix: format!("{}{}.", self.prefix, self.field.name),
                    root: false,
                }
                .visit_map(map)?;
                self.state.absorb(walked.result);
            }
            _ => while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {},
        }
        Ok(())
    }
}

/// One item of a repeated message field: walked if it is an object.
struct ItemSeed {
    msg: Msg,
    prefix: String,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Option<Result<Missing, String>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed {
    type Value = Option<Result<Missing, String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let walked = MessageVisitor {
            msg: self.msg,
            prefix: self.prefix,
            root: false,
        }
        .visit_map(map)?;
        Ok(Some(walked.result))
    }
    not_a_message!();
}
