//! `/queries`, `/queries/{name}`, `/queries/{name}.rq`, `/openapi.json`: the
//! saved-query catalogue and its runs.

use super::conditional::{not_modified, with_validators, Cache};
use super::sparql::{negotiate_query, pick};
use super::{public_base, set_content_type, AppState};
use crate::conneg;
use crate::error::AppError;
use crate::metrics::SavedOutcome;
use crate::queries::cache::{CacheKey, CachedAnswer};
use crate::queries::params;
use crate::queries::{describe, openapi, plain, SavedQuery};
use crate::sparql::results::{rdf_serializer, OutputFormat};
use crate::store::QueryJob;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use oxigraph::model::{Term, Variable};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/queries", get(catalogue))
        .route("/queries/{name}", get(run_by_get).post(run_by_post))
        .route("/openapi.json", get(openapi_document))
}

/// The catalogue: JSON by default, RDF (DCAT + SHACL) by content negotiation.
async fn catalogue(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let catalogue = state.queries.current();
    let base = public_base(&state.config, &headers);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if wants_html(accept, false) {
        let queries: Vec<_> = catalogue.iter().cloned().collect();
        let mut response = Html(crate::ui::pages::catalogue(&queries).into_string()).into_response();
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
        return Ok(response);
    }
    let mut offers: Vec<(&'static str, Option<oxigraph::io::RdfFormat>)> = vec![("application/json", None)];
    offers
        .extend(conneg::rdf_formats().into_iter().filter(|(m, _)| *m != "application/json").map(|(m, f)| (m, Some(f))));
    let (media_type, format) = pick(&offers, accept, None)?;
    let mut response = match format {
        None => {
            let list: Vec<Value> = catalogue.iter().map(|q| summary_json(q, &base)).collect();
            Json(json!({ "queries": list, "openapi": format!("{base}/openapi.json") })).into_response()
        }
        Some(format) => {
            let graph = describe::describe(&catalogue, &base);
            let mut serializer = rdf_serializer(format).for_writer(Vec::new());
            for triple in &graph {
                serializer.serialize_triple(triple).map_err(AppError::internal)?;
            }
            let mut response = serializer.finish().map_err(AppError::internal)?.into_response();
            set_content_type(response.headers_mut(), media_type);
            response
        }
    };
    let link = format!("<{base}/queries>; rel=\"describedby\"; type=\"text/turtle\", <{base}/openapi.json>; rel=\"service-desc\"; type=\"application/vnd.oai.openapi+json\"");
    if let Ok(v) = HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, v);
    }
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

fn summary_json(q: &SavedQuery, base: &str) -> Value {
    json!({
        "name": q.name,
        "summary": q.summary,
        "description": q.description,
        "tags": q.tags,
        "form": q.form(),
        "version": q.version,
        "url": format!("{base}/queries/{}", q.name),
        "source": format!("{base}/queries/{}.rq", q.name),
        "example": q.example,
        "timeout_secs": q.timeout.map(|t| t.as_secs()),
        "row_cap": q.row_cap,
        "params": q.params.iter().map(|p| json!({
            "name": p.name,
            "type": p.kind.describe(),
            "required": p.required,
            "default": p.default,
            "description": p.description,
            "values": p.values,
            "example": p.kind.example(),
        })).collect::<Vec<_>>(),
    })
}

/// The OpenAPI document: one operation per saved query, with the allowed
/// values of its parameters. About 1.5 MB at 10M quads, so it is rendered once
/// per data version, catalogue and base (`rendered::cached`), with validators.
async fn openapi_document(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let catalogue = state.queries.current();
    let base = public_base(&state.config, &headers);
    let versions: Vec<String> = catalogue.iter().map(|q| format!("{}@{}", q.name, q.version)).collect();
    let key = format!("openapi|{base}|{}", versions.join(","));
    let state2 = state.clone();
    super::rendered::cached(&state, &headers, &key, move || async move {
        let mut allowed = openapi::AllowedValues::new();
        for query in catalogue.iter() {
            for param in &query.params {
                if let Some(text) = &param.values_query {
                    let values = state2.allowed_values(text).await?;
                    allowed.insert((query.name.clone(), param.name.clone()), values.iter().map(plain).collect());
                }
            }
        }
        Ok(Json(openapi::document(&catalogue, &base, &allowed)).into_response())
    })
    .await
}

