//! The scheduler client: SUBSCRIBE on one long-lived connection, every other
//! call on separate requests carrying `Mesos-Stream-Id`.
//!
//! Leader redirects (307 with a scheme-relative `Location`) are followed;
//! the URL that finally answered becomes the endpoint for later calls. A
//! silent stream is detected with the heartbeat interval the master gave.
//! With a credential (a master running with HTTP framework authentication),
//! every request carries `Authorization: Basic` with principal and secret.

use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};

use crate::cause::http_cause;
use crate::recordio::{RecordIoDecoder, RecordIoError};
use crate::types::*;

/// Header naming the subscription a call belongs to.
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";
/// Path of the scheduler API on a master.
pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";
/// Missed heartbeats tolerated before the stream counts as dead.
const MISSED_HEARTBEATS: f64 = 5.0;
/// Used until SUBSCRIBED says otherwise (Mesos always sends 15 s).
const DEFAULT_HEARTBEAT_SECS: f64 = 15.0;
/// Bound on non-streaming calls, as the Mesos docs advise.
const CALL_TIMEOUT: Duration = Duration::from_secs(75);

/// What can go wrong talking to a master.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid master URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    // The cause is said in words (refused, timed out, DNS, TLS), not as a
    // `#[source]`: a chain printed with `{:#}` would state it twice.
    #[error("cannot reach the Mesos master at {url}: {}", http_cause(cause))]
    Http { url: String, cause: reqwest::Error },
    #[error("lost the event stream from the Mesos master: {}", http_cause(.0))]
    Stream(reqwest::Error),
    #[error("Mesos master refused {call} with {status}: {body}{}", refused_hint(*status))]
    Refused {
        call: &'static str,
        status: StatusCode,
        body: String,
    },
    #[error("Mesos master refused the subscription: {0}")]
    SubscribeRefused(String),
    #[error("SUBSCRIBE response has no Mesos-Stream-Id header")]
    NoStreamId,
    #[error("undecodable event from the Mesos master: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(transparent)]
    RecordIo(#[from] RecordIoError),
    #[error("event stream from the Mesos master ended")]
    StreamEnded,
    #[error("no event from the Mesos master for {0:?} (missed heartbeats)")]
    HeartbeatTimeout(Duration),
}

/// What to do about a refusal, when its status says.
fn refused_hint(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => {
            " (the master requires framework authentication: give the agent --principal and --secret-file, as the master's --credentials lists them)"
        }
        StatusCode::FORBIDDEN => " (the master's ACLs do not allow this principal)",
        _ => "",
    }
}

/// Who a framework authenticates as, with HTTP Basic (Mesos's HTTP
/// framework authentication); also what a master's credentials file holds
/// (`localmesos`). `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Credential {
    pub principal: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl Credential {
    /// `Basic base64(principal:secret)`, marked sensitive (never logged by
    /// the HTTP stack); `None` if it cannot be a header value.
    fn header(&self) -> Option<HeaderValue> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.principal, self.secret));
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// A connection-less handle on a Mesos master.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    /// `Authorization` for every request, with a credential.
    authorization: Option<HeaderValue>,
}

impl Client {
    /// `master` is the master's base URL, e.g. `http://127.0.0.1:5050`.
    pub fn new(master: &str) -> Result<Self, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: master.to_string(),
            reason,
        };
        let base = Url::parse(master).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("scheme must be http or https".into()));
        }
        let endpoint = base.join(SCHEDULER_PATH).map_err(|e| invalid(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|cause| ClientError::Http {
                url: master.to_string(),
                cause,
            })?;
        Ok(Self {
            http,
            endpoint,
            authorization: None,
        })
    }

    /// Authenticates every request with `credential` (HTTP Basic). Set
    /// `FrameworkInfo.principal` to the same principal: Mesos checks both.
    pub fn with_credential(mut self, credential: &Credential) -> Self {
        self.authorization = credential.header();
        self
    }

    /// The request headers: JSON, and the credential if any.
    fn headers(&self) -> HeaderMap {
        let mut headers = json_headers();
        if let Some(value) = &self.authorization {
            headers.insert(AUTHORIZATION, value.clone());
        }
        headers
    }

    /// Subscribes (a new framework when `framework_info.id` is unset, a
    /// re-subscription otherwise) and waits for SUBSCRIBED.
    pub async fn subscribe(&self, framework_info: FrameworkInfo) -> Result<Subscription, ClientError> {
        let call = Call::subscribe(framework_info);
        let body = serde_json::to_vec(&call)?;
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers())
            .body(body)
            .send()
            .await
            .map_err(|source| self.http_error(source))?;
        let status = response.status();
        // The master that answered (after redirects) is the leader.
        let endpoint = response.url().clone();
        if status != StatusCode::OK {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Refused {
                call: "SUBSCRIBE",
                status,
                body,
            });
        }
        let stream_id = response
            .headers()
            .get(STREAM_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or(ClientError::NoStreamId)?;
        let mut events = EventStream {
            body: Box::pin(response.bytes_stream()),
            decoder: RecordIoDecoder::default(),
            idle_timeout: heartbeat_timeout(DEFAULT_HEARTBEAT_SECS),
        };
        let first = events.next().await?;
        let subscribed = match (first.kind, first.subscribed, first.error) {
            (EventType::Subscribed, Some(subscribed), _) => subscribed,
            (EventType::Error, _, Some(error)) => return Err(ClientError::SubscribeRefused(error.message)),
            (kind, _, _) => {
                return Err(ClientError::SubscribeRefused(format!(
                    "expected SUBSCRIBED as the first event, got {kind:?}"
                )));
            }
        };
        let interval = subscribed
            .heartbeat_interval_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_HEARTBEAT_SECS);
        events.idle_timeout = heartbeat_timeout(interval);
        let caller = Caller {
            http: self.http.clone(),
            endpoint,
            headers: self.headers(),
            stream_id,
            framework_id: subscribed.framework_id.clone(),
        };
        Ok(Subscription {
            subscribed,
            caller,
            events,
        })
    }

    fn http_error(&self, cause: reqwest::Error) -> ClientError {
        ClientError::Http {
            url: self.endpoint.to_string(),
            cause,
        }
    }
}

