//! The store: the only module that touches a storage engine. Everything else
//! calls the façade, [`KgStore`], for one of a few operations: evaluate a query
//! into a stream of bytes in a format, apply an update, read quad patterns,
//! read/replace/merge/delete a graph, dump, sync the repository's source files.
//! Callers never ask which backend runs: what differs between them is answered
//! here (the graphs' census, pages of distinct triples, the engine's version).
//!
//! The façade owns what every backend shares, one concern per file:
//! - `admission`: lanes by expected cost, bounded queues, 503 before overload;
//! - `running`: the registry of running work, the deadline watcher;
//! - `inline`: small queries tried on the request's own thread, within a budget;
//! - `stream`: the chunk writer that streams answers with back-pressure;
//! - `version`: generation, data version, write counter;
//! - `change`, `derived`, `scope`: what each write changed, and the views kept
//!   from it inside the write's transaction;
//! - `census`, `pages`: the named graphs counted, and pages of distinct triples;
//! - `reads`, `writes`: the façade's operations;
//! - `job`, `error`: what callers hand in, and what can go wrong.
//!
//! The backend does the work (`backend` is the only place that matches on it):
//! `embedded` is Oxigraph in this process; `remote` is a SPARQL 1.1 engine over
//! HTTP (its query and update endpoints, and its Graph Store when given one).
//!
//! Invariants:
//! - Parsing and evaluation run on a deep stack ([`crate::exec::STACK_BYTES`]):
//!   the evaluation pool's, or a runtime worker's for an inline attempt, which
//!   gives way to the pool past its time or size budget; SPARQL text is parsed
//!   under admission, after the depth pre-scan.
//! - Every piece of work is admitted, registered with a deadline, and holds its
//!   admission slot until its last byte is written.
//! - Every write is one transaction: it applies whole or not at all, and the
//!   generation and data version change after the commit. A write waits for its
//!   task to finish, so its answer always tells what happened.
//! - The system graph (bookkeeping) is never written through requests, and is
//!   left out of reads, dumps and the quad-pattern reader.

mod admission;
mod backend;
mod census;
mod change;
mod derived;
mod embedded;
mod error;
mod inline;
pub use inline::counts as inline_counts;
mod job;
mod pages;
mod reads;
mod remote;
mod running;
mod scope;
mod stream;
mod version;
mod writes;

pub use admission::{cost_key, Lane, WorkClass};
pub use backend::InProcessService;
pub use backend::QuadReader;
pub use census::GraphCensus;
pub use change::{Change, Derived, Publish, QuadRead, Recorder};
pub use derived::{Latest, Pattern};
pub use error::{engine_count, StoreError};
pub use job::{
    default_concurrency, CappedAnswer, Credentials, DefaultGraph, Derivation, GraphTarget, GraphWrite, ProtocolDataset,
    QueryJob, QuerySource, RemoteConfig, SourceSync, StoreLocation, StoreOptions, UpdateJob,
};
pub use pages::TriplePage;
pub use remote::EngineStats;
pub use running::{RunningInfo, RunningQueries};
pub use scope::{GraphContents, WriteScope};
pub use stream::{Answer, ByteReceiver};
pub use version::{SourceRecord, Stamp};

use crate::exec;
use crate::sparql::results::{self, OutputFormat, Peeked};
use admission::{Admission, AdmissionOptions};
use backend::Backend;
use embedded::Embedded;
use error::from_query_error;
use remote::Remote;
use running::RunningGuard;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use version::Versioning;

/// How long past a read's deadline the caller is answered anyway, when the
/// engine has not yet noticed its cancellation (it checks between store reads).
const GRACE: Duration = Duration::from_millis(250);

/// How long the server's own reads may run (the search index's build, the
/// summaries' scans). They are bounded by the data, not by what a visitor
/// asks, and run at a lower priority, so on a busy machine they take longer
/// than a visitor's dump would: the transfer deadline would cut them (at 10M
/// the index build alone takes four minutes idle) and leave the index or a
/// summary missing. This bound only catches a runaway. A scan this long holds
/// its RocksDB snapshot as long, which delays the removal of compacted files.
const BACKGROUND_DEADLINE: Duration = Duration::from_secs(24 * 3600);

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
    /// Told after committed writes: (also after the server's own writes?, listener).
    after_writes: std::sync::RwLock<Vec<(bool, WriteListener)>>,
    /// The SPARQL service answered in this process (the search index), if any.
    in_process: std::sync::RwLock<Option<Arc<dyn InProcessService>>>,
    /// Held by a write from its commit to its publication: writes publish in commit order.
    writing: std::sync::Mutex<()>,
}

