//! Full-text search over the graph: labels, alternative labels, quotations,
//! sentences and every other text, in a tantivy index kept beside the store.
//!
//! - `schema`: fields and analyzers (ASCII folding, English stemming);
//! - `build`: documents from the store, one pass over every quad;
//! - `query`: the visitor's text as a query, ranking, collapsing by resource;
//! - `snippet`: highlighted windows of text;
//! - `service`: `SERVICE <https://w3id.org/treaty-kg/search>` in SPARQL.
//!
//! - `keeper`: updates after writes (what each write names), whole rebuilds;
//! - `loading`: the index `treaty-kg load` builds into an empty store.
//!
//! Rules: the index says which data version it was built from (the commit's
//! payload). After every write (the server's own included) the documents of
//! what the write may have changed are replaced, in the background and one
//! update at a time; a write nothing bounds, and a start on an index that is
//! missing or from another version, rebuild it whole; until the first build
//! ends, searches answer 503. A search made while an update runs waits for it a
//! little, then answers from the index it has and says so (`stale`). A failed
//! build or update is followed by a whole rebuild, after a wait that doubles
//! with each failure in a row. All of it is background work (`exec::background`).

pub mod build;
mod keeper;
pub mod loading;
pub mod query;
pub mod schema;
pub mod service;
pub mod snippet;
#[cfg(test)]
mod tests;

use crate::store::{KgStore, StoreError};
use schema::{Fields, FOLDED};
use snippet::Snippet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tantivy::collector::TopDocs;
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument};
use tokio::sync::watch;

/// The IRI of the search service in SPARQL.
pub const SERVICE: &str = "https://w3id.org/treaty-kg/search";
/// The namespace of its terms (`search:query`, `search:score`…).
pub const NS: &str = "https://w3id.org/treaty-kg/search#";
/// The most hits one page may hold.
pub const MAX_LIMIT: usize = 100;
/// How deep paging may go.
pub const MAX_OFFSET: usize = 10_000;
/// The longest search text.
pub const MAX_TEXT: usize = 500;
/// How long a search waits for a build that is running.
const WAIT: Duration = Duration::from_secs(2);

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the search index is being built; try again shortly")]
    NotReady,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the search index failed")]
    Index(#[from] tantivy::TantivyError),
    #[error("the search index is not available")]
    Task(#[from] tokio::task::JoinError),
}

/// Where the index lives.
#[derive(Debug, Clone)]
pub enum IndexLocation {
    Directory(PathBuf),
    Memory,
}

/// One resource found.
#[derive(Debug, Clone)]
pub struct Hit {
    pub iri: String,
    pub label: String,
    /// Its `rdf:type`s, as stated (not inferred).
    pub types: Vec<String>,
    pub snippet: Snippet,
    pub score: f32,
    /// The named graphs its documents come from, the best-ranked first.
    pub graphs: Vec<oxigraph::model::NamedNode>,
    /// What the first of them with a source was derived from: (IRI, text),
    /// read from the store when the hit is shown.
    pub source: Option<(String, String)>,
}

/// One page of a search's hits.
#[derive(Debug, Clone)]
pub struct Answer {
    pub total: usize,
    pub hits: Vec<Hit>,
    /// The data version the index was built from…
    pub version: String,
    /// …which is not the store's current one (a build is running).
    pub stale: bool,
}

/// A completion of what a visitor is typing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Suggestion {
    pub iri: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The index and its keeper. Cheap to share (`Arc`).
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    store: KgStore,
    /// The data version of the committed index (`None`: never built).
    built: watch::Sender<Option<String>>,
    running: AtomicBool,
    again: AtomicBool,
    /// Failed builds or updates in a row (each retry waits twice as long)…
    failures: std::sync::atomic::AtomicU32,
    /// …and whether a retry is waiting (one at a time).
    retrying: AtomicBool,
    /// A whole rebuild runs (searches do not wait for it: it takes minutes).
    rebuilding: AtomicBool,
    /// What the writes since the last update may have changed.
    pending: std::sync::Mutex<crate::store::WriteScope>,
    /// While this says so, a build waits (the inferred graph is being
    /// regenerated: its write would make the build stale at once).
    busy: std::sync::OnceLock<Busy>,
    /// The writer of the updates after writes, kept from one to the next: a
    /// writer's threads and memory cost more than a small update does.
    /// Dropped before a whole rebuild, which writes with its own.
    writer: std::sync::Mutex<Option<tantivy::IndexWriter>>,
    /// Until [`Self::begin`], what writes changed is only noted.
    held: AtomicBool,
}

/// Says whether derived data is being written.
pub type Busy = Box<dyn Fn() -> bool + Send + Sync>;

impl SearchIndex {
    /// Opens the index, rebuilds it in the background when it is missing or
    /// from another data version, and again after every write to `store`.
    pub fn start(store: KgStore, location: IndexLocation, busy: Option<Busy>) -> Result<Arc<Self>, SearchError> {
        let search = Self::open(store, location)?;
        search.clone().begin(busy);
        Ok(search)
    }

