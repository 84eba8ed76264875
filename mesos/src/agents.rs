//! Where a Mesos agent serves HTTP: from an offer's `url`, or from the
//! master's `GET /master/slaves` (each agent's libprocess `pid`,
//! `slave(1)@IP:PORT`, and its `hostname` and `port`).

use crate::slaves::{self, Slave, SlavesError};
use crate::types::Url;

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

    /// The endpoint the master lists for an agent: its pid's address, else
    /// its `hostname:port`.
    pub fn of_slave(slave: &Slave, scheme: &str) -> Option<Self> {
        Self::from_pid(&slave.pid, scheme).or_else(|| {
            (!slave.hostname.is_empty() && slave.port > 0).then(|| Self {
                scheme: scheme.to_string(),
                host: slave.hostname.clone(),
                port: slave.port,
            })
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

/// Every registered agent's id and endpoint, from the master's
/// `/master/slaves` (see `slaves`). An agent whose pid does not parse is
/// named by `hostname:port`; one with neither is left out.
pub async fn from_master(http: &reqwest::Client, master: &str) -> Result<Vec<(String, AgentEndpoint)>, SlavesError> {
    let scheme = if master.starts_with("https:") { "https" } else { "http" };
    let answer = slaves::list(http, master).await?;
    Ok(answer
        .slaves
        .iter()
        .filter_map(|s| Some((s.id.clone(), AgentEndpoint::of_slave(s, scheme)?)))
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
