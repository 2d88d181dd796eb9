//! The store: the only module that touches a storage engine. Everything else
//! calls the façade, [`KgStore`], for one of a few operations: evaluate a query
//! into a stream of bytes in a format, apply an update, read quad patterns,
//! read/replace/merge/delete a graph, dump, sync the repository's source files.
//!
//! The façade owns what every backend shares, one concern per file:
//! - `admission`: lanes by expected cost, bounded queues, 503 before overload;
//! - `running`: the registry of running work, the deadline watcher;
//! - `stream`: the chunk writer that streams answers with back-pressure;
//! - `version`: generation, data version, write counter;
//! - `job`, `error`: what callers hand in, and what can go wrong.
//!
//! The backend does the work: `embedded` is Oxigraph in this process.
//!
//! Invariants:
//! - Parsing and evaluation run on the deep-stack pool ([`crate::exec`]), never
//!   on a runtime worker; SPARQL text is parsed there, under admission, after
//!   the depth pre-scan.
//! - Every piece of work is admitted, registered with a deadline, and holds its
//!   admission slot inside the blocking task until its last byte is written.
//! - Every write is one transaction: it applies whole or not at all, and the
//!   generation and data version change after the commit. A write waits for its
//!   task to finish, so its answer always tells what happened.
//! - The system graph (bookkeeping) is never written through requests, and is
//!   left out of reads, dumps and the quad-pattern reader.

mod admission;
mod backend;
mod embedded;
mod error;
mod job;
mod remote;
mod running;
mod stream;
mod version;

pub use admission::{cost_key, Lane, WorkClass};
pub use backend::QuadReader;
pub use error::StoreError;
pub use job::{
    default_concurrency, CappedAnswer, GraphTarget, ProtocolDataset, QueryJob, QuerySource, SourceSync, StoreLocation,
    StoreOptions, UpdateJob,
};
pub use remote::{Credentials, EngineStats, RemoteConfig};
pub use running::{RunningInfo, RunningQueries};
pub use stream::ByteReceiver;
pub use version::SourceRecord;

use crate::exec;
use crate::sources::SourceFile;
use crate::sparql::results::{self, OutputFormat, Peeked};
use admission::{Admission, AdmissionOptions};
use backend::Backend;
use bytes::Bytes;
use embedded::Embedded;
use error::from_query_error;
use oxigraph::io::RdfFormat;
use oxigraph::model::{NamedNode, Term};
use oxigraph::sparql::QueryResults;
use remote::Remote;
use running::RunningGuard;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};
use version::Versioning;

/// How long past a read's deadline the caller is answered anyway, when the
/// engine has not yet noticed its cancellation (it checks between store reads).
const GRACE: Duration = Duration::from_millis(250);

/// The store and its runtime bookkeeping. Cheap to clone.
#[derive(Clone)]
pub struct KgStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    versioning: Versioning,
    running: Arc<RunningQueries>,
    admission: Arc<Admission>,
    options: StoreOptions,
}

/// How one piece of work is admitted and registered.
struct Work {
    kind: &'static str,
    label: String,
    class: WorkClass,
    key: Option<u64>,
    timeout: Duration,
}

impl KgStore {
    /// Opens (creating if needed) the store at `location`. A remote engine must
    /// answer now (its ledger is read); later outages are answered 502/504
    /// until it is back.
    pub fn open(location: &StoreLocation, options: StoreOptions) -> Result<Self, StoreError> {
        let dir = match location {
            StoreLocation::Directory(dir) => Some(dir.as_path()),
            StoreLocation::Memory | StoreLocation::Remote(_) => None,
        };
        let versioning = Versioning::open(dir, false)?;
        if let StoreLocation::Remote(config) = location {
            let remote = Remote::open(config.clone())?;
            let (remote, read) = exec::run_blocking(move || {
                let read = remote.read_ledger().and_then(|ledger| Ok((ledger, remote.fingerprint()?)));
                (remote, read)
            })?;
            match read {
                Ok((ledger, fingerprint)) => {
                    versioning.adopt(ledger)?;
                    versioning.observe(fingerprint);
                }
                // Serve anyway: requests answer 502/504 until the engine is back.
                Err(e) if e.is_engine_fault() => {
                    tracing::warn!(error = %e.chain(), "the SPARQL engine does not answer yet");
                }
                Err(e) => return Err(e),
            }
            let store = Self::with_backend(Backend::Remote(remote), versioning, options)?;
            store.watch_remote_version(config.version_poll);
            return Ok(store);
        }
        let backend = Embedded::open(location)?;
        if let Some(ledger) = backend.take_legacy_ledger(true)? {
            versioning.adopt(ledger)?;
        }
        Self::with_backend(Backend::Embedded(backend), versioning, options)
    }

