//! Identifiers: `FrameworkID`, `OfferID`, `AgentID`, `TaskID`, `ExecutorID`, `ContainerID`.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            pub value: String,
        }

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self { value: value.into() }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.value)
            }
        }
    )*};
}

id_type!(
    /// `mesos.v1.FrameworkID`.
    FrameworkId,
    /// `mesos.v1.OfferID`.
    OfferId,
    /// `mesos.v1.AgentID`.
    AgentId,
    /// `mesos.v1.TaskID`.
    TaskId,
    /// `mesos.v1.ExecutorID`.
    ExecutorId,
    /// `mesos.v1.ContainerID` (without `parent`).
    ContainerId,
);
