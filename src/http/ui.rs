//! The web interface's routes: `/`, `/editor`, `/timeline.svg` and the static
//! assets (stylesheet, editor script), compiled into the binary.

use super::{set_content_type, AppState};
use crate::error::AppError;
use crate::linked_data::iri::page_href;
use crate::summary::Views;
use crate::ui::{data, home, pages, svg};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/editor", get(editor))
        .route("/timeline.svg", get(timeline))
        .route("/map.svg", axum::routing::post(map_svg))
        .route("/editor/vocabulary.json", get(vocabulary))
        .route("/assets/style.css", get(|| async { asset(include_str!("../../assets/style.css"), "text/css") }))
        .route("/assets/editor.js", get(|| async { asset(include_str!("../../assets/editor.js"), "text/javascript") }))
        .route("/assets/search.js", get(|| async { asset(include_str!("../../assets/search.js"), "text/javascript") }))
        .route(
            "/assets/completion.js",
            get(|| async { asset(include_str!("../../assets/completion.js"), "text/javascript") }),
        )
}

fn asset(body: &'static str, media_type: &'static str) -> Response {
    let mut response = body.into_response();
    set_content_type(response.headers_mut(), media_type);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

pub(super) async fn home(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    // The day the map shows the withdrawals on: the reader's, else today.
    let day = super::query_param(raw.as_deref(), "date").filter(|d| !d.is_empty());
    let day = day.unwrap_or_else(data::today);
    // Drawn once per day asked, saved query's version and data version.
    let catalogue = state.queries.current();
    let version = catalogue.get("withdrawal-status").map(|q| q.version.clone()).unwrap_or_default();
    let (store, asked) = (state.store.clone(), day.clone());
    let withdrawals = state
        .memos
        .home_maps
        .get(format!("{day} {version}"), state.store.generation(), move || async move {
            Ok(data::withdrawal_map(&store, &catalogue, &asked).await?.map(maud::Markup::into_string))
        })
        .await?;
    let snapshot = state.summary.current();
    let store = state.store.clone();
    let sources = state
        .memos
        .sources
        .get((), state.store.generation(), move || async move { data::sources(&store).await })
        .await?;
    let queries: Vec<_> = state.queries.current().iter().cloned().collect();
    let views = &snapshot.views;
    // Over a remote engine the summaries follow the engine's writes within seconds.
    let stale = snapshot.stamp.generation != state.store.generation();
    let map = home::HomeMap { day, map: withdrawals.as_ref().clone().map(maud::PreEscaped) };
    let (featured, events) = (featured(views), timeline_events(views));
    let page = home::home(&home::Home {
        stats: &views.stats,
        sources: &sources,
        featured: &featured,
        queries: &queries,
        events: &events,
        stale,
        map: &map,
    });
    let mut response = Html(page.into_string()).into_response();
    // The version its figures count.
    if let Ok(version) = HeaderValue::from_str(&snapshot.stamp.data_version) {
        response.headers_mut().insert("x-data-version", version);
    }
    Ok(response)
}

/// The timeline's events of a snapshot, as the pictures link them.
fn timeline_events(views: &Views) -> Vec<svg::Event> {
    views
        .events()
        .into_iter()
        .map(|e| svg::Event {
            href: page_href(&e.iri),
            label: e.label,
            date: e.date,
            stated: e.stated,
            precision: e.precision,
        })
        .collect()
}

/// The featured resources of a snapshot, as the home page links them.
fn featured(views: &Views) -> Vec<home::Featured> {
    views
        .featured()
        .into_iter()
        .map(|f| home::Featured { kind: f.kind, class: f.class, href: page_href(&f.iri), label: f.label })
        .collect()
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

/// `/timeline.svg`: drawn once per snapshot of the dataset summaries.
pub(super) async fn timeline(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let snapshot = state.summary.current();
    let events = timeline_events(&snapshot.views);
    super::rendered::cached_at(&state, &headers, "timeline.svg", &snapshot.stamp, move || async move {
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
    ("geo", "http://www.opengis.net/ont/geosparql#"),
    ("geof", "http://www.opengis.net/def/function/geosparql/"),
    ("uom", "http://www.opengis.net/def/uom/OGC/1.0/"),
];

/// What the editor completes: prefixes, the classes and properties the data
/// uses with their counts (from the dataset summaries, named by `data_version`),
/// and the GeoSPARQL functions.
async fn vocabulary(State(state): State<AppState>) -> Result<Response, AppError> {
    let snapshot = state.summary.current();
    let (stats, data_version) = (&snapshot.views.stats, snapshot.stamp.data_version.clone());
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
        .chain(
            spargeo::GEOSPARQL_EXTENSION_FUNCTIONS
                .iter()
                .map(|(f, _)| serde_json::json!({ "iri": f.as_str(), "kind": "GeoSPARQL function" })),
        )
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

/// Most bytes of a `POST /map.svg` body.
const MAP_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// `POST /map.svg`: the map of the WKT values in a SPARQL JSON answer (the
/// editor's "map" view), drawn like every other map here. It reads nothing
/// from the store.
async fn map_svg(body: axum::body::Bytes) -> Result<Response, AppError> {
    if body.len() > MAP_BODY_LIMIT {
        return Err(AppError::PayloadTooLarge(format!("a map is drawn from at most {MAP_BODY_LIMIT} bytes of answer")));
    }
    let rows = crate::exec::run(move || {
        let parsed = oxigraph::sparql::results::QueryResultsParser::from_format(
            oxigraph::sparql::results::QueryResultsFormat::Json,
        )
        .for_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("the body is not a SPARQL JSON answer: {e}")))?;
        let oxigraph::sparql::results::SliceQueryResultsParserOutput::Solutions(solutions) = parsed else {
            return Err(AppError::BadRequest("the body is a boolean answer: there is nothing to map".into()));
        };
        let variables = solutions.variables().to_vec();
        let mut rows = Vec::new();
        for solution in solutions.take(crate::ui::map::MAX_SHAPES) {
            let solution =
                solution.map_err(|e| AppError::BadRequest(format!("the body is not a SPARQL JSON answer: {e}")))?;
            rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect::<Vec<_>>());
        }
        Ok(crate::ui::map::from_rows("The answer's shapes", &rows)
            .map(|m| m.into_string())
            .unwrap_or_else(|| "<p class=\"meta\">No WKT value in the answer.</p>".to_owned()))
    })
    .await??;
    let mut response = rows.into_response();
    set_content_type(response.headers_mut(), "text/html");
    Ok(response)
}
