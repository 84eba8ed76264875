//! Wiring: the journal, the task table (with the journal's launches
//! restored), the Mesos scheduler loop and the gRPC server (with its reader
//! of sandboxes and its lister of nodes), started together and stopped
//! together. When the scheduler stops for good (another instance took over
//! the framework, the journal failed), the gRPC server stops too and
//! `AgentHandle::wait` says why.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sextant_proto::contract::MAX_MESSAGE_BYTES;
use sextant_proto::proto::agent_server::AgentServer;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

use crate::auth::{RequireToken, ServerIdentity, Token};
use crate::grpc::AgentService;
use crate::journal::{Journal, JournalError};
use crate::link::{LinkWriter, MesosLink};
use crate::metrics::AgentMetrics;
use crate::nodes::Nodes;
use crate::sandboxes::Sandboxes;
use crate::scheduler::{FrameworkSettings, Scheduler, Stopped};
use crate::tasks::TaskTable;

/// How long shutdown waits for open gRPC calls to finish.
const SERVER_DRAIN: Duration = Duration::from_secs(5);

/// How the agent registers with Mesos and where it serves the controller.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Mesos master base URL, e.g. `http://127.0.0.1:5050`.
    pub master_url: String,
    /// gRPC listen address for the controller (port 0 picks one).
    pub grpc_addr: SocketAddr,
    pub framework_name: String,
    /// Unix user tasks run as.
    pub user: String,
    /// How long Mesos keeps our tasks while we are disconnected.
    pub failover_timeout: Duration,
    /// Directory of the journal: the framework id, the launches (none:
    /// kept in memory only).
    pub state_dir: Option<PathBuf>,
    /// What it counts into (by default, families in no registry).
    pub metrics: AgentMetrics,
    /// How long a production task waits for room before preemptible tasks
    /// are killed for it (`None`: never).
    pub preemption_delay: Option<Duration>,
    /// The token every gRPC call must carry; without one the agent serves
    /// loopback only.
    pub token: Option<Token>,
    /// Mesos framework authentication: principal and secret, sent with
    /// HTTP Basic on every scheduler call, the principal in FrameworkInfo.
    pub credential: Option<mesos::Credential>,
    /// Serve the gRPC over TLS with this certificate and key.
    pub tls: Option<ServerIdentity>,
}

impl AgentConfig {
    pub fn new(master_url: impl Into<String>, grpc_addr: SocketAddr) -> Self {
        Self {
            master_url: master_url.into(),
            grpc_addr,
            framework_name: "sextant".to_string(),
            user: default_user(),
            failover_timeout: Duration::from_secs(7 * 24 * 3600),
            state_dir: None,
            metrics: AgentMetrics::default(),
            preemption_delay: Some(crate::scheduler::DEFAULT_PREEMPTION_DELAY),
            token: None,
            credential: None,
            tls: None,
        }
    }
}

/// The current Unix user, as Mesos needs one explicitly.
pub fn default_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_string())
}

/// A hint for an address another process holds.
fn in_use_hint(cause: &std::io::Error) -> &'static str {
    if cause.kind() == std::io::ErrorKind::AddrInUse {
        " (another process, perhaps another `sextant`, listens there; choose another address)"
    } else {
        ""
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Mesos(#[from] mesos::ClientError),
    // The cause is in the message, not a `#[source]`: a chain printed
    // with `{:#}` would state it twice.
    #[error("cannot listen for gRPC on {addr}: {cause}{}", in_use_hint(cause))]
    Listen { addr: SocketAddr, cause: std::io::Error },
    #[error("cannot serve the agent's gRPC over TLS: {0}")]
    Tls(String),
    #[error("cannot set up the HTTP client for the Mesos master and agents: {0}")]
    HttpClient(reqwest::Error),
    #[error(
        "the agent's gRPC on {0} would be open to the network with no token: anyone reaching it could launch any command; pass --token-file FILE, or a loopback address"
    )]
    OpenToNetwork(SocketAddr),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The scheduler stopped for good while the agent ran.
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error("the agent's Mesos scheduler ended abnormally: {0}")]
    Crashed(String),
}

/// A running agent.
pub struct AgentHandle {
    grpc_addr: SocketAddr,
    /// `https` with TLS.
    scheme: &'static str,
    shutdown: watch::Sender<bool>,
    link: watch::Receiver<MesosLink>,
    /// `None` once `wait` has seen it end.
    scheduler: Option<JoinHandle<Result<(), Stopped>>>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl AgentHandle {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// `http://addr` (`https://` with TLS), for the controller's `--agent`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.grpc_addr)
    }

    /// Resolves once subscribed to Mesos (or never, if it cannot).
    pub async fn wait_subscribed(&mut self) {
        let _ = self.link.wait_for(|l| l.connected).await;
    }

