//! The store: the only module that touches Oxigraph's `Store`.
//!
//! Everything else asks this module for one of a few operations: evaluate a query
//! into a stream of bytes in a format, apply an update, read/replace/merge/delete
//! a graph, sync the repository's source files, dump. That narrow surface is the
//! seam where a remote SPARQL backend can be added later without touching handlers.
//!
//! Invariants:
//! - Oxigraph's evaluation is synchronous: every call that reads or writes the store
//!   from a request runs on tokio's blocking pool (`spawn_blocking`), never on a
//!   runtime worker thread.
//! - Every query and update carries a `CancellationToken` cancelled at its deadline;
//!   a running query is listed in [`RunningQueries`] and can be cancelled by id.
//! - Every write is one transaction: it applies whole or not at all, and bumps
//!   [`KgStore::generation`] after commit.
//! - Results are serialized in the blocking thread into a bounded channel, so a
//!   large result streams with back-pressure and is never held in memory.

use crate::sources::{self, SourceFile};
use crate::sparql::results::{self, OutputFormat, Peeked};
use crate::vocab;
use bytes::Bytes;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{
    GraphName, GraphNameRef, Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, QuadRef, Term, TermRef, Variable,
};
use oxigraph::sparql::{CancellationToken, QueryEvaluationError, QueryResults, SparqlEvaluator, UpdateEvaluationError};
use oxigraph::store::{StorageError, Store};
use spargebra::GraphUpdateOperation;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// Where the store lives.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreLocation {
    /// In memory: gone when the process ends (tests, demos).
    Memory,
    /// A RocksDB directory, created when missing.
    Directory(PathBuf),
}

/// What went wrong in the store layer. Mapped to HTTP statuses in `http`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("query evaluation exceeded the time limit of {0} s")]
    Timeout(u64),
    #[error("cancelled by an operator")]
    Cancelled,
    /// Too many evaluations are running and waiting; try again shortly.
    #[error("the server is busy")]
    Overloaded,
    /// The operation would make an outbound request, which is switched off.
    #[error("{0}")]
    Refused(String),
    /// Evaluation failed because of the request (a missing graph for DROP, …).
    #[error("{0}")]
    Evaluation(String),
    #[error("graph {0} does not exist")]
    GraphNotFound(String),
    /// A body in an RDF syntax failed to parse; nothing was written.
    #[error("{0}")]
    Parse(String),
    /// The storage itself failed.
    #[error("storage failure: {0}")]
    Storage(String),
}

impl From<StorageError> for StoreError {
    fn from(e: StorageError) -> Self {
        StoreError::Storage(e.to_string())
    }
}

/// A graph addressed by the Graph Store Protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphTarget {
    /// The store's own default graph (never the union).
    Default,
    Named(NamedNode),
}

impl GraphTarget {
    fn as_ref(&self) -> GraphNameRef<'_> {
        match self {
            GraphTarget::Default => GraphNameRef::DefaultGraph,
            GraphTarget::Named(n) => n.as_ref().into(),
        }
    }
}

/// The RDF dataset a request names through the protocol
/// (`default-graph-uri`/`named-graph-uri`, or `using-…` for updates).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProtocolDataset {
    pub default_graphs: Vec<NamedNode>,
    pub named_graphs: Vec<NamedNode>,
}

impl ProtocolDataset {
    pub fn is_empty(&self) -> bool {
        self.default_graphs.is_empty() && self.named_graphs.is_empty()
    }
}

/// A parsed query ready to run.
pub struct QueryJob {
    pub query: spargebra::Query,
    pub dataset: ProtocolDataset,
    /// Values bound to variables of the query (saved-query parameters), joined
    /// into the query's algebra as a one-row VALUES table (`sparql::bind`).
    pub bindings: Vec<(Variable, Term)>,
    /// The text shown in the running-queries list.
    pub label: String,
    /// A deadline shorter than the server's (a saved query's own timeout).
    pub timeout: Option<Duration>,
}

impl QueryJob {
    /// A query on the default dataset, with no bindings and the server's deadline.
    pub fn new(query: spargebra::Query, label: impl Into<String>) -> Self {
        QueryJob {
            query,
            dataset: ProtocolDataset::default(),
            bindings: Vec::new(),
            label: label.into(),
            timeout: None,
        }
    }
}

/// A materialized, capped answer (saved queries).
#[derive(Debug, Clone)]
pub struct CappedAnswer {
    pub body: Bytes,
    /// More rows (or triples) existed than the cap; only the first `cap` were written.
    pub truncated: bool,
}

/// Outcome of syncing one source file at start.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSync {
    Loaded { graph: String, quads: usize },
    Unchanged { graph: String },
}

/// Body chunks of a streamed answer. Dropping it stops the evaluation.
pub type ByteReceiver = mpsc::Receiver<io::Result<Bytes>>;

/// The embedded store and its runtime bookkeeping. Cheap to clone.
#[derive(Clone)]
pub struct KgStore {
    store: Store,
    generation: Arc<AtomicU64>,
    /// A digest of the system graph (source-file hashes and the persisted write
    /// count): the citable version of the data, stable across restarts.
    data_version: Arc<std::sync::RwLock<String>>,
    /// When the data last changed (start-up, or the last committed write).
    last_modified: Arc<std::sync::RwLock<SystemTime>>,
    running: Arc<RunningQueries>,
    options: Arc<StoreOptions>,
    admission: Arc<Admission>,
}

/// Evaluation options fixed at start.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The default graph of queries is the union of all graphs.
    pub union_default_graph: bool,
    /// Deadline of every query and update.
    pub timeout: Duration,
    /// Evaluations (queries, updates, page reads) running at once; more wait.
    pub max_concurrent: usize,
    /// Evaluations allowed to wait for a slot; past it, requests are refused at once.
    pub max_queued: usize,
    /// How long an evaluation waits for a slot before it is refused.
    pub queue_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            union_default_graph: true,
            timeout: Duration::from_secs(30),
            max_concurrent: default_concurrency(),
            max_queued: 64,
            queue_timeout: Duration::from_secs(10),
        }
    }
}

/// Twice the cores: evaluation is CPU-bound, and some of it waits on the client.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 2)
}