fn heartbeat_timeout(interval_secs: f64) -> Duration {
    Duration::from_secs_f64(interval_secs * MISSED_HEARTBEATS)
}

fn json_headers() -> HeaderMap {
    // Exactly `application/json`: Mesos answers 415 to any parameter.
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The decoded event stream of a subscription.
pub struct EventStream {
    body: ByteStream,
    decoder: RecordIoDecoder,
    idle_timeout: Duration,
}

impl EventStream {
    /// The next event. Errors end the subscription: re-subscribe.
    pub async fn next(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(serde_json::from_slice(&record)?);
            }
            match tokio::time::timeout(self.idle_timeout, self.body.next()).await {
                Err(_) => return Err(ClientError::HeartbeatTimeout(self.idle_timeout)),
                Ok(None) => {
                    self.decoder.finish()?;
                    return Err(ClientError::StreamEnded);
                }
                Ok(Some(Err(cause))) => return Err(ClientError::Stream(cause)),
                Ok(Some(Ok(chunk))) => self.decoder.feed(&chunk),
            }
        }
    }
}

/// A live subscription: the SUBSCRIBED answer, the events after it, and a
/// caller for this subscription's calls.
pub struct Subscription {
    pub subscribed: Subscribed,
    pub caller: Caller,
    pub events: EventStream,
}

/// Sends calls for one subscription. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Caller {
    http: reqwest::Client,
    endpoint: Url,
    /// JSON and the credential, if any.
    headers: HeaderMap,
    stream_id: String,
    framework_id: FrameworkId,
}

impl Caller {
    pub fn framework_id(&self) -> &FrameworkId {
        &self.framework_id
    }

    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// Sends one call; the master answers 202 and reports results as events.
    pub async fn call(&self, mut call: Call) -> Result<(), ClientError> {
        call.framework_id = Some(self.framework_id.clone());
        let name = call.name();
        let body = serde_json::to_vec(&call)?;
        let mut headers = self.headers.clone();
        if let Ok(value) = HeaderValue::from_str(&self.stream_id) {
            headers.insert(STREAM_ID_HEADER, value);
        }
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(headers)
            .timeout(CALL_TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|cause| ClientError::Http {
                url: self.endpoint.to_string(),
                cause,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(ClientError::Refused {
            call: name,
            status,
            body,
        })
    }

    pub async fn accept(
        &self,
        offer_ids: Vec<OfferId>,
        tasks: Vec<TaskInfo>,
        refuse_seconds: f64,
    ) -> Result<(), ClientError> {
        self.call(Call::accept(offer_ids, tasks, refuse_seconds)).await
    }

    pub async fn decline(&self, offer_ids: Vec<OfferId>, refuse_seconds: f64) -> Result<(), ClientError> {
        self.call(Call::decline(offer_ids, refuse_seconds)).await
    }

    pub async fn kill(
        &self,
        task_id: TaskId,
        agent_id: Option<AgentId>,
        grace: Option<Duration>,
    ) -> Result<(), ClientError> {
        self.call(Call::kill(task_id, agent_id, grace)).await
    }

    /// Acknowledges an update; `uuid` is echoed exactly as received.
    pub async fn acknowledge(&self, agent_id: AgentId, task_id: TaskId, uuid: String) -> Result<(), ClientError> {
        self.call(Call::acknowledge(agent_id, task_id, uuid)).await
    }

    /// Explicit reconciliation of `tasks`, or implicit when empty.
    pub async fn reconcile(&self, tasks: Vec<ReconcileTask>) -> Result<(), ClientError> {
        self.call(Call::reconcile(tasks)).await
    }

    pub async fn revive(&self) -> Result<(), ClientError> {
        self.call(Call::revive()).await
    }

    pub async fn suppress(&self) -> Result<(), ClientError> {
        self.call(Call::suppress()).await
    }

    pub async fn teardown(&self) -> Result<(), ClientError> {
        self.call(Call::teardown()).await
    }
}
