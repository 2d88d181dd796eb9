//! Entailment researchers can rely on: the RDFS subclass and subproperty
//! closure (rules rdfs9 and rdfs7) of whatever the store holds, materialized
//! into one graph, [`INFERRED_GRAPH`]. So `?x a schema:Person` finds the
//! officials and `?x a prov:Activity` the events, on either backend, with
//! queries left as they are (no rewriting, no engine reasoner).
//!
//! On the embedded store the graph is kept exact inside every write's own
//! transaction, from the write's change ([`entail`]); it is materialized
//! whole only when the store was changed without it (`treaty-kg load`, a
//! server run with `--no-inference`), in batches of bounded memory.
//!
//! Over a remote engine (this server cannot see inside its writes), the rest
//! of this file: the axioms are read from every graph and closed here (no property
//! paths sent: engines differ on them); a statement already stated in some graph
//! is not repeated, so the union default graph never counts a fact twice; the
//! graph describes itself (`prov:wasDerivedFrom` the ontology) only when it
//! holds something. It is regenerated at start when the data changed since the
//! last run. After a write, in the background and one run at a time (a write
//! during one makes it run again), it is brought up to date for the subjects
//! the write names ([`refresh`]: an update's, a Graph Store write's including
//! the subjects of the statements it replaced); a write that adds or removes
//! an axiom, names whole graphs, blank nodes or more than 10,000 subjects
//! regenerates it whole ([`regeneration`]). `--no-inference` leaves it out.

pub mod entail;

use crate::memo::lock;
use crate::store::{Derivation, GraphTarget, KgStore, Pattern, QueryJob, StoreError, UpdateJob, WriteScope};
use crate::vocab;
use oxigraph::model::{NamedNode, NamedOrBlankNode, Term};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The graph holding what the axioms entail.
pub const INFERRED_GRAPH: &str = "https://w3id.org/treaty-kg/graph/inferred";

/// The store's note of the data version the graph was last regenerated at
/// (over a remote engine, and in stores of earlier releases).
const REGENERATED_AT: &str = "inferred-graph-regenerated-at";

/// The store's note of whether the embedded store's inferred graph is exact
/// (`current`), or was left behind by writes made without it (`stale`).
pub const STATE: &str = "inferred-graph";

/// How many quads one write of the first materialization reads.
const BATCH: usize = 20_000;

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

/// The closed axioms: (sub, super) pairs of classes and of properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axioms {
    pub classes: Vec<(String, String)>,
    pub properties: Vec<(String, String)>,
}

impl Axioms {
    fn is_empty(&self) -> bool {
        self.classes.is_empty() && self.properties.is_empty()
    }
}

/// The inserts of what `axioms` entail into [`INFERRED_GRAPH`], for every
/// subject or, with `only`, for the subjects of that `VALUES ?x { … }` block;
/// then the graph's description, when it holds anything else.
fn entailments(axioms: &Axioms, only: &str) -> String {
    let (inferred, ledger) = (INFERRED_GRAPH, vocab::LEDGER_GRAPH);
    let ontology = "https://w3id.org/treaty-kg/ontology";
    let mut text = String::new();
    if !axioms.classes.is_empty() {
        text.push_str(&format!(
            " ;\nINSERT {{ GRAPH <{inferred}> {{ ?x a ?super }} }} WHERE {{\n  {only}VALUES (?class ?super) {{ {} }}\n  GRAPH ?g {{ ?x a ?class }}\n  FILTER(?g != <{inferred}> && ?g != <{ledger}>)\n  FILTER NOT EXISTS {{ GRAPH ?stated {{ ?x a ?super }} }}\n}}",
            values(&axioms.classes)
        ));
    }
    if !axioms.properties.is_empty() {
        text.push_str(&format!(
            " ;\nINSERT {{ GRAPH <{inferred}> {{ ?x ?super ?o }} }} WHERE {{\n  {only}VALUES (?property ?super) {{ {} }}\n  GRAPH ?g {{ ?x ?property ?o }}\n  FILTER(?g != <{inferred}> && ?g != <{ledger}>)\n  FILTER NOT EXISTS {{ GRAPH ?stated {{ ?x ?super ?o }} }}\n}}",
            values(&axioms.properties)
        ));
    }
    text.push_str(&format!(
        " ;\nINSERT {{ GRAPH <{inferred}> {{ <{inferred}> <http://www.w3.org/ns/prov#wasDerivedFrom> <{ontology}> ; <http://www.w3.org/2000/01/rdf-schema#label> \"Inferred: the RDFS subclass and subproperty closure of the data\"@en }} }} WHERE {{ FILTER EXISTS {{ GRAPH <{inferred}> {{ ?s ?p ?o FILTER(?s != <{inferred}>) }} }} }}"
    ));
    text
}

