//! The App's JSON Schema and CRD, for `sextant schema` and editors.

use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;
use sextant_api::{crd, crd_yaml, json_schema, load_paths};

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no example manifests in {}", dir.display());
    files
}

/// Resolves a `$ref` (draft-07 `#/definitions/...`), directly or as the
/// single entry of an `allOf`, or the non-null branch of an `anyOf`.
fn deref<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            s = root
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling {r}"));
        } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            s = one;
        } else if let Some(alts) = s.get("anyOf").and_then(Value::as_array)
            && alts.len() == 2
            && alts[1] == serde_json::json!({"type": "null"})
            && alts[0].get("$ref").is_some()
        {
            s = &alts[0];
        } else {
            return s;
        }
    }
}

/// Checks, by hand, that `doc` fits `schema` structurally: every key is a
/// known property where unknown ones are refused, required keys are there,
/// recursively through mappings and lists.
fn conforms(root: &Value, schema: &Value, doc: &Value, path: &str) {
    let schema = deref(root, schema);
    match doc {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    assert!(map.contains_key(r), "{path}: missing {r}");
                }
            }
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => conforms(root, s, v, &format!("{path}.{k}")),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => panic!("{path}: {k} not in the schema"),
                        Some(s @ Value::Object(_)) => conforms(root, s, v, &format!("{path}.{k}")),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    conforms(root, s, item, &format!("{path}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_examples_fit_the_json_schema() {
    let schema = json_schema();
    let files = examples();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc: Value = serde::Deserialize::deserialize(doc).unwrap();
            if doc.is_null() {
                continue;
            }
            conforms(&schema, &schema, &doc, &file.display().to_string());
            assert_eq!(doc["apiVersion"], schema["properties"]["apiVersion"]["const"]);
            assert_eq!(doc["kind"], schema["properties"]["kind"]["const"]);
        }
    }
    // And the loader, which checks the same schema, takes them.
    load_paths(&files).unwrap();
}

#[test]
fn the_json_schema_describes_a_whole_document() {
    let s = json_schema();
    assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(s["type"], "object");
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(
        s["required"],
        serde_json::json!(["apiVersion", "kind", "metadata", "spec"])
    );
    assert_eq!(s["properties"]["apiVersion"]["const"], "sextant.dev/v1alpha1");
    assert_eq!(s["properties"]["kind"]["const"], "App");
    let meta = deref(&s, &s["properties"]["metadata"]);
    assert_eq!(meta["additionalProperties"], false);
    assert_eq!(meta["required"], serde_json::json!(["name"]));
    for f in ["name", "namespace", "labels", "annotations"] {
        assert!(meta["properties"][f]["description"].is_string(), "metadata.{f}");
    }
    let spec = deref(&s, &s["properties"]["spec"]);
    for f in [
        "instances",
        "command",
        "args",
        "uris",
        "user",
        "container",
        "resources",
        "ports",
        "env",
        "labels",
        "healthCheck",
        "strategy",
        "placement",
        "priority",
        "killGracePeriodSeconds",
        "restartBackoff",
        "paused",
    ] {
        assert!(spec["properties"].get(f).is_some(), "spec.{f} missing");
    }
    // Only `command` or `args` is needed: nothing else is required.
    assert!(spec.get("required").is_none(), "{}", spec["required"]);
}

#[test]
fn every_object_refuses_unknown_fields_and_every_field_is_described() {
    let s = json_schema();
    let defs = s["definitions"].as_object().unwrap();
    for (name, def) in defs {
        let Some(props) = def.get("properties").and_then(Value::as_object) else {
            continue;
        };
        assert_eq!(def["additionalProperties"], false, "{name}");
        for (field, p) in props {
            let described = p
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.len() > 10);
            assert!(described, "{name}.{field} has no description");
        }
    }
    // Defaults are part of the schema, for editors.
    let strategy = deref(&s, &defs["AppSpec"]["properties"]["strategy"]);
    assert_eq!(strategy["properties"]["maxSurge"]["default"], "25%");
    assert_eq!(strategy["properties"]["progressDeadlineSeconds"]["default"], 600);
    let hc = deref(&s, &defs["AppSpec"]["properties"]["healthCheck"]);
    assert_eq!(hc["properties"]["initialDelaySeconds"]["default"], 15);
    assert!(
        hc["properties"]["timeoutSeconds"]["description"]
            .as_str()
            .unwrap()
            .contains("timeout_seconds")
    );
}

#[test]
fn the_crd_round_trips_through_yaml() {
    let yaml = crd_yaml().unwrap();
    assert!(
        yaml.starts_with("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"),
        "{yaml}"
    );
    let back: CustomResourceDefinition = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, crd());
    let json = serde_json::to_value(&back).unwrap();
    let spec = &json["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    for f in [
        "healthCheck",
        "strategy",
        "placement",
        "container",
        "uris",
        "restartBackoff",
        "paused",
    ] {
        assert!(spec.get(f).is_some(), "CRD lacks spec.{f}");
    }
    assert_eq!(
        spec["container"]["properties"]["docker"]["properties"]["network"]["enum"],
        serde_json::json!(["host", "bridge"])
    );
    assert_eq!(
        spec["healthCheck"]["properties"]["http"]["properties"]["port"]["x-kubernetes-int-or-string"],
        true
    );
}

#[test]
fn write_for_inspection() {
    // `SEXTANT_SCHEMA_OUT=/tmp/app.json cargo test -p sextant-api --test schema`
    if let Some(path) = std::env::var_os("SEXTANT_SCHEMA_OUT") {
        let text = serde_json::to_string_pretty(&json_schema()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}
