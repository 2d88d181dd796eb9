//! What a committed write may have changed, for the data derived from the store
//! (the search index, the inferred graph): statements of some subjects in some
//! graphs, whole graphs, or anything. Read from the parsed update, or from the
//! Graph Store request and the statements it replaced; anything it cannot bound
//! is `everything`.

use oxigraph::model::{GraphName, NamedOrBlankNode, Quad, QuadRef};
use spargebra::term::{GraphNamePattern, GroundTermPattern, TermPattern};
use spargebra::{GraphUpdateOperation, Update};
use std::collections::HashSet;
use std::sync::Arc;

/// More (subject, graph) pairs than this count as whole graphs or everything.
pub(crate) const MAX_SUBJECTS: usize = 10_000;

/// The most statements of created graphs one scope holds (the writes waiting
/// for the search index merged): past it the oldest graphs' are dropped, and
/// those graphs are read back from the store.
const MOST_HELD: usize = 500_000;

/// What a write may have changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteScope {
    /// Anything at all.
    pub everything: bool,
    /// Every statement of these graphs.
    pub graphs: Vec<GraphName>,
    /// The statements of these subjects in these graphs.
    pub subjects: Vec<(NamedOrBlankNode, GraphName)>,
    /// Of `graphs`, those whose every statement is known without reading the
    /// store: graphs the write created (a Graph Store PUT of a new graph), with
    /// all they hold, a subject's statements together. Dropped once a later
    /// write touches the graph ([`Self::merge`]).
    pub contents: Vec<(GraphName, GraphContents)>,
}

/// Every statement of one graph, a subject's statements next to each other.
#[derive(Clone, PartialEq)]
pub struct GraphContents(pub Arc<Vec<Quad>>);

impl std::fmt::Debug for GraphContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} statements", self.0.len())
    }
}

impl WriteScope {
    pub fn everything() -> Self {
        WriteScope { everything: true, ..Self::default() }
    }

    pub fn graph(graph: GraphName) -> Self {
        WriteScope { graphs: vec![graph], ..Self::default() }
    }

    /// Whether this write may have changed statements of `graph`.
    fn touches(&self, graph: &GraphName) -> bool {
        self.everything || self.graphs.contains(graph) || self.subjects.iter().any(|(_, g)| g == graph)
    }

    /// Both scopes, in one (`other` the later write).
    pub fn merge(&mut self, other: WriteScope) {
        // What an earlier write said a graph holds is stale once a later one touches it.
        self.contents.retain(|(g, _)| !other.touches(g));
        self.contents.extend(other.contents);
        while self.contents.iter().map(|(_, c)| c.0.len()).sum::<usize>() > MOST_HELD {
            self.contents.remove(0);
        }
        self.everything |= other.everything;
        for g in other.graphs {
            if !self.graphs.contains(&g) {
                self.graphs.push(g);
            }
        }
        self.subjects.extend(other.subjects);
        let mut seen = std::collections::HashSet::new();
        self.subjects.retain(|pair| seen.insert(pair.clone()));
        if self.subjects.len() > MAX_SUBJECTS {
            self.everything = true;
        }
        if self.everything {
            self.graphs.clear();
            self.subjects.clear();
            self.contents.clear();
        }
    }

    fn pattern(&mut self, subject: Option<NamedOrBlankNode>, graph: &GraphNamePattern) {
        let graph = match graph {
            GraphNamePattern::NamedNode(n) => GraphName::NamedNode(n.clone()),
            GraphNamePattern::DefaultGraph => GraphName::DefaultGraph,
            GraphNamePattern::Variable(_) => {
                self.everything = true;
                return;
            }
        };
        match subject {
            Some(s) => self.subjects.push((s, graph)),
            None if !self.graphs.contains(&graph) => self.graphs.push(graph),
            None => {}
        }
    }
}

fn graph_target(target: &spargebra::algebra::GraphTarget, scope: &mut WriteScope) {
    match target {
        spargebra::algebra::GraphTarget::NamedNode(n) => {
            scope.merge(WriteScope::graph(GraphName::NamedNode(n.clone())))
        }
        spargebra::algebra::GraphTarget::DefaultGraph => scope.merge(WriteScope::graph(GraphName::DefaultGraph)),
        _ => scope.everything = true,
    }
}

fn graph_name(graph: &spargebra::term::GraphName) -> GraphName {
    match graph {
        spargebra::term::GraphName::NamedNode(n) => GraphName::NamedNode(n.clone()),
        spargebra::term::GraphName::DefaultGraph => GraphName::DefaultGraph,
    }
}

