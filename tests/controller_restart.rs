//! `kill -9` of the controller in the middle of a rollout, at five
//! different moments: each time the restarted controller continues the
//! rollout from what it observes, it completes, and the surge and
//! availability bounds hold throughout (sampled from the Mesos master's own
//! view, which the controller cannot fake).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    Process, agent_args, controller_args, free_addr, get_json, http_app, local_mesos_args, log_tail, spawn_sextant,
    strs, try_live_in_mesos, wait_within_logs,
};

const INSTANCES: usize = 3;

fn manifest(version: u32) -> String {
    http_app(
        "web",
        INSTANCES as u32,
        &format!("v{version}"),
        "/",
        "{maxSurge: 1, maxUnavailable: 0, minReadySeconds: 1}",
    )
}

/// What the master says of the app's tasks: how many are live, how many
/// RUNNING and healthy, and the live ones' ids; `None` without an answer.
struct Sample {
    live: usize,
    healthy: usize,
    live_ids: Vec<String>,
}

fn sample(mesos: &str) -> Option<Sample> {
    let tasks = try_live_in_mesos(mesos, "web")?;
    Some(Sample {
        live: tasks.len(),
        healthy: tasks
            .iter()
            .filter(|t| t.state == "TASK_RUNNING" && t.healthy == Some(true))
            .count(),
        live_ids: tasks.into_iter().map(|t| t.id).collect(),
    })
}

/// The revision the controller says the app's spec has.
fn revision(api: &str) -> Option<String> {
    get_json(&format!("{api}/api/v1/apps/default/web"))?["revision"]
        .as_str()
        .map(str::to_string)
}

fn settled(mesos: &str, rev: &str) -> bool {
    sample(mesos).is_some_and(|s| {
        s.live == INSTANCES && s.healthy == INSTANCES && s.live_ids.iter().all(|id| id.contains(&format!(".{rev}.")))
    })
}

#[test]
fn a_rollout_survives_kill_9_of_the_controller_five_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("manifests dir");
    std::fs::write(manifests.join("web.yaml"), manifest(0)).expect("manifest");
    let (mesos_addr, agent_addr, api_addr) = (free_addr(), free_addr(), free_addr());
    let mesos = format!("http://{mesos_addr}");
    let api = format!("http://{api_addr}");
    let work = dir.path().join("mesos");
    let _mesos = Process::spawn(
        &strs(&local_mesos_args(mesos_addr, &work)),
        &dir.path().join("mesos.log"),
    );
    let agent_data = dir.path().join("agent");
    let _agent = Process::spawn(
        &strs(&agent_args(mesos_addr, agent_addr, &agent_data)),
        &dir.path().join("agent.log"),
    );
    let controller_args = controller_args(&manifests, agent_addr, api_addr, &dir.path().join("controller"));
    let controller_args = strs(&controller_args);
    let log = |i: usize| dir.path().join(format!("controller-{i}.log"));
    let mut controller = spawn_sextant(&controller_args, &log(0));

    let logs = [dir.path().join("mesos.log"), dir.path().join("agent.log")];
    let logs: Vec<&std::path::Path> = logs.iter().map(|p| p.as_path()).collect();
    wait_within_logs("the first revision to be up", Duration::from_secs(60), &logs, || {
        revision(&api).is_some_and(|r| settled(&mesos, &r))
    });

    // Sample the master's view every 200 ms for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let sampler = {
        let (stop, violations, mesos) = (Arc::clone(&stop), Arc::clone(&violations), mesos.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(s) = sample(&mesos) {
                    let mut v = violations.lock().unwrap_or_else(|e| e.into_inner());
                    if s.live > INSTANCES + 1 {
                        v.push(format!(
                            "{} live tasks, more than instances + maxSurge: {:?}",
                            s.live, s.live_ids
                        ));
                    }
                    if s.healthy < INSTANCES {
                        v.push(format!(
                            "{} healthy tasks, fewer than instances - maxUnavailable: {:?}",
                            s.healthy, s.live_ids
                        ));
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let moments = [300u64, 1500, 3000, 5000, 7000];
    for (i, delay) in moments.iter().enumerate() {
        let version = i as u32 + 1;
        let before = revision(&api).expect("a revision");
        std::fs::write(manifests.join("web.yaml"), manifest(version)).expect("manifest");
        wait_within_logs("the new revision to be seen", Duration::from_secs(20), &logs, || {
            revision(&api).is_some_and(|r| r != before)
        });
        let target = revision(&api).expect("a revision");
        std::thread::sleep(Duration::from_millis(*delay));
        // kill -9: no cleanup, no journal flush.
        controller.kill().expect("kill -9 the controller");
        let _ = controller.wait();
        std::thread::sleep(Duration::from_millis(500));
        controller = spawn_sextant(&controller_args, &log(i + 1));
        let outcome = || {
            get_json(&format!("{api}/api/v1/apps/default/web")).and_then(|detail| {
                detail["revisions"]
                    .as_array()?
                    .iter()
                    .find(|x| x["revision"] == target.as_str())
                    .map(|r| r["outcome"].clone())
            })
        };
        let restarted = log(i + 1);
        wait_within_logs(
            &format!("rollout {version} (killed after {delay} ms) to complete after the restart"),
            Duration::from_secs(90),
            &[&restarted],
            || settled(&mesos, &target) && outcome() == Some(serde_json::json!("Completed")),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let violations = violations.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        violations.is_empty(),
        "the bounds did not hold:\n{}\nlast controller log:\n{}",
        violations.join("\n"),
        log_tail(&log(moments.len()), 80)
    );

    let _ = controller.kill();
    let _ = controller.wait();
}
