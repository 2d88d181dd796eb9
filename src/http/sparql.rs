//! `/sparql`: the SPARQL 1.1 Protocol endpoint (query, update, service description).
//!
//! Order of checks: the method (router), the body size (body-limit layer), the
//! write token of an update (before its body is read, when the media type says
//! it is one; right after reading a form that holds `update`), then parsing,
//! which the store does on a deep-stack thread under admission.

use super::conditional::{not_modified, with_validators, Cache};
use super::{public_base, set_content_type, stream_response_teed, AppState, Tee, UpdateGate};
use crate::auth;
use crate::conneg;
use crate::error::AppError;
use crate::queries::cache::{CacheKey, CachedAnswer};
use crate::sparql::depth::{self, QueryForm};
use crate::sparql::protocol::{self, SparqlRequest};
use crate::sparql::results::{rdf_serializer, OutputFormat};
use crate::sparql::service_description::{self, Endpoint};
use crate::store::{QueryJob, UpdateJob};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/service-description", get(description_page))
        .route("/sparql/explain", get(explain_by_get).post(explain_by_post))
        .route(
            "/sparql",
            get(query_by_get).post(query_by_post).fallback(|| async {
                AppError::MethodNotAllowed {
                    message: "/sparql answers GET (queries) and POST (queries and updates)".into(),
                    allow: "GET, HEAD, POST",
                }
            }),
        )
}

/// Takes the request's head whole: the `HeaderMap` and `RawQuery` extractors
/// copy the headers and the query string of every request.
async fn query_by_get(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (head, _) = request.into_parts();
    let outcome = match protocol::from_get(head.uri.query()) {
        Ok(request) => respond(&state, request, &head.headers).await,
        Err(e) => Err(e),
    };
    with_vary(outcome)
}

async fn query_by_post(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _gate: UpdateGate,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let outcome = match protocol::from_post(raw.as_deref(), content_type, &body) {
        Ok(request) => respond(&state, request, &headers).await,
        Err(e) => Err(e),
    };
    with_vary(outcome)
}

/// `/sparql/explain?query=…` (or a form POST, or `/sparql?query=…&explain=true`):
/// the query evaluated to its end, answered with the engine's plan, each
/// operator with its rows and time (JSON).
async fn explain_by_get(State(state): State<AppState>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let outcome = match protocol::from_get(raw.as_deref()) {
        Ok(request) => explain(&state, request, &headers).await,
        Err(e) => Err(e),
    };
    outcome.unwrap_or_else(IntoResponse::into_response)
}

async fn explain_by_post(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let outcome = match protocol::from_post(raw.as_deref(), content_type, &body) {
        Ok(request) => explain(&state, request, &headers).await,
        Err(e) => Err(e),
    };
    outcome.unwrap_or_else(IntoResponse::into_response)
}

async fn explain(state: &AppState, request: SparqlRequest, headers: &HeaderMap) -> Result<Response, AppError> {
    let SparqlRequest::Query { text, dataset, .. } = request else {
        return Err(AppError::BadRequest("explain explains queries: send `query`, not an update".into()));
    };
    check_size(state, &text)?;
    let job = QueryJob { dataset, ..QueryJob::text(text, "explain") }.with_base(endpoint(state, headers));
    let mut response = state.store.explain(job).await?.into_response();
    set_content_type(response.headers_mut(), "application/json");
    Ok(response)
}

/// Refuses a query text longer than `--max-query-bytes` (413).
fn check_size(state: &AppState, text: &str) -> Result<(), AppError> {
    if text.len() > state.config.max_query_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "the query is {} bytes; this server takes queries of at most {} bytes (--max-query-bytes)",
            text.len(),
            state.config.max_query_bytes
        )));
    }
    Ok(())
}

