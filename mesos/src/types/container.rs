//! `mesos.v1.ContainerInfo` and its Docker part (`DockerInfo`), as the v1
//! protos have them; the fields a Docker task uses. (`TaskInfo` does not
//! carry it yet: a master reads it from the task's JSON.)

use serde::{Deserialize, Serialize};

/// `mesos.v1.ContainerInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    #[serde(rename = "type")]
    pub kind: ContainerType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerInfo>,
}

/// `ContainerInfo.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerType {
    Docker,
    Mesos,
    #[serde(other)]
    Unrecognized,
}

/// `ContainerInfo.DockerInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DockerInfo {
    pub image: String,
    /// Default HOST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<DockerNetwork>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// `docker run --key=value` options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_pull_image: Option<bool>,
}

/// `DockerInfo.Network`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DockerNetwork {
    Host,
    Bridge,
    None,
    User,
    #[serde(other)]
    Unrecognized,
}

/// `DockerInfo.PortMapping`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PortMapping {
    pub host_port: u32,
    pub container_port: u32,
    /// `tcp` (default) or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// `mesos.v1.Parameter`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Parameter {
    pub key: String,
    pub value: String,
}
