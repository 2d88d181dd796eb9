//! The HTTP layer: one sub-router per concern, merged here, plus the layers every
//! request goes through (request log and metrics, CORS, compression, body limit).
//!
//! Handlers are thin: extract, call one function of `sparql`/`store`, return
//! `Result<_, AppError>`. Store errors become `AppError`s in one place (below).

mod conditional;
pub mod conn;
mod gsp;
mod linked_data;
mod ops;
mod queries;
mod rendered;
mod search;
mod sparql;
mod ui;

use crate::config::Config;
use crate::error::AppError;
use crate::memo::Memo;
use crate::metrics::Metrics;
use crate::store::{Answer, ByteReceiver, KgStore, StoreError};
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;
use axum::Router;
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

/// What every handler can reach: one shared value, so that the copy each
/// extractor and middleware takes per request is one reference count, not one
/// for each of the parts (their counts were 1.4 % of `ASK {}`).
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl AppState {
    pub fn new(parts: Parts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Parts {
    pub store: KgStore,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The saved-query catalogue in service (reloadable).
    pub queries: Arc<crate::queries::Registry>,
    /// Answers of saved queries, keyed by query, bindings, format and data version.
    pub cache: Arc<crate::queries::cache::AnswerCache>,
    /// Shared computations (statistics, page data), once per data version.
    pub memos: Arc<Memos>,
    /// Answers of `/sparql` queries, keyed by text, dataset, format and data
    /// version (`None` with `--no-query-cache`).
    pub query_cache: Option<Arc<crate::queries::cache::AnswerCache>>,
    /// The inferred graph's keeper (`None` with `--no-inference`).
    pub inference: Option<Arc<crate::inference::Inference>>,
    /// The full-text index (`None` with `--no-search`).
    pub search: Option<Arc<crate::search::SearchIndex>>,
    /// The dataset summaries (counts, events, featured resources, terms).
    pub summary: Arc<crate::summary::Summary>,
}

/// The shared computations behind pages, once per store generation,
/// single-flight, whoever asks.
#[derive(Default)]
pub struct Memos {
    /// What the home page shows of the source files.
    pub sources: Memo<(), Vec<crate::ui::home::SourceSummary>>,
    /// The home page's map, by the day asked and the saved query's version.
    pub home_maps: Memo<String, Option<String>>,
    /// Allowed values of saved-query parameters, by their `values_query` text.
    pub allowed_values: Memo<String, Vec<oxigraph::model::Term>>,
    /// Linked-data responses (resource pages and documents, fragments, VoID,
    /// the ontology, the timeline) by page, format and base: each rendered
    /// once per version.
    pub rendered: Memo<String, rendered::Rendered>,
    /// Pages of search hits, by the index's version, the page and the text:
    /// a popular search (tens of ms at 10M quads) is ranked once per version.
    pub searches: Memo<String, crate::search::Answer>,
}

impl AppState {
    /// The values a `values_query` allows, for the current data.
    pub async fn allowed_values(&self, text: &str) -> Result<Arc<Vec<oxigraph::model::Term>>, AppError> {
        let store = self.store.clone();
        let owned = text.to_owned();
        self.memos
            .allowed_values
            .get(text.to_owned(), self.store.generation(), move || async move {
                crate::queries::allowed_values(&store, &owned).await
            })
            .await
    }
}

/// The whole application: the routes, and around them the layers every request
/// goes through.
///
/// Only the request log and metrics ([`ops::Track`]) sit on each route, since
/// they name the route that matched. The other layers wrap the router once:
/// layered on the router, each of them would be boxed around every route and
/// cloned, allocated and called through a box per request. On `ASK {}` the
/// six per-route layers took 27 µs of a 115 µs request (BENCHMARKS.md, "Where
/// a small query's time went, found by a bare server").
pub fn router(
    state: AppState,
) -> impl tower::Service<axum::extract::Request, Response = Response, Error = std::convert::Infallible, Future: Send>
       + Clone
       + Send
       + Sync
       + 'static {
    let limit = state.config.max_body_bytes;
    // Reads are open to any origin; writes need a bearer token, which browsers
    // only send cross-origin when the server allows the Authorization header.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([header::ACCEPT, header::CONTENT_TYPE])
        .expose_headers([
            header::CONTENT_TYPE,
            header::ETAG,
            header::LINK,
            HeaderName::from_static("x-query-version"),
            HeaderName::from_static("x-data-version"),
            HeaderName::from_static("x-result-truncated"),
        ]);
    let routes = Router::new()
        .merge(sparql::routes())
        .merge(gsp::routes())
        .merge(ops::routes())
        .merge(queries::routes())
        .merge(linked_data::routes())
        .merge(search::routes())
        .merge(ui::routes())
        .layer(ops::Track::new(state.metrics.clone()))
        .with_state(state);
    tower::ServiceBuilder::new()
        .map_response(|response: Response<_>| response.map(Body::new))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(DefaultBodyLimit::max(limit))
        .layer(cors)
        .layer(CompressionLayer::new())
        .map_response(security_headers)
        .service(routes)
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        // Every variant named: a new one does not compile until it is mapped.
        match e {
            StoreError::Timeout(secs) => AppError::Timeout { secs },
            StoreError::Cancelled => AppError::Cancelled,
            StoreError::Overloaded { reason, retry_after_secs } => {
                AppError::Overloaded { reason: reason.to_owned(), retry_after_secs }
            }
            StoreError::TooDeep(e) => AppError::TooDeep(e.to_string()),
            StoreError::Syntax { message, .. } => AppError::MalformedSparql(message),
            StoreError::Refused(m) => AppError::Forbidden(m),
            StoreError::Request(m) => AppError::BadRequest(m),
            StoreError::BadBody(m) => AppError::MalformedRdf(m),
            StoreError::GraphNotFound(g) => AppError::NotFound(format!("graph {g} does not exist")),
            StoreError::EngineRefused(m) => AppError::BadRequest(format!("the SPARQL engine refused the request: {m}")),
            StoreError::NotSupported(m) => AppError::NotImplemented(m),
            StoreError::EngineUnavailable(m) => AppError::BadGateway(m),
            StoreError::EngineTimeout(secs) => AppError::GatewayTimeout { secs },
            StoreError::GaveWay
            | StoreError::Storage(_)
            | StoreError::Engine(_)
            | StoreError::Io { .. }
            | StoreError::Task(_) => AppError::internal(e),
        }
    }
}

