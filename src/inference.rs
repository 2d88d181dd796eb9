//! Entailment researchers can rely on: the RDFS subclass and subproperty
//! closure (rules rdfs9 and rdfs7) of whatever the store holds, materialized
//! into one regenerated graph, [`INFERRED_GRAPH`]. So `?x a schema:Person`
//! finds the officials and `?x a prov:Activity` the events, on either backend,
//! with queries left as they are (no rewriting, no engine reasoner).
//!
//! Rules: the axioms are read from every graph and closed here (no property
//! paths sent: engines differ on them); a statement already stated in some graph
//! is not repeated, so the union default graph never counts a fact twice; the
//! graph describes itself (`prov:wasDerivedFrom` the ontology) only when it
//! holds something. It is regenerated at start and after every write, in the
//! background, one regeneration at a time (a write during one makes it run
//! again). `--no-inference` leaves it out.

use crate::store::{GraphTarget, KgStore, QueryJob, StoreError, UpdateJob};
use crate::vocab;
use oxigraph::model::{NamedNode, Term};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The graph holding what the axioms entail.
pub const INFERRED_GRAPH: &str = "https://w3id.org/treaty-kg/graph/inferred";

/// The store's note of the data version the graph was last regenerated at.
const REGENERATED_AT: &str = "inferred-graph-regenerated-at";

/// The axioms: pairs (sub, super) of one relation, read from every graph.
fn axioms_query(relation: &str) -> String {
    format!(
        "SELECT DISTINCT ?sub ?super WHERE {{ GRAPH ?g {{ ?sub <http://www.w3.org/2000/01/rdf-schema#{relation}> ?super }} FILTER(isIRI(?sub) && isIRI(?super) && ?g != <{INFERRED_GRAPH}>) }}"
    )
}

/// The transitive closure of `pairs`, without reflexive pairs, sorted.
pub fn closure(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut supers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (sub, sup) in pairs {
        supers.entry(sub).or_default().insert(sup);
    }
    let mut closed = BTreeSet::new();
    for start in supers.keys() {
        let mut stack: Vec<&str> = supers[start].iter().copied().collect();
        let mut seen = BTreeSet::new();
        while let Some(next) = stack.pop() {
            if next == *start || !seen.insert(next) {
                continue;
            }
            closed.insert(((*start).to_owned(), next.to_owned()));
            stack.extend(supers.get(next).into_iter().flatten().copied());
        }
    }
    closed.into_iter().collect()
}

fn values(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(a, b)| format!("(<{a}> <{b}>)")).collect::<Vec<_>>().join(" ")
}

/// The update that regenerates [`INFERRED_GRAPH`] from the closed axioms, in one
/// request (no property paths: engines differ on them; the closure is ours).
pub fn regeneration(classes: &[(String, String)], properties: &[(String, String)]) -> String {
    let inferred = INFERRED_GRAPH;
    let ledger = vocab::LEDGER_GRAPH;
    let ontology = "https://w3id.org/treaty-kg/ontology";
    let mut text = format!("DROP SILENT GRAPH <{inferred}>");
    if !classes.is_empty() {
        text.push_str(&format!(
            " ;\nINSERT {{ GRAPH <{inferred}> {{ ?x a ?super }} }} WHERE {{\n  VALUES (?class ?super) {{ {} }}\n  GRAPH ?g {{ ?x a ?class }}\n  FILTER(?g != <{inferred}> && ?g != <{ledger}>)\n  FILTER NOT EXISTS {{ GRAPH ?stated {{ ?x a ?super }} }}\n}}",
            values(classes)
        ));
    }
    if !properties.is_empty() {
        text.push_str(&format!(
            " ;\nINSERT {{ GRAPH <{inferred}> {{ ?s ?super ?o }} }} WHERE {{\n  VALUES (?property ?super) {{ {} }}\n  GRAPH ?g {{ ?s ?property ?o }}\n  FILTER(?g != <{inferred}> && ?g != <{ledger}>)\n  FILTER NOT EXISTS {{ GRAPH ?stated {{ ?s ?super ?o }} }}\n}}",
            values(properties)
        ));
    }
    text.push_str(&format!(
        " ;\nINSERT {{ GRAPH <{inferred}> {{ <{inferred}> <http://www.w3.org/ns/prov#wasDerivedFrom> <{ontology}> ; <http://www.w3.org/2000/01/rdf-schema#label> \"Inferred: the RDFS subclass and subproperty closure of the data\"@en }} }} WHERE {{ FILTER EXISTS {{ GRAPH <{inferred}> {{ ?s ?p ?o }} }} }}"
    ));
    text
}