/// Admission control: at most `max_concurrent` evaluations, at most `max_queued`
/// waiting for one, each for at most `queue_timeout`. Past that the request is
/// refused (503 with Retry-After) instead of piling up.
struct Admission {
    slots: Arc<tokio::sync::Semaphore>,
    waiting: AtomicU64,
    max_queued: u64,
    queue_timeout: Duration,
}

impl Admission {
    fn new(options: &StoreOptions) -> Self {
        Admission {
            slots: Arc::new(tokio::sync::Semaphore::new(options.max_concurrent.max(1))),
            waiting: AtomicU64::new(0),
            max_queued: options.max_queued as u64,
            queue_timeout: options.queue_timeout,
        }
    }

    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        // The count of waiters must go down however the wait ends, including when
        // the request's future is dropped (the client went away): a guard does it.
        struct Waiting<'a>(&'a AtomicU64);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if queued >= self.max_queued {
            return Err(StoreError::Overloaded);
        }
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(StoreError::Overloaded),
        }
    }
}

impl KgStore {
    /// Opens (creating if needed) the store at `location`.
    pub fn open(location: &StoreLocation, options: StoreOptions) -> Result<Self, StoreError> {
        let store = match location {
            StoreLocation::Memory => Store::new()?,
            StoreLocation::Directory(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Storage(format!("{}: cannot create the store directory: {e}", dir.display()))
                })?;
                Store::open(dir).map_err(|e| {
                    StoreError::Storage(format!(
                        "{}: cannot open the store ({e}); is another treaty-kg process using it? Stop it, or pass another --store",
                        dir.display()
                    ))
                })?
            }
        };
        Ok(Self::from_store(store, options))
    }

    /// Opens an existing store read-only (allowed while a server holds it).
    pub fn open_read_only(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        if !dir.exists() {
            return Err(StoreError::Storage(format!(
                "{}: no store here; load data first or pass --store",
                dir.display()
            )));
        }
        let store = Store::open_read_only(dir).map_err(|e| StoreError::Storage(format!("{}: {e}", dir.display())))?;
        Ok(Self::from_store(store, options))
    }

    fn from_store(store: Store, options: StoreOptions) -> Self {
        let this = KgStore {
            store,
            generation: Arc::new(AtomicU64::new(0)),
            data_version: Arc::default(),
            last_modified: Arc::new(std::sync::RwLock::new(SystemTime::now())),
            running: Arc::new(RunningQueries::default()),
            admission: Arc::new(Admission::new(&options)),
            options: Arc::new(options),
        };
        this.refresh_version();
        this
    }

    /// A counter bumped after every committed write: caches and ETags key on it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    pub fn running(&self) -> &RunningQueries {
        &self.running
    }

    /// The citable version of the data: changes with every loaded source file and
    /// every write, and is the same after a restart when nothing changed.
    pub fn data_version(&self) -> String {
        self.data_version.read().expect("data version lock").clone()
    }

    /// Records a committed write: bumps the generation and recomputes the data
    /// version. Synchronous (reads the small system graph): call it on the
    /// blocking pool, right after the commit.
    /// When the data last changed (for `Last-Modified`).
    pub fn last_modified(&self) -> SystemTime {
        *self.last_modified.read().expect("last-modified lock")
    }

    fn committed(&self) {
        *self.last_modified.write().expect("last-modified lock") = SystemTime::now();
        self.refresh_version();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn refresh_version(&self) {
        let system = NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH);
        let mut lines: Vec<String> = self
            .store
            .quads_for_pattern(None, None, None, Some(system.into()))
            .filter_map(Result::ok)
            .map(|q| q.to_string())
            .collect();
        lines.sort();
        let digest = sources::content_hash(lines.join("\n").as_bytes());
        *self.data_version.write().expect("data version lock") = digest[..16].to_owned();
    }

    /// Number of quads in the store.
    pub async fn quad_count(&self) -> Result<usize, StoreError> {
        let store = self.store.clone();
        blocking(move || Ok(store.len()?)).await
    }

    /// Evaluates `job` and streams its results in `format`. Returns once the first
    /// chunk (64 KiB) is serialized or the whole answer is, whichever comes first,
    /// so that errors and timeouts before it get a proper status and a small answer
    /// crosses threads once; the rest of a large answer is serialized in the
    /// background into the receiver, with back-pressure.
    pub async fn query(&self, job: QueryJob, format: OutputFormat) -> Result<ByteReceiver, StoreError> {
        let permit = self.admission.admit().await?;
        let (prepared, running, timeout) = self.prepare(job)?;
        let store = self.store.clone();
        let (head_tx, head_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match prepared.on_store(&store).execute().and_then(Peeked::new) {
                Err(e) => {
                    let _ = head_tx.send(Err(running.evaluation_error(e)));
                }
                Ok(peeked) => stream_into(
                    tx,
                    Some(running.token.clone()),
                    Some(head_tx),
                    |e| running.stream_error(e),
                    |w| results::serialize(peeked, format, w),
                ),
            }
        });
        // The engine checks its cancellation token only when it reads the store, so a
        // query stuck in an in-memory join may notice late: answer the client at the
        // deadline anyway (the token is cancelled; the thread stops at its next check
        // and stays listed in /admin/queries until it does).
        match tokio::time::timeout(timeout + Duration::from_millis(250), head_rx).await {
            Ok(head) => head.map_err(|_| StoreError::Storage("the evaluation task ended unexpectedly".into()))??,
            Err(_) => return Err(StoreError::Timeout(timeout.as_secs())),
        }
        Ok(rx)
    }

    /// Evaluates `job` into memory, writing at most `cap` solutions or triples in
    /// `format` and saying whether more existed. For saved queries, whose answers
    /// are bounded, cached and carry their truncation in a header.
    pub async fn query_capped(
        &self,
        job: QueryJob,
        format: OutputFormat,
        cap: usize,
    ) -> Result<CappedAnswer, StoreError> {
        let _permit = self.admission.admit().await?;
        let (prepared, running, timeout) = self.prepare(job)?;
        let store = self.store.clone();
        let task = tokio::task::spawn_blocking(move || {
            let peeked =
                prepared.on_store(&store).execute().and_then(Peeked::new).map_err(|e| running.evaluation_error(e))?;
            let mut body = Vec::new();
            let truncated = results::serialize_capped(peeked, format, &mut body, cap)
                .map_err(|e| running.cancel_reason().unwrap_or_else(|| StoreError::Evaluation(e.to_string())))?;
            Ok(CappedAnswer { body: Bytes::from(body), truncated })
        });
        match tokio::time::timeout(timeout + Duration::from_millis(250), task).await {
            Ok(joined) => joined.map_err(|e| StoreError::Storage(format!("store task failed: {e}")))?,
            Err(_) => Err(StoreError::Timeout(timeout.as_secs())),
        }
    }

    /// Evaluates an ASK query (parameter checks of saved queries).
    pub async fn ask(&self, job: QueryJob) -> Result<bool, StoreError> {
        let _permit = self.admission.admit().await?;
        let (prepared, running, _) = self.prepare(job)?;
        let store = self.store.clone();
        blocking(move || match prepared.on_store(&store).execute().map_err(|e| running.evaluation_error(e))? {
            QueryResults::Boolean(b) => Ok(b),
            _ => Err(StoreError::Evaluation("not an ASK query".into())),
        })
        .await
    }

    /// The values of the first variable of a SELECT (allowed values of parameters).
    pub async fn select_terms(&self, job: QueryJob, limit: usize) -> Result<Vec<Term>, StoreError> {
        let _permit = self.admission.admit().await?;
        let (prepared, running, _) = self.prepare(job)?;
        let store = self.store.clone();
        blocking(move || match prepared.on_store(&store).execute().map_err(|e| running.evaluation_error(e))? {
            QueryResults::Solutions(solutions) => {
                let mut terms = Vec::new();
                for solution in solutions.take(limit) {
                    let solution = solution.map_err(|e| running.evaluation_error(e))?;
                    let first = solution.iter().next().map(|(_, term)| term.clone());
                    terms.extend(first);
                }
                Ok(terms)
            }
            _ => Err(StoreError::Evaluation("not a SELECT query".into())),
        })
        .await
    }

    /// Registers a job, builds its prepared query with dataset and bindings, and
    /// returns it with its running-query guard and deadline.
    fn prepare(
        &self,
        job: QueryJob,
    ) -> Result<(oxigraph::sparql::PreparedSparqlQuery, RunningGuard, Duration), StoreError> {
        let timeout = job.timeout.map_or(self.options.timeout, |t| t.min(self.options.timeout));
        let running = self.running.start("query", &job.label, timeout);
        let query =
            crate::sparql::bind::bind(job.query, &job.bindings).map_err(|e| StoreError::Evaluation(e.to_string()))?;
        let mut prepared = self.evaluator(running.token.clone()).for_query(query);
        if !job.dataset.is_empty() {
            let dataset = prepared.dataset_mut();
            dataset.set_default_graph(job.dataset.default_graphs.into_iter().map(GraphName::from).collect());
            if !job.dataset.named_graphs.is_empty() {
                dataset.set_available_named_graphs(
                    job.dataset.named_graphs.into_iter().map(NamedOrBlankNode::from).collect(),
                );
            }
        } else if self.options.union_default_graph && prepared.dataset().is_default_dataset() {
            prepared.dataset_mut().set_default_graph_as_union();
        }
        Ok((prepared, running, timeout))
    }

    /// Applies a SPARQL update in one transaction.
    pub async fn update(
        &self,
        update: spargebra::Update,
        dataset: ProtocolDataset,
        label: &str,
    ) -> Result<(), StoreError> {
        let _permit = self.admission.admit().await?;
        if update.operations.iter().any(|op| matches!(op, GraphUpdateOperation::Load { .. })) {
            return Err(StoreError::Refused(
                "LOAD is switched off: this server makes no outbound requests; load files with `treaty-kg load` or PUT them to /store"
                    .into(),
            ));
        }
        let running = self.running.start("update", label, self.options.timeout);
        let mut prepared = self.evaluator(running.token.clone()).for_update(update);
        for using in prepared.using_datasets_mut() {
            if !dataset.is_empty() {
                using.set_default_graph(dataset.default_graphs.iter().cloned().map(GraphName::from).collect());
                if !dataset.named_graphs.is_empty() {
                    using.set_available_named_graphs(
                        dataset.named_graphs.iter().cloned().map(NamedOrBlankNode::from).collect(),
                    );
                }
            } else if self.options.union_default_graph && using.is_default_dataset() {
                using.set_default_graph_as_union();
            }
        }
        let this = self.clone();
        blocking(move || {
            let mut transaction = this.store.start_transaction()?;
            prepared.on_transaction(&mut transaction).execute().map_err(|e| match e {
                UpdateEvaluationError::Storage(e) => StoreError::from(e),
                UpdateEvaluationError::Unexpected(e) => StoreError::Storage(e.to_string()),
                UpdateEvaluationError::Service(_)
                | UpdateEvaluationError::UnsupportedService(_)
                | UpdateEvaluationError::UnboundService
                | UpdateEvaluationError::InvalidServiceName(_) => StoreError::Refused(service_refusal()),
                other => match running.cancel_reason() {
                    Some(reason) => reason,
                    None => StoreError::Evaluation(other.to_string()),
                },
            })?;
            count_write(&mut transaction)?;
            transaction.commit()?;
            this.committed();
            Ok(())
        })
        .await
    }

    /// Up to `limit` named graphs of the store, in store order.
    pub async fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        let store = self.store.clone();
        blocking(move || {
            let mut graphs = Vec::new();
            for graph in store.named_graphs().take(limit) {
                if let NamedOrBlankNode::NamedNode(n) = graph? {
                    graphs.push(n);
                }
            }
            Ok(graphs)
        })
        .await
    }

    /// A cheap read that proves the storage answers (health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let store = self.store.clone();
        blocking(move || {
            store.contains_named_graph(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH))?;
            Ok(())
        })
        .await
    }

    /// Everything a linked-data document says about `resource`: the statements
    /// about it (both directions, every graph), the labels and types of the
    /// resources they mention, and the provenance of the graphs they are in
    /// (`prov:wasDerivedFrom` and the source's text). At most `limit` statements
    /// about the resource; returns whether it was cut.
    pub async fn describe(&self, resource: NamedNode, limit: usize) -> Result<(Vec<Quad>, bool), StoreError> {
        let _permit = self.admission.admit().await?;
        let store = self.store.clone();
        blocking(move || {
            let r = resource.as_ref();
            let mut statements: Vec<Quad> = Vec::new();
            let mut truncated = false;
            for quad in store.quads_for_pattern(Some(r.into()), None, None, None).chain(store.quads_for_pattern(
                None,
                None,
                Some(r.into()),
                None,
            )) {
                let quad = quad?;
                if quad.graph_name.as_ref() == GraphNameRef::NamedNode(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH))
                {
                    continue;
                }
                if statements.len() >= limit {
                    truncated = true;
                    break;
                }
                statements.push(quad);
            }
            let mut extra: Vec<Quad> = Vec::new();
            let label = NamedNodeRef::new_unchecked("http://www.w3.org/2000/01/rdf-schema#label");
            let rdf_type = NamedNodeRef::new_unchecked(vocab::RDF_TYPE);
            let derived = NamedNodeRef::new_unchecked("http://www.w3.org/ns/prov#wasDerivedFrom");
            let text = NamedNodeRef::new_unchecked("https://schema.org/text");
            let mut neighbours: Vec<NamedOrBlankNode> = Vec::new();
            let mut graphs: Vec<NamedOrBlankNode> = Vec::new();
            for q in &statements {
                neighbours.push(q.subject.clone());
                neighbours.push(q.predicate.clone().into());
                if let Term::NamedNode(n) = &q.object {
                    neighbours.push(n.clone().into());
                }
                if let GraphName::NamedNode(g) = &q.graph_name {
                    graphs.push(g.clone().into());
                }
            }
            let mut seen = std::collections::HashSet::new();
            neighbours.retain(|n| seen.insert(n.clone()));
            let mut seen = std::collections::HashSet::new();
            graphs.retain(|g| seen.insert(g.clone()));
            for n in neighbours.iter().filter(|n| n.as_ref() != r.into()) {
                for p in [label, rdf_type] {
                    for q in store.quads_for_pattern(Some(n.as_ref()), Some(p), None, None).take(16) {
                        extra.push(q?);
                    }
                }
            }
            for g in &graphs {
                for q in store.quads_for_pattern(Some(g.as_ref()), Some(derived), None, None) {
                    let q = q?;
                    if let Term::NamedNode(source) = &q.object {
                        for t in store.quads_for_pattern(Some(source.as_ref().into()), Some(text), None, None).take(1) {
                            extra.push(t?);
                        }
                        for t in store.quads_for_pattern(Some(source.as_ref().into()), Some(label), None, None).take(1)
                        {
                            extra.push(t?);
                        }
                    }
                    extra.push(q);
                }
            }
            statements.extend(extra);
            Ok((statements, truncated))
        })
        .await
    }

    /// One page of the triples matching a pattern over the union of all graphs
    /// (each triple once, in index order): Triple Pattern Fragments. Also counts
    /// the matches up to `count_cap`; the flag says whether the count is exact.
    pub async fn fragment(
        &self,
        subject: Option<NamedOrBlankNode>,
        predicate: Option<NamedNode>,
        object: Option<Term>,
        offset: usize,
        limit: usize,
        count_cap: usize,
    ) -> Result<(Vec<oxigraph::model::Triple>, usize, bool), StoreError> {
        let _permit = self.admission.admit().await?;
        let store = self.store.clone();
        blocking(move || {
            let system = GraphNameRef::NamedNode(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH));
            let mut previous: Option<oxigraph::model::Triple> = None;
            let mut page = Vec::new();
            let mut index = 0usize;
            for quad in store.quads_for_pattern(
                subject.as_ref().map(|s| s.as_ref()),
                predicate.as_ref().map(|p| p.as_ref()),
                object.as_ref().map(|o| o.as_ref()),
                None,
            ) {
                let quad = quad?;
                if quad.graph_name.as_ref() == system {
                    continue;
                }
                let triple = oxigraph::model::Triple::new(quad.subject, quad.predicate, quad.object);
                // A triple stated in several graphs counts once: at its first graph in
                // index order (the default graph first), whatever order this scan has.
                if previous.as_ref() == Some(&triple) {
                    continue;
                }
                let first = store
                    .quads_for_pattern(
                        Some(triple.subject.as_ref()),
                        Some(triple.predicate.as_ref()),
                        Some(triple.object.as_ref()),
                        None,
                    )
                    .find(|q| q.as_ref().map_or(true, |q| q.graph_name.as_ref() != system))
                    .transpose()?;
                if first.is_some_and(|f| f.graph_name != quad.graph_name) {
                    continue;
                }
                if index >= offset && page.len() < limit {
                    page.push(triple.clone());
                }
                index += 1;
                previous = Some(triple);
                if index >= count_cap.max(offset + limit) {
                    // Stop counting: the total is at least `index` (an estimate).
                    return Ok((page, index, false));
                }
            }
            Ok((page, index, true))
        })
        .await
    }

    /// Rows of a SELECT (at most `cap`), each cell a term or unbound.
    pub async fn select_rows(&self, job: QueryJob, cap: usize) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
        let _permit = self.admission.admit().await?;
        let (prepared, running, _) = self.prepare(job)?;
        let store = self.store.clone();
        blocking(move || match prepared.on_store(&store).execute().map_err(|e| running.evaluation_error(e))? {
            QueryResults::Solutions(solutions) => {
                let variables = solutions.variables().to_vec();
                let mut rows = Vec::new();
                for solution in solutions.take(cap) {
                    let solution = solution.map_err(|e| running.evaluation_error(e))?;
                    rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
                }
                Ok(rows)
            }
            _ => Err(StoreError::Evaluation("not a SELECT query".into())),
        })
        .await
    }

    /// Streams the whole dataset in a quad syntax, gzip-compressed when `gzip`.
    pub async fn dump(&self, format: RdfFormat, gzip: bool) -> Result<ByteReceiver, StoreError> {
        let store = self.store.clone();
        let (tx, rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            stream_into(
                tx,
                None,
                None,
                |e| StoreError::Storage(e.to_string()),
                |w| {
                    let quads = store.iter().filter(|q| {
                        q.as_ref().map_or(true, |q| {
                            q.graph_name.as_ref()
                                != GraphNameRef::NamedNode(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH))
                        })
                    });
                    if gzip {
                        let mut encoder = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
                        results::write_dataset(quads, format, &mut encoder)?;
                        encoder.finish()?;
                        Ok(())
                    } else {
                        results::write_dataset(quads, format, w)
                    }
                },
            )
        });
        Ok(rx)
    }

    /// Writes a consistent copy of the store into `dir` (which must not exist)
    /// while it keeps serving: a RocksDB checkpoint, openable as a store.
    pub async fn backup(&self, dir: PathBuf) -> Result<(), StoreError> {
        if dir.exists() {
            return Err(StoreError::Evaluation(format!(
                "{}: already exists; a backup goes into a new directory",
                dir.display()
            )));
        }
        let store = self.store.clone();
        blocking(move || {
            store.flush()?;
            store.backup(&dir).map_err(|e| StoreError::Evaluation(format!("{}: backup failed: {e}", dir.display())))
        })
        .await
    }

    /// Whether a graph exists (the default graph always does).
    pub async fn graph_exists(&self, target: &GraphTarget) -> Result<bool, StoreError> {
        let store = self.store.clone();
        let target = target.clone();
        blocking(move || match &target {
            GraphTarget::Default => Ok(true),
            GraphTarget::Named(g) => Ok(store.contains_named_graph(g)?),
        })
        .await
    }

    /// Streams the triples of one graph, or the whole dataset when `target` is `None`.
    pub async fn read_graph(&self, target: Option<GraphTarget>, format: RdfFormat) -> Result<ByteReceiver, StoreError> {
        let permit = self.admission.admit().await?;
        if let Some(t) = &target {
            if !self.graph_exists(t).await? {
                return Err(StoreError::GraphNotFound(graph_label(t)));
            }
        }
        let store = self.store.clone();
        let (tx, rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            // The admission slot is held until the last byte is serialized.
            let _permit = permit;
            stream_into(
                tx,
                None,
                None,
                |e| StoreError::Storage(e.to_string()),
                |w| match &target {
                    Some(t) => {
                        results::write_graph(store.quads_for_pattern(None, None, None, Some(t.as_ref())), format, w)
                    }
                    None => results::write_dataset(store.iter(), format, w),
                },
            )
        });
        Ok(rx)
    }

    /// Writes the store (or one graph) to `writer`, synchronously (CLI `dump`).
    pub fn dump_blocking(&self, target: Option<GraphTarget>, format: RdfFormat, writer: impl Write) -> io::Result<()> {
        match &target {
            Some(t) => {
                results::write_graph(self.store.quads_for_pattern(None, None, None, Some(t.as_ref())), format, writer)
            }
            None => results::write_dataset(self.store.iter(), format, writer),
        }
    }

    /// Replaces (`replace = true`, GSP PUT) or merges into (POST) a graph with the
    /// triples of `body`. Parses the whole body before writing anything. Returns
    /// whether the graph was created by this call.
    pub async fn write_graph(
        &self,
        target: GraphTarget,
        body: Bytes,
        format: RdfFormat,
        replace: bool,
    ) -> Result<bool, StoreError> {
        let this = self.clone();
        blocking(move || {
            let store = &this.store;
            let base = match &target {
                GraphTarget::Named(g) => g.as_str().to_owned(),
                GraphTarget::Default => vocab::BASE_IRI.to_owned(),
            };
            let quads = parse_body(&body, format, &base)?;
            if let Some(q) = quads.iter().find(|q| !q.graph_name.is_default_graph()) {
                return Err(StoreError::Parse(format!(
                    "the body names graph {}, but a Graph Store request addresses exactly one graph; send triples, or POST a dataset to /store without ?graph",
                    q.graph_name
                )));
            }
            let existed = match &target {
                GraphTarget::Default => true,
                GraphTarget::Named(g) => store.contains_named_graph(g)?,
            };
            let mut transaction = store.start_transaction()?;
            if replace {
                transaction.clear_graph(target.as_ref())?;
            }
            if let GraphTarget::Named(g) = &target {
                transaction.insert_named_graph(g);
            }
            for quad in &quads {
                transaction.insert(QuadRef::new(&quad.subject, &quad.predicate, &quad.object, target.as_ref()));
            }
            count_write(&mut transaction)?;
            transaction.commit()?;
            this.committed();
            Ok(!existed)
        })
        .await
    }

    /// Adds every quad of a dataset body (N-Quads, TriG) in one transaction.
    pub async fn add_dataset(&self, body: Bytes, format: RdfFormat) -> Result<usize, StoreError> {
        let this = self.clone();
        blocking(move || {
            let quads = parse_body(&body, format, vocab::BASE_IRI)?;
            let mut transaction = this.store.start_transaction()?;
            transaction.extend(&quads);
            count_write(&mut transaction)?;
            transaction.commit()?;
            this.committed();
            Ok(quads.len())
        })
        .await
    }

    /// Deletes a named graph (or empties the default graph).
    pub async fn delete_graph(&self, target: GraphTarget) -> Result<(), StoreError> {
        let this = self.clone();
        blocking(move || {
            let mut transaction = this.store.start_transaction()?;
            match &target {
                GraphTarget::Default => transaction.clear_graph(GraphNameRef::DefaultGraph)?,
                GraphTarget::Named(g) => {
                    if !transaction.contains_named_graph(g)? {
                        return Err(StoreError::GraphNotFound(g.to_string()));
                    }
                    transaction.remove_named_graph(g)?;
                }
            }
            count_write(&mut transaction)?;
            transaction.commit()?;
            this.committed();
            Ok(())
        })
        .await
    }

    /// Loads each source file whose content changed since it was last loaded
    /// (tracked by a SHA-256 in the system graph), replacing its graph in one
    /// transaction per file. Unchanged files are skipped, so restarts neither
    /// duplicate nor lose triples. Synchronous: call at start-up or from a blocking task.
    pub fn sync_sources(&self, files: &[SourceFile]) -> Result<Vec<SourceSync>, StoreError> {
        let system = NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH);
        let hash_p = NamedNodeRef::new_unchecked(vocab::CONTENT_HASH);
        let file_p = NamedNodeRef::new_unchecked(vocab::SOURCE_FILE);
        let contains_p = NamedNodeRef::new_unchecked(vocab::CONTAINS_GRAPH);
        let mut report = Vec::new();
        for file in files {
            let bytes = std::fs::read(&file.path).map_err(|e| StoreError::Parse(format!("{}: {e}", file.display)))?;
            let hash = sources::content_hash(&bytes);
            let graph = file.graph.as_ref();
            let known = self
                .store
                .quads_for_pattern(Some(graph.into()), Some(hash_p), None, Some(system.into()))
                .next()
                .transpose()?
                .map(|q| q.object);
            if known.as_ref().is_some_and(|o| matches!(o, Term::Literal(l) if l.value() == hash)) {
                report.push(SourceSync::Unchanged { graph: graph.to_string() });
                continue;
            }
            let quads = sources::parse(file, &bytes).map_err(StoreError::Parse)?;
            let mut transaction = self.store.start_transaction()?;
            // Forget what this file brought in last time: its graph, the named graphs
            // it contained, and its bookkeeping.
            let old_contained: Vec<Term> = transaction
                .quads_for_pattern(Some(graph.into()), Some(contains_p), None, Some(system.into()))
                .map(|q| q.map(|q| q.object))
                .collect::<Result<_, _>>()?;
            for old in old_contained {
                if let Term::NamedNode(g) = old {
                    transaction.remove_named_graph(&g)?;
                }
            }
            transaction.remove_named_graph(graph)?;
            let old_meta: Vec<Quad> = transaction
                .quads_for_pattern(Some(graph.into()), None, None, Some(system.into()))
                .collect::<Result<_, _>>()?;
            for q in &old_meta {
                transaction.remove(q);
            }
            transaction.insert_named_graph(graph);
            let mut contained = Vec::new();
            for quad in &quads {
                if let GraphName::NamedNode(n) = &quad.graph_name {
                    if n != &file.graph {
                        contained.push(n.clone());
                    }
                }
                transaction.insert(quad);
            }
            contained.sort();
            contained.dedup();
            let file_literal = Literal::new_simple_literal(&file.display);
            let hash_literal = Literal::new_simple_literal(&hash);
            transaction.insert(QuadRef::new(graph, file_p, &file_literal, system));
            transaction.insert(QuadRef::new(graph, hash_p, &hash_literal, system));
            for g in &contained {
                transaction.insert(QuadRef::new(graph, contains_p, TermRef::from(g.as_ref()), system));
            }
            transaction.commit()?;
            report.push(SourceSync::Loaded { graph: graph.to_string(), quads: quads.len() });
        }
        if report.iter().any(|r| matches!(r, SourceSync::Loaded { .. })) {
            self.committed();
        }
        Ok(report)
    }

    /// Bulk-loads one file (any RDF syntax by extension, `.gz` accepted) with
    /// Oxigraph's bulk loader, atomically (committed at the end). `progress` is
    /// called with the running quad count; returns the number of quads read.
    pub fn bulk_load(
        &self,
        path: &Path,
        graph: Option<&NamedNode>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<u64, StoreError> {
        let format = sources::format_of_path(path).ok_or_else(|| {
            StoreError::Parse(format!("{}: unknown RDF syntax for this file extension", path.display()))
        })?;
        let file = std::fs::File::open(path).map_err(|e| StoreError::Parse(format!("{}: {e}", path.display())))?;
        let reader: Box<dyn Read> = if sources::is_gzip(path) {
            Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))
        } else {
            Box::new(io::BufReader::new(file))
        };
        let mut parser = RdfParser::from_format(format).with_base_iri(vocab::BASE_IRI).expect("the base IRI is valid");
        if let Some(g) = graph {
            parser = parser.with_default_graph(g.clone());
        }
        // The write counter's next value rides in the same bulk load, so the data
        // version changes atomically with the data and no small write follows the
        // load: a separate transaction, flushed, left a tiny extra SST file in every
        // column family, and every query then paid a seek in each (join-2 at 1M
        // triples: 15.5 against 18.5 requests/s on the same store otherwise).
        // The previous value stays until the next transactional write removes it;
        // the counter is the maximum of its values (see `count_write`).
        let (previous, _) = write_count(self.store.quads_for_pattern(
            Some(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH).into()),
            Some(NamedNodeRef::new_unchecked(vocab::WRITE_COUNT)),
            None,
            Some(NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH).into()),
        ))?;
        let counter = write_count_quad(previous + 1);
        let mut count = 0u64;
        let quads = parser
            .rename_blank_nodes()
            .for_reader(reader)
            .inspect(|_| {
                count += 1;
                if count.is_multiple_of(10_000) {
                    progress(count);
                }
            })
            .chain(std::iter::once(Ok(counter)));
        // Oxigraph's loader writes one set of SST files per batch of a million quads;
        // our one extra quad must not make a batch of its own where `oxigraph load`
        // would make none, so the batch is a thousandth larger than its default
        // (same threads, same memory order).
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut loader =
            self.store.bulk_loader().with_num_threads(threads).with_max_memory_size_in_megabytes(1000 * threads + 1);
        loader
            .load_ok_quads::<_, LoadFailure>(quads)
            .and_then(|()| loader.commit().map_err(LoadFailure::from))
            .map_err(|e| StoreError::Parse(format!("{}: {e}", path.display())))?;
        progress(count);
        self.committed();
        Ok(count)
    }

    fn evaluator(&self, token: CancellationToken) -> SparqlEvaluator {
        SparqlEvaluator::new().with_cancellation_token(token)
    }
}