    /// Opens the index and follows the store's writes from now on, but
    /// updates nothing until [`Self::begin`]: at start, the writes of the
    /// source files and the derived graphs come first, and what they changed
    /// is applied to an index that was current when it was opened (one
    /// `treaty-kg load` built) instead of rebuilding it.
    pub fn open(store: KgStore, location: IndexLocation) -> Result<Arc<Self>, SearchError> {
        let index = schema::open_index(&location)?;
        let (_, fields) = schema::schema();
        let payload = index.load_metas()?.payload;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let current = store.data_version();
        let search = Arc::new(SearchIndex {
            index,
            fields,
            reader,
            store: store.clone(),
            built: watch::channel(payload.clone()).0,
            running: AtomicBool::new(false),
            again: AtomicBool::new(false),
            failures: Default::default(),
            retrying: AtomicBool::new(false),
            rebuilding: AtomicBool::new(false),
            pending: Default::default(),
            busy: Default::default(),
            writer: Default::default(),
            held: AtomicBool::new(true),
        });
        let weak = Arc::downgrade(&search);
        store.after_writes(true, move |scope| {
            if let Some(search) = weak.upgrade() {
                search.changed(scope);
            }
        });
        if payload.as_deref() != Some(current.as_str()) {
            search.clone().changed(&crate::store::WriteScope::everything());
        }
        Ok(search)
    }

    /// Whether a first build has ended, and whether the index is current.
    pub fn status(&self) -> (bool, bool) {
        let built = self.built.borrow().clone();
        (built.is_some(), built.as_deref() == Some(self.store.data_version().as_str()))
    }

    /// The data version of the committed index (`None`: never built).
    pub fn built_version(&self) -> Option<String> {
        self.built.borrow().clone()
    }

    /// Waits (at most `wait`) until the index is current or no update runs. A
    /// whole rebuild is not waited for (minutes at 10M): the index it replaces
    /// answers, marked stale, and before the first build there is none (503).
    async fn searcher(&self, wait: Duration) -> Result<(Searcher, String, bool), SearchError> {
        let wanted = self.store.data_version();
        let mut rx = self.built.subscribe();
        let updating = self.running.load(Ordering::SeqCst) && !self.rebuilding.load(Ordering::SeqCst);
        if rx.borrow().as_deref() != Some(wanted.as_str()) && updating {
            let _ = tokio::time::timeout(wait, rx.wait_for(|v| v.as_deref() == Some(wanted.as_str()))).await;
        }
        let built = rx.borrow().clone();
        match built {
            None => Err(SearchError::NotReady),
            Some(version) => {
                let stale = version != wanted;
                Ok((self.reader.searcher(), version, stale))
            }
        }
    }

    /// One page of the hits of `text`.
    pub async fn search(self: &Arc<Self>, text: &str, offset: usize, limit: usize) -> Result<Answer, SearchError> {
        check_text(text)?;
        let (searcher, version, stale) = self.searcher(WAIT).await?;
        let this = self.clone();
        let text = text.to_owned();
        let (total, mut hits) =
            tokio::task::spawn_blocking(move || this.hits(&searcher, &text, offset, limit)).await??;
        if hits.iter().any(|h| !h.graphs.is_empty()) {
            hits = self
                .store
                .read("search: the hits' sources", "search-sources", move |reader| {
                    add_sources(&mut hits, reader)?;
                    Ok(hits)
                })
                .await?;
        }
        Ok(Answer { total, hits, version, stale })
    }

    /// The hits of `text` from the index as it is now, with their sources
    /// when a `reader` is given to read them (no waiting: the SPARQL service,
    /// inside a query).
    pub fn search_now(
        &self,
        text: &str,
        offset: usize,
        limit: usize,
        reader: Option<&crate::store::QuadReader<'_>>,
    ) -> Result<(usize, Vec<Hit>), SearchError> {
        check_text(text)?;
        if self.built.borrow().is_none() {
            return Err(SearchError::NotReady);
        }
        let (total, mut hits) = self.hits(&self.reader.searcher(), text, offset, limit)?;
        if let Some(reader) = reader {
            add_sources(&mut hits, reader)?;
        }
        Ok((total, hits))
    }

