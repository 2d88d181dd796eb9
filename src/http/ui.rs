//! The web interface's routes: `/`, `/editor`, `/timeline.svg` and the static
//! assets (stylesheet, editor script), compiled into the binary.

use super::kept::summary_job;
use super::{set_content_type, AppState};
use crate::error::AppError;
use crate::ui::{data, pages, svg};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::future::BoxFuture;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/editor", get(editor))
        .route("/timeline.svg", get(timeline))
        .route("/editor/vocabulary.json", get(vocabulary))
        .route("/assets/style.css", get(|| async { asset(include_str!("../../assets/style.css"), "text/css") }))
        .route("/assets/editor.js", get(|| async { asset(include_str!("../../assets/editor.js"), "text/javascript") }))
        .route("/assets/search.js", get(|| async { asset(include_str!("../../assets/search.js"), "text/javascript") }))
        .route(
            "/assets/completion.js",
            get(|| async { asset(include_str!("../../assets/completion.js"), "text/javascript") }),
        )
}

fn asset(body: &'static str, media_type: &str) -> Response {
    let mut response = body.into_response();
    set_content_type(response.headers_mut(), media_type);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

pub(super) async fn home(State(state): State<AppState>) -> Result<Response, AppError> {
    let generation = state.store.generation();
    // At most `--summary-patience-ms` for the summaries of a new data version
    // (counted from the first summary asked at it); past it, the previous
    // version's, marked as such (computed on for the next visitor).
    let deadline = state.summary_deadline(generation);
    // One after the other, not at once: each can run past `--heavy-after-ms` on
    // a large store, and four moving to the heavy lane together shed each other
    // (the first view at 1M quads was a 503). Past the deadline the rest start
    // at once, for the next visitor: `memos.scans` still runs them one at a time.
    let memos = &state.memos;
    let (stats, v1) = memos.statistics.get_or_previous((), generation, deadline, state.statistics_job()).await?;
    let sources_job = summary_job(&state, "sources", |store| async move { data::sources(&store).await });
    let (sources, v2) = memos.sources.get_or_previous((), generation, deadline, sources_job).await?;
    let featured_job = summary_job(&state, "featured", |store| async move { data::featured(&store).await });
    let (featured, v3) = memos.featured.get_or_previous((), generation, deadline, featured_job).await?;
    let (events, v4) = memos.events.get_or_previous((), generation, deadline, events_job(&state)).await?;
    let stale = [v1, v2, v3, v4].iter().any(|v| *v != generation);
    let queries: Vec<_> = state.queries.current().iter().cloned().collect();
    Ok(Html(pages::home(&stats, &sources, &featured, &queries, &events, stale).into_string()).into_response())
}

/// The timeline's events of the current data (shared by the home page and the picture).
async fn events(state: &AppState) -> Result<std::sync::Arc<Vec<svg::Event>>, AppError> {
    state.memos.events.get((), state.store.generation(), events_job(state)).await
}

/// What `memos.events` holds, computed over the current data.
fn events_job(state: &AppState) -> impl FnOnce() -> BoxFuture<'static, Result<Vec<svg::Event>, AppError>> {
    summary_job(state, "events", |store| async move { data::events(&store).await })
}

async fn editor(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    editor_page(&state, super::query_param(raw.as_deref(), "query"))
}

/// The editor, with `initial` (or an example) in it: `/editor`, and `/sparql`
/// opened in a browser.
pub(super) fn editor_page(state: &AppState, initial: Option<String>) -> Response {
    let initial = initial
        .unwrap_or_else(|| format!("{}\nSELECT ?state ?label WHERE {{\n  ?state a tkg:SovereignState ; rdfs:label ?label .\n}}\nORDER BY ?label\n", pages::editor_prefixes()));
    let examples: Vec<_> = state.queries.current().iter().cloned().collect();
    Html(pages::editor(&initial, &examples).into_string()).into_response()
}

/// `/timeline.svg`: a dataset summary, so after a write it may be the previous
/// version's picture (with that version's validators) while the new one is drawn.
pub(super) async fn timeline(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let state2 = state.clone();
    super::rendered::cached_summary(&state, &headers, "timeline.svg", move || async move {
        let events = events(&state2).await?;
        let mut response =
            format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}", svg::timeline(&events, true).into_string())
                .into_response();
        set_content_type(response.headers_mut(), "image/svg+xml");
        Ok(response)
    })
    .await
}

/// Well-known vocabularies offered for completion besides the ones answers are written with.
const MORE_PREFIXES: &[(&str, &str)] = &[
    ("time", "http://www.w3.org/2006/time#"),
    ("vann", "http://purl.org/vocab/vann/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("sh", "http://www.w3.org/ns/shacl#"),
    ("wd", "http://www.wikidata.org/entity/"),
    ("search", crate::search::NS),
];

/// What the editor completes: prefixes, and the classes and properties the data
/// uses with their counts (from the VoID statistics, once per data version).
/// After a write, past `--summary-patience-ms`, the previous version's (named
/// by `data_version`) while the new ones are counted.
async fn vocabulary(State(state): State<AppState>) -> Result<Response, AppError> {
    let generation = state.store.generation();
    let deadline = state.summary_deadline(generation);
    let job = state.statistics_job();
    let (stats, at) = state.memos.statistics.get_or_previous((), generation, deadline, job).await?;
    let (stats, data_version) = match state.store.stamp(at) {
        Some(stamp) => (stats, stamp.data_version),
        None => (state.statistics().await?, state.store.data_version()),
    };
    let prefixes: Vec<_> = crate::sparql::results::PREFIXES
        .iter()
        .chain(MORE_PREFIXES)
        .map(|(p, ns)| serde_json::json!({ "prefix": p, "namespace": ns }))
        .collect();
    let terms: Vec<_> = stats
        .classes
        .iter()
        .map(|(c, n)| ("class", c, n))
        .chain(stats.properties.iter().map(|(p, n)| ("property", p, n)))
        .map(|(kind, iri, count)| serde_json::json!({ "iri": iri.as_str(), "kind": kind, "count": count }))
        .collect();
    let mut response = axum::Json(serde_json::json!({
        "data_version": data_version,
        "prefixes": prefixes,
        "terms": terms,
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
