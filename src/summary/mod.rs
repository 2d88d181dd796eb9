//! The dataset summaries: what the home page, VoID, the ontology page, the
//! timeline and the editor's completion show of the whole dataset (counts,
//! events, featured resources, the ontology's terms), as one [`Snapshot`] that
//! names the data version it describes.
//!
//! On the embedded store the snapshot is kept current by every write: the
//! store hands each write's exact change to [`Maintainer`] inside the write's
//! transaction, which re-reads only what the change names, and the new
//! snapshot is published with the version the write made. No write is
//! followed by a scan of the store.
//!
//! The first computation (a new store, or one changed by `treaty-kg load`)
//! streams the store once, in memory bounded by the summaries' own size. The
//! snapshot is kept on disk under its data version ([`kept`]), so a restart on
//! unchanged data reads it back instead.
//!
//! Over a remote engine this server does not see inside writes: the snapshot
//! is computed by SPARQL, again after the data version moves on (a write
//! through this server, or one the version poll detects), one computation at
//! a time and no more often than [`REMOTE_REFRESH`] allows, and it names the
//! version it was computed at.

pub mod kept;
pub mod layout;
pub mod pages;
pub mod stats;

use crate::linked_data::ontology::TermDoc;
use crate::store::{Derivation, Derived, KgStore, Publish, QueryJob, Recorder, Stamp, StoreError};
use oxigraph::model::{NamedNode, NamedOrBlankNode};
use pages::{direct, Event, Kind, Rows};
use stats::Statistics;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often a remote engine's summaries are looked at: computed again when
/// the data version moved on, and at least as long after the last computation
/// ended as that computation took (so they take at most half a core).
pub const REMOTE_REFRESH: Duration = Duration::from_secs(1);

/// The summaries' content.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Views {
    pub stats: Arc<Statistics>,
    /// Events by IRI.
    pub events: Arc<BTreeMap<String, Event>>,
    /// The first resources of each featured kind, by class IRI.
    pub kinds: Arc<BTreeMap<String, Kind>>,
    pub terms: Arc<Vec<TermDoc>>,
}

impl Views {
    pub fn events(&self) -> Vec<Event> {
        pages::ordered_events(&self.events)
    }

    pub fn featured(&self) -> Vec<pages::Featured> {
        pages::featured(&self.kinds)
    }
}

/// The summaries of one data version.
#[derive(Debug)]
pub struct Snapshot {
    pub stamp: Stamp,
    pub views: Views,
}

type Cell = Arc<RwLock<Arc<Snapshot>>>;

/// The current snapshot, and how it is kept current.
pub struct Summary {
    cell: Cell,
    store: KgStore,
}

/// How the first computation reads the store: one consistent transaction on
/// the embedded store, or SPARQL requests to an engine.
enum Reader<'a> {
    Transaction(&'a Recorder<'a>, bool),
    Engine(&'a KgStore),
}

impl Reader<'_> {
    fn select(&self, query: String) -> Result<Rows, StoreError> {
        match self {
            Reader::Transaction(recorder, union) => recorder.select(&query, *union),
            Reader::Engine(store) => {
                let job = QueryJob::text(query, "dataset summary").scanning_the_whole_store();
                let store = (*store).clone();
                tokio::runtime::Handle::current().block_on(async move { store.select_rows(job, 1_000_000).await })
            }
        }
    }
}

