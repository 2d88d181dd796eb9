//! The census of the named graphs: how many statements they hold, how many
//! there are, and their names, read the way each backend reads them cheaply.
//! Callers (VoID, the dataset summaries) never ask which backend it is.
//!
//! - The embedded store lists its graphs without reading statements; past the
//!   cap it counts them with one scan.
//! - An engine may cut a listing short without an error (Virtuoso answers at
//!   most `ResultSetMaxRows` rows, 10,000 by default), so its graphs are
//!   counted with the statements, in the same scan. Engines differ on an empty
//!   `GRAPH ?g {}` (Virtuoso answers nothing), so the names come from a
//!   `GROUP BY ?g` over the statements (Virtuoso 7.2.5 timed out a `DISTINCT`
//!   where it answered the grouping at once).

use super::{engine_count, KgStore, QueryJob, StoreError};
use oxigraph::model::{NamedNode, Term};

/// The named graphs' statements, their number, and some of their names.
pub struct GraphCensus {
    /// Statements in named graphs (one stated in two graphs counts twice).
    pub statements: u64,
    /// Named graphs, those named by blank nodes included.
    pub graphs: u64,
    /// Up to the cap's worth of graphs named by IRIs, in the backend's order.
    pub names: Vec<NamedNode>,
}

const ALL: &str = "GRAPH ?g { ?s ?p ?o }";

impl KgStore {
    /// Takes the census, listing up to `cap` graphs (a listing that reaches
    /// the cap is counted apart, whatever it holds).
    pub async fn graph_census(&self, cap: usize) -> Result<GraphCensus, StoreError> {
        let remote = self.is_remote();
        let (statements, counted) = self.statement_count(ALL, remote).await?;
        let names_query = if remote {
            "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        } else {
            "SELECT ?g WHERE { GRAPH ?g { } }"
        };
        let listing = self.census_rows(names_query.to_owned(), cap).await?;
        let listed = listing.len() as u64;
        let names: Vec<NamedNode> = listing
            .into_iter()
            .filter_map(|row| match row.into_iter().next().flatten() {
                Some(Term::NamedNode(n)) => Some(n),
                _ => None,
            })
            .collect();
        let graphs = match counted {
            Some(graphs) => graphs,
            None if listing_capped(listed, cap) => self.statement_count(ALL, true).await?.1.unwrap_or(listed),
            None => listed,
        };
        Ok(GraphCensus { statements, graphs: graphs.max(names.len() as u64), names })
    }

    /// The statements matching `pattern` and, when `graphs`, how many
    /// distinct graphs `?g` they are in, in one scan (an engine's counts that
    /// are not numbers are its fault, never zeros).
    pub async fn statement_count(&self, pattern: &str, graphs: bool) -> Result<(u64, Option<u64>), StoreError> {
        let distinct = if graphs { " (COUNT(DISTINCT ?g) AS ?graphs)" } else { "" };
        let query = format!("SELECT (COUNT(*) AS ?n){distinct} WHERE {{ {pattern} }}");
        let row = self.census_rows(query, 1).await?.into_iter().next().unwrap_or_default();
        let statements = engine_count(row.first().cloned().flatten().as_ref())?;
        let counted = if graphs { Some(engine_count(row.get(1).cloned().flatten().as_ref())?) } else { None };
        Ok((statements, counted))
    }

    async fn census_rows(&self, query: String, cap: usize) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
        self.select_rows(QueryJob::text(query, "VoID statistics").scanning_the_whole_store(), cap).await
    }
}

fn listing_capped(listed: u64, cap: usize) -> bool {
    listed >= cap as u64
}
