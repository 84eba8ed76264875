//! The bodies of the API's writes and their answers: apply, diff, delete,
//! scale and the sync triggers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What applying an object does to the desired state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did not exist.
    Created,
    /// It changed.
    Configured,
    /// It is already so.
    Unchanged,
    /// It cannot be applied; nothing in the request was.
    Error,
}

/// What a change of an existing object sets in motion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A new revision: tasks are replaced by a rolling update.
    Rollout,
    /// Only `instances`: tasks are added or removed, none replaced.
    Scale,
    /// Other fields (strategy, labels, pause…): no task is replaced.
    Settings,
}

/// One object of an apply, diff or delete request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What happens to it.
    pub outcome: Outcome,
    /// For `configured`: whether it rolls, scales, or changes settings only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// The revision it runs once applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Why it cannot be applied, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Unified diff of the stored object against the proposed one (diff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The answer to an apply or diff request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResult {
    /// Nothing was written because it was asked not to be.
    pub dry_run: bool,
    /// Whether the objects were written (false on a dry run or an error).
    pub applied: bool,
    /// Every object, in request order.
    pub objects: Vec<ObjectResult>,
}

/// A load error, located.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocatedError {
    /// The file (`<request>` for an applied body).
    pub file: String,
    /// 1-based line, 0 for the whole text.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Dotted field path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The answer to a delete.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct DeletedView {
    /// `namespace/name` of the deleted app.
    pub deleted: String,
}

/// The body of a scale request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct ScaleRequest {
    /// The new instance count.
    pub instances: u32,
}

/// The answer to an accepted trigger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct TriggeredView {
    /// Git sources told to sync now.
    pub triggered: usize,
}

/// The body of `POST .../rollout/undo` (optional).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UndoRequest {
    /// The revision to go back to; default: the newest completed one before
    /// the current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<String>,
}

/// The answer to a rollout operation (pause, resume, restart, undo).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutResult {
    /// `namespace/name`.
    pub app: String,
    /// `pause`, `resume`, `restart` or `undo`.
    pub action: String,
    /// Whether anything changed (a second pause changes nothing).
    pub changed: bool,
    /// The revision the app's tasks are made to run next, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// What happens now, in words.
    pub message: String,
}