impl Summary {
    /// The summaries of the store as it is now: read back when kept at this
    /// data version, else computed; then kept current (see the module doc).
    /// Synchronous (it may scan the store): call at start, off the runtime.
    pub fn start(store: KgStore) -> Result<Arc<Self>, StoreError> {
        if let Some(summary) = Self::start_kept(&store) {
            return Ok(summary);
        }
        let started = std::time::Instant::now();
        let mut stamp = current_stamp(&store);
        let views = match compute(&store) {
            Ok(views) => {
                tracing::info!(ms = started.elapsed().as_millis() as u64, "dataset summaries computed");
                let snapshot = Snapshot { stamp: stamp.clone(), views: views.clone() };
                kept::write(&store, &snapshot);
                views
            }
            // An engine that does not answer yet: serve, and compute once it does.
            Err(e) if e.is_engine_fault() => {
                tracing::warn!(error = %e.chain(), "the dataset summaries wait for the engine");
                stamp.generation = u64::MAX;
                Views::default()
            }
            Err(e) => return Err(e),
        };
        Ok(Self::started(store, Snapshot { stamp, views }))
    }

    /// The summaries read back from disk, when they were kept at the store's
    /// current data version, then kept current; `None` when none were.
    pub fn start_kept(store: &KgStore) -> Option<Arc<Self>> {
        let views = kept::read(store)?;
        let stamp = current_stamp(store);
        tracing::info!(data_version = %stamp.data_version, "dataset summaries read from disk");
        Some(Self::started(store.clone(), Snapshot { stamp, views }))
    }

    fn started(store: KgStore, snapshot: Snapshot) -> Arc<Self> {
        let cell: Cell = Arc::new(RwLock::new(Arc::new(snapshot)));
        let summary = Arc::new(Summary { cell: cell.clone(), store: store.clone() });
        let union = store.options().union_default_graph;
        if !store.derive(Arc::new(Maintainer { cell, union })) {
            summary.clone().watch_remote();
        }
        summary
    }

    /// The current snapshot.
    pub fn current(&self) -> Arc<Snapshot> {
        self.cell.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Keeps the current snapshot on disk (at shutdown, and now and then).
    pub fn keep(&self) {
        kept::write(&self.store, &self.current());
    }

    /// Over a remote engine: computes the snapshot again whenever the data
    /// version has moved on (see [`REMOTE_REFRESH`]).
    fn watch_remote(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        drop(self);
        tokio::spawn(async move {
            let mut last = Duration::ZERO;
            loop {
                tokio::time::sleep(REMOTE_REFRESH.max(last)).await;
                let Some(summary) = weak.upgrade() else { return };
                if summary.current().stamp.generation == summary.store.generation() {
                    continue;
                }
                let stamp = current_stamp(&summary.store);
                let store = summary.store.clone();
                let started = std::time::Instant::now();
                let computed = tokio::task::spawn_blocking(move || compute(&store)).await;
                last = started.elapsed();
                match computed {
                    Ok(Ok(views)) => set(&summary.cell, Snapshot { stamp, views }),
                    Ok(Err(e)) => tracing::warn!(error = %e.chain(), "the dataset summaries could not be computed"),
                    Err(e) => tracing::warn!(error = %e, "the dataset summaries could not be computed"),
                }
            }
        });
    }
}

fn set(cell: &Cell, snapshot: Snapshot) {
    *cell.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(snapshot);
}

fn current_stamp(store: &KgStore) -> Stamp {
    store.stamp(store.generation()).unwrap_or_else(|| Stamp {
        generation: store.generation(),
        data_version: store.data_version(),
        last_modified: store.last_modified(),
    })
}

/// Computes every summary over the whole store.
pub fn compute(store: &KgStore) -> Result<Views, StoreError> {
    let union = store.options().union_default_graph;
    if store.derivation() == Derivation::AfterWrite {
        let stats =
            tokio::runtime::Handle::current().block_on(crate::linked_data::void::statistics_by_sparql(store))?;
        return read_pages(&Reader::Engine(store), stats);
    }
    // The counts and the pages' reads take about as long at 10M quads: on two
    // cores, at once, each on a view of the same data.
    let counted = |recorder: &Recorder<'_>| {
        let started = std::time::Instant::now();
        let stats = count(recorder)?;
        tracing::info!(ms = started.elapsed().as_millis() as u64, "dataset counted");
        Ok(stats)
    };
    let read = |recorder: &Recorder<'_>| {
        let scope = direct::Scope(union);
        let events = direct::events(recorder, scope)?;
        let mut kinds = BTreeMap::new();
        for (class, _) in pages::FEATURED_KINDS {
            kinds.insert(class.to_owned(), direct::kind(recorder, class, scope)?);
        }
        let reader = Reader::Transaction(recorder, union);
        let terms = pages::terms_from(reader.select(pages::terms_query())?, reader.select(pages::relations_query())?);
        Ok((events, kinds, terms))
    };
    let (stats, (events, kinds, terms)) = store.read_consistently_twice(counted, read)?;
    Ok(Views { stats: Arc::new(stats), events: Arc::new(events), kinds: Arc::new(kinds), terms: Arc::new(terms) })
}

