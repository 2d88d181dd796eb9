//! The HTTP layer: one sub-router per concern, merged here, plus the layers every
//! request goes through (request log and metrics, CORS, compression, body limit).
//!
//! Handlers are thin: extract, call one function of `sparql`/`store`, return
//! `Result<_, AppError>`. Store errors become `AppError`s in one place (below).

mod gsp;
mod linked_data;
mod ops;
mod queries;
mod sparql;
mod ui;

use crate::config::Config;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::store::{ByteReceiver, KgStore, StoreError};
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

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: KgStore,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The saved-query catalogue in service (reloadable).
    pub queries: Arc<crate::queries::Registry>,
    /// Answers of saved queries, keyed by query, bindings, format and data version.
    pub cache: Arc<crate::queries::cache::AnswerCache>,
    /// VoID statistics (full scans), computed once per store generation.
    pub statistics: Arc<crate::linked_data::void::StatisticsCache>,
}

/// The whole application as a router.
pub fn router(state: AppState) -> Router {
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
    Router::new()
        .merge(sparql::routes())
        .merge(gsp::routes())
        .merge(ops::routes())
        .merge(queries::routes())
        .merge(linked_data::routes())
        .merge(ui::routes())
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::track))
        .layer(CompressionLayer::new())
        .layer(cors)
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .with_state(state)
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Timeout(secs) => AppError::Timeout { secs },
            StoreError::Cancelled => AppError::Cancelled,
            StoreError::Overloaded => AppError::Overloaded,
            StoreError::Refused(m) => AppError::Forbidden(m),
            StoreError::Evaluation(m) => AppError::BadRequest(m),
            StoreError::GraphNotFound(g) => AppError::NotFound(format!("graph {g} does not exist")),
            StoreError::Parse(m) => AppError::MalformedRdf(m),
            StoreError::Storage(m) => AppError::Internal(m),
        }
    }
}

/// A 200 response streaming `body` with `media_type`.
/// An answer that is already complete (the usual case for small ones: the store
/// closes the channel before it releases the head) goes out as one body with a
/// `Content-Length`; anything else streams chunk by chunk.
fn stream_response(media_type: &str, body: ByteReceiver) -> Response {
    let mut body = body;
    let first = body.try_recv().ok();
    let second = body.try_recv();
    let body = match (first, second) {
        (Some(Ok(whole)), Err(mpsc::error::TryRecvError::Disconnected)) => Body::from(whole),
        (first, second) => {
            let ready = first.into_iter().chain(second.ok());
            // poll_fn (not unfold): compression layers may poll again after the end.
            let rest = futures::stream::poll_fn(move |cx| body.poll_recv(cx));
            Body::from_stream(futures::stream::iter(ready).chain(rest))
        }
    };
    let mut response = Response::new(body);
    set_content_type(response.headers_mut(), media_type);
    response
}

fn set_content_type(headers: &mut HeaderMap, media_type: &str) {
    let value =
        if media_type.starts_with("text/") { format!("{media_type}; charset=utf-8") } else { media_type.to_owned() };
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(header::CONTENT_TYPE, v);
    }
}

/// The base URL clients reach this server at: `--public-url`, or from `Host`.
fn public_base(config: &Config, headers: &HeaderMap) -> String {
    if let Some(url) = &config.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .map(str::to_owned)
        .unwrap_or_else(|| config.bind.to_string());
    format!("http://{host}")
}

/// The Content-Security-Policy of every HTML page: scripts and styles only from
/// this server (no inline script, no inline style), nothing embeds our pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers: `nosniff` everywhere; CSP, `Referrer-Policy` and framing
/// rules on HTML and SVG.
async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("image/svg+xml"));
    let h = response.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if is_page {
        h.insert("content-security-policy", HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
    response
}
