//! `FILTER NOT EXISTS { … }` evaluated as a left join, for the embedded engine.
//!
//! Oxigraph plans the pattern inside `NOT EXISTS` as if nothing were bound,
//! then evaluates it once per row: a pattern such as `?later tkg:date ?d`
//! is hash-joined whole each time (every dated statement of the store, per
//! row). The same test written as `OPTIONAL { P FILTER(F) } FILTER(!BOUND(?w))`
//! is planned with the row's bindings known and reads a few statements. This
//! module rewrites the first into the second where the two are the same:
//!
//! - the `NOT EXISTS` is a conjunct of a group's `FILTER` (`A && NOT EXISTS
//!   {P}`); the filter applies to the whole group, so every variable the
//!   group binds is bound in the rows the left join sees, as `EXISTS`'s
//!   substitution would see them, and a variable the row leaves unbound is
//!   free in both;
//! - `P` is triple patterns, paths, joins, unions and `GRAPH` only, with at
//!   most one `FILTER` at its top (it becomes the left join's condition, which
//!   sees the row's values, as the substituted filter does); a deeper filter
//!   would not see them, so such a `P` is left as it is, and so is one whose
//!   filter holds another `EXISTS`;
//! - `?w` is bound to `true` by every match of `P`, and its name starts with a
//!   hyphen, which no query text can write.
//!
//! A row with no match is kept once, a row with matches is dropped: the
//! multiplicities are those of the filter. Remote engines get the query as
//! written (Virtuoso 7.2.5 drops rows from an `OPTIONAL` whose filter names
//! an outer variable).

use oxigraph::model::Literal;
use spargebra::algebra::{Expression, GraphPattern};
use spargebra::term::Variable;
use spargebra::Query;

/// `query` with every convertible `FILTER NOT EXISTS` turned into a left join.
pub fn query(query: Query) -> Query {
    let mut next = 0;
    super::with_pattern(query, |pattern| rewrite(pattern, &mut next))
}

fn boxed(pattern: GraphPattern, next: &mut usize) -> Box<GraphPattern> {
    Box::new(rewrite(pattern, next))
}

fn rewrite(pattern: GraphPattern, next: &mut usize) -> GraphPattern {
    match pattern {
        GraphPattern::Filter { expr, inner } => filter(expr, rewrite(*inner, next), next),
        GraphPattern::Join { left, right } => {
            GraphPattern::Join { left: boxed(*left, next), right: boxed(*right, next) }
        }
        GraphPattern::LeftJoin { left, right, expression } => {
            GraphPattern::LeftJoin { left: boxed(*left, next), right: boxed(*right, next), expression }
        }
        GraphPattern::Lateral { left, right } => {
            GraphPattern::Lateral { left: boxed(*left, next), right: boxed(*right, next) }
        }
        GraphPattern::Union { left, right } => {
            GraphPattern::Union { left: boxed(*left, next), right: boxed(*right, next) }
        }
        GraphPattern::Minus { left, right } => {
            GraphPattern::Minus { left: boxed(*left, next), right: boxed(*right, next) }
        }
        GraphPattern::Graph { name, inner } => GraphPattern::Graph { name, inner: boxed(*inner, next) },
        GraphPattern::Extend { inner, variable, expression } => {
            GraphPattern::Extend { inner: boxed(*inner, next), variable, expression }
        }
        GraphPattern::OrderBy { inner, expression } => GraphPattern::OrderBy { inner: boxed(*inner, next), expression },
        GraphPattern::Project { inner, variables } => GraphPattern::Project { inner: boxed(*inner, next), variables },
        GraphPattern::Distinct { inner } => GraphPattern::Distinct { inner: boxed(*inner, next) },
        GraphPattern::Reduced { inner } => GraphPattern::Reduced { inner: boxed(*inner, next) },
        GraphPattern::Slice { inner, start, length } => {
            GraphPattern::Slice { inner: boxed(*inner, next), start, length }
        }
        GraphPattern::Group { inner, variables, aggregates } => {
            GraphPattern::Group { inner: boxed(*inner, next), variables, aggregates }
        }
        // A service's pattern is evaluated elsewhere, as written.
        other @ (GraphPattern::Service { .. }
        | GraphPattern::Bgp { .. }
        | GraphPattern::Path { .. }
        | GraphPattern::Values { .. }) => other,
    }
}