/// What `update` may change.
pub fn of_update(update: &Update) -> WriteScope {
    let mut scope = WriteScope::default();
    for operation in &update.operations {
        match operation {
            GraphUpdateOperation::InsertData { data } => {
                for q in data {
                    scope.subjects.push((q.subject.clone(), graph_name(&q.graph_name)));
                }
            }
            GraphUpdateOperation::DeleteData { data } => {
                for q in data {
                    scope.subjects.push((q.subject.clone().into(), graph_name(&q.graph_name)));
                }
            }
            GraphUpdateOperation::DeleteInsert { delete, insert, .. } => {
                for q in delete {
                    let subject = match &q.subject {
                        GroundTermPattern::NamedNode(n) => Some(n.clone().into()),
                        _ => None,
                    };
                    scope.pattern(subject, &q.graph_name);
                }
                for q in insert {
                    let subject = match &q.subject {
                        TermPattern::NamedNode(n) => Some(n.clone().into()),
                        _ => None,
                    };
                    scope.pattern(subject, &q.graph_name);
                }
            }
            GraphUpdateOperation::Clear { graph, .. } | GraphUpdateOperation::Drop { graph, .. } => {
                graph_target(graph, &mut scope)
            }
            GraphUpdateOperation::Create { .. } => {}
            GraphUpdateOperation::Load { destination, .. } => scope.merge(WriteScope::graph(graph_name(destination))),
        }
    }
    // Normalizes (dedup, caps).
    let mut normalized = WriteScope::default();
    normalized.merge(scope);
    normalized
}

/// What a Graph Store write to `target` changed: the statements of `subjects`
/// in that graph (the body's, and for a replaced or deleted graph its former
/// ones). The whole graph when they are unknown (`None`), when one is a blank
/// node (it cannot be named again), or past [`MAX_SUBJECTS`].
pub fn of_graph_write(
    target: &super::GraphTarget,
    subjects: Option<impl IntoIterator<Item = NamedOrBlankNode>>,
) -> WriteScope {
    let graph = target.as_ref().into_owned();
    let Some(subjects) = subjects else { return WriteScope::graph(graph) };
    let mut named = HashSet::new();
    for subject in subjects {
        if subject.is_blank_node() || (named.insert(subject) && named.len() > MAX_SUBJECTS) {
            return WriteScope::graph(graph);
        }
    }
    WriteScope { subjects: named.into_iter().map(|s| (s, graph.clone())).collect(), ..WriteScope::default() }
}

