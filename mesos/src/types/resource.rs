//! Resources and attributes: `Resource`, `Value`, `Attribute`.

use serde::{Deserialize, Serialize};

/// `mesos.v1.Resource` (unreserved resources; reservations are passed
/// through untouched by ignoring them).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
}

impl Resource {
    /// A scalar resource (`cpus`, `mem`, `disk`).
    pub fn scalar(name: &str, value: f64) -> Self {
        Self {
            name: name.to_string(),
            kind: ValueType::Scalar,
            scalar: Some(Scalar { value }),
            ranges: None,
            set: None,
            role: None,
            allocation_info: None,
        }
    }

    /// A ranges resource (`ports`), inclusive bounds.
    pub fn ranges(name: &str, ranges: Vec<Range>) -> Self {
        Self {
            name: name.to_string(),
            kind: ValueType::Ranges,
            scalar: None,
            ranges: Some(Ranges { range: ranges }),
            set: None,
            role: None,
            allocation_info: None,
        }
    }
}

/// `Value.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueType {
    Scalar,
    Ranges,
    Set,
    Text,
    #[serde(other)]
    Unrecognized,
}

/// `Value.Scalar`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Scalar {
    pub value: f64,
}

/// `Value.Ranges`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Ranges {
    #[serde(default)]
    pub range: Vec<Range>,
}

/// `Value.Range`, inclusive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub begin: u64,
    pub end: u64,
}

/// `Value.Set`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Set {
    #[serde(default)]
    pub item: Vec<String>,
}

/// `Value.Text`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Text {
    pub value: String,
}

/// `Resource.AllocationInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct AllocationInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `mesos.v1.Attribute`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}