    /// Resolves when the agent stops on its own: an error says why (another
    /// instance took over the framework: "Framework failed over"; the
    /// journal failed). `Ok` after a shutdown. Cancel-safe.
    pub async fn wait(&mut self) -> Result<(), AgentError> {
        let Some(scheduler) = self.scheduler.as_mut() else {
            return Ok(());
        };
        let ended = scheduler.await;
        self.scheduler = None;
        match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(stopped)) => Err(stopped.into()),
            Err(join) => Err(AgentError::Crashed(join.to_string())),
        }
    }

    /// Stops serving and closes the Mesos subscription. Tasks keep running
    /// on Mesos (for `failover_timeout`), as for any framework restart.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Some(scheduler) = self.scheduler {
            let _ = scheduler.await;
        }
        // Graceful, but bounded: a client that keeps a call open must not
        // hold the process.
        let mut server = self.server;
        if tokio::time::timeout(SERVER_DRAIN, &mut server).await.is_err() {
            server.abort();
        }
    }
}

/// Starts the agent: subscribes to Mesos in the background and serves gRPC.
pub async fn start(config: AgentConfig) -> Result<AgentHandle, AgentError> {
    if config.token.is_none() && !config.grpc_addr.ip().is_loopback() {
        return Err(AgentError::OpenToNetwork(config.grpc_addr));
    }
    let mut client = mesos::Client::new(&config.master_url)?;
    if let Some(credential) = &config.credential {
        client = client.with_credential(credential);
    }
    let listener = TcpListener::bind(config.grpc_addr)
        .await
        .map_err(|cause| AgentError::Listen {
            addr: config.grpc_addr,
            cause,
        })?;
    let grpc_addr = listener.local_addr().map_err(|cause| AgentError::Listen {
        addr: config.grpc_addr,
        cause,
    })?;

    // Before anything is spawned: a bad identity fails the start alone.
    let mut builder = tonic::transport::Server::builder();
    if let Some(identity) = &config.tls {
        let tls = tonic::transport::ServerTlsConfig::new().identity(identity.0.clone());
        builder = builder.tls_config(tls).map_err(|e| AgentError::Tls(e.to_string()))?;
    }
    let sandboxes = Arc::new(Sandboxes::new(config.master_url.clone()).map_err(AgentError::HttpClient)?);
    let nodes = Arc::new(Nodes::new(config.master_url.clone()).map_err(AgentError::HttpClient)?);
    // Before anything listens: a journal that cannot be trusted stops the
    // agent here, in words.
    let journal = match &config.state_dir {
        Some(dir) => Journal::open(dir)?,
        None => Journal::temporary()?,
    };
    let mut table = TaskTable::new().with_metrics(config.metrics.clone());
    let restored = journal.launches()?;
    let count = restored.len();
    for launch in restored {
        table.restore(launch);
    }
    if count > 0 {
        tracing::info!(
            tasks = count,
            "tasks restored from the journal, to be reconciled with Mesos"
        );
    }
    let tasks = Arc::new(Mutex::new(table));
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (link_tx, link_rx) = LinkWriter::new(config.master_url.clone());
    let (synced_tx, synced_rx) = watch::channel(false);

    let settings = FrameworkSettings {
        name: config.framework_name.clone(),
        user: config.user.clone(),
        failover_timeout: config.failover_timeout,
        principal: config.credential.as_ref().map(|c| c.principal.clone()),
    };
    let scheduler = Scheduler::new(
        client,
        settings,
        journal,
        Arc::clone(&tasks),
        command_rx,
        shutdown_rx.clone(),
        link_tx,
        synced_tx,
    )?
    .with_metrics(config.metrics.clone())
    .with_preemption_delay(config.preemption_delay);
    let stop_all = shutdown_tx.clone();
    let scheduler = tokio::spawn(async move {
        let ended = scheduler.run().await;
        if ended.is_err() {
            // Nobody schedules any more: answering Launch would lie.
            let _ = stop_all.send(true);
        }
        ended
    });

    let service = AgentService::new(
        tasks,
        command_tx,
        shutdown_rx.clone(),
        synced_rx,
        link_rx.clone(),
        sandboxes,
        nodes,
    );
    let mut stop = shutdown_rx;
    let server = tokio::spawn(
        builder
            .add_service(tonic::service::interceptor::InterceptedService::new(
                agent_server(service),
                RequireToken::new(config.token.clone()),
            ))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                let _ = stop.wait_for(|s| *s).await;
            }),
    );
    Ok(AgentHandle {
        grpc_addr,
        scheme: if config.tls.is_some() { "https" } else { "http" },
        shutdown: shutdown_tx,
        link: link_rx,
        scheduler: Some(scheduler),
        server,
    })
}

/// The gRPC service with the contract's explicit message limits (tonic's
/// defaults would differ from the controller's).
pub fn agent_server(service: AgentService) -> AgentServer<AgentService> {
    AgentServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}
