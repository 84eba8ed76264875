//! Task identity, shared by the controller and the agent: every Mesos task
//! Sextant launches is named `<namespace>.<app>.<revision>.<unique>`
//! ([`TaskId`]) and labelled with [`LABEL_NAMESPACE`], [`LABEL_APP`] and
//! [`LABEL_REVISION`], so ownership and rollout progress can always be
//! derived from Mesos alone.

use std::fmt;
use std::str::FromStr;

/// Mesos task label carrying the app name.
pub const LABEL_APP: &str = "sextant.app";
/// Mesos task label carrying the app namespace.
pub const LABEL_NAMESPACE: &str = "sextant.namespace";
/// Mesos task label carrying the revision.
pub const LABEL_REVISION: &str = "sextant.revision";

/// Namespace of an app whose manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Seconds between SIGTERM and SIGKILL when `killGracePeriodSeconds` is unset.
pub const DEFAULT_KILL_GRACE_PERIOD_SECONDS: u32 = 30;
/// Port protocol when `protocol` is unset.
pub const DEFAULT_PROTOCOL: &str = "tcp";

/// The store key of an app: `namespace/name`.
pub fn app_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// A Sextant task id: `<namespace>.<app>.<revision>.<unique>`.
///
/// Namespace and app are DNS-1123 labels (no `.`), the revision is lowercase
/// hex, and the unique part is any non-empty string without `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// Namespace of the app.
    pub namespace: String,
    /// Name of the app.
    pub app: String,
    /// Revision of the spec the task runs.
    pub revision: String,
    /// Distinguishes the tasks of one revision.
    pub unique: String,
}

/// A string that is not a Sextant task id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid task id \"{id}\": {reason}")]
pub struct TaskIdError {
    /// The string as given.
    pub id: String,
    /// What is wrong with it.
    pub reason: String,
}

impl TaskId {
    /// A new task id with a fresh random unique part (8 lowercase hex chars).
    pub fn new(namespace: impl Into<String>, app: impl Into<String>, revision: impl Into<String>) -> TaskId {
        let mut unique = uuid::Uuid::new_v4().simple().to_string();
        unique.truncate(8);
        TaskId {
            namespace: namespace.into(),
            app: app.into(),
            revision: revision.into(),
            unique,
        }
    }

    /// Parses `<namespace>.<app>.<revision>.<unique>`.
    pub fn parse(s: &str) -> Result<TaskId, TaskIdError> {
        let fail = |reason: &str| TaskIdError {
            id: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.split('.').collect();
        let [namespace, app, revision, unique] = parts[..] else {
            return Err(fail(
                "expected four '.'-separated parts: <namespace>.<app>.<revision>.<unique>",
            ));
        };
        if !is_dns1123_label(namespace) {
            return Err(fail("namespace is not a DNS-1123 label"));
        }
        if !is_dns1123_label(app) {
            return Err(fail("app is not a DNS-1123 label"));
        }
        if revision.is_empty()
            || !revision
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(fail("revision is not lowercase hex"));
        }
        if unique.is_empty() {
            return Err(fail("unique part is empty"));
        }
        Ok(TaskId {
            namespace: namespace.to_string(),
            app: app.to_string(),
            revision: revision.to_string(),
            unique: unique.to_string(),
        })
    }

    /// The store key of the task's app: `namespace/app`.
    pub fn app_key(&self) -> String {
        app_key(&self.namespace, &self.app)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.namespace, self.app, self.revision, self.unique)
    }
}

impl FromStr for TaskId {
    type Err = TaskIdError;

    fn from_str(s: &str) -> Result<TaskId, TaskIdError> {
        TaskId::parse(s)
    }
}

/// Whether `s` is a DNS-1123 label: 1 to 63 lowercase letters, digits and
/// `-`, starting and ending with a letter or digit.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| ok(c) || *c == b'-')
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_round_trip() {
        let id = TaskId::new("default", "web", "0a1b2c3d4e");
        assert_eq!(id.unique.len(), 8);
        assert!(id.unique.bytes().all(|b| b.is_ascii_hexdigit()));
        let s = id.to_string();
        assert_eq!(s, format!("default.web.0a1b2c3d4e.{}", id.unique));
        assert_eq!(s.parse::<TaskId>(), Ok(id.clone()));
        assert_eq!(id.app_key(), "default/web");
        assert_ne!(TaskId::new("default", "web", "0a").unique, id.unique);
    }

    #[test]
    fn task_id_rejects() {
        for bad in [
            "",
            "a.b.c",
            "a.b.c.d.e",
            "A.web.0a.x",
            "ns.-web.0a.x",
            "ns.web.0A.x",
            "ns.web.xyz.x",
            "ns.web..x",
            "ns.web.0a.",
            "ns..0a.x",
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = TaskId::parse("a.b").unwrap_err();
        assert!(e.to_string().starts_with("invalid task id \"a.b\": "), "{e}");
    }

    #[test]
    fn keys() {
        assert_eq!(app_key("default", "web"), "default/web");
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns1123_label("web"));
        assert!(is_dns1123_label("a"));
        assert!(is_dns1123_label("web-2"));
        assert!(is_dns1123_label("0"));
        assert!(is_dns1123_label(&"a".repeat(63)));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(!is_dns1123_label(""));
        assert!(!is_dns1123_label("Web"));
        assert!(!is_dns1123_label("-web"));
        assert!(!is_dns1123_label("web-"));
        assert!(!is_dns1123_label("we.b"));
        assert!(!is_dns1123_label("we_b"));
    }
}
