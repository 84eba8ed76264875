//! The app list as the HTTP API serves it, kept serialized per app: each
//! entry is rebuilt when the app's desired object or status changes, so a
//! `GET /api/v1/apps` joins ready bytes instead of cloning and serializing
//! every app on every request.

use std::sync::Arc;

use tracing::error;

use super::State;

/// The list's sort key: namespace, then name.
pub type ViewKey = (String, String);

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
            s.views.insert(view_key, Arc::from(bytes));
        }
        Err(e) => error!(app = %key, error = %e, "cannot serialize the app's view"),
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
