//! The OpenAPI document against the router, both ways, over real HTTP:
//! every documented route is served (not the fallback, not 405), every
//! served route is documented (`documented` refuses one that is not, and
//! the full router is built here), every schema reference resolves, and
//! docs/api.md lists exactly the documented routes.

use std::collections::BTreeSet;

use serde_json::Value;
use sextant_api::wire::{ErrorBody, ErrorCode};

use super::*;

async fn serve() -> (String, tempfile::TempDir) {
    let served = crate::http::test_api::serve(Default::default()).await;
    (served.base, served.dir)
}

/// The code of an error answer, if the body is one.
async fn code_of(resp: reqwest::Response) -> (u16, Option<ErrorCode>) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str::<ErrorBody>(&body).ok().map(|e| e.code))
}

/// Guards the document against the router: a documented route that is not
/// served answers `NoSuchEndpoint` or `MethodNotAllowed`.
#[tokio::test]
async fn every_documented_route_is_served() {
    let (base, _dir) = serve().await;
    let http = reqwest::Client::new();
    // The fallbacks this test relies on do answer so.
    let (status, code) = code_of(http.get(format!("{base}/api/v1/nope")).send().await.expect("get")).await;
    assert_eq!((status, code), (404, Some(ErrorCode::NoSuchEndpoint)));
    let (status, code) = code_of(http.put(format!("{base}/api/v1/apps")).send().await.expect("put")).await;
    assert_eq!((status, code), (405, Some(ErrorCode::MethodNotAllowed)));

    // The document is served, and it is the code's.
    let served: Value = http
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    assert_eq!(served, document());

    for e in ENDPOINTS {
        let method = reqwest::Method::from_bytes(e.method.as_bytes()).expect("method");
        let url = format!("{base}{}", example_path(e.path));
        let resp = http
            .request(method, &url)
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .expect("request");
        let (status, code) = code_of(resp).await;
        assert!(
            !matches!(code, Some(ErrorCode::NoSuchEndpoint | ErrorCode::MethodNotAllowed)) && status != 405,
            "{} {} is documented but answers {status} {code:?}",
            e.method,
            e.path
        );
    }
}

/// Every `$ref` points at a schema the document holds, and the answers
/// name the wire types.
#[test]
fn every_schema_reference_resolves() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "AppView",
        "AppDetail",
        "TaskView",
        "SourceView",
        "ErrorBody",
        "ApplyResult",
        "Event",
    ] {
        assert!(schemas.contains_key(name), "{name} missing from {:?}", schemas.keys());
    }
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 20, "{refs:?}");
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} is not a component"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    let list = &doc["paths"]["/api/v1/apps"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(list["items"]["$ref"], "#/components/schemas/AppView");
    let one = &doc["paths"]["/api/v1/apps/{namespace}/{name}"];
    assert!(one["get"].is_object() && one["delete"].is_object(), "{one}");
    assert_eq!(one["get"]["parameters"][0]["name"], "namespace");
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// docs/api.md's table of endpoints is the document's list: a route added
/// without its documentation, or documented and gone, fails here.
#[test]
fn docs_api_md_lists_exactly_the_documented_routes() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).expect("docs/api.md");
    let listed: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            let method = cells.next()?.trim_matches('`');
            let path = cells.next()?.trim_matches('`');
            (matches!(method, "GET" | "POST" | "DELETE" | "PUT") && path.starts_with('/'))
                .then(|| (method.to_string(), path.to_string()))
        })
        .collect();
    let documented: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_string()))
        .collect();
    assert_eq!(
        listed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in docs/api.md, not served"
    );
    assert_eq!(
        documented.difference(&listed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served, missing from docs/api.md"
    );
}
