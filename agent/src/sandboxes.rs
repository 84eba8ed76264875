//! Task sandboxes: where a task's Mesos agent serves HTTP (as offers gave
//! it, kept in the task table; after a restart, before any offer, as the
//! master's `/master/slaves` gives it), and reading the task's `stdout` or
//! `stderr` from that agent's `/files/read`, at the virtual path
//! `/frameworks/<framework_id>/executors/<executor_id>/runs/latest/<file>`.
//!
//! Every failure is said in words that name the task and, when one is
//! involved, the Mesos agent (`host:port`); `LogError::status` turns it
//! into the gRPC status of `ReadTaskLog`.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use mesos::agents::{self, AgentEndpoint};
use mesos::files::{self, FilesError};
use mesos::slaves::SlavesError;
use sextant_proto::contract::MAX_LOG_READ_BYTES;
use sextant_proto::proto::TaskState;
use tonic::Status;
use tracing::debug;

use crate::link::root_cause;
use crate::tasks::TaskTable;

/// The smallest read cap of a Mesos agent (16 pages of 4 KiB): a read that
/// answers less than this, and less than was asked, reached the end.
const MESOS_MIN_READ_CAP: usize = 64 * 1024;
/// Bound on connecting to a Mesos agent or master.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a task's sandbox is: what `/files/read` needs to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSandbox {
    pub task_id: String,
    pub agent_id: String,
    /// Where the agent serves HTTP, if an offer said (else the master is
    /// asked).
    pub endpoint: Option<AgentEndpoint>,
    /// The node's name, for messages (may be empty).
    pub hostname: String,
    pub framework_id: String,
    /// For command tasks (all of Sextant's), the task id.
    pub executor_id: String,
}

impl TaskSandbox {
    /// Where `task_id`'s sandbox is, from what the task table knows and the
    /// framework id (empty while not known).
    pub fn of(task_id: &str, table: &TaskTable, framework_id: &str) -> Result<Self, LogError> {
        let Some(task) = table.get(task_id) else {
            return Err(LogError::UnknownTask(task_id.to_string()));
        };
        let Some(agent_id) = &task.agent_id else {
            return Err(if task.view.state == TaskState::Pending as i32 {
                LogError::NotLaunched {
                    task: task_id.to_string(),
                    waiting: task.view.message.clone(),
                }
            } else {
                LogError::NeverPlaced {
                    task: task_id.to_string(),
                    why: task.view.message.clone(),
                }
            });
        };
        if framework_id.is_empty() {
            return Err(LogError::NotSubscribed(task_id.to_string()));
        }
        Ok(Self {
            task_id: task_id.to_string(),
            agent_id: agent_id.value.clone(),
            endpoint: table.endpoint(&agent_id.value).cloned(),
            hostname: task.view.hostname.clone(),
            framework_id: framework_id.to_string(),
            executor_id: task.executor_id.clone().unwrap_or_else(|| task_id.to_string()),
        })
    }
}

/// Why a task's log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{0}")]
    Invalid(String),
    #[error("the agent does not know task {0} (it ended long ago, or never existed)")]
    UnknownTask(String),
    #[error("task {task} has not been launched yet{}", waiting_suffix(.waiting))]
    NotLaunched { task: String, waiting: String },
    #[error("task {task} never reached a Mesos agent{}", waiting_suffix(.why))]
    NeverPlaced { task: String, why: String },
    #[error("the agent is not subscribed to Mesos yet, so it cannot find task {0}'s sandbox")]
    NotSubscribed(String),
    #[error("cannot find the Mesos agent {agent_id} of task {task}: {why}")]
    UnknownAgent {
        task: String,
        agent_id: String,
        why: String,
    },
    #[error(
        "the sandbox of task {task} is gone (the agent removed it, or the task never started) on the Mesos agent at {agent}"
    )]
    SandboxGone { task: String, agent: String },
    #[error("cannot reach the Mesos agent at {agent} that runs task {task}: {why}")]
    Unreachable { task: String, agent: String, why: String },
    #[error("the Mesos agent at {agent} refused to read task {task}'s log: {why}")]
    Refused { task: String, agent: String, why: String },
}

