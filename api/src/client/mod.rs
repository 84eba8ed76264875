//! A typed client of the controller's HTTP API (feature `client`): one
//! method per endpoint, answers as `wire` types, refusals as the server's
//! `{code, message, details}`. The CLI uses it; so can anyone's tools.
//!
//! Paths are built from segments (a name is never spliced into a URL), and
//! the bearer token is sent on every request, marked sensitive so it is
//! never logged.

pub mod config;

use futures::{Stream, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::selector::Selector;
use crate::wire::{
    AppDetail, AppView, ApplyResult, ClusterView, DeletedView, ErrorBody, ErrorCode, Event, NodeList, ObjectResult,
    QueueList, RevisionView, RolloutResult, ScaleRequest, SourceView, TaskView, TriggeredView, UndoRequest,
};
use crate::wire::{LOG_OFFSET_HEADER, LOG_TASK_HEADER};

/// The most a body's announced length presizes its buffer by (a body
/// longer still grows as it comes).
const MAX_PRESIZE: u64 = 256 << 20;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server address is not a URL.
    #[error("the server address {server:?} is not a URL ({reason}); pass e.g. --server http://127.0.0.1:7070")]
    BadServer {
        /// As given.
        server: String,
        /// Why.
        reason: String,
    },
    /// The CA certificate given cannot be used.
    #[error("the CA certificate (--ca-cert, SEXTANT_CA_CERT, caCert) cannot be used: {reason}")]
    BadCa {
        /// Why.
        reason: String,
    },
    /// The token cannot be sent in a header.
    #[error("the token (--token, SEXTANT_TOKEN) holds characters an HTTP header cannot carry")]
    BadToken,
    /// The controller did not answer.
    #[error("cannot reach the Sextant controller at {server} (is `sextant up` running? see --server): {reason}")]
    Unreachable {
        /// The server.
        server: String,
        /// Why, in words.
        reason: String,
    },
    /// The controller refused, in its words.
    #[error("{}", refusal_words(.body))]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error it answered.
        body: ErrorBody,
    },
    /// The answer is not what the endpoint documents.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// The URL asked.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

fn refusal_words(body: &ErrorBody) -> String {
    match body.code {
        ErrorCode::InvalidManifest => format!("the controller refused the manifests:\n{}", body.message),
        _ => body.message.clone(),
    }
}

impl ClientError {
    /// The refusal's code, when the controller refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { body, .. } => Some(body.code),
            _ => None,
        }
    }
}

/// A client of one controller.
#[derive(Clone, Debug)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

impl Client {
    /// A client of the controller at `server` (e.g. `http://127.0.0.1:7070`),
    /// sending `token` as a bearer token when there is one.
    pub fn new(server: &str, token: Option<&str>) -> Result<Self, ClientError> {
        Self::with_root_ca(server, token, None)
    }

