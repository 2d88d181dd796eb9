//! What the derived data (the inferred graph, the dataset summaries) needs of
//! the embedded store besides each write's change: reads inside one
//! transaction, whole-store passes that stream, and rewrites in batches. All
//! synchronous: they run at start, or on a blocking thread.

use super::change::Recorder;
use super::{KgStore, StoreError, WriteScope};
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};

/// Past this many graphs, a bulk write's listeners are told it may have written anything.
const MOST_GRAPHS: usize = 64;

/// What a batch rewrite does with each batch of quads read.
pub type Rewrite<'a> = dyn Fn(&mut Recorder<'_>, &[Quad]) -> Result<(), StoreError> + 'a;

/// Where a bulk write's producer hands its quads.
pub type Sink<'a> = dyn FnMut(Quad) -> Result<(), StoreError> + 'a;

/// What a bulk write runs: it reads the store and hands quads to the sink.
pub type Produce<'a> = dyn FnMut(&Latest<'_>, &mut Sink<'_>) -> Result<(), StoreError> + 'a;

/// Reads of the store's latest state, each of its own (no transaction, so
/// the bulk loader may write meanwhile: the memory backend's transactions
/// hold a lock it waits for).
pub struct Latest<'a> {
    store: &'a oxigraph::store::Store,
}

impl super::change::QuadRead for Latest<'_> {
    fn each_quad(
        &self,
        subject: Option<oxigraph::model::NamedOrBlankNodeRef<'_>>,
        predicate: Option<oxigraph::model::NamedNodeRef<'_>>,
        object: Option<oxigraph::model::TermRef<'_>>,
        graph: Option<oxigraph::model::GraphNameRef<'_>>,
        each: &mut dyn FnMut(Quad) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for quad in self.store.quads_for_pattern(subject, predicate, object, graph) {
            each(quad?)?;
        }
        Ok(())
    }
}

/// A quad pattern: `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct Pattern {
    pub subject: Option<NamedOrBlankNode>,
    pub predicate: Option<NamedNode>,
    pub object: Option<Term>,
    pub graph: Option<GraphName>,
}

impl KgStore {
    fn embedded(&self) -> Result<&super::embedded::Embedded, StoreError> {
        self.inner.backend.embedded()
    }

