//! The ontology's documentation page: every class and property with its label,
//! comment, domain and range, super- and sub-classes, and how often the data
//! uses it. Each term has an anchor, so hash IRIs (`/ontology#Treaty`) land on it.

use super::html::layout;
use super::iri::page_href;
use super::void::Statistics;
use maud::{html, Markup};

/// One documented term.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TermDoc {
    pub iri: String,
    pub kind: String,
    pub label: String,
    pub comment: String,
    pub relations: Vec<(String, String)>,
}

/// The HTML documentation of the ontology.
pub fn page(terms: &[TermDoc], stats: &Statistics) -> Markup {
    let usage = |iri: &str| -> u64 {
        stats.classes.iter().chain(&stats.properties).filter(|(t, _)| t.as_str() == iri).map(|(_, n)| *n).sum()
    };
    let head = html! {
        link rel="alternate" type="text/turtle" href="/ontology.ttl";
        link rel="alternate" type="application/rdf+xml" href="/ontology.rdf";
    };
    layout(
        "Ontology",
        head,
        html! {
            h1 { "The treaty-kg ontology" }
            p { code { "https://w3id.org/treaty-kg/ontology" } " · download as " a href="/ontology.ttl" download { "Turtle" } " · " a href="/ontology.rdf" download { "RDF/XML" } " · " a href="/ontology.jsonld" download { "JSON-LD" } }
            nav aria-label="terms" {
                ul.terms {
                    @for t in terms { li { a href={ "#" (super::document::local_name(&t.iri)) } { (t.label) } } }
                }
            }
            @for t in terms {
                section id=(super::document::local_name(&t.iri)) {
                    h2 { (t.label) " " small.meta { (t.kind) } }
                    p { code { (t.iri) } }
                    p { (t.comment) }
                    dl {
                        @for (relation, other) in &t.relations {
                            dt { (relation) }
                            dd { a href=(page_href(other)) { (super::document::local_name(other)) } }
                        }
                        dt { "used in the data" }
                        dd { (usage(&t.iri)) (if t.kind == "Class" { " instances" } else { " statements" }) }
                    }
                }
            }
        },
    )
}
