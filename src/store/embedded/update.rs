//! SPARQL Update on the embedded store, one operation at a time through a
//! [`Recorder`], so that the write knows its exact change.
//!
//! Oxigraph applies an update without saying what it changed. Here each
//! operation is applied as the SPARQL 1.1 Update specification defines it:
//! `INSERT DATA`/`DELETE DATA` quad by quad (blank nodes fresh per operation);
//! `DELETE/INSERT … WHERE` by evaluating the `WHERE` pattern (with its `USING`
//! dataset) on the transaction as it stands, then deleting every instantiated
//! delete template and inserting every instantiated insert template (blank
//! nodes fresh per solution; a template with an unbound or ill-placed value is
//! skipped); `CLEAR`, `DROP` and `CREATE` on graphs. Later operations see the
//! earlier ones' effects; the whole update commits or nothing does.

use super::{apply_dataset, Embedded};
use crate::sparql::checkpoints;
use crate::store::change::Recorder;
use crate::store::error::{from_query_error, StoreError};
use crate::store::job::{ProtocolDataset, StoreOptions};
use crate::store::running::RunningGuard;
use oxigraph::model::{
    BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, NamedOrBlankNodeRef, Quad, Term, Triple, Variable,
};
use oxigraph::sparql::{QueryResults, QuerySolution};
use spargebra::algebra::{GraphPattern, GraphTarget, QueryDataset};
use spargebra::term::{
    GraphNamePattern, GroundQuadPattern, GroundTerm, GroundTermPattern, NamedNodePattern, QuadPattern, TermPattern,
};
use spargebra::GraphUpdateOperation;
use std::collections::HashMap;

/// How often long loops look at their cancellation token.
const CHECK_EVERY: usize = 1024;

/// What an update runs with.
pub struct UpdateContext<'a> {
    pub dataset: &'a ProtocolDataset,
    pub options: &'a StoreOptions,
    pub guard: &'a RunningGuard,
}

/// Applies every operation of `update`, in order, recording the change.
pub fn apply(
    recorder: &mut Recorder<'_>,
    update: &spargebra::Update,
    context: &UpdateContext<'_>,
) -> Result<(), StoreError> {
    for operation in &update.operations {
        context.guard.check()?;
        match operation {
            GraphUpdateOperation::InsertData { data } => {
                let mut fresh = HashMap::new();
                for (i, quad) in data.iter().enumerate() {
                    checkpoint(i, context.guard)?;
                    let quad = ground_data(quad, &mut fresh);
                    recorder.insert(quad.as_ref())?;
                }
            }
            GraphUpdateOperation::DeleteData { data } => {
                for (i, quad) in data.iter().enumerate() {
                    checkpoint(i, context.guard)?;
                    let quad = Quad::new(
                        quad.subject.clone(),
                        quad.predicate.clone(),
                        ground_term(&quad.object),
                        graph_name(&quad.graph_name),
                    );
                    recorder.remove(quad.as_ref())?;
                }
            }
            GraphUpdateOperation::DeleteInsert { delete, insert, using, pattern } => {
                let solutions = solutions(recorder, update, using.as_ref(), pattern, context)?;
                delete_insert(recorder, delete, insert, &solutions, context.guard)?
            }
            GraphUpdateOperation::Load { .. } => {
                return Err(StoreError::Refused("LOAD is switched off: this server makes no outbound requests".into()))
            }
            GraphUpdateOperation::Clear { graph, silent } => clear(recorder, graph, *silent, Emptying::Clear)?,
            GraphUpdateOperation::Drop { graph, silent } => clear(recorder, graph, *silent, Emptying::Drop)?,
            GraphUpdateOperation::Create { graph, silent } => {
                if !recorder.create_graph(graph.as_ref().into())? && !silent {
                    return Err(StoreError::Request(format!("The graph {graph} already exists")));
                }
            }
        }
    }
    Ok(())
}

fn checkpoint(i: usize, guard: &RunningGuard) -> Result<(), StoreError> {
    if i.is_multiple_of(CHECK_EVERY) {
        guard.check()?;
    }
    Ok(())
}

/// What `CLEAR` and `DROP` do to a named graph: empty it, or remove it too.
#[derive(Clone, Copy, PartialEq)]
enum Emptying {
    Clear,
    Drop,
}

