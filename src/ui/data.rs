//! What the home page shows of the source files: the ledger's record of what
//! each brought in, or, where a ledger did not record it, one SPARQL count over
//! the file's graphs. (The rest of what pages show of the whole dataset is kept
//! by [`crate::summary`].)

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

/// Graphs counted by one query (well inside the parser's nesting limit).
const GRAPHS_PER_COUNT: usize = 200;

/// The loaded source files (from the store's ledger), with the graphs and
/// statements each brought in: as the ledger recorded them at load, or (for
/// ledgers without the count) counted by SPARQL.
pub async fn sources(store: &KgStore) -> Result<Vec<SourceSummary>, AppError> {
    type Graphs = (Vec<String>, Option<u64>);
    let mut by_file: std::collections::BTreeMap<String, Graphs> = std::collections::BTreeMap::new();
    for (graph, record) in store.sources() {
        let (graphs, recorded) = by_file.entry(record.file.clone()).or_insert((Vec::new(), Some(0)));
        graphs.push(graph);
        graphs.extend(record.contains.iter().cloned());
        *recorded = recorded.zip(record.statements).map(|(a, b)| a + b);
    }
    let mut summaries = Vec::new();
    for (file, (graphs, recorded)) in by_file {
        // What the ledger recorded at load: no work per page.
        if let Some(n) = recorded {
            summaries.push(SourceSummary { file, graphs: graphs.len() as u64, triples: n });
            continue;
        }
        // Each graph named, so the engine reads those graphs alone (a `VALUES`
        // joined with `GRAPH ?g` read every graph of the store); a few hundred
        // to a query, as every `UNION` nests one level deeper.
        let mut n = 0;
        for chunk in graphs.chunks(GRAPHS_PER_COUNT) {
            let union: Vec<String> = chunk.iter().map(|g| format!("{{ GRAPH <{g}> {{ ?s ?p ?o }} }}")).collect();
            let query = format!("SELECT (COUNT(*) AS ?n) WHERE {{ {} }}", union.join(" UNION "));
            let count = rows(store, &query, "home page").await?.first().and_then(|r| text(&r[0]));
            n += count
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| AppError::internal(format!("the statements of {file} were not counted: {count:?}")))?;
        }
        summaries.push(SourceSummary { file, graphs: graphs.len() as u64, triples: n });
    }
    Ok(summaries)
}