impl From<crate::search::SearchError> for AppError {
    fn from(e: crate::search::SearchError) -> Self {
        use crate::search::SearchError;
        match e {
            SearchError::BadRequest(m) => AppError::BadRequest(m),
            SearchError::NotReady => AppError::Overloaded {
                reason: "the search index is being built; try again shortly".into(),
                retry_after_secs: 2,
            },
            SearchError::Store(e) => e.into(),
            SearchError::Index(e) => AppError::internal(anyhow::Error::new(e).context("the search index failed")),
            SearchError::Task(e) => AppError::internal(anyhow::Error::new(e).context("a search failed")),
        }
    }
}

impl From<crate::exec::TaskFailed> for AppError {
    fn from(e: crate::exec::TaskFailed) -> Self {
        AppError::internal(e)
    }
}

/// Proof that a write request carries the write token, checked from the
/// headers alone, before the body is read (an extractor that runs before `Bytes`).
pub struct WriteAccess;

impl axum::extract::FromRequestParts<AppState> for WriteAccess {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, AppError> {
        crate::auth::require_write(state.config.write_token.as_deref(), &parts.headers)?;
        Ok(WriteAccess)
    }
}

/// For `POST /sparql`: a body whose media type says it is an update is not read
/// without the write token (a form may still hold `update`; that one is checked
/// after the form is read, before the update is parsed).
pub struct UpdateGate;

impl axum::extract::FromRequestParts<AppState> for UpdateGate {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, AppError> {
        let is_update = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sparql-update"));
        if is_update {
            crate::auth::require_write(state.config.write_token.as_deref(), &parts.headers)?;
        }
        Ok(UpdateGate)
    }
}

/// A 200 response streaming `body` with `media_type`.
/// An answer that is already complete (the usual case for small ones: the store
/// closes the channel before it releases the head) goes out as one body with a
/// `Content-Length`; anything else streams chunk by chunk.
fn stream_response(media_type: &'static str, body: ByteReceiver) -> Response {
    stream_response_teed(media_type, Answer::Streamed(body), None)
}

/// Where a whole answer goes once it has been sent (the ad-hoc answer cache):
/// only an answer that ended without error and within `limit` bytes.
pub struct Tee {
    pub limit: usize,
    pub keep: Box<dyn FnOnce(bytes::Bytes) + Send>,
}

