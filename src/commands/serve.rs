//! `local-mesos`, `agent` and `controller`: each component alone, as it runs
//! across machines.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sextant_agent::{AgentConfig, AgentMetrics};
use sextant_controller::ControllerConfig;
use sextant_controller::http::auth::Tokens;
use sextant_controller::metrics::Metrics;
use sextant_controller::source::git::GitConfig;
use sextant_controller::source::git_repo::GitAuth;
use sextant_controller::source::plan::Rules;

use crate::cli::{AccessArgs, AgentArgs, ControllerArgs, LocalMesosArgs, MesosAuthArgs, NodeArgs, SourceArgs};

/// Default data directory: `<user data dir>/sextant`.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("sextant")
}

/// Resolves on Ctrl-C (SIGINT), SIGTERM, or SIGHUP (the terminal closed):
/// each stops everything cleanly.
pub async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot wait for Ctrl-C")?,
        _ = term.recv() => {}
        _ = hangup.recv() => {}
    }
    Ok(())
}

/// The local nodes from the flags (see docs/cli.md for their precedence).
pub fn node_configs(args: &NodeArgs) -> Result<Vec<localmesos::NodeConfig>> {
    let flags = localmesos::NodeFlags {
        count: args.nodes,
        resources: args.node_resources.clone(),
        attributes: args.node_attributes.clone(),
        nodes: args.node.clone(),
        containerizer: args.containerizer,
        cpus: args.node_cpus,
        mem: args.node_mem,
        ports: args.node_ports.clone(),
    };
    Ok(flags.build()?)
}

/// The master's authentication and framework limit from the flags;
/// authentication is on by default when `on_by_default` (`sextant up`).
pub fn mesos_auth(args: &MesosAuthArgs, on_by_default: bool) -> Result<(localmesos::AuthConfig, usize)> {
    let credentials = match &args.credentials {
        Some(path) => localmesos::load_credentials(path)?,
        None => Vec::new(),
    };
    let auth = localmesos::AuthConfig {
        credentials,
        authenticate_frameworks: args.authenticate_frameworks.unwrap_or(on_by_default),
        authenticate_http_readwrite: args.authenticate_http_readwrite.unwrap_or(on_by_default),
    };
    Ok((auth, args.max_frameworks))
}

pub async fn local_mesos(args: LocalMesosArgs) -> Result<()> {
    let work_dir = args.work_dir.unwrap_or_else(|| default_data_dir().join("mesos"));
    let mut config = localmesos::LocalMesosConfig::new(args.addr, work_dir);
    config.nodes = node_configs(&args.node)?;
    config.fetcher = args.node.fetcher_limits();
    config.isolation = args.node.isolation;
    config.task_launchers = usize::from(args.node.task_launchers);
    config.memory_limits = args.node.memory_limits;
    (config.auth, config.max_frameworks) = mesos_auth(&args.mesos_auth, false)?;
    let master = localmesos::start(config)
        .await
        .with_context(|| format!("cannot start the embedded Mesos master on {}", args.addr))?;
    println!("localmesos: Mesos master API on {}", master.url());
    shutdown_signal().await?;
    master.shutdown().await;
    Ok(())
}

pub async fn agent(args: AgentArgs) -> Result<()> {
    let mut config = AgentConfig::new(args.master.clone(), args.addr);
    config.framework_name = args.framework_name;
    config.preemption_delay = args.scheduling.preemption_delay();
    if let Some(user) = args.user {
        config.user = user;
    }
    config.state_dir = Some(args.data_dir.unwrap_or_else(|| default_data_dir().join("agent")));
    config.token = match &args.token_file {
        Some(path) => Some(sextant_agent::auth::Token::load(path)?),
        None => None,
    };
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(grpc_identity(cert, key)?);
    }
    if let (Some(principal), Some(path)) = (&args.principal, &args.secret_file) {
        config.credential = Some(mesos_credential(principal, path)?);
    }
    let access = if config.token.is_some() {
        "token required (--token-file)"
    } else {
        "no token: local users only (loopback)"
    };
    // Its own registry: the agent's families and the process's.
    let mut registry = prometheus_client::registry::Registry::default();
    config.metrics = AgentMetrics::register(&mut registry);
    sextant_controller::metrics::process::register(&mut registry);
    let metrics = match args.metrics_addr {
        Some(addr) => Some(
            sextant_controller::http::metrics::serve(addr, std::sync::Arc::new(registry))
                .await
                .with_context(|| format!("cannot serve the agent's metrics on {addr}"))?,
        ),
        None => None,
    };
    let mut agent = sextant_agent::start(config).await.context("cannot start the agent")?;
    let served = metrics
        .as_ref()
        .map(|m| format!(", metrics on http://{}/metrics", m.addr()))
        .unwrap_or_default();
    println!(
        "agent: gRPC on {} ({access}), Mesos master {}{served}",
        agent.url(),
        args.master
    );
    // A signal stops it cleanly; the agent may also stop on its own
    // (another instance took over the framework): then exit non-zero.
    let ended = tokio::select! {
        waited = shutdown_signal() => waited,
        stopped = agent.wait() => stopped.context("the agent stopped"),
    };
    agent.shutdown().await;
    if let Some(metrics) = metrics {
        metrics.shutdown().await;
    }
    ended
}

/// The agent's TLS identity, checked as the API's is (errors name the
/// file and what is wrong) before tonic takes the PEM.
fn grpc_identity(cert: &std::path::Path, key: &std::path::Path) -> Result<sextant_agent::auth::ServerIdentity> {
    sextant_controller::http::tls::TlsFiles {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    }
    .load()?;
    let read = |path: &std::path::Path| std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    Ok(sextant_agent::auth::ServerIdentity(
        tonic::transport::Identity::from_pem(read(cert)?, read(key)?),
    ))
}

