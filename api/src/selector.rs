//! Label selectors, kubectl's equality-based form: `key=value` (or
//! `key==value`), `key!=value`, `key` (the label is set), `!key` (it is
//! not), comma-separated, every requirement to hold. The CLI parses `-l`
//! with it and sends it to the controller as `?labelSelector=`, which
//! parses it again and filters the app list with it: one grammar on both
//! sides. Pure: no I/O.
//!
//! Spaces around a requirement or an operator are allowed (`a = b`) and
//! empty parts are skipped (`a=b,,c`); a key is never empty, and neither a
//! key nor a value holds whitespace, `=`, `!` or `,`. A value may be empty
//! (`tier=` matches a label whose value is empty). [`Selector`]'s
//! `Display` is its canonical text, which parses back to the same
//! selector.

use std::collections::BTreeMap;
use std::fmt;

/// Requirements a selector may hold at most: it is parsed from a query
/// string, and each is checked against every app.
pub const MAX_REQUIREMENTS: usize = 64;

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`: the label is set to the value.
    Equals(String, String),
    /// `key!=value`: the label is not set to the value (or not set).
    NotEquals(String, String),
    /// `key`: the label is set, to anything.
    Exists(String),
    /// `!key`: the label is not set.
    Absent(String),
}

/// Why a selector does not parse; the text and the part at fault are
/// named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Nothing but commas and spaces.
    #[error("label selector {text:?} is empty: write key=value, key!=value, key or !key")]
    Empty {
        /// The selector as given.
        text: String,
    },
    /// A part that is not one of the forms.
    #[error("label selector {text:?}: {part:?} {why}; write key=value, key!=value, key or !key")]
    BadPart {
        /// The selector as given.
        text: String,
        /// The part at fault, trimmed.
        part: String,
        /// What is wrong with it, in words.
        why: &'static str,
    },
    /// More requirements than [`MAX_REQUIREMENTS`].
    #[error("label selector {text:?} has {count} requirements, more than the {MAX_REQUIREMENTS} allowed")]
    TooMany {
        /// The selector as given (cut at 200 characters).
        text: String,
        /// How many it has.
        count: usize,
    },
}

/// Characters that end a key or a value.
fn is_reserved(c: char) -> bool {
    c.is_whitespace() || matches!(c, '=' | '!' | ',')
}

impl Selector {
    /// Parses `text`; see the module docs for the grammar.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let parts: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return Err(SelectorError::Empty { text: text.to_string() });
        }
        if parts.len() > MAX_REQUIREMENTS {
            return Err(SelectorError::TooMany {
                text: text.chars().take(200).collect(),
                count: parts.len(),
            });
        }
        let mut requirements = Vec::with_capacity(parts.len());
        for part in parts {
            let bad = |why| SelectorError::BadPart {
                text: text.to_string(),
                part: part.to_string(),
                why,
            };
            let requirement = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::Absent(k.trim().to_string())
            } else {
                Requirement::Exists(part.to_string())
            };
            let (key, value) = match &requirement {
                Requirement::Equals(k, v) | Requirement::NotEquals(k, v) => (k, Some(v)),
                Requirement::Exists(k) | Requirement::Absent(k) => (k, None),
            };
            if key.is_empty() {
                return Err(bad("has no key"));
            }
            if key.contains(is_reserved) {
                return Err(bad("has a key holding whitespace, '=', '!' or ','"));
            }
            if value.is_some_and(|v| v.contains(is_reserved)) {
                return Err(bad("has a value holding whitespace, '=', '!' or ','"));
            }
            requirements.push(requirement);
        }
        Ok(Self(requirements))
    }

    /// Its requirements, in the order written.
    pub fn requirements(&self) -> &[Requirement] {
        &self.0
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Equals(k, v) => labels.get(k) == Some(v),
            Self::NotEquals(k, v) => labels.get(k) != Some(v),
            Self::Exists(k) => labels.contains_key(k),
            Self::Absent(k) => !labels.contains_key(k),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equals(k, v) => write!(f, "{k}={v}"),
            Self::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Self::Exists(k) => f.write_str(k),
            Self::Absent(k) => write!(f, "!{k}"),
        }
    }
}

impl fmt::Display for Selector {
    /// The canonical text: `k=v`, `k!=v`, `k`, `!k`, joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [("team", "storefront"), ("tier", "web"), ("empty", "")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into()
    }

    fn yes(text: &str) -> bool {
        Selector::parse(text).expect("parses").matches(&labels())
    }

    #[test]
    fn selectors_read_like_kubectl() {
        assert!(yes("team=storefront"));
        assert!(yes("team==storefront,tier"));
        assert!(yes(" team = storefront , tier "));
        assert!(yes("team!=billing"));
        assert!(yes("canary!=true"), "a label not set is not equal to anything");
        assert!(yes("!canary"));
        assert!(yes("empty="));
        assert!(yes("team=storefront,,tier=web"), "empty parts are skipped");
        assert!(!yes("team=billing"));
        assert!(!yes("tier,canary"));
        assert!(!yes("!team"));
        assert!(!yes("team!=storefront"));
        assert!(!yes("tier="));
    }

    #[test]
    fn a_bad_selector_names_the_part_at_fault() {
        let err = |text: &str| Selector::parse(text).expect_err(text).to_string();
        assert_eq!(
            err(" , "),
            "label selector \" , \" is empty: write key=value, key!=value, key or !key"
        );
        let e = err("tier=web,=x");
        assert!(e.contains("\"=x\" has no key"), "{e}");
        assert!(err("!").contains("\"!\" has no key"));
        assert!(err("a b=c").contains("\"a b=c\" has a key holding whitespace"));
        assert!(err("!a=b").contains("\"!a=b\" has a key holding"));
        assert!(err("a=b=c").contains("\"a=b=c\" has a value holding"));
        assert!(err("a!=b!=c").contains("has a value holding"));
        assert!(err("a=b c").contains("has a value holding"));
        let many = vec!["a"; MAX_REQUIREMENTS + 1].join(",");
        assert!(err(&many).contains("65 requirements, more than the 64 allowed"));
        assert!(Selector::parse(&vec!["a"; MAX_REQUIREMENTS].join(",")).is_ok());
    }

    #[test]
    fn the_canonical_text_is_the_forms_without_spaces() {
        let s = Selector::parse(" a == 1 , b!=2,c , ! d,e=").expect("parses");
        assert_eq!(s.to_string(), "a=1,b!=2,c,!d,e=");
        assert_eq!(
            s.requirements(),
            [
                Requirement::Equals("a".into(), "1".into()),
                Requirement::NotEquals("b".into(), "2".into()),
                Requirement::Exists("c".into()),
                Requirement::Absent("d".into()),
                Requirement::Equals("e".into(), String::new()),
            ]
        );
        assert_eq!("a=1".parse::<Selector>(), Selector::parse("a==1"));
    }

    fn word() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9./_-]{0,12}"
    }

    fn requirement() -> impl Strategy<Value = Requirement> {
        prop_oneof![
            (word(), prop_oneof![Just(String::new()), word()]).prop_map(|(k, v)| Requirement::Equals(k, v)),
            (word(), prop_oneof![Just(String::new()), word()]).prop_map(|(k, v)| Requirement::NotEquals(k, v)),
            word().prop_map(Requirement::Exists),
            word().prop_map(Requirement::Absent),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = Selector::parse(&text);
        }

        #[test]
        fn parse_never_panics_on_selector_like_text(text in "[a-c=!, \t]{0,40}") {
            if let Ok(s) = Selector::parse(&text) {
                // What parsed prints as something that parses to itself.
                prop_assert_eq!(Selector::parse(&s.to_string()), Ok(s));
            }
        }

        #[test]
        fn the_canonical_text_parses_back(reqs in proptest::collection::vec(requirement(), 1..8)) {
            let s = Selector(reqs);
            prop_assert_eq!(Selector::parse(&s.to_string()), Ok(s));
        }

        #[test]
        fn matching_is_every_requirement(
            reqs in proptest::collection::vec(requirement(), 1..6),
            labels in proptest::collection::btree_map(word(), word(), 0..6),
        ) {
            let s = Selector(reqs.clone());
            prop_assert_eq!(s.matches(&labels), reqs.iter().all(|r| r.matches(&labels)));
            for r in &reqs {
                let one = Selector(vec![r.clone()]);
                let expected = match r {
                    Requirement::Equals(k, v) => labels.get(k).is_some_and(|x| x == v),
                    Requirement::NotEquals(k, v) => labels.get(k).is_none_or(|x| x != v),
                    Requirement::Exists(k) => labels.contains_key(k),
                    Requirement::Absent(k) => !labels.contains_key(k),
                };
                prop_assert_eq!(one.matches(&labels), expected);
            }
        }
    }
}