fn waiting_suffix(why: &str) -> String {
    if why.is_empty() {
        String::new()
    } else {
        format!(": {why}")
    }
}

impl LogError {
    /// The gRPC status `ReadTaskLog` answers, with this text.
    pub fn status(&self) -> Status {
        let message = self.to_string();
        match self {
            LogError::Invalid(_) => Status::invalid_argument(message),
            LogError::UnknownTask(_) | LogError::NeverPlaced { .. } | LogError::SandboxGone { .. } => {
                Status::not_found(message)
            }
            LogError::NotLaunched { .. } => Status::failed_precondition(message),
            LogError::NotSubscribed(_) | LogError::UnknownAgent { .. } | LogError::Unreachable { .. } => {
                Status::unavailable(message)
            }
            LogError::Refused { .. } => Status::internal(message),
        }
    }
}

/// Reads of sandbox files from the Mesos agents.
#[derive(Debug)]
pub struct Sandboxes {
    http: reqwest::Client,
    /// The configured master, asked when no offer named an agent's endpoint.
    master_url: String,
    /// The endpoints the master gave.
    endpoints: RwLock<BTreeMap<String, AgentEndpoint>>,
}

impl Sandboxes {
    pub fn new(master_url: impl Into<String>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).build()?;
        Ok(Self {
            http,
            master_url: master_url.into(),
            endpoints: RwLock::new(BTreeMap::new()),
        })
    }

    /// The endpoint of the sandbox's agent: as offers gave it, else as the
    /// master gave it (asked once, then remembered).
    async fn endpoint(&self, sandbox: &TaskSandbox) -> Result<AgentEndpoint, LogError> {
        if let Some(endpoint) = &sandbox.endpoint {
            return Ok(endpoint.clone());
        }
        let known = self
            .endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sandbox.agent_id)
            .cloned();
        if let Some(endpoint) = known {
            return Ok(endpoint);
        }
        let unknown = |why: String| LogError::UnknownAgent {
            task: sandbox.task_id.clone(),
            agent_id: sandbox.agent_id.clone(),
            why,
        };
        let listed = agents::from_master(&self.http, &self.master_url).await.map_err(|e| {
            unknown(match &e {
                SlavesError::Http { master, source } => {
                    format!("cannot ask the Mesos master at {master}: {}", root_cause(source))
                }
                other => other.to_string(),
            })
        })?;
        debug!(
            agents = listed.len(),
            "learnt the Mesos agents' endpoints from the master"
        );
        let mut endpoints = self.endpoints.write().unwrap_or_else(|p| p.into_inner());
        for (id, endpoint) in listed {
            endpoints.entry(id).or_insert(endpoint);
        }
        endpoints.get(&sandbox.agent_id).cloned().ok_or_else(|| {
            unknown(format!(
                "the Mesos master at {} does not list it (the agent was removed)",
                self.master_url
            ))
        })
    }

    /// Reads `file` (`stdout` or `stderr`) of the sandbox from `offset`:
    /// up to `length` bytes (0 or more than `MAX_LOG_READ_BYTES`: that
    /// many), in as many `/files/read` calls as the agent's cap needs.
    /// `offset` -1 answers the size. Returns the data and where it starts.
    pub async fn read(
        &self,
        sandbox: &TaskSandbox,
        file: &str,
        offset: i64,
        length: u32,
    ) -> Result<(Vec<u8>, i64), LogError> {
        if offset < -1 {
            return Err(LogError::Invalid(format!(
                "offset {offset} is negative (give -1 for the size of the file)"
            )));
        }
        let agent = self.endpoint(sandbox).await?;
        let path = format!(
            "{}/{file}",
            files::sandbox_path(&sandbox.framework_id, &sandbox.executor_id)
        );
        if offset == -1 {
            let chunk = files::read(&self.http, &agent, &path, -1, 0)
                .await
                .map_err(|e| self.words(sandbox, e))?;
            return Ok((Vec::new(), i64::try_from(chunk.offset).unwrap_or(i64::MAX)));
        }
        let limit = MAX_LOG_READ_BYTES as usize;
        let want = match length as usize {
            0 => limit,
            n => n.min(limit),
        };
        let mut data = Vec::new();
        let mut at = offset;
        while data.len() < want {
            let ask = want - data.len();
            let chunk = files::read(&self.http, &agent, &path, at, ask as u64)
                .await
                .map_err(|e| self.words(sandbox, e))?;
            let got = chunk.data.len().min(ask);
            data.extend_from_slice(&chunk.data[..got]);
            at += i64::try_from(got).unwrap_or(0);
            if got == 0 || (got < ask && got < MESOS_MIN_READ_CAP) {
                break;
            }
        }
        Ok((data, offset))
    }

    /// A `/files/read` failure in words naming the task and the agent.
    fn words(&self, sandbox: &TaskSandbox, error: FilesError) -> LogError {
        let task = sandbox.task_id.clone();
        let named = |agent: &AgentEndpoint| {
            if sandbox.hostname.is_empty() || sandbox.hostname == agent.host {
                agent.to_string()
            } else {
                format!("{agent} ({})", sandbox.hostname)
            }
        };
        match error {
            FilesError::NotFound { agent, .. } => LogError::SandboxGone {
                task,
                agent: named(&agent),
            },
            FilesError::Http { agent, source } => {
                let why = if source.is_timeout() {
                    "it did not answer in time".to_string()
                } else {
                    root_cause(&source)
                };
                LogError::Unreachable {
                    task,
                    agent: named(&agent),
                    why,
                }
            }
            FilesError::BadAddress { agent, reason } => LogError::Unreachable {
                task,
                agent: named(&agent),
                why: reason,
            },
            FilesError::Refused { agent, status, body } => LogError::Refused {
                task,
                agent: named(&agent),
                why: if body.is_empty() {
                    status.to_string()
                } else {
                    format!("{status}: {body}")
                },
            },
            FilesError::Decode { agent, source } => LogError::Refused {
                task,
                agent: named(&agent),
                why: format!("an answer that is not a file chunk ({source})"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> TaskSandbox {
        TaskSandbox {
            task_id: "default.web.0a1b2c3d4e.a".into(),
            agent_id: "S1".into(),
            endpoint: None,
            hostname: "node-1".into(),
            framework_id: "F".into(),
            executor_id: "default.web.0a1b2c3d4e.a".into(),
        }
    }

    #[tokio::test]
    async fn an_unreachable_agent_is_named_by_host_and_port() {
        // A port nothing listens on: bound, then closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let sandboxes = Sandboxes::new(format!("http://127.0.0.1:{port}")).expect("a client");
        let at = TaskSandbox {
            endpoint: Some(AgentEndpoint {
                scheme: "http".into(),
                host: "127.0.0.1".into(),
                port,
            }),
            ..sandbox()
        };
        let error = sandboxes.read(&at, "stdout", 0, 0).await.expect_err("nothing listens");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot reach the Mesos agent at 127.0.0.1:{port} (node-1) that runs task default.web.0a1b2c3d4e.a: connection refused"
            )
        );
        assert_eq!(error.status().code(), tonic::Code::Unavailable);
    }

    #[tokio::test]
    async fn an_agent_unknown_to_offers_is_asked_of_the_master() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let sandboxes = Sandboxes::new(format!("http://127.0.0.1:{port}")).expect("a client");
        let error = sandboxes.read(&sandbox(), "stdout", 0, 0).await.expect_err("no master");
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot find the Mesos agent S1 of task default.web.0a1b2c3d4e.a: cannot ask the Mesos master at http://127.0.0.1:{port}")),
            "{error}"
        );
    }

    #[test]
    fn statuses_follow_the_cause() {
        let gone = LogError::SandboxGone {
            task: "t".into(),
            agent: "a:1".into(),
        };
        assert_eq!(gone.status().code(), tonic::Code::NotFound);
        assert!(
            gone.to_string()
                .contains("the agent removed it, or the task never started")
        );
        let waiting = LogError::NotLaunched {
            task: "t".into(),
            waiting: "waiting for an offer: needs cpus 1".into(),
        };
        assert_eq!(waiting.status().code(), tonic::Code::FailedPrecondition);
        assert_eq!(
            waiting.to_string(),
            "task t has not been launched yet: waiting for an offer: needs cpus 1"
        );
    }
}
