//! sextant-api: Sextant's shared vocabulary.
//!
//! Owns the `App` manifest type (a kube-derive `CustomResource`), loading and
//! validating manifests from files and directories with errors that name the
//! file and line, the revision hash of an app's task-defining spec, the
//! App's CRD and JSON Schema, and the controller<->agent gRPC contract
//! generated from `proto/`.
//!
//! It must not do I/O beyond reading manifest files, and must not know about
//! Mesos, sled or HTTP: both the controller and the agent depend on it.

pub mod app;
pub mod int_or_string;
pub mod load;
pub mod quantity;
pub mod revision;
pub mod schema;
mod structure;
mod suggest;
pub mod task;
pub mod validate;

/// The controller<->agent gRPC contract (`proto/sextant/agent/v1/agent.proto`).
pub mod proto {
    #![allow(clippy::all, missing_docs, rustdoc::invalid_html_tags, rustdoc::bare_urls)]
    tonic::include_proto!("sextant.agent.v1");
}

/// Limits of the controller<->agent contract, set explicitly on both ends.
pub mod contract {
    /// The largest gRPC message either side encodes or decodes (tonic's
    /// default is 4 MiB, which one unchunked snapshot of ~24,000 tasks
    /// would exceed).
    pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
    /// Tasks per `TaskSnapshot` chunk: about 170 bytes a task, so a chunk
    /// stays near 200 KiB, far below [`MAX_MESSAGE_BYTES`].
    pub const SNAPSHOT_CHUNK_TASKS: usize = 1000;
}

impl proto::TaskState {
    /// Whether a task in this state has ended for good, as the Mesos master
    /// counts it (FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE,
    /// GONE_BY_OPERATOR). LOST and GONE_BY_OPERATOR may still be followed by
    /// RUNNING if the node comes back.
    pub fn is_terminal(self) -> bool {
        use proto::TaskState as S;
        matches!(
            self,
            S::Finished | S::Failed | S::Killed | S::Error | S::Lost | S::Dropped | S::Gone | S::GoneByOperator
        )
    }
}

pub use app::{
    App, AppSpec, AppStatus, CommandCheck, Condition, Constraint, Container, DockerContainer, DockerParameter,
    HealthCheck, HttpCheck, HttpScheme, NetworkMode, Operator, Placement, PortSpec, Priority, Resources,
    RestartBackoff, Strategy, TcpCheck, Uri,
};
pub use int_or_string::IntOrString;
pub use load::{FieldError, LoadError, LoadErrors, LoadedApp, MAX_DOCUMENTS, load_paths, load_str, validate};
pub use quantity::{Quantity, QuantityError};
pub use revision::revision;
pub use schema::{crd, crd_yaml, json_schema};
pub use suggest::did_you_mean;
pub use task::{TaskId, TaskIdError, TaskSpecError, app_key, task_spec};
