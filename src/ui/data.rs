//! What the pages show, read from the store by SPARQL (so the pages work over
//! any backend): events for the timeline, featured resources, source files.

use super::pages::{Featured, SourceSummary};
use super::svg::Event;
use crate::error::AppError;
use crate::linked_data::iri::page_href;
use crate::store::{KgStore, QueryJob};
use oxigraph::model::Term;

/// An IRI or a literal's value as text (`None` for blank nodes and unbound cells).
fn text(t: &Option<Term>) -> Option<String> {
    t.as_ref().filter(|t| !matches!(t, Term::BlankNode(_))).map(crate::queries::plain)
}

async fn rows(store: &KgStore, query: &str, label: &str) -> Result<Vec<Vec<Option<Term>>>, AppError> {
    Ok(store.select_rows(QueryJob::text(query, label).scanning_the_whole_store(), 10_000).await?)
}

/// Every event, with its calendar date when known and its date as stated.
pub async fn events(store: &KgStore) -> Result<Vec<Event>, AppError> {
    let query = "PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
        SELECT ?e (SAMPLE(?l) AS ?label) (MIN(?d) AS ?date) (SAMPLE(?s) AS ?stated) WHERE {
          ?e a ?type ; rdfs:label ?l . ?type rdfs:subClassOf* tkg:Event .
          FILTER(LANG(?l) = 'en' || LANG(?l) = '')
          OPTIONAL { ?e tkg:date ?d FILTER(DATATYPE(?d) = xsd:date) }
          OPTIONAL { ?e tkg:dateAsStated ?s }
        } GROUP BY ?e ORDER BY ?date";
    Ok(rows(store, query, "timeline")
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(Event { href: page_href(&text(&r[0])?), label: text(&r[1])?, date: text(&r[2]), stated: text(&r[3]) })
        })
        .collect())
}

/// The kinds of resource the home page features: class and heading.
const FEATURED_KINDS: [(&str, &str); 4] = [
    ("https://w3id.org/treaty-kg/ontology#SovereignState", "States"),
    ("https://w3id.org/treaty-kg/ontology#Treaty", "Treaties"),
    ("https://w3id.org/treaty-kg/ontology#Official", "Officials"),
    ("https://w3id.org/treaty-kg/ontology#MilitaryAlliance", "Alliances"),
];

/// How many of each kind the home page lists (by label); the rest are a link away.
const FEATURED_PER_KIND: usize = 12;

/// The first states, treaties, officials and alliances by label, for the home
/// page: one query, a few of each kind, however many the data holds.
pub async fn featured(store: &KgStore) -> Result<Vec<Featured>, AppError> {
    let kinds: Vec<String> = FEATURED_KINDS
        .iter()
        .map(|(class, kind)| {
            format!(
                "{{ SELECT ?s (SAMPLE(?label) AS ?l) (<{class}> AS ?class) (\"{kind}\" AS ?kind) WHERE {{
                     ?s a <{class}> ; <http://www.w3.org/2000/01/rdf-schema#label> ?label .
                     FILTER(LANG(?label) = 'en' || LANG(?label) = '')
                   }} GROUP BY ?s ORDER BY ?l LIMIT {FEATURED_PER_KIND} }}"
            )
        })
        .collect();
    let query = format!("SELECT ?s ?l ?class ?kind WHERE {{ {} }} ORDER BY ?kind ?l", kinds.join(" UNION "));
    Ok(rows(store, &query, "home page")
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(Featured {
                href: page_href(&text(&r[0])?),
                label: text(&r[1])?,
                class: text(&r[2])?,
                kind: text(&r[3])?,
            })
        })
        .collect())
}

/// The loaded source files (from the store's ledger), with the graphs and
/// statements each brought in (one streaming count per graph).
pub async fn sources(store: &KgStore) -> Result<Vec<SourceSummary>, AppError> {
    let records = store.sources();
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut values = String::new();
    for (graph, record) in &records {
        let file: String = record
            .file
            .chars()
            .flat_map(|c| match c {
                '\\' | '"' => vec!['\\', c],
                '\n' => vec!['\\', 'n'],
                '\r' => vec!['\\', 'r'],
                c => vec![c],
            })
            .collect();
        values.push_str(&format!("(<{graph}> \"{file}\") "));
        for contained in &record.contains {
            values.push_str(&format!("(<{contained}> \"{file}\") "));
        }
    }
    let query = format!(
        "SELECT ?file (COUNT(DISTINCT ?g) AS ?graphs) (COUNT(?s) AS ?n) WHERE {{
           VALUES (?g ?file) {{ {values} }}
           OPTIONAL {{ GRAPH ?g {{ ?s ?p ?o }} }}
         }} GROUP BY ?file ORDER BY ?file"
    );
    Ok(rows(store, &query, "home page")
        .await?
        .into_iter()
        .filter_map(|r| {
            let n = |t: &Option<Term>| text(t).and_then(|v| v.parse().ok()).unwrap_or(0);
            Some(SourceSummary { file: text(&r[0])?, graphs: n(&r[1]), triples: n(&r[2]) })
        })
        .collect())
}