/// Keeps [`INFERRED_GRAPH`] current.
pub struct Inference {
    store: KgStore,
    running: AtomicBool,
    again: AtomicBool,
}

impl Inference {
    /// Regenerates the graph now, and again after every write to `store`.
    pub async fn start(store: KgStore) -> Result<Arc<Self>, StoreError> {
        let inference = Arc::new(Inference {
            store: store.clone(),
            running: AtomicBool::new(false),
            again: AtomicBool::new(false),
        });
        // Nothing written since the last regeneration (a restart): the graph is current.
        let current = store.note(REGENERATED_AT).is_some_and(|at| at == store.data_version());
        let outcome = if current {
            tracing::info!("the inferred graph is current (no write since its last regeneration)");
            Ok(())
        } else {
            inference.regenerate().await
        };
        match outcome {
            Ok(()) => {}
            // An engine that does not answer yet: serve anyway, and try again
            // after the next write (answers lack the closure until then).
            Err(e) if e.is_engine_fault() => {
                tracing::warn!(error = %e.chain(), "the inferred graph could not be regenerated at start");
            }
            Err(e) => return Err(e),
        }
        let weak = Arc::downgrade(&inference);
        store.after_writes(false, move |_| {
            if let Some(inference) = weak.upgrade() {
                inference.schedule();
            }
        });
        Ok(inference)
    }

    async fn regenerate(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let classes = closure(&self.axioms("subClassOf").await?);
        let properties = closure(&self.axioms("subPropertyOf").await?);
        if classes.is_empty() && properties.is_empty() {
            // Nothing to entail: write only to remove an old graph.
            let exists = self.store.graph_exists(&GraphTarget::Named(NamedNode::new_unchecked(INFERRED_GRAPH))).await?;
            if !exists {
                return self.noted().await;
            }
        }
        let text = regeneration(&classes, &properties);
        self.store.internal_update(UpdateJob { text, base: None, dataset: Default::default() }).await?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "inferred graph regenerated");
        self.noted().await
    }

    /// Notes the data version the graph is now current at (a write since then
    /// has scheduled another regeneration, which notes again).
    async fn noted(&self) -> Result<(), StoreError> {
        self.store.set_note(REGENERATED_AT, self.store.data_version()).await
    }

    /// Whether a regeneration is running or asked for (the search index waits
    /// for it, so one write costs one rebuild of the index, not two).
    pub fn is_busy(&self) -> bool {
        self.running.load(Ordering::SeqCst) || self.again.load(Ordering::SeqCst)
    }

    async fn axioms(&self, relation: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.store.select_rows(QueryJob::text(axioms_query(relation), "axioms"), 100_000).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match (row.first().cloned().flatten(), row.get(1).cloned().flatten()) {
                (Some(Term::NamedNode(a)), Some(Term::NamedNode(b))) => Some((a.into_string(), b.into_string())),
                _ => None,
            })
            .collect())
    }

    /// Runs a regeneration in the background, or asks the running one to run again.
    fn schedule(self: Arc<Self>) {
        self.again.store(true, Ordering::SeqCst);
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(async move {
            while self.again.swap(false, Ordering::SeqCst) {
                if let Err(e) = self.regenerate().await {
                    tracing::warn!(error = %e.chain(), "the inferred graph could not be regenerated");
                }
            }
            self.running.store(false, Ordering::SeqCst);
            // A write that came between the last check and the flag's release.
            if self.again.load(Ordering::SeqCst) {
                self.schedule();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::closure;

    #[test]
    fn the_closure_follows_chains_and_survives_cycles() {
        let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        let closed = closure(&[p("a", "b"), p("b", "c"), p("c", "a"), p("d", "b")]);
        assert!(closed.contains(&p("a", "c")) && closed.contains(&p("d", "a")) && closed.contains(&p("d", "c")));
        assert!(!closed.iter().any(|(x, y)| x == y), "no reflexive pairs");
        assert_eq!(closed.len(), 3 * 2 + 3);
    }
}