async fn run_by_get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(stem) = name.strip_suffix(".rq") {
        let query = lookup(&state, stem)?;
        let mut response = query.source.clone().into_response();
        set_content_type(response.headers_mut(), "application/sparql-query");
        insert(response.headers_mut(), "x-query-version", &query.version);
        return Ok(response);
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let is_graph = lookup(&state, &name)?.is_graph();
    if !pairs.iter().any(|(k, _)| k == "format") && wants_html(accept, is_graph) {
        return html_page(&state, &name, pairs, &headers).await;
    }
    run(&state, &name, pairs, &headers).await
}

/// Whether `Accept` prefers HTML over every data format (browsers do; `*/*` does not).
fn wants_html(accept: Option<&str>, graph: bool) -> bool {
    let mut offers: Vec<(&'static str, bool)> = if graph {
        conneg::rdf_formats().into_iter().map(|(m, _)| (m, false)).collect()
    } else {
        conneg::RESULTS_FORMATS.iter().map(|(m, _)| (*m, false)).collect()
    };
    offers.push(("text/html", true));
    accept.is_some() && conneg::negotiate(accept, &offers).is_some_and(|(_, html)| html)
}

/// A saved query's HTML page: the form, and the answer when nothing required is missing.
async fn html_page(
    state: &AppState,
    name: &str,
    pairs: Vec<(String, String)>,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let query = lookup(state, name)?;
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut options = std::collections::BTreeMap::new();
    for param in &query.params {
        if let Some(values) = &param.values {
            options.insert(param.name.clone(), values.clone());
        } else if let Some(text) = &param.values_query {
            let values = state.allowed_values(text).await?;
            options.insert(param.name.clone(), values.iter().map(plain).collect());
        }
    }
    let missing = query.params.iter().any(|p| p.required && !pairs.iter().any(|(k, _)| *k == p.name));
    let mut status = StatusCode::OK;
    let answer = if missing {
        crate::ui::pages::Answer::NotRun
    } else {
        // The page shows the rows (or the Turtle) of the answer the data
        // formats share: the same cache entry as `?format=json` (`ttl`).
        let (media_type, output) = if query.is_graph() {
            ("text/turtle", OutputFormat::Rdf(oxigraph::io::RdfFormat::Turtle))
        } else {
            (
                "application/sparql-results+json",
                OutputFormat::Results(oxigraph::sparql::results::QueryResultsFormat::Json),
            )
        };
        let evaluated = async {
            let bindings = params::bind(&query.params, &pairs)?;
            let key = saved_key(state, &query, &bindings, media_type);
            evaluate(state, &query, bindings, &key, output).await
        };
        match evaluated.await {
            Ok((answer, _)) => {
                if query.is_graph() {
                    crate::ui::pages::Answer::Graph(String::from_utf8_lossy(&answer.body).into_owned())
                } else {
                    parse_results(&answer.body, answer.truncated)?
                }
            }
            Err(e) if e.status().is_client_error() => {
                status = e.status();
                crate::ui::pages::Answer::Error(e.to_string())
            }
            Err(e) => return Err(e),
        }
    };
    let base = public_base(&state.config, headers);
    let page = crate::ui::pages::saved_query(&query, &pairs, &options, &answer, &base);
    let mut response = (status, Html(page.into_string())).into_response();
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

fn parse_results(body: &[u8], truncated: bool) -> Result<crate::ui::pages::Answer, AppError> {
    use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsParser, SliceQueryResultsParserOutput};
    match QueryResultsParser::from_format(QueryResultsFormat::Json).for_slice(body).map_err(AppError::internal)? {
        SliceQueryResultsParserOutput::Boolean(b) => Ok(crate::ui::pages::Answer::Boolean(b)),
        SliceQueryResultsParserOutput::Solutions(solutions) => {
            let variables: Vec<String> = solutions.variables().iter().map(|v| v.as_str().to_owned()).collect();
            let vars = solutions.variables().to_vec();
            let mut rows = Vec::new();
            for solution in solutions {
                let solution = solution.map_err(AppError::internal)?;
                rows.push(vars.iter().map(|v| solution.get(v).cloned()).collect());
            }
            Ok(crate::ui::pages::Answer::Table { variables, rows, truncated })
        }
    }
}

async fn run_by_post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => {
            pairs.extend(form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())));
        }
        "application/json" => {
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| AppError::BadRequest(format!("the JSON body does not parse: {e}")))?;
            let Value::Object(object) = value else {
                return Err(AppError::BadRequest("the JSON body must be an object of parameter values".into()));
            };
            for (key, value) in object {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(AppError::BadRequest(format!(
                            "parameter `{key}`: JSON values must be strings, numbers or booleans, got {other}"
                        )))
                    }
                };
                pairs.push((key, text));
            }
        }
        "" if body.is_empty() => {}
        _ => {
            return Err(AppError::UnsupportedMediaType {
                got: if media_type.is_empty() { "(none)".into() } else { media_type },
                accepted: vec!["application/x-www-form-urlencoded", "application/json"],
            })
        }
    }
    run(&state, &name, pairs, &headers).await
}