    /// Like [`Client::new`], trusting the PEM certificate(s) `ca` besides
    /// the system's roots, for an `https://` controller whose certificate
    /// a private authority (or the controller itself) signed.
    pub fn with_root_ca(server: &str, token: Option<&str>, ca: Option<&[u8]>) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadServer {
            server: server.to_string(),
            reason,
        };
        let base = Url::parse(server.trim_end_matches('/')).map_err(|e| bad(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(bad("it must be an http:// or https:// address".into()));
        }
        let mut headers = HeaderMap::new();
        if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ClientError::BadToken)?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut builder = reqwest::Client::builder().default_headers(headers);
        if let Some(pem) = ca {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ClientError::BadCa { reason: e.to_string() })?;
            if certs.is_empty() {
                return Err(ClientError::BadCa {
                    reason: "no PEM certificate in it".into(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| ClientError::Unreachable {
            server: server.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self { base, http })
    }

    /// The server, as given.
    pub fn server(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The URL of `segments` under the server, each segment escaped.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Every app.
    pub async fn apps(&self) -> Result<Vec<AppView>, ClientError> {
        self.apps_filtered(&AppFilter::default()).await
    }

    /// The apps `filter` selects, filtered by the controller
    /// (`?namespace=&name=&labelSelector=`), sorted by namespace and name.
    pub async fn apps_filtered(&self, filter: &AppFilter) -> Result<Vec<AppView>, ClientError> {
        self.apps_filtered_as(filter).await
    }

    /// The same list read as `T`: a type that reads an `AppView` (its
    /// fields by the same names) and may leave fields out, so that a
    /// caller showing a few columns of thousands of apps does not build
    /// what it does not show.
    pub async fn apps_filtered_as<T: DeserializeOwned>(&self, filter: &AppFilter) -> Result<Vec<T>, ClientError> {
        self.json(Method::GET, self.apps_url(filter), None).await
    }

    /// The URL of the app list `filter` selects.
    pub fn apps_url(&self, filter: &AppFilter) -> Url {
        let mut url = self.url(&["api", "v1", "apps"]);
        if filter.namespace.is_some() || filter.name.is_some() || filter.selector.is_some() {
            let mut q = url.query_pairs_mut();
            if let Some(namespace) = &filter.namespace {
                q.append_pair("namespace", namespace);
            }
            if let Some(name) = &filter.name {
                q.append_pair("name", name);
            }
            if let Some(selector) = &filter.selector {
                q.append_pair("labelSelector", &selector.to_string());
            }
        }
        url
    }

    /// One app with its spec, tasks and revisions.
    pub async fn app(&self, namespace: &str, name: &str) -> Result<AppDetail, ClientError> {
        self.json(Method::GET, self.url(&["api", "v1", "apps", namespace, name]), None)
            .await
    }

    /// An app's tasks: live ones, or with `all` recently ended ones too.
    pub async fn app_tasks(&self, namespace: &str, name: &str, all: bool) -> Result<Vec<TaskView>, ClientError> {
        let mut url = self.url(&["api", "v1", "apps", namespace, name, "tasks"]);
        if all {
            url.query_pairs_mut().append_pair("all", "true");
        }
        self.json(Method::GET, url, None).await
    }

    /// An app's revisions, oldest first.
    pub async fn revisions(&self, namespace: &str, name: &str) -> Result<Vec<RevisionView>, ClientError> {
        self.json(
            Method::GET,
            self.url(&["api", "v1", "apps", namespace, name, "revisions"]),
            None,
        )
        .await
    }

    /// Every task the controller knows.
    pub async fn tasks(&self) -> Result<Vec<TaskView>, ClientError> {
        self.json(Method::GET, self.url(&["api", "v1", "tasks"]), None).await
    }

    /// Every source and its last sync.
    pub async fn sources(&self) -> Result<Vec<SourceView>, ClientError> {
        self.json(Method::GET, self.url(&["api", "v1", "sources"]), None).await
    }

    /// Every node (Mesos agent) with its total, used, offered and free
    /// resources, as the agent asked the Mesos master.
    pub async fn nodes(&self) -> Result<NodeList, ClientError> {
        self.json(Method::GET, self.url(&["api", "v1", "cluster", "nodes"]), None)
            .await
    }

    /// The cluster in one answer: the agent's link to Mesos, the nodes and
    /// the launch queue.
    pub async fn cluster(&self) -> Result<ClusterView, ClientError> {
        self.json(Method::GET, self.url(&["api", "v1", "cluster"]), None).await
    }

    /// The agent's launch queue, in launch order, with why each task waits.
    pub async fn queue(&self) -> Result<QueueList, ClientError> {
        self.json(Method::GET, self.url(&["api", "v1", "cluster", "queue"]), None)
            .await
    }

    /// The held events after `after`, filtered by app and kinds.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, ClientError> {
        self.json(Method::GET, self.events_url(filter), None).await
    }

    /// Events as they happen, from after `filter.after`: the server-sent
    /// event stream, each event parsed. The stream ends when the
    /// connection does; resume with the last id seen.
    pub async fn watch_events(
        &self,
        filter: &EventFilter,
    ) -> Result<impl Stream<Item = Result<Event, ClientError>> + use<>, ClientError> {
        let url = self.events_url(filter);
        let request = self
            .http
            .get(url.clone())
            .header(ACCEPT, "text/event-stream")
            .header("last-event-id", filter.after.to_string());
        let response = self.send(request, &url).await?;
        let url = url.to_string();
        let mut bytes = response.bytes_stream();
        let mut pending = String::new();
        Ok(async_stream(move |tx| async move {
            while let Some(chunk) = bytes.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(unreachable(&url, &e))).await;
                        return;
                    }
                };
                pending.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = pending.find("\n\n") {
                    let block: String = pending.drain(..end + 2).collect();
                    let Some(data) = sse_data(&block) else { continue };
                    let event = serde_json::from_str(&data).map_err(|e| ClientError::Unexpected {
                        url: url.clone(),
                        reason: format!("an event that is not JSON: {e}"),
                    });
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            }
        }))
    }

