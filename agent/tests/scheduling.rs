//! Scheduling against localmesos with several nodes, over real HTTP and
//! gRPC: placement constraints, spreading, fairness across apps, why a
//! task waits, and preemption of preemptible tasks for production ones.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sextant_agent::AgentConfig;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{
    Constraint, LaunchRequest, ListQueueRequest, Priority, Task, TaskSpec, TaskState, WatchTasksRequest, task_event,
};
use tonic::transport::Channel;

const DEADLINE: Duration = Duration::from_secs(30);

struct Cluster {
    master: Option<localmesos::LocalMesos>,
    agent: Option<sextant_agent::AgentHandle>,
    client: AgentClient<Channel>,
    /// Every task's latest view, from the watch stream.
    tasks: tokio::sync::watch::Receiver<HashMap<String, Task>>,
    /// The agent's metrics (shared counters).
    metrics: sextant_agent::AgentMetrics,
    _dir: tempfile::TempDir,
}

/// A node `name` with `cpus` and attributes.
fn node(name: &str, cpus: f64, attributes: &[(&str, &str)]) -> localmesos::NodeConfig {
    localmesos::NodeConfig {
        hostname: name.into(),
        cpus,
        mem: 4096.0,
        attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..localmesos::NodeConfig::default()
    }
}

impl Cluster {
    async fn start(nodes: Vec<localmesos::NodeConfig>, preemption_delay: Option<Duration>) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config =
            localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().join("mesos"));
        config.offer_interval = Duration::from_millis(200);
        config.nodes = nodes;
        let master = localmesos::start(config).await.expect("localmesos starts");
        let mut agent_config = AgentConfig::new(master.url(), "127.0.0.1:0".parse().expect("addr"));
        agent_config.state_dir = Some(dir.path().join("agent"));
        agent_config.preemption_delay = preemption_delay;
        let metrics = agent_config.metrics.clone();
        let mut agent = sextant_agent::start(agent_config).await.expect("agent starts");
        tokio::time::timeout(DEADLINE, agent.wait_subscribed())
            .await
            .expect("agent subscribes to the master");
        let mut client = AgentClient::connect(agent.url()).await.expect("gRPC connects");
        let mut stream = client
            .watch_tasks(WatchTasksRequest {})
            .await
            .expect("watch")
            .into_inner();
        let (tx, tasks) = tokio::sync::watch::channel(HashMap::new());
        tokio::spawn(async move {
            while let Ok(Some(event)) = stream.message().await {
                let changed: Vec<Task> = match event.event {
                    Some(task_event::Event::Snapshot(chunk)) => chunk.tasks,
                    Some(task_event::Event::Update(task)) => vec![task],
                    _ => continue,
                };
                tx.send_modify(|all| {
                    for t in changed {
                        all.insert(t.task_id.clone(), t);
                    }
                });
            }
        });
        Cluster {
            metrics,
            master: Some(master),
            agent: Some(agent),
            client,
            tasks,
            _dir: dir,
        }
    }

    async fn launch(&mut self, app: &str, i: usize, spec: &TaskSpec) -> String {
        let task_id = format!("default.{app}.0a1b2c3d4e.{i:04}");
        let request = LaunchRequest {
            task_id: task_id.clone(),
            namespace: "default".into(),
            app: app.into(),
            revision: "0a1b2c3d4e".into(),
            spec: Some(spec.clone()),
        };
        assert!(self.client.launch(request).await.expect("launch").into_inner().created);
        task_id
    }

    /// Waits until `ok` holds of every task's latest view; returns them.
    async fn until(&self, what: &str, ok: impl Fn(&HashMap<String, Task>) -> bool) -> HashMap<String, Task> {
        let mut rx = self.tasks.clone();
        match tokio::time::timeout(DEADLINE, rx.wait_for(|t| ok(t))).await {
            Ok(Ok(tasks)) => tasks.clone(),
            _ => panic!(
                "timed out waiting for {what}: {:#?}",
                self.tasks.borrow().values().collect::<Vec<_>>()
            ),
        }
    }

    async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.shutdown().await;
        }
        if let Some(master) = self.master.take() {
            master.shutdown().await;
        }
    }
}

fn sleeper(cpus: f64) -> TaskSpec {
    TaskSpec {
        command: "exec sleep 600".into(),
        cpus,
        mem: 16.0,
        kill_grace_period_seconds: 1,
        ..TaskSpec::default()
    }
}

fn constrained(cpus: f64, constraints: &[(&str, &str, &str)]) -> TaskSpec {
    TaskSpec {
        constraints: constraints
            .iter()
            .map(|(f, o, v)| Constraint {
                field: (*f).into(),
                operator: (*o).into(),
                value: (*v).into(),
            })
            .collect(),
        ..sleeper(cpus)
    }
}

fn running_of<'a>(tasks: &'a HashMap<String, Task>, app: &str) -> Vec<&'a Task> {
    tasks
        .values()
        .filter(|t| t.app == app && t.state == TaskState::Running as i32)
        .collect()
}

fn per_host(tasks: &[&Task]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for t in tasks {
        *out.entry(t.hostname.clone()).or_default() += 1;
    }
    out
}

fn three_nodes() -> Vec<localmesos::NodeConfig> {
    vec![
        node("node-a", 2.0, &[("rack", "r1")]),
        node("node-b", 2.0, &[("rack", "r1")]),
        node("node-c", 2.0, &[("rack", "r2")]),
    ]
}

