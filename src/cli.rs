//! Command-line flags. Every flag can also be set from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "sextant", version, about = "A declarative controller for Apache Mesos")]
pub struct Cli {
    /// Log at debug level (SEXTANT_LOG=<filter> overrides).
    #[arg(short, long, global = true, env = "SEXTANT_VERBOSE")]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run everything on this machine: an embedded Mesos master, the agent
    /// and the controller, deploying the manifests directory.
    Up(UpArgs),
    /// Run only the embedded Mesos-compatible master.
    LocalMesos(LocalMesosArgs),
    /// Run only the agent (the Mesos framework), against any Mesos master.
    Agent(AgentArgs),
    /// Run only the controller, against a running agent.
    Controller(ControllerArgs),
    /// List objects from the controller's API.
    Get(GetArgs),
    /// Check manifests offline: exit 0 when all are valid, 1 when not.
    Validate(ValidateArgs),
    /// Print the App CustomResourceDefinition, or its JSON Schema.
    Schema(SchemaArgs),
    /// Print the version.
    Version,
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// CPUs each local node offers.
    #[arg(long, env = "SEXTANT_NODE_CPUS", default_value_t = 4.0)]
    pub node_cpus: f64,
    /// Memory (MiB) each local node offers.
    #[arg(long, env = "SEXTANT_NODE_MEM", default_value_t = 4096.0)]
    pub node_mem: f64,
    /// Host port range each local node offers, as FIRST-LAST.
    #[arg(long, env = "SEXTANT_NODE_PORTS", default_value = "31000-32000")]
    pub node_ports: String,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Directory of App manifests to deploy and watch.
    #[arg(long, env = "SEXTANT_MANIFESTS", default_value = "manifests")]
    pub manifests: PathBuf,
    /// Where Sextant keeps its state (default: the user's data dir + /sextant).
    #[arg(long, env = "SEXTANT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Controller HTTP API address.
    #[arg(long, env = "SEXTANT_API_ADDR", default_value = "127.0.0.1:7070")]
    pub api_addr: SocketAddr,
    /// Embedded Mesos master address.
    #[arg(long, env = "SEXTANT_MESOS_ADDR", default_value = "127.0.0.1:5050")]
    pub mesos_addr: SocketAddr,
    /// Agent gRPC address (the controller talks to the agent here).
    #[arg(long, env = "SEXTANT_AGENT_ADDR", default_value = "127.0.0.1:7071")]
    pub agent_addr: SocketAddr,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Args, Debug)]
pub struct LocalMesosArgs {
    /// Address to serve the Mesos master API on.
    #[arg(long, env = "SEXTANT_MESOS_ADDR", default_value = "127.0.0.1:5050")]
    pub addr: SocketAddr,
    /// Where task sandboxes are created.
    #[arg(long, env = "SEXTANT_MESOS_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Mesos master URL.
    #[arg(long, env = "SEXTANT_MASTER", default_value = "http://127.0.0.1:5050")]
    pub master: String,
    /// gRPC address to serve the controller on.
    #[arg(long, env = "SEXTANT_AGENT_ADDR", default_value = "127.0.0.1:7071")]
    pub addr: SocketAddr,
    /// Framework name registered with Mesos.
    #[arg(long, env = "SEXTANT_FRAMEWORK_NAME", default_value = "sextant")]
    pub framework_name: String,
    /// Unix user tasks run as (default: the current user).
    #[arg(long, env = "SEXTANT_TASK_USER")]
    pub user: Option<String>,
    /// Where the agent keeps its framework id.
    #[arg(long, env = "SEXTANT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ControllerArgs {
    /// Directory of App manifests to deploy and watch.
    #[arg(long, env = "SEXTANT_MANIFESTS")]
    pub manifests: PathBuf,
    /// Agent gRPC URL.
    #[arg(long, env = "SEXTANT_AGENT", default_value = "http://127.0.0.1:7071")]
    pub agent: String,
    /// HTTP API address.
    #[arg(long, env = "SEXTANT_API_ADDR", default_value = "127.0.0.1:7070")]
    pub api_addr: SocketAddr,
    /// Where the controller keeps its store.
    #[arg(long, env = "SEXTANT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[arg(value_enum)]
    pub kind: GetKind,
    /// Controller API URL.
    #[arg(long, env = "SEXTANT_SERVER", default_value = "http://127.0.0.1:7070")]
    pub server: String,
    /// Output format.
    #[arg(short, long, env = "SEXTANT_OUTPUT", value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum GetKind {
    #[value(alias = "app")]
    Apps,
    #[value(alias = "task")]
    Tasks,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Manifest files or directories (searched recursively for *.yaml, *.yml).
    #[arg(
        short = 'f',
        long = "filename",
        env = "SEXTANT_VALIDATE_FILES",
        value_delimiter = ',',
        required = true
    )]
    pub files: Vec<PathBuf>,
    /// Output format: a human summary, or JSON for machines.
    #[arg(short, long, env = "SEXTANT_OUTPUT", value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Print a JSON Schema (for editors: yaml-language-server) instead of
    /// the Kubernetes CustomResourceDefinition.
    #[arg(long, env = "SEXTANT_JSON_SCHEMA")]
    pub json_schema: bool,
}
