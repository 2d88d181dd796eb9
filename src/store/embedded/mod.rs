//! The embedded backend: an Oxigraph store in this process (RocksDB on disk, or
//! memory). Everything here is synchronous; the façade calls it on the
//! deep-stack pool with the work's [`RunningGuard`], whose token stops it.
//!
//! - this file: opening, query preparation and evaluation, updates, the
//!   quad-pattern reader, small reads (named graphs, ping, size);
//! - `graphs`: the Graph Store operations and the dump;
//! - `load`: source-file sync, bulk load, backup.

mod graphs;
mod load;
mod update;

use super::change::{Derived, Recorder, Written};
use super::error::{from_query_error, StoreError};
use super::job::{ProtocolDataset, StoreLocation, StoreOptions};
use super::running::RunningGuard;
use super::version::{Ledger, SourceRecord};
use crate::sparql::checkpoints;
use crate::vocab;
use oxigraph::model::{
    GraphName, GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNode, NamedOrBlankNodeRef, Quad, TermRef,
};
use oxigraph::sparql::{PreparedSparqlQuery, QueryDatasetSpecification, QueryResults, SparqlEvaluator};
use oxigraph::store::Store;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// How often long loops over the store look at their cancellation token.
const CHECK_EVERY: usize = 1024;

/// An Oxigraph store in this process. Cheap to clone.
#[derive(Clone)]
pub struct Embedded {
    store: Store,
    /// Nothing on disk: no backup possible.
    in_memory: bool,
    /// What every write keeps current inside its transaction.
    derived: Arc<RwLock<Vec<Arc<dyn Derived>>>>,
}

fn system_graph() -> GraphNameRef<'static> {
    GraphNameRef::NamedNode(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH))
}

