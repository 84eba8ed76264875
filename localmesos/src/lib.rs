//! localmesos: an embedded Mesos-compatible master with local nodes.
//!
//! What it owns: an HTTP server that speaks the Mesos 1.11 master's
//! scheduler API (`POST /api/v1/scheduler`: SUBSCRIBE streams, offers,
//! ACCEPT/DECLINE/KILL/ACKNOWLEDGE/RECONCILE/…, with the same status codes,
//! error texts, headers and RecordIO framing a real master uses) and its
//! operator endpoints (`/version`, `/master/state`, `/metrics/snapshot`, …);
//! the agents' `/files/read` and `/files/browse` over task sandboxes, on the
//! same port (the offers' `url` points there);
//! the master's state (frameworks, agents, offers, tasks); an allocator that
//! offers the nodes' resources; and, standing in for agents, "nodes" that run
//! tasks through a containerizer chosen per node (`containerizer`:
//! `process` runs each task as a local process, as its user, in its own
//! session and sandbox, under a supervisor that ends every process of the
//! task with it (`launcher`); `simulated` runs none and follows a script; `docker` runs DOCKER
//! containers on the Docker engine), with
//! reliable status update delivery and the command executor's Mesos-native
//! health checks (`TaskInfo.health_check`: HTTP, TCP and COMMAND probes
//! against 127.0.0.1; health changes as reliable TASK_RUNNING updates with
//! `healthy` and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; TASK_KILLED with
//! `healthy: false` after `consecutive_failures`). A Mesos client must not
//! be able to tell it from a real master for what it implements.
//!
//! Hardened for a shared network (see `docs/localmesos.md`, Security):
//! request bodies are limited and parsed without a JSON DOM (`http`,
//! `call`), HTTP Basic authentication as Mesos' flags (`auth`), and each
//! subscriber's unread events are bounded (`event_stream`), as is the
//! number of frameworks.
//!
//! What it must not do: know anything about Sextant (apps, manifests,
//! revisions, the agent or controller). It is a Mesos master; anything that
//! a real master would not do does not belong here.
//!
//! Known differences from a real master (each answered the way a master
//! lacking the feature would, never silently wrong):
//! - JSON only: `Content-Type: application/x-protobuf` gets `415`, a
//!   SUBSCRIBE accepting only protobuf `406`.
//! - HTTP chunk sizes are written in upper-case hex (hyper's encoder);
//!   Mesos writes lower case. HTTP defines them case-insensitive.
//! - `CommandInfo.uris` are not fetched; no checks (`CheckInfo`, `check_status`) or
//!   `max_completion_time`.
//! - HTTP health checks are plain HTTP/1.1 GETs that do not follow
//!   redirects: a 3xx answer counts as success (Mesos' `curl -L` follows
//!   it and judges the final answer). `https` checks always fail, with the
//!   message "HTTPS health checks are not supported by localmesos" in
//!   their unhealthy updates. As in Mesos' built-in executors,
//!   `HTTPCheckInfo.statuses` is ignored.
//! - Custom executors, Mesos container images, and Docker containers on a
//!   node without the `docker` containerizer fail at launch (TASK_FAILED,
//!   REASON_CONTAINER_LAUNCH_FAILED); LAUNCH_GROUP gets
//!   TASK_ERROR; reservation and volume operations are ignored.
//! - Always the leader; of Mesos' authentication only HTTP Basic for
//!   frameworks and the read-write endpoints (see `auth`), no
//!   authorization (ACLs); agents are partitioned,
//!   removed, or the master restarted without its state only on demand
//!   (`POST /fault/…`, see `master::faults`); no v1
//!   operator API (`/api/v1`) and, of the agent endpoints, only
//!   `/files/read` and `/files/browse` (see `files`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), localmesos::LocalMesosError> {
//! let config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().unwrap(), "/tmp/lm".into());
//! let mesos = localmesos::start(config).await?;
//! println!("master at {}", mesos.url());
//! mesos.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
mod call;
pub mod containerizer;
mod event_stream;
mod executor;
mod fault_api;
mod fetcher;
mod files;
mod health;
mod health_tls;
mod host_ports;
mod http;
mod json_pieces;
mod launcher;
mod master;
mod memory;
pub mod node_flags;
mod operator;
mod process_tree;
mod resources;
mod scheduler_api;

pub use auth::{AuthConfig, Credential, CredentialsError, load_credentials};
pub use containerizer::ContainerizerKind;
pub use event_stream::StreamLimits;
pub use fetcher::FetcherLimits;
pub use launcher::{Isolation, MAX_LAUNCHERS};
pub use master::DEFAULT_MAX_FRAMEWORKS;
pub use node_flags::{NodeFlagError, NodeFlags};

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::master::{Identity, Master, Timing};

