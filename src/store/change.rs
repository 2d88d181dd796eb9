//! The exact change of one write, and the transaction wrapper that records it.
//!
//! Every write on the embedded store goes through a [`Recorder`]: each
//! insertion and removal first asks whether it changes anything (a quad already
//! there, or not there to remove, is a no-op and is not recorded), and the
//! [`Change`] keeps the net result, so a quad added and then removed by the same
//! write is in neither list. The derived data (the inferred graph, the dataset
//! summaries, the search index) is brought up to date from this change alone,
//! never from a scan of the store.
//!
//! Memory is proportional to the change: a write that clears a large graph holds
//! that graph's quads until it commits.

use super::error::{from_query_error, StoreError};
use super::scope::{GraphContents, WriteScope};
use oxigraph::model::{GraphName, GraphNameRef, NamedOrBlankNode, NamedOrBlankNodeRef, Quad, QuadRef, Term, TermRef};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Transaction;
use std::collections::{HashMap, HashSet};

/// What one committed write changed: the quads it added and removed (net, no
/// duplicates, no no-ops) and the named graphs it created and dropped.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Change {
    added: HashSet<Quad>,
    removed: HashSet<Quad>,
    created: HashSet<NamedOrBlankNode>,
    dropped: HashSet<NamedOrBlankNode>,
}

impl Change {
    pub fn added(&self) -> impl Iterator<Item = &Quad> {
        self.added.iter()
    }

    pub fn removed(&self) -> impl Iterator<Item = &Quad> {
        self.removed.iter()
    }

    /// Every changed quad, with `true` when it was added.
    pub fn quads(&self) -> impl Iterator<Item = (&Quad, bool)> {
        self.added.iter().map(|q| (q, true)).chain(self.removed.iter().map(|q| (q, false)))
    }

    /// Named graphs that exist now and did not before the write.
    pub fn created_graphs(&self) -> impl Iterator<Item = &NamedOrBlankNode> {
        self.created.iter()
    }

    /// Named graphs that existed before the write and do not now.
    pub fn dropped_graphs(&self) -> impl Iterator<Item = &NamedOrBlankNode> {
        self.dropped.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.created.is_empty() && self.dropped.is_empty()
    }

    /// How many quads changed.
    pub fn len(&self) -> usize {
        self.added.len() + self.removed.len()
    }

    fn add(&mut self, quad: Quad) {
        cancel_or_keep(&mut self.removed, &mut self.added, quad);
    }

    fn remove(&mut self, quad: Quad) {
        cancel_or_keep(&mut self.added, &mut self.removed, quad);
    }

    fn create(&mut self, graph: NamedOrBlankNode) {
        cancel_or_keep(&mut self.dropped, &mut self.created, graph);
    }

    fn drop_graph(&mut self, graph: NamedOrBlankNode) {
        cancel_or_keep(&mut self.created, &mut self.dropped, graph);
    }

    /// Both changes, as if made by one write (`later` after `self`).
    pub fn merge(&mut self, later: Change) {
        for q in later.removed {
            self.remove(q);
        }
        for q in later.added {
            self.add(q);
        }
        for g in later.dropped {
            self.drop_graph(g);
        }
        for g in later.created {
            self.create(g);
        }
    }

    /// The subjects it touched, in their graphs: what the search index
    /// re-reads. A graph with more than [`WHOLE_GRAPH_PAST`] touched subjects
    /// (a Graph Store PUT of a large body, a `CLEAR`) is named whole instead, so
    /// the scope stays as small as the graphs the write touched.
    pub fn scope(&self) -> WriteScope {
        let mut by_graph: HashMap<&GraphName, HashSet<&NamedOrBlankNode>> = HashMap::new();
        for (quad, _) in self.quads() {
            by_graph.entry(&quad.graph_name).or_default().insert(&quad.subject);
        }
        let mut scope = WriteScope::default();
        for (graph, subjects) in by_graph {
            if subjects.len() > WHOLE_GRAPH_PAST {
                scope.graphs.push(graph.clone());
            } else {
                scope.subjects.extend(subjects.into_iter().map(|s| (s.clone(), graph.clone())));
            }
        }
        scope
    }
}

/// Past this many touched subjects in one graph, the search index re-reads the graph whole.
const WHOLE_GRAPH_PAST: usize = 1_000;