/// Every answer of the endpoint depends on `Accept`, errors included.
fn with_vary(outcome: Result<Response, AppError>) -> Response {
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// The IRI relative IRIs of a query or update resolve against: the endpoint's URL.
fn endpoint(state: &AppState, headers: &HeaderMap) -> String {
    let mut base = public_base(&state.config, headers);
    base.push_str("/sparql");
    base
}

async fn respond(state: &AppState, request: SparqlRequest, headers: &HeaderMap) -> Result<Response, AppError> {
    match request {
        SparqlRequest::Query { explain: true, .. } => explain(state, request, headers).await,
        SparqlRequest::Query { text, dataset, format, .. } => {
            check_size(state, &text)?;
            let is_graph = matches!(depth::form(&text), Some(QueryForm::Construct | QueryForm::Describe));
            let (media_type, output) = negotiate_query(is_graph, headers, format.as_deref())?;
            let base = endpoint(state, headers);
            let key = answer_key(&text, &dataset, &base, media_type, state.store.data_version());
            let etag = key.as_ref().map(CacheKey::etag);
            if let (Some(key), Some(etag)) = (&key, &etag) {
                if let Some(response) = not_modified(headers, etag) {
                    return Ok(response);
                }
                if let Some(hit) = state.query_cache.as_ref().and_then(|c| c.get(key)) {
                    let mut response = hit.body.into_response();
                    set_content_type(response.headers_mut(), media_type);
                    return Ok(with_validators(response, etag, Some(Cache::Hit)));
                }
            }
            let job = QueryJob { dataset, ..QueryJob::text(text, "") }.with_base(base);
            let (body, cut) = state.store.query(job, output).await?;
            let tee = key.clone().zip(state.query_cache.clone()).map(|(key, cache)| Tee {
                limit: cache.max_entry(),
                keep: Box::new(move |body| cache.put(key, CachedAnswer { body, truncated: false })),
            });
            let mut response = stream_response_teed(media_type, body, tee);
            if let Some(rows) = cut {
                // Said, not hidden: the engine's own row limit cut the answer.
                response.headers_mut().insert("x-result-truncated", HeaderValue::from_static("true"));
                response.headers_mut().insert("x-result-limit", HeaderValue::from(rows));
            }
            Ok(match &etag {
                Some(etag) => with_validators(response, etag, state.query_cache.as_ref().map(|_| Cache::Miss)),
                None => response,
            })
        }
        SparqlRequest::Update { text, dataset } => {
            auth::require_write(state.config.write_token.as_deref(), headers)?;
            state.store.update(UpdateJob { text, base: Some(endpoint(state, headers)), dataset }).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        SparqlRequest::ServiceDescription => service_description(state, headers, None, true).await,
    }
}

/// What identifies the answer of a query: its exact text, dataset, base and
/// format, and the data version. `None` for a query whose answer may change
/// without a write (`NOW`, `RAND`, `UUID`, `STRUUID`, `BNODE`): never cached.
fn answer_key(
    text: &str,
    dataset: &crate::store::ProtocolDataset,
    base: &str,
    media_type: &'static str,
    data_version: String,
) -> Option<CacheKey> {
    if calls_volatile_function(text) {
        return None;
    }
    // The usual empty dataset adds nothing to the base (its debug form, which
    // a named dataset gets, never starts like a URL).
    let bindings = if dataset.is_empty() { base.to_owned() } else { format!("{dataset:?} {base}") };
    let query_version = format!("sparql {}", crate::sources::content_hash(text.as_bytes()));
    Some(CacheKey { query_version, bindings, media_type, data_version })
}

/// Whether the text calls `NOW`, `RAND`, `UUID`, `STRUUID` or `BNODE`: a name
/// (not part of a longer one, such as `foaf:knows`) followed by `(`. Read
/// back from each `(`, which most small queries have few of or none (a pass
/// looking at every letter that could start a name was 1 µs of a point
/// lookup with three `PREFIX` lines); compared ignoring case, in place.
fn calls_volatile_function(text: &str) -> bool {
    let word_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b':';
    text.match_indices('(').any(|(at, _)| {
        let before = text[..at].trim_end().as_bytes();
        let name = &before[before.iter().rposition(|b| !word_byte(b)).map_or(0, |i| i + 1)..];
        [&b"NOW"[..], b"RAND", b"UUID", b"STRUUID", b"BNODE"].iter().any(|n| name.eq_ignore_ascii_case(n))
    })
}

/// Chooses the answer's format from the query form, `format=` and `Accept`.
pub fn negotiate_query(
    is_graph: bool,
    headers: &HeaderMap,
    format_param: Option<&str>,
) -> Result<(&'static str, OutputFormat), AppError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if is_graph {
        pick(&conneg::rdf_formats(), accept, format_param).map(|(m, f)| (m, OutputFormat::Rdf(f)))
    } else {
        pick(conneg::RESULTS_FORMATS, accept, format_param).map(|(m, f)| (m, OutputFormat::Results(f)))
    }
}

/// `format=` wins over `Accept`; an unknown `format=` is a 400, an unsatisfiable
/// `Accept` a 406 naming what is offered.
pub fn pick<T: Clone>(
    offers: &[(&'static str, T)],
    accept: Option<&str>,
    format_param: Option<&str>,
) -> Result<(&'static str, T), AppError> {
    if let Some(param) = format_param {
        return conneg::from_format_param(param, offers).ok_or_else(|| {
            AppError::BadRequest(format!(
                "unknown format {param:?}; use a media type or one of json, xml, csv, tsv, ttl, nt, nq, trig, rdfxml, jsonld that fits the query form"
            ))
        });
    }
    conneg::negotiate(accept, offers).ok_or_else(|| AppError::NotAcceptable { offered: conneg::offered(offers) })
}

/// `/service-description`: the endpoint's description, as a page or in RDF.
async fn description_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, AppError> {
    let format = super::query_param(raw.as_deref(), "format");
    let mut response = service_description(&state, &headers, format.as_deref(), false).await?;
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

/// The service description: RDF by `Accept` (or `format=`); a browser gets
/// the editor at the endpoint (`at_endpoint`), the description as a page elsewhere.
pub(super) async fn service_description(
    state: &AppState,
    headers: &HeaderMap,
    format_param: Option<&str>,
    at_endpoint: bool,
) -> Result<Response, AppError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some((media_type, format)) = rdf_or_page(accept, format_param)? else {
        if at_endpoint {
            let mut response = super::ui::editor_page(state, None);
            response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
            return Ok(response);
        }
        let base = public_base(&state.config, headers);
        let graph = describe_service(state, &base).await?;
        let triples: Vec<_> = graph.iter().map(|t| t.into_owned()).collect();
        let intro = maud::html! {
            p.lead { "What the SPARQL endpoint " a href="/sparql" { code { (base) "/sparql" } } " offers, as SPARQL 1.1 Service Description." }
        };
        let page = crate::ui::graph_view::graph_page(
            "Service description",
            intro,
            &triples,
            &rdf_links("/service-description"),
        );
        return Ok(axum::response::Html(page.into_string()).into_response());
    };
    let base = public_base(&state.config, headers);
    let graph = describe_service(state, &base).await?;
    let mut serializer = rdf_serializer(format).for_writer(Vec::new());
    for triple in &graph {
        serializer.serialize_triple(triple).map_err(AppError::internal)?;
    }
    let body = serializer.finish().map_err(AppError::internal)?;
    let mut response = body.into_response();
    set_content_type(response.headers_mut(), media_type);
    Ok(response)
}

async fn describe_service(state: &AppState, base: &str) -> Result<oxigraph::model::Graph, AppError> {
    let endpoint = format!("{base}/sparql");
    let catalogue = format!("{base}/queries");
    let graphs = state.store.named_graphs(1000).await?;
    Ok(service_description::describe(&Endpoint {
        url: &endpoint,
        default_graph: state.store.default_graph(),
        named_graphs: &graphs,
        catalogue: Some(&catalogue),
        inference: state.inference.is_some(),
        search: state.search.is_some(),
    }))
}

/// An RDF syntax (media type, format) for a description, or `None` when the
/// client prefers a page (a browser): `format=` first, then `Accept`, where
/// HTML is offered last, so `*/*` still gets RDF.
pub(super) fn rdf_or_page(
    accept: Option<&str>,
    format_param: Option<&str>,
) -> Result<Option<(&'static str, oxigraph::io::RdfFormat)>, AppError> {
    let mut offers: Vec<(&'static str, Option<oxigraph::io::RdfFormat>)> =
        conneg::rdf_formats().into_iter().map(|(m, f)| (m, Some(f))).collect();
    offers.push(("text/html", None));
    if format_param.is_some_and(|f| f.eq_ignore_ascii_case("html")) {
        return Ok(None);
    }
    let (media, format) = pick(&offers, accept, format_param)?;
    Ok(format.map(|f| (media, f)))
}

/// Links to a description in RDF syntaxes (downloads).
pub(super) fn rdf_links(path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Turtle", format!("{path}?format=ttl")),
        ("RDF/XML", format!("{path}?format=rdfxml")),
        ("JSON-LD", format!("{path}?format=jsonld")),
    ]
}

#[cfg(test)]
mod tests {
    use super::calls_volatile_function;

    #[test]
    fn volatile_functions_are_calls_not_substrings() {
        for text in [
            "SELECT (NOW() AS ?t) {}",
            "SELECT (rand () AS ?r) {}",
            "SELECT (STRUUID() AS ?u) {}",
            "SELECT * { BIND(bnode() AS ?b) }",
            "SELECT * { BIND(Now\n  ( ) AS ?b) }",
        ] {
            assert!(calls_volatile_function(text), "{text}");
        }
        for text in [
            "SELECT * { ?a foaf:knows ?b }",
            "SELECT ?now { ?s ?p ?now }",
            "PREFIX rand: <x:> SELECT * { ?s rand:x ?o }",
            "SELECT * { ?s ?p ?o FILTER(foaf:now(?o) || xrand(?o) || ?now) }",
        ] {
            assert!(!calls_volatile_function(text), "{text}");
        }
    }
}
