//! Responses rendered once per data version and kept between requests, with
//! their validators (`ETag`, `Last-Modified`, `X-Data-Version`) and the 304s
//! they allow.
//!
//! Two kinds:
//! - [`cached`]: a page about some resources or a pattern (resource pages and
//!   documents, fragments, the ontology's RDF). Always of the current version.
//! - [`cached_summary`]: a page summarising the whole dataset (VoID, the
//!   ontology page with its usage counts, the timeline), a full scan whose cost
//!   grows with the data. After a write it waits at most `--summary-patience-ms`
//!   (3 s by default) for the new version's rendering, then answers the previous version's, with that
//!   version's validators (so no cache takes it for the current one) and, in
//!   HTML, a note saying so; the rendering goes on for the next visitor.
//!
//! The patience is counted once per data version for all the summaries
//! together ([`Patience`]): after one write, the first summary asked waits up
//! to the whole of it, and one asked later waits only for what is left of it
//! (at least [`GRACE`], for a rendering whose inputs are ready), not another
//! full patience per page.

use super::AppState;
use crate::error::AppError;
use crate::store::Stamp;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The least a summary asked past its version's patience still waits: enough
/// to render from inputs that are ready (milliseconds), so such a page is not
/// answered from the version before for want of a moment.
pub const GRACE: Duration = Duration::from_millis(100);

/// When the summaries of the newest data version asked stop waiting for it.
#[derive(Default)]
pub struct Patience(Mutex<Option<(u64, Instant)>>);

impl Patience {
    /// The deadline of summaries asked now at `generation`: `patience` after
    /// the first of them, but at least `GRACE` from now (never more than the
    /// patience itself, so no patience means none).
    pub fn deadline(&self, generation: u64, patience: Duration) -> Instant {
        let now = Instant::now();
        let shared = {
            let mut first = crate::memo::lock(&self.0);
            match *first {
                Some((at, deadline)) if at == generation => deadline,
                Some((at, _)) if at > generation => now + patience,
                _ => first.insert((generation, now + patience)).1,
            }
        };
        shared.max(now + GRACE.min(patience))
    }
}

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

/// Like [`cached`], for a page summarising the whole dataset: past the
/// configured patience after a write (at 10M quads a summary takes tens of
/// seconds), the previous version's rendering, with its own
/// validators and `X-Data-Version`, and in HTML [`crate::ui::stale_note`].
pub async fn cached_summary<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    key: &str,
    build: F,
) -> Result<Response, AppError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send + 'static,
{
    cached_summary_or(state, headers, key, build, || async { Ok(None) }).await
}

/// Like [`cached_summary`], for a page with no rendering of its own from an
/// older version (VoID for a host or a format first asked after a write):
/// past the patience, `older` may render it from an older version's inputs,
/// and names that version (it gets that version's validators).
pub async fn cached_summary_or<F, Fut, O, OFut>(
    state: &AppState,
    headers: &HeaderMap,
    key: &str,
    build: F,
    older: O,
) -> Result<Response, AppError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send + 'static,
    O: FnOnce() -> OFut,
    OFut: Future<Output = Result<Option<(u64, Response)>, AppError>>,
{
    let (generation, validators) = match current(state, headers, key) {
        Ok(current) => current,
        Err(not_modified) => return Ok(*not_modified),
    };
    let deadline = state.summary_deadline(generation);
    let state2 = state.clone();
    let older = || async {
        let Some((at, response)) = older().await? else { return Ok(None) };
        let Some(stamp) = state.store.stamp(at) else { return Ok(None) };
        let rendered = render(state, Validators::at(stamp, key), async { Ok(response) }).await?;
        Ok(Some((at, rendered)))
    };
    let (rendered, at) = state
        .memos
        .summaries
        .get_or_older(
            key.to_owned(),
            generation,
            deadline,
            move || async move { render(&state2, validators, build()).await },
            older,
        )
        .await?;
    if at == generation {
        return Ok(respond(&rendered, None));
    }
    if rendered.validators.match_request(headers) {
        return Ok(rendered.validators.not_modified());
    }
    let is_html = rendered
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let noted = if is_html { crate::ui::with_stale_note(&rendered.body) } else { None };
    Ok(respond(&rendered, noted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_version_s_summaries_share_one_patience() {
        let patience = Duration::from_secs(60);
        let shared = Patience::default();
        let first = shared.deadline(7, patience);
        assert!(first >= Instant::now() + Duration::from_secs(59), "the first summary asked waits the whole patience");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(shared.deadline(7, patience), first, "a later one at the same version waits only what is left");
        // A request that read the version before the write: a patience of its own,
        // leaving the newer version's alone.
        let late = shared.deadline(6, patience);
        assert!(late > first, "not the newer version's deadline");
        assert_eq!(shared.deadline(7, patience), first);
        // The next write starts the count again.
        let next = shared.deadline(8, patience);
        assert!(next > first);
        assert_eq!(shared.deadline(8, patience), next);
    }

    #[tokio::test]
    async fn past_the_shared_patience_a_page_still_gets_the_grace_and_no_patience_means_none() {
        let shared = Patience::default();
        let patience = Duration::from_millis(30);
        let first = shared.deadline(1, patience);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let now = Instant::now();
        let later = shared.deadline(1, patience);
        assert!(later > first, "past the shared deadline");
        assert!(later <= now + patience + Duration::from_millis(5), "the grace is capped by the patience");
        let none = Patience::default();
        let now = Instant::now();
        assert!(none.deadline(1, Duration::ZERO) <= Instant::now() && none.deadline(1, Duration::ZERO) >= now);
        let long = Patience::default();
        long.deadline(1, Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = Instant::now();
        let graced = long.deadline(1, Duration::from_secs(3));
        assert!(graced >= now + GRACE, "at least the grace past a spent patience");
        assert!(graced <= Instant::now() + GRACE);
    }
}
