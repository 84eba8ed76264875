//! The controller runtime's wiring: opens the journal and loads the index
//! from it, starts the sources (directory, git), the agent link, the index writer,
//! the journal flusher, the work queue's workers and the HTTP API, and
//! stops them. Each part lives in its own module; this one holds no rule.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tracing::{error, info, warn};

use crate::index::Index;
use crate::index::journal::JournalWriter;
use crate::index::writer::{self, IndexEvent, Writer};
use crate::queue::{self, WorkQueue};
use crate::runtime::Runtime;
use crate::source::git::{GitConfig, GitSource};
use crate::source::plan::Rules;
use crate::source::sync::Configured;
use crate::source::{DirSource, SourceError};
use crate::store::{Store, StoreError, now_unix};

/// How often every app is reconciled even without a change.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(10);
/// Apps reconciled concurrently.
const PARALLEL_APPS: usize = 16;
/// Events from the agent buffered before the stream waits for the index.
const EVENT_BUFFER: usize = 4096;

/// What the controller needs to run.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Directory of App manifests, watched recursively.
    pub manifests_dir: Option<PathBuf>,
    /// A git repository to follow.
    pub git: Option<GitConfig>,
    /// How the file sources sync (pruning, empty syncs).
    pub rules: Rules,
    /// The production quota per namespace (empty: none).
    pub quota: crate::quota::Quota,
    /// The shared secret of the git webhook; without it the webhook is off.
    pub webhook_secret_file: Option<PathBuf>,
    /// The API's bearer tokens; without them every request is allowed.
    pub tokens: Option<crate::http::auth::Tokens>,
    /// Outgoing webhooks, told of events.
    pub hooks: Vec<crate::hooks::Hook>,
    /// Directory of the sled journal.
    pub data_dir: PathBuf,
    /// The agent's gRPC address, e.g. `http://127.0.0.1:7070`.
    pub agent_url: String,
    /// Where the HTTP API listens; port 0 picks a free port.
    pub api_addr: SocketAddr,
    /// Serve the API over TLS with this certificate and key.
    pub tls: Option<crate::http::tls::TlsFiles>,
    /// The CA (PEM) that signed an `https://` agent's certificate.
    pub agent_ca_cert: Option<PathBuf>,
    /// The metrics, served at `/metrics` and `/vars` (their registry may
    /// hold other parts' families too: the agent's under `sextant up`).
    pub metrics: crate::metrics::Metrics,
}

/// Errors starting the controller.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The manifests source could not be set up.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The HTTP API could not listen.
    #[error("cannot listen on {addr}: {cause}{}", in_use_hint(cause))]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        cause: std::io::Error,
    },
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] crate::http::tls::TlsError),
    /// A startup task panicked.
    #[error("controller startup failed: {0}")]
    Join(String),
    /// No source of desired apps was given.
    #[error("no source of apps: give a manifests directory (--manifests DIR), a repository (--git URL), or both")]
    NoSource,
    /// The webhook secret could not be read.
    #[error("cannot read the webhook secret {path}: {cause}")]
    WebhookSecret {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The webhook secret file is empty.
    #[error("the webhook secret file {0} is empty")]
    EmptyWebhookSecret(PathBuf),
    /// The agent URL is not a valid URI.
    /// TLS to the agent could not be set up.
    #[error("TLS to the agent at {url}: {reason}")]
    AgentTls {
        /// The URL as given.
        url: String,
        /// What is wrong, in words.
        reason: String,
    },
    #[error("invalid agent url {url:?}: {cause}")]
    AgentUrl {
        /// The URL as given.
        url: String,
        /// The cause.
        cause: tonic::transport::Error,
    },
}

/// A hint for an address another process holds.
fn in_use_hint(cause: &std::io::Error) -> &'static str {
    if cause.kind() == std::io::ErrorKind::AddrInUse {
        " (another process, perhaps another `sextant`, listens there; choose another address)"
    } else {
        ""
    }
}

/// A running controller.
#[derive(Debug)]
pub struct ControllerHandle {
    api_addr: SocketAddr,
    store: Store,
    index: Index,
    queue: WorkQueue,
    journal: JournalWriter,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ControllerHandle {
    /// The address the HTTP API is bound to.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The controller's journal.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The controller's index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Stops every part, waits for them, and writes the journal.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.queue.close();
        for t in self.tasks {
            if let Err(e) = t.await {
                error!(error = %e, "controller task failed");
            }
        }
        let journal = self.journal.clone();
        let store = self.store.clone();
        let flushed = tokio::task::spawn_blocking(move || journal.flush().and_then(|()| store.flush())).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "writing the journal at shutdown failed"),
            Err(e) => error!(error = %e, "the final journal write failed"),
        }
        info!("controller stopped");
    }
}

