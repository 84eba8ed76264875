//! Mesos v1 scheduler API types, as JSON.
//!
//! Field names are the `.proto` names (snake_case), enums are their value
//! names, `bytes` are standard base64 strings, and unset optional fields are
//! omitted: what we send matches mesos.proto / scheduler.proto field for
//! field. What we receive may carry more (newer masters): unknown fields are
//! ignored and unknown enum values decode to an `Unrecognized` variant.

mod call;
mod container;
mod event;
mod ids;
mod resource;
mod status;
mod task;
#[cfg(test)]
mod tests;

pub use call::*;
pub use container::*;
pub use event::*;
pub use ids::*;
pub use resource::*;
pub use status::*;
pub use task::*;