    /// Applies multi-document YAML (or JSON) as the `apply` source. A
    /// refusal of some object is `Refused` with code `Conflict` and the
    /// per-object result in `details` (see [`ClientError`] and
    /// [`refused_apply`]).
    pub async fn apply(&self, text: String, dry_run: bool) -> Result<ApplyResult, ClientError> {
        let mut url = self.url(&["api", "v1", "apply"]);
        url.query_pairs_mut()
            .append_pair("dryRun", if dry_run { "true" } else { "false" });
        self.json(Method::POST, url, Some(("application/yaml", text))).await
    }

    /// What applying `text` would change, object by object.
    pub async fn diff(&self, text: String) -> Result<ApplyResult, ClientError> {
        self.json(
            Method::POST,
            self.url(&["api", "v1", "diff"]),
            Some(("application/yaml", text)),
        )
        .await
    }

    /// Deletes an applied app.
    pub async fn delete_app(&self, namespace: &str, name: &str) -> Result<DeletedView, ClientError> {
        self.json(Method::DELETE, self.url(&["api", "v1", "apps", namespace, name]), None)
            .await
    }

    /// Sets an applied app's instance count.
    pub async fn scale(&self, namespace: &str, name: &str, instances: u32) -> Result<ObjectResult, ClientError> {
        let body = serde_json::to_string(&ScaleRequest { instances }).unwrap_or_default();
        self.json(
            Method::POST,
            self.url(&["api", "v1", "apps", namespace, name, "scale"]),
            Some(("application/json", body)),
        )
        .await
    }

    /// A rollout operation on an app: `pause`, `resume`, `restart`, or
    /// `undo` (to `to_revision`, default the last completed one).
    pub async fn rollout(
        &self,
        namespace: &str,
        name: &str,
        action: RolloutOp,
        to_revision: Option<&str>,
    ) -> Result<RolloutResult, ClientError> {
        let url = self.url(&["api", "v1", "apps", namespace, name, "rollout", action.word()]);
        let body = match (action, to_revision) {
            (RolloutOp::Undo, Some(to)) => {
                let request = UndoRequest {
                    to_revision: Some(to.to_string()),
                };
                Some(("application/json", serde_json::to_string(&request).unwrap_or_default()))
            }
            _ => None,
        };
        self.json(Method::POST, url, body).await
    }

    /// Tells every git source to fetch now.
    pub async fn sync_sources(&self) -> Result<TriggeredView, ClientError> {
        self.json(Method::POST, self.url(&["api", "v1", "sources", "sync"]), None)
            .await
    }

