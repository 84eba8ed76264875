//! Constructors for the calls a scheduler sends, so that what the client
//! sends can be built (and checked against the Mesos protos) without a
//! network. `framework_id` is filled in by the [`crate::client::Caller`].

use std::time::Duration;

use crate::types::*;

impl Call {
    fn of(kind: CallType) -> Self {
        Call {
            kind,
            ..Call::default()
        }
    }

    /// SUBSCRIBE: a new framework when `framework_info.id` is unset, a
    /// re-subscription otherwise (the top-level id must equal it).
    pub fn subscribe(framework_info: FrameworkInfo) -> Self {
        Call {
            framework_id: framework_info.id.clone(),
            subscribe: Some(Subscribe {
                framework_info,
                suppressed_roles: Vec::new(),
            }),
            ..Call::of(CallType::Subscribe)
        }
    }

    /// ACCEPT with one LAUNCH of `tasks` (none: a decline with `filters`).
    pub fn accept(offer_ids: Vec<OfferId>, tasks: Vec<TaskInfo>, refuse_seconds: f64) -> Self {
        let operations = if tasks.is_empty() {
            Vec::new()
        } else {
            vec![Operation {
                kind: OperationType::Launch,
                launch: Some(Launch { task_infos: tasks }),
            }]
        };
        Call {
            accept: Some(Accept {
                offer_ids,
                operations,
                filters: Some(Filters {
                    refuse_seconds: Some(refuse_seconds),
                }),
            }),
            ..Call::of(CallType::Accept)
        }
    }

    pub fn decline(offer_ids: Vec<OfferId>, refuse_seconds: f64) -> Self {
        Call {
            decline: Some(Decline {
                offer_ids,
                filters: Some(Filters {
                    refuse_seconds: Some(refuse_seconds),
                }),
            }),
            ..Call::of(CallType::Decline)
        }
    }

    /// KILL, with a grace period overriding the task's kill policy if given.
    pub fn kill(task_id: TaskId, agent_id: Option<AgentId>, grace: Option<Duration>) -> Self {
        let kill_policy = grace.map(|g| KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: i64::try_from(g.as_nanos()).unwrap_or(i64::MAX),
            }),
        });
        Call {
            kill: Some(Kill {
                task_id,
                agent_id,
                kill_policy,
            }),
            ..Call::of(CallType::Kill)
        }
    }

    /// ACKNOWLEDGE; `uuid` is echoed exactly as received.
    pub fn acknowledge(agent_id: AgentId, task_id: TaskId, uuid: String) -> Self {
        Call {
            acknowledge: Some(Acknowledge {
                agent_id,
                task_id,
                uuid,
            }),
            ..Call::of(CallType::Acknowledge)
        }
    }

    /// RECONCILE: explicit for `tasks`, implicit when empty.
    pub fn reconcile(tasks: Vec<ReconcileTask>) -> Self {
        Call {
            reconcile: Some(Reconcile { tasks }),
            ..Call::of(CallType::Reconcile)
        }
    }

    /// REVIVE of every role.
    pub fn revive() -> Self {
        Call {
            revive: Some(Revive::default()),
            ..Call::of(CallType::Revive)
        }
    }

    /// SUPPRESS of every role.
    pub fn suppress() -> Self {
        Call {
            suppress: Some(Suppress::default()),
            ..Call::of(CallType::Suppress)
        }
    }

    pub fn teardown() -> Self {
        Call::of(CallType::Teardown)
    }

    /// The call's type as Mesos names it, for messages.
    pub fn name(&self) -> &'static str {
        match self.kind {
            CallType::Subscribe => "SUBSCRIBE",
            CallType::Teardown => "TEARDOWN",
            CallType::Accept => "ACCEPT",
            CallType::Decline => "DECLINE",
            CallType::Revive => "REVIVE",
            CallType::Kill => "KILL",
            CallType::Shutdown => "SHUTDOWN",
            CallType::Acknowledge => "ACKNOWLEDGE",
            CallType::Reconcile => "RECONCILE",
            CallType::Message => "MESSAGE",
            CallType::Request => "REQUEST",
            CallType::Suppress => "SUPPRESS",
            _ => "call",
        }
    }
}
