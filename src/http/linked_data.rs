//! Linked-data routes: `/id/…` (303), `/data/…` (RDF), `/page/…` (HTML),
//! `/ontology`, `/.well-known/void`, `/dump`, `/fragments`, `/` and the stylesheet.
//! Every read carries an `ETag` (data version) and `Last-Modified`; conditional
//! requests are answered 304.

use super::rendered::{cached, cached_at};
use super::sparql::pick;
use super::{public_base, set_content_type, stream_response, AppState};
use crate::conneg;
use crate::error::AppError;
use crate::linked_data::document::ResourceDoc;
use crate::linked_data::fragments::{self, Selector, PAGE_SIZE};
use crate::linked_data::iri::{extensions, resource_iri, split_extension};
use crate::linked_data::{html, jsonld, ontology, void};
use crate::sparql::results::{rdf_serializer, OutputFormat};
use crate::store::QueryJob;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html as markup, Markup};
use oxigraph::io::RdfFormat;
use oxigraph::model::{Quad, Triple};

/// Matches of a fragment counted exactly, and for how long once its page is read.
const COUNT_CAP: usize = 100_000;
const COUNT_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// The most statements read about a resource, in each direction.
const DESCRIBE_LIMIT: usize = 2_000;

pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/id/{*path}", get(redirect))
        .route("/data/{*path}", get(data))
        .route("/page/{*path}", get(page))
        .route("/ontology", get(ontology_document))
        .route("/.well-known/void", get(void_description))
        .route("/dump", get(dump))
        .route("/fragments", get(fragment));
    for (ext, _, _) in extensions() {
        router =
            router.route(&format!("/ontology.{ext}"), get(move |state, headers| ontology_file(state, headers, ext)));
    }
    router
}