impl Embedded {
    /// Opens (creating if needed) the store at `location`.
    pub fn open(location: &StoreLocation) -> Result<Self, StoreError> {
        let store = match location {
            StoreLocation::Memory => Store::new()?,
            StoreLocation::Remote(_) => {
                return Err(StoreError::NotSupported("a remote engine is not an embedded store".into()))
            }
            StoreLocation::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::io(format!("{}: cannot create the store directory", dir.display()), e))?;
                Store::open(dir).map_err(|e| StoreError::Io {
                    context: format!(
                        "{}: cannot open the store; is another treaty-kg process using it? Stop it, or pass another --store",
                        dir.display()
                    ),
                    source: std::io::Error::other(e),
                })?
            }
        };
        Ok(Embedded { store, in_memory: matches!(location, StoreLocation::Memory), derived: Arc::default() })
    }

    /// Opens an existing store read-only (allowed while a server holds it).
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        if !dir.exists() {
            return Err(StoreError::io(
                format!("{}: no store here; load data first or pass --store", dir.display()),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let store = Store::open_read_only(dir).map_err(|e| StoreError::Io {
            context: format!("{}: cannot open the store read-only", dir.display()),
            source: std::io::Error::other(e),
        })?;
        Ok(Embedded { store, in_memory: false, derived: Arc::default() })
    }

    /// The bookkeeping of a store written by an earlier version of treaty-kg,
    /// which kept it in a named graph of the data (`vocab::SYSTEM_GRAPH`); when
    /// `remove`, that graph is then dropped, so no query sees it again.
    pub fn take_legacy_ledger(&self, remove: bool) -> Result<Option<Ledger>, StoreError> {
        let system = NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH);
        if !self.store.contains_named_graph(system)? {
            return Ok(None);
        }
        let mut ledger = Ledger::default();
        for quad in self.store.quads_for_pattern(None, None, None, Some(system_graph())) {
            let quad = quad?;
            let value = match &quad.object {
                oxigraph::model::Term::Literal(l) => l.value().to_owned(),
                oxigraph::model::Term::NamedNode(n) => n.as_str().to_owned(),
                _ => continue,
            };
            let graph = match &quad.subject {
                NamedOrBlankNode::NamedNode(n) => n.as_str().to_owned(),
                _ => continue,
            };
            match quad.predicate.as_str() {
                vocab::WRITE_COUNT => {
                    let count: u64 = value.parse().map_err(|_| {
                        StoreError::Engine(format!("the old ledger's write count is not a number: {value:?}").into())
                    })?;
                    ledger.writes = ledger.writes.max(count);
                }
                vocab::SOURCE_FILE => ledger.sources.entry(graph).or_insert_with(SourceRecord::default).file = value,
                vocab::CONTENT_HASH => ledger.sources.entry(graph).or_insert_with(SourceRecord::default).hash = value,
                vocab::CONTAINS_GRAPH => {
                    ledger.sources.entry(graph).or_insert_with(SourceRecord::default).contains.push(value)
                }
                _ => {}
            }
        }
        if remove {
            self.store.remove_named_graph(system)?;
        }
        Ok(Some(ledger))
    }

    /// An evaluator stopped by `guard`'s token: at store reads (Oxigraph's own
    /// check) and at the checkpoints woven into the algebra
    /// ([`crate::sparql::checkpoints`]), which unwind a cancelled evaluation.
    /// It knows GeoSPARQL's functions (`spargeo`); any other function it does
    /// not know has no value.
    pub(crate) fn evaluator(guard: &RunningGuard, functions: Vec<NamedNode>) -> SparqlEvaluator {
        // An attempt on the request's own thread has a token of its own.
        let token = super::inline::token().unwrap_or_else(|| guard.token.clone());
        let mut evaluator = SparqlEvaluator::new();
        let checkpointed = functions.iter().any(|f| f.as_str() == checkpoints::CHECKPOINT);
        // Only those the text calls: registering all of them cost every query.
        for (name, function) in spargeo::GEOSPARQL_EXTENSION_FUNCTIONS {
            if functions.iter().any(|f| f.as_ref() == name) {
                evaluator = evaluator.with_custom_function(name.into_owned(), function);
            }
        }
        for unknown in checkpoints::unknown_functions(functions) {
            evaluator = evaluator.with_custom_function(unknown, |_| None);
        }
        let evaluator = evaluator.with_cancellation_token(token.clone());
        // Registered for a query that calls it: a custom function is a map
        // entry and an allocation for every query that is prepared.
        if !checkpointed {
            return evaluator;
        }
        evaluator.with_custom_function(NamedNode::new_unchecked(checkpoints::CHECKPOINT), move |_| {
            if token.is_cancelled() || super::inline::spent() {
                // Not a panic: `resume_unwind` skips the panic hook; `unwound` catches it.
                std::panic::resume_unwind(Box::new(Unwound));
            }
            Some(oxigraph::model::Literal::from(true).into())
        })
    }

    /// Prepares a (bound) query on its dataset, with cancellation checkpoints.
    pub fn prepare(
        &self,
        query: spargebra::Query,
        dataset: &ProtocolDataset,
        options: &StoreOptions,
        guard: &RunningGuard,
    ) -> Result<PreparedSparqlQuery, StoreError> {
        if super::inline::attempting() && !super::inline::may_try(&query) {
            return Err(StoreError::GaveWay);
        }
        let (query, functions) = checkpoints::query(crate::sparql::antijoin::query(query));
        let mut prepared = Self::evaluator(guard, functions).for_query(query);
        apply_dataset(prepared.dataset_mut(), dataset, options.union_default_graph);
        Ok(prepared)
    }

    /// Evaluates a query to its end with the engine's statistics on, and
    /// returns its plan as JSON (see [`super::Backend::explain`]).
    pub fn explain(
        &self,
        query: spargebra::Query,
        dataset: &ProtocolDataset,
        options: &StoreOptions,
        guard: &RunningGuard,
    ) -> Result<Vec<u8>, StoreError> {
        let prepared = self.prepare(query, dataset, options, guard)?;
        let (results, explanation) = prepared.on_store(&self.store).compute_statistics().explain();
        unwound(guard, || -> Result<(), StoreError> {
            match results.map_err(from_query_error)? {
                QueryResults::Solutions(solutions) => {
                    for s in solutions {
                        s.map_err(from_query_error)?;
                    }
                }
                QueryResults::Graph(triples) => {
                    for t in triples {
                        t.map_err(from_query_error)?;
                    }
                }
                QueryResults::Boolean(_) => {}
            }
            Ok(())
        })??;
        let mut json = Vec::new();
        explanation.write_in_json(&mut json).map_err(|e| StoreError::Engine(e.into()))?;
        Ok(json)
    }

    /// Runs a prepared query.
    pub fn execute(&self, prepared: PreparedSparqlQuery) -> Result<QueryResults<'static>, StoreError> {
        prepared.on_store(&self.store).execute().map_err(from_query_error)
    }

    /// Registers data kept current inside every write's transaction.
    pub fn derive(&self, derived: Arc<dyn Derived>) {
        self.derived.write().unwrap_or_else(std::sync::PoisonError::into_inner).push(derived);
    }

    /// Runs one write in one transaction through a [`Recorder`]: `apply`, then
    /// the derived data's own statements, then their reads, then the commit.
    /// Nothing is written when any part fails or the work is cancelled.
    /// `guard` is `None` for the server's own writes at start (source files).
    pub fn write<T>(
        &self,
        guard: Option<&RunningGuard>,
        apply: impl FnOnce(&mut Recorder<'_>) -> Result<T, StoreError>,
    ) -> Result<(T, Written), StoreError> {
        let (outcome, written) = self.write_when(guard, apply, &mut |_| Ok(true))?;
        Ok((outcome, written.unwrap_or_default()))
    }

    /// Like [`Self::write`], committing only when `commit_if` says so once the
    /// whole change is known (`None`: nothing was written).
    pub fn write_when<T>(
        &self,
        guard: Option<&RunningGuard>,
        apply: impl FnOnce(&mut Recorder<'_>) -> Result<T, StoreError>,
        commit_if: &mut dyn FnMut(&super::change::Change) -> Result<bool, StoreError>,
    ) -> Result<(T, Option<Written>), StoreError> {
        let derived: Vec<Arc<dyn Derived>> =
            self.derived.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut recorder = Recorder::new(self.store.start_transaction()?);
        let outcome = match guard {
            Some(guard) => unwound(guard, || apply(&mut recorder))??,
            None => apply(&mut recorder)?,
        };
        for d in &derived {
            d.extend(&mut recorder)?;
        }
        if let Some(guard) = guard {
            guard.check()?;
        }
        if !commit_if(recorder.change())? {
            return Ok((outcome, None));
        }
        let mut publish = Vec::new();
        for d in &derived {
            publish.extend(d.prepare(&recorder)?);
        }
        let change = recorder.commit()?;
        Ok((outcome, Some(Written { scope: change.into_scope(), publish })))
    }

    /// Applies a parsed update in one transaction, recording its exact change.
    pub fn update(
        &self,
        update: spargebra::Update,
        dataset: &ProtocolDataset,
        options: &StoreOptions,
        guard: &RunningGuard,
    ) -> Result<Written, StoreError> {
        let context = update::UpdateContext { dataset, options, guard };
        Ok(self.write(Some(guard), |recorder| update::apply(recorder, &update, &context))?.1)
    }

    /// The quads matching a pattern, in index order (the default graph's first,
    /// then the named graphs', each ordered by the bound positions), stopping
    /// with the work's cancellation reason once its deadline passes.
    pub fn quads<'a>(
        &'a self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
        guard: &'a RunningGuard,
    ) -> impl Iterator<Item = Result<Quad, StoreError>> + 'a {
        self.store.quads_for_pattern(subject, predicate, object, graph).enumerate().map(move |(i, quad)| {
            if i % CHECK_EVERY == 0 {
                guard.check()?;
            }
            Ok(quad?)
        })
    }

    /// Up to `limit` named graphs, in store order.
    pub fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        let mut graphs = Vec::new();
        for graph in self.store.named_graphs().take(limit) {
            if let NamedOrBlankNode::NamedNode(n) = graph? {
                graphs.push(n);
            }
        }
        Ok(graphs)
    }

    /// A cheap read that proves the storage answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.store.contains_named_graph(NamedNodeRef::new_unchecked(vocab::BASE_IRI))?;
        Ok(())
    }

    /// The Oxigraph store itself, for unit tests.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &Store {
        &self.store
    }

    /// The Oxigraph store itself, for the derived data's streaming passes.
    pub(crate) fn raw_store(&self) -> &Store {
        &self.store
    }

    /// Runs `read` on one consistent view of the store (a transaction that is
    /// never committed).
    pub fn read_consistently<T>(
        &self,
        read: impl FnOnce(&Recorder<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let recorder = Recorder::new(self.store.start_transaction()?);
        read(&recorder)
    }

    /// The number of quads (a full scan on disk).
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.store.len()?)
    }

    /// Whether the store holds no quad (a seek).
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.store.is_empty()?)
    }
}

/// The payload a cancelled evaluation unwinds with.
struct Unwound;

/// Runs evaluation work, turning the unwinding of a cancelled evaluation into
/// the cancellation's reason; any other panic goes on unwinding.
pub fn unwound<T>(guard: &RunningGuard, work: impl FnOnce() -> T) -> Result<T, StoreError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(value) => Ok(value),
        Err(payload) if payload.is::<Unwound>() => Err(guard.cancel_reason().unwrap_or(StoreError::Cancelled)),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Sets a query's or update's dataset from the protocol's parameters, or makes
/// the default graph the union of all graphs when configured and the text names
/// no dataset itself.
pub(crate) fn apply_dataset(dataset: &mut QueryDatasetSpecification, given: &ProtocolDataset, union: bool) {
    if !given.is_empty() {
        dataset.set_default_graph(given.default_graphs.iter().cloned().map(GraphName::from).collect());
        if !given.named_graphs.is_empty() {
            dataset
                .set_available_named_graphs(given.named_graphs.iter().cloned().map(NamedOrBlankNode::from).collect());
        }
    } else if union && dataset.is_default_dataset() {
        dataset.set_default_graph_as_union();
    }
}
