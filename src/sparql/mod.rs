//! The SPARQL 1.1 Protocol boundary: request rules (`protocol`), result
//! serialization (`results`), the service description (`service_description`)
//! and binding values into parsed queries (`bind`).
//! Nothing here touches the store; `http::sparql` wires these to `store`.

pub mod antijoin;
pub mod bind;
pub mod checkpoints;
pub mod depth;
pub mod parse;
pub mod protocol;
pub mod results;
pub mod service_description;
pub mod template;

use spargebra::algebra::GraphPattern;
use spargebra::Query;

/// `query` with its `WHERE` pattern replaced by `f` of it, whatever its form.
pub fn with_pattern(query: Query, f: impl FnOnce(GraphPattern) -> GraphPattern) -> Query {
    match query {
        Query::Select { dataset, pattern, base_iri } => Query::Select { dataset, pattern: f(pattern), base_iri },
        Query::Construct { template, dataset, pattern, base_iri } => {
            Query::Construct { template, dataset, pattern: f(pattern), base_iri }
        }
        Query::Describe { dataset, pattern, base_iri } => Query::Describe { dataset, pattern: f(pattern), base_iri },
        Query::Ask { dataset, pattern, base_iri } => Query::Ask { dataset, pattern: f(pattern), base_iri },
    }
}

/// Calls `f` with `pattern` and every graph pattern inside it, outermost first
/// (`SERVICE` patterns included).
pub fn visit(pattern: &GraphPattern, f: &mut dyn FnMut(&GraphPattern)) {
    f(pattern);
    match pattern {
        GraphPattern::Join { left, right }
        | GraphPattern::LeftJoin { left, right, .. }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right }
        | GraphPattern::Lateral { left, right } => {
            visit(left, f);
            visit(right, f);
        }
        GraphPattern::Filter { inner, .. }
        | GraphPattern::Graph { inner, .. }
        | GraphPattern::Extend { inner, .. }
        | GraphPattern::OrderBy { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::Group { inner, .. }
        | GraphPattern::Service { inner, .. } => visit(inner, f),
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } | GraphPattern::Values { .. } => {}
    }
}
