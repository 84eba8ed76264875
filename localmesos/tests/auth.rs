//! Mesos' HTTP authentication on localmesos: with
//! `authenticate_frameworks` every scheduler call needs HTTP Basic
//! credentials of a principal in the credentials, and FrameworkInfo's
//! principal must be that principal; with `authenticate_http_readwrite`
//! the endpoints that change state (teardown, faults) need them too.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use localmesos::{AuthConfig, Credential};

const PRINCIPAL: &str = "ops";
const SECRET: &str = "s3cret-s3cret";
/// A second principal, with the same secret.
const OTHER: &str = "intruder";

async fn start_authenticated() -> TestMaster {
    start_with(|config| {
        config.auth = AuthConfig {
            credentials: vec![
                Credential {
                    principal: PRINCIPAL.to_string(),
                    secret: SECRET.to_string(),
                },
                Credential {
                    principal: OTHER.to_string(),
                    secret: SECRET.to_string(),
                },
            ],
            authenticate_frameworks: true,
            authenticate_http_readwrite: true,
        };
    })
    .await
}

fn basic(principal: &str, secret: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{principal}:{secret}")))
}

fn credential() -> mesos::Credential {
    mesos::Credential {
        principal: PRINCIPAL.to_string(),
        secret: SECRET.to_string(),
    }
}

/// Guards: SUBSCRIBE without credentials, with a wrong secret or an
/// unknown principal is `401` with the scheduler realm's Basic challenge;
/// with the right credentials it subscribes, and the principal is recorded
/// even when FrameworkInfo leaves it out.
#[tokio::test]
async fn subscribe_needs_credentials() {
    let master = start_authenticated().await;
    let body = subscribe_body("web", "");
    for authorization in [None, Some(basic(PRINCIPAL, "wrong")), Some(basic("nobody", SECRET))] {
        let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
        let response = post_call(master.addr(), &headers, &body).await;
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some("Basic realm=\"mesos-master-scheduler\"")
        );
    }

    let client = mesos::Client::new(&master.url())
        .expect("client")
        .with_credential(&credential());
    let mut info = framework_info("web");
    info.principal = None;
    let subscription = client.subscribe(info).await.expect("subscribed with credentials");
    let frameworks = raw(master.addr(), "GET", "/master/frameworks", &[], "").await;
    let state: serde_json::Value = serde_json::from_str(&frameworks.text()).expect("JSON");
    assert_eq!(state["frameworks"][0]["principal"], PRINCIPAL, "{state}");
    drop(subscription);
}

/// Guards: a FrameworkInfo naming another principal than the
/// authenticated one is refused with `400` and Mesos' text; a call from
/// the framework's principal is accepted, and another principal cannot
/// take the framework over by re-subscribing its id (ERROR event).
#[tokio::test]
async fn framework_principal_must_match() {
    let master = start_authenticated().await;
    let body = subscribe_body("web", r#","principal":"someone-else""#);
    let authorization = basic(PRINCIPAL, SECRET);
    let response = post_call(master.addr(), &[("Authorization", &authorization)], &body).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text(),
        "Authenticated principal 'ops' does not match principal 'someone-else' set in `FrameworkInfo`"
    );

    let client = mesos::Client::new(&master.url())
        .expect("client")
        .with_credential(&credential());
    let mut info = framework_info("web");
    info.principal = Some(PRINCIPAL.to_string());
    let subscription = client.subscribe(info).await.expect("subscribed");
    subscription
        .caller
        .revive()
        .await
        .expect("a call with the same credentials is accepted");

    // Nor can the framework change its principal with UPDATE_FRAMEWORK.
    let fid = subscription.caller.framework_id().value.clone();
    let update = format!(
        r#"{{"type":"UPDATE_FRAMEWORK","framework_id":{{"value":"{fid}"}},"update_framework":{{"framework_info":{{"user":"tester","name":"web","id":{{"value":"{fid}"}},"principal":"{OTHER}"}}}}}}"#
    );
    let stream_id = subscription.caller.stream_id().to_string();
    let response = post_call(
        master.addr(),
        &[("Authorization", &authorization), ("Mesos-Stream-Id", &stream_id)],
        &update,
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.text(), "Changing framework's principal is not allowed.");

    let intruder = mesos::Client::new(&master.url())
        .expect("client")
        .with_credential(&mesos::Credential {
            principal: OTHER.to_string(),
            secret: SECRET.to_string(),
        });
    let mut takeover = framework_info("web");
    takeover.id = Some(subscription.caller.framework_id().clone());
    takeover.principal = Some(OTHER.to_string());
    let refused = intruder.subscribe(takeover).await.err().expect("refused");
    assert!(
        refused
            .to_string()
            .contains("Changing framework's principal is not allowed."),
        "{refused}"
    );
    drop(subscription);
}

/// Guards: `/master/teardown` and `/fault/*` need credentials (`401`
/// with the read-write realm's challenge) and work with them; the
/// read-only endpoints stay open.
#[tokio::test]
async fn readwrite_endpoints_need_credentials() {
    let master = start_authenticated().await;
    let client = mesos::Client::new(&master.url())
        .expect("client")
        .with_credential(&credential());
    let subscription = client.subscribe(framework_info("victim")).await.expect("subscribed");
    let framework_id = subscription.caller.framework_id().value.clone();
    let form = format!("frameworkId={framework_id}");
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");

    for path in ["/master/teardown", "/teardown"] {
        let response = raw(master.addr(), "POST", path, &[form_type], &form).await;
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some("Basic realm=\"mesos-master-readwrite\"")
        );
    }
    let wrong = basic(PRINCIPAL, "nope");
    let response = raw(
        master.addr(),
        "POST",
        "/fault/partition",
        &[form_type, ("Authorization", &wrong)],
        "node=localhost",
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(raw(master.addr(), "GET", "/master/state", &[], "").await.status(), 200);

    let right = basic(PRINCIPAL, SECRET);
    let response = raw(
        master.addr(),
        "POST",
        "/master/teardown",
        &[form_type, ("Authorization", &right)],
        &form,
    )
    .await;
    assert_eq!(response.status(), 200, "{}", response.text());
    drop(subscription);
}

/// Guards: turning authentication on without credentials is refused at
/// start, naming the flag.
#[tokio::test]
async fn authentication_without_credentials_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&dir);
    config.auth.authenticate_http_readwrite = true;
    let error = localmesos::start(config).await.err().expect("refused");
    assert!(
        error
            .to_string()
            .contains("--authenticate-http-readwrite needs credentials"),
        "{error}"
    );
}