    /// Opens an existing store read-only (allowed while a server holds it).
    pub fn open_read_only(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        let backend = Embedded::open_read_only(dir)?;
        let versioning = Versioning::open(Some(dir), true)?;
        if let Some(ledger) = backend.take_legacy_ledger(false)? {
            versioning.adopt(ledger)?;
        }
        Self::with_backend(Backend::Embedded(backend), versioning, options)
    }

    /// Reads the remote engine's data version every `interval` (writes made to
    /// the engine directly, or through another treaty-kg), until the store is dropped.
    fn watch_remote_version(&self, interval: Duration) {
        let inner = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new().name("remote-version".into()).spawn(move || loop {
            std::thread::sleep(interval);
            let Some(inner) = inner.upgrade() else { return };
            let read = inner.clone();
            match exec::run_blocking(move || match &read.backend {
                Backend::Remote(remote) => remote.fingerprint(),
                Backend::Embedded(_) => Err(StoreError::NotSupported("not remote".into())),
            }) {
                Ok(Ok(version)) => inner.versioning.observe(version),
                Ok(Err(e)) => tracing::debug!(error = %e.chain(), "the engine's data version could not be read"),
                Err(e) => tracing::warn!(error = %e, "the engine's data version could not be read"),
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the remote data-version watcher did not start");
        }
    }

    /// Whether the data lives in a remote engine.
    pub fn is_remote(&self) -> bool {
        matches!(self.inner.backend, Backend::Remote(_))
    }

    /// The engine's request statistics (remote backend only).
    pub fn engine_stats(&self) -> Option<&remote::EngineStats> {
        match &self.inner.backend {
            Backend::Remote(r) => Some(r.stats()),
            Backend::Embedded(_) => None,
        }
    }

    fn with_backend(backend: Backend, versioning: Versioning, options: StoreOptions) -> Result<Self, StoreError> {
        let admission = Arc::new(Admission::new(AdmissionOptions {
            max_concurrent: options.max_concurrent,
            max_queued: options.max_queued,
            queue_timeout: options.queue_timeout,
            fast_below: options.fast_below,
            heavy_after: options.heavy_after,
        }));
        let inner = Inner { backend, versioning, running: Arc::default(), admission, options };
        Ok(KgStore { inner: Arc::new(inner) })
    }

    /// A counter bumped after every committed write: caches and ETags key on it.
    pub fn generation(&self) -> u64 {
        self.inner.versioning.generation()
    }

    /// The citable version of the data: changes with every loaded source file and
    /// every write, and is the same after a restart when nothing changed.
    pub fn data_version(&self) -> String {
        self.inner.versioning.data_version()
    }

    /// When the data last changed (for `Last-Modified`).
    pub fn last_modified(&self) -> SystemTime {
        self.inner.versioning.last_modified()
    }

    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    pub fn running(&self) -> &RunningQueries {
        &self.inner.running
    }

    /// Runs a write: reserves its number in the ledger first, then the write
    /// (which commits), then records the commit, so the data version changes
    /// after the data does, and a crash in between still changes it.
    async fn write<T: Send + 'static>(
        &self,
        work: Work,
        f: impl FnOnce(&Inner, &RunningGuard) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.is_remote() {
            // The engine keeps the version: read it back right after the write, so
            // every treaty-kg in front of the engine ends up with the same one.
            let outcome = self.run(work, f).await?;
            let inner = self.inner.clone();
            let read = exec::run(move || match &inner.backend {
                Backend::Remote(remote) => remote.fingerprint(),
                Backend::Embedded(_) => unreachable!("remote"),
            });
            match read.await {
                Ok(Ok(version)) => self.inner.versioning.observe(version),
                other => {
                    tracing::warn!(outcome = ?other.err(), "the engine's data version could not be read after a write")
                }
            }
            return Ok(outcome);
        }
        let versioning_inner = self.inner.clone();
        let number = exec::run(move || versioning_inner.versioning.reserve()).await??;
        let outcome = self.run(work, f).await?;
        self.inner.versioning.committed(number, None);
        Ok(outcome)
    }

    /// Admits and registers work; the returned guard holds the slot.
    async fn admit(&self, work: &Work) -> Result<RunningGuard, StoreError> {
        let lane = self.inner.admission.lane_for(work.class, work.key);
        let ticket = self.inner.admission.admit(lane, work.key).await?;
        Ok(self.inner.running.start(work.kind, &work.label, work.timeout, ticket))
    }

    /// Runs `f` as admitted, registered work on the deep-stack pool. A read is
    /// answered at its deadline even if the engine has not yet stopped; a write
    /// is always waited for, so its answer says whether it was applied.
    async fn run<T: Send + 'static>(
        &self,
        work: Work,
        f: impl FnOnce(&Inner, &RunningGuard) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let guard = self.admit(&work).await?;
        let inner = self.inner.clone();
        let task = exec::run(move || {
            embedded::unwound(&guard, || f(&inner, &guard)).and_then(|outcome| outcome).map_err(|e| guard.resolve(e))
        });
        if work.class == WorkClass::Write {
            return task.await?;
        }
        match tokio::time::timeout(work.timeout + GRACE, task).await {
            Ok(joined) => joined?,
            Err(_) => Err(StoreError::Timeout(work.timeout.as_secs())),
        }
    }

