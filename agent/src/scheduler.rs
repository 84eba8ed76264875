//! The Mesos side of the agent: one subscription at a time, re-established
//! with backoff; offers matched against the launch queue; every update
//! applied to the task table and acknowledged; reconciliation after every
//! (re)subscription and periodically. It keeps the Mesos link (`link`)
//! up to date for the controller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos::agents::AgentEndpoint;
use mesos::client::Caller;
use mesos::types::{
    AgentId, Call, Event, EventType, FrameworkCapability, FrameworkCapabilityType, FrameworkId, FrameworkInfo, Offer,
    OfferId, TaskId, TaskInfo, TaskStatus,
};
use mesos::{Client, ClientError};
use tokio::sync::{Mutex, mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::journal::{Journal, JournalError};
use crate::link::LinkWriter;
use crate::metrics::AgentMetrics;
use crate::outbox::{Outbox, Report};
use crate::placement::{Free, NodeFacts, RegexCache, place};
use crate::preemption;
use crate::reconciliation::Reconciliation;
use crate::tasks::{TaskTable, is_ended};

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
/// How long a production task waits for room before preemptible tasks are
/// killed for it, by default.
pub const DEFAULT_PREEMPTION_DELAY: Duration = Duration::from_secs(10);
/// At most this many victims within `PREEMPTION_WINDOW`, so that the
/// cluster never thrashes.
const MAX_PREEMPTIONS_PER_WINDOW: usize = 20;
const PREEMPTION_WINDOW: Duration = Duration::from_secs(60);
/// Offers that come while `Launch` calls keep arriving are held until
/// none has come for this long...
const BURST_QUIET: Duration = Duration::from_millis(25);
/// ...but never longer than this.
const MAX_HOLD: Duration = Duration::from_millis(500);
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
    /// Constraint patterns, compiled once across offer rounds.
    regexes: RegexCache,
    /// How long a production task waits before preemption makes room for
    /// it (`None`: never).
    preemption_delay: Option<Duration>,
    /// When recent victims were chosen (rate limit).
    preemption_budget: preemption::Budget,
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

/// When held offers are placed: once launches have been quiet for
/// `BURST_QUIET`, and at the latest `MAX_HOLD` after the first was held.
fn hold_until(held_since: tokio::time::Instant, last_wake: Option<tokio::time::Instant>) -> tokio::time::Instant {
    let quiet = last_wake.map_or(held_since, |at| at + BURST_QUIET);
    quiet.min(held_since + MAX_HOLD)
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
            regexes: RegexCache::default(),
            preemption_delay: Some(DEFAULT_PREEMPTION_DELAY),
            preemption_budget: preemption::Budget::new(MAX_PREEMPTIONS_PER_WINDOW, PREEMPTION_WINDOW),
        })
    }

    /// Preempts for production tasks queued this long (`None`: never).
    pub fn with_preemption_delay(mut self, delay: Option<Duration>) -> Self {
        self.preemption_delay = delay;
        self
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

        let (report_tx, mut reports) = mpsc::unbounded_channel();
        let outbox = Outbox::start(caller.clone(), self.metrics.clone(), report_tx);
        let ended = self.serve_events(&caller, &outbox, &mut reports, &mut event_rx).await;
        reader.abort();
        ended
    }

    async fn serve_events(
        &mut self,
        caller: &Caller,
        outbox: &Outbox,
        reports: &mut mpsc::UnboundedReceiver<Report>,
        event_rx: &mut mpsc::Receiver<Result<Event, ClientError>>,
    ) -> Ended {
        let mut round = self.after_subscribe(caller).await;
        let mut suppressed = false;
        // Offers held while launches arrive in a burst, so that the burst
        // goes out in as few ACCEPTs as the offers allow.
        let mut held: Vec<Offer> = Vec::new();
        let mut held_since = tokio::time::Instant::now();
        let mut last_wake: Option<tokio::time::Instant> = None;
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
                    outbox.push(Call::reconcile(unanswered)).await;
                }
                _ = reconcile_timer.tick() => {
                    outbox.push(Call::reconcile(Vec::new())).await;
                }
                command = self.commands.recv() => match command {
                    None => return Ended::Shutdown,
                    Some(Command::Wake) => {
                        last_wake = Some(tokio::time::Instant::now());
                        if suppressed && self.tasks.lock().await.has_pending() {
                            outbox.push(Call::revive()).await;
                            suppressed = false;
                        }
                    }
                    Some(Command::Kill { task_id, agent_id }) => {
                        outbox.push(Call::kill(TaskId::new(task_id), agent_id, None)).await;
                    }
                },
                _ = tokio::time::sleep_until(hold_until(held_since, last_wake)), if !held.is_empty() => {
                    let offers = std::mem::take(&mut held);
                    suppressed = self.on_offers(outbox, offers, suppressed).await;
                }
                Some(report) = reports.recv() => match report {
                    Report::AcceptFailed { task_ids } => {
                        let mut tasks = self.tasks.lock().await;
                        for id in &task_ids {
                            tasks.requeue(id);
                        }
                    }
                    Report::ReviveFailed => suppressed = true,
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
                            let now = tokio::time::Instant::now();
                            if last_wake.is_some_and(|at| now - at < BURST_QUIET) || !held.is_empty() {
                                if held.is_empty() {
                                    held_since = now;
                                }
                                held.extend(offers);
                            } else {
                                suppressed = self.on_offers(outbox, offers, suppressed).await;
                            }
                        }
                        EventType::Update => {
                            if let Some(update) = event.update {
                                round.answered(&update.status.task_id.value);
                                if update.status.reason.as_deref() == Some(RECONCILIATION) {
                                    sync_at = tokio::time::Instant::now() + SYNC_SETTLE;
                                }
                                self.on_update(outbox, update.status).await;
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
                        EventType::Rescind => {
                            if let Some(rescind) = event.rescind {
                                held.retain(|o| o.id != rescind.offer_id);
                            }
                        }
                        EventType::Heartbeat => {}
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
    async fn on_offers(&mut self, outbox: &Outbox, offers: Vec<Offer>, suppressed: bool) -> bool {
        self.metrics.offers_received.inc_by(offers.len() as u64);
        let table = Arc::clone(&self.tasks);
        let mut tasks = table.lock().await;
        for offer in &offers {
            tasks.note_hostname(&offer.agent_id, &offer.hostname);
            tasks.note_facts(&offer.agent_id, NodeFacts::of(offer));
            if let Some(endpoint) = offer.url.as_ref().and_then(AgentEndpoint::from_offer_url) {
                tasks.note_endpoint(&offer.agent_id, endpoint);
            }
        }
        let round = place(tasks.pending(), &offers, &*tasks, &mut self.regexes);
        let left: HashMap<String, Free> = offers
            .iter()
            .zip(&round.left)
            .map(|(o, f)| (o.agent_id.value.clone(), f.clone()))
            .collect();
        let mut declined = Vec::new();
        let mut accepts = Vec::new();
        for plan in round.plans {
            if plan.tasks.is_empty() {
                declined.push(plan.offer_id);
                continue;
            }
            for (task_id, ports) in &plan.ports {
                tasks.mark_launched(task_id, &plan.agent_id, &plan.hostname, ports.clone());
                // Kept before the ACCEPT goes out, so that a restarted agent
                // adopts the task with its spec and resources.
                if let Some(request) = tasks.get(task_id).and_then(|t| t.launch.as_ref())
                    && let Err(e) = self
                        .journal
                        .record_launch(request, &plan.agent_id.value, &plan.hostname, ports)
                {
                    warn!(task_id, error = %e, "cannot record the launch in the journal");
                }
            }
            accepts.push(plan);
        }
        // What still waits did not fit any offer of this round: say why.
        for (task_id, why) in &round.waiting {
            tasks.note_waiting(task_id, why);
        }
        let preempted = self.preempt(&mut tasks, &left);
        let still_pending = tasks.has_pending();
        drop(tasks);

        for (task_id, agent_id) in preempted {
            outbox.push(Call::kill(TaskId::new(task_id), agent_id, None)).await;
        }
        // One ACCEPT per Mesos agent, with every offer and task of it.
        let mut by_agent: Vec<(AgentId, Vec<OfferId>, Vec<TaskInfo>)> = Vec::new();
        for plan in accepts {
            match by_agent.iter_mut().find(|(agent, _, _)| *agent == plan.agent_id) {
                Some((_, offers, tasks)) => {
                    offers.push(plan.offer_id);
                    tasks.extend(plan.tasks);
                }
                None => by_agent.push((plan.agent_id, vec![plan.offer_id], plan.tasks)),
            }
        }
        for (agent, offer_ids, infos) in by_agent {
            let ids: Vec<String> = infos.iter().map(|t| t.task_id.value.clone()).collect();
            info!(offers = ?offer_ids, %agent, tasks = ids.len(), "launching");
            debug!(tasks = ?ids, "launching");
            outbox
                .accept(Call::accept(offer_ids, infos, REFUSE_WHILE_PENDING_SECS), ids)
                .await;
        }
        if !declined.is_empty() {
            let refuse = if still_pending {
                REFUSE_WHILE_PENDING_SECS
            } else {
                REFUSE_WHILE_IDLE_SECS
            };
            let count = declined.len() as u64;
            outbox.decline(Call::decline(declined, refuse), count).await;
        }
        // "Suppressed" here means offers are held back (SUPPRESS, or declined
        // for the idle period): a new launch must REVIVE.
        if !still_pending {
            if !suppressed {
                outbox.push(Call::suppress()).await;
            }
            return true;
        }
        if suppressed {
            outbox.push(Call::revive()).await;
        }
        false
    }

    /// Makes room for the first production task that has waited longer
    /// than the preemption delay and can get room on some node; at most
    /// one per offer round, and within the rate limit. Returns the victims
    /// to kill.
    fn preempt(&mut self, tasks: &mut TaskTable, left: &HashMap<String, Free>) -> Vec<(String, Option<AgentId>)> {
        let Some(delay) = self.preemption_delay else {
            return Vec::new();
        };
        let allowed = self.preemption_budget.left(Instant::now());
        if allowed == 0 {
            return Vec::new();
        }
        let due = tasks.due_for_preemption(delay);
        if due.is_empty() {
            return Vec::new();
        }
        let rooms = tasks.rooms(left);
        if rooms.is_empty() {
            return Vec::new();
        }
        for (task_id, spec) in due {
            let Some(choice) = preemption::choose(&spec, &rooms) else {
                continue;
            };
            if choice.victims.len() > allowed {
                debug!(
                    task_id,
                    victims = choice.victims.len(),
                    "preemption held back by the rate limit"
                );
                return Vec::new();
            }
            info!(
                task_id,
                node = %choice.hostname,
                victims = ?choice.victims,
                "preempting to make room for a production task"
            );
            self.metrics.preemptions.inc_by(choice.victims.len() as u64);
            self.preemption_budget.spend(choice.victims.len(), Instant::now());
            return tasks.preempt(&task_id, &choice.hostname, &choice.victims);
        }
        Vec::new()
    }

    async fn on_update(&self, outbox: &Outbox, status: TaskStatus) {
        let (applied, ended) = {
            let mut tasks = self.tasks.lock().await;
            let applied = tasks.apply_status(&status);
            let ended = tasks.get(&status.task_id.value).is_some_and(|t| is_ended(t.view.state));
            (applied, ended)
        };
        if applied
            && ended
            && let Err(e) = self.journal.forget(&status.task_id.value)
        {
            warn!(task_id = %status.task_id, error = %e, "cannot forget an ended task in the journal");
        }
        debug!(
            task_id = %status.task_id,
            state = status.state.as_str(),
            applied,
            "status update"
        );
        // Every copy of a reliable update is acknowledged, even ignored ones,
        // or Mesos redelivers it forever and holds back later updates. It is
        // queued once the update is in the table and published to watchers.
        if let (Some(uuid), Some(agent_id)) = (status.uuid.clone(), status.agent_id.clone()) {
            outbox.acknowledge(agent_id, status.task_id.clone(), uuid);
        }
    }
}
