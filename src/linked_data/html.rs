//! HTML pages for people (maud templates: every interpolated value is escaped).
//!
//! The layout and stylesheet are the UI's (`crate::ui`); JSON-LD is embedded for
//! search engines with `<` escaped so it cannot close its script.

use super::document::{local_name, ResourceDoc};
use super::iri::{extensions, local_path, page_href};
use maud::{html, Markup};
use oxigraph::model::{NamedOrBlankNode, Quad, Term};

/// The sources of a resource's statements, by graph.
type Sources = std::collections::BTreeMap<String, super::document::Source>;

pub use crate::ui::{layout, script_json};

fn term_cell(doc: &ResourceDoc, term: &Term) -> Markup {
    match term {
        Term::NamedNode(n) => html! { a href=(page_href(n.as_str())) { (doc.label_of(n.as_str())) } },
        Term::BlankNode(b) => html! { span.blank { "_:" (b.as_str()) } },
        Term::Literal(l) => html! {
            span.literal lang=[l.language()] { (l.value()) }
            @if let Some(lang) = l.language() { " " small.meta { "@" (lang) } }
            @else if l.datatype().as_str() != "http://www.w3.org/2001/XMLSchema#string" {
                " " small.meta { (local_name(l.datatype().as_str())) }
            }
        },
        #[allow(unreachable_patterns)]
        other => html! { (other.to_string()) },
    }
}

fn source_cell(doc: &ResourceDoc, graph: &oxigraph::model::GraphName, sources: &Sources) -> Markup {
    let oxigraph::model::GraphName::NamedNode(g) = graph else { return html! { span.meta { "default graph" } } };
    match sources.get(g.as_str()) {
        Some(source) => html! {
            @if let Some(text) = &source.text {
                blockquote.source { (text) }
            }
            @if let Some(s) = &source.source {
                small.meta { a href=(page_href(s)) { (doc.label_of(s)) } }
            } @else {
                small.meta { "graph " (g.as_str()) }
            }
        },
        None => html! { small.meta { (g.as_str()) } },
    }
}

/// For each property with more values than the page shows: how many, and a
/// link to all of them as Triple Pattern Fragments.
fn more(doc: &ResourceDoc, incoming: bool) -> Markup {
    let iri = form_urlencoded::byte_serialize(doc.iri.as_str().as_bytes()).collect::<String>();
    html! {
        @for m in doc.more.iter().filter(|m| m.incoming == incoming) {
            @let p = form_urlencoded::byte_serialize(m.predicate.as_str().as_bytes()).collect::<String>();
            @let href = if incoming { format!("/fragments?predicate={p}&object={iri}") } else { format!("/fragments?subject={iri}&predicate={p}") };
            p.more {
                "Showing " (super::describe::PAGE_PER_PROPERTY) " of " (m.total) @if !m.exact { "+" } " “" (doc.label_of(m.predicate.as_str())) "” statements: "
                a href=(href) { "all of them, as Triple Pattern Fragments" }
            }
        }
    }
}

/// The page of one resource; `sections` (a heading and its content each: a
/// state's map and treaties) come before its neighbourhood.
pub fn resource_page(doc: &ResourceDoc, json_ld: &serde_json::Value, sections: Vec<(String, Markup)>) -> Markup {
    let iri = doc.iri.as_str();
    let path = local_path(iri).unwrap_or_default();
    let title = doc.label_of(iri);
    let sources = doc.sources();
    let subject: NamedOrBlankNode = doc.iri.clone().into();
    let types: Vec<&Term> = doc
        .statements
        .iter()
        .filter(|q| q.subject == subject && q.predicate.as_str() == crate::vocab::RDF_TYPE)
        .map(|q| &q.object)
        .collect();
    let outgoing: Vec<_> = doc
        .statements
        .iter()
        .filter(|q| q.subject == subject && q.predicate.as_str() != crate::vocab::RDF_TYPE)
        .collect();
    let incoming: Vec<_> = doc.statements.iter().filter(|q| q.subject != subject).collect();
    let head = html! {
        @for (ext, media, _) in extensions() {
            link rel="alternate" type=(media) href={ "/data/" (path) "." (ext) };
        }
        script type="application/ld+json" { (script_json(json_ld)) }
    };
    layout(
        &title,
        head,
        html! {
            h1 { (title) }
            p.iri { code { (iri) } }
            @if !types.is_empty() {
                p { "A " @for (i, t) in types.iter().enumerate() { @if i > 0 { ", " } (term_cell(doc, t)) } "." }
            }
            @if doc.truncated { p.warning { "This resource has more statements than a page reads; the counts below are lower bounds. Query " a href="/sparql" { "/sparql" } " or the fragments for all of them." } }
            @for (heading, content) in &sections {
                section {
                    h2 { (heading) }
                    (content)
                }
            }
            section {
                h2 { "Neighbourhood" }
                (neighbourhood(doc, &outgoing, &incoming))
            }
            (statements_section(doc, &outgoing, &sources, false))
            @if !incoming.is_empty() { (statements_section(doc, &incoming, &sources, true)) }
            (data_section(iri, path))
        },
    )
}