/// The bytes of an answer collected for its [`Tee`] while they are sent.
struct Collecting {
    tee: Option<Tee>,
    bytes: Vec<u8>,
}

impl Collecting {
    fn see(&mut self, polled: &std::task::Poll<Option<std::io::Result<bytes::Bytes>>>) {
        let Some(tee) = &self.tee else { return };
        match polled {
            std::task::Poll::Ready(Some(Ok(chunk))) if self.bytes.len() + chunk.len() <= tee.limit => {
                self.bytes.extend_from_slice(chunk);
            }
            std::task::Poll::Ready(None) => {
                if let Some(tee) = self.tee.take() {
                    (tee.keep)(bytes::Bytes::from(std::mem::take(&mut self.bytes)));
                }
            }
            std::task::Poll::Pending => {}
            // Too large, or failed midway: nothing is kept.
            std::task::Poll::Ready(Some(_)) => {
                self.tee = None;
                self.bytes = Vec::new();
            }
        }
    }
}

/// [`stream_response`], handing the whole answer to `tee` when it is complete.
fn stream_response_teed(media_type: &'static str, answer: Answer, tee: Option<Tee>) -> Response {
    let mut body = match answer {
        Answer::Whole(whole) => return whole_response(media_type, whole, tee),
        Answer::Streamed(body) => body,
    };
    let first = body.try_recv().ok();
    let second = body.try_recv();
    let body = match (first, second) {
        (Some(Ok(whole)), Err(mpsc::error::TryRecvError::Disconnected)) => {
            return whole_response(media_type, whole, tee);
        }
        (first, second) => {
            let ready = first.into_iter().chain(second.ok());
            // poll_fn (not unfold): compression layers may poll again after the end.
            let rest = futures::stream::poll_fn(move |cx| body.poll_recv(cx));
            let mut chunks = futures::stream::iter(ready).chain(rest);
            let mut collecting = Collecting { tee, bytes: Vec::new() };
            Body::from_stream(futures::stream::poll_fn(move |cx| {
                let polled = chunks.poll_next_unpin(cx);
                collecting.see(&polled);
                polled
            }))
        }
    };
    let mut response = Response::new(body);
    set_content_type(response.headers_mut(), media_type);
    response
}

/// A complete answer: one body with a `Content-Length`, kept by `tee` when
/// it fits.
fn whole_response(media_type: &'static str, whole: bytes::Bytes, tee: Option<Tee>) -> Response {
    if let Some(tee) = tee.filter(|t| whole.len() <= t.limit) {
        (tee.keep)(whole.clone());
    }
    let mut response = Response::new(Body::from(whole));
    // Room for the headers every answer gets (validators, CORS, security, the
    // request id): one allocation instead of growing twice.
    response.headers_mut().reserve(16);
    set_content_type(response.headers_mut(), media_type);
    response
}

/// Sets `Content-Type`: a text type says its charset; any other is the
/// static string itself (no copy, no check per response).
fn set_content_type(headers: &mut HeaderMap, media_type: &'static str) {
    let value = if media_type.starts_with("text/") {
        HeaderValue::from_str(&format!("{media_type}; charset=utf-8")).ok()
    } else {
        Some(HeaderValue::from_static(media_type))
    };
    if let Some(v) = value {
        headers.insert(header::CONTENT_TYPE, v);
    }
}

/// The first value of the parameter `name` in a raw query string.
fn query_param(raw: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The base URL clients reach this server at: `--public-url`, or from `Host`.
fn public_base(config: &Config, headers: &HeaderMap) -> String {
    if let Some(url) = &config.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')));
    // One allocation, with room for the path callers add (`/sparql`).
    let mut base = String::with_capacity(48 + host.map_or(0, str::len));
    base.push_str("http://");
    match host {
        Some(host) => base.push_str(host),
        None => {
            use std::fmt::Write as _;
            let _ = write!(base, "{}", config.bind);
        }
    }
    base
}

/// The Content-Security-Policy of every HTML page: scripts and styles only from
/// this server (no inline script, no inline style), nothing embeds our pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers: `nosniff` everywhere; CSP, `Referrer-Policy` and framing
/// rules on HTML and SVG.
fn security_headers(mut response: Response) -> Response {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("image/svg+xml"));
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if is_page {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
