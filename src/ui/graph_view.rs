//! A small RDF graph (the service description, VoID) as a page: one section
//! per subject, its statements as a table, blank nodes as in-page links.

use super::layout;
use crate::linked_data::iri::page_href;
use crate::queries::params::compact;
use maud::{html, Markup};
use oxigraph::model::{NamedOrBlankNode, Term, Triple};

fn anchor(node: &NamedOrBlankNode) -> String {
    match node {
        NamedOrBlankNode::BlankNode(b) => format!("b-{}", b.as_str()),
        NamedOrBlankNode::NamedNode(n) => {
            format!("n-{}", crate::sources::content_hash(n.as_str().as_bytes())[..12].to_owned())
        }
    }
}

fn subject_heading(node: &NamedOrBlankNode) -> Markup {
    match node {
        NamedOrBlankNode::NamedNode(n) => html! { a.iri href=(page_href(n.as_str())) { (n.as_str()) } },
        NamedOrBlankNode::BlankNode(_) => html! { span.meta { "(unnamed node)" } },
    }
}

fn object(term: &Term) -> Markup {
    match term {
        Term::NamedNode(n) => html! { a.iri href=(page_href(n.as_str())) { (compact(n.as_str())) } },
        Term::BlankNode(b) => {
            html! { a href={ "#b-" (b.as_str()) } { "↓ details" } }
        }
        Term::Literal(l) => html! {
            (l.value())
            @if let Some(lang) = l.language() { " " small.meta { "@" (lang) } }
            @else if l.datatype().as_str() != "http://www.w3.org/2001/XMLSchema#string" { " " small.meta { (compact(l.datatype().as_str())) } }
        },
        #[allow(unreachable_patterns)]
        other => html! { (other.to_string()) },
    }
}

/// The page: `intro`, then every subject of `triples` with its statements, then
/// links to the same description in RDF syntaxes (`(label, href)`).
pub fn graph_page(title: &str, intro: Markup, triples: &[Triple], rdf_links: &[(&str, String)]) -> Markup {
    let mut subjects: Vec<&NamedOrBlankNode> = Vec::new();
    for t in triples {
        if !subjects.contains(&&t.subject) {
            subjects.push(&t.subject);
        }
    }
    layout(
        title,
        html! {},
        html! {
            h1 { (title) }
            (intro)
            p.meta {
                "The same description in RDF: "
                @for (i, (label, href)) in rdf_links.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href=(href) download { (label) " (download)" }
                }
            }
            @for subject in &subjects {
                section id=(anchor(subject)) {
                    h2 { (subject_heading(subject)) }
                    table {
                        thead { tr { th scope="col" { "property" } th scope="col" { "value" } } }
                        tbody {
                            @for t in triples.iter().filter(|t| &&t.subject == subject) {
                                tr { td { a.iri href=(page_href(t.predicate.as_str())) { (compact(t.predicate.as_str())) } } td { (object(&t.object)) } }
                            }
                        }
                    }
                }
            }
        },
    )
}