/// The most statements of a new graph handed on with its scope (about 200
/// bytes each); a larger one is read back from the store.
const MOST_CONTENTS: usize = 250_000;

impl Change {
    /// [`Self::scope`], with the statements of every graph it names whole and
    /// this write created: all such a graph holds is what the write added to
    /// it, so whoever keeps data derived from it (the search index) need not
    /// read them back. A graph that existed (even one the write replaced)
    /// keeps statements the change does not list.
    pub fn into_scope(self) -> WriteScope {
        let mut scope = self.scope();
        let new: Vec<GraphName> = scope
            .graphs
            .iter()
            .filter(|g| match g {
                GraphName::NamedNode(n) => self.created.contains(&NamedOrBlankNode::NamedNode(n.clone())),
                _ => false,
            })
            .cloned()
            .collect();
        if new.is_empty() {
            return scope;
        }
        let mut held: HashMap<GraphName, HashMap<NamedOrBlankNode, Vec<Quad>>> = HashMap::new();
        for quad in self.added {
            if new.contains(&quad.graph_name) {
                let graph = held.entry(quad.graph_name.clone()).or_default();
                graph.entry(quad.subject.clone()).or_default().push(quad);
            }
        }
        for (graph, by_subject) in held {
            if by_subject.values().map(Vec::len).sum::<usize>() <= MOST_CONTENTS {
                let quads: Vec<Quad> = by_subject.into_values().flatten().collect();
                scope.contents.push((graph, GraphContents(std::sync::Arc::new(quads))));
            }
        }
        scope
    }
}

/// A transaction that records its exact change. Reads see the transaction's
/// own writes.
pub struct Recorder<'s> {
    tx: Transaction<'s>,
    change: Change,
    /// Graphs emptied by this write (cleared, dropped or created): a quad of
    /// one of them is in the store exactly when this write added it, so no
    /// store read is needed to tell.
    emptied: HashSet<GraphName>,
    /// Whether named graphs exist, as far as this write has asked or changed it.
    graphs: HashMap<NamedOrBlankNode, bool>,
}

impl<'s> Recorder<'s> {
    pub fn new(tx: Transaction<'s>) -> Self {
        Recorder { tx, change: Change::default(), emptied: HashSet::new(), graphs: HashMap::new() }
    }

