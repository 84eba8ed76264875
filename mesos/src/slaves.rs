//! The master's `GET /master/slaves` (Mesos 1.11, `src/master/
//! readonly_handler.cpp`, `SlaveWriter`): every registered agent with its
//! id, hostname, libprocess `pid`, `port`, `registered_time`, its total,
//! used (allocated to any framework), offered and unreserved resources
//! as summary objects (`summary`), its attributes (`name → value`: a text
//! as it is, a scalar as a number, ranges and sets as Mesos prints them),
//! `active` (connected and not deactivated), `deactivated`, `version`, and,
//! while an operator drains it, `drain_info.state` (`DRAINING`, `DRAINED`).
//!
//! Reading is tolerant: fields it does not know (`capabilities`, `domain`,
//! the `*_full` resource lists, fields of later versions) are ignored, and
//! every field but `id` may be missing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::summary::{ResourceSummary, value_text};

/// Bound on a `/master/slaves` call.
const SLAVES_TIMEOUT: Duration = Duration::from_secs(10);

/// One registered agent, as the master describes it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Slave {
    pub id: String,
    #[serde(default)]
    pub hostname: String,
    /// The agent's libprocess pid, `slave(1)@10.0.0.5:5051`.
    #[serde(default)]
    pub pid: String,
    #[serde(default)]
    pub port: u16,
    /// Unix seconds.
    #[serde(default)]
    pub registered_time: Option<f64>,
    #[serde(default)]
    pub reregistered_time: Option<f64>,
    /// Everything the agent has.
    #[serde(default)]
    pub resources: ResourceSummary,
    /// Allocated to frameworks' tasks and executors.
    #[serde(default)]
    pub used_resources: ResourceSummary,
    /// Offered to frameworks, not yet used.
    #[serde(default)]
    pub offered_resources: ResourceSummary,
    #[serde(default)]
    pub unreserved_resources: ResourceSummary,
    /// Name → value, rendered as text.
    #[serde(default, deserialize_with = "attributes_as_text")]
    pub attributes: BTreeMap<String, String>,
    /// The master offers its resources: connected, and not deactivated.
    #[serde(default = "yes")]
    pub active: bool,
    /// An operator deactivated it (or is draining it).
    #[serde(default)]
    pub deactivated: bool,
    #[serde(default)]
    pub version: String,
    /// Present while an operator drains the agent.
    #[serde(default)]
    pub drain_info: Option<DrainInfo>,
}

fn yes() -> bool {
    true
}

/// `DrainInfo` (only its state is read).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DrainInfo {
    /// `DRAINING` or `DRAINED`.
    #[serde(default)]
    pub state: String,
}

/// The body: registered agents, and those a restarted master has not
/// heard from yet (`recovered_slaves`, which carry no resources).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct SlavesAnswer {
    #[serde(default)]
    pub slaves: Vec<Slave>,
    #[serde(default)]
    pub recovered_slaves: Vec<Value>,
}

fn attributes_as_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let fields: Option<BTreeMap<String, Value>> = Option::deserialize(deserializer)?;
    Ok(fields
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name, value_text(&value)))
        .collect())
}

