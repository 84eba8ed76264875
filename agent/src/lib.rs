//! sextant-agent: Sextant's Mesos framework.
//!
//! Owns the Mesos subscription (and its framework id), offers and placement,
//! launching and killing tasks, status update acknowledgement and task
//! reconciliation. It serves the controller over gRPC (the contract in
//! `sextant-proto`, the one crate of ours besides `mesos-v1` it uses): `Launch` and `Kill`, idempotent by task id, and
//! `WatchTasks`, a snapshot (in chunks) and the agent's link to Mesos,
//! followed by every change of either; `ReadTaskLog`, a task's stdout
//! or stderr read from its Mesos agent's `/files/read`; `ListNodes`, the
//! master's agents with their resources (`/master/slaves`); and
//! `ListQueue`, the launch queue and why each task in it waits.
//!
//! It must not read manifests or decide how many tasks an app needs: that is
//! the controller's job. It only runs what it is told to run, where it fits.

pub mod agent;
pub mod auth;
pub mod grpc;
pub mod journal;
pub mod launch_queue;
pub mod link;
pub mod metrics;
pub mod nodes;
pub mod outbox;
pub mod placement;
pub mod preemption;
pub mod queue;
pub mod reconciliation;
pub mod sandboxes;
pub mod scheduler;
pub mod tasks;

pub use agent::{AgentConfig, AgentError, AgentHandle, start};
pub use metrics::AgentMetrics;
