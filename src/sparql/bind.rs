//! Binding values to variables of a parsed query, by rewriting its algebra:
//! a one-row `VALUES` table is joined in as the first element of the query's
//! top-level group, below projection, ordering, grouping and the group's own
//! `BIND`s and `FILTER`s, exactly where `SELECT … WHERE { VALUES … }` would put it.
//!
//! Values are RDF terms in the algebra, never text, so nothing a value contains
//! can change the query. Unlike Oxigraph's `substitute_variable`, a bound
//! variable need not be projected, and `BOUND(?x)`/`FILTER`s see it.

use oxigraph::model::{Term, Variable};
use spargebra::algebra::GraphPattern;
use spargebra::term::GroundTerm;
use spargebra::Query;

/// Why a binding cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("a blank node cannot be bound to ?{0}")]
    BlankNode(String),
}

/// Returns `query` with `bindings` joined into its top-level group.
pub fn bind(query: Query, bindings: &[(Variable, Term)]) -> Result<Query, BindError> {
    if bindings.is_empty() {
        return Ok(query);
    }
    let mut row = Vec::with_capacity(bindings.len());
    for (variable, term) in bindings {
        row.push(Some(match term {
            Term::NamedNode(n) => GroundTerm::NamedNode(n.clone()),
            Term::Literal(l) => GroundTerm::Literal(l.clone()),
            _ => return Err(BindError::BlankNode(variable.as_str().to_owned())),
        }));
    }
    let values =
        GraphPattern::Values { variables: bindings.iter().map(|(v, _)| v.clone()).collect(), bindings: vec![row] };
    Ok(super::with_pattern(query, |pattern| inject(pattern, values)))
}

fn inject(pattern: GraphPattern, values: GraphPattern) -> GraphPattern {
    match pattern {
        GraphPattern::Project { inner, variables } => {
            GraphPattern::Project { inner: Box::new(inject(*inner, values)), variables }
        }
        GraphPattern::Distinct { inner } => GraphPattern::Distinct { inner: Box::new(inject(*inner, values)) },
        GraphPattern::Reduced { inner } => GraphPattern::Reduced { inner: Box::new(inject(*inner, values)) },
        GraphPattern::Slice { inner, start, length } => {
            GraphPattern::Slice { inner: Box::new(inject(*inner, values)), start, length }
        }
        GraphPattern::OrderBy { inner, expression } => {
            GraphPattern::OrderBy { inner: Box::new(inject(*inner, values)), expression }
        }
        GraphPattern::Group { inner, variables, aggregates } => {
            GraphPattern::Group { inner: Box::new(inject(*inner, values)), variables, aggregates }
        }
        GraphPattern::Filter { expr, inner } => GraphPattern::Filter { expr, inner: Box::new(inject(*inner, values)) },
        GraphPattern::Extend { inner, variable, expression } => {
            GraphPattern::Extend { inner: Box::new(inject(*inner, values)), variable, expression }
        }
        GraphPattern::Join { left, right } => GraphPattern::Join { left: Box::new(inject(*left, values)), right },
        GraphPattern::LeftJoin { left, right, expression } => {
            GraphPattern::LeftJoin { left: Box::new(inject(*left, values)), right, expression }
        }
        GraphPattern::Minus { left, right } => GraphPattern::Minus { left: Box::new(inject(*left, values)), right },
        other => GraphPattern::Join { left: Box::new(values), right: Box::new(other) },
    }
}

/// Whether `query` mentions `?name` at all (a parameter must bind something).
pub fn mentions(query: &Query, name: &str) -> bool {
    let text = query.to_string();
    let needle = format!("?{name}");
    text.match_indices(&needle)
        .any(|(i, _)| !text[i + needle.len()..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::{Literal, NamedNode};
    use spargebra::SparqlParser;

    fn parse(q: &str) -> Query {
        SparqlParser::new().parse_query(q).unwrap()
    }

    #[test]
    fn values_go_below_modifiers_and_above_nothing_else() {
        let q = parse("SELECT ?x (COUNT(*) AS ?n) WHERE { ?x ?p ?o FILTER(!BOUND(?from) || ?o > ?from) } GROUP BY ?x ORDER BY ?x LIMIT 3");
        let bound = bind(q, &[(Variable::new_unchecked("from"), Literal::from(5).into())]).unwrap().to_string();
        let values =
            bound.find("VALUES ( ?from ) { ( \"5\"^^<http://www.w3.org/2001/XMLSchema#integer> )").expect(&bound);
        let pattern = bound.find("?x ?p ?o").unwrap();
        let group = bound.find("GROUP BY").unwrap();
        assert!(values < pattern && pattern < group, "VALUES first in the group, inside the aggregation: {bound}");
        assert!(bound.ends_with("LIMIT 3"));
    }

    #[test]
    fn hostile_text_stays_a_literal() {
        let q = parse("SELECT ?t WHERE { ?s ?p ?t FILTER(CONTAINS(?t, ?q)) }");
        let evil = "\" } ; DROP ALL ; { \"";
        let bound = bind(q, &[(Variable::new_unchecked("q"), Literal::new_simple_literal(evil).into())]).unwrap();
        let reparsed = parse(&bound.to_string());
        assert_eq!(reparsed, bound, "the rewritten query round-trips, the value escaped");
    }

    #[test]
    fn mentions_matches_whole_names() {
        let q = parse("SELECT ?state WHERE { ?state ?p ?statement }");
        assert!(mentions(&q, "state"));
        assert!(!mentions(&q, "stat"));
        assert!(!mentions(&q, "x"));
        let _ = NamedNode::new_unchecked("http://a");
    }
}
