//! sextant-proto: the controller<->agent gRPC contract
//! (`sextant/agent/v1/agent.proto`, compiled by protox and
//! tonic-prost-build, so the build needs no system `protoc`), its explicit
//! limits, and task identity (ids and label keys).
//!
//! It depends on nothing of ours and holds no manifests and no I/O: the
//! agent uses it alone, without the manifest loader; the api crate
//! re-exports it for the controller.

pub mod task;

/// The generated contract.
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
    /// The most bytes one `ReadTaskLog` answers (a Mesos agent answers
    /// 64 KiB a read; the agent reads on to this): far below
    /// [`MAX_MESSAGE_BYTES`].
    pub const MAX_LOG_READ_BYTES: u32 = 1024 * 1024;
    /// The most nodes one `ListNodes` answers (each a few hundred bytes
    /// with its attributes: some MiB in all, below [`MAX_MESSAGE_BYTES`]).
    pub const MAX_LIST_NODES: usize = 10_000;
    /// The most queued tasks one `ListQueue` answers (about 200 bytes
    /// each).
    pub const MAX_LIST_QUEUE: usize = 10_000;
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
