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
    let mut by_file: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (graph, record) in store.sources() {
        let graphs = by_file.entry(record.file.clone()).or_default();
        graphs.push(graph);
        graphs.extend(record.contains.iter().cloned());
    }
    let mut summaries = Vec::new();
    for (file, graphs) in by_file {
        // Each graph named, so the engine reads those graphs alone (a `VALUES`
        // joined with `GRAPH ?g` read every graph of the store).
        let union: Vec<String> = graphs.iter().map(|g| format!("{{ GRAPH <{g}> {{ ?s ?p ?o }} }}")).collect();
        let query = format!("SELECT (COUNT(*) AS ?n) WHERE {{ {} }}", union.join(" UNION "));
        let count = rows(store, &query, "home page").await?.first().and_then(|r| text(&r[0]));
        let n = count
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| AppError::internal(format!("the statements of {file} were not counted: {count:?}")))?;
        summaries.push(SourceSummary { file, graphs: graphs.len() as u64, triples: n });
    }
    Ok(summaries)
}
