//! `spec.placement`: Marathon-style constraints on where tasks run.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an app's tasks may run.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    /// Constraints every placement must satisfy, Marathon style. At most 50.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
}

/// Most entries of `spec.placement.constraints`, enforced by validation
/// (each may hold a regular expression to compile and match on every
/// offer).
pub const MAX_CONSTRAINTS: usize = 50;

/// One placement constraint: `field` `operator` `value`, as in Marathon.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constraint {
    /// `hostname`, or the name of a Mesos agent attribute (e.g. `rack`).
    pub field: String,
    /// How the field's value is constrained.
    pub operator: Operator,
    /// The operator's argument: none for `UNIQUE`; required for `CLUSTER`
    /// and `IS` (the value to match), `LIKE` and `UNLIKE` (a regular
    /// expression matched against the whole value) and `MAX_PER` (a positive
    /// integer); optional for `GROUP_BY` (the number of groups). A YAML
    /// integer is taken as its decimal string.
    #[serde(
        default,
        deserialize_with = "crate::int_or_string::opt_string_or_int",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::int_or_string::IntOrString>")]
    pub value: Option<String>,
}

/// A Marathon constraint operator.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    /// At most one task per distinct value of the field (e.g. one per host).
    Unique,
    /// Only on nodes whose field equals the value.
    Cluster,
    /// Spread tasks evenly across the field's values (optionally across
    /// `value` groups).
    GroupBy,
    /// Only on nodes whose field matches the regular expression.
    Like,
    /// Only on nodes whose field does not match the regular expression.
    Unlike,
    /// At most `value` tasks per distinct value of the field.
    MaxPer,
    /// Only on nodes whose field (a text or scalar attribute) is the value.
    Is,
}

impl Operator {
    /// The operator as written in manifests, e.g. `GROUP_BY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Unique => "UNIQUE",
            Operator::Cluster => "CLUSTER",
            Operator::GroupBy => "GROUP_BY",
            Operator::Like => "LIKE",
            Operator::Unlike => "UNLIKE",
            Operator::MaxPer => "MAX_PER",
            Operator::Is => "IS",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `field` naming the agent's hostname rather than an attribute.
pub const HOSTNAME_FIELD: &str = "hostname";