    fn hits(
        &self,
        searcher: &Searcher,
        text: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Hit>), SearchError> {
        let units = query::units(text).map_err(SearchError::BadRequest)?;
        let Some((q, highlight)) = query::build(&self.index, &self.fields, &units) else { return Ok((0, Vec::new())) };
        let (total, ranked) =
            query::ranked(searcher, q.as_ref(), offset.min(MAX_OFFSET), limit.min(service::MAX_HITS))?;
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, address) in ranked {
            let best: TantivyDocument = searcher.doc(address)?;
            let Some(iri) = query::values(&best, self.fields.iri).next().map(str::to_owned) else { continue };
            let docs = query::documents_of(searcher, &self.fields, &iri, address)?;
            hits.push(self.describe(iri, score, &docs, &highlight));
        }
        Ok((total, hits))
    }

    /// A hit from all the documents of its resource (the best first).
    fn describe(&self, iri: String, score: f32, docs: &[TantivyDocument], highlight: &query::Highlight) -> Hit {
        let f = &self.fields;
        let all = |field| docs.iter().flat_map(move |d| query::values(d, field));
        let label =
            all(f.label).next().or_else(|| all(f.alt).next()).map(str::to_owned).unwrap_or_else(|| local_name(&iri));
        let mut types: Vec<String> = Vec::new();
        for t in all(f.types) {
            if !types.iter().any(|x| x == t) {
                types.push(t.to_owned());
            }
        }
        // The snippet: the first text (else name) with a marked word, else the label.
        let candidates = all(f.text).chain(all(f.label)).chain(all(f.alt));
        let snippet = candidates
            .map(|text| snippet::snippet(&self.index, text, highlight, 200))
            .find(|s| s.html.contains("<b>"))
            .unwrap_or_else(|| snippet::snippet(&self.index, &label, highlight, 200));
        let mut graphs: Vec<oxigraph::model::NamedNode> = Vec::new();
        for g in all(f.graph).filter(|g| *g != build::DEFAULT_GRAPH) {
            if !graphs.iter().any(|x| x.as_str() == g) {
                graphs.push(oxigraph::model::NamedNode::new_unchecked(g));
            }
        }
        Hit { iri, label, types, snippet, score, graphs, source: None }
    }

    /// Up to `limit` resources whose names start with what `text` holds (the last
    /// word a prefix), shorter names first.
    pub async fn suggest(self: &Arc<Self>, text: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        check_text(text)?;
        let (searcher, _, _) = self.searcher(Duration::ZERO).await?;
        let this = self.clone();
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || this.suggest_now(&searcher, &text, limit)).await?
    }

    fn suggest_now(&self, searcher: &Searcher, text: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        let f = &self.fields;
        let folded = query::tokens(&self.index, FOLDED, text);
        if folded.is_empty() {
            return Ok(Vec::new());
        }
        let mut prefix = tantivy::query::PhrasePrefixQuery::new(
            folded.iter().map(|t| tantivy::Term::from_field_text(f.suggest, t)).collect(),
        );
        prefix.set_max_expansions(256);
        let mut found: Vec<Suggestion> = Vec::new();
        for (_, address) in
            searcher.search(&prefix, &TopDocs::with_limit(limit.saturating_mul(8).min(400)).order_by_score())?
        {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(iri) = query::values(&doc, f.iri).next() else { continue };
            if found.iter().any(|s| s.iri == iri) {
                continue;
            }
            // The name that matched: the first whose folded words start the same way.
            let names: Vec<&str> = query::values(&doc, f.label).chain(query::values(&doc, f.alt)).collect();
            let label = names
                .iter()
                .find(|n| query::tokens(&self.index, FOLDED, n).iter().any(|w| w.starts_with(folded[0].as_str())))
                .or(names.first())
                .map(|s| (*s).to_owned())
                .unwrap_or_else(|| local_name(iri));
            let mut kind = query::values(&doc, f.types).next().map(str::to_owned);
            if kind.is_none() {
                // The type may be stated in another graph than the name.
                let docs = query::documents_of(searcher, f, iri, address)?;
                kind = docs.iter().find_map(|d| query::values(d, f.types).next().map(str::to_owned));
            }
            found.push(Suggestion { iri: iri.to_owned(), label, kind });
        }
        found.sort_by_key(|s| s.label.chars().count());
        found.truncate(limit);
        Ok(found)
    }
}

/// Each hit's source: that of the first of its graphs that has one.
fn add_sources(hits: &mut [Hit], reader: &crate::store::QuadReader<'_>) -> Result<(), StoreError> {
    let mut graphs: Vec<oxigraph::model::NamedNode> = hits.iter().flat_map(|h| h.graphs.iter().cloned()).collect();
    graphs.sort_unstable();
    graphs.dedup();
    let sources = build::sources_of(reader, &graphs)?;
    for hit in hits {
        hit.source = hit.graphs.iter().find_map(|g| sources.get(g)).cloned();
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), SearchError> {
    if text.len() > MAX_TEXT {
        return Err(SearchError::BadRequest(format!(
            "the search text is {} bytes long; the limit is {MAX_TEXT}",
            text.len()
        )));
    }
    Ok(())
}

/// The last segment of an IRI (after `#` or `/`).
pub fn local_name(iri: &str) -> String {
    iri.rsplit(['#', '/']).next().filter(|s| !s.is_empty()).unwrap_or(iri).to_owned()
}
