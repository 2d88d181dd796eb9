//! Operations routes (`/health`, `/metrics`, `/admin/queries`) and the layer
//! that logs one line per request and feeds the metrics.

use super::AppState;
use crate::auth;
use crate::error::AppError;
use crate::log_line;
use crate::metrics::Metrics;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/admin/queries", get(running_queries))
        .route("/admin/queries/{id}", delete(cancel_query))
        .route("/admin/backup", post(backup))
}

/// Liveness and store reachability.
/// 200 when the store (or the remote engine) answers, 503 with the reason when not.
async fn health(State(state): State<AppState>) -> Response {
    let backend = state.store.backend_name();
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ok",
            "backend": backend,
            "store_generation": state.store.generation(),
            "data_version": state.store.data_version(),
        }))
        .into_response(),
        Err(e) => {
            let reason = if e.is_engine_fault() { e.to_string() } else { "the store does not answer".to_owned() };
            tracing::warn!(error = %e.chain(), "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "backend": backend, "reason": reason })),
            )
                .into_response()
        }
    }
}

/// The metrics as they are now (the quad count from the dataset summaries).
async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    state.metrics.set_quads(state.summary.current().views.stats.triples);
    let mut text = state.metrics.render();
    if let Some(stats) = state.store.engine_stats() {
        text = crate::metrics::with_engine_stats(text, stats);
    }
    let (answered, gave_way) = crate::store::inline_counts();
    text = crate::metrics::with_inline_attempts(text, answered, gave_way);
    if let Some(inference) = &state.inference {
        let (refreshes, regenerations) = inference.runs();
        text = crate::metrics::with_inference_runs(text, refreshes, regenerations);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// The queries and updates running now (needs the write token: query texts may be private).
async fn running_queries(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    auth::require_write(state.config.write_token.as_deref(), &headers)?;
    Ok(Json(state.store.running().list()).into_response())
}

async fn cancel_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    auth::require_write(state.config.write_token.as_deref(), &headers)?;
    let id: u64 = id.parse().map_err(|_| AppError::BadRequest(format!("query id must be a number, got {id:?}")))?;
    if state.store.running().cancel(id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AppError::NotFound(format!("no running query has id {id}")))
    }
}

/// `POST /admin/backup` with form field `dir`: an online, consistent backup of the
/// store into a new directory on the server (needs the write token).
async fn backup(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    auth::require_write(state.config.write_token.as_deref(), &headers)?;
    let dir = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "dir")
        .map(|(_, v)| std::path::PathBuf::from(v.into_owned()))
        .ok_or_else(|| AppError::BadRequest("give the target directory as form field `dir`".into()))?;
    state.store.backup(dir.clone()).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "backup": dir, "data_version": state.store.data_version() })))
        .into_response())
}

/// The layer on every route that gives each request a label (its id, method
/// and route: `log_line`), one structured log line and one metrics sample.
/// The id goes back in `X-Request-Id` and into the body of every 5xx, and
/// every log line of the request carries it. Logs the path only, never the
/// query string or headers, so tokens and parameter values stay out of logs.
///
/// A tower layer of its own rather than `axum::middleware::from_fn`, which
/// boxed the route's service, extracted the state and built a `Next` for
/// every request.
#[derive(Clone)]
pub struct Track {
    metrics: Arc<Metrics>,
}

impl Track {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Track { metrics }
    }
}

impl<S> Layer<S> for Track {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked { inner, metrics: self.metrics.clone() }
    }
}

/// A route's service, tracked ([`Track`]).
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Tracked<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let labels = Arc::new(log_line::Request { id: request_id(), method, route });
        let answer = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let Ok(mut response) = log_line::scope(labels.clone(), answer).await;
            let elapsed = started.elapsed();
            let status = response.status().as_u16();
            if let Ok(value) = HeaderValue::from_str(&labels.id) {
                response.headers_mut().insert(REQUEST_ID, value);
            }
            let timed_out = response.extensions().get::<crate::error::TimedOut>().is_some();
            metrics.record(labels.route(), &labels.method, status, elapsed.as_secs_f64(), timed_out);
            if tracing::enabled!(tracing::Level::INFO)
                && !log_line::access(&labels, module_path!(), &path, status, elapsed)
            {
                log_line::in_scope(labels, || {
                    tracing::info!(path = %path, status, duration_ms = %log_line::Millis(elapsed), "request");
                });
            }
            Ok(response)
        })
    }
}

/// `X-Request-Id`.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id unique across restarts: the process's start time, then a counter.
fn request_id() -> String {
    static EPOCH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let epoch = *EPOCH.get_or_init(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) & 0xff_ffff
    });
    format!("{epoch:06x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
