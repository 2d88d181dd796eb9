//! The façade's writes: updates, Graph Store writes, backups, and loading
//! source files and bulk files. A write is admitted in the write lane, always
//! waited for (its answer says whether it was applied), and changes the data
//! version only after it committed (the ledger's number is saved first).

use super::change::{Publish, Written};
use super::running::RunningGuard;
use super::{
    exec, GraphTarget, GraphWrite, Inner, KgStore, SourceRecord, SourceSync, StoreError, UpdateJob, Work, WorkClass,
    WriteScope,
};
use crate::sources::SourceFile;
use bytes::Bytes;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;
use std::path::{Path, PathBuf};

/// Past this many changed subjects (a whole graph counted as many), a write
/// hands the memory it freed back to the system.
const LARGE: usize = 10_000;

/// Who asked for a write: listeners that follow only outside writes (the
/// inferred graph's keeper) are not told of the server's own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Author {
    Client,
    Server,
}

impl KgStore {
    /// Runs a write: reserves its number in the ledger first, then the write
    /// (which commits), then records the commit, so the data version changes
    /// after the data does, and a crash in between still changes it.
    /// `f` also says what the write may have changed, which the listeners are told.
    async fn write<T: Send + 'static>(
        &self,
        author: Author,
        work: Work,
        f: impl FnOnce(&Inner, &RunningGuard) -> Result<(T, Written), StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (outcome, scope) = self.write_and_version(work, f).await?;
        self.tell(author, &scope);
        Ok(outcome)
    }

    /// Tells the [`Self::after_writes`] listeners what a committed write may have changed.
    fn tell(&self, author: Author, scope: &WriteScope) {
        let internal = author == Author::Server;
        let listeners = self.inner.after_writes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (also_internal, tell) in listeners.iter() {
            if *also_internal || !internal {
                tell(scope);
            }
        }
    }

    /// Tells the listeners that follow the server's own writes (the search
    /// index) what one made outside the write lane may have changed: the
    /// source files' loads at start, the derived graphs' rewrites and bulk writes.
    pub(super) fn tell_own_write(&self, scope: &WriteScope) {
        self.tell(Author::Server, scope);
    }

    /// `f` is called after every committed write made through this store, but
    /// [`Self::internal_update`]'s (`also_internal = false`: the inferred
    /// graph's keeper), or after every one (`true`: the search index).
    pub fn after_writes(&self, also_internal: bool, f: impl Fn(&WriteScope) + Send + Sync + 'static) {
        self.inner
            .after_writes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((also_internal, Box::new(f)));
    }

    /// An update of the server's own (the inferred graph's regeneration): a
    /// write like any other, except that it does not call `after_writes`.
    pub async fn internal_update(&self, job: UpdateJob) -> Result<(), StoreError> {
        let work = Work {
            kind: "internal update",
            label: "regenerating the inferred graph".into(),
            class: WorkClass::Write,
            key: None,
            timeout: self.inner.options.transfer_timeout,
        };
        self.write(Author::Server, work, move |inner, guard| {
            Ok(((), inner.backend.update(job, &inner.options, guard)?))
        })
        .await
    }

    /// Runs the write `f`, then moves the data version on and publishes what
    /// the write's derived data prepared, all in commit order (one write at a
    /// time from its commit to its publication, inside the blocking task, so a
    /// client that goes away cannot leave a committed write unpublished).
    async fn write_and_version<T: Send + 'static>(
        &self,
        work: Work,
        f: impl FnOnce(&Inner, &RunningGuard) -> Result<(T, Written), StoreError> + Send + 'static,
    ) -> Result<(T, WriteScope), StoreError> {
        if self.is_remote() {
            // The engine keeps the version: read it back right after the write, so
            // every treaty-kg in front of the engine ends up with the same one.
            let outcome = self.run(work, move |inner, guard| f(inner, guard).map(|(t, w)| (t, w.scope))).await?;
            let inner = self.inner.clone();
            let read = exec::run(move || inner.backend.engine_version());
            match read.await {
                Ok(Some(Ok(version))) => self.inner.versioning.observe(version),
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %e.chain(), "the engine's data version could not be read after a write")
                }
                Ok(None) => tracing::warn!("the engine's data version could not be read after a write: it has none"),
                Err(e) => {
                    tracing::warn!(error = %e, "the engine's data version could not be read after a write")
                }
            }
            return Ok(outcome);
        }
        let versioning_inner = self.inner.clone();
        let number = exec::run(move || versioning_inner.versioning.reserve()).await??;
        self.run(work, move |inner, guard| {
            let _in_order = crate::memo::lock(&inner.writing);
            let (outcome, written) = f(inner, guard)?;
            inner.versioning.committed(number, None);
            publish(inner, written.publish);
            if written.scope.subjects.len() + written.scope.graphs.len() * super::scope::MAX_SUBJECTS > LARGE {
                exec::release_free_memory();
            }
            Ok((outcome, written.scope))
        })
        .await
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
        self.write(Author::Client, work, move |inner, guard| {
            Ok(((), inner.backend.update(job, &inner.options, guard)?))
        })
        .await
    }

    fn write_work(&self, label: String) -> Work {
        Work { kind: "write", label, class: WorkClass::Write, key: None, timeout: self.inner.options.timeout }
    }

    /// Replaces (GSP PUT) or merges into (POST) a graph with the
    /// triples of `documents` (a body and its syntax, or the parts of a multipart
    /// body), whose relative IRIs resolve against `base`. Returns whether the
    /// graph was created by this call.
    pub async fn write_graph(
        &self,
        target: GraphTarget,
        documents: Vec<(Bytes, RdfFormat)>,
        base: String,
        how: GraphWrite,
    ) -> Result<bool, StoreError> {
        let method = match how {
            GraphWrite::Replace => "PUT",
            GraphWrite::Merge => "POST",
        };
        let work = self.write_work(format!("{method} {}", target.label()));
        self.write(Author::Client, work, move |inner, guard| {
            inner.backend.write_graph(&target, &documents, &base, how, guard)
        })
        .await
    }

    /// Adds every quad of a dataset body (N-Quads, TriG) in one transaction.
    pub async fn add_dataset(&self, body: Bytes, format: RdfFormat, base: String) -> Result<usize, StoreError> {
        let work = self.write_work("POST dataset".into());
        self.write(Author::Client, work, move |inner, guard| inner.backend.add_dataset(&body, format, &base, guard))
            .await
    }

    /// Deletes a named graph (or empties the default graph).
    pub async fn delete_graph(&self, target: GraphTarget) -> Result<(), StoreError> {
        let work = self.write_work(format!("DELETE {}", target.label()));
        self.write(Author::Client, work, move |inner, guard| Ok(((), inner.backend.delete_graph(&target, guard)?)))
            .await
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
        let mut changed = WriteScope::default();
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
            let _in_order = crate::memo::lock(&self.inner.writing);
            let (record, quads, written) = self.inner.backend.load_source(file, &bytes, previous.as_ref())?;
            versioning.committed(number, Some((graph.clone(), record)));
            publish(&self.inner, written.publish);
            changed.merge(written.scope);
            report.push(SourceSync::Loaded { graph, quads });
        }
        // An engine keeps the version: take it now, or the first poll would see a
        // "change" (and move every ETag on) where there was none.
        if report.iter().any(|r| matches!(r, SourceSync::Loaded { .. })) {
            if let Some(version) = self.inner.backend.engine_version() {
                versioning.observe(version?);
            }
            self.tell_own_write(&changed);
        }
        Ok(report)
    }

    /// Whether the embedded store holds no quad (an error over an engine).
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.backend.embedded()?.is_empty()
    }

    /// The source files loaded into the store, by the IRI of their graph.
    pub fn sources(&self) -> std::collections::BTreeMap<String, SourceRecord> {
        self.inner.versioning.sources()
    }

    /// Bulk-loads one file (CLI `load`): into the embedded store atomically,
    /// into an engine in batches; `see` is shown each quad read. Returns the
    /// quads read.
    pub fn bulk_load(
        &self,
        path: &Path,
        graph: Option<&NamedNode>,
        progress: impl Fn(u64) + Send + Sync + 'static,
        see: &mut dyn FnMut(&oxigraph::model::Quad),
    ) -> Result<u64, StoreError> {
        let number = self.inner.versioning.reserve()?;
        let count = self.inner.backend.bulk_load(path, graph, progress, see)?;
        self.inner.versioning.committed(number, None);
        Ok(count)
    }
}

/// Hands what a committed write prepared to its derived data, with the stamp
/// of the version it made.
pub(super) fn publish(inner: &Inner, publish: Vec<Publish>) {
    if publish.is_empty() {
        return;
    }
    if let Some(stamp) = inner.versioning.stamp(inner.versioning.generation()) {
        for p in publish {
            p(&stamp);
        }
    }
}
