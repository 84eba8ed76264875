//! `sextant agent` as a process: what its log and its exit say when the
//! master is unreachable, when its framework id is corrupt, and when
//! another scheduler takes its framework over.

mod common;

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::{Process, agent_args, free_addr, get_json, local_mesos_args, strs};
use nix::sys::signal::Signal;

fn strs_owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Waits (bounded) for the process to exit on its own.
fn exit_of(process: &mut Process, within: Duration) -> Option<ExitStatus> {
    let child = process.0.as_mut()?;
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn an_unreachable_master_is_logged_as_refused_not_as_a_lost_subscription() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (closed, grpc) = (free_addr(), free_addr());
    let log = dir.path().join("agent.log");
    let mut agent = Process::spawn(&strs(&agent_args(closed, grpc, &dir.path().join("agent"))), &log);
    std::thread::sleep(Duration::from_secs(2));
    agent.stop_with(Signal::SIGINT);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("cannot subscribe to Mesos"), "{text}");
    assert!(
        text.contains(&format!(
            "cannot reach the Mesos master at http://{closed}: connection refused"
        )),
        "{text}"
    );
    assert!(!text.contains("subscription lost"), "there never was one: {text}");
    assert!(!text.contains("error sending request"), "{text}");
}

#[test]
fn a_corrupt_framework_id_stops_the_agent_at_start_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("agent");
    std::fs::create_dir_all(&data).expect("data dir");
    let file = data.join("framework-id");
    std::fs::write(&file, vec![b'x'; 10 * 1024]).expect("write");
    let log = dir.path().join("agent.log");
    let mut agent = Process::spawn(&strs(&agent_args(free_addr(), free_addr(), &data)), &log);
    let status = exit_of(&mut agent, Duration::from_secs(20)).expect("the agent exits");
    assert!(!status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains(&format!(
            "error: cannot start the agent: the framework id in {}",
            file.display()
        )),
        "{text}"
    );
    assert!(text.contains("10240 bytes long"), "{text}");
}

#[test]
fn a_takeover_of_the_framework_makes_the_agent_exit_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mesos, grpc) = (free_addr(), free_addr());
    let _master = Process::spawn(
        &strs(&local_mesos_args(mesos, &dir.path().join("mesos"))),
        &dir.path().join("mesos.log"),
    );
    let log = dir.path().join("agent.log");
    let mut agent = Process::spawn(&strs(&agent_args(mesos, grpc, &dir.path().join("agent"))), &log);
    let start = Instant::now();
    let framework_id = loop {
        let id = get_json(&format!("http://{mesos}/master/state")).and_then(|state| {
            let framework = state["frameworks"]
                .as_array()?
                .iter()
                .find(|f| f["active"] == true)?
                .clone();
            Some(framework["id"].as_str()?.to_string())
        });
        if let Some(id) = id {
            break id;
        }
        assert!(start.elapsed() < common::DEADLINE, "the agent never subscribed");
        std::thread::sleep(Duration::from_millis(100));
    };

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _intruder = runtime.block_on(async {
        let client = mesos::Client::new(&format!("http://{mesos}")).expect("client");
        let info = mesos::types::FrameworkInfo {
            user: "nobody".into(),
            name: "intruder".into(),
            id: Some(mesos::types::FrameworkId::new(framework_id.clone())),
            failover_timeout: Some(60.0),
            ..mesos::types::FrameworkInfo::default()
        };
        client.subscribe(info).await.expect("the intruder subscribes")
    });
    let status = exit_of(&mut agent, common::DEADLINE).expect("the agent exits on its own");
    assert!(!status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("error: the agent stopped: Framework failed over"),
        "{text}"
    );
    assert!(text.contains(&framework_id), "{text}");
}

