//! `/search` (HTML, or JSON by `Accept`) and `/search/suggest` (JSON).

use super::AppState;
use crate::conneg;
use crate::error::AppError;
use crate::linked_data::iri::page_href;
use crate::search::{Answer, SearchIndex, MAX_LIMIT, MAX_OFFSET};
use crate::ui;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new().route("/search", get(search)).route("/search/suggest", get(suggest))
}

#[derive(serde::Deserialize)]
struct SearchParams {
    q: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    format: Option<String>,
}

fn index(state: &AppState) -> Result<&Arc<SearchIndex>, AppError> {
    state.search.as_ref().ok_or_else(|| AppError::NotFound("full-text search is switched off (--no-search)".into()))
}

fn whole(
    name: &str,
    value: Option<&str>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, AppError> {
    let Some(value) = value else { return Ok(default) };
    value.parse::<usize>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{name} must be a whole number from {} to {}, not {value:?}",
            range.start(),
            range.end()
        ))
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Form {
    Html,
    Json,
}

async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<SearchParams>,
) -> Result<Response, AppError> {
    let offers = [("text/html", Form::Html), ("application/json", Form::Json)];
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (_, form) = match params.format.as_deref() {
        Some("json") => ("application/json", Form::Json),
        Some("html") => ("text/html", Form::Html),
        Some(other) => return Err(AppError::BadRequest(format!("format must be html or json, not {other:?}"))),
        None => {
            conneg::negotiate(accept, &offers).ok_or(AppError::NotAcceptable { offered: conneg::offered(&offers) })?
        }
    };
    let per_page = whole("per_page", params.per_page.as_deref(), 20, 1..=MAX_LIMIT)?;
    let page = whole("page", params.page.as_deref(), 1, 1..=MAX_OFFSET / per_page + 1)?;
    let q = params.q.unwrap_or_default();
    let index = index(&state)?;
    if q.trim().is_empty() {
        return match form {
            Form::Html => Ok(Html(ui::search::page("", None, 1, per_page).into_string()).into_response()),
            Form::Json => Err(AppError::BadRequest("q is missing: /search?q=words".into())),
        };
    }
    let answer = hits(&state, index, &q, page, per_page).await?;
    let mut response = match form {
        Form::Html => Html(ui::search::page(&q, Some(&answer), page, per_page).into_string()).into_response(),
        Form::Json => Json(json(&q, &answer, page, per_page)).into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(&answer.version) {
        h.insert("x-data-version", v);
    }
    if page * per_page < answer.total {
        let next = format!("<{}&per_page={per_page}>; rel=\"next\"", ui::search::page_link(&q, page + 1));
        if let Ok(v) = HeaderValue::from_str(&next) {
            h.insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// One page of the hits of `q`, ranked once per data version and index version
/// for everyone who asks the same (the memo is emptied by every write; a page
/// answered from an index that is behind is kept under that index's version,
/// so the next search after the index catches up ranks again).
async fn hits(
    state: &AppState,
    index: &Arc<SearchIndex>,
    q: &str,
    page: usize,
    per_page: usize,
) -> Result<Arc<Answer>, AppError> {
    let offset = (page - 1) * per_page;
    let built = index.built_version().unwrap_or_default();
    let key = format!("{built}|{offset}|{per_page}|{q}");
    let (index, q) = (index.clone(), q.to_owned());
    let search = move || async move { Ok::<_, AppError>(index.search(&q, offset, per_page).await?) };
    state.memos.searches.get(key, state.store.generation(), search).await
}

fn json(q: &str, answer: &Answer, page: usize, per_page: usize) -> serde_json::Value {
    serde_json::json!({
        "query": q,
        "total": answer.total,
        "page": page,
        "per_page": per_page,
        "data_version": answer.version,
        "stale": answer.stale,
        "hits": answer.hits.iter().map(|hit| serde_json::json!({
            "iri": hit.iri,
            "label": hit.label,
            "type": hit.types.first(),
            "types": hit.types,
            "snippet": hit.snippet.html,
            "score": hit.score,
            "source": hit.source.as_ref().map(|(iri, text)| serde_json::json!({"iri": iri, "text": text})),
        })).collect::<Vec<_>>(),
    })
}

#[derive(serde::Deserialize)]
struct SuggestParams {
    q: Option<String>,
    limit: Option<String>,
}

async fn suggest(State(state): State<AppState>, Query(params): Query<SuggestParams>) -> Result<Response, AppError> {
    let limit = whole("limit", params.limit.as_deref(), 8, 1..=20)?;
    let q = params.q.unwrap_or_default();
    let suggestions = index(&state)?.suggest(&q, limit).await?;
    let suggestions: Vec<_> = suggestions
        .into_iter()
        .map(|s| serde_json::json!({ "iri": s.iri, "label": s.label, "type": s.kind, "href": page_href(&s.iri) }))
        .collect();
    let mut response = Json(serde_json::json!({ "query": q, "suggestions": suggestions })).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
