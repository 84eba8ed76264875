//! sextant-controller: the declarative half of Sextant.
//!
//! Owns the sources of desired state (a manifests directory, a git
//! repository, and `sextant apply`), the sled store (a durable cache of desired
//! apps, observed tasks, app status and source errors), the reconciler (a
//! pure, level-triggered function from desired + observed to actions), the
//! runtime that feeds it and sends its actions to the agent over gRPC, the
//! events it tells (and the hooks it posts them to), the metrics (one
//! prometheus-client registry, `/metrics` and `/vars`), and the HTTP API
//! the CLI uses, behind its tokens.
//!
//! It must not speak Mesos: everything about offers, placement, launching
//! and killing on Mesos belongs to the agent, reached only through the
//! `sextant_api::proto` contract. (Symmetrically, the agent never reads
//! manifests.) The store is never the only truth: desired state comes from
//! the sources, live state from the agent's task stream.

pub mod agent_link;
pub mod config_file;
pub mod controller;
pub mod crash_loop;
pub mod desired;
pub mod events;
pub mod expectations;
pub mod history;
pub mod hooks;
pub mod http;
pub mod index;
pub mod metrics;
pub mod observed;
pub mod ops;
pub mod queue;
pub mod quota;
pub mod reconcile;
pub mod runtime;
pub mod source;
pub mod store;

pub use controller::{ControllerConfig, ControllerError, ControllerHandle, start};
pub use desired::DesiredApp;
pub use http::{AppDetail, AppView, ErrorBody, ErrorCode, PortView, SourceView, TaskView};
pub use observed::{ObservedTask, state_name};
pub use reconcile::{Action, Input, Plan, reconcile};
pub use store::{SourceStatus, Store, StoreError};
