//! The metrics endpoints over loopback HTTP: the API's router serving the
//! registry, requests counted by route template, the index's figures at
//! each scrape, and `/vars` agreeing with `/metrics`.

use std::collections::BTreeMap;

use sextant_api::AppStatus;
use sextant_api::app::Condition;

use super::*;
use crate::desired::DesiredApp;
use crate::index::Index;
use crate::observed::TaskState;
use crate::store::SourceStatus;

fn desired(name: &str) -> DesiredApp {
    crate::http::test_api::desired("default", name, 2)
}

use crate::http::test_api::task;

fn condition(type_: &str, status: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: None,
        message: None,
    }
}

/// An index with one app, its tasks (two running, one pending), its
/// status, and one source.
fn index() -> Index {
    let index = Index::default();
    let web = desired("web");
    index.write(|s| {
        s.tasks.insert(
            web.key(),
            Arc::new(vec![
                task(&web, "a", TaskState::Running),
                task(&web, "b", TaskState::Running),
                task(&web, "c", TaskState::Pending),
            ]),
        );
        s.statuses.insert(
            web.key(),
            Arc::new(AppStatus {
                conditions: vec![condition("Available", "True"), condition("Synced", "False")],
                ..Default::default()
            }),
        );
        s.apps.insert(web.key(), Arc::new(web));
        s.sources.insert(
            "dir:/m".into(),
            SourceStatus {
                name: "dir:/m".into(),
                kind: "dir".into(),
                apps: 1,
                last_success_at: Some(1_700_000_000.5),
                ..Default::default()
            },
        );
    });
    index
}

async fn serve(index: Index, metrics: Metrics) -> (String, tempfile::TempDir) {
    let served = crate::http::test_api::serve(crate::http::test_api::Options {
        index,
        metrics,
        ..Default::default()
    })
    .await;
    (served.base, served.dir)
}

async fn text(http: &reqwest::Client, url: String) -> (String, String) {
    let resp = http.get(url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (content_type, resp.text().await.expect("body"))
}

/// The value of `sample` (name and labels, as written) in a scrape.
fn sample(scrape: &str, sample: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// `name value` lines of `/vars`.
fn parse_vars(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

const APP_404: &str =
    "sextant_http_requests_total{method=\"GET\",route=\"/api/v1/apps/{namespace}/{name}\",code=\"404\"}";

/// Guards the metrics endpoints: one registry behind `/metrics`, `/vars`
/// and `/vars.json`; requests counted by route template and code; the
/// index's figures read at each scrape.
#[tokio::test]
async fn metrics_and_vars_serve_one_registry_and_count_requests_by_route() {
    let index = index();
    let metrics = Metrics::default();
    metrics.watch_index(index.clone());
    metrics.hooks().declare("pager");
    metrics.hooks().count("pager", "delivered");
    let (base, _dir) = serve(index.clone(), metrics).await;
    let http = reqwest::Client::new();

    let missing = http
        .get(format!("{base}/api/v1/apps/default/missing"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    let nowhere = http.get(format!("{base}/no/such/path")).send().await.expect("request");
    assert_eq!(nowhere.status(), 404);

    let (content_type, scrape) = text(&http, format!("{base}/metrics")).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(sample(&scrape, APP_404), Some(1.0), "{scrape}");
    assert!(
        !scrape.contains("/default/missing"),
        "the template, never the path: {scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "sextant_http_requests_total{method=\"GET\",route=\"unmatched\",code=\"404\"}"
        ),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "sextant_tasks{state=\"TASK_RUNNING\"}"),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "sextant_tasks{state=\"PENDING\"}"), Some(1.0));
    assert_eq!(sample(&scrape, "sextant_tasks{state=\"TASK_FAILED\"}"), Some(0.0));
    assert_eq!(
        sample(&scrape, "sextant_app_conditions{type=\"Synced\",status=\"False\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&scrape, "sextant_apps_out_of_sync"), Some(1.0));
    assert_eq!(sample(&scrape, "sextant_source_apps{source=\"dir:/m\"}"), Some(1.0));
    assert_eq!(
        sample(
            &scrape,
            "sextant_source_last_success_timestamp_seconds{source=\"dir:/m\"}"
        ),
        Some(1_700_000_000.5)
    );
    assert_eq!(
        sample(
            &scrape,
            "sextant_hook_deliveries_total{hook=\"pager\",result=\"delivered\"}"
        ),
        Some(1.0)
    );
    assert!(sample(&scrape, "sextant_process_uptime_seconds").is_some(), "{scrape}");

    // Prometheus asks for OpenMetrics.
    let resp = http
        .get(format!("{base}/metrics"))
        .header(
            header::ACCEPT,
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(exposition::OPENMETRICS.as_bytes())
    );
    let openmetrics = resp.text().await.expect("body");
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    assert!(openmetrics.contains("# TYPE sextant_source info"), "{openmetrics}");

    // Another miss, and the index changes: the next scrape shows both.
    let missing = http
        .get(format!("{base}/api/v1/apps/default/other"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    let web = desired("web");
    index.write(|s| {
        s.tasks.insert(
            web.key(),
            Arc::new(vec![
                task(&web, "a", TaskState::Running),
                task(&web, "b", TaskState::Running),
                task(&web, "c", TaskState::Running),
            ]),
        );
    });

    let (content_type, vars) = text(&http, format!("{base}/vars")).await;
    assert_eq!(content_type, "text/plain; charset=utf-8");
    let lines: Vec<&str> = vars.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "sorted by name");
    let vars = parse_vars(&vars);
    assert_eq!(vars.get("sextant_tasks_TASK_RUNNING"), Some(&3.0), "{vars:?}");
    assert_eq!(vars.get("sextant_tasks_PENDING"), Some(&0.0));
    assert_eq!(
        vars.get("sextant_http_requests_total_GET_api_v1_apps_namespace_name_404"),
        Some(&2.0)
    );
    assert_eq!(vars.get("sextant_hook_deliveries_total_pager_delivered"), Some(&1.0));
    assert!(
        vars.keys().all(|k| !k.contains("_bucket")),
        "no histogram buckets in /vars"
    );

    for url in [format!("{base}/vars.json"), format!("{base}/vars?format=json")] {
        let json: serde_json::Value = http.get(url).send().await.expect("request").json().await.expect("json");
        assert_eq!(json["sextant_tasks_TASK_RUNNING"], serde_json::json!(3));
        assert_eq!(json["sextant_apps"], serde_json::json!(1));
        let counted = json["sextant_http_requests_total_GET_vars_200"]
            .as_f64()
            .expect("the /vars request counted");
        assert!(counted >= 1.0);
    }
}

/// Guards `--metrics-addr`: a registry served alone, without the API.
#[tokio::test]
async fn a_registry_is_served_alone() {
    let mut registry = Registry::default();
    let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
    registry.register("sextant_offers_received", "Offers", counter.clone());
    counter.inc_by(3);
    let server = serve_alone(registry).await;
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    let (_, scrape) = text(&http, format!("{base}/metrics")).await;
    assert_eq!(sample(&scrape, "sextant_offers_received_total"), Some(3.0), "{scrape}");
    let (_, vars) = text(&http, format!("{base}/vars")).await;
    assert_eq!(vars, "sextant_offers_received_total 3\n");
    server.shutdown().await;
}

async fn serve_alone(registry: Registry) -> MetricsServer {
    super::serve("127.0.0.1:0".parse().expect("addr"), Arc::new(registry))
        .await
        .expect("serves")
}
