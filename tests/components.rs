//! The components run alone, as across machines: `sextant local-mesos`,
//! `sextant agent --master` and `sextant controller --agent`, three
//! processes talking over loopback HTTP and gRPC.

mod common;

use std::time::{Duration, Instant};

use common::{Process, agent_args, controller_args, free_addr, get_json, local_mesos_args, running_in_mesos, strs};
use nix::sys::signal::Signal;

#[test]
fn local_mesos_agent_and_controller_run_as_separate_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("manifests dir");
    std::fs::write(
        manifests.join("app.yaml"),
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: split\nspec:\n  instances: 2\n  command: \"exec sleep 3600\"\n  resources: {cpus: 0.1, mem: 16}\n",
    )
    .expect("write manifest");
    let (mesos, agent, api, agent_metrics) = (free_addr(), free_addr(), free_addr(), free_addr());
    let work = dir.path().join("mesos");
    let mut processes: Vec<Process> = Vec::new();
    processes.push(Process::spawn(
        &strs(&local_mesos_args(mesos, &work)),
        &dir.path().join("mesos.log"),
    ));
    let agent_data = dir.path().join("agent");
    let mut agent_args = agent_args(mesos, agent, &agent_data);
    agent_args.extend(["--metrics-addr".to_string(), agent_metrics.to_string()]);
    processes.push(Process::spawn(&strs(&agent_args), &dir.path().join("agent.log")));
    let controller_data = dir.path().join("controller");
    processes.push(Process::spawn(
        &strs(&controller_args(&manifests, agent, api, &controller_data)),
        &dir.path().join("controller.log"),
    ));

    let running = || {
        let in_controller = get_json(&format!("http://{api}/api/v1/apps"))
            .and_then(|apps| apps.as_array()?.iter().find(|a| a["name"] == "split")?["running"].as_u64());
        let in_mesos = Some(running_in_mesos(&format!("http://{mesos}"), "split").len());
        (in_controller, in_mesos)
    };
    let wait_for_two = |what: &str| {
        let start = Instant::now();
        while running() != (Some(2), Some(2)) {
            assert!(
                start.elapsed() < common::DEADLINE,
                "{what}: {:?}; agent log:\n{}",
                running(),
                std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for_two("2 tasks never ran");
    // The standalone agent serves its own registry; the controller's has
    // none of the agent's families.
    let vars = get_json(&format!("http://{agent_metrics}/vars.json")).expect("the agent's /vars.json");
    assert!(vars["sextant_offers_received_total"].as_f64() > Some(0.0), "{vars}");
    assert_eq!(
        vars["sextant_launch_latency_seconds_count"].as_f64(),
        Some(2.0),
        "{vars}"
    );
    let controller_vars = get_json(&format!("http://{api}/vars.json")).expect("the controller's /vars.json");
    assert!(
        controller_vars.get("sextant_offers_received_total").is_none(),
        "{controller_vars}"
    );
    assert_eq!(
        controller_vars["sextant_tasks_TASK_RUNNING"].as_f64(),
        Some(2.0),
        "{controller_vars}"
    );
    assert!(
        agent_data.join("agent.sled").is_dir(),
        "the agent keeps its framework id"
    );
    let tasks_before = mesos_task_ids(&mesos.to_string());

    // Restart the agent: it re-subscribes with its framework id and learns
    // the running tasks back from Mesos. Guards against a restarted agent
    // reporting "no tasks" before reconciliation, which made the controller
    // launch duplicates.
    processes[1].stop_with(Signal::SIGINT);
    processes[1] = Process::spawn(&strs(&agent_args), &dir.path().join("agent2.log"));
    std::thread::sleep(Duration::from_secs(3));
    wait_for_two("tasks after the agent restart");
    assert_eq!(
        mesos_task_ids(&mesos.to_string()),
        tasks_before,
        "the same tasks, none launched or killed"
    );
    // Adopted tasks learn their node's hostname from the master's offers.
    let start = Instant::now();
    loop {
        let hosts: Vec<String> = get_json(&format!("http://{api}/api/v1/tasks"))
            .and_then(|t| t.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|t| t["hostname"].as_str().unwrap_or_default().to_string())
            .collect();
        if hosts.len() == 2 && hosts.iter().all(|h| h == "localhost") {
            break;
        }
        assert!(
            start.elapsed() < common::DEADLINE,
            "hostnames after the restart: {hosts:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The controller first, the master last, as a person would stop them.
    for p in processes.into_iter().rev() {
        drop(p);
    }
}

/// Every task id the master knows, live or completed, sorted.
fn mesos_task_ids(mesos: &str) -> Vec<String> {
    let state = get_json(&format!("http://{mesos}/master/state")).expect("master state");
    let mut ids: Vec<String> = state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| {
            let live = f["tasks"].as_array().into_iter().flatten();
            let done = f["completed_tasks"].as_array().into_iter().flatten();
            live.chain(done)
        })
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}
