//! Mesos HTTP framework authentication: what the agent sends, recorded by
//! a small master stand-in over real loopback HTTP (localmesos does not
//! check credentials): `Authorization: Basic` on SUBSCRIBE and on every
//! later call, and the principal in FrameworkInfo.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use sextant_agent::AgentConfig;

#[tokio::test]
async fn every_scheduler_call_carries_the_principal_and_secret() {
    let (master, seen, server) = common::stand_in::serve("fw-0001").await;

    let mut config = AgentConfig::new(&master, "127.0.0.1:0".parse().unwrap());
    config.credential = Some(mesos::Credential {
        principal: "sextant-prod".into(),
        secret: "s3cr3t:with-colon".into(),
    });
    let agent = sextant_agent::start(config).await.unwrap();
    // SUBSCRIBE, then what follows it (REVIVE, RECONCILE).
    let calls = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let calls = seen.lock().unwrap().clone();
            if calls.len() >= 3 {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the agent subscribes and calls");
    agent.shutdown().await;
    server.abort();

    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("sextant-prod:s3cr3t:with-colon")
    );
    let kinds: Vec<&str> = calls.iter().map(|(_, c)| c["type"].as_str().unwrap_or("?")).collect();
    assert_eq!(kinds[0], "SUBSCRIBE", "{kinds:?}");
    assert!(kinds.contains(&"REVIVE"), "REVIVE after SUBSCRIBED: {kinds:?}");
    for (authorization, call) in &calls {
        assert_eq!(authorization.as_deref(), Some(expected.as_str()), "{}", call["type"]);
    }
    assert_eq!(
        calls[0].1["subscribe"]["framework_info"]["principal"], "sextant-prod",
        "{}",
        calls[0].1
    );
}

/// Without a credential nothing is sent, and a master that wants one says
/// 401: the words say which flags to give.
#[tokio::test]
async fn a_401_names_the_flags_to_give() {
    let app = axum::Router::new().route(
        "/api/v1/scheduler",
        axum::routing::post(|| async { (StatusCode::UNAUTHORIZED, "Unauthorized") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let master = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = mesos::Client::new(&master).unwrap();
    let info = mesos::types::FrameworkInfo {
        user: "nobody".into(),
        name: "sextant".into(),
        ..mesos::types::FrameworkInfo::default()
    };
    let message = match client.subscribe(info).await {
        Ok(_) => panic!("a 401 is not a subscription"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("--principal and --secret-file"), "{message}");
    server.abort();
}