/// The agent with `--token-file` and TLS, and the controller with
/// `--agent-token-file` and `--agent-ca-cert`, work together; a caller
/// without the token is refused in words, even over TLS.
#[test]
fn the_controller_reaches_an_agent_that_needs_a_token_over_tls_and_strangers_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("manifests dir");
    std::fs::write(
        manifests.join("app.yaml"),
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: guarded\nspec:\n  instances: 1\n  command: \"exec sleep 3600\"\n  resources: {cpus: 0.1, mem: 16}\n",
    )
    .expect("write manifest");
    let token_file = dir.path().join("agent-token");
    std::fs::write(&token_file, "a-token-only-the-two-know\n").expect("token");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let (cert, key) = (dir.path().join("agent.pem"), dir.path().join("agent.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let (mesos, grpc, api) = (free_addr(), free_addr(), free_addr());
    let _master = Process::spawn(
        &strs(&local_mesos_args(mesos, &dir.path().join("mesos"))),
        &dir.path().join("mesos.log"),
    );
    let mut agent = agent_args(mesos, grpc, &dir.path().join("agent"));
    agent.extend(strs_owned(&[
        "--token-file",
        &token_file.display().to_string(),
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
    ]));
    let _agent = Process::spawn(&strs(&agent), &dir.path().join("agent.log"));
    let mut controller = common::controller_args(&manifests, grpc, api, &dir.path().join("controller"));
    // The agent is https now.
    for arg in controller.iter_mut().filter(|a| **a == format!("http://{grpc}")) {
        *arg = format!("https://{grpc}");
    }
    controller.extend(strs_owned(&[
        "--agent-token-file",
        &token_file.display().to_string(),
        "--agent-ca-cert",
        &cert.display().to_string(),
    ]));
    let _controller = Process::spawn(&strs(&controller), &dir.path().join("controller.log"));

    let start = Instant::now();
    while common::running_in_mesos(&format!("http://{mesos}"), "guarded").len() != 1 {
        assert!(
            start.elapsed() < common::DEADLINE,
            "the app never ran; controller log:\n{}",
            std::fs::read_to_string(dir.path().join("controller.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let refused = runtime.block_on(async {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(certified.cert.pem()));
        let channel = tonic::transport::Endpoint::from_shared(format!("https://{grpc}"))
            .expect("endpoint")
            .tls_config(tls)
            .expect("tls")
            .connect()
            .await
            .expect("connects over TLS");
        let mut stranger = sextant_api::proto::agent_client::AgentClient::new(channel);
        stranger
            .kill(sextant_api::proto::KillRequest {
                task_id: "default.guarded.0a1b2c3d4e.x".into(),
                reason: "attack".into(),
            })
            .await
            .expect_err("no token, no kill")
    });
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("needs a token"), "{}", refused.message());
}

/// Under `sextant up`, a takeover stops everything (controller, agent,
/// master and its tasks) and `sextant up` exits non-zero, saying why.
#[test]
fn sextant_up_stops_as_a_whole_when_its_framework_is_taken_over() {
    let mut up = common::Up::start();
    up.write_app("web.yaml", "web", 1);
    let pid = up.wait_for_task_pids(1)[0];
    let state = get_json(&format!("{}/master/state", up.mesos)).expect("master state");
    let framework_id = state["frameworks"][0]["id"].as_str().expect("a framework").to_string();

    // `sextant up`'s master authenticates frameworks: the intruder holds
    // the credential `up` wrote for its operator.
    let credentials: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(up.dir.path().join("data").join("mesos-credentials.json"))
            .expect("up's credentials file"),
    )
    .expect("JSON credentials");
    let credential = mesos::Credential {
        principal: credentials["credentials"][0]["principal"]
            .as_str()
            .expect("principal")
            .to_string(),
        secret: credentials["credentials"][0]["secret"]
            .as_str()
            .expect("secret")
            .to_string(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _intruder = runtime.block_on(async {
        let client = mesos::Client::new(&up.mesos)
            .expect("client")
            .with_credential(&credential);
        let info = mesos::types::FrameworkInfo {
            user: "nobody".into(),
            name: "intruder".into(),
            id: Some(mesos::types::FrameworkId::new(framework_id.clone())),
            failover_timeout: Some(60.0),
            ..mesos::types::FrameworkInfo::default()
        };
        client.subscribe(info).await.expect("the intruder subscribes")
    });
    let mut child = up.child.take().expect("sextant up");
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        assert!(start.elapsed() < common::DEADLINE, "sextant up kept running");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "{status:?}");
    let log = std::fs::read_to_string(up.dir.path().join("sextant.log")).expect("log");
    assert!(log.contains("error: the agent stopped: Framework failed over"), "{log}");
    assert!(!common::alive(pid), "its task stopped with it");
}

/// Guards the flags of an authenticating `sextant local-mesos`: with
/// `--authenticate-frameworks --authenticate-http-readwrite --credentials`
/// (Mesos' text format) a stranger's SUBSCRIBE and teardown get 401, and
/// `sextant agent --principal --secret-file` registers as that principal;
/// without `--credentials` the master refuses to start, naming the flag.
#[test]
fn an_authenticating_local_mesos_takes_an_agent_with_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "a-long-enough-secret-0123456789";
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, format!("agent-principal {secret}\n")).expect("write credentials");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).expect("write secret");

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(strs(&local_mesos_args(free_addr(), &dir.path().join("nothing"))))
        .arg("--authenticate-frameworks")
        .output()
        .expect("run local-mesos");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--authenticate-frameworks needs credentials"), "{said}");

    let (mesos, grpc) = (free_addr(), free_addr());
    let mut master_args = local_mesos_args(mesos, &dir.path().join("mesos"));
    master_args.extend([
        "--authenticate-frameworks".to_string(),
        "--authenticate-http-readwrite".to_string(),
        "--credentials".to_string(),
        credentials.display().to_string(),
    ]);
    let _master = Process::spawn(&strs(&master_args), &dir.path().join("mesos.log"));
    let mut agent = agent_args(mesos, grpc, &dir.path().join("agent"));
    agent.extend([
        "--principal".to_string(),
        "agent-principal".to_string(),
        "--secret-file".to_string(),
        secret_file.display().to_string(),
    ]);
    let _agent = Process::spawn(&strs(&agent), &dir.path().join("agent.log"));
    let start = Instant::now();
    loop {
        let principal = get_json(&format!("http://{mesos}/master/state")).and_then(|state| {
            let framework = state["frameworks"]
                .as_array()?
                .iter()
                .find(|f| f["active"] == true)?
                .clone();
            Some(framework["principal"].as_str()?.to_string())
        });
        if let Some(principal) = principal {
            assert_eq!(principal, "agent-principal");
            break;
        }
        assert!(start.elapsed() < common::DEADLINE, "the agent never subscribed");
        std::thread::sleep(Duration::from_millis(100));
    }

    let subscribe = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"x","name":"stranger"}}}"#;
    let (status, _) = common::post(
        &format!("http://{mesos}/api/v1/scheduler"),
        "application/json",
        subscribe,
        None,
    );
    assert_eq!(status, 401);
    let (status, challenge) = common::post(
        &format!("http://{mesos}/master/teardown"),
        "application/x-www-form-urlencoded",
        "frameworkId=x",
        None,
    );
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Basic realm=\"mesos-master-readwrite\""));
}
