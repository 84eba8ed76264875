//! The agent's gRPC is closed to strangers, over real gRPC: a token on
//! every call, no token only on loopback, a Launch whose fields disagree
//! with its task id refused, and watch streams bounded and released when
//! their caller hangs up.

use std::time::Duration;

use sextant_agent::AgentConfig;
use sextant_agent::auth::{SendToken, Token};
use sextant_agent::grpc::MAX_WATCHES;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{LaunchRequest, ListQueueRequest, TaskSpec, WatchTasksRequest};
use tonic::transport::Channel;

/// An agent whose master is a closed port: the gRPC answers all the same.
async fn agent_with(token: Option<Token>) -> sextant_agent::AgentHandle {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = AgentConfig::new(format!("http://{closed}"), "127.0.0.1:0".parse().unwrap());
    config.token = token;
    sextant_agent::start(config).await.unwrap()
}

async fn channel(agent: &sextant_agent::AgentHandle) -> Channel {
    tonic::transport::Endpoint::from_shared(agent.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_call_without_the_token_is_unauthenticated_in_words() {
    let token = Token::generate();
    let agent = agent_with(Some(token.clone())).await;
    let channel = channel(&agent).await;

    let mut stranger = AgentClient::new(channel.clone());
    let refused = stranger.list_queue(ListQueueRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("needs a token"), "{}", refused.message());
    let launch = stranger
        .launch(request("default.web.0a1b2c3d4e.a", "web"))
        .await
        .unwrap_err();
    assert_eq!(launch.code(), tonic::Code::Unauthenticated, "Launch above all");
    let watch = stranger.watch_tasks(WatchTasksRequest {}).await.unwrap_err();
    assert_eq!(watch.code(), tonic::Code::Unauthenticated);

    let wrong = Token::generate();
    let mut guesser = AgentClient::with_interceptor(channel.clone(), SendToken::new(&wrong));
    let refused = guesser.list_queue(ListQueueRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("not the agent's"), "{}", refused.message());

    let mut controller = AgentClient::with_interceptor(channel, SendToken::new(&token));
    controller
        .list_queue(ListQueueRequest {})
        .await
        .expect("the token opens the door");
    agent.shutdown().await;
}

#[tokio::test]
async fn without_a_token_the_agent_serves_loopback_only() {
    let mut config = AgentConfig::new("http://127.0.0.1:1", "0.0.0.0:0".parse().unwrap());
    config.token = None;
    let message = match sextant_agent::start(config).await {
        Ok(_) => panic!("an agent open to the network without a token started"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("0.0.0.0:0") && message.contains("--token-file"),
        "{message}"
    );

    let mut config = AgentConfig::new("http://127.0.0.1:1", "0.0.0.0:0".parse().unwrap());
    config.token = Some(Token::generate());
    sextant_agent::start(config)
        .await
        .expect("with a token it may")
        .shutdown()
        .await;
}

fn request(task_id: &str, app: &str) -> LaunchRequest {
    LaunchRequest {
        task_id: task_id.into(),
        namespace: "default".into(),
        app: app.into(),
        revision: "0a1b2c3d4e".into(),
        spec: Some(TaskSpec {
            command: "true".into(),
            cpus: 0.1,
            mem: 16.0,
            ..TaskSpec::default()
        }),
    }
}

#[tokio::test]
async fn a_launch_whose_fields_disagree_with_its_task_id_is_refused() {
    let agent = agent_with(None).await;
    let mut client = AgentClient::new(channel(&agent).await);
    let refused = client
        .launch(request("default.web.0a1b2c3d4e.a1", "db"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        refused.message(),
        "task default.web.0a1b2c3d4e.a1: app \"db\" disagrees with the task id, whose app is \"web\""
    );
    let refused = client.launch(request("not-a-sextant-id", "web")).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("four '.'-separated parts"),
        "{}",
        refused.message()
    );
    assert!(
        client
            .launch(request("default.web.0a1b2c3d4e.a2", "web"))
            .await
            .unwrap()
            .into_inner()
            .created
    );
    agent.shutdown().await;
}

/// 1,000 watch streams once grew the agent by 110 MB for good: now at most
/// `MAX_WATCHES` are open, and each is released when its caller hangs up,
/// even when no event ever comes.
/// Opens a watch, waiting (bounded) for a permit to come back.
async fn open_watch(client: &AgentClient<Channel>) -> tonic::Streaming<sextant_proto::proto::TaskEvent> {
    let wait = async {
        loop {
            let mut client = client.clone();
            match client.watch_tasks(WatchTasksRequest {}).await {
                Ok(stream) => return stream.into_inner(),
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(status) => panic!("{status:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("a permit comes back once its caller hung up")
}

#[tokio::test]
async fn watch_streams_are_bounded_and_released_when_the_caller_hangs_up() {
    let agent = agent_with(None).await;
    let client = AgentClient::new(channel(&agent).await);
    for round in 0..3 {
        let mut open = Vec::new();
        for _ in 0..MAX_WATCHES {
            open.push(open_watch(&client).await);
        }
        let mut extra = client.clone();
        let refused = extra.watch_tasks(WatchTasksRequest {}).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "round {round}");
        assert!(
            refused.message().contains(&format!("at most {MAX_WATCHES}")),
            "{}",
            refused.message()
        );
        // Hung up: no event would ever wake these streams' tasks, yet
        // the next round gets every permit back.
        drop(open);
    }
    agent.shutdown().await;
}

/// Over TLS (with the token): a client trusting the agent's CA gets in;
/// a plain-text client does not.
#[tokio::test]
async fn the_grpc_can_be_served_over_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (certified.cert.pem(), certified.signing_key.serialize_pem());
    let token = Token::generate();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = AgentConfig::new(format!("http://{closed}"), "127.0.0.1:0".parse().unwrap());
    config.token = Some(token.clone());
    config.tls = Some(sextant_agent::auth::ServerIdentity(
        tonic::transport::Identity::from_pem(&cert, &key),
    ));
    let agent = sextant_agent::start(config).await.unwrap();
    assert!(agent.url().starts_with("https://127.0.0.1:"), "{}", agent.url());

    let tls = tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(&cert));
    let channel = tonic::transport::Endpoint::from_shared(agent.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("a TLS connection to the agent");
    let mut client = AgentClient::with_interceptor(channel, SendToken::new(&token));
    client.list_queue(ListQueueRequest {}).await.expect("served over TLS");

    let plain = format!("http://{}", agent.grpc_addr());
    let refused = async {
        let channel = tonic::transport::Endpoint::from_shared(plain)
            .unwrap()
            .connect()
            .await?;
        let mut client = AgentClient::with_interceptor(channel, SendToken::new(&token));
        client
            .list_queue(ListQueueRequest {})
            .await
            .map_err(|status| Box::new(status) as Box<dyn std::error::Error>)?;
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(10), refused)
            .await
            .expect("answers in time")
            .is_err(),
        "plain text is not served"
    );
    agent.shutdown().await;
}
