//! A process task's COMMAND health check, started by the task launcher
//! (`crate::launcher`) as a `Role::Probe`: no fork of the process
//! localmesos runs in, and no blocking call on an async worker.
//!
//! The probe runs as the task's user, in its sandbox, with the task's
//! environment plus the check's own variables, and with its output sent
//! to `/dev/null` (the task's `stdout` and `stderr` are neither written to
//! nor truncated). It has a supervisor of its own, like a task: when the
//! probe's future is dropped before the program ended (its timeout passed,
//! or the task is being killed or has ended), the launcher SIGKILLs every
//! process the probe started, a daemonised one included.

use std::sync::Arc;

use mesos::types::CommandInfo;

use super::process::{program_of, set_var, task_env};
use crate::executor::LaunchSpec;
use crate::health::{CheckFuture, CheckResult};
use crate::launcher::{Launch, Launcher, Response, Role, Stop};

/// The launch of `check` for the task of `spec`.
pub(super) fn launch_of(spec: &LaunchSpec, check: &CommandInfo) -> Launch {
    let (program, argv) = program_of(check);
    let mut env = task_env(spec);
    if let Some(environment) = &check.environment {
        for variable in &environment.variables {
            set_var(&mut env, &variable.name, variable.value.as_deref().unwrap_or(""));
        }
    }
    Launch {
        id: 0,
        program,
        argv,
        env,
        sandbox: spec.sandbox.clone(),
        user: spec.user.clone(),
        role: Role::Probe,
        // A probe is not counted against its task's memory limit.
        memory_limit: None,
    }
}

/// Runs `launch` at `launcher`: success for exit status 0. Started when
/// first polled.
pub(super) fn probe(launcher: Arc<Launcher>, launch: Launch) -> CheckFuture {
    Box::pin(async move {
        let launched = launcher.launch(launch);
        let mut running = KillOnDrop {
            launcher,
            id: launched.id,
            ended: false,
        };
        let mut answers = launched.answers;
        let outcome = loop {
            match answers.recv().await {
                Some(Response::Started { .. }) => {}
                Some(Response::Exited { code, signal, .. }) => break exit_result(code, signal),
                Some(Response::SetupFailed { message, .. } | Response::ExecFailed { message, .. }) => {
                    break Err(format!("cannot run the command: {message}"));
                }
                None => break Err("cannot run the command: the task launcher went away".to_string()),
            }
        };
        running.ended = true;
        outcome
    })
}

/// A probe's exit as a check result, in the words of a Rust
/// `ExitStatus` ("exit status: 1", "signal: 9 (SIGKILL)"); a Docker
/// task's exec probe says it the same way.
pub(super) fn exit_result(code: Option<i32>, signal: Option<i32>) -> CheckResult {
    match (code, signal) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(format!("command returned exit status: {code}")),
        (None, Some(signal)) => {
            let name = nix::sys::signal::Signal::try_from(signal).map_or("unknown", |s| s.as_str());
            Err(format!("command returned signal: {signal} ({name})"))
        }
        (None, None) => Err("command ended without an exit status".to_string()),
    }
}

/// Kills every process of a probe that has not ended when dropped.
struct KillOnDrop {
    launcher: Arc<Launcher>,
    id: u64,
    ended: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.ended {
            self.launcher.signal(self.id, Stop::Kill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_read_as_the_check_results_they_were() {
        assert_eq!(exit_result(Some(0), None), Ok(()));
        assert_eq!(
            exit_result(Some(3), None),
            Err("command returned exit status: 3".to_string())
        );
        assert_eq!(
            exit_result(None, Some(9)),
            Err("command returned signal: 9 (SIGKILL)".to_string())
        );
    }
}
