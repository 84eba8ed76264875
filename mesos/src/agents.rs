//! Where a Mesos agent serves HTTP: from an offer's `url`, or from the
//! master's `GET /master/slaves` (each agent's libprocess `pid`,
//! `slave(1)@IP:PORT`, and its `hostname` and `port`).

use std::time::Duration;

use serde::Deserialize;

use crate::types::Url;

/// Bound on a `/master/slaves` call.
const SLAVES_TIMEOUT: Duration = Duration::from_secs(10);

/// The base address of a Mesos agent's HTTP endpoints (`/files/read`, …).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentEndpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// An IP address when one is known (a hostname may not resolve here).
    pub host: String,
    pub port: u16,
}

impl AgentEndpoint {
    /// The endpoint an offer's `url` names: its IP, else its hostname.
    /// (Its `path`, `/slave(1)`, names the agent's process; the `/files`
    /// endpoints live beside it, at the root.)
    pub fn from_offer_url(url: &Url) -> Option<Self> {
        let host = url
            .address
            .ip
            .clone()
            .or_else(|| url.address.hostname.clone())
            .filter(|h| !h.is_empty())?;
        let port = u16::try_from(url.address.port).ok().filter(|p| *p > 0)?;
        let scheme = if url.scheme.is_empty() { "http" } else { &url.scheme };
        Some(Self {
            scheme: scheme.to_string(),
            host,
            port,
        })
    }

    /// The endpoint of a libprocess pid, `slave(1)@10.0.0.5:5051`.
    pub fn from_pid(pid: &str, scheme: &str) -> Option<Self> {
        let (_, address) = pid.rsplit_once('@')?;
        let (host, port) = address.rsplit_once(':')?;
        let port = port.parse().ok().filter(|p| *p > 0)?;
        (!host.is_empty()).then(|| Self {
            scheme: scheme.to_string(),
            host: host.to_string(),
            port,
        })
    }

    /// `scheme://host:port`, without a trailing slash.
    pub fn base_url(&self) -> String {
        if self.host.contains(':') {
            format!("{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

impl std::fmt::Display for AgentEndpoint {
    /// `host:port`, as a person names an agent.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Why the master could not say where its agents are.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
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
}

#[derive(Deserialize)]
struct Slaves {
    #[serde(default)]
    slaves: Vec<Slave>,
}

#[derive(Deserialize)]
struct Slave {
    id: String,
    #[serde(default)]
    pid: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    port: u16,
}

/// Every registered agent's id and endpoint, from `GET {master}/master/slaves`
/// (redirects to the leading master are followed). An agent whose pid does
/// not parse is named by `hostname:port`.
pub async fn from_master(http: &reqwest::Client, master: &str) -> Result<Vec<(String, AgentEndpoint)>, AgentsError> {
    let base = master.trim_end_matches('/');
    let url = format!("{base}/master/slaves");
    let scheme = if base.starts_with("https:") { "https" } else { "http" };
    let failed = |source| AgentsError::Http {
        master: base.to_string(),
        source,
    };
    let response = http.get(&url).timeout(SLAVES_TIMEOUT).send().await.map_err(failed)?;
    if !response.status().is_success() {
        return Err(AgentsError::Refused {
            master: base.to_string(),
            status: response.status(),
        });
    }
    let slaves: Slaves = response.json().await.map_err(failed)?;
    Ok(slaves
        .slaves
        .into_iter()
        .filter_map(|s| {
            let endpoint = AgentEndpoint::from_pid(&s.pid, scheme).or_else(|| {
                (!s.hostname.is_empty() && s.port > 0).then(|| AgentEndpoint {
                    scheme: scheme.to_string(),
                    host: s.hostname.clone(),
                    port: s.port,
                })
            })?;
            Some((s.id, endpoint))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Address;

    #[test]
    fn an_offer_url_names_the_agent_by_ip() {
        let url = Url {
            scheme: "http".into(),
            address: Address {
                hostname: Some("node-1".into()),
                ip: Some("10.0.0.5".into()),
                port: 5051,
            },
            path: Some("/slave(1)".into()),
        };
        let endpoint = AgentEndpoint::from_offer_url(&url).expect("an endpoint");
        assert_eq!(endpoint.base_url(), "http://10.0.0.5:5051");
        assert_eq!(endpoint.to_string(), "10.0.0.5:5051");
        let by_name = Url {
            address: Address {
                ip: None,
                ..url.address.clone()
            },
            ..url.clone()
        };
        assert_eq!(
            AgentEndpoint::from_offer_url(&by_name).map(|e| e.host),
            Some("node-1".into())
        );
    }

    #[test]
    fn a_pid_names_the_agent() {
        let endpoint = AgentEndpoint::from_pid("slave(1)@10.0.0.5:5051", "http").expect("parses");
        assert_eq!((endpoint.host.as_str(), endpoint.port), ("10.0.0.5", 5051));
        assert!(AgentEndpoint::from_pid("slave(1)", "http").is_none());
        assert!(AgentEndpoint::from_pid("slave(1)@host:x", "http").is_none());
    }
}
