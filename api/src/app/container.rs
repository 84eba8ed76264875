//! `spec.container`: the container a task runs in (Mesos `ContainerInfo`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The container each task runs in (Mesos `ContainerInfo`). Today the only
/// kind is `docker`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    /// Run the task in a Docker container with the Docker containerizer
    /// (Mesos `ContainerInfo.type: DOCKER`, `ContainerInfo.docker`).
    pub docker: DockerContainer,
}

/// A Docker container (Mesos `DockerInfo`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DockerContainer {
    /// Image to run, e.g. `registry.example/web:1.4.2` (Mesos
    /// `DockerInfo.image`). Required.
    pub image: String,
    /// Network mode (Mesos `DockerInfo.network`): `host` (default) shares
    /// the node's network; `bridge` maps each port's `containerPort` to its
    /// host port, so every port needs a `containerPort`.
    #[serde(default)]
    pub network: NetworkMode,
    /// Pull the image even when the node has it cached (Mesos
    /// `DockerInfo.force_pull_image`). Default false.
    #[serde(default)]
    pub force_pull: bool,
    /// Extra `docker run` options, each passed as `--key=value` (Mesos
    /// `DockerInfo.parameters`). The key `name` is refused: Mesos names the
    /// container itself. At most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<DockerParameter>,
}

/// Most entries of `spec.container.docker.parameters`, enforced by
/// validation.
pub const MAX_PARAMETERS: usize = 100;

/// Docker network mode (Mesos `DockerInfo.Network`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The container shares the node's network namespace (`HOST`).
    #[default]
    Host,
    /// The container gets its own network namespace behind a bridge, with
    /// port mappings from host ports to container ports (`BRIDGE`).
    Bridge,
}

impl NetworkMode {
    /// The name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Host => "host",
            NetworkMode::Bridge => "bridge",
        }
    }
}

/// One `docker run` option (Mesos `Parameter`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DockerParameter {
    /// Option name without the leading dashes, e.g. `label` for `--label`.
    pub key: String,
    /// Option value.
    pub value: String,
}
