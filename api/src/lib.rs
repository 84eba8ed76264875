//! sextant-api: Sextant's shared vocabulary.
//!
//! Owns the `App` manifest type (a kube-derive `CustomResource`), loading and
//! validating manifests from files and directories with errors that name the
//! file and line, the revision hash of an app's task-defining spec, and the
//! controller<->agent gRPC contract generated from `proto/`.
//!
//! It must not do I/O beyond reading manifest files, and must not know about
//! Mesos, sled or HTTP: both the controller and the agent depend on it.

pub mod app;
pub mod load;
pub mod quantity;
pub mod revision;
pub mod task;

/// The controller<->agent gRPC contract (`proto/sextant/agent/v1/agent.proto`).
pub mod proto {
    #![allow(clippy::all, missing_docs, rustdoc::invalid_html_tags, rustdoc::bare_urls)]
    tonic::include_proto!("sextant.agent.v1");
}

pub use app::{App, AppSpec, AppStatus, PortSpec, Resources};
pub use load::{FieldError, LoadError, LoadErrors, LoadedApp, load_paths, load_str, validate};
pub use quantity::{Quantity, QuantityError};
pub use revision::revision;
pub use task::{TaskId, TaskIdError, TaskSpecError, app_key, task_spec};