/// `--principal` with the secret in `path` (its first line, without the
/// line end).
fn mesos_credential(principal: &str, path: &std::path::Path) -> Result<mesos::Credential> {
    anyhow::ensure!(
        !principal.trim().is_empty() && !principal.contains(':'),
        "--principal {principal:?}: a principal is not empty and holds no ':'"
    );
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read --secret-file {}", path.display()))?;
    let secret = text.lines().next().unwrap_or_default().trim_end_matches('\r');
    anyhow::ensure!(!secret.is_empty(), "--secret-file {} is empty", path.display());
    Ok(mesos::Credential {
        principal: principal.to_string(),
        secret: secret.to_string(),
    })
}

/// The controller's configuration from the source flags; `manifests` is
/// the directory to watch, if any; `metrics` what `/metrics` serves.
pub fn controller_config(
    manifests: Option<PathBuf>,
    source: &SourceArgs,
    access: &AccessArgs,
    data_dir: PathBuf,
    agent_url: String,
    api_addr: std::net::SocketAddr,
    metrics: Metrics,
) -> Result<ControllerConfig> {
    let tokens = match &access.tokens {
        Some(path) => Some(Tokens::load(path, access.anonymous_read)?),
        None => {
            anyhow::ensure!(
                !access.anonymous_read,
                "--anonymous-read needs --tokens: without tokens every request is allowed anyway"
            );
            None
        }
    };
    let git = source.git.as_ref().map(|url| GitConfig {
        url: local_repository(url),
        branch: source.branch.clone(),
        path: source.path.clone(),
        interval: source.interval.into(),
        auth: GitAuth {
            credentials_file: source.git_credentials.clone(),
            ssh_key: source.git_ssh_key.clone(),
        },
    });
    Ok(ControllerConfig {
        manifests_dir: manifests,
        git,
        rules: Rules {
            prune: !source.no_prune,
            allow_empty: source.allow_empty,
            keep_empty_files: false,
        },
        webhook_secret_file: source.webhook_secret_file.clone(),
        quota: match &source.quota {
            Some(path) => sextant_controller::quota::Quota::load(path)?,
            None => sextant_controller::quota::Quota::default(),
        },
        tokens,
        hooks: match &access.hooks {
            Some(path) => sextant_controller::hooks::load(path)?,
            None => Vec::new(),
        },
        data_dir,
        agent_url,
        api_addr,
        metrics,
        tls: match (&access.tls_cert, &access.tls_key) {
            (Some(cert), Some(key)) => Some(sextant_controller::http::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        agent_ca_cert: None,
    })
}

/// `https` when the API serves TLS.
pub fn api_scheme(config: &ControllerConfig) -> &'static str {
    if config.tls.is_some() { "https" } else { "http" }
}

/// How the API is protected, for the banner; refuses an API open to the
/// network with no tokens when `loopback_only` (as `sextant up` is).
pub fn access_line(tokens: bool, api_addr: std::net::SocketAddr, loopback_only: bool) -> Result<String> {
    let ip = api_addr.ip();
    if tokens {
        return Ok("tokens required (--tokens)".into());
    }
    if ip.is_loopback() {
        return Ok("open to local users only (loopback, no --tokens)".into());
    }
    anyhow::ensure!(
        !loopback_only,
        "--api-addr {api_addr} would open the API to the network with no tokens: pass --tokens FILE, or a loopback address"
    );
    tracing::warn!(addr = %api_addr, "the API listens beyond loopback with no --tokens: anyone who reaches it can apply and delete apps");
    Ok("OPEN to the network: no --tokens".into())
}

/// A repository given as a local path (`../deploy`) made absolute, since
/// git runs elsewhere; URLs (`https://`, `file://`, `user@host:path`) pass.
fn local_repository(url: &str) -> String {
    if url.contains("://") {
        return url.to_string();
    }
    match std::fs::canonicalize(url) {
        Ok(path) => path.display().to_string(),
        Err(_) => url.to_string(),
    }
}

/// What the controller follows, for the banner.
pub fn sources_line(config: &ControllerConfig) -> String {
    let mut parts = Vec::new();
    if let Some(dir) = &config.manifests_dir {
        parts.push(format!("watching {}", dir.display()));
    }
    if let Some(git) = &config.git {
        let path = git
            .path
            .as_ref()
            .map(|p| format!(" path {}", p.display()))
            .unwrap_or_default();
        let url = sextant_controller::source::git_repo::redacted(&git.url);
        parts.push(format!("following {url} branch {}{path}", git.branch));
    }
    parts.join(", ")
}

pub async fn controller(args: ControllerArgs) -> Result<()> {
    if let Some(path) = &args.agent_token_file {
        let token = sextant_agent::auth::Token::load(path)?;
        sextant_controller::agent_link::set_agent_token(Some(token.expose()))?;
    }
    let mut config = controller_config(
        args.manifests.clone(),
        &args.source,
        &args.access,
        args.data_dir.unwrap_or_else(|| default_data_dir().join("controller")),
        args.agent.clone(),
        args.api_addr,
        Metrics::default(),
    )?;
    config.agent_ca_cert = args.agent_ca_cert.clone();
    let sources = sources_line(&config);
    let access = access_line(config.tokens.is_some(), config.api_addr, false)?;
    let scheme = api_scheme(&config);
    let controller = sextant_controller::start(config)
        .await
        .context("cannot start the controller")?;
    println!(
        "controller: API on {scheme}://{} ({access}), {sources}, agent {}",
        controller.api_addr(),
        args.agent
    );
    shutdown_signal().await?;
    controller.shutdown().await;
    Ok(())
}
