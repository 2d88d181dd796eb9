//! Conditional answers to queries, one way for `/sparql` and the saved
//! queries: the answer's ETag (its cache key's), `304 Not Modified` when the
//! client holds it, and the validators every answer carries.

use crate::queries::cache::matches_if_none_match;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Where an answer came from, as `x-cache` says it (when a cache is on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    Hit,
    Miss,
}

/// `x-cache`: `hit` or `miss`.
const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// `304 Not Modified` with its validators, when `If-None-Match` names `etag`.
pub fn not_modified(headers: &HeaderMap, etag: &str) -> Option<Response> {
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    matches_if_none_match(if_none_match, etag)
        .then(|| with_validators(StatusCode::NOT_MODIFIED.into_response(), etag, None))
}

/// Adds the ETag, `Cache-Control: public, no-cache` (revalidate each time),
/// and `x-cache` when a cache answered or was asked.
pub fn with_validators(mut response: Response, etag: &str, cache: Option<Cache>) -> Response {
    if let Ok(etag) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, no-cache"));
    if let Some(cache) = cache {
        let label = match cache {
            Cache::Hit => "hit",
            Cache::Miss => "miss",
        };
        response.headers_mut().insert(X_CACHE, HeaderValue::from_static(label));
    }
    response
}
