//! Several local nodes, through the `mesos` client: each has its own
//! hostname and agent id in offers, `/master/state` and `/master/slaves`,
//! tasks land on the node whose offer was accepted and their sandboxes are
//! read at the offer's `url`; host ports some program already listens on
//! are never offered.

mod common;

use std::collections::BTreeSet;

use common::*;
use localmesos::{NodeConfig, NodeFlags};
use mesos::types::*;
use serde_json::Value;

fn three_nodes() -> Vec<NodeConfig> {
    NodeFlags {
        count: Some(3),
        resources: Some("cpus:1;mem:256;ports:[31000-31009]".to_string()),
        attributes: Some("zone:west".to_string()),
        ..NodeFlags::default()
    }
    .build()
    .expect("node flags")
}

/// Offers until one from each of `count` hosts has come.
async fn one_offer_per_host(events: &mut mesos::client::EventStream, count: usize) -> Vec<Offer> {
    let mut by_host: Vec<Offer> = Vec::new();
    while by_host.len() < count {
        for offer in next_offers(events).await {
            if !by_host.iter().any(|o| o.hostname == offer.hostname) {
                by_host.push(offer);
            }
        }
    }
    by_host.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    by_host
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.expect("GET").json().await.expect("json")
}

fn hostnames(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["hostname"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn each_node_has_its_own_hostname_and_agent_id_everywhere() {
    let master = start_with(|c| c.nodes = three_nodes()).await;
    let sub = subscribe(&master, framework_info("nodes")).await;
    let (caller, mut events) = (sub.caller, sub.events);

    let offers = one_offer_per_host(&mut events, 3).await;
    let names: Vec<&str> = offers.iter().map(|o| o.hostname.as_str()).collect();
    assert_eq!(names, ["node-1", "node-2", "node-3"]);
    let ids: BTreeSet<&str> = offers.iter().map(|o| o.agent_id.value.as_str()).collect();
    assert_eq!(ids.len(), 3, "one agent id per node");
    for offer in &offers {
        assert_eq!(offer.attributes.len(), 1);
        assert_eq!(offer.attributes[0].name, "zone");
        let url = offer.url.as_ref().expect("url");
        assert_eq!(url.address.hostname.as_deref(), Some(offer.hostname.as_str()));
    }

    let expected = ["node-1", "node-2", "node-3"];
    let state = get_json(&format!("{}/master/state", master.url())).await;
    assert_eq!(hostnames(&state["slaves"]), expected);
    assert_eq!(state["activated_slaves"], 3.0);
    let slaves = get_json(&format!("{}/master/slaves", master.url())).await;
    assert_eq!(hostnames(&slaves["slaves"]), expected);

    // A task on node-2 runs there, and its sandbox is read at that
    // node's url.
    let second = &offers[1];
    caller
        .accept(
            vec![second.id.clone()],
            vec![shell_task("where", &second.agent_id, "echo on $MESOS_AGENT_ID")],
            0.0,
        )
        .await
        .expect("ACCEPT");
    loop {
        let status = next_update_acked(&caller, &mut events).await;
        assert_eq!(status.agent_id.as_ref(), Some(&second.agent_id));
        if status.state == TaskState::TaskFinished {
            break;
        }
        assert!(!status.state.is_terminal(), "{status:?}");
    }
    let url = second.url.as_ref().expect("url");
    let ip = url.address.ip.as_deref().expect("ip");
    let fid = caller.framework_id().value.clone();
    let read = get_json(&format!(
        "http://{ip}:{}/files/read?path=/frameworks/{fid}/executors/where/runs/latest/stdout&offset=0",
        url.address.port
    ))
    .await;
    assert_eq!(read["data"], format!("on {}\n", second.agent_id.value));
    let tasks = get_json(&format!("{}/master/tasks", master.url())).await;
    assert_eq!(tasks["tasks"][0]["slave_id"], second.agent_id.value.as_str());
    master.mesos.shutdown().await;
}

fn offered_ports(offer: &Offer) -> Vec<(u64, u64)> {
    offer
        .resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.iter().flat_map(|rs| rs.range.iter().map(|r| (r.begin, r.end))))
        .collect()
}

/// Guards a task placed on a port another program holds (it would
/// crash-loop on "Address already in use").
#[tokio::test]
async fn ports_another_program_listens_on_are_not_offered() {
    // A port this test holds, on a node whose range is around it.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let (first, last) = (port.saturating_sub(2), port.saturating_add(2));
    let master = start_with(|c| c.nodes[0].ports = vec![first..=last]).await;
    let sub = subscribe(&master, framework_info("ports")).await;
    let mut events = sub.events;
    let offer = next_offers(&mut events).await.remove(0);
    let p = u64::from(port);
    assert_eq!(
        offered_ports(&offer),
        [(u64::from(first), p - 1), (p + 1, u64::from(last))],
        "port {port} is held by this test"
    );
    drop(events);
    master.mesos.shutdown().await;

    // Once nobody holds it, it is offered again.
    drop(held);
    let master = start_with(|c| c.nodes[0].ports = vec![first..=last]).await;
    let mut events = subscribe(&master, framework_info("ports")).await.events;
    let offer = next_offers(&mut events).await.remove(0);
    assert_eq!(offered_ports(&offer), [(u64::from(first), u64::from(last))]);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn two_nodes_with_one_name_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&dir);
    config.nodes = vec![NodeConfig::default(), NodeConfig::default()];
    let error = localmesos::start(config).await.err().expect("refused");
    assert_eq!(
        error.to_string(),
        "invalid localmesos configuration: two nodes are named \"localhost\"; each needs its own hostname"
    );
}
