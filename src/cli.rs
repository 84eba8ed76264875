//! Command-line flags. Every flag can also be set from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "sextant", version, about = "A declarative controller for Apache Mesos")]
pub struct Cli {
    /// Log at debug level (SEXTANT_LOG=<filter> overrides).
    #[arg(short, long, global = true, env = "SEXTANT_VERBOSE", value_parser = BoolishValueParser::new())]
    pub verbose: bool,
    /// Bearer token for the controller's API (when it has --tokens).
    #[arg(long, global = true, env = "SEXTANT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The controller's API (default: the config file's `server`, else
    /// http://127.0.0.1:7070).
    #[arg(long, global = true, env = "SEXTANT_SERVER")]
    pub server: Option<String>,
    /// A PEM certificate authority to trust for an https:// --server (a
    /// private CA, or the server's own self-signed certificate).
    #[arg(long, global = true, env = "SEXTANT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// The CLI's config file (`server`, `token`, `tokenFile`, `caCert`); default
    /// ~/.config/sextant/config.yaml when it exists.
    #[arg(long, global = true, env = "SEXTANT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run everything on this machine: an embedded Mesos master, the agent
    /// and the controller, deploying the manifests directory.
    Up(Box<UpArgs>),
    /// Run only the embedded Mesos-compatible master.
    LocalMesos(LocalMesosArgs),
    /// Run only the agent (the Mesos framework), against any Mesos master.
    Agent(AgentArgs),
    /// Run only the controller, against a running agent.
    Controller(ControllerArgs),
    /// List objects from the controller's API.
    Get(GetArgs),
    /// Show one app in full: spec, source and commit, status, conditions,
    /// revisions, and its tasks with why any waits.
    Describe(DescribeArgs),
    /// The cluster at a glance: the agent's link to Mesos (framework id,
    /// connected or why not), the nodes with what is free, and the tasks
    /// that wait with why.
    ClusterInfo(ClusterInfoArgs),
    /// Follow or list an app's rollouts: `status` waits until the current
    /// one completes (exit 1 if it fails), `history` lists the revisions.
    Rollout(RolloutArgs),
    /// Print a task's stdout (or stderr) from its sandbox: the app's newest
    /// task, or `--task`; `-f` follows it until the task ends.
    Logs(LogsArgs),
    /// Create or change apps from manifest files (all or nothing).
    Apply(ApplyArgs),
    /// Show what `apply` would change: exit 0 no difference, 1 differences,
    /// 2 or more an error.
    Diff(DiffArgs),
    /// Delete apps created with `apply` (their tasks are killed).
    Delete(DeleteArgs),
    /// Set an applied app's instances: no task is replaced.
    Scale(ScaleArgs),
    /// Check manifests offline: exit 0 when all are valid, 1 when not.
    Validate(ValidateArgs),
    /// Print the App CustomResourceDefinition, or its JSON Schema.
    Schema(SchemaArgs),
    /// Print the version.
    Version,
    /// Print a shell completion script: `source <(sextant completion bash)`.
    Completion(CompletionArgs),
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// How many alike local nodes (agents) to run; with more than one they
    /// are named node-1, node-2, … (one node is `localhost`).
    #[arg(long, env = "SEXTANT_NODES", conflicts_with = "node")]
    pub nodes: Option<usize>,
    /// What each node offers, in the Mesos agent's --resources syntax:
    /// 'cpus:4;mem:8192;disk:20480;ports:[31000-31999]' (unnamed resources
    /// keep their defaults: cpus 4, mem 4096, disk 10240, ports 31000-32000).
    #[arg(long, env = "SEXTANT_NODE_RESOURCES")]
    pub node_resources: Option<String>,
    /// Each node's attributes, in the Mesos agent's --attributes syntax:
    /// 'rack:r1;zone:west' (offered as TEXT).
    #[arg(long, env = "SEXTANT_NODE_ATTRIBUTES")]
    pub node_attributes: Option<String>,
    /// One node that differs, once per node:
    /// 'name=a;resources=cpus:2;mem:1024;attributes=rack:r1;containerizer=simulated;simulate=exit-after:5s'
    /// (every key optional; unset ones come from the other node flags).
    #[arg(long = "node", env = "SEXTANT_NODE", value_name = "SPEC")]
    pub node: Vec<String>,
    /// How nodes run tasks, unless a --node says otherwise: process (a
    /// local process per task), simulated (no process; scripted by labels)
    /// or docker (DOCKER containers on the local Docker engine).
    #[arg(long, env = "SEXTANT_CONTAINERIZER", value_parser = parse_containerizer)]
    pub containerizer: Option<localmesos::ContainerizerKind>,
    /// Shorthand for cpus in --node-resources (default 4).
    #[arg(long, env = "SEXTANT_NODE_CPUS")]
    pub node_cpus: Option<f64>,
    /// Shorthand for mem (MiB) in --node-resources (default 4096).
    #[arg(long, env = "SEXTANT_NODE_MEM")]
    pub node_mem: Option<f64>,
    /// Shorthand for ports in --node-resources, as FIRST-LAST (default
    /// 31000-32000).
    #[arg(long, env = "SEXTANT_NODE_PORTS")]
    pub node_ports: Option<String>,
    /// The most one task URI may fetch, in MiB: its download, and the
    /// unpacked contents of an archive.
    #[arg(long, env = "SEXTANT_FETCHER_MAX_MIB", default_value_t = 2048)]
    pub fetcher_max_mib: u64,
    /// The longest one task URI may take to fetch and unpack.
    #[arg(long, env = "SEXTANT_FETCHER_TIMEOUT", default_value = "10m")]
    pub fetcher_timeout: humantime::Duration,
    /// How a process task's processes are kept together and ended with
    /// it: auto (a cgroup per task where a cgroup2 hierarchy can be
    /// written, else a supervisor per task), cgroups (or every launch
    /// fails saying why not) or subreaper (a supervisor per task).
    #[arg(long, env = "SEXTANT_ISOLATION", default_value = "auto")]
    pub isolation: localmesos::Isolation,
    /// How many task launcher processes start process tasks side by
    /// side; 0: one per CPU, from 2 to 4.
    #[arg(long, env = "SEXTANT_TASK_LAUNCHERS", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=localmesos::MAX_LAUNCHERS as i64))]
    pub task_launchers: u16,
    /// Give each process task its `mem` as a hard limit (at least 32 MB),
    /// as Mesos's cgroups/mem isolator does: a task that passes it is
    /// killed and ends TASK_FAILED (REASON_CONTAINER_LIMITATION_MEMORY).
    /// Needs a cgroup per task and a memory controller; off by default,
    /// as in Mesos.
    #[arg(long, env = "SEXTANT_MEMORY_LIMITS", value_parser = BoolishValueParser::new())]
    pub memory_limits: bool,
}

