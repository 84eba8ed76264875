//! [`IntOrString`]: a field that holds an integer or a string, Kubernetes
//! style (`maxSurge: 1` or `maxSurge: "25%"`, `port: 8080` or `port: http`).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// An integer or a string. Which strings are meaningful depends on the field:
/// a percentage (`"25%"`) for rollout budgets, a port name for health checks.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(untagged)]
pub enum IntOrString {
    /// An integer, written as a YAML number.
    Int(i64),
    /// A string, written as a YAML string.
    String(String),
}

/// Why an [`IntOrString`] is not a valid rollout budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    /// A negative integer or percentage.
    #[error("must not be negative")]
    Negative,
    /// A string that is not `<integer>%`.
    #[error("invalid value \"{0}\": expected an integer or a percentage such as \"25%\"")]
    NotAPercentage(String),
}

impl IntOrString {
    /// Resolves a count or a percentage of `total`, rounding up or down.
    /// Kubernetes' `GetScaledValueFromIntOrPercent`.
    pub fn scaled(&self, total: u32, round_up: bool) -> Result<u32, PercentError> {
        match self {
            IntOrString::Int(n) if *n < 0 => Err(PercentError::Negative),
            IntOrString::Int(n) => Ok(u32::try_from(*n).unwrap_or(u32::MAX)),
            IntOrString::String(s) => {
                let pct = parse_percent(s)?;
                let scaled = u128::from(pct) * u128::from(total);
                let v = if round_up { scaled.div_ceil(100) } else { scaled / 100 };
                Ok(u32::try_from(v).unwrap_or(u32::MAX))
            }
        }
    }

    /// Whether this is `0` or `"0%"` (or another spelling of zero percent).
    pub fn is_zero(&self) -> bool {
        match self {
            IntOrString::Int(n) => *n == 0,
            IntOrString::String(s) => parse_percent(s) == Ok(0),
        }
    }
}

/// `"25%"` -> 25. Digits only (no sign, no fraction), then `%`.
fn parse_percent(s: &str) -> Result<u64, PercentError> {
    let not = || PercentError::NotAPercentage(s.to_string());
    let digits = s.strip_suffix('%').ok_or_else(not)?;
    if let Some(rest) = digits.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PercentError::Negative);
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not());
    }
    // Saturate absurd percentages; validation bounds them anyway.
    Ok(digits.parse().unwrap_or(u64::MAX / 1_000_000))
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl From<i64> for IntOrString {
    fn from(n: i64) -> Self {
        IntOrString::Int(n)
    }
}

impl From<&str> for IntOrString {
    fn from(s: &str) -> Self {
        IntOrString::String(s.to_string())
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntOrStringVisitor;

        impl Visitor<'_> for IntOrStringVisitor {
            type Value = IntOrString;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_string()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v))
            }
        }

        deserializer.deserialize_any(IntOrStringVisitor)
    }
}

impl JsonSchema for IntOrString {
    fn schema_name() -> Cow<'static, str> {
        "IntOrString".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true
        })
    }
}

/// Deserializes an optional string that may be written as a YAML integer
/// (`value: 2` for `value: "2"`), for constraint values.
pub(crate) fn opt_string_or_int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IntOrString>::deserialize(deserializer)?.map(|v| v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &str) -> IntOrString {
        IntOrString::String(v.into())
    }

    #[test]
    fn deserializes() {
        let v: Vec<IntOrString> = serde_yaml::from_str("[1, \"25%\", http, -3]").unwrap();
        assert_eq!(v, vec![IntOrString::Int(1), s("25%"), s("http"), IntOrString::Int(-3)]);
        assert!(serde_yaml::from_str::<IntOrString>("1.5").is_err());
        assert!(serde_yaml::from_str::<IntOrString>("true").is_err());
        assert!(serde_yaml::from_str::<IntOrString>("18446744073709551615").is_err());
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"[1,"25%","http",-3]"#);
    }

    #[test]
    fn scaled_rounds_like_kubernetes() {
        assert_eq!(s("25%").scaled(10, true), Ok(3));
        assert_eq!(s("25%").scaled(10, false), Ok(2));
        assert_eq!(s("25%").scaled(1, true), Ok(1));
        assert_eq!(s("25%").scaled(1, false), Ok(0));
        assert_eq!(s("100%").scaled(7, false), Ok(7));
        assert_eq!(s("0%").scaled(7, true), Ok(0));
        assert_eq!(IntOrString::Int(4).scaled(2, true), Ok(4));
        assert_eq!(IntOrString::Int(-1).scaled(2, true), Err(PercentError::Negative));
        assert_eq!(s("-5%").scaled(2, true), Err(PercentError::Negative));
        for bad in ["25", "%", "2.5%", "x%", " 5%", "+5%", ""] {
            assert!(
                matches!(s(bad).scaled(2, true), Err(PercentError::NotAPercentage(_))),
                "{bad}"
            );
        }
        assert_eq!(s("99999999999999999999999%").scaled(u32::MAX, true), Ok(u32::MAX));
    }

    #[test]
    fn zero() {
        assert!(IntOrString::Int(0).is_zero());
        assert!(s("0%").is_zero());
        assert!(s("000%").is_zero());
        assert!(!s("0").is_zero());
        assert!(!IntOrString::Int(1).is_zero());
    }

    proptest! {
        #[test]
        fn percent_bounds(pct in 0u32..=100, total in 0u32..100_000) {
            let up = s(&format!("{pct}%")).scaled(total, true).unwrap();
            let down = s(&format!("{pct}%")).scaled(total, false).unwrap();
            prop_assert!(down <= up && up <= total && up - down <= 1);
        }
    }
}
