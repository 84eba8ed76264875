//! `sextant up`: the embedded master, the agent and the controller in one
//! process. They still talk over loopback HTTP and gRPC, exactly as they
//! would across machines, and share one metrics registry, which the
//! controller's API serves.

use anyhow::{Context, Result};
use sextant_agent::{AgentConfig, AgentMetrics};
use sextant_controller::metrics::Metrics;

use crate::cli::UpArgs;
use crate::commands::serve::{
    access_line, controller_config, default_data_dir, node_configs, shutdown_signal, sources_line,
};

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
    let master = localmesos::start(mesos_config)
        .await
        .with_context(|| format!("cannot start the embedded Mesos master on {}", args.mesos_addr))?;
    println!("mesos:      embedded master on {}", master.url());

    // One registry: the agent's families, then the controller's.
    let mut registry = prometheus_client::registry::Registry::default();
    let mut agent_config = AgentConfig::new(master.url(), args.agent_addr);
    agent_config.state_dir = Some(data_dir.join("agent"));
    agent_config.preemption_delay = args.scheduling.preemption_delay();
    agent_config.metrics = AgentMetrics::register(&mut registry);
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