impl NodeArgs {
    /// The fetcher's limits per URI, from the flags.
    pub fn fetcher_limits(&self) -> localmesos::FetcherLimits {
        localmesos::FetcherLimits {
            max_size: self.fetcher_max_mib.saturating_mul(1 << 20),
            timeout: self.fetcher_timeout.into(),
        }
    }
}

/// Who may use the embedded Mesos master (its HTTP authentication, as a
/// Mesos master's flags), and how many frameworks it takes.
#[derive(Args, Debug, Clone)]
pub struct MesosAuthArgs {
    /// Every scheduler call needs HTTP Basic credentials from --credentials,
    /// and FrameworkInfo.principal must be the authenticated principal
    /// (Mesos' --authenticate_http_frameworks). Default: off for
    /// local-mesos, on for up.
    #[arg(long, env = "SEXTANT_MESOS_AUTHENTICATE_FRAMEWORKS", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub authenticate_frameworks: Option<bool>,
    /// The endpoints that change state (/master/teardown, /fault/*) need
    /// credentials (Mesos' --authenticate_http_readwrite). Default: off for
    /// local-mesos, on for up.
    #[arg(long, env = "SEXTANT_MESOS_AUTHENTICATE_HTTP_READWRITE", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub authenticate_http_readwrite: Option<bool>,
    /// Mesos' credentials file: JSON {"credentials":[{"principal":"p","secret":"s"}]}
    /// or one `principal secret` per line.
    #[arg(long, env = "SEXTANT_MESOS_CREDENTIALS", value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// How many frameworks the master keeps at once (subscribed, or within
    /// their failover timeout); more SUBSCRIBEs get an ERROR event.
    #[arg(long, env = "SEXTANT_MESOS_MAX_FRAMEWORKS", default_value_t = localmesos::DEFAULT_MAX_FRAMEWORKS)]
    pub max_frameworks: usize,
}

