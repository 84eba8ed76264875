//! The launcher's wire protocol: what the master asks of its launcher
//! process (`Request`) and what the launcher answers (`Response`), one
//! JSON object per line over the socket between them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A task to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Launch {
    /// Chosen by the master; names the task in later requests and answers.
    pub id: u64,
    /// The program to execute (looked up in the task's `PATH` when it has
    /// no `/`).
    pub program: String,
    /// `argv`, `argv[0]` included.
    pub argv: Vec<String>,
    /// The task's whole environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Created if absent, mode 0750, owned by the task's user; the working
    /// directory, with `stdout` and `stderr` (0640) in it.
    pub sandbox: PathBuf,
    /// The user to run as (see `prepare::resolve_user`).
    pub user: String,
}

/// How to stop a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    /// SIGTERM to every process of the task.
    Term,
    /// SIGKILL to every process of the task.
    Kill,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Launch(Launch),
    Signal { id: u64, stop: Stop },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// The program runs as `pid`, with these ids.
    Started { id: u64, pid: u32, uid: u32, gid: u32 },
    /// The task's container could not be set up (its user, its sandbox);
    /// `message` says why, naming what was wrong.
    SetupFailed { id: u64, message: String },
    /// The program could not be executed.
    ExecFailed { id: u64, message: String },
    /// The task's main process ended (and every other process of it was
    /// killed): its exit code, or the signal that ended it.
    Exited {
        id: u64,
        code: Option<i32>,
        signal: Option<i32>,
    },
}

impl Response {
    pub fn id(&self) -> u64 {
        match self {
            Response::Started { id, .. }
            | Response::SetupFailed { id, .. }
            | Response::ExecFailed { id, .. }
            | Response::Exited { id, .. } => *id,
        }
    }

    /// Whether no answer follows this one for the task.
    pub fn is_last(&self) -> bool {
        !matches!(self, Response::Started { .. })
    }
}

/// One message as a line.
pub fn encode<T: Serialize>(message: &T) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    Ok(line)
}
