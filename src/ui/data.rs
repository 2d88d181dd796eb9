//! What the home page shows of the source files, read from the store by
//! SPARQL (so it works over any backend): one count per source graph, whose
//! cost grows with those graphs, not with the store. (The rest of what pages
//! show of the whole dataset is kept by [`crate::summary`].)

use super::pages::SourceSummary;
use crate::error::AppError;
use crate::store::{KgStore, QueryJob};
use oxigraph::model::Term;

/// An IRI or a literal's value as text (`None` for blank nodes and unbound cells).
fn text(t: &Option<Term>) -> Option<String> {
    t.as_ref().filter(|t| !matches!(t, Term::BlankNode(_))).map(crate::queries::plain)
}

async fn rows(store: &KgStore, query: &str, label: &str) -> Result<Vec<Vec<Option<Term>>>, AppError> {
    Ok(store.select_rows(QueryJob::text(query, label), 10_000).await?)
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
