//! Cancellation checkpoints woven into a query's algebra.
//!
//! Oxigraph's engine looks at its cancellation token only when it reads the
//! store. Work done in memory between two reads (a join whose sides are small
//! but whose product is huge, a filter or an aggregate over that product) never
//! looks, so a cancelled query could run on for minutes, holding its thread.
//!
//! This rewrite adds a call to a checkpoint function where rows are produced in
//! memory: a `BIND` above every outermost join (of groups, of a basic graph
//! pattern's several triple patterns, of OPTIONAL, MINUS and lateral joins),
//! and a guard inside every `FILTER` (`IF(checkpoint(), e, false)`, which keeps
//! the filter's meaning, errors included). The checkpoint is a custom function
//! the store registers per evaluation: it returns `true`, or unwinds the
//! evaluation once the work is cancelled (see `store::embedded`).
//!
//! Joins nested directly in joins are left alone, so the optimizer still sees
//! and reorders the whole join tree; the bound variables have names no query
//! can use and are never projected (`SELECT *` was expanded by the parser).

use spargebra::algebra::{AggregateExpression, Expression, Function, GraphPattern, OrderExpression};
use spargebra::term::{NamedNode, NamedNodePattern, Variable};
use spargebra::{GraphUpdateOperation, Query, Update};

/// The checkpoint function's IRI.
pub const CHECKPOINT: &str = "urn:treaty-kg:checkpoint";

/// `query` with its pattern rewritten by `rewriter`.
fn rewritten(query: Query, rewriter: &mut Rewriter<'_>) -> Query {
    super::with_pattern(query, |pattern| rewriter.pattern(pattern, false))
}

/// Adds checkpoints to every pattern of `query`; also returns the custom
/// functions the query calls (`sparql::checkpoints::unknown_functions`),
/// [`CHECKPOINT`] among them when a checkpoint was added.
pub fn query(query: Query) -> (Query, Vec<NamedNode>) {
    let mut rewriter = Rewriter::default();
    let query = rewritten(query, &mut rewriter);
    (query, rewriter.functions)
}

/// Adds checkpoints to the `WHERE` patterns of `update`; also returns the
/// custom functions it calls.
pub fn update(mut update: Update) -> (Update, Vec<NamedNode>) {
    let mut rewriter = Rewriter::default();
    for operation in &mut update.operations {
        if let GraphUpdateOperation::DeleteInsert { pattern, .. } = operation {
            let taken = std::mem::replace(pattern.as_mut(), GraphPattern::Bgp { patterns: Vec::new() });
            **pattern = rewriter.pattern(taken, false);
        }
    }
    (update, rewriter.functions)
}

/// The XSD namespace: Oxigraph evaluates its casts itself.
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// Whether `f` is one of the GeoSPARQL functions every evaluation knows.
pub fn geosparql(f: &NamedNode) -> bool {
    spargeo::GEOSPARQL_EXTENSION_FUNCTIONS.iter().any(|(name, _)| *name == f.as_ref())
}

