//! The app list as the HTTP API serves it, kept serialized per app: each
//! entry is rebuilt when the app's desired object or status changes, so a
//! `GET /api/v1/apps` joins ready bytes instead of cloning and serializing
//! every app on every request. Each entry keeps the desired object it was
//! made from (an `Arc`, shared with the index) beside its bytes, so the
//! list's filters (namespace, name, label selector) are checked without
//! reading the JSON back.

use std::collections::BTreeMap;
use std::sync::Arc;

use sextant_api::Selector;
use tracing::error;

use super::State;
use crate::desired::DesiredApp;

/// The list's sort key: namespace, then name.
pub type ViewKey = (String, String);

/// One app's entry in the list.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its `AppView`, as JSON.
    pub json: Arc<[u8]>,
    /// The desired object the view was made from, for the filters.
    pub desired: Arc<DesiredApp>,
}

/// Labels of an app without any.
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl Entry {
    /// The app's `metadata.labels`, as its view shows them.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.desired.app.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
    }
}

/// Which entries a list request asks for; `None` selects everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    /// Only this namespace.
    pub namespace: Option<&'a str>,
    /// Only apps of this name.
    pub name: Option<&'a str>,
    /// Only apps whose labels it matches.
    pub selector: Option<&'a Selector>,
}

impl Filter<'_> {
    /// Whether `entry` (at `key`) is selected.
    fn matches(&self, key: &ViewKey, entry: &Entry) -> bool {
        self.namespace.is_none_or(|ns| ns == key.0)
            && self.name.is_none_or(|n| n == key.1)
            && self.selector.is_none_or(|s| s.matches(entry.labels()))
    }
}

/// Rebuilds (or drops) the list entry of `key` from what the index holds.
pub fn refresh(s: &mut State, key: &str) {
    let Some(d) = s.apps.get(key) else {
        // Keys are `namespace/name`; neither part has a `/`.
        if let Some((ns, name)) = key.split_once('/') {
            s.views.remove(&(ns.to_string(), name.to_string()));
        }
        return;
    };
    let view_key = (d.namespace().to_string(), d.name().to_string());
    let view = crate::http::views::app_view(d, s.statuses.get(key).map(|st| &**st));
    match serde_json::to_vec(&view) {
        Ok(bytes) => {
            let entry = Entry {
                json: Arc::from(bytes),
                desired: Arc::clone(d),
            };
            s.views.insert(view_key, entry);
        }
        Err(e) => error!(app = %key, error = %e, "cannot serialize the app's view"),
    }
}

/// The JSON of the entries `filter` selects, in list order: a namespace
/// is a range of the map, a namespace and a name one lookup; the rest is
/// a pass that compares strings, never JSON. Cheap enough to run under
/// the index's read lock (an `Arc` cloned per entry selected).
pub fn select(views: &BTreeMap<ViewKey, Entry>, filter: &Filter<'_>) -> Vec<Arc<[u8]>> {
    let pick = |(key, entry): (&ViewKey, &Entry)| filter.matches(key, entry).then(|| Arc::clone(&entry.json));
    match (filter.namespace, filter.name) {
        (Some(ns), Some(name)) => views
            .get_key_value(&(ns.to_string(), name.to_string()))
            .and_then(pick)
            .into_iter()
            .collect(),
        (Some(ns), None) => views
            .range((ns.to_string(), String::new())..)
            .take_while(|(key, _)| key.0 == ns)
            .filter_map(pick)
            .collect(),
        (None, _) => views.iter().filter_map(pick).collect(),
    }
}

/// The whole list as a JSON array, from the entries.
pub fn list(entries: &[Arc<[u8]>]) -> Vec<u8> {
    let len = entries.iter().map(|e| e.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;

    fn desired(ns: &str, name: &str, labels: &[(&str, &str)]) -> DesiredApp {
        let spec: sextant_api::AppSpec =
            serde_json::from_value(serde_json::json!({"instances": 1, "command": "sleep 1"})).expect("spec");
        let mut app = sextant_api::App::new(name, spec);
        app.metadata.namespace = Some(ns.into());
        if !labels.is_empty() {
            app.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        }
        DesiredApp::new(app, "dir:/m", None, None)
    }

    fn names(index: &Index, filter: Filter<'_>) -> Vec<String> {
        let entries = index.read(|s| select(&s.views, &filter));
        let list: Vec<serde_json::Value> = serde_json::from_slice(&list(&entries)).expect("json");
        list.iter()
            .map(|a| {
                format!(
                    "{}/{}",
                    a["namespace"].as_str().unwrap_or("?"),
                    a["name"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    #[test]
    fn filters_select_by_namespace_name_and_labels_in_list_order() {
        let index = Index::default();
        index.write(|s| {
            for d in [
                desired("b", "web", &[("tier", "web")]),
                desired("a", "web", &[("tier", "web"), ("team", "x")]),
                desired("a", "db", &[("tier", "db")]),
                desired("a-b", "web", &[]),
                desired("c", "web", &[("tier", "web")]),
            ] {
                let key = d.key();
                s.apps.insert(key.clone(), Arc::new(d));
                refresh(s, &key);
            }
        });
        let all = names(&index, Filter::default());
        assert_eq!(all, ["a/db", "a/web", "a-b/web", "b/web", "c/web"]);
        let ns = |ns| Filter {
            namespace: Some(ns),
            ..Filter::default()
        };
        assert_eq!(
            names(&index, ns("a")),
            ["a/db", "a/web"],
            "not a-b: a range of one namespace"
        );
        assert_eq!(names(&index, ns("a-b")), ["a-b/web"]);
        assert!(names(&index, ns("nope")).is_empty());
        let web = Filter {
            name: Some("web"),
            ..Filter::default()
        };
        assert_eq!(names(&index, web), ["a/web", "a-b/web", "b/web", "c/web"]);
        let one = Filter {
            namespace: Some("b"),
            name: Some("web"),
            ..Filter::default()
        };
        assert_eq!(names(&index, one), ["b/web"]);
        let selector = Selector::parse("tier=web,!team").expect("selector");
        let labelled = Filter {
            selector: Some(&selector),
            ..Filter::default()
        };
        assert_eq!(names(&index, labelled), ["b/web", "c/web"]);
        let none = Filter {
            namespace: Some("a"),
            name: Some("db"),
            selector: Some(&selector),
        };
        assert!(
            names(&index, none).is_empty(),
            "every filter holds, or the app is left out"
        );

        // An app removed leaves the list; one changed is selected by its
        // new labels.
        index.write(|s| {
            s.apps.remove("c/web");
            refresh(s, "c/web");
            let d = desired("a", "db", &[("tier", "web")]);
            s.apps.insert(d.key(), Arc::new(d));
            refresh(s, "a/db");
        });
        assert_eq!(names(&index, labelled), ["a/db", "b/web"]);
    }
}