impl Emptying {
    fn apply(self, recorder: &mut Recorder<'_>, graph: NamedOrBlankNodeRef<'_>) -> Result<(), StoreError> {
        match self {
            Emptying::Clear => recorder.clear_graph(graph.into()),
            Emptying::Drop => recorder.drop_graph(graph).map(|_| ()),
        }
    }
}

/// `CLEAR` or `DROP` of a graph target.
fn clear(recorder: &mut Recorder<'_>, target: &GraphTarget, silent: bool, how: Emptying) -> Result<(), StoreError> {
    match target {
        GraphTarget::NamedNode(graph) => {
            if !recorder.graph_exists(graph.as_ref().into())? {
                return if silent {
                    Ok(())
                } else {
                    Err(StoreError::Request(format!("The graph {graph} does not exist")))
                };
            }
            how.apply(recorder, graph.as_ref().into())?;
        }
        GraphTarget::DefaultGraph => recorder.clear_graph(oxigraph::model::GraphNameRef::DefaultGraph)?,
        GraphTarget::NamedGraphs | GraphTarget::AllGraphs => {
            if matches!(target, GraphTarget::AllGraphs) {
                recorder.clear_graph(oxigraph::model::GraphNameRef::DefaultGraph)?;
            }
            for graph in recorder.named_graphs()? {
                how.apply(recorder, graph.as_ref())?;
            }
        }
    }
    Ok(())
}

/// `DELETE { … } INSERT { … } WHERE { … }`: the solutions first, then every
/// deletion, then every insertion.
fn delete_insert(
    recorder: &mut Recorder<'_>,
    delete: &[GroundQuadPattern],
    insert: &[QuadPattern],
    solutions: &[QuerySolution],
    guard: &RunningGuard,
) -> Result<(), StoreError> {
    let mut i = 0;
    for solution in solutions {
        for template in delete {
            checkpoint(i, guard)?;
            i += 1;
            if let Some(quad) = instantiate_delete(template, solution) {
                recorder.remove(quad.as_ref())?;
            }
        }
    }
    for solution in solutions {
        let mut fresh = HashMap::new();
        for template in insert {
            checkpoint(i, guard)?;
            i += 1;
            if let Some(quad) = instantiate_insert(template, solution, &mut fresh) {
                recorder.insert(quad.as_ref())?;
            }
        }
    }
    Ok(())
}

/// The solutions of the `WHERE` pattern on the transaction as it stands.
fn solutions(
    recorder: &Recorder<'_>,
    update: &spargebra::Update,
    using: Option<&QueryDataset>,
    pattern: &GraphPattern,
    context: &UpdateContext<'_>,
) -> Result<Vec<QuerySolution>, StoreError> {
    let query = spargebra::Query::Select {
        dataset: using.cloned(),
        pattern: pattern.clone(),
        base_iri: update.base_iri.clone(),
    };
    let (query, functions) = checkpoints::query(query);
    let mut prepared = Embedded::evaluator(context.guard, functions).for_query(query);
    apply_dataset(prepared.dataset_mut(), context.dataset, context.options.union_default_graph);
    let results = prepared.on_transaction(recorder.transaction()).execute().map_err(from_query_error)?;
    let QueryResults::Solutions(solutions) = results else {
        return Err(StoreError::Engine("the WHERE clause of an update did not give solutions".into()));
    };
    let mut all = Vec::new();
    for solution in solutions {
        all.push(solution.map_err(from_query_error)?);
    }
    Ok(all)
}

fn graph_name(graph: &spargebra::term::GraphName) -> GraphName {
    match graph {
        spargebra::term::GraphName::NamedNode(n) => n.clone().into(),
        spargebra::term::GraphName::DefaultGraph => GraphName::DefaultGraph,
    }
}

fn ground_term(term: &GroundTerm) -> Term {
    match term {
        GroundTerm::NamedNode(n) => n.clone().into(),
        GroundTerm::Literal(l) => l.clone().into(),
        GroundTerm::Triple(t) => Triple::new(t.subject.clone(), t.predicate.clone(), ground_term(&t.object)).into(),
    }
}

/// A blank node of the text, as the fresh one it stands for in this scope.
fn fresh(node: &BlankNode, map: &mut HashMap<BlankNode, BlankNode>) -> BlankNode {
    map.entry(node.clone()).or_default().clone()
}