/// Longest timing knob accepted.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Grace between SIGTERM and SIGKILL for tasks still running at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One local node (a Mesos agent) and what it offers.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    pub hostname: String,
    pub cpus: f64,
    /// MB.
    pub mem: f64,
    /// MB.
    pub disk: f64,
    /// Host port ranges (inclusive, disjoint).
    pub ports: Vec<RangeInclusive<u16>>,
    /// Offered as TEXT attributes.
    pub attributes: BTreeMap<String, String>,
    /// How the node runs its tasks.
    pub containerizer: ContainerizerKind,
    /// What its simulated tasks do unless their labels say otherwise.
    pub simulation: containerizer::Script,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_string(),
            cpus: 4.0,
            mem: 4096.0,
            disk: 10240.0,
            ports: vec![31000..=32000],
            attributes: BTreeMap::new(),
            containerizer: ContainerizerKind::Process,
            simulation: containerizer::Script::default(),
        }
    }
}

/// How to run the master.
#[derive(Clone, Debug)]
pub struct LocalMesosConfig {
    /// Where to listen; port 0 picks a free port (see [`LocalMesos::addr`]).
    pub addr: SocketAddr,
    pub nodes: Vec<NodeConfig>,
    /// Task sandboxes live under `<work_dir>/slaves/…`.
    pub work_dir: PathBuf,
    /// HEARTBEAT period (Mesos: 15 s).
    pub heartbeat_interval: Duration,
    /// First resend of an unacknowledged status update (Mesos: 10 s);
    /// doubles up to 10 minutes.
    pub update_retry_initial: Duration,
    /// How often unused resources are (re)offered (Mesos' allocation
    /// interval: 1 s).
    pub offer_interval: Duration,
    /// Leave out of offers the host ports some process already listens on
    /// (read from `/proc/net/tcp{,6}` at each allocation; see `host_ports`).
    pub skip_bound_ports: bool,
    /// Bounds on each URI a task fetches into its sandbox.
    pub fetcher: FetcherLimits,
    /// HTTP authentication of frameworks and of the endpoints that change
    /// state (off by default, as in Mesos).
    pub auth: AuthConfig,
    /// How many frameworks may be known at once; more SUBSCRIBEs get an
    /// ERROR event.
    pub max_frameworks: usize,
    /// How much a subscriber may leave unread before it is cut off.
    pub stream_limits: StreamLimits,
    /// How a process task's processes are kept together and ended with
    /// it: a cgroup each, or a supervisor each (`--isolation`).
    pub isolation: Isolation,
    /// How many task launcher processes start process tasks side by side
    /// (`--task-launchers`; 0: one per CPU, 2 to 4).
    pub task_launchers: usize,
    /// Each process task's `mem` resource as a hard limit (at least 32
    /// MB), as Mesos's `cgroups/mem` isolator sets it; a task that passes
    /// it is killed and ends TASK_FAILED (REASON_CONTAINER_LIMITATION_MEMORY).
    /// Off by default, as in Mesos (`posix/mem`). Needs a cgroup per task
    /// and a memory controller (`--memory-limits`).
    pub memory_limits: bool,
}

impl LocalMesosConfig {
    /// Mesos' defaults and one default node.
    pub fn new(addr: SocketAddr, work_dir: PathBuf) -> Self {
        Self {
            addr,
            nodes: vec![NodeConfig::default()],
            work_dir,
            heartbeat_interval: Duration::from_secs(15),
            update_retry_initial: Duration::from_secs(10),
            offer_interval: Duration::from_secs(1),
            skip_bound_ports: true,
            fetcher: FetcherLimits::DEFAULT,
            auth: AuthConfig::default(),
            max_frameworks: DEFAULT_MAX_FRAMEWORKS,
            stream_limits: StreamLimits::default(),
            isolation: Isolation::default(),
            task_launchers: 0,
            memory_limits: false,
        }
    }
}

/// A hint for an address another process holds.
fn in_use_hint(cause: &std::io::Error) -> &'static str {
    if cause.kind() == std::io::ErrorKind::AddrInUse {
        " (another process, perhaps another `sextant`, listens there; choose another address)"
    } else {
        ""
    }
}

/// Why the master could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalMesosError {
    // The cause is in the message, not a `#[source]`: a chain printed
    // with `{:#}` would state it twice.
    #[error("cannot listen on {addr}: {cause}{}", in_use_hint(cause))]
    Bind { addr: SocketAddr, cause: std::io::Error },
    #[error("cannot use work directory {path}: {source}")]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid localmesos configuration: {0}")]
    InvalidConfig(String),
}

/// A running master. Dropping it kills every task at once; prefer
/// [`LocalMesos::shutdown`], which lets them stop and waits.
pub struct LocalMesos {
    addr: SocketAddr,
    master: Arc<Master>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    driver: Option<JoinHandle<()>>,
}