/// What adding `quads` changed: their subjects in their graphs; the whole
/// graph of a blank-node subject; everything past [`MAX_SUBJECTS`].
pub fn of_quads<'a>(quads: impl IntoIterator<Item = QuadRef<'a>>) -> WriteScope {
    let mut graphs = Vec::new();
    let mut pairs = HashSet::new();
    for quad in quads {
        let graph = quad.graph_name.into_owned();
        if quad.subject.is_blank_node() {
            if !graphs.contains(&graph) {
                graphs.push(graph);
            }
        } else if pairs.insert((quad.subject.into_owned(), graph)) && pairs.len() > MAX_SUBJECTS {
            return WriteScope::everything();
        }
    }
    let subjects = pairs.into_iter().filter(|(_, g)| !graphs.contains(g)).collect();
    WriteScope { graphs, subjects, ..WriteScope::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::NamedNode;

    fn scope(text: &str) -> WriteScope {
        of_update(&spargebra::SparqlParser::new().parse_update(text).unwrap())
    }

    #[test]
    fn data_names_its_subjects_templates_their_graphs_variables_everything() {
        let s = scope("INSERT DATA { <http://s> <http://p> 1 . GRAPH <http://g> { <http://t> <http://p> 2 } }");
        assert_eq!(s.subjects.len(), 2);
        assert!(!s.everything && s.graphs.is_empty());
        let s = scope("DELETE { GRAPH <http://g> { ?s ?p ?o } } WHERE { GRAPH <http://g> { ?s ?p ?o } }");
        assert_eq!(s.graphs, vec![GraphName::NamedNode(NamedNode::new_unchecked("http://g"))]);
        assert!(scope("DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }").everything);
        assert!(scope("CLEAR ALL").everything);
        let s = scope("DROP GRAPH <http://g> ; INSERT DATA { GRAPH <http://g> { <http://s> <http://p> 1 } }");
        assert_eq!((s.graphs.len(), s.subjects.len()), (1, 1));
    }

    #[test]
    fn a_graph_the_write_created_comes_with_its_statements_until_a_later_write_touches_it() {
        let g = NamedNode::new_unchecked("http://e/new");
        let graph = GraphName::NamedNode(g.clone());
        let quad = |i: usize, n: usize| {
            let label = oxigraph::model::Literal::new_simple_literal(format!("{i} {n}"));
            Quad::new(
                NamedNode::new_unchecked(format!("http://e/s{i}")),
                NamedNode::new_unchecked("http://p"),
                label,
                g.clone(),
            )
        };
        let quads: Vec<Quad> = (0..1_500).flat_map(|i| [quad(i, 0), quad(i, 1)]).collect();
        let change = |created: &[NamedOrBlankNode]| super::super::change::Change::test_from(&quads, &[], created);
        let created = change(&[g.clone().into()]).into_scope();
        assert_eq!(created.graphs, vec![graph.clone()], "1,500 subjects: named whole");
        assert_eq!(created.contents.len(), 1);
        let held = &created.contents[0].1 .0;
        assert_eq!(held.len(), 3_000);
        assert!(held.chunks(2).all(|pair| pair[0].subject == pair[1].subject), "a subject's statements together");
        assert!(change(&[]).into_scope().contents.is_empty(), "a graph that existed holds statements the change omits");

        let mut pending = WriteScope::default();
        pending.merge(created.clone());
        pending.merge(WriteScope::graph(GraphName::DefaultGraph));
        assert_eq!(pending.contents.len(), 1, "a write to another graph leaves them");
        pending.merge(of_quads([quad(7, 2).as_ref()]));
        assert!(pending.contents.is_empty(), "a later write to the graph makes them stale");
        assert!(pending.graphs.contains(&graph), "the graph is still read whole");
        let mut pending = WriteScope::default();
        pending.merge(created.clone());
        pending.merge(WriteScope::everything());
        assert!(pending.contents.is_empty());

        // Writes waiting hold a bounded number of statements, the newest.
        let mut pending = WriteScope::default();
        for n in 0..(MOST_HELD / 3_000 + 1) {
            let mut next = created.clone();
            next.contents[0].0 = GraphName::NamedNode(NamedNode::new_unchecked(format!("http://e/new{n}")));
            pending.merge(next);
        }
        assert_eq!(pending.contents.len(), MOST_HELD / 3_000);
        assert!(pending
            .contents
            .last()
            .is_some_and(|(g, _)| g.to_string().contains(&format!("new{}", MOST_HELD / 3_000))));
    }

    #[test]
    fn graph_store_writes_name_their_subjects_unless_unknown_blank_or_too_many() {
        let target = crate::store::GraphTarget::Named(NamedNode::new_unchecked("http://g"));
        let g = GraphName::NamedNode(NamedNode::new_unchecked("http://g"));
        let iri = |i: usize| NamedOrBlankNode::from(NamedNode::new_unchecked(format!("http://s/{i}")));
        let s = of_graph_write(&target, Some([iri(1), iri(2), iri(1)]));
        assert_eq!(s.subjects.len(), 2, "repeats count once");
        assert!(s.subjects.iter().all(|(_, graph)| graph == &g) && s.graphs.is_empty() && !s.everything);
        assert_eq!(of_graph_write(&target, None::<Vec<NamedOrBlankNode>>), WriteScope::graph(g.clone()));
        let blank = NamedOrBlankNode::from(oxigraph::model::BlankNode::default());
        assert_eq!(of_graph_write(&target, Some([iri(1), blank.clone()])), WriteScope::graph(g.clone()));
        assert_eq!(of_graph_write(&target, Some((0..=MAX_SUBJECTS).map(iri))), WriteScope::graph(g.clone()));
        assert_eq!(of_graph_write(&target, Some((0..MAX_SUBJECTS).map(iri))).subjects.len(), MAX_SUBJECTS);
    }

    #[test]
    fn a_dataset_names_its_subjects_per_graph_and_blank_nodes_their_graph() {
        use oxigraph::model::{Literal, Quad};
        let p = NamedNode::new_unchecked("http://p");
        let (g, h) = (NamedNode::new_unchecked("http://g"), NamedNode::new_unchecked("http://h"));
        let quads = [
            Quad::new(NamedNode::new_unchecked("http://s"), p.clone(), Literal::from(1), g.clone()),
            Quad::new(NamedNode::new_unchecked("http://s"), p.clone(), Literal::from(1), GraphName::DefaultGraph),
            Quad::new(oxigraph::model::BlankNode::default(), p.clone(), Literal::from(1), h.clone()),
            Quad::new(NamedNode::new_unchecked("http://t"), p.clone(), Literal::from(1), h.clone()),
        ];
        let s = of_quads(quads.iter().map(|q| q.as_ref()));
        assert_eq!(s.graphs, vec![GraphName::NamedNode(h)], "a blank node's graph, whole");
        assert_eq!(s.subjects.len(), 2, "the IRI subject in each other graph");
        assert!(!s.everything);
    }
}