    /// The transaction, for reads (SPARQL evaluation, quad patterns).
    pub fn transaction(&self) -> &Transaction<'s> {
        &self.tx
    }

    /// What this write has changed so far.
    pub fn change(&self) -> &Change {
        &self.change
    }

    /// Commits, and returns what changed.
    pub fn commit(self) -> Result<Change, StoreError> {
        self.tx.commit()?;
        Ok(self.change)
    }

    /// Whether the store holds `quad` now.
    pub fn contains(&self, quad: QuadRef<'_>) -> Result<bool, StoreError> {
        if !self.emptied.is_empty() && self.emptied.contains(&quad.graph_name.into_owned()) {
            return Ok(self.change.added.contains(&quad.into_owned()));
        }
        Ok(self.tx.contains(quad)?)
    }

    /// The quads matching a pattern, now.
    pub fn quads(
        &self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<oxigraph::model::NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
    ) -> Result<Vec<Quad>, StoreError> {
        QuadRead::quads(self, subject, predicate, object, graph)
    }

    /// Whether `graph` holds a quad whose subject is not `subject`.
    pub fn holds_other_than(
        &self,
        subject: NamedOrBlankNodeRef<'_>,
        graph: GraphNameRef<'_>,
    ) -> Result<bool, StoreError> {
        for quad in self.tx.quads_for_pattern(None, None, None, Some(graph)) {
            if quad?.subject.as_ref() != subject {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A query (text of our own) evaluated on the transaction as it stands,
    /// the default graph the union of all graphs when `union_default_graph`.
    fn evaluate(&self, query: &str, union_default_graph: bool) -> Result<QueryResults<'_>, StoreError> {
        let mut prepared = SparqlEvaluator::new()
            .parse_query(query)
            .map_err(|e| StoreError::Engine(format!("a derived read does not parse: {e}").into()))?;
        if union_default_graph {
            prepared.dataset_mut().set_default_graph_as_union();
        }
        prepared.on_transaction(&self.tx).execute().map_err(from_query_error)
    }

    /// Calls `each` with every row of a `SELECT` evaluated on the transaction
    /// as it stands (streamed: for the first computation of derived data).
    pub fn select_each(
        &self,
        query: &str,
        union_default_graph: bool,
        each: &mut dyn FnMut(&[Option<Term>]),
    ) -> Result<(), StoreError> {
        let QueryResults::Solutions(solutions) = self.evaluate(query, union_default_graph)? else {
            return Err(StoreError::Engine("a derived read is not a SELECT".into()));
        };
        let variables = solutions.variables().to_vec();
        let mut row = Vec::with_capacity(variables.len());
        for solution in solutions {
            let solution = solution.map_err(from_query_error)?;
            row.clear();
            row.extend(variables.iter().map(|v| solution.get(v).cloned()));
            each(&row);
        }
        Ok(())
    }

    /// The rows of a `SELECT` evaluated on the transaction as it stands (the
    /// default graph the union of all graphs when `union_default_graph`): for
    /// the derived data's small, bounded reads.
    pub fn select(&self, query: &str, union_default_graph: bool) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
        let mut rows = Vec::new();
        self.select_each(query, union_default_graph, &mut |row| rows.push(row.to_vec()))?;
        Ok(rows)
    }

    /// The triples a `CONSTRUCT` builds on the transaction as it stands.
    pub fn construct(
        &self,
        query: &str,
        union_default_graph: bool,
    ) -> Result<Vec<oxigraph::model::Triple>, StoreError> {
        let QueryResults::Graph(triples) = self.evaluate(query, union_default_graph)? else {
            return Err(StoreError::Engine("a rule is not a CONSTRUCT".into()));
        };
        triples.map(|triple| triple.map_err(from_query_error)).collect()
    }

    /// Whether the named graph exists now.
    pub fn graph_exists(&mut self, graph: NamedOrBlankNodeRef<'_>) -> Result<bool, StoreError> {
        if let Some(known) = self.graphs.get(&graph.into_owned()) {
            return Ok(*known);
        }
        let exists = self.tx.contains_named_graph(graph)?;
        self.graphs.insert(graph.into_owned(), exists);
        Ok(exists)
    }

    /// The named graphs that exist now.
    pub fn named_graphs(&self) -> Result<Vec<NamedOrBlankNode>, StoreError> {
        let mut graphs = Vec::new();
        for graph in self.tx.named_graphs() {
            graphs.push(graph?);
        }
        Ok(graphs)
    }

    /// Adds `quad`; `false` when it was already there.
    pub fn insert(&mut self, quad: QuadRef<'_>) -> Result<bool, StoreError> {
        if self.contains(quad)? {
            return Ok(false);
        }
        if let Some(graph) = named(quad.graph_name) {
            if !self.graph_exists(graph)? {
                self.change.create(graph.into_owned());
                self.graphs.insert(graph.into_owned(), true);
            }
        }
        self.tx.insert(quad);
        self.change.add(quad.into_owned());
        Ok(true)
    }

    /// Removes `quad`; `false` when it was not there.
    pub fn remove(&mut self, quad: QuadRef<'_>) -> Result<bool, StoreError> {
        if !self.contains(quad)? {
            return Ok(false);
        }
        self.tx.remove(quad);
        self.change.remove(quad.into_owned());
        Ok(true)
    }

    /// Removes every quad of a graph (a named graph stays, empty).
    pub fn clear_graph(&mut self, graph: GraphNameRef<'_>) -> Result<(), StoreError> {
        let owned = graph.into_owned();
        if !self.emptied.contains(&owned) {
            for quad in self.quads(None, None, None, Some(graph))? {
                self.change.remove(quad);
            }
        } else {
            let added: Vec<Quad> = self.change.added.iter().filter(|q| q.graph_name == owned).cloned().collect();
            for quad in added {
                self.change.remove(quad);
            }
        }
        self.tx.clear_graph(graph)?;
        self.emptied.insert(owned);
        Ok(())
    }

    /// Creates an empty named graph; `false` when it existed.
    pub fn create_graph(&mut self, graph: NamedOrBlankNodeRef<'_>) -> Result<bool, StoreError> {
        if self.graph_exists(graph)? {
            return Ok(false);
        }
        self.tx.insert_named_graph(graph);
        self.change.create(graph.into_owned());
        self.graphs.insert(graph.into_owned(), true);
        self.emptied.insert(graph.into_owned().into());
        Ok(true)
    }

    /// Removes a named graph and its quads; `false` when it did not exist.
    pub fn drop_graph(&mut self, graph: NamedOrBlankNodeRef<'_>) -> Result<bool, StoreError> {
        if !self.graph_exists(graph)? {
            return Ok(false);
        }
        self.clear_graph(graph.into())?;
        self.tx.remove_named_graph(graph)?;
        self.change.drop_graph(graph.into_owned());
        self.graphs.insert(graph.into_owned(), false);
        Ok(true)
    }
}