fn html_response(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// RDF formats and HTML, for negotiating between a page and a document.
fn page_or_data(headers: &HeaderMap) -> Result<Option<(&'static str, &'static str)>, AppError> {
    let mut offers: Vec<(&'static str, Option<&'static str>)> =
        extensions().into_iter().map(|(ext, media, _)| (media, Some(ext))).collect();
    offers.insert(0, ("text/html", None));
    offers.push(("application/xhtml+xml", None));
    let (media, ext) = pick(&offers, accept(headers), None)?;
    // No Accept at all (curl, crawlers): RDF, since only people need HTML.
    if accept(headers).is_none() {
        return Ok(Some(("text/turtle", "ttl")));
    }
    Ok(ext.map(|e| (media, e)))
}

async fn load(state: &AppState, path: &str, per_property: Option<usize>) -> Result<ResourceDoc, AppError> {
    let iri = resource_iri(path).ok_or_else(|| {
        AppError::BadRequest(format!("{path:?} is not a resource path (segments of letters, digits, `-._~`)"))
    })?;
    let resource = iri.clone();
    let described = state
        .store
        .read(&format!("describe {iri}"), "describe", move |reader| {
            crate::linked_data::describe::describe(reader, &resource, DESCRIBE_LIMIT, per_property)
        })
        .await?;
    Ok(ResourceDoc::new(iri, described))
}

fn not_found(headers: &HeaderMap, what: &str) -> Response {
    let wants_html = accept(headers).is_some_and(|a| a.contains("text/html"));
    let hint = "No statement in this dataset has this IRI as subject or object.";
    let mut response = if wants_html {
        html_response(html::not_found_page(what, hint))
    } else {
        AppError::NotFound(format!("{what}: {hint} Search names and texts at /search?q=…")).into_response()
    };
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// `/id/{path}`: 303 See Other to the page or the document, by `Accept`.
async fn redirect(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let doc = load(&state, &path, Some(1)).await?;
    if !doc.exists() {
        return Ok(not_found(&headers, doc.iri.as_str()));
    }
    let location = match page_or_data(&headers)? {
        None => format!("/page/{path}"),
        Some((_, ext)) => format!("/data/{path}.{ext}"),
    };
    let mut response = (StatusCode::SEE_OTHER, format!("See {location}\n")).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).map_err(AppError::internal)?);
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

/// `/data/{path}[.ext]`: the RDF document of a resource.
async fn data(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (stem, ext) = split_extension(&path);
    let (media, format) = match ext {
        Some(ext) => match extensions().into_iter().find(|(e, _, _)| *e == ext) {
            Some((_, media, format)) => (media, format),
            None => {
                let known: Vec<String> = extensions().iter().map(|(e, _, _)| format!(".{e}")).collect();
                return Err(AppError::NotFound(format!(
                    "unknown document extension .{ext}; this server writes {}",
                    known.join(" ")
                )));
            }
        },
        None => {
            let offers: Vec<(&'static str, RdfFormat)> = extensions().into_iter().map(|(_, m, f)| (m, f)).collect();
            pick(&offers, accept(&headers), None)?
        }
    };
    let key = format!("data/{stem}|{media}");
    let stem = stem.to_owned();
    let state2 = state.clone();
    let headers2 = headers.clone();
    cached(&state, &headers, &key, move || async move {
        let doc = load(&state2, &stem, None).await?;
        if !doc.exists() {
            return Ok(not_found(&headers2, doc.iri.as_str()));
        }
        // Serializing a hub's document is real work: never on a runtime worker.
        let body = crate::exec::run(move || {
            if media == "application/ld+json" {
                serde_json::to_vec_pretty(&jsonld::document(&doc.triples())).map_err(AppError::internal)
            } else if format.supports_datasets() {
                serialize_quads(&doc.quads(), format)
            } else {
                serialize_triples(&doc.triples(), format)
            }
        })
        .await??;
        let mut response = body.into_response();
        set_content_type(response.headers_mut(), media);
        Ok(response)
    })
    .await
}

fn serialize_triples(triples: &[Triple], format: RdfFormat) -> Result<Vec<u8>, AppError> {
    let mut serializer = rdf_serializer(format).for_writer(Vec::new());
    for t in triples {
        serializer.serialize_triple(t).map_err(AppError::internal)?;
    }
    serializer.finish().map_err(AppError::internal)
}

fn serialize_quads(quads: &[Quad], format: RdfFormat) -> Result<Vec<u8>, AppError> {
    let mut serializer = rdf_serializer(format).for_writer(Vec::new());
    for q in quads {
        serializer.serialize_quad(q).map_err(AppError::internal)?;
    }
    serializer.finish().map_err(AppError::internal)
}

/// `/page/{path}`: the HTML page of a resource (a state's with its map, and its
/// treaties on the day `?date=` names, today by default).
async fn page(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let day = super::query_param(raw.as_deref(), "date").filter(|d| !d.is_empty());
    let key = match &day {
        Some(day) => format!("page/{path}?date={day}"),
        None => format!("page/{path}"),
    };
    let state2 = state.clone();
    cached(&state, &headers, &key, move || async move {
        let doc = load(&state2, &path, Some(crate::linked_data::describe::PAGE_PER_PROPERTY)).await?;
        if !doc.exists() {
            let mut response = html_response(html::not_found_page(
                doc.iri.as_str(),
                "No statement in this dataset has this IRI as subject or object.",
            ));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return Ok(response);
        }
        let sections = crate::ui::data::state_sections(&state2.store, &state2.queries.current(), &doc, day).await?;
        // Rendering a hub's page is real work: never on a runtime worker.
        let page = crate::exec::run(move || {
            let json_ld = jsonld::document(&doc.triples());
            html::resource_page(&doc, &json_ld, sections).into_string()
        })
        .await?;
        Ok(Html(page).into_response())
    })
    .await
}

/// The whole ontology graph (CONSTRUCT over the graph declaring the ontology).
async fn ontology_rdf(state: &AppState, format: RdfFormat) -> Result<Vec<u8>, AppError> {
    let query =
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { <https://w3id.org/treaty-kg/ontology> a <http://www.w3.org/2002/07/owl#Ontology> } GRAPH ?g { ?s ?p ?o } }";
    let answer = state
        .store
        .query_capped(QueryJob::text(query, "ontology document"), OutputFormat::Rdf(format), 1_000_000)
        .await?;
    Ok(answer.body.to_vec())
}

/// `/ontology`: HTML documentation (with each term's use in the data, a
/// dataset summary) or RDF, by `Accept`.
pub(super) async fn ontology_document(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some((_, ext)) = page_or_data(&headers)? else {
        let snapshot = state.summary.current();
        let views = snapshot.views.clone();
        return cached_at(&state, &headers, "ontology", &snapshot.stamp, move || async move {
            Ok(html_response(ontology::page(&views.terms, &views.stats)))
        })
        .await;
    };
    ontology_file(State(state), headers, ext).await
}

async fn ontology_bytes(state: &AppState, media: &'static str, ext: &str) -> Result<Response, AppError> {
    let format = extensions().into_iter().find(|(e, _, _)| *e == ext).map(|(_, _, f)| f).unwrap_or(RdfFormat::Turtle);
    let mut response = ontology_rdf(state, format).await?.into_response();
    set_content_type(response.headers_mut(), media);
    Ok(response)
}

/// `/ontology.{ext}` (and `/ontology` asked for in RDF): the ontology graph.
async fn ontology_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: &'static str,
) -> Result<Response, AppError> {
    let media = extensions().into_iter().find(|(e, _, _)| *e == ext).map(|(_, m, _)| m).unwrap_or("text/turtle");
    let state2 = state.clone();
    cached(
        &state,
        &headers,
        &format!("ontology.{ext}"),
        move || async move { ontology_bytes(&state2, media, ext).await },
    )
    .await
}

/// `/.well-known/void`: the VoID description (RDF by `Accept`, Turtle by default).
pub(super) async fn void_description(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let format_param = super::query_param(raw.as_deref(), "format");
    // A browser gets the description as a page; RDF clients, RDF.
    let chosen = super::sparql::rdf_or_page(accept(&headers), format_param.as_deref())?;
    let (media, format) = chosen.map_or(("text/html", None), |(m, f)| (m, Some(f)));
    let base = public_base(&state.config, &headers);
    let key = format!("void|{media}|{base}");
    let snapshot = state.summary.current();
    let stats = snapshot.views.stats.clone();
    cached_at(&state, &headers, &key, &snapshot.stamp, move || void_response(stats, base, media, format)).await
}

/// The VoID description of `stats` under `base`, in `format` (a page when none).
async fn void_response(
    stats: std::sync::Arc<void::Statistics>,
    base: String,
    media: &'static str,
    format: Option<RdfFormat>,
) -> Result<Response, AppError> {
    // Rendered off the runtime workers (and once per snapshot, by `cached_at`).
    let body = crate::exec::run(move || {
        let graph = void::describe(&stats, &base);
        let triples: Vec<Triple> = graph.iter().map(|t| t.into_owned()).collect();
        match format {
            Some(format) => serialize_triples(&triples, format).map(bytes::Bytes::from),
            None => Ok(bytes::Bytes::from(void_page(&triples).into_string())),
        }
    })
    .await??;
    let mut response = body.into_response();
    set_content_type(response.headers_mut(), media);
    Ok(response)
}

/// The VoID description as a page.
fn void_page(triples: &[Triple]) -> Markup {
    let intro = markup! {
        p.lead { "The dataset as VoID: its size, its vocabularies, the classes and properties used, and where to get it (SPARQL, Triple Pattern Fragments, " a href="/dump" download { "the dump (download)" } ")." }
    };
    crate::ui::graph_view::graph_page(
        "Dataset description (VoID)",
        intro,
        triples,
        &super::sparql::rdf_links("/.well-known/void"),
    )
}

/// `/dump`: the whole dataset, streamed, gzip-compressed N-Quads (or TriG by `Accept`).
async fn dump(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let offers = [("application/n-quads", RdfFormat::NQuads), ("application/trig", RdfFormat::TriG)];
    let (media, format) = pick(&offers, accept(&headers), None)?;
    let body = state.store.dump(format, true).await?;
    let mut response = stream_response(media, body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let name = if format == RdfFormat::TriG { "treaty-kg.trig.gz" } else { "treaty-kg.nq.gz" };
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(AppError::internal)?,
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

/// `/fragments`: Triple Pattern Fragments.
async fn fragment(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let selector = Selector::parse(raw.as_deref())?;
    let mut offers: Vec<(&'static str, Option<RdfFormat>)> = vec![
        ("application/trig", Some(RdfFormat::TriG)),
        ("text/turtle", Some(RdfFormat::Turtle)),
        ("application/n-triples", Some(RdfFormat::NTriples)),
        ("application/n-quads", Some(RdfFormat::NQuads)),
        ("application/ld+json", Some(conneg::json_ld())),
        ("text/html", None),
    ];
    if accept(&headers).is_some_and(|a| a.contains("text/html")) {
        offers.rotate_right(1);
    }
    let (media, format) = pick(&offers, accept(&headers), None)?;
    let base = public_base(&state.config, &headers);
    let key = format!("fragment|{}|{media}", selector.url(&base, selector.page));
    let state2 = state.clone();
    cached(&state, &headers, &key, move || async move {
        let offset = (selector.page - 1) * PAGE_SIZE;
        let scanned = selector.clone();
        let page = state2
            .store
            .read(&format!("fragment {}", selector.url("", selector.page)), "fragment", move |reader| {
                fragments::read(reader, &scanned, offset, PAGE_SIZE, COUNT_CAP, COUNT_BUDGET)
            })
            .await?;
        let (triples, total, exact) = (page.triples, page.total, page.exact);
        if selector.page > 1 && triples.is_empty() {
            return Err(AppError::NotFound(format!(
                "page {} is past the end of this fragment ({total} triples, {PAGE_SIZE} a page)",
                selector.page
            )));
        }
        let has_next = offset + triples.len() < total;
        let body = fragment_body(&selector, &base, &triples, (total, exact), has_next, (media, format))?;
        let mut response = Response::new(body);
        set_content_type(response.headers_mut(), media);
        Ok(response)
    })
    .await
}

/// A fragment's page in the format asked: the triples with the hypermedia
/// controls and counts (in a graph of their own where the format has graphs).
fn fragment_body(
    selector: &Selector,
    base: &str,
    triples: &[Triple],
    count: (usize, bool),
    has_next: bool,
    (media, format): (&str, Option<RdfFormat>),
) -> Result<axum::body::Body, AppError> {
    let metadata = fragments::metadata(selector, base, count.0, has_next);
    Ok(match format {
        None => html_response(fragments_page(selector, base, triples, count, has_next)).into_body(),
        Some(f) if f.supports_datasets() && media != "application/ld+json" => {
            let graph =
                oxigraph::model::NamedNode::new_unchecked(format!("{}#metadata", selector.url(base, selector.page)));
            let mut quads: Vec<Quad> =
                triples.iter().map(|t| t.clone().in_graph(oxigraph::model::GraphName::DefaultGraph)).collect();
            quads.extend(metadata.into_iter().map(|t| t.in_graph(graph.clone())));
            serialize_quads(&quads, f)?.into()
        }
        Some(_) if media == "application/ld+json" => {
            let mut all = triples.to_vec();
            all.extend(metadata);
            serde_json::to_vec_pretty(&jsonld::document(&all)).map_err(AppError::internal)?.into()
        }
        Some(f) => {
            let mut all = triples.to_vec();
            all.extend(metadata);
            serialize_triples(&all, f)?.into()
        }
    })
}

/// A fragment's page; `count` is the number of matches and whether it is exact
/// (else at least that many).
fn fragments_page(selector: &Selector, base: &str, triples: &[Triple], count: (usize, bool), has_next: bool) -> Markup {
    let (total, exact) = count;
    let value = |t: Option<String>| t.unwrap_or_default();
    html::layout(
        "Triple Pattern Fragments",
        markup! {},
        markup! {
            h1 { "Triple Pattern Fragments" }
            form method="get" action="/fragments" {
                p { label { "subject " input name="subject" value=(value(selector.subject.as_ref().map(|s| match s { oxigraph::model::NamedOrBlankNode::NamedNode(n) => n.as_str().to_owned(), other => other.to_string() }))) size="50"; } }
                p { label { "predicate " input name="predicate" value=(value(selector.predicate.as_ref().map(|p| p.as_str().to_owned()))) size="50"; } }
                p { label { "object " input name="object" value=(value(selector.object.as_ref().map(|o| match o { oxigraph::model::Term::NamedNode(n) => n.as_str().to_owned(), other => other.to_string() }))) size="50"; } }
                p { button type="submit" { "Find matching triples" } }
            }
            p { (total) @if !exact { "+" } " matching triples; page " (selector.page) "." }
            table {
                thead { tr { th scope="col" { "Subject" } th scope="col" { "Predicate" } th scope="col" { "Object" } } }
                tbody {
                    @for t in triples {
                        tr { td { code { (t.subject.to_string()) } } td { code { (t.predicate.to_string()) } } td { code { (t.object.to_string()) } } }
                    }
                }
            }
            p {
                @if selector.page > 1 { a rel="prev" href=(selector.url(base, selector.page - 1)) { "previous page" } " " }
                @if has_next { a rel="next" href=(selector.url(base, selector.page + 1)) { "next page" } }
            }
        },
    )
}