/// Why a bulk load stopped: the file or the storage.
#[derive(Debug, thiserror::Error)]
enum LoadFailure {
    #[error(transparent)]
    Parse(#[from] oxigraph::io::RdfParseError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Increments the persisted write counter (`tkg:writeCount` of the system graph)
/// inside a write's own transaction, so the data version changes with every write
/// and survives restarts.
fn count_write(transaction: &mut oxigraph::store::Transaction<'_>) -> Result<(), StorageError> {
    let system = NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH);
    let count_p = NamedNodeRef::new_unchecked(vocab::WRITE_COUNT);
    let (previous, old) =
        write_count(transaction.quads_for_pattern(Some(system.into()), Some(count_p), None, Some(system.into())))?;
    for q in &old {
        transaction.remove(q);
    }
    transaction.insert(&write_count_quad(previous + 1));
    Ok(())
}

/// The persisted write count (the largest of the counter's values: a bulk load
/// adds the next value without removing the previous one) and the counter's quads.
fn write_count(quads: impl Iterator<Item = Result<Quad, StorageError>>) -> Result<(u64, Vec<Quad>), StorageError> {
    let old: Vec<Quad> = quads.collect::<Result<_, _>>()?;
    let count = old
        .iter()
        .filter_map(|q| match &q.object {
            Term::Literal(l) => l.value().parse::<u64>().ok(),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    Ok((count, old))
}

fn write_count_quad(count: u64) -> Quad {
    let system = NamedNode::new_unchecked(vocab::SYSTEM_GRAPH);
    Quad::new(system.clone(), NamedNode::new_unchecked(vocab::WRITE_COUNT), Literal::from(count), system)
}

fn service_refusal() -> String {
    "SERVICE is switched off: this server makes no outbound requests from SPARQL".into()
}

fn graph_label(target: &GraphTarget) -> String {
    match target {
        GraphTarget::Default => "default graph".into(),
        GraphTarget::Named(g) => g.to_string(),
    }
}

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Storage(format!("store task failed: {e}")))?
}

fn parse_body(body: &[u8], format: RdfFormat, base: &str) -> Result<Vec<Quad>, StoreError> {
    sources::parse_rdf(body, format, base).map_err(StoreError::Parse)
}

/// A `Write` that collects bytes into 64 KiB chunks and sends each into a
/// bounded channel, blocking the (blocking-pool) thread when the client reads
/// slowly. Serializers write a few bytes at a time, so `write_all` only appends;
/// the cancellation check and the channel send happen once per chunk.
struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
    /// Stops the serialization once the query is cancelled (deadline or operator).
    token: Option<CancellationToken>,
    /// Told once the first chunk is in the channel (or the whole answer is): the
    /// response head waits for it.
    head: Option<HeadSender>,
}

