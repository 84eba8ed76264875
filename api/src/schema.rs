//! The App's schemas, for `sextant schema` and editors: the
//! CustomResourceDefinition (what `kubectl` would install) and a JSON
//! Schema of a whole manifest document, for yaml-language-server and the
//! like. The loader checks documents against the same JSON Schema, so the
//! two cannot disagree about structure.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::app::{API_VERSION, App, AppSpec};

/// `$id` of the JSON Schema.
pub const SCHEMA_ID: &str = "https://sextant.dev/schemas/v1alpha1/app.json";

/// The `App` CustomResourceDefinition (apiextensions.k8s.io/v1).
pub fn crd() -> CustomResourceDefinition {
    App::crd()
}

/// The `App` CustomResourceDefinition as YAML.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&crd())
}

/// A JSON Schema (draft-07) of a whole `App` manifest document:
/// `apiVersion`, `kind`, `metadata` (name, namespace, labels, annotations)
/// and `spec`, with `additionalProperties: false` wherever unknown fields
/// are rejected. Field descriptions are the Rust doc comments.
pub fn json_schema() -> Value {
    document_schema().clone()
}

/// The document schema, built once.
pub(crate) fn document_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(build)
}

/// The schema of `metadata` the loader checks against: like the document's,
/// but without `required` (a missing name is reported by validation, with
/// the other metadata errors).
pub(crate) fn loader_metadata_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut m = metadata_schema();
        if let Some(o) = m.as_object_mut() {
            o.remove("required");
        }
        m
    })
}

/// The schema of `spec`, a `$ref` into [`document_schema`].
pub(crate) fn spec_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| json!({"$ref": "#/definitions/AppSpec"}))
}

fn build() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let root = generator.into_root_schema_for::<AppSpec>().to_value();
    let mut root = match root {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut definitions = match root.remove("definitions") {
        Some(Value::Object(d)) => d,
        _ => Map::new(),
    };
    root.remove("$schema");
    root.remove("title");
    definitions.insert("AppSpec".into(), Value::Object(root));
    definitions.insert("ObjectMeta".into(), metadata_schema());
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "Sextant App",
        "description": "A long-running service Sextant keeps running on Mesos.",
        "type": "object",
        "additionalProperties": false,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"description": "API version of the App kind.", "type": "string", "const": API_VERSION},
            "kind": {"description": "Always App.", "type": "string", "const": "App"},
            "metadata": {"$ref": "#/definitions/ObjectMeta"},
            "spec": {"$ref": "#/definitions/AppSpec"},
            "status": {
                "description": "Observed state, written by Sextant. Ignored in manifests.",
                "type": "object"
            }
        },
        "definitions": definitions,
    })
}

/// Kubernetes `ObjectMeta` fields the loader accepts besides name,
/// namespace, labels and annotations (so objects read back from Sextant can
/// be applied again); Sextant ignores them.
const OTHER_METADATA: [&str; 11] = [
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "managedFields",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

fn metadata_schema() -> Value {
    let label = |what: &str| {
        json!({
            "description": format!(
                "{what}: a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and \
                 ending with a letter or digit)."
            ),
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
        })
    };
    let mut props = Map::new();
    props.insert("name".into(), label("Name of the app, unique in its namespace"));
    let mut ns = label("Namespace of the app");
    if let Some(o) = ns.as_object_mut() {
        o.insert("default".into(), json!("default"));
    }
    props.insert("namespace".into(), ns);
    props.insert(
        "labels".into(),
        json!({
            "description": "Labels of the app object. They do not change the revision and are not given to \
                            tasks (see spec.labels).",
            "type": "object",
            "additionalProperties": {"type": "string"}
        }),
    );
    props.insert(
        "annotations".into(),
        json!({
            "description": "Annotations of the app object. Sextant ignores them.",
            "type": "object",
            "additionalProperties": {"type": "string"}
        }),
    );
    for f in OTHER_METADATA {
        props.insert(
            f.into(),
            json!({"description": "Kubernetes ObjectMeta field, accepted so objects read back can be applied again; ignored."}),
        );
    }
    json!({
        "description": "Name, namespace and labels of the app.",
        "type": "object",
        "additionalProperties": false,
        "required": ["name"],
        "properties": props,
    })
}
