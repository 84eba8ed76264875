//! One event of `GET /api/v1/events` (and of outgoing hooks' bodies).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Grows by one per event, from 1.
    pub id: u64,
    /// RFC 3339.
    pub time: String,
    /// `task`, `desired`, `sync` or `condition`.
    pub kind: String,
    /// `namespace/name` of the app concerned, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The task concerned (`task` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The source concerned (`desired` and `sync` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A short word: the task state, `created` / `updated` / `removed`,
    /// `synced` / `failing` / `refused`, or the condition's reason.
    pub reason: String,
    /// What happened, in words.
    pub message: String,
}

/// The kinds of a `kind=` filter (`task,condition`): comma-separated,
/// blanks ignored.
pub fn event_kinds<'a>(text: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    text.into_iter()
        .flat_map(|k| k.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}
