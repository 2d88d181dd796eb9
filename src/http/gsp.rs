//! `/store`: the SPARQL 1.1 Graph Store HTTP Protocol, with indirect graph
//! identification (`/store?default`, `/store?graph=IRI`) and direct
//! identification (`/store/{path}`: the graph whose IRI is that very URL).
//!
//! Statuses follow the Recommendation: GET of a missing graph is 404; PUT/POST
//! that create a graph answer 201, that change one 204; DELETE of a missing graph
//! is 404; POST of triples to `/store` itself creates a new graph, answered 201
//! with the new graph's IRI in `Location` (a `/store/…` URL, served directly).
//! Writes check the token before the body is read; the body's relative IRIs
//! resolve against the graph's IRI (the request's URL for the default graph).

use super::sparql::pick;
use super::{public_base, stream_response, AppState, WriteAccess};
use crate::conneg;
use crate::error::AppError;
use crate::store::{GraphTarget, GraphWrite};
use axum::body::Bytes;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;
use std::sync::atomic::{AtomicU64, Ordering};

pub fn routes() -> Router<AppState> {
    let not_allowed = || async {
        AppError::MethodNotAllowed {
            message: "the Graph Store answers GET, HEAD, PUT, POST and DELETE".into(),
            allow: "GET, HEAD, PUT, POST, DELETE",
        }
    };
    Router::new().route("/store", get(read).put(replace).post(merge).delete(remove).fallback(not_allowed)).route(
        "/store/{*path}",
        get(direct_read).put(direct_replace).post(direct_merge).delete(direct_remove).fallback(not_allowed),
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

/// The graph a directly identified request addresses: its own URL (no query).
fn direct_target(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<GraphTarget, AppError> {
    let iri = format!("{}{}", public_base(&state.config, headers), uri.path());
    NamedNode::new(&iri)
        .map(GraphTarget::Named)
        .map_err(|e| AppError::BadRequest(format!("{iri:?} is not a valid graph IRI: {e}")))
}

fn body_format(headers: &HeaderMap) -> Result<RdfFormat, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    format_of(content_type)
}

fn format_of(content_type: &str) -> Result<RdfFormat, AppError> {
    conneg::rdf_format_of_content_type(content_type).ok_or_else(|| AppError::UnsupportedMediaType {
        got: if content_type.is_empty() { "(none)".into() } else { content_type.to_owned() },
        accepted: conneg::offered(&conneg::rdf_formats()),
    })
}

/// How deep `multipart/mixed` parts may nest inside a `multipart/form-data` body.
const MULTIPART_DEPTH: usize = 4;

/// The RDF documents of a write's body: the body in its media type, or each
/// part of a `multipart/form-data` body (GSP §5.5: the parts are merged), whose
/// parts may themselves be `multipart/mixed`, up to [`MULTIPART_DEPTH`] levels.
async fn documents(headers: &HeaderMap, body: Bytes) -> Result<Vec<(Bytes, RdfFormat)>, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut documents = Vec::new();
    collect_documents(content_type.to_owned(), body, 0, &mut documents).await?;
    Ok(documents)
}

fn collect_documents<'a>(
    content_type: String,
    body: Bytes,
    depth: usize,
    into: &'a mut Vec<(Bytes, RdfFormat)>,
) -> futures::future::BoxFuture<'a, Result<(), AppError>> {
    Box::pin(async move {
        if !content_type.trim_start().to_ascii_lowercase().starts_with("multipart/") {
            into.push((body, format_of(&content_type)?));
            return Ok(());
        }
        if depth >= MULTIPART_DEPTH {
            return Err(AppError::BadRequest(format!("multipart parts nest more than {MULTIPART_DEPTH} levels deep")));
        }
        let bad = |e: multer::Error| AppError::BadRequest(format!("the multipart body does not parse: {e}"));
        // Any multipart type (form-data outside, mixed inside): the boundary parameter.
        let boundary = content_type
            .parse::<mime::Mime>()
            .ok()
            .and_then(|m| m.get_param(mime::BOUNDARY).map(|b| b.as_str().to_owned()))
            .ok_or_else(|| AppError::BadRequest(format!("{content_type:?} has no boundary parameter")))?;
        let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        while let Some(field) = multipart.next_field().await.map_err(bad)? {
            let part_type = field.content_type().map(ToString::to_string).unwrap_or_default();
            let part = field.bytes().await.map_err(bad)?;
            collect_documents(part_type, part, depth + 1, into).await?;
        }
        Ok(())
    })
}

