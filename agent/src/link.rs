//! The agent's link to Mesos, as the controller sees it in `AgentStatus`:
//! whether the agent is subscribed, since when, why not (in words), and
//! under which framework id. The scheduler writes it; the gRPC watchers
//! and `AgentHandle::wait_subscribed` read it.

use mesos::ClientError;
use sextant_proto::proto::AgentStatus;
use tokio::sync::watch;

use crate::tasks::now_secs;

/// One state of the link. Only changes are sent on the watch channel, so
/// each one reaches the watchers as one `AgentStatus`.
#[derive(Clone, Debug, PartialEq)]
pub struct MesosLink {
    /// The configured master URL.
    pub master: String,
    pub connected: bool,
    /// Unix seconds of the last change of `connected`.
    pub since: f64,
    /// Why not connected; empty when connected.
    pub message: String,
    /// Empty until known.
    pub framework_id: String,
}

impl MesosLink {
    /// Not connected yet, since now.
    pub fn new(master: impl Into<String>) -> Self {
        Self {
            master: master.into(),
            connected: false,
            since: now_secs(),
            message: "not subscribed to the Mesos master yet".to_string(),
            framework_id: String::new(),
        }
    }

    pub fn status(&self) -> AgentStatus {
        AgentStatus {
            mesos_connected: self.connected,
            since: self.since,
            master: self.master.clone(),
            message: self.message.clone(),
            framework_id: self.framework_id.clone(),
        }
    }
}

/// The scheduler's side of the link.
#[derive(Debug)]
pub struct LinkWriter(watch::Sender<MesosLink>);

impl LinkWriter {
    pub fn new(master: impl Into<String>) -> (Self, watch::Receiver<MesosLink>) {
        let (tx, rx) = watch::channel(MesosLink::new(master));
        (Self(tx), rx)
    }

    /// Subscribed under `framework_id`.
    pub fn connected(&self, framework_id: &str) {
        self.0.send_if_modified(|link| {
            let before = link.clone();
            if !link.connected {
                link.connected = true;
                link.since = now_secs();
            }
            link.message.clear();
            link.framework_id = framework_id.to_string();
            *link != before
        });
    }

    /// Not subscribed, because of `message`.
    pub fn disconnected(&self, message: String) {
        self.0.send_if_modified(|link| {
            let before = link.clone();
            if link.connected {
                link.connected = false;
                link.since = now_secs();
            }
            link.message = message;
            *link != before
        });
    }

    /// The framework id to show (loaded from disk, or forgotten: empty).
    pub fn set_framework_id(&self, framework_id: &str) {
        self.0.send_if_modified(|link| {
            let changed = link.framework_id != framework_id;
            link.framework_id = framework_id.to_string();
            changed
        });
    }

    /// Why a subscription failed or ended, in words, naming the master:
    /// refused, timed out, DNS or TLS, never reqwest's "error sending
    /// request".
    pub fn describe(&self, error: &ClientError) -> String {
        let master = self.0.borrow().master.clone();
        match error {
            ClientError::Http { cause, .. } if cause.is_connect() => {
                format!("cannot reach the Mesos master at {master}: {}", root_cause(cause))
            }
            ClientError::Http { cause, .. } | ClientError::Stream(cause) => {
                format!(
                    "lost the connection to the Mesos master at {master}: {}",
                    root_cause(cause)
                )
            }
            other => other.to_string(),
        }
    }
}

/// Why an HTTP exchange failed, in words: "connection refused" rather than
/// reqwest's "error sending request for url (…)".
pub(crate) fn root_cause(error: &reqwest::Error) -> String {
    mesos::http_cause(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_moves_only_when_the_connection_flag_changes() {
        let (writer, mut rx) = LinkWriter::new("http://m:5050");
        let start = rx.borrow_and_update().since;
        writer.disconnected("not subscribed to the Mesos master yet".into());
        assert!(!rx.has_changed().unwrap_or(true), "nothing changed, nothing sent");

        writer.disconnected("cannot reach the Mesos master at http://m:5050: connection refused".into());
        let link = rx.borrow_and_update().clone();
        assert_eq!((link.connected, link.since), (false, start), "a new reason, same flag");

        writer.connected("F-0000");
        let link = rx.borrow_and_update().clone();
        assert!(link.connected && link.message.is_empty() && link.since >= start);
        assert_eq!(link.status().framework_id, "F-0000");
        assert_eq!(link.status().master, "http://m:5050");
        writer.connected("F-0000");
        assert!(!rx.has_changed().unwrap_or(true));
    }
}
