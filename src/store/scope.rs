//! What a committed write may have changed, for the data derived from the store
//! (the search index): statements of some subjects in some graphs, whole
//! graphs, or anything. Read from the parsed update, or from the Graph Store
//! request; anything it cannot bound is `everything`.

use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode};
use spargebra::term::{GraphNamePattern, GroundTermPattern, TermPattern};
use spargebra::{GraphUpdateOperation, Update};

/// More (subject, graph) pairs than this count as whole graphs or everything.
const MAX_SUBJECTS: usize = 10_000;

/// What a write may have changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteScope {
    /// Anything at all.
    pub everything: bool,
    /// Every statement of these graphs.
    pub graphs: Vec<GraphName>,
    /// The statements of these subjects in these graphs.
    pub subjects: Vec<(NamedOrBlankNode, GraphName)>,
}

impl WriteScope {
    pub fn everything() -> Self {
        WriteScope { everything: true, ..Self::default() }
    }

    pub fn graph(graph: GraphName) -> Self {
        WriteScope { graphs: vec![graph], ..Self::default() }
    }

    /// Both scopes, in one.
    pub fn merge(&mut self, other: WriteScope) {
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

/// The graph a Graph Store target names, as a scope.
pub fn of_graph(target: &super::GraphTarget) -> WriteScope {
    match target {
        super::GraphTarget::Default => WriteScope::graph(GraphName::DefaultGraph),
        super::GraphTarget::Named(n) => WriteScope::graph(GraphName::NamedNode(NamedNode::clone(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