/// The counts of the embedded store, by queries over one consistent view
/// that read encoded terms: each named graph's statements streamed in graph
/// order (one term decoded per statement, counted into the prefix tree), the
/// named graphs' names, and the statements grouped by predicate and by class
/// (in memory as large as the predicates and classes), the default graph's apart.
fn count(recorder: &Recorder<'_>) -> Result<Statistics, StoreError> {
    let mut scan = stats::Scan::default();
    recorder.select_each("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", false, &mut |row| {
        if let Some(g) = &row[0] {
            scan.statement_in(g);
        }
    })?;
    recorder.select_each("SELECT ?g WHERE { GRAPH ?g { } }", false, &mut |row| match &row[0] {
        Some(oxigraph::model::Term::NamedNode(g)) => scan.graph(&g.clone().into()),
        Some(oxigraph::model::Term::BlankNode(g)) => scan.graph(&g.clone().into()),
        _ => {}
    })?;
    let grouped = |pattern: &str, each: &mut dyn FnMut(NamedNode, u64)| -> Result<(), StoreError> {
        let query = format!("SELECT ?x (COUNT(*) AS ?n) WHERE {{ {pattern} }} GROUP BY ?x");
        for row in recorder.select(&query, false)? {
            let (Some(oxigraph::model::Term::NamedNode(x)), Some(oxigraph::model::Term::Literal(n))) =
                (&row[0], &row[1])
            else {
                continue;
            };
            let n = n
                .value()
                .parse()
                .map_err(|e| StoreError::Engine(format!("a count that is not one: {n}: {e}").into()))?;
            each(x.clone(), n);
        }
        Ok(())
    };
    grouped("GRAPH ?g { ?s ?x ?o }", &mut |p, n| scan.predicate(&p, n, false))?;
    grouped("?s ?x ?o", &mut |p, n| scan.predicate(&p, n, true))?;
    grouped("GRAPH ?g { ?s a ?x }", &mut |c, n| scan.class(&c, n))?;
    grouped("?s a ?x", &mut |c, n| scan.class(&c, n))?;
    Ok(scan.finish())
}

/// Events, featured resources and terms, read whole by SPARQL (over an engine).
fn read_pages(reader: &Reader<'_>, stats: Statistics) -> Result<Views, StoreError> {
    let events = pages::events_from(reader.select(pages::events_query(None))?);
    let mut kinds = BTreeMap::new();
    for (class, _) in pages::FEATURED_KINDS {
        kinds.insert(class.to_owned(), Kind::from_rows(reader.select(pages::featured_query(class, None))?));
    }
    let terms = pages::terms_from(reader.select(pages::terms_query())?, reader.select(pages::relations_query())?);
    Ok(Views { stats: Arc::new(stats), events: Arc::new(events), kinds: Arc::new(kinds), terms: Arc::new(terms) })
}

/// Keeps the snapshot current from inside every write on the embedded store.
struct Maintainer {
    cell: Cell,
    union: bool,
}