/// Guards "UNIQUE hostname means one per node" (it once ran all three on
/// one node without a word) and "why is my fourth task waiting?".
#[tokio::test]
async fn unique_hostname_runs_one_per_node_and_the_rest_wait_saying_why() {
    let mut c = Cluster::start(three_nodes(), None).await;
    let spec = constrained(0.1, &[("hostname", "UNIQUE", "")]);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(c.launch("web", i, &spec).await);
    }
    let tasks = c
        .until("three running on three nodes, the fourth waiting with why", |t| {
            running_of(t, "web").len() == 3
                && t.values()
                    .any(|t| t.state == TaskState::Pending as i32 && t.message.contains("UNIQUE"))
        })
        .await;
    let hosts = per_host(&running_of(&tasks, "web"));
    assert_eq!(hosts.len(), 3, "one per node: {hosts:?}");
    let waiting = tasks
        .values()
        .find(|t| t.state == TaskState::Pending as i32)
        .expect("one waits");
    assert_eq!(
        waiting.message,
        "waiting for an offer: constraint hostname UNIQUE: all 3 offered nodes already run web"
    );
    let queue = c
        .client
        .list_queue(ListQueueRequest {})
        .await
        .expect("queue")
        .into_inner();
    assert_eq!(queue.tasks[0].message, waiting.message, "ListQueue says the same");
    c.stop().await;
}

#[tokio::test]
async fn without_constraints_tasks_spread_and_cluster_pins_to_an_attribute() {
    let mut c = Cluster::start(three_nodes(), None).await;
    for i in 0..6 {
        c.launch("spread", i, &sleeper(0.1)).await;
    }
    for i in 0..3 {
        c.launch("pinned", i, &constrained(0.1, &[("rack", "CLUSTER", "r2")]))
            .await;
    }
    let tasks = c
        .until("all nine running", |t| {
            running_of(t, "spread").len() == 6 && running_of(t, "pinned").len() == 3
        })
        .await;
    assert_eq!(
        per_host(&running_of(&tasks, "spread")),
        BTreeMap::from([("node-a".into(), 2), ("node-b".into(), 2), ("node-c".into(), 2)])
    );
    assert_eq!(
        per_host(&running_of(&tasks, "pinned")),
        BTreeMap::from([("node-c".into(), 3)])
    );
    c.stop().await;
}

/// Guards "one big app cannot starve the others": an app queued after a
/// big one that does not all fit still gets its share of the room.
#[tokio::test]
async fn an_app_queued_after_a_big_one_is_not_starved() {
    let mut c = Cluster::start(three_nodes(), None).await;
    // The cluster is full while both apps queue, as when they are applied
    // together to a busy cluster.
    let mut holds = Vec::new();
    for i in 0..3 {
        holds.push(c.launch("hold", i, &sleeper(2.0)).await);
    }
    c.until("the cluster full", |t| running_of(t, "hold").len() == 3).await;
    for i in 0..20 {
        c.launch("big", i, &sleeper(1.0)).await;
    }
    for i in 0..2 {
        c.launch("small", i, &sleeper(1.0)).await;
    }
    for id in holds {
        let kill = sextant_proto::proto::KillRequest {
            task_id: id,
            reason: "make room".into(),
        };
        c.client.kill(kill).await.expect("kill");
    }
    // Six cpus come free: six tasks run, small's two among them.
    let tasks = c
        .until("the cluster full again", |t| {
            running_of(t, "big").len() + running_of(t, "small").len() == 6
        })
        .await;
    assert_eq!(
        running_of(&tasks, "small").len(),
        2,
        "small's two run beside big's four"
    );
    c.stop().await;
}

/// Guards Aurora's promise: production preempts preemptible, the fewest
/// victims on one node, and production tasks are never touched.
#[tokio::test]
async fn a_production_task_preempts_the_fewest_preemptible_tasks_on_one_node() {
    let nodes = vec![node("node-a", 1.0, &[]), node("node-b", 1.0, &[])];
    let mut c = Cluster::start(nodes, Some(Duration::from_secs(1))).await;
    let batch = TaskSpec {
        priority: Priority::Preemptible as i32,
        ..sleeper(0.5)
    };
    for i in 0..3 {
        c.launch("batch", i, &batch).await;
    }
    // One production task of 0.5 fills the cluster with the three batch ones.
    c.launch("web", 0, &sleeper(0.5)).await;
    c.until("the cluster full", |t| {
        running_of(t, "batch").len() == 3 && running_of(t, "web").len() == 1
    })
    .await;

    let big = c.launch("api", 0, &sleeper(1.0)).await;
    let tasks = c
        .until("the production task running", |t| {
            t.get(&big).is_some_and(|t| t.state == TaskState::Running as i32)
        })
        .await;
    let api_host = tasks[&big].hostname.clone();
    let preempted: Vec<&Task> = tasks
        .values()
        .filter(|t| t.message.starts_with("preempted by"))
        .collect();
    // node-a or node-b held two batch tasks (1 cpu): those two go; the
    // node with web and one batch task would not be freed by killing one.
    assert_eq!(preempted.len(), 2, "{preempted:#?}");
    assert!(preempted.iter().all(|t| t.app == "batch" && t.hostname == api_host));
    assert!(preempted.iter().all(|t| t.message.contains(&big)), "{preempted:#?}");
    assert!(
        running_of(&tasks, "web").len() == 1,
        "the production task was not touched"
    );
    assert_eq!(
        c.metrics.preemptions.get(),
        2,
        "sextant_preemptions_total counts the victims"
    );
    c.stop().await;
}
