//! HTML pages for people (maud templates: every interpolated value is escaped).
//!
//! One layout and one stylesheet (`/assets/style.css`) for all pages; JSON-LD
//! embedded for search engines with `<` escaped so it cannot close its script.

use super::document::{local_name, ResourceDoc};
use super::iri::{extensions, local_path, page_href};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use oxigraph::model::{NamedOrBlankNode, Term};

/// The shared page layout.
pub fn layout(title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — treaty-kg" }
                link rel="stylesheet" href="/assets/style.css";
                (head)
            }
            body {
                header {
                    nav aria-label="site" {
                        a href="/" { "treaty-kg" }
                        " · " a href="/queries" { "saved queries" }
                        " · " a href="/sparql" { "SPARQL" }
                        " · " a href="/ontology" { "ontology" }
                        " · " a href="/.well-known/void" { "dataset (VoID)" }
                        " · " a href="/fragments" { "fragments" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// Text safe inside `<script type="application/ld+json">`.
pub fn script_json(json: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(json.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026"))
}

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

fn source_cell(
    doc: &ResourceDoc,
    graph: &oxigraph::model::GraphName,
    sources: &std::collections::BTreeMap<String, super::document::Source>,
) -> Markup {
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

/// The page of one resource.
pub fn resource_page(doc: &ResourceDoc, json_ld: &serde_json::Value) -> Markup {
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
            @if doc.truncated { p.warning { "This resource has more statements than a page shows; query " a href="/sparql" { "/sparql" } " for all of them." } }
            section {
                h2 { "Statements" }
                table {
                    thead { tr { th scope="col" { "Property" } th scope="col" { "Value" } th scope="col" { "Source" } } }
                    tbody {
                        @for q in &outgoing {
                            tr {
                                td { a href=(page_href(q.predicate.as_str())) { (doc.label_of(q.predicate.as_str())) } }
                                td { (term_cell(doc, &q.object)) }
                                td { (source_cell(doc, &q.graph_name, &sources)) }
                            }
                        }
                    }
                }
            }
            @if !incoming.is_empty() {
                section {
                    h2 { "Referred to by" }
                    table {
                        thead { tr { th scope="col" { "Resource" } th scope="col" { "Property" } th scope="col" { "Source" } } }
                        tbody {
                            @for q in &incoming {
                                tr {
                                    td { (term_cell(doc, &q.subject.clone().into())) }
                                    td { a href=(page_href(q.predicate.as_str())) { (doc.label_of(q.predicate.as_str())) } }
                                    td { (source_cell(doc, &q.graph_name, &sources)) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Data" }
                p {
                    "This resource as RDF: "
                    @for (i, (ext, media, _)) in extensions().into_iter().enumerate() {
                        @if i > 0 { " · " }
                        a href={ "/data/" (path) "." (ext) } type=(media) { (ext) }
                    }
                    " · " a href={ "/queries/provenance?resource=" (form_urlencoded::byte_serialize(iri.as_bytes()).collect::<String>()) } { "provenance" }
                }
            }
        },
    )
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
