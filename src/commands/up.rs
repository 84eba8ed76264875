//! `sextant up`: the embedded master, the agent and the controller in one
//! process. They still talk over loopback HTTP and gRPC, exactly as they
//! would across machines, and share one metrics registry, which the
//! controller's API serves.

use std::path::Path;

use anyhow::{Context, Result};
use sextant_agent::{AgentConfig, AgentMetrics};
use sextant_controller::metrics::Metrics;

use crate::cli::UpArgs;
use crate::commands::serve::{
    access_line, controller_config, default_data_dir, mesos_auth, node_configs, shutdown_signal, sources_line,
};

/// The principal `sextant up`'s agent registers as.
const UP_PRINCIPAL: &str = "sextant-up";
/// Where `sextant up` writes its agent's credential, under the data dir
/// (Mesos' credentials file format, mode 0600).
const CREDENTIALS_FILE: &str = "mesos-credentials.json";

pub async fn run(args: UpArgs) -> Result<()> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    // Without a repository, the quick start's directory is the default.
    let manifests = match (&args.manifests, &args.source.git) {
        (Some(dir), _) => Some(dir.clone()),
        (None, None) => Some(std::path::PathBuf::from("manifests")),
        (None, Some(_)) => None,
    };
    if let Some(dir) = &manifests {
        anyhow::ensure!(
            dir.is_dir(),
            "manifests directory {} does not exist (use --manifests DIR, or --git URL)",
            dir.display()
        );
    }

    // An API open to the network needs tokens: refuse before starting anything.
    let access = access_line(args.access.tokens.is_some(), args.api_addr, true)?;

    let mut mesos_config = localmesos::LocalMesosConfig::new(args.mesos_addr, data_dir.join("mesos"));
    mesos_config.nodes = node_configs(&args.node)?;
    mesos_config.fetcher = args.node.fetcher_limits();
    mesos_config.isolation = args.node.isolation;
    mesos_config.task_launchers = usize::from(args.node.task_launchers);
    mesos_config.memory_limits = args.node.memory_limits;
    // The master authenticates (by default): its own agent registers with
    // a fresh credential, shared in process and written for the operator.
    (mesos_config.auth, mesos_config.max_frameworks) = mesos_auth(&args.mesos_auth, true)?;
    let agent_credential = fresh_credential(&data_dir)?;
    mesos_config.auth.credentials.push(agent_credential.clone());
    let mesos_config_auth = mesos_config.auth.clone();
    let master = localmesos::start(mesos_config)
        .await
        .with_context(|| format!("cannot start the embedded Mesos master on {}", args.mesos_addr))?;
    println!(
        "mesos:      embedded master on {} ({})",
        master.url(),
        auth_line(&mesos_config_auth, &data_dir)
    );

    // One registry: the agent's families, then the controller's.
    let mut registry = prometheus_client::registry::Registry::default();
    let mut agent_config = AgentConfig::new(master.url(), args.agent_addr);
    agent_config.state_dir = Some(data_dir.join("agent"));
    agent_config.preemption_delay = args.scheduling.preemption_delay();
    agent_config.metrics = AgentMetrics::register(&mut registry);
    agent_config.credential = Some(agent_credential);
    // The agent's gRPC takes calls from this controller only: a fresh
    // token, shared in process.
    let token = sextant_agent::auth::Token::generate();
    sextant_controller::agent_link::set_agent_token(Some(token.expose()))?;
    agent_config.token = Some(token);
    let mut agent = match sextant_agent::start(agent_config).await {
        Ok(agent) => agent,
        Err(e) => {
            master.shutdown().await;
            return Err(e).context("cannot start the agent");
        }
    };
    println!("agent:      Mesos framework, gRPC on {}", agent.url());

    let controller_config = match controller_config(
        manifests,
        &args.source,
        &args.access,
        data_dir.join("controller"),
        agent.url(),
        args.api_addr,
        Metrics::new(registry),
    ) {
        Ok(config) => config,
        Err(e) => {
            agent.shutdown().await;
            master.shutdown().await;
            return Err(e);
        }
    };
    let sources = sources_line(&controller_config);
    let scheme = crate::commands::serve::api_scheme(&controller_config);
    let controller = match sextant_controller::start(controller_config).await {
        Ok(controller) => controller,
        Err(e) => {
            agent.shutdown().await;
            master.shutdown().await;
            return Err(e).context("cannot start the controller");
        }
    };
    let api = format!("{scheme}://{}", controller.api_addr());
    println!("controller: API on {api} ({access}), {sources}");
    println!("data:       {}", data_dir.display());
    println!("ready: `sextant get apps --server {api}`; Ctrl-C stops everything");

    // A signal stops everything; so does the agent stopping on its own
    // (another instance took over its framework): then exit non-zero.
    let waited = tokio::select! {
        waited = shutdown_signal() => waited,
        stopped = agent.wait() => stopped.context("the agent stopped"),
    };
    println!("stopping: controller, agent, then every task");
    controller.shutdown().await;
    agent.shutdown().await;
    master.shutdown().await;
    println!("stopped");
    waited
}

/// A new random credential for the agent, written to
/// `<data dir>/mesos-credentials.json` (0600) so that an operator can use
/// the master's read-write endpoints too.
fn fresh_credential(data_dir: &Path) -> Result<mesos::Credential> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let credential = mesos::Credential {
        principal: UP_PRINCIPAL.to_string(),
        secret: sextant_agent::auth::Token::generate().expose().to_string(),
    };
    let path = data_dir.join(CREDENTIALS_FILE);
    let text = serde_json::json!({"credentials": [{"principal": credential.principal, "secret": credential.secret}]});
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write the Mesos credentials file {}", path.display()))?;
    // An existing file keeps its mode on open: make sure it is private.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(format!("{text}\n").as_bytes()))
        .with_context(|| format!("cannot write the Mesos credentials file {}", path.display()))?;
    Ok(credential)
}

/// How the master authenticates, for the banner.
fn auth_line(auth: &localmesos::AuthConfig, data_dir: &Path) -> String {
    let mut on = Vec::new();
    if auth.authenticate_frameworks {
        on.push("frameworks");
    }
    if auth.authenticate_http_readwrite {
        on.push("read-write endpoints");
    }
    if on.is_empty() {
        return "no authentication".to_string();
    }
    format!(
        "authenticates {}; credentials in {}",
        on.join(" and "),
        data_dir.join(CREDENTIALS_FILE).display()
    )
}