/// What the resource says (`incoming`: what says something of it), each
/// statement with its source.
fn statements_section(doc: &ResourceDoc, quads: &[&Quad], sources: &Sources, incoming: bool) -> Markup {
    let (heading, first, second) =
        if incoming { ("Referred to by", "Resource", "Property") } else { ("Statements", "Property", "Value") };
    let property =
        |q: &Quad| html! { a href=(page_href(q.predicate.as_str())) { (doc.label_of(q.predicate.as_str())) } };
    html! {
        section {
            h2 { (heading) }
            table {
                thead { tr { th scope="col" { (first) } th scope="col" { (second) } th scope="col" { "Source" } } }
                tbody {
                    @for q in quads {
                        tr {
                            @if incoming {
                                td { (term_cell(doc, &q.subject.clone().into())) }
                                td { (property(q)) }
                            } @else {
                                td { (property(q)) }
                                td { (term_cell(doc, &q.object)) }
                            }
                            td { (source_cell(doc, &q.graph_name, sources)) }
                        }
                    }
                }
            }
            (more(doc, incoming))
        }
    }
}

/// The resource as RDF in each syntax, and its provenance.
fn data_section(iri: &str, path: &str) -> Markup {
    html! {
        section {
            h2 { "Data" }
            p {
                "This resource as RDF (download): "
                @for (i, (ext, media, _)) in extensions().into_iter().enumerate() {
                    @if i > 0 { " · " }
                    a href={ "/data/" (path) "." (ext) } type=(media) download { (ext) }
                }
                " · " a href={ "/queries/provenance?resource=" (form_urlencoded::byte_serialize(iri.as_bytes()).collect::<String>()) } { "provenance" }
            }
        }
    }
}

/// The 404 page for an IRI nobody says anything about.
pub fn not_found_page(what: &str, hint: &str) -> Markup {
    layout(
        "Not found",
        html! {},
        html! {
            h1 { "Nothing is known about this" }
            p { code { (what) } }
            p { (hint) }
            p {
                "Try " a href="/queries/search?text=" { "searching labels" } ", the "
                a href="/queries" { "saved queries" } ", or the " a href="/" { "home page" } "."
            }
        },
    )
}

/// The neighbourhood diagram of a resource page: each distinct direct link.
fn neighbourhood(
    doc: &ResourceDoc,
    outgoing: &[&oxigraph::model::Quad],
    incoming: &[&oxigraph::model::Quad],
) -> Markup {
    let mut seen = std::collections::BTreeSet::new();
    let mut neighbours = Vec::new();
    for (q, is_incoming) in outgoing.iter().map(|q| (q, false)).chain(incoming.iter().map(|q| (q, true))) {
        let other = if is_incoming { Term::from(q.subject.clone()) } else { q.object.clone() };
        let Term::NamedNode(node) = other else { continue };
        // A link stated both ways (borders) is drawn once.
        if !seen.insert((node.as_str().to_owned(), q.predicate.as_str().to_owned())) {
            continue;
        }
        neighbours.push(crate::ui::svg::Neighbour {
            href: page_href(node.as_str()),
            label: doc.label_of(node.as_str()),
            property: doc.label_of(q.predicate.as_str()),
            incoming: is_incoming,
        });
    }
    crate::ui::svg::neighbourhood(&doc.label_of(doc.iri.as_str()), &neighbours)
}
