//! `/sparql`: the SPARQL 1.1 Protocol endpoint (query, update, service description).
//!
//! Order of checks: the method (router), the body size (body-limit layer), the
//! write token of an update (before its body is read, when the media type says
//! it is one; right after reading a form that holds `update`), then parsing,
//! which the store does on a deep-stack thread under admission.

use super::{public_base, set_content_type, stream_response, AppState, UpdateGate};
use crate::auth;
use crate::conneg;
use crate::error::AppError;
use crate::sparql::depth::{self, QueryForm};
use crate::sparql::protocol::{self, SparqlRequest};
use crate::sparql::results::{rdf_serializer, OutputFormat};
use crate::sparql::service_description;
use crate::store::{QueryJob, UpdateJob};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/sparql",
        get(query_by_get).post(query_by_post).fallback(|| async {
            AppError::MethodNotAllowed {
                message: "/sparql answers GET (queries) and POST (queries and updates)".into(),
                allow: "GET, HEAD, POST",
            }
        }),
    )
}

async fn query_by_get(State(state): State<AppState>, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let outcome = match protocol::from_get(raw.as_deref()) {
        Ok(request) => respond(&state, request, &headers).await,
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

/// Every answer of the endpoint depends on `Accept`, errors included.
fn with_vary(outcome: Result<Response, AppError>) -> Response {
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// The IRI relative IRIs of a query or update resolve against: the endpoint's URL.
fn endpoint(state: &AppState, headers: &HeaderMap) -> String {
    format!("{}/sparql", public_base(&state.config, headers))
}

async fn respond(state: &AppState, request: SparqlRequest, headers: &HeaderMap) -> Result<Response, AppError> {
    match request {
        SparqlRequest::Query { text, dataset, format } => {
            if text.len() > state.config.max_query_bytes {
                return Err(AppError::PayloadTooLarge(format!(
                    "the query is {} bytes; this server takes queries of at most {} bytes (--max-query-bytes)",
                    text.len(),
                    state.config.max_query_bytes
                )));
            }
            let is_graph = matches!(depth::form(&text), Some(QueryForm::Construct | QueryForm::Describe));
            let (media_type, output) = negotiate_query(is_graph, headers, format.as_deref())?;
            let base = endpoint(state, headers);
            let job = QueryJob { dataset, ..QueryJob::text(text, "") }.with_base(base);
            let body = state.store.query(job, output).await?;
            Ok(stream_response(media_type, body))
        }
        SparqlRequest::Update { text, dataset } => {
            auth::require_write(state.config.write_token.as_deref(), headers)?;
            state.store.update(UpdateJob { text, base: Some(endpoint(state, headers)), dataset }).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        SparqlRequest::ServiceDescription => service_description(state, headers).await,
    }
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

async fn service_description(state: &AppState, headers: &HeaderMap) -> Result<Response, AppError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (media_type, format) = pick(&conneg::rdf_formats(), accept, None)?;
    let base = public_base(&state.config, headers);
    let endpoint = format!("{base}/sparql");
    let catalogue = format!("{base}/queries");
    let graphs = state.store.named_graphs(1000).await?;
    let graph = service_description::describe(
        &endpoint,
        state.store.options().union_default_graph,
        &graphs,
        Some(&catalogue),
        state.store.is_remote(),
    );
    let mut serializer = rdf_serializer(format).for_writer(Vec::new());
    for triple in &graph {
        serializer.serialize_triple(triple).map_err(AppError::internal)?;
    }
    let body = serializer.finish().map_err(AppError::internal)?;
    let mut response = body.into_response();
    set_content_type(response.headers_mut(), media_type);
    Ok(response)
}
