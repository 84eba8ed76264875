//! Access control over the whole API, through real HTTP: every write
//! route refuses missing and wrong tokens; reads, probes, the webhook and
//! hidden env values.

use std::path::Path;

use std::sync::Arc;

use super::ErrorBody;
use crate::http::auth::Tokens;
use crate::index::Index;

const TOKENS: &str = "tokens:\n  - {name: ci, token: write-token-0123456789, role: write}\n  - {name: dash, token: read-token-0123456789, role: read}\n";

/// Every route that changes something, from the OpenAPI document's list
/// (the webhook has its own signature), with its parameters filled in: a
/// new write route is covered without being listed here.
fn writes() -> Vec<(&'static str, String)> {
    let routes: Vec<(&'static str, String)> = super::openapi::ENDPOINTS
        .iter()
        .filter(|e| e.access == super::openapi::Access::Write)
        .map(|e| (e.method, super::openapi::example_path(e.path)))
        .collect();
    assert!(
        routes.len() >= 5,
        "apply, diff, delete, scale and sync at least: {routes:?}"
    );
    routes
}

async fn serve(anonymous_read: bool) -> (String, Index, tempfile::TempDir) {
    let tokens = Tokens::parse(Path::new("tokens.yaml"), TOKENS, anonymous_read).expect("tokens");
    let index = Index::default();
    let served = super::test_api::serve(super::test_api::Options {
        tokens: Some(tokens),
        index: index.clone(),
        ..Default::default()
    })
    .await;
    (served.base, index, served.dir)
}

async fn call(base: &str, method: &str, path: &str, token: Option<&str>) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .body("x");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request").status().as_u16()
}

/// Guards access control: no write route answers without a write token.
#[tokio::test]
async fn wrong_and_missing_tokens_are_refused_on_every_write_route() {
    let (base, _index, _dir) = serve(false).await;
    for (method, path) in writes() {
        let path = path.as_str();
        assert_eq!(
            call(&base, method, path, None).await,
            401,
            "{method} {path} without a token"
        );
        assert_eq!(
            call(&base, method, path, Some("guess-guess-guess-guess")).await,
            401,
            "{method} {path}"
        );
        assert_eq!(
            call(&base, method, path, Some("read-token-0123456789")).await,
            403,
            "{method} {path}"
        );
        assert_ne!(
            call(&base, method, path, Some("write-token-0123456789")).await,
            401,
            "{method} {path} with a write token"
        );
    }
    // Reads need a token too, unless anonymous reads are allowed.
    assert_eq!(call(&base, "GET", "/api/v1/apps", None).await, 401);
    assert_eq!(
        call(&base, "GET", "/api/v1/apps", Some("read-token-0123456789")).await,
        200
    );
    // The metrics are reads like the rest.
    for path in ["/metrics", "/vars", "/vars.json", "/vars?format=json"] {
        assert_eq!(call(&base, "GET", path, None).await, 401, "{path} without a token");
        assert_eq!(
            call(&base, "GET", path, Some("read-token-0123456789")).await,
            200,
            "{path} with a read token"
        );
    }
    // Task logs are reads like the others.
    let logs = "/api/v1/apps/default/web/logs";
    assert_eq!(call(&base, "GET", logs, None).await, 401);
    assert_eq!(
        call(&base, "GET", logs, Some("read-token-0123456789")).await,
        404,
        "read, and no such app"
    );
    assert_eq!(call(&base, "GET", "/healthz", None).await, 200, "probes need no token");
    // The webhook keeps its own signature: no bearer token, still 401 for a bad signature.
    assert_eq!(call(&base, "POST", "/api/v1/hooks/git", None).await, 401);
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/apply"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer realm=\"sextant\""[..])
    );
    let e: ErrorBody = resp.json().await.expect("json");
    assert_eq!(e.code, super::ErrorCode::Unauthorized);
    assert!(e.message.contains("SEXTANT_TOKEN"), "{}", e.message);
}

#[tokio::test]
async fn anonymous_reads_and_hidden_env_values() {
    let (base, index, _dir) = serve(true).await;
    assert_eq!(call(&base, "GET", "/api/v1/apps", None).await, 200);
    assert_eq!(call(&base, "GET", "/metrics", None).await, 200, "--anonymous-read");
    assert_eq!(call(&base, "GET", "/vars", None).await, 200, "--anonymous-read");
    assert_eq!(
        call(&base, "POST", "/api/v1/apply", None).await,
        401,
        "writes still need a token"
    );

    let app: sextant_api::App = serde_yaml::from_str(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web, namespace: default}\nspec: {instances: 1, command: x, env: {PASSWORD: hunter2}}\n",
    )
    .expect("app");
    let d = crate::desired::DesiredApp::new(app, "apply", None, None);
    index.write(|s| {
        s.apps.insert(d.key(), Arc::new(d.clone()));
    });
    let get = |token: Option<&'static str>| {
        let base = base.clone();
        async move {
            let mut req = reqwest::Client::new().get(format!("{base}/api/v1/apps/default/web"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.expect("get").text().await.expect("body")
        }
    };
    let anonymous = get(None).await;
    assert!(
        !anonymous.contains("hunter2") && anonymous.contains("hidden"),
        "{anonymous}"
    );
    let reader = get(Some("read-token-0123456789")).await;
    assert!(!reader.contains("hunter2"), "{reader}");
    let writer = get(Some("write-token-0123456789")).await;
    assert!(writer.contains("hunter2"), "{writer}");
}