    fn query_work(&self, kind: &'static str, job: &QueryJob) -> Work {
        let timeout = job.timeout.map_or(self.inner.options.timeout, |t| t.min(self.inner.options.timeout));
        let label = match &job.query {
            QuerySource::Text { text, .. } if job.label.is_empty() => text.clone(),
            _ => job.label.clone(),
        };
        Work { kind, label, class: WorkClass::Read, key: Some(job.cost_key()), timeout }
    }

    fn evaluate(
        inner: &Inner,
        job: QueryJob,
        graph_form: Option<bool>,
        guard: &RunningGuard,
    ) -> Result<QueryResults<'static>, StoreError> {
        inner.backend.evaluate(job, &inner.options, graph_form, guard)
    }

    /// Evaluates `job` and streams its results in `format`. Returns once the first
    /// chunk (64 KiB) is serialized or the whole answer is, whichever comes first,
    /// so that errors and timeouts before it get a proper status and a small answer
    /// crosses threads once; the rest of a large answer is serialized in the
    /// background into the receiver, with back-pressure.
    pub async fn query(&self, job: QueryJob, format: OutputFormat) -> Result<ByteReceiver, StoreError> {
        let work = self.query_work("query", &job);
        let guard = self.admit(&work).await?;
        let inner = self.inner.clone();
        let (head_tx, head_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(8);
        let graph_form = Some(matches!(format, OutputFormat::Rdf(_)));
        exec::spawn(move || {
            let peeked = embedded::unwound(&guard, || {
                Self::evaluate(&inner, job, graph_form, &guard)
                    .and_then(|results| Peeked::new(results).map_err(from_query_error))
            })
            .and_then(|peeked| peeked);
            match peeked {
                Err(e) => {
                    let _ = head_tx.send(Err(guard.resolve(e)));
                }
                Ok(peeked) => stream::stream_into(
                    tx,
                    Some(guard.token.clone()),
                    Some(head_tx),
                    |e| stream_error(&guard, e),
                    |w| {
                        embedded::unwound(&guard, || results::serialize(peeked, format, w)).unwrap_or_else(|_| {
                            Err(io::Error::new(io::ErrorKind::TimedOut, "the evaluation was cancelled"))
                        })
                    },
                ),
            }
        });
        // The engine checks its cancellation token only when it reads the store, so a
        // query stuck in an in-memory join may notice late: answer the client at the
        // deadline anyway (the token is cancelled; the thread stops at its next check
        // and stays listed in /admin/queries until it does).
        match tokio::time::timeout(work.timeout + GRACE, head_rx).await {
            Ok(Ok(head)) => head?,
            Ok(Err(_)) => return Err(exec::TaskFailed::lost().into()),
            Err(_) => return Err(StoreError::Timeout(work.timeout.as_secs())),
        }
        Ok(rx)
    }

    /// Evaluates `job` into memory, writing at most `cap` solutions or triples in
    /// `format` and saying whether more existed (saved queries).
    pub async fn query_capped(
        &self,
        job: QueryJob,
        format: OutputFormat,
        cap: usize,
    ) -> Result<CappedAnswer, StoreError> {
        let work = self.query_work("query", &job);
        let graph_form = Some(matches!(format, OutputFormat::Rdf(_)));
        self.run(work, move |inner, guard| {
            let results = Self::evaluate(inner, job, graph_form, guard)?;
            let peeked = Peeked::new(results).map_err(from_query_error)?;
            let mut body = Vec::new();
            let truncated =
                results::serialize_capped(peeked, format, &mut body, cap).map_err(|e| stream_error(guard, e))?;
            Ok(CappedAnswer { body: Bytes::from(body), truncated })
        })
        .await
    }

    /// Evaluates an ASK query.
    pub async fn ask(&self, job: QueryJob) -> Result<bool, StoreError> {
        let work = self.query_work("query", &job);
        self.run(work, move |inner, guard| match Self::evaluate(inner, job, Some(false), guard)? {
            QueryResults::Boolean(b) => Ok(b),
            _ => Err(StoreError::Request("not an ASK query".into())),
        })
        .await
    }

    /// Rows of a SELECT (at most `cap`), each cell a term or unbound.
    pub async fn select_rows(&self, job: QueryJob, cap: usize) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
        let work = self.query_work("query", &job);
        self.run(work, move |inner, guard| match Self::evaluate(inner, job, Some(false), guard)? {
            QueryResults::Solutions(solutions) => {
                let variables = solutions.variables().to_vec();
                let mut rows = Vec::new();
                for solution in solutions.take(cap) {
                    let solution = solution.map_err(from_query_error)?;
                    rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
                }
                Ok(rows)
            }
            _ => Err(StoreError::Request("not a SELECT query".into())),
        })
        .await
    }

    /// The values of the first variable of a SELECT (allowed values of parameters).
    pub async fn select_terms(&self, job: QueryJob, limit: usize) -> Result<Vec<Term>, StoreError> {
        let rows = self.select_rows(job, limit).await?;
        Ok(rows.into_iter().filter_map(|row| row.into_iter().next().flatten()).collect())
    }

    /// Parses and applies a SPARQL update in one transaction.
    pub async fn update(&self, job: UpdateJob) -> Result<(), StoreError> {
        let work = Work {
            kind: "update",
            label: job.text.clone(),
            class: WorkClass::Write,
            key: None,
            timeout: self.inner.options.timeout,
        };
        self.write(work, move |inner, guard| inner.backend.update(job, &inner.options, guard)).await
    }

    /// Reads quad patterns: runs `f` with a [`QuadReader`] as admitted, registered
    /// work with the server's deadline. `key` identifies the work's cost (a page).
    pub async fn read<T: Send + 'static>(
        &self,
        label: &str,
        key: &str,
        f: impl FnOnce(&QuadReader<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let work = Work {
            kind: "read",
            label: label.to_owned(),
            class: WorkClass::Read,
            key: Some(admission::cost_key(&["read", key])),
            timeout: self.inner.options.timeout,
        };
        self.run(work, move |inner, guard| f(&inner.backend.reader(guard))).await
    }

    /// Up to `limit` named graphs of the store, in store order.
    pub async fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        let work = self.small_read("named graphs");
        self.run(work, move |inner, _| inner.backend.named_graphs(limit)).await
    }

    fn small_read(&self, label: &str) -> Work {
        Work {
            kind: "read",
            label: label.to_owned(),
            class: WorkClass::Read,
            key: Some(admission::cost_key(&["small", label])),
            timeout: self.inner.options.timeout,
        }
    }

    /// A cheap read that proves the storage answers (health checks; not admitted,
    /// so that a busy server still says it is alive).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        exec::run(move || inner.backend.ping()).await?
    }

    /// Number of quads in the store (a full scan: a bulk read).
    pub async fn quad_count(&self) -> Result<usize, StoreError> {
        let work = self.bulk("quad count");
        self.run(work, move |inner, guard| inner.backend.len(guard)).await
    }

    fn bulk(&self, label: &str) -> Work {
        Work {
            kind: "dump",
            label: label.to_owned(),
            class: WorkClass::Bulk,
            key: None,
            timeout: self.inner.options.transfer_timeout,
        }
    }

    /// Whether a graph exists (the default graph always does).
    pub async fn graph_exists(&self, target: &GraphTarget) -> Result<bool, StoreError> {
        let target = target.clone();
        let work = self.small_read("graph exists");
        self.run(work, move |inner, guard| inner.backend.graph_exists(&target, guard)).await
    }

    /// Streams the triples of one graph, or the whole dataset when `target` is `None`.
    pub async fn read_graph(&self, target: Option<GraphTarget>, format: RdfFormat) -> Result<ByteReceiver, StoreError> {
        if let Some(t) = &target {
            if !self.graph_exists(t).await? {
                return Err(StoreError::GraphNotFound(t.label()));
            }
        }
        self.stream_bulk("graph read", move |backend, guard, w| {
            backend.write_graph_to(target.as_ref(), format, w, guard)
        })
        .await
    }

    /// Streams the whole dataset in a quad syntax, gzip-compressed when `gzip`.
    pub async fn dump(&self, format: RdfFormat, gzip: bool) -> Result<ByteReceiver, StoreError> {
        self.stream_bulk("dump", move |backend, guard, w| backend.dump_to(format, gzip, w, guard)).await
    }

    /// Streams what `write` writes as bulk work (admitted, registered, with the
    /// transfer deadline), holding the slot until the last byte.
    async fn stream_bulk(
        &self,
        label: &str,
        write: impl FnOnce(&Backend, &RunningGuard, &mut stream::ChunkWriter) -> io::Result<()> + Send + 'static,
    ) -> Result<ByteReceiver, StoreError> {
        let guard = self.admit(&self.bulk(label)).await?;
        let inner = self.inner.clone();
        let (tx, rx) = mpsc::channel(8);
        exec::spawn(move || {
            stream::stream_into(
                tx,
                Some(guard.token.clone()),
                None,
                |e| stream_error(&guard, e),
                |w| write(&inner.backend, &guard, w),
            );
        });
        Ok(rx)
    }

    /// Writes the store (or one graph) to `writer`, synchronously (CLI `dump`).
    pub fn dump_blocking(&self, target: Option<GraphTarget>, format: RdfFormat, writer: impl Write) -> io::Result<()> {
        match &self.inner.backend {
            Backend::Embedded(e) => e.write_graph_to(target.as_ref(), format, writer),
            Backend::Remote(_) => {
                Err(io::Error::other("the command line dumps a local store; use GET /dump of a server"))
            }
        }
    }

    fn write_work(&self, label: String) -> Work {
        Work { kind: "write", label, class: WorkClass::Write, key: None, timeout: self.inner.options.timeout }
    }

    /// Replaces (`replace = true`, GSP PUT) or merges into (POST) a graph with the
    /// triples of `documents` (a body and its syntax, or the parts of a multipart
    /// body), whose relative IRIs resolve against `base`. Returns whether the
    /// graph was created by this call.
    pub async fn write_graph(
        &self,
        target: GraphTarget,
        documents: Vec<(Bytes, RdfFormat)>,
        base: String,
        replace: bool,
    ) -> Result<bool, StoreError> {
        let work = self.write_work(format!("{} {}", if replace { "PUT" } else { "POST" }, target.label()));
        self.write(work, move |inner, guard| inner.backend.write_graph(&target, &documents, &base, replace, guard))
            .await
    }

    /// Adds every quad of a dataset body (N-Quads, TriG) in one transaction.
    pub async fn add_dataset(&self, body: Bytes, format: RdfFormat, base: String) -> Result<usize, StoreError> {
        let work = self.write_work("POST dataset".into());
        self.write(work, move |inner, guard| inner.backend.add_dataset(&body, format, &base, guard)).await
    }

    /// Deletes a named graph (or empties the default graph).
    pub async fn delete_graph(&self, target: GraphTarget) -> Result<(), StoreError> {
        let work = self.write_work(format!("DELETE {}", target.label()));
        self.write(work, move |inner, guard| inner.backend.delete_graph(&target, guard)).await
    }

    /// Writes a consistent copy of the store into `dir` (which must not exist)
    /// while it keeps serving.
    pub async fn backup(&self, dir: PathBuf) -> Result<(), StoreError> {
        let mut work = self.write_work(format!("backup to {}", dir.display()));
        work.timeout = self.inner.options.transfer_timeout;
        self.run(work, move |inner, _| {
            inner.backend.backup(&dir)?;
            inner.versioning.copy_to(&dir)
        })
        .await
    }

    /// Loads each source file whose content changed since it was last loaded.
    /// Synchronous: call at start-up or from a blocking task.
    pub fn sync_sources(&self, files: &[SourceFile]) -> Result<Vec<SourceSync>, StoreError> {
        let versioning = &self.inner.versioning;
        let mut report = Vec::new();
        for file in files {
            let bytes =
                std::fs::read(&file.path).map_err(|e| StoreError::io(format!("{}: cannot read", file.display), e))?;
            let graph = file.graph.as_str().to_owned();
            let previous = versioning.source(&graph);
            if previous.as_ref().is_some_and(|r| r.hash == crate::sources::content_hash(&bytes)) {
                report.push(SourceSync::Unchanged { graph });
                continue;
            }
            let number = versioning.reserve()?;
            let (record, quads) = self.inner.backend.load_source(file, &bytes, previous.as_ref())?;
            versioning.committed(number, Some((graph.clone(), record)));
            report.push(SourceSync::Loaded { graph, quads });
        }
        Ok(report)
    }

    /// The source files loaded into the store, by the IRI of their graph.
    pub fn sources(&self) -> std::collections::BTreeMap<String, SourceRecord> {
        self.inner.versioning.sources()
    }

    /// Bulk-loads one file atomically (CLI `load`); returns the quads read.
    pub fn bulk_load(
        &self,
        path: &Path,
        graph: Option<&NamedNode>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<u64, StoreError> {
        let number = self.inner.versioning.reserve()?;
        let Backend::Embedded(backend) = &self.inner.backend else {
            return Err(StoreError::NotSupported(
                "`treaty-kg load` fills a local store; load a remote engine with its own loader".into(),
            ));
        };
        let count = backend.bulk_load(path, graph, progress)?;
        self.inner.versioning.committed(number, None);
        Ok(count)
    }
}

/// The error behind a failed serialization: the cancellation's reason, the
/// engine's error (wrapped by the serializer), or a server fault.
fn stream_error(guard: &RunningGuard, error: io::Error) -> StoreError {
    if let Some(reason) = guard.cancel_reason() {
        return reason;
    }
    if error.get_ref().is_some_and(|inner| inner.is::<oxigraph::sparql::QueryEvaluationError>()) {
        if let Some(Ok(engine)) = error.into_inner().map(|e| e.downcast::<oxigraph::sparql::QueryEvaluationError>()) {
            return guard.resolve(from_query_error(*engine));
        }
        return StoreError::Engine("the engine failed while its answer was written".into());
    }
    StoreError::io("writing the answer failed", error)
}

#[cfg(test)]
mod tests;