fn lookup(state: &AppState, name: &str) -> Result<Arc<SavedQuery>, AppError> {
    state
        .queries
        .current()
        .get(name)
        .ok_or_else(|| AppError::NotFound(format!("no saved query is named {name:?}; the catalogue is at /queries")))
}

/// Runs a saved query: bind, negotiate, answer from the cache or evaluate.
async fn run(
    state: &AppState,
    name: &str,
    pairs: Vec<(String, String)>,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let query = lookup(state, name)?;
    let outcome = answer(state, &query, pairs, headers).await;
    let ended = match &outcome {
        Ok((_, ended)) => *ended,
        Err(AppError::Timeout { .. }) => SavedOutcome::Timeout,
        Err(_) => SavedOutcome::Error,
    };
    state.metrics.record_saved_query(&query.name, ended, started.elapsed().as_secs_f64());
    outcome.map(|(response, _)| response)
}

async fn answer(
    state: &AppState,
    query: &SavedQuery,
    mut pairs: Vec<(String, String)>,
    headers: &HeaderMap,
) -> Result<(Response, SavedOutcome), AppError> {
    let format_param = pairs.iter().position(|(k, _)| k == "format").map(|i| pairs.remove(i).1);
    let bindings = params::bind(&query.params, &pairs)?;
    let (media_type, output) = negotiate_query(query.is_graph(), headers, format_param.as_deref())?;
    let key = saved_key(state, query, &bindings, media_type);
    let etag = key.etag();
    if let Some(mut response) = not_modified(headers, &etag) {
        common_headers(response.headers_mut(), query, &key, None);
        return Ok((response, SavedOutcome::NotModified));
    }
    let (answer, ended) = evaluate(state, query, bindings, &key, output).await?;
    let mut response = answer.body.clone().into_response();
    set_content_type(response.headers_mut(), media_type);
    common_headers(response.headers_mut(), query, &key, Some(&answer));
    let cache = if ended == SavedOutcome::Cached { Cache::Hit } else { Cache::Miss };
    Ok((with_validators(response, &etag, Some(cache)), ended))
}

/// What identifies a saved query's answer: the query's version, the values
/// bound, the format and the data version.
fn saved_key(
    state: &AppState,
    query: &SavedQuery,
    bindings: &[(Variable, Term)],
    media_type: &'static str,
) -> CacheKey {
    CacheKey {
        query_version: query.version.clone(),
        bindings: bindings.iter().map(|(v, t)| format!("{v}={t}")).collect::<Vec<_>>().join("&"),
        media_type,
        data_version: state.store.data_version(),
    }
}

/// The answer of `key`: from the cache, or evaluated (within the query's row
/// cap) and kept.
async fn evaluate(
    state: &AppState,
    query: &SavedQuery,
    bindings: Vec<(Variable, Term)>,
    key: &CacheKey,
    output: OutputFormat,
) -> Result<(CachedAnswer, SavedOutcome), AppError> {
    if let Some(hit) = state.cache.get(key) {
        return Ok((hit, SavedOutcome::Cached));
    }
    crate::queries::check_against_store(&state.store, query, &bindings).await?;
    let job = QueryJob {
        bindings,
        timeout: query.timeout,
        cost_key: Some(crate::store::cost_key(["saved", &query.name, &key.bindings])),
        ..QueryJob::new(query.query.clone(), &query.name)
    };
    let capped = state.store.query_capped(job, output, query.row_cap).await?;
    let answer = CachedAnswer { body: capped.body, truncated: capped.truncated };
    state.cache.put(key.clone(), answer.clone());
    let ended = if answer.truncated { SavedOutcome::Truncated } else { SavedOutcome::Evaluated };
    Ok((answer, ended))
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// What a saved query's answer says of itself (its validators apart).
fn common_headers(headers: &mut HeaderMap, query: &SavedQuery, key: &CacheKey, answer: Option<&CachedAnswer>) {
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    insert(headers, "x-query-version", &query.version);
    insert(headers, "x-data-version", &key.data_version);
    insert(headers, "x-result-limit", &query.row_cap.to_string());
    if let Some(answer) = answer {
        insert(headers, "x-result-truncated", if answer.truncated { "true" } else { "false" });
    }
}