fn validate(config: &LocalMesosConfig) -> Result<(), LocalMesosError> {
    let invalid = |message: String| Err(LocalMesosError::InvalidConfig(message));
    for (name, value) in [
        ("heartbeat_interval", config.heartbeat_interval),
        ("update_retry_initial", config.update_retry_initial),
        ("offer_interval", config.offer_interval),
    ] {
        if value.is_zero() || value > MAX_INTERVAL {
            return invalid(format!("{name} must be positive and at most a day"));
        }
    }
    let auth = &config.auth;
    for (on, realm, flag) in [
        (
            auth.authenticate_frameworks,
            auth::Realm::Scheduler,
            "--authenticate-frameworks",
        ),
        (
            auth.authenticate_http_readwrite,
            auth::Realm::ReadWrite,
            "--authenticate-http-readwrite",
        ),
    ] {
        if on && auth.credentials.is_empty() {
            return invalid(format!(
                "{flag} needs credentials (--credentials FILE): none are given for the basic HTTP authenticator of realm '{}'",
                realm.name()
            ));
        }
    }
    if let Some(credential) = auth
        .credentials
        .iter()
        .find(|c| c.principal.is_empty() || c.principal.contains(':'))
    {
        return invalid(format!(
            "the principal {:?} cannot be sent over HTTP Basic authentication (it must be non-empty, without ':')",
            credential.principal
        ));
    }
    if config.max_frameworks == 0 {
        return invalid("max_frameworks must be at least 1".to_string());
    }
    if config.stream_limits.max_events == 0 || config.stream_limits.max_bytes == 0 {
        return invalid("a subscriber's event buffer must hold at least one event and one byte".to_string());
    }
    let mut hostnames = std::collections::HashSet::new();
    for node in &config.nodes {
        for (name, value) in [("cpus", node.cpus), ("mem", node.mem), ("disk", node.disk)] {
            if !value.is_finite() || value < 0.0 {
                return invalid(format!(
                    "node {:?}: {name} must be a finite, non-negative number",
                    node.hostname
                ));
            }
        }
        if let Err(reason) = node_flags::validate_hostname(&node.hostname) {
            return invalid(format!("node {:?}: {reason}", node.hostname));
        }
        if !hostnames.insert(node.hostname.as_str()) {
            return invalid(format!(
                "two nodes are named {:?}; each needs its own hostname",
                node.hostname
            ));
        }
    }
    Ok(())
}

/// Starts the master and its nodes. Must be called inside a Tokio runtime.
pub async fn start(config: LocalMesosConfig) -> Result<LocalMesos, LocalMesosError> {
    validate(&config)?;
    let work_dir_error = |source| LocalMesosError::WorkDir {
        path: config.work_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&config.work_dir).map_err(work_dir_error)?;
    let work_dir = std::fs::canonicalize(&config.work_dir).map_err(work_dir_error)?;

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|cause| LocalMesosError::Bind {
            addr: config.addr,
            cause,
        })?;
    let addr = listener.local_addr().map_err(|cause| LocalMesosError::Bind {
        addr: config.addr,
        cause,
    })?;
    let ip = match addr.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => ip,
        _ => Ipv4Addr::LOCALHOST,
    };
    let hostname = if ip.is_loopback() {
        "localhost".to_string()
    } else {
        ip.to_string()
    };
    let identity = Identity {
        id: uuid::Uuid::new_v4().to_string(),
        ip,
        port: addr.port(),
        hostname,
    };
    let timing = Timing {
        heartbeat_interval: config.heartbeat_interval,
        update_retry_initial: config.update_retry_initial,
        offer_interval: config.offer_interval,
    };
    info!(%addr, id = %identity.id, nodes = config.nodes.len(), "localmesos master starting");
    let mut master = Master::new(identity, timing, work_dir, &config.nodes);
    master.skip_bound_ports = config.skip_bound_ports;
    master.memory_limits = config.memory_limits;
    master.containerizers = containerizer::Containerizers::new(config.fetcher, config.isolation, config.task_launchers);
    master.auth = auth::Authenticator::new(&config.auth);
    master.stream_limits = config.stream_limits;
    master.max_frameworks = config.max_frameworks;
    let master = Arc::new(master);
    if config
        .nodes
        .iter()
        .any(|n| n.containerizer != ContainerizerKind::Simulated)
    {
        master.containerizers.start_launcher();
    }
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(http::serve(listener, http::router(Arc::clone(&master)), stopped));
    let driver = tokio::spawn(Arc::clone(&master).drive());
    Ok(LocalMesos {
        addr,
        master,
        stop,
        server: Some(server),
        driver: Some(driver),
    })
}

impl LocalMesos {
    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`, for a Mesos client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The master's id (agent, framework and offer ids start with it).
    pub fn master_id(&self) -> &str {
        &self.master.identity.id
    }

    /// Stops serving (every event stream ends), kills every process of
    /// every task (SIGTERM, a short grace, SIGKILL), waits for them, and releases
    /// the port.
    pub async fn shutdown(mut self) {
        info!(addr = %self.addr, "localmesos master shutting down");
        self.master.close();
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.master.stop_tasks(SHUTDOWN_GRACE).await;
        if let Some(driver) = self.driver.take() {
            driver.abort();
            let _ = driver.await;
        }
    }
}

impl Drop for LocalMesos {
    fn drop(&mut self) {
        if self.server.is_none() {
            return;
        }
        self.master.kill_all_now();
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
    }
}