    /// Runs `read` on one consistent view of the store (a transaction that writes nothing).
    pub fn read_consistently<T>(
        &self,
        read: impl FnOnce(&Recorder<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.embedded()?.read_consistently(read)
    }

    /// Runs `first` and `second` at once, on two threads, each on a consistent
    /// view of its own: both views are taken while no write can commit, so
    /// they see the same data (the first computation of the summaries, whose
    /// count and pages read apart).
    pub fn read_consistently_twice<A: Send, B: Send>(
        &self,
        first: impl FnOnce(&Recorder<'_>) -> Result<A, StoreError> + Send,
        second: impl FnOnce(&Recorder<'_>) -> Result<B, StoreError> + Send,
    ) -> Result<(A, B), StoreError> {
        let embedded = self.embedded()?;
        let in_order = crate::memo::lock(&self.inner.writing);
        let (taken, has_taken) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let other = std::thread::Builder::new()
                .name("treaty-kg-view".into())
                .spawn_scoped(scope, move || {
                    embedded.read_consistently(|recorder| {
                        drop(taken);
                        second(recorder)
                    })
                })
                .map_err(|e| StoreError::io("starting a reading thread", e))?;
            // This view is taken once the other is (or failed to be). The memory
            // backend's transactions exclude each other: there, the two run in turn.
            let _ = has_taken.recv();
            let first = embedded.read_consistently(|recorder| {
                drop(in_order);
                first(recorder)
            });
            let second = other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok((first?, second?))
        })
    }

    /// Adds the quads `produce` hands its sink, reading the store's latest
    /// state, through the bulk loader: sorted runs of bounded memory,
    /// committed at the end (one new data version; nothing when none was
    /// added). The derived data's hooks are not called: for the first
    /// materialization of a derived graph, before they are registered. The
    /// listeners of the server's own writes are told the graphs written (all
    /// of them, past [`MOST_GRAPHS`]). Returns how many quads were handed.
    pub fn bulk_write(&self, produce: &mut Produce<'_>) -> Result<u64, StoreError> {
        const BATCH: usize = 100_000;
        let embedded = self.embedded()?;
        let _in_order = crate::memo::lock(&self.inner.writing);
        let mut loader = embedded.raw_store().bulk_loader();
        let (mut batch, mut handed, mut number) = (Vec::with_capacity(BATCH), 0u64, None);
        let mut written = WriteScope::default();
        {
            let latest = Latest { store: embedded.raw_store() };
            let mut sink = |quad: Quad| -> Result<(), StoreError> {
                if number.is_none() {
                    number = Some(self.inner.versioning.reserve()?);
                }
                if !written.everything && !written.graphs.contains(&quad.graph_name) {
                    if written.graphs.len() < MOST_GRAPHS {
                        written.graphs.push(quad.graph_name.clone());
                    } else {
                        written = WriteScope::everything();
                    }
                }
                batch.push(quad);
                handed += 1;
                if batch.len() >= BATCH {
                    loader.load_quads(batch.drain(..))?;
                }
                Ok(())
            };
            produce(&latest, &mut sink)?;
        }
        loader.load_quads(batch)?;
        loader.commit()?;
        if let Some(number) = number {
            self.inner.versioning.committed(number, None);
            self.tell_own_write(&written);
        }
        Ok(handed)
    }

    /// Writes what the store holds in memory (its write buffers) to disk and
    /// frees it: after the first computations of derived data at start, whose
    /// writes would otherwise stay resident until the buffers fill.
    pub fn flush(&self) -> Result<(), StoreError> {
        Ok(self.embedded()?.raw_store().flush()?)
    }

    /// Runs `apply` as one write of the server's own (versioned and
    /// published like any other, the derived data kept current); returns how
    /// many quads it changed. When it changes nothing, nothing is committed
    /// and the data version stays (a restart does not move it).
    pub fn write_derived(
        &self,
        apply: &dyn Fn(&mut Recorder<'_>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.rewrite_in_batches(&[], 1, &|recorder, _| apply(recorder))
    }

    /// Streams the quads matching each pattern in turn and hands them to
    /// `apply` in batches of `batch` (with no pattern, `apply` once, with no
    /// quads), each batch one transaction with the derived data kept current.
    /// For the derived data's first computation over a whole store, in
    /// bounded memory. The batches that change something make one new data
    /// version (its number reserved before the first of them commits);
    /// returns how many quads changed.
    pub fn rewrite_in_batches(
        &self,
        patterns: &[Pattern],
        batch: usize,
        apply: &Rewrite<'_>,
    ) -> Result<u64, StoreError> {
        let embedded = self.embedded()?;
        let _in_order = crate::memo::lock(&self.inner.writing);
        let (mut changed, mut number, mut publish) = (0u64, None, Vec::new());
        let mut told = WriteScope::default();
        let mut flush = |pending: &mut Vec<Quad>| -> Result<(), StoreError> {
            let mut reserve = |change: &super::change::Change| -> Result<bool, StoreError> {
                if change.is_empty() {
                    return Ok(false);
                }
                if number.is_none() {
                    number = Some(self.inner.versioning.reserve()?);
                }
                changed += change.len() as u64;
                Ok(true)
            };
            let ((), written) = embedded.write_when(None, |recorder| apply(recorder, pending), &mut reserve)?;
            if let Some(written) = written {
                publish.extend(written.publish);
                told.merge(written.scope);
            }
            pending.clear();
            Ok(())
        };
        let mut pending: Vec<Quad> = Vec::with_capacity(batch.min(1 << 16));
        if patterns.is_empty() {
            flush(&mut pending)?;
        }
        for pattern in patterns {
            let quads = embedded.raw_store().quads_for_pattern(
                pattern.subject.as_ref().map(|s| s.as_ref()),
                pattern.predicate.as_ref().map(|p| p.as_ref()),
                pattern.object.as_ref().map(|o| o.as_ref()),
                pattern.graph.as_ref().map(|g| g.as_ref()),
            );
            for quad in quads {
                pending.push(quad?);
                if pending.len() >= batch {
                    flush(&mut pending)?;
                }
            }
        }
        if !pending.is_empty() {
            flush(&mut pending)?;
        }
        if let Some(number) = number {
            self.inner.versioning.committed(number, None);
            super::writes::publish(&self.inner, publish);
            self.tell_own_write(&told);
        }
        Ok(changed)
    }
}