/// Called after a committed write.
type WriteListener = Box<dyn Fn(&WriteScope) + Send + Sync>;

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
        // A remote engine's ledger lives in the engine; with `--remote-state` a
        // copy of it (and the server's notes) is kept there too, and the derived
        // data beside it.
        let dir = match location {
            StoreLocation::Directory(dir) => Some(dir.as_path()),
            StoreLocation::Remote(config) => config.state.as_deref(),
            StoreLocation::Memory => None,
        };
        if let (StoreLocation::Remote(_), Some(dir)) = (location, dir) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::io(format!("{}: cannot create the --remote-state directory", dir.display()), e)
            })?;
        }
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
            match exec::run_blocking(move || read.backend.engine_version()) {
                Ok(None) => return,
                Ok(Some(Ok(version))) => inner.versioning.observe(version),
                Ok(Some(Err(e))) => tracing::debug!(error = %e.chain(), "the engine's data version could not be read"),
                Err(e) => tracing::warn!(error = %e, "the engine's data version could not be read"),
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the remote data-version watcher did not start");
        }
    }

    /// Keeps `derived` current inside every write's transaction; `false` over a
    /// remote engine, whose writes this server cannot see inside.
    pub fn derive(&self, derived: Arc<dyn Derived>) -> bool {
        match self.inner.backend.embedded() {
            Ok(e) => {
                e.derive(derived);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the data lives in a remote engine (for the store's own use:
    /// callers ask what differs, [`Self::derivation`] or [`Self::default_graph`]).
    fn is_remote(&self) -> bool {
        !self.inner.backend.evaluates_in_process()
    }

    /// How the views derived from the data are kept current.
    pub fn derivation(&self) -> Derivation {
        if self.is_remote() {
            Derivation::AfterWrite
        } else {
            Derivation::InWrite
        }
    }

    /// Whose default graph queries see.
    pub fn default_graph(&self) -> DefaultGraph {
        match (self.is_remote(), self.inner.options.union_default_graph) {
            (true, _) => DefaultGraph::Engine,
            (false, true) => DefaultGraph::Union,
            (false, false) => DefaultGraph::Own,
        }
    }

    /// What holds the data, in words (the health check's).
    pub fn backend_name(&self) -> &'static str {
        if self.is_remote() {
            "remote engine"
        } else {
            "embedded store"
        }
    }

    /// The engine's request statistics (remote backend only).
    pub fn engine_stats(&self) -> Option<&remote::EngineStats> {
        self.inner.backend.engine_stats()
    }

    fn with_backend(backend: Backend, versioning: Versioning, options: StoreOptions) -> Result<Self, StoreError> {
        let admission = Arc::new(Admission::new(AdmissionOptions {
            max_concurrent: options.max_concurrent,
            max_queued: options.max_queued,
            queue_timeout: options.queue_timeout,
            fast_below: options.fast_below,
            heavy_after: options.heavy_after,
        }));
        let inner = Inner {
            backend,
            versioning,
            running: Arc::default(),
            admission,
            options,
            after_writes: Default::default(),
            in_process: Default::default(),
            writing: Default::default(),
        };
        Ok(KgStore { inner: Arc::new(inner) })
    }

    /// A note the server keeps about derived data, beside the ledger (not in the
    /// data, not part of the data version; in memory over a remote engine).
    pub fn note(&self, key: &str) -> Option<String> {
        self.inner.versioning.note(key)
    }

    /// Sets a note (a small file write, off the runtime workers).
    pub async fn set_note(&self, key: &str, value: String) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        let key = key.to_owned();
        exec::run(move || inner.versioning.set_note(&key, value)).await?
    }

    /// A directory beside the ledger for data derived from the store, kept
    /// across restarts under the data version it describes (`None` in memory,
    /// over a remote engine without `--remote-state`, or read-only).
    pub fn keepsake_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.versioning.keepsake_dir()
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

    /// The validators of data version `generation`, while it is the current
    /// one or among the last thousand before it.
    pub fn stamp(&self, generation: u64) -> Option<Stamp> {
        self.inner.versioning.stamp(generation)
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

    /// Admits and registers work; the returned guard holds the slot. The
    /// server's own reads (inside [`exec::background`]) go to the background
    /// lane, with [`BACKGROUND_DEADLINE`]. Also returns how long the work's
    /// last run took, if that is remembered (looked up once, for the lane
    /// and the caller).
    async fn admit(&self, work: &mut Work) -> Result<(RunningGuard, Option<Duration>), StoreError> {
        if work.class != WorkClass::Write && exec::in_background() {
            work.class = WorkClass::Background;
            work.timeout = work.timeout.max(BACKGROUND_DEADLINE);
        }
        let remembered = work.key.and_then(|k| self.inner.admission.remembered(k));
        let lane = self.inner.admission.lane_by_cost(work.class, remembered);
        let ticket = self.inner.admission.admit(lane, work.key).await?;
        let guard = self.inner.running.start(work.kind, std::mem::take(&mut work.label), work.timeout, ticket);
        Ok((guard, remembered))
    }

    /// Runs `f` as admitted, registered work on the deep-stack pool. A read is
    /// answered at its deadline even if the engine has not yet stopped; a write
    /// is always waited for, so its answer says whether it was applied.
    async fn run<T: Send + 'static>(
        &self,
        mut work: Work,
        f: impl FnOnce(&Inner, &RunningGuard) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (guard, _) = self.admit(&mut work).await?;
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
