//! Responses rendered once per data version and kept between requests, with
//! their validators (`ETag`, `Last-Modified`, `X-Data-Version`) and the 304s
//! they allow.
//!
//! Two kinds:
//! - [`cached`]: a page about some resources or a pattern (resource pages and
//!   documents, fragments, the ontology's RDF). Always of the current version.
//! - [`cached_at`]: a page drawn from a snapshot of the dataset summaries (VoID,
//!   the ontology page with its usage counts, the timeline), under the
//!   snapshot's own version.

use super::AppState;
use crate::error::AppError;
use crate::store::Stamp;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::time::SystemTime;

/// The largest body kept (VoID and hub documents are far smaller).
const MAX_RENDERED: usize = 64 << 20;

/// A response as kept between requests: rendered once per data version.
pub struct Rendered {
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
    /// The validators of the data version it was rendered from.
    validators: Validators,
}

/// What identifies one rendering of one page at one data version.
#[derive(Clone)]
struct Validators {
    etag: String,
    last_modified: SystemTime,
    data_version: String,
}

impl Validators {
    /// The current data version's validators for the page `key`. The
    /// generation is read first by callers, so a rendering is never older than
    /// the version its validators name.
    fn current(state: &AppState, key: &str) -> Self {
        Self::named(state.store.data_version(), state.store.last_modified(), key)
    }

    /// The validators of the page `key` rendered at an older version.
    fn at(stamp: Stamp, key: &str) -> Self {
        Self::named(stamp.data_version, stamp.last_modified, key)
    }

    fn named(data_version: String, last_modified: SystemTime, key: &str) -> Self {
        let etag = format!("\"{}\"", &crate::sources::content_hash(format!("{data_version}|{key}").as_bytes())[..24]);
        Validators { etag, last_modified, data_version }
    }

    /// The client's copy is this one (`If-None-Match`, else `If-Modified-Since`).
    fn match_request(&self, headers: &HeaderMap) -> bool {
        let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
        match if_none_match {
            Some(_) => crate::queries::cache::matches_if_none_match(if_none_match, &self.etag),
            None => headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .is_some_and(|since| self.last_modified.duration_since(since).map_or(true, |d| d.as_secs() == 0)),
        }
    }

    fn apply(&self, response: &mut Response) {
        let h = response.headers_mut();
        let values = [
            (header::ETAG, self.etag.clone()),
            (header::LAST_MODIFIED, httpdate::fmt_http_date(self.last_modified)),
            (header::HeaderName::from_static("x-data-version"), self.data_version.clone()),
        ];
        for (name, value) in values {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
    }

    fn not_modified(&self) -> Response {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        self.apply(&mut response);
        response
    }
}

/// Runs `build` and keeps what it answered, with `validators`.
async fn render<Fut>(state: &AppState, validators: Validators, build: Fut) -> Result<Rendered, AppError>
where
    Fut: Future<Output = Result<Response, AppError>>,
{
    state.metrics.record_render();
    let (parts, body) = build.await?.into_parts();
    let body = axum::body::to_bytes(body, MAX_RENDERED).await.map_err(AppError::internal)?;
    Ok(Rendered { status: parts.status, headers: parts.headers, body, validators })
}

/// `rendered` with its validators, its body replaced by `body` when given.
fn respond(rendered: &Rendered, body: Option<bytes::Bytes>) -> Response {
    let body = body.unwrap_or_else(|| rendered.body.clone());
    let mut response = (rendered.status, rendered.headers.clone(), body).into_response();
    if response.status().is_success() {
        rendered.validators.apply(&mut response);
    }
    response
}

/// The store generation and `key`'s validators at it, or the 304 to answer
/// when the client's copy is current.
fn current(state: &AppState, headers: &HeaderMap, key: &str) -> Result<(u64, Validators), Box<Response>> {
    let generation = state.store.generation();
    let validators = Validators::current(state, key);
    if validators.match_request(headers) {
        return Err(Box::new(validators.not_modified()));
    }
    Ok((generation, validators))
}

/// Answers 304 when the client's copy is current; otherwise the response of
/// `build`, computed once per data version for everyone who asks (single
/// flight, kept in a bounded memo), with the validators added.
pub async fn cached<F, Fut>(state: &AppState, headers: &HeaderMap, key: &str, build: F) -> Result<Response, AppError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send + 'static,
{
    let (generation, validators) = match current(state, headers, key) {
        Ok(current) => current,
        Err(not_modified) => return Ok(*not_modified),
    };
    let state2 = state.clone();
    let rendered = state
        .memos
        .rendered
        .get(key.to_owned(), generation, move || async move { render(&state2, validators, build()).await })
        .await?;
    Ok(respond(&rendered, None))
}

/// Like [`cached`], for a page drawn from a snapshot of the dataset
/// summaries: its validators name the snapshot's data version (which, over a
/// remote engine, may be older than the store's), and it is rendered once per
/// snapshot.
pub async fn cached_at<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    key: &str,
    stamp: &Stamp,
    build: F,
) -> Result<Response, AppError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send + 'static,
{
    let validators = Validators::at(stamp.clone(), key);
    if validators.match_request(headers) {
        return Ok(validators.not_modified());
    }
    let state2 = state.clone();
    let rendered =
        state
            .memos
            .rendered
            .get(format!("snapshot|{key}"), stamp.generation, move || async move {
                render(&state2, validators, build()).await
            })
            .await?;
    Ok(respond(&rendered, None))
}