    /// A task's log (`GET .../logs`), its body to be read as it comes: the
    /// task chosen and the byte the body starts at come with it.
    pub async fn logs(&self, namespace: &str, name: &str, ask: &LogRequest) -> Result<LogStream, ClientError> {
        let mut url = self.url(&["api", "v1", "apps", namespace, name, "logs"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("stream", if ask.stderr { "stderr" } else { "stdout" });
            if let Some(task) = &ask.task {
                q.append_pair("task", task);
            }
            match (ask.offset, ask.tail) {
                (Some(offset), _) => {
                    q.append_pair("offset", &offset.to_string());
                }
                (None, Some(lines)) => {
                    q.append_pair("tail", &lines.to_string());
                }
                (None, None) => {}
            }
            if ask.follow {
                q.append_pair("follow", "true");
            }
        }
        let response = self.stream(url).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(LogStream {
            task: header(LOG_TASK_HEADER),
            offset: header(LOG_OFFSET_HEADER).and_then(|o| o.parse().ok()).unwrap_or(0),
            response,
        })
    }

    /// A GET of `url` whose body is read as it comes (logs, streams); a
    /// refusal is an error as for every other call.
    pub async fn stream(&self, url: Url) -> Result<reqwest::Response, ClientError> {
        self.send(self.http.get(url.clone()), &url).await
    }

    fn events_url(&self, filter: &EventFilter) -> Url {
        let mut url = self.url(&["api", "v1", "events"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(app) = &filter.app {
                q.append_pair("app", app);
            }
            if !filter.kinds.is_empty() {
                q.append_pair("kind", &filter.kinds.join(","));
            }
            if filter.after > 0 {
                q.append_pair("after", &filter.after.to_string());
            }
        }
        url
    }

    /// The app list `filter` selects, as the JSON text the controller sent
    /// (for printing it without building a value per app).
    pub async fn apps_text(&self, filter: &AppFilter) -> Result<String, ClientError> {
        self.text(Method::GET, self.apps_url(filter), None).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<(&'static str, String)>,
    ) -> Result<T, ClientError> {
        let text = self.text(method, url.clone(), body).await?;
        serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    /// An answer's body as text.
    async fn text(
        &self,
        method: Method,
        url: Url,
        body: Option<(&'static str, String)>,
    ) -> Result<String, ClientError> {
        let mut request = self.http.request(method, url.clone());
        if let Some((content_type, body)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let mut response = self.send(request, &url).await?;
        // Read into one buffer of the announced length (not chunks copied
        // together at the end), its UTF-8 checked once, in place (not
        // decoded into a copy, nor string by string by the parser): a list
        // of thousands of apps is megabytes.
        let announced = response.content_length().unwrap_or(0).min(MAX_PRESIZE);
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(url.as_str(), &e))? {
            body.extend_from_slice(&chunk);
        }
        let unexpected = |reason: String| ClientError::Unexpected {
            url: url.to_string(),
            reason,
        };
        String::from_utf8(body).map_err(|e| unexpected(format!("the answer is not UTF-8: {e}")))
    }

    /// Sends, and turns a non-2xx answer into `Refused`.
    async fn send(&self, request: reqwest::RequestBuilder, url: &Url) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            server: self.server().to_string(),
            reason: error_chain(&e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        Err(refused(url, status, &text))
    }
}

/// The per-object result of a refused apply, when that is what `e` is.
pub fn refused_apply(e: &ClientError) -> Option<ApplyResult> {
    match e {
        ClientError::Refused { body, .. } if body.code == ErrorCode::Conflict => {
            body.details.clone().and_then(|d| serde_json::from_value(d).ok())
        }
        _ => None,
    }
}

/// What log to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// The task (default: the app's newest live task).
    pub task: Option<String>,
    /// stderr instead of stdout.
    pub stderr: bool,
    /// Only the last lines.
    pub tail: Option<u64>,
    /// From this byte (wins over `tail`).
    pub offset: Option<u64>,
    /// Keep reading as the task writes.
    pub follow: bool,
}

/// A log being read.
#[derive(Debug)]
pub struct LogStream {
    /// The task read, as the controller chose it.
    pub task: Option<String>,
    /// The byte of the file the body starts at.
    pub offset: u64,
    /// The answer, its body still to read (`chunk()`).
    pub response: reqwest::Response,
}

/// A rollout operation by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutOp {
    /// Leave the app's tasks as they are.
    Pause,
    /// Lift a pause.
    Resume,
    /// Replace every task by a rolling update.
    Restart,
    /// Roll back to an earlier revision.
    Undo,
}

impl RolloutOp {
    /// The word in the path.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Restart => "restart",
            Self::Undo => "undo",
        }
    }
}

/// Which apps to list; every field left `None` selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppFilter {
    /// Only this namespace (`None`: every namespace).
    pub namespace: Option<String>,
    /// Only apps of this name.
    pub name: Option<String>,
    /// Only apps whose `metadata.labels` the selector matches.
    pub selector: Option<Selector>,
}