fn named(graph: GraphNameRef<'_>) -> Option<NamedOrBlankNodeRef<'_>> {
    match graph {
        GraphNameRef::NamedNode(n) => Some(n.into()),
        GraphNameRef::BlankNode(b) => Some(b.into()),
        GraphNameRef::DefaultGraph => None,
    }
}

/// Reads of quad patterns, inside a write's transaction ([`Recorder`]) or on
/// the store's latest state ([`super::derived::Latest`]).
pub trait QuadRead {
    /// Calls `each` with every quad matching a pattern, streamed.
    fn each_quad(
        &self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<oxigraph::model::NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
        each: &mut dyn FnMut(Quad) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// The quads matching a pattern.
    fn quads(
        &self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<oxigraph::model::NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
    ) -> Result<Vec<Quad>, StoreError> {
        let mut found = Vec::new();
        self.each_quad(subject, predicate, object, graph, &mut |q| {
            found.push(q);
            Ok(())
        })?;
        Ok(found)
    }
}

impl QuadRead for Recorder<'_> {
    fn each_quad(
        &self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<oxigraph::model::NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
        each: &mut dyn FnMut(Quad) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for quad in self.tx.quads_for_pattern(subject, predicate, object, graph) {
            each(quad?)?;
        }
        Ok(())
    }
}

/// What to do once a write has committed, with the stamp of the version it made.
pub type Publish = Box<dyn FnOnce(&super::Stamp) + Send>;

/// Data kept current from inside every write's transaction on the embedded
/// store: the inferred graph (which adds statements of its own) and the
/// dataset summaries (which only read). Registered with
/// [`super::KgStore::derive`]; called in registration order.
pub trait Derived: Send + Sync {
    /// Once the write's own statements are in, before the commit: may read the
    /// change and the store, and write statements of its own (recorded in the
    /// same change).
    fn extend(&self, _recorder: &mut Recorder<'_>) -> Result<(), StoreError> {
        Ok(())
    }

    /// After every extension, before the commit: reads what it needs from the
    /// whole change and the store, and returns what to publish once the write
    /// has committed (in the order the writes committed).
    fn prepare(&self, _recorder: &Recorder<'_>) -> Result<Option<Publish>, StoreError> {
        Ok(None)
    }
}

/// What a committed write hands the façade: what it may have changed (for the
/// search index) and what its derived data publishes.
#[derive(Default)]
pub struct Written {
    pub scope: WriteScope,
    pub publish: Vec<Publish>,
}

impl Written {
    /// A write whose exact change is not known here (a remote engine's).
    pub fn scoped(scope: WriteScope) -> Self {
        Written { scope, publish: Vec::new() }
    }
}

/// `item` undoes its opposite, when `opposite` holds it, or else is kept.
fn cancel_or_keep<T: std::hash::Hash + Eq>(opposite: &mut HashSet<T>, kept: &mut HashSet<T>, item: T) {
    if !opposite.remove(&item) {
        kept.insert(item);
    }
}

#[cfg(test)]
impl Change {
    /// A change made of these quads and created graphs (unit tests of derived data).
    pub fn test_from(added: &[Quad], removed: &[Quad], created: &[NamedOrBlankNode]) -> Change {
        Change {
            added: added.iter().cloned().collect(),
            removed: removed.iter().cloned().collect(),
            created: created.iter().cloned().collect(),
            dropped: HashSet::new(),
        }
    }
}
