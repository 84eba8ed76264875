//! Containerizers: how a node runs its tasks. Chosen per node
//! ([`crate::NodeConfig::containerizer`]).

use std::fmt;
use std::str::FromStr;

/// Which containerizer a node uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContainerizerKind {
    /// Each task is a local process in its own process group and sandbox.
    #[default]
    Process,
}

impl ContainerizerKind {
    pub const NAMES: [&'static str; 1] = ["process"];

    pub fn as_str(self) -> &'static str {
        match self {
            ContainerizerKind::Process => "process",
        }
    }
}

impl fmt::Display for ContainerizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContainerizerKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "process" => Ok(ContainerizerKind::Process),
            other => Err(format!(
                "unknown containerizer {other:?}; expected one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}