/// The update that regenerates [`INFERRED_GRAPH`] from the closed axioms, in one
/// request (no property paths: engines differ on them; the closure is ours).
pub fn regeneration(axioms: &Axioms) -> String {
    format!("DROP SILENT GRAPH <{INFERRED_GRAPH}>{}", entailments(axioms, ""))
}

/// The update that brings [`INFERRED_GRAPH`] up to date for `subjects` alone,
/// when the axioms have not changed: every inferred statement has the subject
/// of the statement it follows from (rules rdfs9 and rdfs7), so the subjects'
/// inferred statements are dropped and entailed again from what the store now
/// says of them. The graph's description goes when nothing else is left.
pub fn refresh(subjects: &[NamedNode], axioms: &Axioms) -> String {
    let inferred = INFERRED_GRAPH;
    let only = format!("VALUES ?x {{ {} }}\n  ", subjects.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "));
    format!(
        "DELETE {{ GRAPH <{inferred}> {{ ?x ?p ?o }} }} WHERE {{ {only}GRAPH <{inferred}> {{ ?x ?p ?o }} }} ;\nDELETE {{ GRAPH <{inferred}> {{ <{inferred}> ?p ?o }} }} WHERE {{ GRAPH <{inferred}> {{ <{inferred}> ?p ?o }} FILTER NOT EXISTS {{ GRAPH <{inferred}> {{ ?s ?q ?v FILTER(?s != <{inferred}>) }} }} }}{}",
        entailments(axioms, &only)
    )
}

/// The subjects a write may have changed, when they bound it: named subjects
/// only (a blank node in an update is a new one in the store, and a whole
/// graph names no subjects).
fn subjects_of(scope: &WriteScope) -> Option<Vec<NamedNode>> {
    if scope.everything || !scope.graphs.is_empty() {
        return None;
    }
    let mut subjects = Vec::new();
    for (subject, _) in &scope.subjects {
        match subject {
            NamedOrBlankNode::NamedNode(n) => subjects.push(n.clone()),
            _ => return None,
        }
    }
    subjects.sort();
    subjects.dedup();
    Some(subjects)
}

/// Keeps [`INFERRED_GRAPH`] current.
pub struct Inference {
    store: KgStore,
    running: AtomicBool,
    again: AtomicBool,
    /// What the writes since the last run may have changed.
    pending: Mutex<WriteScope>,
    /// The axioms the graph was last made from (`None`: unknown, so the next
    /// run regenerates it whole).
    made_from: Mutex<Option<Axioms>>,
    /// Runs that succeeded since start: refreshes and whole regenerations.
    refreshes: AtomicU64,
    regenerations: AtomicU64,
    /// The embedded store's keeper, when the graph is kept inside every write.
    embedded: Option<Arc<entail::Entailment>>,
}

impl Inference {
    fn new(store: KgStore, embedded: Option<Arc<entail::Entailment>>) -> Arc<Self> {
        Arc::new(Inference {
            store,
            running: AtomicBool::new(false),
            again: AtomicBool::new(false),
            pending: Mutex::default(),
            made_from: Mutex::default(),
            refreshes: AtomicU64::new(0),
            regenerations: AtomicU64::new(0),
            embedded,
        })
    }

    /// Regenerates the graph now, and brings it up to date after every write to `store`.
    pub async fn start(store: KgStore) -> Result<Arc<Self>, StoreError> {
        if store.derivation() == Derivation::InWrite {
            let (inference, behind) = Self::open_embedded(store)?;
            if behind {
                inference.materialize().await?;
            }
            return Ok(inference);
        }
        let inference = Self::new(store.clone(), None);
        // Nothing written since the last regeneration (a restart): the graph is current.
        let current = store.note(REGENERATED_AT).is_some_and(|at| at == store.data_version());
        let outcome = if current {
            tracing::info!("the inferred graph is current (no write since its last regeneration)");
            inference.axioms().await.map(|axioms| *lock(&inference.made_from) = Some(axioms))
        } else {
            inference.catch_up(WriteScope::everything()).await
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
        store.after_writes(false, move |scope| {
            if let Some(inference) = weak.upgrade() {
                lock(&inference.pending).merge(scope.clone());
                inference.schedule();
            }
        });
        Ok(inference)
    }

    /// The embedded store: keeps the graph exact inside every write from now
    /// on when it is exact already, and returns it with `false`; returns it
    /// with `true` when it was left behind by writes made without it (then
    /// [`Self::materialize`] it, once the writes about to be made are in).
    pub fn open_embedded(store: KgStore) -> Result<(Arc<Self>, bool), StoreError> {
        let axioms = store.read_consistently(entail::read_axioms)?;
        let entailment = Arc::new(entail::Entailment::new(axioms));
        let exact = store.note(STATE).as_deref() == Some("current")
            || (store.note(STATE).is_none() && store.note(REGENERATED_AT).is_some_and(|at| at == store.data_version()));
        if exact {
            tracing::info!("the inferred graph is current (no write was made without it)");
            store.derive(entailment.clone());
        }
        let inference = Self::new(store, Some(entailment));
        Ok((inference, !exact))
    }

    /// Materializes the embedded store's graph whole, then keeps it exact
    /// inside every write: what it held is removed in batches (each one write
    /// of bounded memory), then what the axioms entail is streamed into the
    /// bulk loader (sorted runs of bounded memory, one commit). Call before the
    /// summaries are kept from writes (the bulk loader bypasses them).
    pub async fn materialize(&self) -> Result<(), StoreError> {
        let Some(entailment) = &self.embedded else { return Ok(()) };
        let started = std::time::Instant::now();
        entailment.reset(self.store.read_consistently(entail::read_axioms)?);
        let graph = Pattern { graph: Some(NamedNode::new_unchecked(INFERRED_GRAPH).into()), ..Pattern::default() };
        let removed = self.store.rewrite_in_batches(&[graph], BATCH, &|recorder, quads| {
            for quad in quads {
                recorder.remove(quad.as_ref())?;
            }
            Ok(())
        })?;
        let added = self.store.bulk_write(&mut |recorder, sink| entailment.entailed(recorder, sink))?;
        self.store.set_note(STATE, "current".into()).await?;
        self.regenerations.fetch_add(1, Ordering::Relaxed);
        tracing::info!(removed, added, ms = started.elapsed().as_millis() as u64, "inferred graph materialized");
        self.store.derive(entailment.clone());
        Ok(())
    }

    /// Brings the graph up to date after the writes of `scope`: for their
    /// subjects alone when the writes name them and left the axioms as they
    /// were (milliseconds), else by a whole regeneration (its cost grows with
    /// the data: minutes at 10M quads).
    async fn catch_up(&self, scope: WriteScope) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let axioms = self.axioms().await?;
        // Unknown until this run succeeds.
        let unchanged = lock(&self.made_from).take().as_ref() == Some(&axioms);
        let subjects = subjects_of(&scope).filter(|_| unchanged);
        // Nothing to entail and nothing left from before: no write at all (it
        // would move the data version on for nothing).
        let text = if axioms.is_empty() && !self.exists().await? {
            None
        } else {
            match &subjects {
                Some(subjects) if subjects.is_empty() => None,
                Some(subjects) => Some(refresh(subjects, &axioms)),
                None => Some(regeneration(&axioms)),
            }
        };
        if let Some(text) = text {
            self.store.internal_update(UpdateJob { text, base: None, dataset: Default::default() }).await?;
        }
        let ms = started.elapsed().as_millis() as u64;
        match subjects {
            Some(subjects) => {
                self.refreshes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(subjects = subjects.len(), ms, "inferred graph updated")
            }
            None => {
                self.regenerations.fetch_add(1, Ordering::Relaxed);
                tracing::info!(ms, "inferred graph regenerated whole")
            }
        }
        *lock(&self.made_from) = Some(axioms);
        self.noted().await
    }

    /// Runs that succeeded since start: (refreshes, whole regenerations); on
    /// the embedded store, (writes that changed the graph, materializations).
    pub fn runs(&self) -> (u64, u64) {
        let refreshes = match &self.embedded {
            Some(e) => e.updates(),
            None => self.refreshes.load(Ordering::Relaxed),
        };
        (refreshes, self.regenerations.load(Ordering::Relaxed))
    }

    async fn exists(&self) -> Result<bool, StoreError> {
        self.store.graph_exists(&GraphTarget::Named(NamedNode::new_unchecked(INFERRED_GRAPH))).await
    }

    /// Notes the data version the graph is now current at (a write since then
    /// has scheduled another run, which notes again).
    async fn noted(&self) -> Result<(), StoreError> {
        self.store.set_note(REGENERATED_AT, self.store.data_version()).await
    }

    /// Whether a run is going on or asked for (the search index's whole
    /// rebuild waits for it, so one write costs one rebuild, not two).
    pub fn is_busy(&self) -> bool {
        self.running.load(Ordering::SeqCst) || self.again.load(Ordering::SeqCst)
    }

    /// The axioms the store holds now, closed.
    async fn axioms(&self) -> Result<Axioms, StoreError> {
        Ok(Axioms {
            classes: closure(&self.pairs("subClassOf").await?),
            properties: closure(&self.pairs("subPropertyOf").await?),
        })
    }

    async fn pairs(&self, relation: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.store.select_rows(QueryJob::text(axioms_query(relation), "axioms"), 100_000).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match (row.first().cloned().flatten(), row.get(1).cloned().flatten()) {
                (Some(Term::NamedNode(a)), Some(Term::NamedNode(b))) => Some((a.into_string(), b.into_string())),
                _ => None,
            })
            .collect())
    }

    /// Runs in the background, or asks the running one to run again.
    fn schedule(self: Arc<Self>) {
        self.again.store(true, Ordering::SeqCst);
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(async move {
            while self.again.swap(false, Ordering::SeqCst) {
                let scope = std::mem::take(&mut *lock(&self.pending));
                if let Err(e) = self.catch_up(scope).await {
                    tracing::warn!(error = %e.chain(), "the inferred graph could not be brought up to date; the next write regenerates it");
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
    use super::*;
    use crate::store::{StoreLocation, StoreOptions};

    async fn run(store: &KgStore, text: String) {
        store.update(UpdateJob { text: text.clone(), base: None, dataset: Default::default() }).await.expect(&text);
    }

    async fn inferred(store: &KgStore) -> Vec<String> {
        let text = format!("SELECT ?s ?p ?o {{ GRAPH <{INFERRED_GRAPH}> {{ ?s ?p ?o }} }}");
        let rows = store.select_rows(QueryJob::text(text, "test"), 10_000).await.unwrap();
        let mut rows: Vec<String> = rows.into_iter().map(|r| format!("{r:?}")).collect();
        rows.sort();
        rows
    }

    /// After any write, refreshing the subjects it names leaves the graph
    /// exactly as a whole regeneration would: types and properties inferred,
    /// stated ones not repeated, the description only when something is left.
    #[tokio::test]
    async fn refreshing_the_named_subjects_equals_a_regeneration() {
        let store = KgStore::open(&StoreLocation::Memory, StoreOptions::default()).unwrap();
        let sub = "http://www.w3.org/2000/01/rdf-schema#";
        run(&store, format!("INSERT DATA {{ GRAPH <http://e/onto> {{ <http://e/A> <{sub}subClassOf> <http://e/B> . <http://e/B> <{sub}subClassOf> <http://e/C> . <http://e/p> <{sub}subPropertyOf> <http://e/q> }} }}")).await;
        let axioms = Axioms {
            classes: closure(&[("http://e/A".into(), "http://e/B".into()), ("http://e/B".into(), "http://e/C".into())]),
            properties: vec![("http://e/p".into(), "http://e/q".into())],
        };
        run(&store, regeneration(&axioms)).await;
        assert!(inferred(&store).await.is_empty(), "nothing entailed, no description");
        let statements = [
            "a <http://e/A>",
            "a <http://e/B>",
            "a <http://e/C>",
            "<http://e/p> <http://e/o>",
            "<http://e/q> <http://e/o>",
        ];
        let mut seed: u64 = 42;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for step in 0..60 {
            let subject = format!("http://e/s{}", next(4));
            let statement = statements[next(statements.len() as u64) as usize];
            let graph = format!("http://e/g{}", next(2));
            let verb = if next(3) == 0 { "DELETE" } else { "INSERT" };
            run(&store, format!("{verb} DATA {{ GRAPH <{graph}> {{ <{subject}> {statement} }} }}")).await;
            run(&store, refresh(&[NamedNode::new_unchecked(&subject)], &axioms)).await;
            let refreshed = inferred(&store).await;
            run(&store, regeneration(&axioms)).await;
            assert_eq!(refreshed, inferred(&store).await, "step {step}: {verb} <{subject}> {statement} in <{graph}>");
        }
    }

    #[test]
    fn only_writes_naming_their_subjects_are_refreshed() {
        let named = |s: &str| {
            (NamedOrBlankNode::NamedNode(NamedNode::new_unchecked(s)), oxigraph::model::GraphName::DefaultGraph)
        };
        let scope = WriteScope {
            subjects: vec![named("http://b"), named("http://a"), named("http://b")],
            ..Default::default()
        };
        assert_eq!(subjects_of(&scope).unwrap().len(), 2);
        let blank = (
            NamedOrBlankNode::BlankNode(oxigraph::model::BlankNode::default()),
            oxigraph::model::GraphName::DefaultGraph,
        );
        assert!(subjects_of(&WriteScope { subjects: vec![named("http://a"), blank], ..Default::default() }).is_none());
        assert!(subjects_of(&WriteScope::graph(oxigraph::model::GraphName::DefaultGraph)).is_none());
        assert!(subjects_of(&WriteScope::everything()).is_none());
    }

    #[test]
    fn the_closure_follows_chains_and_survives_cycles() {
        let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        let closed = closure(&[p("a", "b"), p("b", "c"), p("c", "a"), p("d", "b")]);
        assert!(closed.contains(&p("a", "c")) && closed.contains(&p("d", "a")) && closed.contains(&p("d", "c")));
        assert!(!closed.iter().any(|(x, y)| x == y), "no reflexive pairs");
        assert_eq!(closed.len(), 3 * 2 + 3);
    }
}
