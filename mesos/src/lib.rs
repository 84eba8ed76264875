//! mesos-v1: the Mesos v1 Scheduler HTTP API, as a library.
//!
//! Owns the JSON types of scheduler calls and events (encoded exactly as a
//! Mesos master encodes them: proto field names, enums as strings, bytes as
//! base64), the RecordIO decoder for the event stream, and a scheduler client
//! that subscribes, keeps the stream, and sends calls with `Mesos-Stream-Id`;
//! and, beside the scheduler API, the master's agents as `/master/slaves`
//! lists them (`slaves`, their resources as summary objects in `summary`),
//! where an agent serves HTTP (`agents`) and reading a task's sandbox files
//! from it (`files`, the agent's `/files/read`); why an HTTP exchange failed,
//! in words (`cause`).
//!
//! It must not know about Sextant's apps or manifests, and must not decide
//! anything: placement, retries of launches and acknowledgement policy belong
//! to the framework that uses it.

pub mod agents;
pub mod calls;
pub mod cause;
pub mod client;
pub mod files;
pub mod recordio;
pub mod slaves;
pub mod summary;
pub mod types;

pub use cause::{HttpCause, http_cause};
pub use client::{Client, ClientError, Credential, Subscription};
pub use recordio::{RecordIoDecoder, RecordIoError};
