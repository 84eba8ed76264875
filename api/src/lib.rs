//! sextant-api: Sextant's shared vocabulary.
//!
//! Owns the `App` manifest type (a kube-derive `CustomResource`), loading and
//! validating manifests from files and directories with errors that name the
//! file and line, the revision hash of an app's task-defining spec, the
//! App's CRD and JSON Schema, the App -> `TaskSpec` conversion, label
//! selectors (`selector`, parsed alike by the CLI and the controller), and
//! the HTTP API's wire types (`wire`) with a typed client (`client`, feature
//! `client`). It re-exports the controller<->agent contract of
//! `sextant-proto` for the controller.
//!
//! It must not do I/O beyond reading manifest files (and, in `client`
//! alone, HTTP requests to a controller), and must not know about Mesos or
//! sled. The agent does not depend on it (it uses
//! `sextant-proto` alone).

pub mod app;
#[cfg(feature = "client")]
pub mod client;
pub mod int_or_string;
pub mod load;
pub mod quantity;
pub mod revision;
pub mod schema;
pub mod selector;
mod structure;
mod suggest;
pub mod task;
pub mod validate;
pub mod wire;

/// The controller<->agent gRPC contract and its limits, from
/// `sextant-proto` (the agent uses that crate alone).
pub use sextant_proto::{contract, proto};

pub use app::{
    App, AppSpec, AppStatus, CommandCheck, Condition, Constraint, Container, DockerContainer, DockerParameter,
    HealthCheck, HttpCheck, HttpScheme, NetworkMode, Operator, Placement, PortSpec, Priority, Resources,
    RestartBackoff, Strategy, TcpCheck, Uri,
};
pub use int_or_string::IntOrString;
pub use load::{
    FieldError, FileLoad, LoadError, LoadErrors, LoadedApp, MAX_DOCUMENTS, load_paths, load_str, load_tree, validate,
};
pub use quantity::{Quantity, QuantityError};
pub use revision::revision;
pub use schema::{crd, crd_yaml, json_schema};
pub use selector::{Selector, SelectorError};
pub use suggest::did_you_mean;
pub use task::{TaskId, TaskIdError, TaskSpecError, app_key, task_spec};
