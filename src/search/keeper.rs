//! Keeping the index current: after a write, the documents of what it may
//! have changed (its `WriteScope`: subjects in graphs, whole graphs) are
//! replaced, read from the store, or for a large graph the write created (a
//! Graph Store PUT of a new graph) from the statements its scope carries; a
//! write that cannot be bounded, a failed update, or an index from another
//! data version gets a whole rebuild. One at a time, in the background.

use super::build::{self, graph_term};
use super::schema::Fields;
use super::{Busy, SearchError, SearchIndex};
use crate::inference::INFERRED_GRAPH;
use crate::store::{GraphContents, StoreError, WriteScope};
use oxigraph::model::{GraphName, NamedOrBlankNode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{IndexWriter, Term};

/// How long the first retry of a failed build waits; each failure in a row
/// doubles it, at most [`RETRY_DOUBLINGS`] times (about 21 minutes).
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_DOUBLINGS: u32 = 8;

/// The index writer's memory budget.
pub(super) const WRITER_HEAP: usize = 64 * 1024 * 1024;

pub(super) fn io(e: tantivy::TantivyError) -> StoreError {
    StoreError::io("writing the search index", std::io::Error::other(e))
}

/// Commits what `writer` holds under the data version `payload`.
pub(super) fn commit(writer: &mut IndexWriter, payload: &str) -> Result<(), StoreError> {
    let mut commit = writer.prepare_commit().map_err(io)?;
    commit.set_payload(payload);
    commit.commit().map_err(io)?;
    Ok(())
}

/// The memory budget of the updates' writer (Tantivy's least is 15 MB a thread).
const UPDATE_HEAP: usize = WRITER_HEAP / 4;

/// Whether the index keeps documents of this graph (not of the inferred one).
fn indexed(graph: &GraphName) -> bool {
    !matches!(graph, GraphName::NamedNode(g) if g.as_str() == INFERRED_GRAPH)
}

impl SearchIndex {
    /// Makes the committed index the one searches read, built from `version`.
    fn publish(&self, version: String) -> Result<(), SearchError> {
        self.reader.reload()?;
        self.built.send_replace(Some(version));
        Ok(())
    }

    /// Starts updating the index: with what the writes since [`Self::open`]
    /// changed, or a whole rebuild when it was not current then. A rebuild
    /// waits while `busy` says derived data is being written.
    pub fn begin(self: Arc<Self>, busy: Option<Busy>) {
        if let Some(busy) = busy {
            let _ = self.busy.set(busy);
        }
        self.held.store(false, Ordering::SeqCst);
        if self.again.load(Ordering::SeqCst) {
            self.schedule();
        }
    }

    /// Notes what a write may have changed, and schedules the update.
    pub(super) fn changed(self: Arc<Self>, scope: &WriteScope) {
        crate::memo::lock(&self.pending).merge(scope.clone());
        self.schedule();
    }

    fn pending_everything(&self) -> bool {
        crate::memo::lock(&self.pending).everything
    }

    /// Runs an update in the background, or asks the running one to run again.
    pub(super) fn schedule(self: Arc<Self>) {
        self.again.store(true, Ordering::SeqCst);
        if self.held.load(Ordering::SeqCst) || self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        // Background work: its scans run at a lower OS priority than visitors' requests.
        tokio::spawn(crate::exec::background(async move {
            loop {
                // A whole rebuild waits for the inferred graph's regeneration (its
                // write would make the rebuild stale at once); the flag is taken
                // after the wait, so writes made meanwhile are covered by this one.
                // An update of what writes name does not wait: it takes
                // milliseconds, and the inferred graph is not indexed.
                while self.pending_everything() && self.busy.get().is_some_and(|busy| busy()) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if !self.again.swap(false, Ordering::SeqCst) {
                    break;
                }
                let scope = std::mem::take(&mut *crate::memo::lock(&self.pending));
                self.rebuilding.store(scope.everything, Ordering::SeqCst);
                let outcome = if scope.everything { self.rebuild().await } else { self.update(scope).await };
                self.rebuilding.store(false, Ordering::SeqCst);
                match outcome {
                    Ok(()) => self.failures.store(0, Ordering::SeqCst),
                    Err(e) => self.clone().retry_later(e),
                }
            }
            self.running.store(false, Ordering::SeqCst);
            if self.again.load(Ordering::SeqCst) {
                self.schedule();
            }
        }));
    }

    /// After a failed build or update (a cancelled scan, a full disk): a whole
    /// rebuild, once the failures so far have waited their turn. Without it a
    /// server nobody writes to would keep no index until its restart.
    /// One retry waits at a time; a write meanwhile runs the rebuild sooner,
    /// and a retry that finds the index built since does nothing.
    fn retry_later(self: Arc<Self>, error: SearchError) {
        let failures = self.failures.fetch_add(1, Ordering::SeqCst);
        let delay = RETRY_FIRST.saturating_mul(1u32 << failures.min(RETRY_DOUBLINGS));
        tracing::warn!(error = %error, detail = ?error, retry_in_s = delay.as_secs(), "the search index could not be updated; it is rebuilt later");
        crate::memo::lock(&self.pending).merge(WriteScope::everything());
        if self.retrying.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            self.retrying.store(false, Ordering::SeqCst);
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.schedule();
            }
        });
    }

    /// Rebuilds the whole index from the store, committed under the data
    /// version read before the scan (a write during it schedules another update).
    pub(super) async fn rebuild(&self) -> Result<(), SearchError> {
        let started = std::time::Instant::now();
        let version = self.store.data_version();
        let index = self.index.clone();
        let fields = self.fields;
        let payload = version.clone();
        // One writer at a time holds the index: the updates' goes first.
        let kept = crate::memo::lock(&self.writer).take();
        if let Some(writer) = kept {
            crate::exec::run(move || writer.wait_merging_threads()).await.map_err(StoreError::from)??;
        }
        let documents = self
            .store
            .scan("building the search index", move |reader| {
                let mut writer: IndexWriter = index.writer_with_num_threads(1, WRITER_HEAP).map_err(io)?;
                writer.delete_all_documents().map_err(io)?;
                let added = build::add_documents(reader.quads(None, None, None, None), fields, &writer)?;
                // Cancelled after the last quad was read: nothing is committed.
                reader.check()?;
                commit(&mut writer, &payload)?;
                // Merges finish before the writer goes (no half-merged files left).
                writer.wait_merging_threads().map_err(io)?;
                Ok(added)
            })
            .await?;
        self.publish(version)?;
        crate::exec::release_free_memory();
        tracing::info!(documents, ms = started.elapsed().as_millis() as u64, "search index built");
        Ok(())
    }

    /// Replaces the documents of what `scope` names (whole graphs, subjects in
    /// graphs) with what the store now says of them.
    async fn update(&self, scope: WriteScope) -> Result<(), SearchError> {
        let started = std::time::Instant::now();
        let version = self.store.data_version();
        let Changed { graphs, subjects, mut contents } = Changed::of(scope);
        let (f, payload) = (self.fields, version.clone());
        let nothing = graphs.is_empty() && subjects.is_empty();
        let (changed_graphs, changed_subjects) = (graphs.len(), subjects.len());
        let kept = crate::memo::lock(&self.writer).take();
        let writer = match kept {
            Some(writer) => writer,
            None => self.index.writer_with_num_threads(1, UPDATE_HEAP)?,
        };
        // Only the reading is admitted work; the commit (an fsync) holds no slot.
        // A write to the inferred graph alone reads nothing: the version moves on.
        // A failed read drops the writer, and what it held with it (the next
        // update opens another; the retry rebuilds).
        let (mut writer, documents) = if nothing {
            (writer, 0)
        } else {
            let read = move |reader: &crate::store::QuadReader<'_>| -> Result<(IndexWriter, u64), StoreError> {
                let mut added = 0;
                for g in &graphs {
                    let Some(term) = graph_term(g) else { continue };
                    writer.delete_term(Term::from_field_text(f.graph, term));
                    added += match contents.remove(g) {
                        // A graph the write created: its statements came with the scope.
                        Some(GraphContents(quads)) => {
                            let quads = Arc::try_unwrap(quads).unwrap_or_else(|shared| (*shared).clone());
                            build::add_documents(quads.into_iter().map(Ok), f, &writer)?
                        }
                        None => build::add_documents(reader.quads(None, None, None, Some(g.as_ref())), f, &writer)?,
                    };
                }
                for (s, g) in &subjects {
                    let (NamedOrBlankNode::NamedNode(iri), Some(term)) = (s, graph_term(g)) else { continue };
                    writer.delete_query(Box::new(subject_in_graph(f, iri.as_str(), term))).map_err(io)?;
                    let quads = reader.quads(Some(s.as_ref()), None, None, Some(g.as_ref()));
                    added += build::add_documents(quads, f, &writer)?;
                }
                Ok((writer, added))
            };
            self.store.read("updating the search index", "search-update", read).await?
        };
        // On the background pool, as the reads were: the commit is background work too.
        let writer = crate::exec::run(move || commit(&mut writer, &payload).map(|()| writer))
            .await
            .map_err(StoreError::from)??;
        *crate::memo::lock(&self.writer) = Some(writer);
        self.publish(version)?;
        tracing::info!(
            graphs = changed_graphs,
            subjects = changed_subjects,
            documents,
            ms = started.elapsed().as_millis() as u64,
            "search index updated"
        );
        Ok(())
    }
}

/// What a write changed that the index holds: whole graphs (with the
/// statements of those the write created), and subjects named by IRI in
/// graphs not already whole.
struct Changed {
    graphs: Vec<GraphName>,
    subjects: Vec<(NamedOrBlankNode, GraphName)>,
    contents: std::collections::HashMap<GraphName, GraphContents>,
}

impl Changed {
    fn of(scope: WriteScope) -> Self {
        let graphs: Vec<GraphName> = scope.graphs.into_iter().filter(indexed).collect();
        let subjects = scope
            .subjects
            .into_iter()
            .filter(|(s, g)| indexed(g) && matches!(s, NamedOrBlankNode::NamedNode(_)) && !graphs.contains(g))
            .collect();
        let contents = scope.contents.into_iter().filter(|(g, _)| graphs.contains(g)).collect();
        Changed { graphs, subjects, contents }
    }
}

/// The documents of one subject in one graph.
fn subject_in_graph(f: Fields, iri: &str, graph: &str) -> BooleanQuery {
    let term = |field: tantivy::schema::Field, text: &str| -> (Occur, Box<dyn Query>) {
        (Occur::Must, Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic)))
    };
    BooleanQuery::new(vec![term(f.iri, iri), term(f.graph, graph)])
}