fn data_subject(subject: &NamedOrBlankNode, map: &mut HashMap<BlankNode, BlankNode>) -> NamedOrBlankNode {
    match subject {
        NamedOrBlankNode::BlankNode(b) => fresh(b, map).into(),
        other => other.clone(),
    }
}

fn data_term(term: &Term, map: &mut HashMap<BlankNode, BlankNode>) -> Term {
    match term {
        Term::BlankNode(b) => fresh(b, map).into(),
        Term::Triple(t) => {
            Triple::new(data_subject(&t.subject, map), t.predicate.clone(), data_term(&t.object, map)).into()
        }
        other => other.clone(),
    }
}

/// An `INSERT DATA` quad, its blank nodes fresh for the operation.
fn ground_data(quad: &spargebra::term::Quad, map: &mut HashMap<BlankNode, BlankNode>) -> Quad {
    Quad::new(
        data_subject(&quad.subject, map),
        quad.predicate.clone(),
        data_term(&quad.object, map),
        graph_name(&quad.graph_name),
    )
}

fn value<'a>(variable: &Variable, solution: &'a QuerySolution) -> Option<&'a Term> {
    solution.get(variable)
}

fn as_subject(term: Term) -> Option<NamedOrBlankNode> {
    match term {
        Term::NamedNode(n) => Some(n.into()),
        Term::BlankNode(b) => Some(b.into()),
        _ => None,
    }
}

fn predicate(pattern: &NamedNodePattern, solution: &QuerySolution) -> Option<NamedNode> {
    match pattern {
        NamedNodePattern::NamedNode(n) => Some(n.clone()),
        NamedNodePattern::Variable(v) => match value(v, solution)? {
            Term::NamedNode(n) => Some(n.clone()),
            _ => None,
        },
    }
}

fn graph(pattern: &GraphNamePattern, solution: &QuerySolution) -> Option<GraphName> {
    match pattern {
        GraphNamePattern::NamedNode(n) => Some(n.clone().into()),
        GraphNamePattern::DefaultGraph => Some(GraphName::DefaultGraph),
        GraphNamePattern::Variable(v) => match value(v, solution)? {
            Term::NamedNode(n) => Some(n.clone().into()),
            Term::BlankNode(b) => Some(b.clone().into()),
            _ => None,
        },
    }
}

fn ground_pattern(pattern: &GroundTermPattern, solution: &QuerySolution) -> Option<Term> {
    match pattern {
        GroundTermPattern::NamedNode(n) => Some(n.clone().into()),
        GroundTermPattern::Literal(l) => Some(Literal::clone(l).into()),
        GroundTermPattern::Variable(v) => value(v, solution).cloned(),
        GroundTermPattern::Triple(t) => Some(
            Triple::new(
                as_subject(ground_pattern(&t.subject, solution)?)?,
                predicate(&t.predicate, solution)?,
                ground_pattern(&t.object, solution)?,
            )
            .into(),
        ),
    }
}

fn instantiate_delete(template: &GroundQuadPattern, solution: &QuerySolution) -> Option<Quad> {
    Some(Quad::new(
        as_subject(ground_pattern(&template.subject, solution)?)?,
        predicate(&template.predicate, solution)?,
        ground_pattern(&template.object, solution)?,
        graph(&template.graph_name, solution)?,
    ))
}

fn term_pattern(
    pattern: &TermPattern,
    solution: &QuerySolution,
    map: &mut HashMap<BlankNode, BlankNode>,
) -> Option<Term> {
    match pattern {
        TermPattern::NamedNode(n) => Some(n.clone().into()),
        TermPattern::BlankNode(b) => Some(fresh(b, map).into()),
        TermPattern::Literal(l) => Some(l.clone().into()),
        TermPattern::Variable(v) => value(v, solution).cloned(),
        TermPattern::Triple(t) => Some(
            Triple::new(
                as_subject(term_pattern(&t.subject, solution, map)?)?,
                predicate(&t.predicate, solution)?,
                term_pattern(&t.object, solution, map)?,
            )
            .into(),
        ),
    }
}

fn instantiate_insert(
    template: &QuadPattern,
    solution: &QuerySolution,
    map: &mut HashMap<BlankNode, BlankNode>,
) -> Option<Quad> {
    Some(Quad::new(
        as_subject(term_pattern(&template.subject, solution, map)?)?,
        predicate(&template.predicate, solution)?,
        term_pattern(&template.object, solution, map)?,
        graph(&template.graph_name, solution)?,
    ))
}