/// `FILTER(expr)` over `inner`, its convertible `NOT EXISTS` conjuncts as left joins.
fn filter(expr: Expression, inner: GraphPattern, next: &mut usize) -> GraphPattern {
    let mut conjuncts = Vec::new();
    split(expr, &mut conjuncts);
    let mut joined = inner;
    let mut kept = Vec::with_capacity(conjuncts.len());
    for conjunct in conjuncts {
        let Expression::Not(negated) = conjunct else {
            kept.push(conjunct);
            continue;
        };
        let Expression::Exists(absent) = *negated else {
            kept.push(Expression::Not(negated));
            continue;
        };
        match convertible(*absent) {
            Ok((pattern, condition)) => {
                *next += 1;
                let witness = Variable::new_unchecked(format!("-treaty-kg-absent-{next}"));
                let right = GraphPattern::Extend {
                    inner: Box::new(pattern),
                    variable: witness.clone(),
                    expression: Expression::Literal(Literal::from(true)),
                };
                joined =
                    GraphPattern::LeftJoin { left: Box::new(joined), right: Box::new(right), expression: condition };
                kept.push(Expression::Not(Box::new(Expression::Bound(witness))));
            }
            Err(absent) => kept.push(Expression::Not(Box::new(Expression::Exists(absent)))),
        }
    }
    let expr = kept.into_iter().reduce(|a, b| Expression::And(Box::new(a), Box::new(b)));
    match expr {
        Some(expr) => GraphPattern::Filter { expr, inner: Box::new(joined) },
        None => joined,
    }
}

/// The conjuncts of `expr`, in order.
fn split(expr: Expression, into: &mut Vec<Expression>) {
    match expr {
        Expression::And(a, b) => {
            split(*a, into);
            split(*b, into);
        }
        other => into.push(other),
    }
}

/// `P` as a left join's right side and condition, or `P` back unchanged.
fn convertible(absent: GraphPattern) -> Result<(GraphPattern, Option<Expression>), Box<GraphPattern>> {
    match absent {
        GraphPattern::Filter { expr, inner } if plain(&inner) && !has_exists(&expr) => Ok((*inner, Some(expr))),
        pattern if plain(&pattern) => Ok((pattern, None)),
        other => Err(Box::new(other)),
    }
}

/// Triple patterns, paths, joins, unions and `GRAPH` only: nothing that
/// evaluates an expression inside.
fn plain(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } => true,
        GraphPattern::Join { left, right } | GraphPattern::Union { left, right } => plain(left) && plain(right),
        GraphPattern::Graph { inner, .. } => plain(inner),
        _ => false,
    }
}