/// Why the master could not list its agents; every message names the
/// master's URL.
#[derive(Debug, thiserror::Error)]
pub enum SlavesError {
    #[error("cannot ask the Mesos master at {master} for its agents: {source}")]
    Http {
        master: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the Mesos master at {master} answered /master/slaves with {status}")]
    Refused {
        master: String,
        status: reqwest::StatusCode,
    },
    #[error("the Mesos master at {master} answered /master/slaves with what is not a list of agents: {source}")]
    Decode {
        master: String,
        #[source]
        source: serde_json::Error,
    },
}

impl SlavesError {
    /// The master asked.
    pub fn master(&self) -> &str {
        match self {
            Self::Http { master, .. } | Self::Refused { master, .. } | Self::Decode { master, .. } => master,
        }
    }
}

/// `GET {master}/master/slaves` (redirects to the leading master are
/// followed), within 10 s.
pub async fn list(http: &reqwest::Client, master: &str) -> Result<SlavesAnswer, SlavesError> {
    let base = master.trim_end_matches('/');
    let failed = |source| SlavesError::Http {
        master: base.to_string(),
        source,
    };
    let response = http
        .get(format!("{base}/master/slaves"))
        .timeout(SLAVES_TIMEOUT)
        .send()
        .await
        .map_err(failed)?;
    if !response.status().is_success() {
        return Err(SlavesError::Refused {
            master: base.to_string(),
            status: response.status(),
        });
    }
    let body = response.bytes().await.map_err(failed)?;
    serde_json::from_slice(&body).map_err(|source| SlavesError::Decode {
        master: base.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Mesos 1.11 master's answer, in the shape and field order its
    /// `SlavesWriter` writes (see `testdata/master-slaves-1.11.json`): an
    /// agent running two tasks, with attributes of every type, and one
    /// being drained, with a reservation and a fault domain.
    const SAMPLE: &str = include_str!("../testdata/master-slaves-1.11.json");

    #[test]
    fn a_mesos_1_11_answer_is_read() {
        let answer: SlavesAnswer = serde_json::from_str(SAMPLE).expect("a 1.11 body");
        assert_eq!(answer.slaves.len(), 2);
        let node = &answer.slaves[0];
        assert_eq!(node.id, "f41f1726-ae55-4a60-a534-66bb56bc6e3f-S0");
        assert_eq!((node.hostname.as_str(), node.port), ("node-1.example", 5051));
        assert_eq!(node.pid, "slave(1)@10.0.0.5:5051");
        assert_eq!(node.registered_time, Some(1606232400.27143));
        assert!(node.active && !node.deactivated && node.drain_info.is_none());
        assert_eq!(node.version, "1.11.0");
        assert_eq!((node.resources.cpus, node.resources.mem), (4.0, 4096.0));
        assert_eq!(node.resources.ports.to_string(), "[31000-32000]");
        assert_eq!((node.used_resources.cpus, node.used_resources.mem), (0.5, 128.0));
        assert_eq!(node.used_resources.ports.to_string(), "[31000-31001]");
        assert_eq!(node.offered_resources.cpus, 3.5);
        let free = node.resources.minus(&node.used_resources);
        assert_eq!((free.cpus, free.mem, free.ports.count()), (3.5, 3968.0, 999));
        let attributes: Vec<(&str, &str)> = node.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            attributes,
            [
                ("disks", "{ssd,hdd}"),
                ("rack", "r1"),
                ("slots", "[1-4, 8-9]"),
                ("weight", "2.5"),
                ("zone_index", "3")
            ]
        );

        let draining = &answer.slaves[1];
        assert!(!draining.active && draining.deactivated);
        assert_eq!(draining.drain_info.as_ref().map(|d| d.state.as_str()), Some("DRAINING"));
        assert_eq!(draining.reregistered_time, Some(1606232900.5));
        assert_eq!(
            draining.resources.others.get("cpus_revocable").map(String::as_str),
            Some("2")
        );
        assert!(draining.attributes.is_empty());
        assert!(draining.used_resources.ports.is_empty());
    }

    #[test]
    fn only_the_id_is_required() {
        let answer: SlavesAnswer =
            serde_json::from_str(r#"{"slaves":[{"id":"S9","future_field":{"x":1}}]}"#).expect("tolerated");
        let node = &answer.slaves[0];
        assert_eq!(node.id, "S9");
        assert!(node.active, "an agent is active unless the master says not");
        assert_eq!(node.resources, ResourceSummary::default());
        assert!(serde_json::from_str::<SlavesAnswer>(r#"{"slaves":[{"hostname":"h"}]}"#).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_master_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let master = format!("http://127.0.0.1:{port}/");
        let error = list(&reqwest::Client::new(), &master)
            .await
            .expect_err("nothing listens");
        assert_eq!(error.master(), format!("http://127.0.0.1:{port}"));
        assert!(
            error.to_string().starts_with(&format!(
                "cannot ask the Mesos master at http://127.0.0.1:{port} for its agents"
            )),
            "{error}"
        );
    }
}