/// The IRI a body's relative IRIs resolve against: the graph's own IRI, or the
/// request's URL for the default graph and whole-store requests.
fn body_base(state: &AppState, headers: &HeaderMap, target: Option<&GraphTarget>, uri: &Uri) -> String {
    match target {
        Some(GraphTarget::Named(g)) => g.as_str().to_owned(),
        _ => format!("{}{}", public_base(&state.config, headers), uri),
    }
}

async fn read(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    read_target(&state, target(raw.as_deref())?, &headers).await
}

async fn direct_read(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let target = direct_target(&state, &headers, &uri)?;
    read_target(&state, Some(target), &headers).await
}

async fn read_target(state: &AppState, target: Option<GraphTarget>, headers: &HeaderMap) -> Result<Response, AppError> {
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
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
    _access: WriteAccess,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let target =
        target(raw.as_deref())?.ok_or_else(|| AppError::BadRequest("PUT needs `?default` or `?graph=IRI`".into()))?;
    write_target(&state, target, &headers, &uri, body, GraphWrite::Replace).await
}

async fn direct_replace(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    _access: WriteAccess,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let target = direct_target(&state, &headers, &uri)?;
    write_target(&state, target, &headers, &uri, body, GraphWrite::Replace).await
}

async fn write_target(
    state: &AppState,
    target: GraphTarget,
    headers: &HeaderMap,
    uri: &Uri,
    body: Bytes,
    how: GraphWrite,
) -> Result<Response, AppError> {
    let documents = documents(headers, body).await?;
    let base = body_base(state, headers, Some(&target), uri);
    let created = state.store.write_graph(target, documents, base, how).await?;
    Ok(if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT }.into_response())
}

async fn merge(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
    _access: WriteAccess,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    if let Some(target) = target(raw.as_deref())? {
        return write_target(&state, target, &headers, &uri, body, GraphWrite::Merge).await;
    }
    let format = body_format(&headers)?;
    if format.supports_datasets() {
        let base = body_base(&state, &headers, None, &uri);
        state.store.add_dataset(body, format, base).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let graph = mint_graph(&public_base(&state.config, &headers));
    let base = graph.as_str().to_owned();
    state.store.write_graph(GraphTarget::Named(graph.clone()), vec![(body, format)], base, GraphWrite::Merge).await?;
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(graph.as_str()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

async fn direct_merge(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    _access: WriteAccess,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let target = direct_target(&state, &headers, &uri)?;
    write_target(&state, target, &headers, &uri, body, GraphWrite::Merge).await
}

async fn remove(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _access: WriteAccess,
) -> Result<Response, AppError> {
    let target = target(raw.as_deref())?
        .ok_or_else(|| AppError::BadRequest("DELETE needs `?default` or `?graph=IRI`".into()))?;
    state.store.delete_graph(target).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn direct_remove(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    _access: WriteAccess,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let target = direct_target(&state, &headers, &uri)?;
    state.store.delete_graph(target).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A fresh graph IRI for POST /store, under this server's `/store/`, so the
/// Graph Store serves it by direct identification: time-based and unique
/// within the process.
fn mint_graph(base: &str) -> NamedNode {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    NamedNode::new_unchecked(format!("{base}/store/upload/{nanos:x}-{n}"))
}