fn parse_containerizer(text: &str) -> Result<localmesos::ContainerizerKind, String> {
    text.parse()
}

/// Who may use the controller's API.
#[derive(Args, Debug, Clone)]
pub struct AccessArgs {
    /// Bearer tokens with roles (`tokens: [{name, token, role: read|write|admin}]`);
    /// without it the API is open, and `sextant up` binds loopback only.
    #[arg(long, env = "SEXTANT_TOKENS")]
    pub tokens: Option<PathBuf>,
    /// With --tokens: allow reads without a token.
    #[arg(long, env = "SEXTANT_ANONYMOUS_READ", value_parser = BoolishValueParser::new())]
    pub anonymous_read: bool,
    /// Outgoing webhooks told of events (`hooks: [{name, url, kinds, app, secret}]`).
    #[arg(long, env = "SEXTANT_HOOKS")]
    pub hooks: Option<PathBuf>,
    /// Serve the API over TLS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "SEXTANT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SEXTANT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Where desired apps come from, and how they sync.
#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// A git repository of App manifests to follow (https, ssh, file URL or
    /// a local path).
    #[arg(long, env = "SEXTANT_GIT")]
    pub git: Option<String>,
    /// The branch followed.
    #[arg(long, alias = "git-branch", env = "SEXTANT_GIT_BRANCH", default_value = "main")]
    pub branch: String,
    /// The directory within the repository whose manifests are loaded
    /// (default: all of it).
    #[arg(long, alias = "git-path", env = "SEXTANT_GIT_PATH")]
    pub path: Option<PathBuf>,
    /// Time between two fetches, e.g. 30s, 5m.
    #[arg(long, alias = "git-interval", env = "SEXTANT_GIT_INTERVAL", default_value = "30s")]
    pub interval: humantime::Duration,
    /// HTTPS credentials: a git-credential-store file
    /// (https://USER:TOKEN@host per line), or one line USER:TOKEN, or one
    /// line holding a token.
    #[arg(long, env = "SEXTANT_GIT_CREDENTIALS")]
    pub git_credentials: Option<PathBuf>,
    /// SSH private key for ssh:// and user@host:path URLs.
    #[arg(long, env = "SEXTANT_GIT_SSH_KEY")]
    pub git_ssh_key: Option<PathBuf>,
    /// Shared secret of the push webhook (POST /api/v1/hooks/git); without
    /// it the webhook is off.
    #[arg(long, env = "SEXTANT_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Allow a sync that removes every app of a source (otherwise it is
    /// refused: a wrong --path or an emptied repository deletes nothing).
    #[arg(long, env = "SEXTANT_ALLOW_EMPTY", value_parser = BoolishValueParser::new())]
    pub allow_empty: bool,
    /// Production quota per namespace (`namespaces: {NS: {cpus, mem}}`): a
    /// sync, apply or scale over it is refused for the apps that grow it.
    #[arg(long, env = "SEXTANT_QUOTA")]
    pub quota: Option<PathBuf>,
    /// Never remove apps that are no longer defined.
    #[arg(long, env = "SEXTANT_NO_PRUNE", value_parser = BoolishValueParser::new())]
    pub no_prune: bool,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Directory of App manifests to deploy and watch (default: `manifests`,
    /// unless --git is given).
    #[arg(long, env = "SEXTANT_MANIFESTS")]
    pub manifests: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Where Sextant keeps its state (default: the user's data dir + /sextant).
    #[arg(long, env = "SEXTANT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Controller HTTP API address.
    #[arg(long, env = "SEXTANT_API_ADDR", default_value = "127.0.0.1:7070", value_parser = parse_addr)]
    pub api_addr: SocketAddr,
    /// Embedded Mesos master address.
    #[arg(long, env = "SEXTANT_MESOS_ADDR", default_value = "127.0.0.1:5050", value_parser = parse_addr)]
    pub mesos_addr: SocketAddr,
    /// Agent gRPC address (the controller talks to the agent here).
    #[arg(long, env = "SEXTANT_AGENT_ADDR", default_value = "127.0.0.1:7071", value_parser = parse_addr)]
    pub agent_addr: SocketAddr,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub mesos_auth: MesosAuthArgs,
    #[command(flatten)]
    pub scheduling: SchedulingArgs,
}

/// How the agent schedules.
#[derive(Args, Debug, Clone)]
pub struct SchedulingArgs {
    /// How long a production task waits for room before preemptible tasks
    /// are killed to make it (0s: never preempt).
    #[arg(long, env = "SEXTANT_PREEMPTION_DELAY", default_value = "10s")]
    pub preemption_delay: humantime::Duration,
}

impl SchedulingArgs {
    /// The delay, `None` when preemption is off.
    pub fn preemption_delay(&self) -> Option<std::time::Duration> {
        let delay: std::time::Duration = self.preemption_delay.into();
        (!delay.is_zero()).then_some(delay)
    }
}

#[derive(Args, Debug)]
pub struct LocalMesosArgs {
    /// Address to serve the Mesos master API on.
    #[arg(long, env = "SEXTANT_MESOS_ADDR", default_value = "127.0.0.1:5050", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Where task sandboxes are created.
    #[arg(long, env = "SEXTANT_MESOS_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub mesos_auth: MesosAuthArgs,
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Mesos master URL.
    #[arg(long, env = "SEXTANT_MASTER", default_value = "http://127.0.0.1:5050")]
    pub master: String,
    /// gRPC address to serve the controller on.
    #[arg(long, env = "SEXTANT_AGENT_ADDR", default_value = "127.0.0.1:7071", value_parser = parse_addr)]
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
    /// Serve the agent's /metrics and /vars here (no access check: bind
    /// where only scrapers reach). Off by default.
    #[arg(long, env = "SEXTANT_AGENT_METRICS_ADDR", value_parser = parse_addr)]
    pub metrics_addr: Option<SocketAddr>,
    #[command(flatten)]
    pub scheduling: SchedulingArgs,
    /// The token every gRPC call must carry (one line, 16+ characters);
    /// without it the agent serves loopback only.
    #[arg(long, env = "SEXTANT_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Mesos framework authentication: the principal to register as (the
    /// master's --credentials lists it), with --secret-file.
    #[arg(long, env = "SEXTANT_MESOS_PRINCIPAL", requires = "secret_file")]
    pub principal: Option<String>,
    /// The file holding the principal's secret (its one line).
    #[arg(long, env = "SEXTANT_MESOS_SECRET_FILE", requires = "principal")]
    pub secret_file: Option<PathBuf>,
    /// Serve the gRPC over TLS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "SEXTANT_AGENT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SEXTANT_AGENT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ControllerArgs {
    /// Directory of App manifests to deploy and watch.
    #[arg(long, env = "SEXTANT_MANIFESTS", required_unless_present = "git")]
    pub manifests: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Agent gRPC URL.
    #[arg(long, env = "SEXTANT_AGENT", default_value = "http://127.0.0.1:7071")]
    pub agent: String,
    /// HTTP API address.
    #[arg(long, env = "SEXTANT_API_ADDR", default_value = "127.0.0.1:7070", value_parser = parse_addr)]
    pub api_addr: SocketAddr,
    /// Where the controller keeps its store.
    #[arg(long, env = "SEXTANT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The agent's token (its --token-file), sent on every call to it.
    #[arg(long, env = "SEXTANT_AGENT_TOKEN_FILE")]
    pub agent_token_file: Option<PathBuf>,
    /// The CA (PEM) that signed an `https://` agent's certificate.
    #[arg(long, env = "SEXTANT_AGENT_CA_CERT")]
    pub agent_ca_cert: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[arg(value_enum)]
    pub kind: GetKind,
    /// Only this one: an app's name (for tasks and the queue: the app's
    /// tasks; for nodes: a hostname or node id).
    pub name: Option<String>,
    /// Namespace (default: `default`).
    #[arg(short, long, env = "SEXTANT_NAMESPACE", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long, env = "SEXTANT_ALL_NAMESPACES", value_parser = BoolishValueParser::new())]
    pub all_namespaces: bool,
    /// Label selector: `key=value`, `key!=value`, `key`, `!key`, comma-separated (all must hold).
    #[arg(short = 'l', long, env = "SEXTANT_SELECTOR")]
    pub selector: Option<String>,
    /// Tasks: ended ones too (by default only live tasks are listed).
    #[arg(long, env = "SEXTANT_ALL_TASKS", value_parser = BoolishValueParser::new())]
    pub all: bool,
    /// Events: only these kinds (task, desired, sync, condition, rollout, action), comma-separated.
    #[arg(long = "kind", env = "SEXTANT_EVENT_KINDS")]
    pub event_kinds: Option<String>,
    /// Keep printing: new events; for apps and tasks, each row that changes.
    #[arg(short, long, env = "SEXTANT_WATCH", value_parser = BoolishValueParser::new())]
    pub watch: bool,
    /// Output format.
    #[arg(short, long, env = "SEXTANT_OUTPUT", value_enum, default_value_t = GetOutput::Table)]
    pub output: GetOutput,
}

#[derive(Args, Debug)]
pub struct ClusterInfoArgs {
    /// Output format: `text`, or the whole answer as `json` or `yaml`.
    #[arg(short, long, env = "SEXTANT_CLUSTER_INFO_OUTPUT", value_enum, default_value_t = InfoOutput::Text)]
    pub output: InfoOutput,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoOutput {
    Text,
    Json,
    Yaml,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetOutput {
    Table,
    Wide,
    Json,
    Yaml,
    Name,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    /// The app: `app/NAME` or `NAME`.
    pub app: String,
    /// The new instance count.
    pub instances: u32,
    /// Namespace.
    #[arg(short, long, env = "SEXTANT_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

#[derive(Args, Debug)]
pub struct RolloutArgs {
    /// `status`, `history`, `pause`, `resume`, `restart` or `undo`.
    #[arg(value_enum)]
    pub action: RolloutAction,
    /// The app: `app/NAME` or `NAME`.
    pub app: String,
    /// Namespace.
    #[arg(short, long, env = "SEXTANT_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// `status`: give up after this long (exit 1), e.g. 5m.
    #[arg(long, env = "SEXTANT_ROLLOUT_TIMEOUT", default_value = "10m")]
    pub timeout: humantime::Duration,
    /// `undo`: the revision to go back to (default: the newest completed
    /// one before the current revision; see `rollout history`).
    #[arg(long, env = "SEXTANT_ROLLOUT_TO_REVISION")]
    pub to_revision: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The app: `app/NAME` or `NAME`.
    pub app: String,
    /// Namespace.
    #[arg(short, long, env = "SEXTANT_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// A task of the app (default: its newest live task, else its newest
    /// ended one).
    #[arg(long, env = "SEXTANT_LOGS_TASK")]
    pub task: Option<String>,
    /// Keep printing what the task writes until it ends (Ctrl-C stops).
    #[arg(short, long, env = "SEXTANT_LOGS_FOLLOW", value_parser = BoolishValueParser::new())]
    pub follow: bool,
    /// The task's stderr instead of its stdout.
    #[arg(long, env = "SEXTANT_LOGS_STDERR", value_parser = BoolishValueParser::new())]
    pub stderr: bool,
    /// Only the last N lines (looked for in the last MiB).
    #[arg(long, env = "SEXTANT_LOGS_TAIL")]
    pub tail: Option<u64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutAction {
    /// Follow the rollout to its end (exit 1 when it fails).
    Status,
    /// The revisions and how each rollout went.
    History,
    /// Leave the app's tasks as they are until `resume`.
    Pause,
    /// Lift a pause.
    Resume,
    /// Replace every task by a rolling update of the same spec.
    Restart,
    /// Roll back to an earlier revision until the spec changes.
    Undo,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// What to describe: `app`.
    #[arg(value_enum)]
    pub kind: DeleteKind,
    /// The app's name.
    pub name: String,
    /// Namespace.
    #[arg(short, long, env = "SEXTANT_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum GetKind {
    #[value(alias = "app")]
    Apps,
    #[value(alias = "task")]
    Tasks,
    #[value(alias = "source")]
    Sources,
    #[value(alias = "event")]
    Events,
    #[value(alias = "node")]
    Nodes,
    Queue,
    #[value(alias = "revision")]
    Revisions,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Manifest files or directories (searched recursively for *.yaml, *.yml).
    #[arg(
        short = 'f',
        long = "filename",
        env = "SEXTANT_APPLY_FILES",
        value_delimiter = ',',
        required = true
    )]
    pub files: Vec<PathBuf>,
    /// Say what would change, and change nothing.
    #[arg(long, env = "SEXTANT_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
    /// Output format.
    #[arg(short, long, env = "SEXTANT_OUTPUT", value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Manifest files or directories (searched recursively for *.yaml, *.yml).
    #[arg(
        short = 'f',
        long = "filename",
        env = "SEXTANT_DIFF_FILES",
        value_delimiter = ',',
        required = true
    )]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// What to delete: `app` (or `apps`), followed by names.
    #[arg(value_enum)]
    pub kind: Option<DeleteKind>,
    /// Names of the apps.
    pub names: Vec<String>,
    /// Namespace of the named apps.
    #[arg(short, long, env = "SEXTANT_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Delete the apps these manifest files define.
    #[arg(short = 'f', long = "filename", env = "SEXTANT_DELETE_FILES", value_delimiter = ',')]
    pub files: Vec<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DeleteKind {
    #[value(alias = "apps")]
    App,
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
    #[arg(long, env = "SEXTANT_JSON_SCHEMA", value_parser = BoolishValueParser::new())]
    pub json_schema: bool,
}

/// An address as `HOST:PORT`, where the host may be a name
/// (`localhost:7070`): the first address it resolves to.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("expected HOST:PORT, e.g. 127.0.0.1:7070 or localhost:7070 ({e})"))?;
    addrs.next().ok_or_else(|| format!("{text} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_host_names() {
        assert_eq!(
            parse_addr("127.0.0.1:7070"),
            Ok("127.0.0.1:7070".parse().expect("addr"))
        );
        let local = parse_addr("localhost:7070").expect("localhost resolves");
        assert!(local.ip().is_loopback() && local.port() == 7070);
        assert!(parse_addr("7070").is_err());
    }
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, env = "SEXTANT_COMPLETION_SHELL")]
    pub shell: clap_complete::Shell,
}
