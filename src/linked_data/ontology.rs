//! The ontology's documentation page: every class and property with its label,
//! comment, domain and range, super- and sub-classes, and how often the data
//! uses it. Each term has an anchor, so hash IRIs (`/ontology#Treaty`) land on it.

use super::html::layout;
use super::iri::page_href;
use super::void::Statistics;
use crate::error::AppError;
use crate::store::{KgStore, QueryJob};
use crate::vocab::ONTOLOGY_NS;
use maud::{html, Markup};
use oxigraph::model::Term;
use std::collections::BTreeMap;

/// One documented term.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct TermDoc {
    pub iri: String,
    pub kind: String,
    pub label: String,
    pub comment: String,
    pub relations: Vec<(String, String)>,
}

fn text(t: &Option<Term>) -> String {
    t.as_ref().map(crate::queries::plain).unwrap_or_default()
}

/// The ontology's terms, read from the store.
pub async fn terms(store: &KgStore) -> Result<Vec<TermDoc>, AppError> {
    let query = format!(
        "SELECT ?term ?kind ?label ?comment WHERE {{
           ?term a ?kind ; <http://www.w3.org/2000/01/rdf-schema#label> ?label .
           OPTIONAL {{ ?term <http://www.w3.org/2000/01/rdf-schema#comment> ?comment }}
           VALUES ?kind {{ <http://www.w3.org/2002/07/owl#Class> <http://www.w3.org/2002/07/owl#ObjectProperty> <http://www.w3.org/2002/07/owl#DatatypeProperty> }}
           FILTER(STRSTARTS(STR(?term), \"{ONTOLOGY_NS}\"))
         }} ORDER BY ?kind ?term"
    );
    let rows = store.select_rows(QueryJob::text(query, "ontology page").scanning_the_whole_store(), 10_000).await?;
    let mut docs: BTreeMap<String, TermDoc> = BTreeMap::new();
    for row in rows {
        let iri = text(&row[0]);
        let entry = docs.entry(iri.clone()).or_insert_with(|| TermDoc { iri, ..TermDoc::default() });
        entry.kind = super::document::local_name(&text(&row[1]));
        entry.label = text(&row[2]);
        entry.comment = text(&row[3]);
    }
    let relations = format!(
        "SELECT ?term ?relation ?other WHERE {{
           {{ ?term ?p ?other . VALUES (?p ?relation) {{
               (<http://www.w3.org/2000/01/rdf-schema#domain> \"domain\")
               (<http://www.w3.org/2000/01/rdf-schema#range> \"range\")
               (<http://www.w3.org/2000/01/rdf-schema#subClassOf> \"subclass of\")
               (<http://www.w3.org/2000/01/rdf-schema#subPropertyOf> \"subproperty of\") }} }}
           UNION {{ ?other <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?term . BIND(\"superclass of\" AS ?relation) }}
           FILTER(STRSTARTS(STR(?term), \"{ONTOLOGY_NS}\"))
         }} ORDER BY ?term ?relation ?other"
    );
    for row in store.select_rows(QueryJob::text(relations, "ontology page").scanning_the_whole_store(), 10_000).await? {
        if let Some(doc) = docs.get_mut(&text(&row[0])) {
            let pair = (text(&row[1]), text(&row[2]));
            if !doc.relations.contains(&pair) {
                doc.relations.push(pair);
            }
        }
    }
    Ok(docs.into_values().collect())
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