/// A channel to the agent that connects lazily and reconnects by itself;
/// over TLS for an `https://` agent, trusting `ca_cert` (PEM).
fn agent_channel(url: &str, ca_cert: Option<&std::path::Path>) -> Result<Channel, ControllerError> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let tls_error = |reason: String| ControllerError::AgentTls {
        url: url.clone(),
        reason,
    };
    let mut endpoint = Endpoint::from_shared(url.clone()).map_err(|cause| ControllerError::AgentUrl {
        url: url.clone(),
        cause,
    })?;
    match (url.starts_with("https://"), ca_cert) {
        (true, Some(path)) => {
            let pem = std::fs::read(path)
                .map_err(|e| tls_error(format!("cannot read --agent-ca-cert {}: {e}", path.display())))?;
            let tls =
                tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(pem));
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| tls_error(format!("{} is not a usable CA: {e}", path.display())))?;
        }
        (true, None) => {
            return Err(tls_error(
                "an https:// agent needs --agent-ca-cert, the CA that signed its certificate".to_string(),
            ));
        }
        (false, Some(_)) => {
            return Err(tls_error(
                "--agent-ca-cert is for an https:// agent; this one is plain http".to_string(),
            ));
        }
        (false, None) => {}
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(3))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// Starts the controller: opens the journal, loads the index, binds the
/// API, and spawns every part.
pub async fn start(config: ControllerConfig) -> Result<ControllerHandle, ControllerError> {
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
        .await
        .map_err(|e| ControllerError::Join(e.to_string()))??;
    store.set_quota(config.quota.clone());
    let channel = agent_channel(&config.agent_url, config.agent_ca_cert.as_deref())?;
    if config.manifests_dir.is_none() && config.git.is_none() {
        return Err(ControllerError::NoSource);
    }
    let webhook_secret = match &config.webhook_secret_file {
        Some(path) => {
            let text = std::fs::read(path).map_err(|cause| ControllerError::WebhookSecret {
                path: path.clone(),
                cause,
            })?;
            let secret = crate::source::webhook::secret_from_file(&text);
            if secret.is_empty() {
                return Err(ControllerError::EmptyWebhookSecret(path.clone()));
            }
            Some(Arc::new(secret))
        }
        None => None,
    };

    // Every configured source's name first: ownership and adoption need it.
    let dir_name = match &config.manifests_dir {
        Some(dir) => Some(DirSource::name_for(dir)?),
        None => None,
    };
    let git_name = config.git.as_ref().map(GitSource::name_for);
    let configured = Configured::new(dir_name.iter().chain(&git_name).cloned());
    let dir_source = match &config.manifests_dir {
        Some(dir) => Some(
            DirSource::with_sources(dir, store.clone(), configured.clone(), config.rules)?
                .with_metrics(config.metrics.sources()),
        ),
        None => None,
    };
    let git_source = config.git.as_ref().map(|g| {
        GitSource::new(
            g.clone(),
            &config.data_dir,
            store.clone(),
            configured.clone(),
            config.rules,
        )
        .with_metrics(config.metrics.sources())
    });

    // Records of sources no longer configured go; their apps stay (they
    // keep running, `Synced` says why, and a source of the same kind
    // adopts them at its first sync).
    for rec in store.list_sources()? {
        if !configured.contains(&rec.name) {
            store.delete_source(&rec.name)?;
        }
    }

    let index = Index::default();
    let changes = store.listen();
    let skipped = writer::load(&index, &store, &config.agent_url)?;
    for record in &skipped {
        warn!(record = %record, "skipped an undecodable journal record");
    }

    // Read before anything starts: a bad certificate fails the start, in words.
    let tls = config.tls.as_ref().map(crate::http::tls::TlsFiles::load).transpose()?;
    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .map_err(|cause| ControllerError::Bind {
            addr: config.api_addr,
            cause,
        })?;
    let api_addr = listener.local_addr().map_err(|cause| ControllerError::Bind {
        addr: config.api_addr,
        cause,
    })?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let queue = WorkQueue::new();
    let journal = JournalWriter::new(store.clone());
    let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
    let mut tasks = Vec::new();

    let events = crate::events::Events::default();
    let writes = crate::http::write::Writes {
        store: store.clone(),
        configured: configured.clone(),
        git_triggers: git_source.iter().map(GitSource::trigger).collect(),
        webhook_secret,
    };
    let mut stop = shutdown_rx.clone();
    let metrics = config.metrics.clone();
    metrics.watch_index(index.clone());
    tasks.push(metrics.history().start(metrics.registry(), shutdown_rx.clone()));
    tasks.extend(crate::hooks::start(
        config.hooks.clone(),
        &events,
        &metrics.hooks(),
        &shutdown_rx,
    ));
    let router = crate::http::api(
        index.clone(),
        writes,
        events.clone(),
        config.tokens.clone(),
        metrics.clone(),
        crate::agent_link::client(channel.clone()),
    );
    tasks.push(tokio::spawn(async move {
        let mut bounded = crate::http::listener::Bounded::new(
            listener,
            crate::http::listener::MAX_CONNECTIONS,
            crate::http::listener::IDLE_TIMEOUT,
        );
        if let Some(config) = tls {
            bounded = bounded.with_tls(config);
        }
        let served = axum::serve(bounded, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await;
        if let Err(e) = served {
            error!(error = %e, "HTTP API failed");
        }
    }));

    if let Some(source) = dir_source {
        let rx = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = source.run(rx).await {
                error!(error = %e, "manifests source stopped");
            }
        }));
    }
    if let Some(source) = git_source {
        tasks.push(tokio::spawn(source.run(shutdown_rx.clone())));
    }

    let writer = Writer {
        index: index.clone(),
        store: store.clone(),
        journal: journal.clone(),
        queue: queue.clone(),
        events: events.clone(),
    };
    tasks.push(tokio::spawn(writer.run(events_rx, changes, shutdown_rx.clone())));
    tasks.push(tokio::spawn(journal.clone().run(shutdown_rx.clone())));
    tasks.push(tokio::spawn(crate::agent_link::watch_agent(
        channel.clone(),
        config.agent_url.clone(),
        events_tx.clone(),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(resync(
        index.clone(),
        queue.clone(),
        events_tx,
        shutdown_rx.clone(),
    )));

    let runtime = Arc::new(Runtime::new(
        index.clone(),
        journal.clone(),
        crate::agent_link::client(channel),
        events.clone(),
        metrics,
    ));
    queue.enqueue_all(index.keys());
    let workers = queue.clone();
    tasks.push(tokio::spawn(async move {
        queue::run(workers, PARALLEL_APPS, move |key| Arc::clone(&runtime).reconcile(key)).await;
    }));

    info!(
        api = %api_addr,
        manifests = %config.manifests_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default(),
        git = %config
            .git
            .as_ref()
            .map(|g| format!("{} ({})", crate::source::git_repo::redacted(&g.url), g.branch))
            .unwrap_or_default(),
        agent = %config.agent_url,
        "controller started"
    );
    Ok(ControllerHandle {
        api_addr,
        store,
        index,
        queue,
        journal,
        shutdown,
        tasks,
    })
}

/// Every [`RESYNC_INTERVAL`]: prunes old ended tasks, enqueues every app
/// (a level-triggered controller looks again even without news), and
/// gives freed heap back to the system.
async fn resync(index: Index, queue: WorkQueue, events: mpsc::Sender<IndexEvent>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(RESYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        if events.send(IndexEvent::Prune(now_unix())).await.is_err() {
            return;
        }
        queue.enqueue_all(index.keys());
        // Freed heap back to the system, so resident memory follows what
        // is live (a few ms on a large heap, off the async workers).
        let _ = tokio::task::spawn_blocking(crate::index::journal::give_back_memory).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::AppStatus;

    fn agent_url_ok(url: &str) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async { agent_channel(url, None).is_ok() })
    }

    /// A controller watching `manifests`, for an agent that is not there
    /// (nothing listens at port 1: it keeps retrying).
    fn config(manifests: &std::path::Path, data: &std::path::Path, api_addr: SocketAddr) -> ControllerConfig {
        ControllerConfig {
            manifests_dir: Some(manifests.to_path_buf()),
            git: None,
            rules: Rules::default(),
            quota: crate::quota::Quota::default(),
            webhook_secret_file: None,
            tokens: None,
            hooks: Vec::new(),
            data_dir: data.to_path_buf(),
            agent_url: "http://127.0.0.1:1".into(),
            api_addr,
            metrics: crate::metrics::Metrics::default(),
            tls: None,
            agent_ca_cert: None,
        }
    }

    /// Guards the start-up rule for a source no longer configured: its apps
    /// are not deleted (a typo in --manifests must not kill everything),
    /// and the new directory of the same kind adopts the ones it defines.
    #[tokio::test]
    async fn a_new_directory_adopts_the_apps_of_the_old_one_without_recreating_them() {
        let data = tempfile::tempdir().expect("tempdir");
        let (old, new) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        let web = "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {instances: 1, command: sleep 100}\n";
        std::fs::write(old.path().join("web.yaml"), web).expect("write");
        let handle = start(config(old.path(), data.path(), "127.0.0.1:0".parse().expect("addr")))
            .await
            .expect("start");
        let store = handle.store().clone();
        let mut first = None;
        for _ in 0..100 {
            first = store.get_app("default", "web").expect("store");
            if first.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let first = first.expect("web desired from the old directory");
        // The journal closes with its last handle.
        drop(store);
        handle.shutdown().await;

        std::fs::write(new.path().join("web.yaml"), web).expect("write");
        let handle = start(config(new.path(), data.path(), "127.0.0.1:0".parse().expect("addr")))
            .await
            .expect("start");
        let new_name = DirSource::name_for(new.path()).expect("name");
        let mut adopted = None;
        for _ in 0..100 {
            adopted = store_app(&handle, "web").filter(|a| a.source == new_name);
            if adopted.is_some() {
                break;
            }
            assert!(
                store_app(&handle, "web").is_some(),
                "the old directory's app was deleted at start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let adopted = adopted.expect("adopted by the new directory");
        assert_eq!(adopted.generation, first.generation, "adopted, not recreated");
        assert_eq!(adopted.created_at, first.created_at);
        handle.shutdown().await;
    }

    fn store_app(handle: &ControllerHandle, name: &str) -> Option<crate::desired::DesiredApp> {
        handle.store().get_app("default", name).expect("store")
    }

    /// Guards the message a user reads when the API port is taken: the
    /// cause once, in words, with a hint.
    #[tokio::test]
    async fn a_taken_port_is_said_once_with_a_hint() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let data = tempfile::tempdir().expect("tempdir");
        let manifests = tempfile::tempdir().expect("tempdir");
        let err = start(config(manifests.path(), data.path(), addr))
            .await
            .expect_err("the port is taken");
        let text = anyhow_like(&err);
        assert_eq!(text.matches("in use").count(), 1, "{text}");
        assert!(text.contains("choose another address"), "{text}");
    }

    /// The error and its sources, as `{:#}` of anyhow prints them.
    fn anyhow_like(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            text.push_str(&format!(": {cause}"));
            next = cause.source();
        }
        text
    }

    #[test]
    fn agent_urls() {
        assert!(agent_url_ok("http://127.0.0.1:7070"));
        assert!(agent_url_ok("127.0.0.1:7070"));
        assert!(!agent_url_ok("http://exa mple:1"));
    }

    /// TLS to the agent: an https agent needs the CA, an http one refuses
    /// it, and an unreadable CA file is named.
    #[test]
    fn an_https_agent_needs_its_ca_and_the_errors_say_so() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let error = |url: &str, ca: Option<&std::path::Path>| {
            rt.block_on(async { agent_channel(url, ca).err().map(|e| e.to_string()) })
        };
        assert!(
            error("https://agent:7071", None).is_some_and(|e| e.contains("needs --agent-ca-cert")),
            "https without a CA"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("ca.pem");
        assert!(
            error("http://agent:7071", Some(&missing)).is_some_and(|e| e.contains("plain http")),
            "a CA for plain http"
        );
        let message = error("https://agent:7071", Some(&missing)).unwrap_or_default();
        assert!(
            message.contains("cannot read --agent-ca-cert") && message.contains("ca.pem"),
            "{message}"
        );
    }

    fn degraded_reason(s: &AppStatus) -> Option<String> {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Degraded" && c.status == "True")
            .and_then(|c| c.reason.clone())
    }

    /// Guards "act on no app before the agent's snapshot": with no agent,
    /// the app says why it waits, and nothing is launched.
    #[tokio::test]
    async fn starts_serves_and_stops_without_an_agent() {
        let data = tempfile::tempdir().expect("tempdir");
        let manifests = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            manifests.path().join("web.yaml"),
            "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  instances: 1\n  command: sleep 100\n",
        )
        .expect("write");
        let handle = start(config(
            manifests.path(),
            data.path(),
            "127.0.0.1:0".parse().expect("addr"),
        ))
        .await
        .expect("start");
        assert_ne!(handle.api_addr().port(), 0);
        let index = handle.index().clone();
        let mut reason = None;
        for _ in 0..100 {
            reason = index.read(|s| s.statuses.get("default/web").and_then(|st| degraded_reason(st)));
            if reason.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(reason.as_deref(), Some("AgentUnavailable"));
        let last_known = index.read(|s| s.statuses.get("default/web").and_then(|st| st.last_known.clone()));
        assert!(
            last_known.is_some_and(|m| m.contains("127.0.0.1:1")),
            "the status says its counts are not fresh"
        );
        assert_eq!(index.read(|s| s.task_count), 0, "nothing launched without a snapshot");
        tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
            .await
            .expect("shutdown in time");
    }
}