/// Says that the answer has started (`Ok`) or failed before its first byte.
type HeadSender = oneshot::Sender<Result<(), StoreError>>;

const CHUNK: usize = 64 * 1024;

impl ChunkWriter {
    /// Sends the buffered bytes as one chunk (after checking for cancellation).
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.token.as_ref().is_some_and(CancellationToken::is_cancelled) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the query was cancelled while its results were being sent",
            ));
        }
        if !self.buffer.is_empty() {
            // The next buffer is allocated on the next write, so the last chunk leaves none behind.
            let chunk = Bytes::from(std::mem::take(&mut self.buffer));
            self.tx.blocking_send(Ok(chunk)).map_err(|_| gone())?;
        }
        Ok(())
    }

    /// Sends a full chunk mid-answer; the first one also releases the response head
    /// (the chunk is already in the channel, so the woken handler finds it there).
    fn send_chunk(&mut self) -> io::Result<()> {
        self.send_buffer()?;
        match self.head.take() {
            Some(head) => head.send(Ok(())).map_err(|_| gone()),
            None => Ok(()),
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
}

impl Write for ChunkWriter {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    #[inline]
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.buffer.is_empty() && self.buffer.len() + data.len() > CHUNK {
            self.send_chunk()?;
        }
        if self.buffer.capacity() == 0 {
            // Small answers are the common case: start small, grow up to a chunk.
            self.buffer.reserve(if self.head.is_some() { 8 * 1024 } else { CHUNK });
        }
        self.buffer.extend_from_slice(data);
        Ok(())
    }

    /// Chunks leave at 64 KiB and at the end of the answer, not when a serializer flushes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `write` against a channel-backed writer. A failure before the first chunk
/// left goes to `head` (mapped by `to_error`), so the client gets a proper status;
/// a failure mid-stream is sent as an error chunk, which aborts the response (the
/// status line is already out).
fn stream_into(
    tx: mpsc::Sender<io::Result<Bytes>>,
    token: Option<CancellationToken>,
    head: Option<HeadSender>,
    to_error: impl FnOnce(io::Error) -> StoreError,
    write: impl FnOnce(&mut ChunkWriter) -> io::Result<()>,
) {
    let mut writer = ChunkWriter { tx: tx.clone(), buffer: Vec::new(), token, head };
    let result = write(&mut writer).and_then(|()| writer.send_buffer());
    let head = writer.head.take();
    drop(writer);
    match (result, head) {
        // Complete before the first chunk left: the channel is closed before the
        // head is released, so the handler sees the whole answer in one wake-up.
        (Ok(()), Some(head)) => {
            drop(tx);
            let _ = head.send(Ok(()));
        }
        (Ok(()), None) => {}
        (Err(e), Some(head)) => {
            let _ = head.send(Err(to_error(e)));
        }
        (Err(e), None) => {
            if e.kind() != io::ErrorKind::BrokenPipe {
                tracing::warn!(error = %e, "result stream failed after the response started");
                let _ = tx.blocking_send(Err(e));
            }
        }
    }
}

const NOT_CANCELLED: u8 = 0;
const TIMED_OUT: u8 = 1;
const BY_OPERATOR: u8 = 2;

/// The queries and updates being evaluated now, for listing and cancelling.
///
/// Deadlines are kept by one watcher thread per registry rather than a timer task
/// per query: a per-query task had to be aborted from the blocking thread when the
/// query ended, which woke a runtime worker for nothing on every request. The
/// watcher sleeps until the earliest deadline it knows of and is woken only when
/// a query with an earlier deadline arrives (rare: timeouts are mostly equal).
pub struct RunningQueries {
    next_id: AtomicU64,
    shared: Arc<(Mutex<Registry>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<u64, RunningEntry>,
    /// When the watcher will next look at the deadlines (`None`: it waits for a query).
    next_wake: Option<Instant>,
    /// The registry is gone: the watcher ends.
    closed: bool,
}

struct RunningEntry {
    kind: &'static str,
    label: String,
    started_at: SystemTime,
    started: Instant,
    deadline: Instant,
    token: CancellationToken,
    reason: Arc<AtomicU8>,
}

/// A snapshot of one running query, for the operations API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunningInfo {
    pub id: u64,
    pub kind: &'static str,
    pub query: String,
    pub started_unix_ms: u128,
    pub elapsed_ms: u128,
}

impl Default for RunningQueries {
    fn default() -> Self {
        let shared = Arc::new((Mutex::new(Registry::default()), std::sync::Condvar::new()));
        let watched = shared.clone();
        std::thread::Builder::new()
            .name("query-deadlines".into())
            .spawn(move || watch_deadlines(&watched))
            .expect("the deadline watcher thread starts");
        RunningQueries { next_id: AtomicU64::new(0), shared }
    }
}

impl Drop for RunningQueries {
    fn drop(&mut self) {
        let (registry, wake) = &*self.shared;
        if let Ok(mut registry) = registry.lock() {
            registry.closed = true;
        }
        wake.notify_one();
    }
}

/// Cancels each query whose deadline passed, then sleeps until the next deadline.
fn watch_deadlines(shared: &(Mutex<Registry>, std::sync::Condvar)) {
    let (registry, wake) = shared;
    let Ok(mut guard) = registry.lock() else { return };
    loop {
        if guard.closed {
            return;
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for entry in guard.entries.values() {
            if entry.deadline <= now {
                if entry.reason.compare_exchange(NOT_CANCELLED, TIMED_OUT, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    entry.token.cancel();
                }
            } else {
                next = Some(next.map_or(entry.deadline, |n| n.min(entry.deadline)));
            }
        }
        guard.next_wake = next;
        guard = match next {
            Some(at) => match wake.wait_timeout(guard, at.saturating_duration_since(now)) {
                Ok((guard, _)) => guard,
                Err(_) => return,
            },
            None => match wake.wait(guard) {
                Ok(guard) => guard,
                Err(_) => return,
            },
        };
    }
}

impl RunningQueries {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.shared.0.lock().expect("running-queries lock")
    }

    fn start(self: &Arc<Self>, kind: &'static str, label: &str, timeout: Duration) -> RunningGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let token = CancellationToken::new();
        let reason = Arc::new(AtomicU8::new(NOT_CANCELLED));
        let label: String = label.chars().take(2000).collect();
        let started = Instant::now();
        let deadline = started + timeout;
        let mut registry = self.registry();
        registry.entries.insert(
            id,
            RunningEntry {
                kind,
                label,
                started_at: SystemTime::now(),
                started,
                deadline,
                token: token.clone(),
                reason: reason.clone(),
            },
        );
        if registry.next_wake.is_none_or(|wake| deadline < wake) {
            registry.next_wake = Some(deadline);
            self.shared.1.notify_one();
        }
        drop(registry);
        RunningGuard { id, registry: self.clone(), token, reason, timeout }
    }

    /// The running queries, oldest first.
    pub fn list(&self) -> Vec<RunningInfo> {
        let registry = self.registry();
        let mut list: Vec<RunningInfo> = registry
            .entries
            .iter()
            .map(|(id, e)| RunningInfo {
                id: *id,
                kind: e.kind,
                query: e.label.clone(),
                started_unix_ms: e
                    .started_at
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0),
                elapsed_ms: e.started.elapsed().as_millis(),
            })
            .collect();
        list.sort_by_key(|i| i.id);
        list
    }

    /// Cancels a running query; false when no query has this id.
    pub fn cancel(&self, id: u64) -> bool {
        let registry = self.registry();
        match registry.entries.get(&id) {
            Some(e) => {
                let _ = e.reason.compare_exchange(NOT_CANCELLED, BY_OPERATOR, Ordering::SeqCst, Ordering::SeqCst);
                e.token.cancel();
                true
            }
            None => false,
        }
    }
}