/// The named subjects of the changed statements whose predicate is one of `predicates`.
fn subjects_of(recorder: &Recorder<'_>, predicates: &[&str]) -> Vec<NamedNode> {
    let mut subjects: Vec<NamedNode> = recorder
        .change()
        .quads()
        .filter(|(q, _)| predicates.contains(&q.predicate.as_str()))
        .filter_map(|(q, _)| match &q.subject {
            NamedOrBlankNode::NamedNode(n) => Some(n.clone()),
            NamedOrBlankNode::BlankNode(_) => None,
        })
        .collect();
    subjects.sort();
    subjects.dedup();
    subjects
}

impl Maintainer {
    fn select(&self, recorder: &Recorder<'_>, query: String) -> Result<Rows, StoreError> {
        recorder.select(&query, self.union)
    }

    fn events(&self, recorder: &Recorder<'_>, events: &mut BTreeMap<String, Event>) -> Result<(), StoreError> {
        let scope = direct::Scope(self.union);
        let hierarchy_changed = recorder.change().quads().any(|(q, _)| q.predicate.as_str() == SUB_CLASS_OF);
        if hierarchy_changed {
            *events = direct::events(recorder, scope)?;
            return Ok(());
        }
        let touched = subjects_of(recorder, &pages::EVENT_PREDICATES);
        if touched.is_empty() {
            return Ok(());
        }
        let classes = direct::event_classes(recorder, scope)?;
        for s in touched {
            events.remove(s.as_str());
            if let Some(event) = direct::event(recorder, &s, &classes, scope)? {
                events.insert(event.iri.clone(), event);
            }
        }
        Ok(())
    }

    fn kinds(&self, recorder: &Recorder<'_>, kinds: &mut BTreeMap<String, Kind>) -> Result<(), StoreError> {
        let scope = direct::Scope(self.union);
        let touched = subjects_of(recorder, &[RDF_TYPE, LABEL]);
        if touched.is_empty() {
            return Ok(());
        }
        for (class, _) in pages::FEATURED_KINDS {
            let kind = kinds.entry(class.to_owned()).or_default();
            let mut entries = Vec::new();
            for s in &touched {
                entries.extend(direct::featured(recorder, s, class, scope)?);
            }
            if !kind.update(&touched, entries) {
                *kind = direct::kind(recorder, class, scope)?;
            }
        }
        Ok(())
    }
}

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const SUB_CLASS_OF: &str = "http://www.w3.org/2000/01/rdf-schema#subClassOf";

impl Derived for Maintainer {
    fn prepare(&self, recorder: &Recorder<'_>) -> Result<Option<Publish>, StoreError> {
        let mut views = lock_read(&self.cell).views.clone();
        let change = recorder.change();
        if !change.is_empty() {
            Arc::make_mut(&mut views.stats).apply(change);
            let mut events = (*views.events).clone();
            self.events(recorder, &mut events)?;
            if events != *views.events {
                views.events = Arc::new(events);
            }
            let mut kinds = (*views.kinds).clone();
            self.kinds(recorder, &mut kinds)?;
            if kinds != *views.kinds {
                views.kinds = Arc::new(kinds);
            }
            let terms_touched = change.quads().any(|(q, _)| {
                let subject = match &q.subject {
                    NamedOrBlankNode::NamedNode(n) => n.as_str(),
                    NamedOrBlankNode::BlankNode(_) => "",
                };
                pages::touches_terms(subject, q.predicate.as_str(), &q.object)
            });
            if terms_touched {
                let terms = pages::terms_from(
                    self.select(recorder, pages::terms_query())?,
                    self.select(recorder, pages::relations_query())?,
                );
                views.terms = Arc::new(terms);
            }
        }
        let cell = self.cell.clone();
        Ok(Some(Box::new(move |stamp| set(&cell, Snapshot { stamp: stamp.clone(), views }))))
    }
}

fn lock_read(cell: &Cell) -> Arc<Snapshot> {
    cell.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

#[cfg(test)]
pub(crate) mod tests;