fn has_exists(expr: &Expression) -> bool {
    match expr {
        Expression::Exists(_) => true,
        Expression::Or(a, b)
        | Expression::And(a, b)
        | Expression::Equal(a, b)
        | Expression::SameTerm(a, b)
        | Expression::Greater(a, b)
        | Expression::GreaterOrEqual(a, b)
        | Expression::Less(a, b)
        | Expression::LessOrEqual(a, b)
        | Expression::Add(a, b)
        | Expression::Subtract(a, b)
        | Expression::Multiply(a, b)
        | Expression::Divide(a, b) => has_exists(a) || has_exists(b),
        Expression::In(a, list) => has_exists(a) || list.iter().any(has_exists),
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => has_exists(a),
        Expression::If(a, b, c) => has_exists(a) || has_exists(b) || has_exists(c),
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => list.iter().any(has_exists),
        Expression::NamedNode(_) | Expression::Literal(_) | Expression::Variable(_) | Expression::Bound(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::sparql::{QueryResults, SparqlEvaluator};
    use oxigraph::store::Store;

    const DATA: &str = r#"
        @prefix : <http://example.org/> .
        :w1 :state :a . :w2 :state :b . :w3 :state :c .
        :e1 :of :w1 ; :date 1 ; :status :s . :e2 :of :w1 ; :date 3 ; :status :s .
        :e3 :of :w2 ; :date 2 ; :status :s . :e4 :of :w2 ; :date 5 .
        :e5 :of :w3 ; :date 4 ; :status :s . :e6 :of :w3 ; :date 4 ; :status :s .
        :e7 :of :w2 ; :date 9 ; :status :s .
    "#;

    /// Every row of `text`'s answer, sorted, with and without the rewrite.
    fn both(text: &str) -> (Vec<String>, Vec<String>, String) {
        let store = Store::new().unwrap();
        store.load_from_reader(oxigraph::io::RdfFormat::Turtle, DATA.as_bytes()).unwrap();
        let parsed = spargebra::SparqlParser::new().parse_query(text).unwrap();
        let rewritten = query(parsed.clone());
        let run = |q: Query| -> Vec<String> {
            let QueryResults::Solutions(solutions) =
                SparqlEvaluator::new().for_query(q).on_store(&store).execute().unwrap()
            else {
                panic!("a SELECT")
            };
            let mut rows: Vec<String> = solutions
                .map(|s| {
                    let s = s.unwrap();
                    s.iter().map(|(v, t)| format!("{v}={t}")).collect::<Vec<_>>().join(" ")
                })
                .collect();
            rows.sort();
            rows
        };
        let shown = rewritten.to_string();
        (run(parsed), run(rewritten), shown)
    }

    #[test]
    fn a_latest_step_is_found_alike_both_ways() {
        // The latest dated step with a status, on or before a day, per withdrawal.
        for day in [0, 2, 3, 4, 6, 10] {
            let text = format!(
                "PREFIX : <http://example.org/> SELECT ?w ?e ?d WHERE {{
                   ?e :of ?w ; :status ?s ; :date ?d . FILTER(?d <= {day})
                   FILTER NOT EXISTS {{ ?l :of ?w ; :status ?ls ; :date ?ld . FILTER(?ld <= {day} && ?ld > ?d) }}
                 }}"
            );
            let (before, after, shown) = both(&text);
            assert_eq!(before, after, "day {day}");
            assert!(shown.contains("OPTIONAL") && !shown.contains("EXISTS"), "{shown}");
        }
    }

    #[test]
    fn conjunctions_unions_and_unbound_variables_keep_their_meaning() {
        for text in [
            // Another conjunct beside it, and a union inside it.
            "PREFIX : <http://example.org/> SELECT ?w WHERE { ?w :state ?st FILTER(?st != :c && NOT EXISTS { { ?e :of ?w } UNION { ?w :other ?e } ?e :date 5 }) }",
            // A variable the row leaves unbound is free inside.
            "PREFIX : <http://example.org/> SELECT ?w ?x WHERE { ?w :state ?st OPTIONAL { ?w :none ?x } FILTER NOT EXISTS { ?e :of ?w ; :date ?x } }",
            // Nothing in common with the row: all or nothing.
            "PREFIX : <http://example.org/> SELECT ?w WHERE { ?w :state ?st FILTER NOT EXISTS { ?e :date 99 } }",
            "PREFIX : <http://example.org/> SELECT ?w WHERE { ?w :state ?st FILTER NOT EXISTS { ?e :date 9 } }",
            // Ties: two steps on one day are both the latest.
            "PREFIX : <http://example.org/> SELECT ?e WHERE { ?e :of :w3 ; :date ?d FILTER NOT EXISTS { ?l :of :w3 ; :date ?ld FILTER(?ld > ?d) } }",
        ] {
            let (before, after, shown) = both(text);
            assert_eq!(before, after, "{text}\nrewritten: {shown}");
        }
    }

    #[test]
    fn patterns_with_inner_filters_or_optionals_stay_as_written() {
        for text in [
            "PREFIX : <http://example.org/> SELECT ?w WHERE { ?w :state ?st FILTER NOT EXISTS { ?e :of ?w { ?e :date ?d FILTER(?d > 3) } } }",
            "PREFIX : <http://example.org/> SELECT ?w WHERE { ?w :state ?st FILTER NOT EXISTS { ?e :of ?w OPTIONAL { ?e :date ?d } } }",
            "PREFIX : <http://example.org/> SELECT ?w WHERE { ?w :state ?st FILTER NOT EXISTS { ?e :of ?w FILTER EXISTS { ?e :date 4 } } }",
        ] {
            let (before, after, shown) = both(text);
            assert_eq!(before, after, "{text}");
            assert!(shown.contains("NOT EXISTS"), "left as written: {shown}");
        }
    }
}
