//! The HTTP API's wire types: what the controller answers and what its
//! clients (the CLI, the web UI, anyone's scripts) send and read. The
//! controller builds them from its index; nothing here does I/O. JSON
//! field names are camelCase, Kubernetes style. Each type derives
//! `JsonSchema`, from which the controller's OpenAPI document takes its
//! schemas, so the document cannot drift from what is served.

mod apps;
mod cluster;
mod error;
mod events;
mod history;
mod sources;
mod summary;
mod writes;

/// The header of a logs answer naming the task whose log is sent.
pub const LOG_TASK_HEADER: &str = "x-sextant-task";
/// The header of a logs answer saying at which byte of the file the body
/// starts.
pub const LOG_OFFSET_HEADER: &str = "x-sextant-offset";

pub use apps::{AppDetail, AppView, PortView, RevisionView, TaskView};
pub use cluster::{
    ClusterView, FrameworkLink, NodeList, NodeStatus, NodeView, PortRange, QueueList, QueuedTaskView, ResourcesView,
};
pub use error::{ErrorBody, ErrorCode};
pub use events::{Event, event_kinds};
pub use history::{HistoryView, SeriesView};
pub use sources::{CommitInfo, Problem, ProblemKind, SourceView, short_sha};
pub use summary::status_summary;
pub use writes::{
    ApplyResult, Change, DeletedView, LocatedError, ObjectResult, Outcome, RolloutResult, ScaleRequest, TriggeredView,
    UndoRequest,
};
