//! `GET /master/slaves` as a Mesos 1.11 master serves it: each node's
//! configured resources, what its live tasks use (and nothing once they
//! ended), what is offered, its attributes and state, the full resource
//! lists; and the `mesos` crate reads it back.

mod common;

use common::*;
use localmesos::NodeConfig;
use mesos::types::*;
use serde_json::{Value, json};

fn node(
    hostname: &str,
    cpus: f64,
    mem: f64,
    ports: std::ops::RangeInclusive<u16>,
    attrs: &[(&str, &str)],
) -> NodeConfig {
    NodeConfig {
        hostname: hostname.to_string(),
        cpus,
        mem,
        disk: 1000.0,
        ports: vec![ports],
        attributes: attributes(attrs),
        ..NodeConfig::default()
    }
}

fn task(id: &str, agent: &AgentId, cpus: f64, mem: f64, port: Option<u64>) -> TaskInfo {
    let mut task = shell_task(id, agent, "sleep 1000");
    task.resources = vec![Resource::scalar("cpus", cpus), Resource::scalar("mem", mem)];
    if let Some(port) = port {
        task.resources
            .push(Resource::ranges("ports", vec![Range { begin: port, end: port }]));
    }
    task
}

async fn slaves(master: &TestMaster) -> Value {
    reqwest::get(format!("{}/master/slaves", master.url()))
        .await
        .expect("GET /master/slaves")
        .json()
        .await
        .expect("json")
}

fn by_host<'a>(body: &'a Value, hostname: &str) -> &'a Value {
    body["slaves"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["hostname"] == hostname))
        .unwrap_or_else(|| panic!("{hostname} in {body}"))
}

#[tokio::test]
async fn each_node_shows_its_resources_and_what_its_live_tasks_use() {
    let master = start_with(|c| {
        c.nodes = vec![
            node("node-a", 2.0, 1024.0, 31000..=31009, &[("rack", "r1")]),
            node("node-b", 1.0, 512.0, 32000..=32009, &[]),
        ];
    })
    .await;
    let sub = subscribe(&master, framework_info("slaves")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let offer = loop {
        let offers = next_offers(&mut events).await;
        if let Some(offer) = offers.into_iter().find(|o| o.hostname == "node-a") {
            break offer;
        }
    };
    let a = offer.agent_id.clone();
    caller
        .accept(
            vec![offer.id.clone()],
            vec![
                task("one", &a, 0.5, 128.0, Some(31001)),
                task("two", &a, 0.25, 64.0, None),
            ],
            0.0,
        )
        .await
        .expect("ACCEPT");
    let mut running = 0;
    while running < 2 {
        if next_update_acked(&caller, &mut events).await.state == TaskState::TaskRunning {
            running += 1;
        }
    }

    let body = slaves(&master).await;
    assert_eq!(body["recovered_slaves"], json!([]));
    let node_a = by_host(&body, "node-a");
    assert_eq!(node_a["id"], a.value.as_str());
    assert_eq!(node_a["port"], master.addr().port());
    assert_eq!(node_a["pid"], format!("slave(1)@127.0.0.1:{}", master.addr().port()));
    assert_eq!(
        (node_a["active"].clone(), node_a["deactivated"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(node_a["attributes"], json!({"rack": "r1"}));
    assert_eq!(
        node_a["resources"],
        json!({"cpus": 2.0, "disk": 1000.0, "gpus": 0.0, "mem": 1024.0, "ports": "[31000-31009]"})
    );
    assert_eq!(node_a["unreserved_resources"], node_a["resources"]);
    assert_eq!(node_a["reserved_resources"], json!({}));
    assert_eq!(
        node_a["used_resources"],
        json!({"cpus": 0.75, "disk": 0.0, "gpus": 0.0, "mem": 192.0, "ports": "[31001-31001]"}),
        "the sum of its two tasks"
    );
    let used_full = node_a["used_resources_full"].as_array().cloned().unwrap_or_default();
    let cpus = used_full
        .iter()
        .find(|r| r["name"] == "cpus")
        .expect("cpus in used_resources_full");
    assert_eq!(cpus["scalar"]["value"], 0.75);
    assert_eq!(cpus["allocation_info"], json!({"role": "*"}));
    assert!(
        node_a["unreserved_resources_full"]
            .as_array()
            .is_some_and(|r| r.len() == 4)
    );
    assert!(node_a["capabilities"].as_array().is_some_and(|c| !c.is_empty()));
    let node_b = by_host(&body, "node-b");
    assert_eq!(
        node_b["used_resources"],
        json!({"cpus": 0.0, "disk": 0.0, "gpus": 0.0, "mem": 0.0})
    );
    assert_eq!(node_b["attributes"], json!({}));
    assert_eq!(
        node_b["offered_resources"], node_b["resources"],
        "node-b's offer is outstanding, untouched"
    );

    // The mesos crate reads it as it reads a real master's.
    let answer = mesos::slaves::list(&reqwest::Client::new(), &master.url())
        .await
        .expect("listed");
    let read = answer.slaves.iter().find(|s| s.hostname == "node-a").expect("node-a");
    let free = read.resources.minus(&read.used_resources);
    assert_eq!((free.cpus, free.mem, free.ports.count()), (1.25, 832.0, 9));

    // A task that ends gives its resources back.
    caller
        .kill(TaskId::new("one"), Some(a.clone()), None)
        .await
        .expect("KILL");
    loop {
        let status = next_update_acked(&caller, &mut events).await;
        if status.task_id.value == "one" && status.state.is_terminal() {
            break;
        }
    }
    let body = slaves(&master).await;
    assert_eq!(
        by_host(&body, "node-a")["used_resources"],
        json!({"cpus": 0.25, "disk": 0.0, "gpus": 0.0, "mem": 64.0})
    );
    master.mesos.shutdown().await;
}