impl AppFilter {
    /// Whether `app` is one the filter selects (what the controller
    /// checks; a client may check again what an older controller, which
    /// ignores the query, answered).
    pub fn matches(&self, app: &AppView) -> bool {
        self.selects(&app.namespace, &app.name, &app.labels)
    }

    /// Whether the app of that namespace, name and labels is selected.
    pub fn selects(&self, namespace: &str, name: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
            && self.name.as_deref().is_none_or(|n| n == name)
            && self.selector.as_ref().is_none_or(|s| s.matches(labels))
    }
}

/// Which events to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this app (`namespace/name`).
    pub app: Option<String>,
    /// Only these kinds.
    pub kinds: Vec<String>,
    /// Only events after this id.
    pub after: u64,
}

/// The refusal a non-2xx answer carries; a body that is not the API's
/// error shape (a proxy's page) is kept in words.
fn refused(url: &Url, status: StatusCode, text: &str) -> ClientError {
    let body = serde_json::from_str::<ErrorBody>(text).unwrap_or_else(|_| {
        let snippet: String = text.chars().take(200).collect();
        ErrorBody::new(
            ErrorCode::Internal,
            format!("{url} answered {status}: {}", snippet.trim()),
        )
    });
    ClientError::Refused {
        status: status.as_u16(),
        body,
    }
}

fn unreachable(url: &str, e: &reqwest::Error) -> ClientError {
    ClientError::Unexpected {
        url: url.to_string(),
        reason: format!("the answer broke off: {}", error_chain(e)),
    }
}

/// An error with its causes, each once.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut words = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !words.contains(&text) {
            words.push_str(": ");
            words.push_str(&text);
        }
        source = cause.source();
    }
    words
}

/// The `data:` lines of one server-sent event block, joined; `None` for a
/// block without data (a keep-alive comment).
fn sse_data(block: &str) -> Option<String> {
    let data: Vec<&str> = block
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    (!data.is_empty()).then(|| data.join("\n"))
}

/// A stream fed by a task through a small channel: the producer waits
/// when the reader is slow, so memory stays bounded.
fn async_stream<T, F, Fut>(produce: F) -> impl Stream<Item = T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_path_segments() {
        let c = Client::new("http://127.0.0.1:7070/", None).expect("client");
        let url = c.url(&["api", "v1", "apps", "default", "a/b?c"]);
        assert_eq!(url.as_str(), "http://127.0.0.1:7070/api/v1/apps/default/a%2Fb%3Fc");
    }

    #[test]
    fn an_app_filter_is_the_lists_query() {
        let c = Client::new("http://127.0.0.1:7070", None).expect("client");
        assert_eq!(
            c.apps_url(&AppFilter::default()).as_str(),
            "http://127.0.0.1:7070/api/v1/apps"
        );
        let filter = AppFilter {
            namespace: Some("team a".into()),
            name: Some("web".into()),
            selector: Some(Selector::parse("tier = web, !canary").expect("selector")),
        };
        assert_eq!(
            c.apps_url(&filter).as_str(),
            "http://127.0.0.1:7070/api/v1/apps?namespace=team+a&name=web&labelSelector=tier%3Dweb%2C%21canary"
        );
    }

    #[test]
    fn a_server_that_is_not_http_is_refused_in_words() {
        let e = Client::new("127.0.0.1:7070", None).expect_err("no scheme");
        assert!(e.to_string().contains("--server http://"), "{e}");
    }

    #[test]
    fn a_refusal_keeps_the_servers_words_and_code() {
        let url = Url::parse("http://x/api/v1/apps/default/web").expect("url");
        let body = r#"{"code":"NotFound","message":"app default/web not found"}"#;
        let e = refused(&url, StatusCode::NOT_FOUND, body);
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        assert_eq!(e.to_string(), "app default/web not found");
        let e = refused(&url, StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
        assert!(e.to_string().contains("502 Bad Gateway"), "{e}");
    }

    #[test]
    fn event_blocks_without_data_are_skipped() {
        assert_eq!(sse_data(": keep-alive\n\n"), None);
        assert_eq!(
            sse_data("id: 3\nevent: task\ndata: {\"a\":1}\n\n").as_deref(),
            Some("{\"a\":1}")
        );
    }
}