/// The custom functions among `functions` the engine does not know. SPARQL
/// makes a call to an unknown function an expression error (a FILTER false, an
/// unbound BIND), not a failed query, so the store registers each as a function
/// that always errs.
pub fn unknown_functions(functions: Vec<NamedNode>) -> Vec<NamedNode> {
    let mut unknown: Vec<NamedNode> = functions
        .into_iter()
        .filter(|f| !f.as_str().starts_with(XSD) && f.as_str() != CHECKPOINT && !geosparql(f))
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// Why a `SERVICE` answered in this process gives no pattern.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The pattern asks what the service cannot answer: the request's fault.
    #[error("{0}")]
    Request(String),
    /// The service cannot answer yet (a 503 that says why).
    #[error("{0}")]
    Busy(&'static str),
    /// The service itself failed: the server's fault.
    #[error("the in-process service failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Answers a `SERVICE` pattern in this process: the pattern inside it, and
/// `None` when the service is not ours (left as it is).
pub type LocalService<'a> = &'a dyn Fn(&NamedNode, &GraphPattern) -> Option<Result<GraphPattern, ServiceError>>;

/// Replaces every `SERVICE` pattern that `local` answers with what it answers
/// (a `VALUES` block), in the query's pattern, subqueries and `EXISTS`; says
/// whether anything was replaced. No checkpoints are added.
pub fn substitute_services(query: Query, local: LocalService<'_>) -> Result<(Query, bool), ServiceError> {
    let mut rewriter = Rewriter { local: Some(local), plain: true, ..Rewriter::default() };
    let query = rewritten(query, &mut rewriter);
    match rewriter.failed {
        Some(message) => Err(message),
        None => Ok((query, rewriter.substituted > 0)),
    }
}

#[derive(Default)]
struct Rewriter<'a> {
    /// Answers local services (`substitute_services`).
    local: Option<LocalService<'a>>,
    /// Adds no checkpoints (only walks).
    plain: bool,
    substituted: usize,
    failed: Option<ServiceError>,
    next: usize,
    /// The custom functions the text calls.
    functions: Vec<NamedNode>,
    /// How many `SERVICE` patterns it holds.
    services: usize,
}

/// Whether `query` holds a `SERVICE` pattern anywhere (in subqueries and
/// `EXISTS` too): a remote engine would make that outbound request itself.
pub fn query_calls_service(query: &Query) -> bool {
    let mut rewriter = Rewriter::default();
    let pattern = match query.clone() {
        Query::Select { pattern, .. }
        | Query::Construct { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Ask { pattern, .. } => pattern,
    };
    rewriter.pattern(pattern, false);
    rewriter.services > 0
}

/// Whether `update` holds a `SERVICE` pattern in a `WHERE` clause.
pub fn update_calls_service(update: &Update) -> bool {
    let mut rewriter = Rewriter::default();
    for operation in &update.operations {
        if let GraphUpdateOperation::DeleteInsert { pattern, .. } = operation {
            rewriter.pattern((**pattern).clone(), false);
        }
    }
    rewriter.services > 0
}

impl Rewriter<'_> {
    /// A call of the checkpoint function, which the query now calls: it joins
    /// [`Rewriter::functions`] once, so that an evaluator registers it only
    /// for a query that has checkpoints.
    fn checkpoint(&mut self) -> Expression {
        let name = NamedNode::new_unchecked(CHECKPOINT);
        if !self.functions.contains(&name) {
            self.functions.push(name.clone());
        }
        Expression::FunctionCall(Function::Custom(name), Vec::new())
    }

    /// A `BIND(checkpoint() AS ?fresh)` above `inner`.
    fn bind(&mut self, inner: GraphPattern) -> GraphPattern {
        if self.plain {
            return inner;
        }
        self.next += 1;
        // `?` variables cannot start with a hyphen in SPARQL text, so no query can name it.
        let variable = Variable::new_unchecked(format!("-treaty-kg-checkpoint-{}", self.next));
        GraphPattern::Extend { inner: Box::new(inner), variable, expression: self.checkpoint() }
    }

    fn boxed(&mut self, pattern: GraphPattern, in_join: bool) -> Box<GraphPattern> {
        Box::new(self.pattern(pattern, in_join))
    }

    /// Rewrites `pattern`; `in_join` says its parent is a join of the same
    /// tree (which gets the checkpoint above the whole tree instead).
    fn pattern(&mut self, pattern: GraphPattern, in_join: bool) -> GraphPattern {
        match pattern {
            GraphPattern::Bgp { patterns } if patterns.len() > 1 && !in_join => {
                self.bind(GraphPattern::Bgp { patterns })
            }
            GraphPattern::Join { left, right } => {
                let join = GraphPattern::Join { left: self.boxed(*left, true), right: self.boxed(*right, true) };
                self.joined(join, in_join)
            }
            GraphPattern::LeftJoin { left, right, expression } => {
                let join = GraphPattern::LeftJoin {
                    left: self.boxed(*left, true),
                    right: self.boxed(*right, false),
                    expression: expression.map(|e| self.guarded(e)),
                };
                self.joined(join, in_join)
            }
            GraphPattern::Lateral { left, right } => {
                let join = GraphPattern::Lateral { left: self.boxed(*left, false), right: self.boxed(*right, false) };
                self.bind(join)
            }
            GraphPattern::Minus { left, right } => {
                let minus = GraphPattern::Minus { left: self.boxed(*left, false), right: self.boxed(*right, false) };
                self.joined(minus, in_join)
            }
            GraphPattern::Filter { expr, inner } => {
                GraphPattern::Filter { expr: self.guarded(expr), inner: self.boxed(*inner, false) }
            }
            GraphPattern::Union { left, right } => {
                GraphPattern::Union { left: self.boxed(*left, false), right: self.boxed(*right, false) }
            }
            GraphPattern::Graph { name, inner } => GraphPattern::Graph { name, inner: self.boxed(*inner, false) },
            GraphPattern::Extend { inner, variable, expression } => GraphPattern::Extend {
                inner: self.boxed(*inner, false),
                variable,
                expression: self.expression(expression),
            },
            GraphPattern::OrderBy { inner, expression } => GraphPattern::OrderBy {
                inner: self.boxed(*inner, false),
                expression: expression.into_iter().map(|e| self.order(e)).collect(),
            },
            GraphPattern::Project { inner, variables } => {
                GraphPattern::Project { inner: self.boxed(*inner, false), variables }
            }
            GraphPattern::Distinct { inner } => GraphPattern::Distinct { inner: self.boxed(*inner, false) },
            GraphPattern::Reduced { inner } => GraphPattern::Reduced { inner: self.boxed(*inner, false) },
            GraphPattern::Slice { inner, start, length } => {
                GraphPattern::Slice { inner: self.boxed(*inner, false), start, length }
            }
            GraphPattern::Group { inner, variables, aggregates } => GraphPattern::Group {
                inner: self.boxed(*inner, false),
                variables,
                aggregates: aggregates.into_iter().map(|(v, a)| (v, self.aggregate(a))).collect(),
            },
            GraphPattern::Service { name, inner, silent } => self.service(name, *inner, silent),
            leaf => leaf,
        }
    }

    /// A join tree gets one checkpoint, above its root.
    fn joined(&mut self, join: GraphPattern, in_join: bool) -> GraphPattern {
        if in_join {
            join
        } else {
            self.bind(join)
        }
    }

    fn order(&mut self, order: OrderExpression) -> OrderExpression {
        match order {
            OrderExpression::Asc(e) => OrderExpression::Asc(self.expression(e)),
            OrderExpression::Desc(e) => OrderExpression::Desc(self.expression(e)),
        }
    }

    fn aggregate(&mut self, aggregate: AggregateExpression) -> AggregateExpression {
        match aggregate {
            AggregateExpression::FunctionCall { name, expr, distinct } => {
                AggregateExpression::FunctionCall { name, expr: self.expression(expr), distinct }
            }
            count => count,
        }
    }

    /// A `SERVICE` the local answerer knows becomes its answer; any other is
    /// counted and kept.
    fn service(&mut self, name: NamedNodePattern, inner: GraphPattern, silent: bool) -> GraphPattern {
        let answered = match (&name, self.local) {
            (NamedNodePattern::NamedNode(iri), Some(local)) => local(iri, &inner),
            _ => None,
        };
        match answered {
            Some(Ok(values)) => {
                self.substituted += 1;
                return values;
            }
            Some(Err(error)) => {
                self.failed.get_or_insert(error);
            }
            None => {}
        }
        self.services += 1;
        GraphPattern::Service { name, inner: self.boxed(inner, false), silent }
    }

    /// `IF(checkpoint(), e, false)`: `e` evaluated as before, behind a checkpoint.
    /// Each conjunct of `a && b` is guarded on its own, so the optimizer can
    /// still push each to where its variables are bound.
    fn guarded(&mut self, expression: Expression) -> Expression {
        if self.plain {
            return self.expression(expression);
        }
        if let Expression::And(a, b) = expression {
            return Expression::And(Box::new(self.guarded(*a)), Box::new(self.guarded(*b)));
        }
        let inner = self.expression(expression);
        Expression::If(
            Box::new(self.checkpoint()),
            Box::new(inner),
            Box::new(Expression::Literal(spargebra::term::Literal::from(false))),
        )
    }

    /// Rewrites the patterns inside an expression's `EXISTS`.
    fn expression(&mut self, expression: Expression) -> Expression {
        let mut e = |x: Box<Expression>| Box::new(self.expression(*x));
        match expression {
            Expression::Exists(pattern) => Expression::Exists(Box::new(self.pattern(*pattern, false))),
            Expression::Or(a, b) => Expression::Or(e(a), e(b)),
            Expression::And(a, b) => Expression::And(e(a), e(b)),
            Expression::Equal(a, b) => Expression::Equal(e(a), e(b)),
            Expression::SameTerm(a, b) => Expression::SameTerm(e(a), e(b)),
            Expression::Greater(a, b) => Expression::Greater(e(a), e(b)),
            Expression::GreaterOrEqual(a, b) => Expression::GreaterOrEqual(e(a), e(b)),
            Expression::Less(a, b) => Expression::Less(e(a), e(b)),
            Expression::LessOrEqual(a, b) => Expression::LessOrEqual(e(a), e(b)),
            Expression::Add(a, b) => Expression::Add(e(a), e(b)),
            Expression::Subtract(a, b) => Expression::Subtract(e(a), e(b)),
            Expression::Multiply(a, b) => Expression::Multiply(e(a), e(b)),
            Expression::Divide(a, b) => Expression::Divide(e(a), e(b)),
            Expression::UnaryPlus(a) => Expression::UnaryPlus(e(a)),
            Expression::UnaryMinus(a) => Expression::UnaryMinus(e(a)),
            Expression::Not(a) => Expression::Not(e(a)),
            Expression::If(a, b, c) => Expression::If(e(a), e(b), e(c)),
            Expression::In(a, list) => {
                let a = e(a);
                Expression::In(a, list.into_iter().map(|x| self.expression(x)).collect())
            }
            Expression::Coalesce(list) => Expression::Coalesce(list.into_iter().map(|x| self.expression(x)).collect()),
            Expression::FunctionCall(f, args) => {
                if let Function::Custom(name) = &f {
                    self.functions.push(name.clone());
                }
                Expression::FunctionCall(f, args.into_iter().map(|x| self.expression(x)).collect())
            }
            leaf => leaf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> String {
        let text = text.replace("<p>", "<http://p>").replace("<q>", "<http://q>");
        let text = text.as_str();
        query(spargebra::SparqlParser::new().parse_query(text).unwrap()).0.to_sse()
    }

    #[test]
    fn joins_and_filters_get_checkpoints_and_nested_joins_do_not() {
        let sse = rewritten("SELECT * WHERE { ?a <p> ?b . ?c <p> ?d { ?e <p> ?f } FILTER(?a = ?c) }");
        assert_eq!(sse.matches(CHECKPOINT).count(), 2, "one above the join tree, one in the filter: {sse}");
        let sse = rewritten("SELECT * WHERE { ?a <p> ?b }");
        assert!(!sse.contains(CHECKPOINT), "{sse}");
        let sse = rewritten("ASK { ?a <p> ?b FILTER EXISTS { ?a <q> ?c . ?c <q> ?d } }");
        assert_eq!(sse.matches(CHECKPOINT).count(), 2, "{sse}");
    }
}
