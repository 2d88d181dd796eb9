//! `/store`: the SPARQL 1.1 Graph Store HTTP Protocol (`?default`, `?graph=IRI`).
//!
//! Statuses follow the Recommendation: GET of a missing graph is 404; PUT/POST
//! that create a graph answer 201, that change one 204; DELETE of a missing graph
//! is 404; POST of triples to `/store` itself creates a new graph (201 + Location).

use super::sparql::pick;
use super::{public_base, stream_response, AppState};
use crate::auth;
use crate::conneg;
use crate::error::AppError;
use crate::store::GraphTarget;
use crate::vocab;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;
use std::sync::atomic::{AtomicU64, Ordering};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/store",
        get(read).put(replace).post(merge).delete(remove).fallback(|| async {
            AppError::MethodNotAllowed {
                message: "/store answers GET, HEAD, PUT, POST and DELETE".into(),
                allow: "GET, HEAD, PUT, POST, DELETE",
            }
        }),
    )
}

/// The graph a request addresses: `None` for the whole store (no parameter).
fn target(raw: Option<&str>) -> Result<Option<GraphTarget>, AppError> {
    let mut default = false;
    let mut graphs = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "default" => default = true,
            "graph" => graphs.push(value.into_owned()),
            _ => {}
        }
    }
    match (default, graphs.as_slice()) {
        (false, []) => Ok(None),
        (true, []) => Ok(Some(GraphTarget::Default)),
        (false, [iri]) => NamedNode::new(iri.as_str())
            .map(|g| Some(GraphTarget::Named(g)))
            .map_err(|e| AppError::BadRequest(format!("`graph` must be an absolute IRI; {iri:?} is not: {e}"))),
        _ => Err(AppError::BadRequest("give exactly one of `default` or `graph=IRI`".into())),
    }
}

fn body_format(headers: &HeaderMap) -> Result<RdfFormat, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    conneg::rdf_format_of_content_type(content_type).ok_or_else(|| AppError::UnsupportedMediaType {
        got: if content_type.is_empty() { "(none)".into() } else { content_type.to_owned() },
        accepted: conneg::offered(&conneg::rdf_formats()),
    })
}

async fn read(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let target = target(raw.as_deref())?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let offers = if target.is_some() { conneg::rdf_formats() } else { conneg::quad_formats() };
    let (media_type, format) = pick(&offers, accept, None)?;
    let body = state.store.read_graph(target, format).await?;
    let mut response = stream_response(media_type, body);
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

async fn replace(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    auth::require_write(state.config.write_token.as_deref(), &headers)?;
    let target =
        target(raw.as_deref())?.ok_or_else(|| AppError::BadRequest("PUT needs `?default` or `?graph=IRI`".into()))?;
    let format = body_format(&headers)?;
    let created = state.store.write_graph(target, body, format, true).await?;
    Ok(created_or_changed(created))
}

async fn merge(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    auth::require_write(state.config.write_token.as_deref(), &headers)?;
    let format = body_format(&headers)?;
    match target(raw.as_deref())? {
        Some(target) => {
            let created = state.store.write_graph(target, body, format, false).await?;
            Ok(created_or_changed(created))
        }
        None if format.supports_datasets() => {
            state.store.add_dataset(body, format).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => {
            let graph = mint_graph();
            state.store.write_graph(GraphTarget::Named(graph.clone()), body, format, false).await?;
            let location = format!(
                "{}/store?graph={}",
                public_base(&state.config, &headers),
                form_urlencoded::byte_serialize(graph.as_str().as_bytes()).collect::<String>()
            );
            let mut response = StatusCode::CREATED.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            Ok(response)
        }
    }
}

async fn remove(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    auth::require_write(state.config.write_token.as_deref(), &headers)?;
    let target = target(raw.as_deref())?
        .ok_or_else(|| AppError::BadRequest("DELETE needs `?default` or `?graph=IRI`".into()))?;
    state.store.delete_graph(target).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn created_or_changed(created: bool) -> Response {
    if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT }.into_response()
}

/// A fresh graph IRI for POST /store: time-based and unique within the process.
fn mint_graph() -> NamedNode {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    NamedNode::new_unchecked(format!("{}graph/upload/{nanos:x}-{n}", vocab::BASE_IRI))
}
