//! The Mesos side of the agent: one subscription at a time, re-established
//! with backoff; offers matched against the launch queue; every update
//! applied to the task table and acknowledged; reconciliation after every
//! (re)subscription and periodically. It keeps the Mesos link (`link`)
//! up to date for the controller.

use std::sync::Arc;
use std::time::Duration;

use mesos::agents::AgentEndpoint;
use mesos::client::Caller;
use mesos::types::{
    AgentId, Event, EventType, FrameworkCapability, FrameworkCapabilityType, FrameworkId, FrameworkInfo, Offer, TaskId,
    TaskStatus,
};
use mesos::{Client, ClientError};
use tokio::sync::{Mutex, mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::journal::{Journal, JournalError};
use crate::link::LinkWriter;
use crate::metrics::AgentMetrics;
use crate::placement::place;
use crate::reconciliation::Reconciliation;
use crate::tasks::TaskTable;

/// Offers we cannot use while tasks wait are declined briefly, so that freed
/// resources come back soon.
const REFUSE_WHILE_PENDING_SECS: f64 = 1.0;
/// Offers declined while idle stay away longer; we also SUPPRESS.
const REFUSE_WHILE_IDLE_SECS: f64 = 30.0;
/// After the first subscription, the task table counts as synced with Mesos
/// once reconciliation answers have been quiet this long...
const SYNC_SETTLE: Duration = Duration::from_secs(1);
/// ...or at the latest this long after subscribing.
const SYNC_MAX: Duration = Duration::from_secs(10);
/// Implicit reconciliation period while subscribed.
const RECONCILE_PERIOD: Duration = Duration::from_secs(300);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(15);
/// The message a master sends the old stream when another scheduler
/// instance subscribed with our framework id.
const FAILED_OVER: &str = "Framework failed over";
/// Reason of the updates that answer a RECONCILE.
const RECONCILIATION: &str = "REASON_RECONCILIATION";

/// Requests from the gRPC side to the Mesos loop.
#[derive(Debug)]
pub enum Command {
    /// New launches are queued: revive offers if suppressed.
    Wake,
    /// Kill a launched task.
    Kill { task_id: String, agent_id: Option<AgentId> },
}

/// Settings of the framework as registered with Mesos.
#[derive(Debug, Clone)]
pub struct FrameworkSettings {
    pub name: String,
    pub user: String,
    pub failover_timeout: Duration,
    /// Who the framework authenticates as (`FrameworkInfo.principal`);
    /// the client sends the secret.
    pub principal: Option<String>,
}

/// The FrameworkInfo Sextant subscribes with: role `*`, checkpointing, a
/// failover timeout, and the capabilities whose semantics it handles.
pub fn framework_info(settings: &FrameworkSettings, id: Option<FrameworkId>) -> FrameworkInfo {
    let capability = |kind| FrameworkCapability { kind: Some(kind) };
    FrameworkInfo {
        user: settings.user.clone(),
        name: settings.name.clone(),
        id,
        failover_timeout: Some(settings.failover_timeout.as_secs_f64()),
        checkpoint: Some(true),
        principal: settings.principal.clone(),
        capabilities: vec![
            capability(FrameworkCapabilityType::TaskKillingState),
            capability(FrameworkCapabilityType::PartitionAware),
        ],
        ..FrameworkInfo::default()
    }
}

pub struct Scheduler {
    client: Client,
    settings: FrameworkSettings,
    /// Where the framework id is kept across restarts.
    journal: Journal,
    framework_id: Option<FrameworkId>,
    tasks: Arc<Mutex<TaskTable>>,
    commands: mpsc::UnboundedReceiver<Command>,
    shutdown: watch::Receiver<bool>,
    /// Shared with the gRPC side, which reports it as `AgentStatus`.
    link: LinkWriter,
    /// Set once the task table holds what Mesos reported after the first
    /// subscription: before that, a snapshot of a restarted agent would be
    /// empty and the controller would launch duplicates.
    synced: watch::Sender<bool>,
    /// Offers are counted here.
    metrics: AgentMetrics,
}

/// Why the scheduler stopped for good, short of a shutdown: the agent
/// must then exit non-zero, so that a supervisor sees it.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    #[error(
        "Framework failed over: another scheduler subscribed to the Mesos master with this agent's framework id {framework_id}, so this agent stopped (two instances must never schedule one framework; stop the other before starting this one again)"
    )]
    FailedOver { framework_id: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Why one subscription ended.
enum Ended {
    Shutdown,
    /// The subscription was never made.
    NotSubscribed(ClientError),
    /// Another instance took over the framework id: stop for good.
    FailedOver,
    /// The master removed the framework: forget the id, subscribe anew.
    Removed(String),
    Error(ClientError),
}

impl Scheduler {
    /// A scheduler subscribing with the journal's framework id (a new
    /// framework if it has none). An id that cannot be read is an error:
    /// registering anew would orphan the old framework's tasks.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        settings: FrameworkSettings,
        journal: Journal,
        tasks: Arc<Mutex<TaskTable>>,
        commands: mpsc::UnboundedReceiver<Command>,
        shutdown: watch::Receiver<bool>,
        link: LinkWriter,
        synced: watch::Sender<bool>,
    ) -> Result<Self, JournalError> {
        let framework_id = journal.framework_id()?;
        match &framework_id {
            Some(id) => {
                info!(framework_id = %id.value, journal = %journal.path().display(), "re-subscribing with the journal's framework id");
                link.set_framework_id(&id.value);
            }
            None => info!(journal = %journal.path().display(), "no framework id yet: registering as a new framework"),
        }
        Ok(Self {
            client,
            settings,
            journal,
            framework_id,
            tasks,
            commands,
            shutdown,
            link,
            synced,
            metrics: AgentMetrics::default(),
        })
    }

    /// Counts offers into `metrics`.
    pub fn with_metrics(mut self, metrics: AgentMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn framework_info(&self) -> FrameworkInfo {
        framework_info(&self.settings, self.framework_id.clone())
    }

    /// Runs until shutdown (`Ok`), or until it must stop for good: another
    /// instance took over the framework, or its id cannot be persisted.
    pub async fn run(mut self) -> Result<(), Stopped> {
        let mut backoff = BACKOFF_MIN;
        loop {
            if *self.shutdown.borrow() {
                return Ok(());
            }
            let attempt = tokio::select! {
                r = self.client.subscribe(self.framework_info()) => r,
                _ = self.shutdown.changed() => return Ok(()),
            };
            let ended = match attempt {
                Ok(subscription) => {
                    backoff = BACKOFF_MIN;
                    // Kept before anything is launched under it: tasks of
                    // an id we forget would run unmanaged for a week.
                    self.persist_id(&subscription.subscribed.framework_id)?;
                    self.serve(subscription).await
                }
                Err(ClientError::SubscribeRefused(message)) if message.contains("removed") => Ended::Removed(message),
                Err(e) => Ended::NotSubscribed(e),
            };
            self.link.disconnected(self.why(&ended));
            match ended {
                Ended::Shutdown => return Ok(()),
                Ended::FailedOver => {
                    let stopped = Stopped::FailedOver {
                        framework_id: self
                            .framework_id
                            .as_ref()
                            .map(|id| id.value.clone())
                            .unwrap_or_default(),
                    };
                    error!("{stopped}");
                    return Err(stopped);
                }
                Ended::Removed(message) => {
                    warn!(%message, "framework removed by the master; subscribing as a new framework");
                    self.framework_id = None;
                    self.journal.clear_framework_id()?;
                    self.link.set_framework_id("");
                }
                Ended::NotSubscribed(e) => {
                    warn!(error = %self.link.describe(&e), retry_in = ?backoff, "cannot subscribe to Mesos")
                }
                Ended::Error(e) => {
                    warn!(error = %self.link.describe(&e), retry_in = ?backoff, "Mesos subscription lost")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.shutdown.changed() => return Ok(()),
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Why the agent is not subscribed after `ended`, for `AgentStatus`.
    fn why(&self, ended: &Ended) -> String {
        match ended {
            Ended::Shutdown => "the agent is shutting down".to_string(),
            Ended::FailedOver => "another scheduler instance subscribed with this framework id".to_string(),
            Ended::Removed(message) => format!("the Mesos master removed the framework: {message}"),
            Ended::NotSubscribed(e) | Ended::Error(e) => self.link.describe(e),
        }
    }

    /// Adopts the id SUBSCRIBED gave; a new one is on disk before it is
    /// used. Failing to keep it is fatal: the next start would register
    /// anew and run every task twice.
    fn persist_id(&mut self, id: &FrameworkId) -> Result<(), JournalError> {
        if self.framework_id.as_ref() != Some(id) {
            if let Err(e) = self.journal.set_framework_id(id) {
                error!(framework_id = %id.value, error = %e, "cannot persist the framework id; stopping");
                return Err(e);
            }
            self.framework_id = Some(id.clone());
        }
        Ok(())
    }

    async fn serve(&mut self, subscription: mesos::Subscription) -> Ended {
        let mesos::Subscription {
            subscribed,
            caller,
            mut events,
        } = subscription;
        info!(framework_id = %subscribed.framework_id, "subscribed to Mesos");
        self.link.connected(&subscribed.framework_id.value);

        // Events are read by their own task so the heartbeat timer is never
        // reset by our own work.
        let (event_tx, mut event_rx) = mpsc::channel::<Result<Event, ClientError>>(256);
        let reader = tokio::spawn(async move {
            loop {
                let next = events.next().await;
                let failed = next.is_err();
                if event_tx.send(next).await.is_err() || failed {
                    return;
                }
            }
        });

        let ended = self.serve_events(&caller, &mut event_rx).await;
        reader.abort();
        ended
    }

    async fn serve_events(
        &mut self,
        caller: &Caller,
        event_rx: &mut mpsc::Receiver<Result<Event, ClientError>>,
    ) -> Ended {
        let mut round = self.after_subscribe(caller).await;
        let mut suppressed = false;
        let sync_limit = tokio::time::Instant::now() + SYNC_MAX;
        let mut sync_at = tokio::time::Instant::now() + SYNC_SETTLE;
        let mut reconcile_timer = tokio::time::interval(RECONCILE_PERIOD);
        reconcile_timer.tick().await;
        loop {
            let syncing = !*self.synced.borrow();
            tokio::select! {
                _ = self.shutdown.changed() => return Ended::Shutdown,
                _ = tokio::time::sleep_until(sync_at.min(sync_limit)), if syncing => {
                    let count = self.tasks.lock().await.len();
                    info!(tasks = count, "task table synced with Mesos");
                    let _ = self.synced.send(true);
                }
                _ = tokio::time::sleep_until(round.next_at()), if !round.is_done() => {
                    let unanswered = round.retry(tokio::time::Instant::now());
                    debug!(tasks = unanswered.len(), "re-sending explicit reconciliation");
                    if let Err(e) = caller.reconcile(unanswered).await {
                        warn!(error = %e, "explicit reconciliation failed");
                    }
                }
                _ = reconcile_timer.tick() => {
                    if let Err(e) = caller.reconcile(Vec::new()).await {
                        warn!(error = %e, "implicit reconciliation failed");
                    }
                }
                command = self.commands.recv() => match command {
                    None => return Ended::Shutdown,
                    Some(Command::Wake) => {
                        if suppressed && self.tasks.lock().await.has_pending() {
                            match caller.revive().await {
                                Ok(()) => suppressed = false,
                                Err(e) => warn!(error = %e, "REVIVE failed"),
                            }
                        }
                    }
                    Some(Command::Kill { task_id, agent_id }) => {
                        if let Err(e) = caller.kill(TaskId::new(task_id.clone()), agent_id, None).await {
                            warn!(task_id, error = %e, "KILL failed; it is re-sent after re-subscribing");
                        }
                    }
                },
                event = event_rx.recv() => {
                    let event = match event {
                        Some(Ok(event)) => event,
                        Some(Err(e)) => return Ended::Error(e),
                        None => return Ended::Error(ClientError::StreamEnded),
                    };
                    match event.kind {
                        EventType::Offers => {
                            let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                            suppressed = self.on_offers(caller, offers, suppressed).await;
                        }
                        EventType::Update => {
                            if let Some(update) = event.update {
                                round.answered(&update.status.task_id.value);
                                if update.status.reason.as_deref() == Some(RECONCILIATION) {
                                    sync_at = tokio::time::Instant::now() + SYNC_SETTLE;
                                }
                                self.on_update(caller, update.status).await;
                            }
                        }
                        EventType::Error => {
                            let message = event.error.map(|e| e.message).unwrap_or_default();
                            if message == FAILED_OVER {
                                return Ended::FailedOver;
                            }
                            if message.contains("removed") {
                                return Ended::Removed(message);
                            }
                            return Ended::Error(ClientError::SubscribeRefused(message));
                        }
                        EventType::Failure => {
                            if let Some(failure) = event.failure {
                                debug!(?failure, "Mesos FAILURE event");
                            }
                        }
                        EventType::Rescind | EventType::Heartbeat => {}
                        other => debug!(?other, "ignoring Mesos event"),
                    }
                }
            }
        }
    }

    /// After every (re)subscription: REVIVE, reconcile what we know
    /// explicitly, then implicitly (to adopt tasks we forgot), and re-send
    /// pending kills.
    async fn after_subscribe(&self, caller: &Caller) -> Reconciliation {
        // The master keeps a previous instance's decline filters (30 s when
        // it was idle) across a failover: without REVIVE, launches queued
        // now would wait them out.
        if let Err(e) = caller.revive().await {
            warn!(error = %self.link.describe(&e), "REVIVE after subscribing failed");
        }
        let (known, kills) = {
            let tasks = self.tasks.lock().await;
            (tasks.live_launched(), tasks.kills_to_resend())
        };
        let round = Reconciliation::start(known, tokio::time::Instant::now());
        if !round.is_done()
            && let Err(e) = caller.reconcile(round.request()).await
        {
            warn!(error = %e, "explicit reconciliation failed");
        }
        if let Err(e) = caller.reconcile(Vec::new()).await {
            warn!(error = %e, "implicit reconciliation failed");
        }
        for (task_id, agent_id) in kills {
            if let Err(e) = caller.kill(TaskId::new(task_id.clone()), agent_id, None).await {
                warn!(task_id, error = %e, "re-sending KILL failed");
            }
        }
        round
    }

    /// Places pending launches; accepts what fits, declines the rest.
    /// Returns whether offers are now suppressed.
    async fn on_offers(&self, caller: &Caller, offers: Vec<Offer>, suppressed: bool) -> bool {
        self.metrics.offers_received.inc_by(offers.len() as u64);
        let mut tasks = self.tasks.lock().await;
        for offer in &offers {
            tasks.note_hostname(&offer.agent_id, &offer.hostname);
            if let Some(endpoint) = offer.url.as_ref().and_then(AgentEndpoint::from_offer_url) {
                tasks.note_endpoint(&offer.agent_id, endpoint);
            }
        }
        let pending = tasks.pending();
        let round = place(&pending, &offers);
        let mut declined = Vec::new();
        let mut accepts = Vec::new();
        for plan in round.plans.iter().cloned() {
            if plan.tasks.is_empty() {
                declined.push(plan.offer_id);
                continue;
            }
            for (task_id, ports) in &plan.ports {
                tasks.mark_launched(task_id, &plan.agent_id, &plan.hostname, ports.clone());
            }
            accepts.push(plan);
        }
        // What still waits did not fit any offer of this round: say so.
        if !offers.is_empty() {
            for request in tasks.pending() {
                if let Some(spec) = &request.spec {
                    tasks.note_waiting(&request.task_id, &round.waiting_message(spec));
                }
            }
        }
        let still_pending = tasks.has_pending();
        drop(tasks);

        for plan in accepts {
            let ids: Vec<String> = plan.tasks.iter().map(|t| t.task_id.value.clone()).collect();
            info!(offer = %plan.offer_id, agent = %plan.agent_id, tasks = ?ids, "launching");
            if let Err(e) = caller
                .accept(vec![plan.offer_id.clone()], plan.tasks, REFUSE_WHILE_PENDING_SECS)
                .await
            {
                warn!(error = %e, "ACCEPT failed; tasks go back to the queue");
                let mut tasks = self.tasks.lock().await;
                for id in &ids {
                    tasks.requeue(id);
                }
            } else {
                self.metrics.offers_accepted.inc();
            }
        }
        if !declined.is_empty() {
            let refuse = if still_pending {
                REFUSE_WHILE_PENDING_SECS
            } else {
                REFUSE_WHILE_IDLE_SECS
            };
            let count = declined.len() as u64;
            match caller.decline(declined, refuse).await {
                Ok(()) => {
                    self.metrics.offers_declined.inc_by(count);
                }
                Err(e) => warn!(error = %e, "DECLINE failed"),
            }
        }
        // "Suppressed" here means offers are held back (SUPPRESS, or declined
        // for the idle period): a new launch must REVIVE.
        if !still_pending {
            if !suppressed && let Err(e) = caller.suppress().await {
                warn!(error = %e, "SUPPRESS failed");
            }
            return true;
        }
        if suppressed {
            return caller.revive().await.is_err();
        }
        false
    }

    async fn on_update(&self, caller: &Caller, status: TaskStatus) {
        let applied = self.tasks.lock().await.apply_status(&status);
        debug!(
            task_id = %status.task_id,
            state = status.state.as_str(),
            applied,
            "status update"
        );
        // Every copy of a reliable update is acknowledged, even ignored ones,
        // or Mesos redelivers it forever and holds back later updates.
        if let (Some(uuid), Some(agent_id)) = (status.uuid.clone(), status.agent_id.clone())
            && let Err(e) = caller.acknowledge(agent_id, status.task_id.clone(), uuid).await
        {
            warn!(task_id = %status.task_id, error = %e, "ACKNOWLEDGE failed; Mesos will redeliver");
        }
    }
}
