//! `sextant up`: the embedded master, the agent and the controller in one
//! process. They still talk over loopback HTTP and gRPC, exactly as they
//! would across machines.

use anyhow::{Context, Result};
use sextant_agent::AgentConfig;
use sextant_controller::ControllerConfig;

use crate::cli::UpArgs;
use crate::commands::serve::{default_data_dir, node_config, shutdown_signal};

pub async fn run(args: UpArgs) -> Result<()> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    anyhow::ensure!(
        args.manifests.is_dir(),
        "manifests directory {} does not exist (use --manifests DIR)",
        args.manifests.display()
    );

    let mut mesos_config = localmesos::LocalMesosConfig::new(args.mesos_addr, data_dir.join("mesos"));
    mesos_config.nodes = vec![node_config(&args.node)?];
    let master = localmesos::start(mesos_config)
        .await
        .with_context(|| format!("cannot start the embedded Mesos master on {}", args.mesos_addr))?;
    println!("mesos:      embedded master on {}", master.url());

    let mut agent_config = AgentConfig::new(master.url(), args.agent_addr);
    agent_config.state_dir = Some(data_dir.join("agent"));
    let agent = match sextant_agent::start(agent_config).await {
        Ok(agent) => agent,
        Err(e) => {
            master.shutdown().await;
            return Err(e).context("cannot start the agent");
        }
    };
    println!("agent:      Mesos framework, gRPC on {}", agent.url());

    let controller_config = ControllerConfig {
        manifests_dir: args.manifests.clone(),
        data_dir: data_dir.join("controller"),
        agent_url: agent.url(),
        api_addr: args.api_addr,
    };
    let controller = match sextant_controller::start(controller_config).await {
        Ok(controller) => controller,
        Err(e) => {
            agent.shutdown().await;
            master.shutdown().await;
            return Err(e).context("cannot start the controller");
        }
    };
    let api = format!("http://{}", controller.api_addr());
    println!("controller: API on {api}, watching {}", args.manifests.display());
    println!("data:       {}", data_dir.display());
    println!("ready: `sextant get apps --server {api}`; Ctrl-C stops everything");

    let waited = shutdown_signal().await;
    println!("stopping: controller, agent, then every task");
    controller.shutdown().await;
    agent.shutdown().await;
    master.shutdown().await;
    println!("stopped");
    waited
}