/// Registration of one running query; dropping it unregisters it.
struct RunningGuard {
    id: u64,
    registry: Arc<RunningQueries>,
    token: CancellationToken,
    reason: Arc<AtomicU8>,
    timeout: Duration,
}

impl RunningGuard {
    fn cancel_reason(&self) -> Option<StoreError> {
        match self.reason.load(Ordering::SeqCst) {
            TIMED_OUT => Some(StoreError::Timeout(self.timeout.as_secs())),
            BY_OPERATOR => Some(StoreError::Cancelled),
            _ => None,
        }
    }

    /// The error behind a failed serialization: the engine's (wrapped by the
    /// serializer), the cancellation's reason, or the I/O error itself.
    fn stream_error(&self, error: io::Error) -> StoreError {
        if let Some(reason) = self.cancel_reason() {
            return reason;
        }
        match error.into_inner().map(|inner| inner.downcast::<QueryEvaluationError>()) {
            Some(Ok(engine)) => self.evaluation_error(*engine),
            Some(Err(other)) => StoreError::Evaluation(other.to_string()),
            None => StoreError::Evaluation("the answer could not be written".into()),
        }
    }

    fn evaluation_error(&self, error: QueryEvaluationError) -> StoreError {
        match error {
            QueryEvaluationError::Cancelled => self.cancel_reason().unwrap_or(StoreError::Cancelled),
            QueryEvaluationError::Dataset(e) | QueryEvaluationError::Unexpected(e) => {
                StoreError::Storage(e.to_string())
            }
            QueryEvaluationError::Service(_)
            | QueryEvaluationError::UnsupportedService(_)
            | QueryEvaluationError::UnboundService
            | QueryEvaluationError::InvalidServiceName(_) => StoreError::Refused(service_refusal()),
            other => StoreError::Evaluation(other.to_string()),
        }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut registry) = self.registry.shared.0.lock() {
            registry.entries.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter_values(store: &KgStore) -> Vec<u64> {
        let system = NamedNodeRef::new_unchecked(vocab::SYSTEM_GRAPH);
        let mut values: Vec<u64> = store
            .store
            .quads_for_pattern(
                Some(system.into()),
                Some(NamedNodeRef::new_unchecked(vocab::WRITE_COUNT)),
                None,
                Some(system.into()),
            )
            .map(|q| match q.unwrap().object {
                Term::Literal(l) => l.value().parse().unwrap(),
                other => panic!("not a count: {other}"),
            })
            .collect();
        values.sort_unstable();
        values
    }

    /// A bulk load carries the next counter value in the load itself; the next
    /// transactional write counts from the largest value and leaves one. The data
    /// version changes at every step.
    #[tokio::test]
    async fn bulk_loads_and_writes_both_advance_the_write_counter() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.nt");
        std::fs::write(&file, "<http://example.org/s> <http://example.org/p> \"o\" .\n").unwrap();
        let store =
            KgStore::open(&StoreLocation::Directory(dir.path().join("store")), StoreOptions::default()).unwrap();
        let mut versions = vec![store.data_version()];

        store.bulk_load(&file, None, |_| {}).unwrap();
        versions.push(store.data_version());
        store.bulk_load(&file, None, |_| {}).unwrap();
        versions.push(store.data_version());
        assert_eq!(counter_values(&store), [1, 2]);

        let update = spargebra::SparqlParser::new()
            .parse_update("INSERT DATA { <http://example.org/s> <http://example.org/p> \"x\" }")
            .unwrap();
        store.update(update, ProtocolDataset::default(), "test").await.unwrap();
        versions.push(store.data_version());
        assert_eq!(counter_values(&store), [3]);

        let mut distinct = versions.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), versions.len(), "every write changes the data version: {versions:?}");
    }
}
