//! For the API's tests: the whole API (`http::api`) served on a loopback
//! port over a journal in a temporary directory, with one git trigger and
//! a webhook secret, so every route answers as in production.

use std::sync::Arc;

use tokio::sync::Notify;

use super::auth::Tokens;
use super::write::Writes;
use crate::index::Index;
use crate::metrics::Metrics;
use crate::source::sync::Configured;
use crate::store::Store;

/// The webhook secret of the served API.
pub const WEBHOOK_SECRET: &[u8] = b"s3cret";

/// What a test may set; the rest is the default.
#[derive(Default)]
pub struct Options {
    /// Bearer tokens.
    pub tokens: Option<Tokens>,
    /// The index the reads come from.
    pub index: Index,
    /// The metrics.
    pub metrics: Metrics,
}

/// A served API: its base URL, and the journal's directory (kept alive).
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The journal's directory.
    pub dir: tempfile::TempDir,
}

/// Serves the whole API with `options`.
pub async fn serve(options: Options) -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let writes = Writes {
        store: Store::open(dir.path()).expect("store"),
        configured: Configured::default(),
        git_triggers: vec![Arc::new(Notify::new())],
        webhook_secret: Some(Arc::new(WEBHOOK_SECRET.to_vec())),
    };
    let router = super::api(
        options.index,
        writes,
        crate::events::Events::default(),
        options.tokens,
        options.metrics,
        crate::agent_link::unreachable_client(),
    );
    Served {
        base: serve_router(router).await,
        dir,
    }
}

/// Serves `router` on a loopback port; its base URL.
pub async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// A desired app `ns/name` of `instances` (`sleep 1`) from `dir:/m`'s
/// `x.yaml` line 3, first seen at a fixed time.
pub fn desired(ns: &str, name: &str, instances: u32) -> crate::desired::DesiredApp {
    let spec: sextant_api::AppSpec =
        serde_json::from_value(serde_json::json!({"instances": instances, "command": "sleep 1"})).expect("spec");
    let mut app = sextant_api::App::new(name, spec);
    app.metadata.namespace = Some(ns.into());
    let mut d = crate::desired::DesiredApp::new(app, "dir:/m", Some("/m/x.yaml".into()), Some(3));
    d.created_at = 1_700_000_000.0;
    d
}

/// A task of `d`'s revision in `state`.
pub fn task(
    d: &crate::desired::DesiredApp,
    unique: &str,
    state: crate::observed::TaskState,
) -> crate::observed::ObservedTask {
    crate::observed::ObservedTask::from(sextant_api::proto::Task {
        task_id: format!("{}.{}.{}.{unique}", d.namespace(), d.name(), d.revision),
        namespace: d.namespace().into(),
        app: d.name().into(),
        revision: d.revision.clone(),
        state: state as i32,
        created_at: 1_700_000_000.0,
        updated_at: 1_700_000_001.0,
        ..Default::default()
    })
}
