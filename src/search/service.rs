//! Search from SPARQL: `SERVICE <https://w3id.org/treaty-kg/search> { … }`,
//! answered in this process on either backend (the pattern becomes a `VALUES`
//! block of the hits before evaluation), the way Fuseki and Stardog offer
//! text predicates:
//!
//! ```sparql
//! PREFIX search: <https://w3id.org/treaty-kg/search#>
//! SELECT ?quote ?score WHERE {
//!   SERVICE <https://w3id.org/treaty-kg/search> {
//!     ?quote search:query "explosives" ; search:score ?score ; search:limit 10 .
//!   }
//!   ?quote a <https://schema.org/Quotation> .
//! }
//! ```
//!
//! One subject (the hit), `search:query` with a literal (or a variable a saved
//! query binds), optionally `search:limit` and `search:offset`, and variables
//! for what to return: `search:score`, `search:label`, `search:snippet`,
//! `search:type`, `search:source`, `search:sourceText`.

use super::{SearchError, SearchIndex, NS, SERVICE};
use crate::sparql::checkpoints::ServiceError;
use oxigraph::model::{Literal, NamedNode, Term, Variable};
use spargebra::algebra::GraphPattern;
use spargebra::term::{GroundTerm, NamedNodePattern, TermPattern, TriplePattern};
use std::sync::Arc;

/// The most hits one `SERVICE` call returns.
pub const MAX_HITS: usize = 1000;
/// Hits returned when `search:limit` is not given.
const DEFAULT_HITS: usize = 100;

/// The search index as an in-process SPARQL service.
pub struct SearchService(pub Arc<SearchIndex>);

/// What the pattern asks for.
struct Request {
    hit: Option<Variable>,
    text: Option<String>,
    limit: usize,
    offset: usize,
    outputs: Vec<(String, Variable)>,
}

const OUTPUTS: &[&str] = &["score", "label", "snippet", "type", "source", "sourceText"];

fn number(term: &TermPattern, name: &str) -> Result<usize, ServiceError> {
    match term {
        TermPattern::Literal(l) => {
            l.value().parse().map_err(|_| ServiceError::Request(format!("search:{name} takes a whole number, not {l}")))
        }
        other => Err(ServiceError::Request(format!("search:{name} takes a whole number, not {other}"))),
    }
}

fn request(pattern: &GraphPattern, bindings: &[(Variable, Term)]) -> Result<Request, ServiceError> {
    let GraphPattern::Bgp { patterns } = pattern else {
        return Err(ServiceError::Request(format!(
            "SERVICE <{SERVICE}> takes triple patterns about one hit only (no FILTER, OPTIONAL or groups)"
        )));
    };
    let mut request = Request { hit: None, text: None, limit: DEFAULT_HITS, offset: 0, outputs: Vec::new() };
    let mut subject: Option<&TermPattern> = None;
    for TriplePattern { subject: s, predicate, object } in patterns {
        if subject.is_some_and(|first| first != s) {
            return Err(ServiceError::Request(format!(
                "SERVICE <{SERVICE}>: every triple pattern has the same subject, the hit"
            )));
        }
        subject = Some(s);
        let NamedNodePattern::NamedNode(p) = predicate else {
            return Err(ServiceError::Request(format!(
                "SERVICE <{SERVICE}>: predicates are terms of <{NS}>, not variables"
            )));
        };
        let Some(name) = p.as_str().strip_prefix(NS) else {
            return Err(ServiceError::Request(format!("SERVICE <{SERVICE}>: <{p}> is not a term of <{NS}>")));
        };
        match (name, object) {
            ("query", TermPattern::Literal(l)) => request.text = Some(l.value().to_owned()),
            ("query", TermPattern::Variable(v)) => {
                let bound = bindings.iter().find(|(b, _)| b == v).map(|(_, t)| t);
                match bound {
                    Some(Term::Literal(l)) => request.text = Some(l.value().to_owned()),
                    _ => return Err(ServiceError::Request(format!("search:query takes a literal text, or a variable bound by a saved query's parameter; ?{} is not bound here", v.as_str()))),
                }
            }
            ("limit", o) => request.limit = number(o, "limit")?.min(MAX_HITS),
            ("offset", o) => request.offset = number(o, "offset")?,
            (name, TermPattern::Variable(v)) if OUTPUTS.contains(&name) => {
                request.outputs.push((name.to_owned(), v.clone()))
            }
            (name, _) if OUTPUTS.contains(&name) => {
                return Err(ServiceError::Request(format!("search:{name} takes a variable")))
            }
            (name, _) => {
                return Err(ServiceError::Request(format!(
                    "search:{name} is not a term of the search service; it knows query, limit, offset, {}",
                    OUTPUTS.join(", ")
                )))
            }
        }
    }
    request.hit = match subject {
        Some(TermPattern::Variable(v)) => Some(v.clone()),
        Some(TermPattern::BlankNode(_)) | None => None,
        Some(other) => {
            return Err(ServiceError::Request(format!(
                "SERVICE <{SERVICE}>: the subject is the hit, a variable, not {other}"
            )))
        }
    };
    Ok(request)
}

impl crate::store::InProcessService for SearchService {
    fn answers(&self, iri: &str) -> bool {
        iri == SERVICE
    }

    fn solve(
        &self,
        pattern: &GraphPattern,
        bindings: &[(Variable, Term)],
        reader: &crate::store::QuadReader<'_>,
    ) -> Result<GraphPattern, ServiceError> {
        let request = request(pattern, bindings)?;
        let text =
            request.text.ok_or_else(|| ServiceError::Request(format!("SERVICE <{SERVICE}> needs search:query")))?;
        // The sources are read only when the pattern asks for them.
        let sources = request.outputs.iter().any(|(name, _)| name.starts_with("source")).then_some(reader);
        let (_, hits) = self.0.search_now(&text, request.offset, request.limit, sources).map_err(|e| match e {
            SearchError::BadRequest(message) => ServiceError::Request(message),
            SearchError::NotReady => ServiceError::Busy("the search index is being built; try again shortly"),
            other => ServiceError::Failed(Box::new(other)),
        })?;
        let mut variables: Vec<Variable> = request.hit.iter().cloned().collect();
        variables.extend(request.outputs.iter().map(|(_, v)| v.clone()));
        let rows = hits
            .into_iter()
            .map(|hit| {
                let mut row: Vec<Option<GroundTerm>> = Vec::new();
                if request.hit.is_some() {
                    row.push(Some(GroundTerm::NamedNode(NamedNode::new_unchecked(hit.iri.clone()))));
                }
                for (name, _) in &request.outputs {
                    row.push(match name.as_str() {
                        "score" => Some(GroundTerm::Literal(Literal::from(f64::from(hit.score)))),
                        "label" => Some(GroundTerm::Literal(Literal::new_simple_literal(&hit.label))),
                        "snippet" => Some(GroundTerm::Literal(Literal::new_simple_literal(&hit.snippet.text))),
                        "type" => hit.types.first().map(|t| GroundTerm::NamedNode(NamedNode::new_unchecked(t.clone()))),
                        "source" => {
                            hit.source.as_ref().map(|(s, _)| GroundTerm::NamedNode(NamedNode::new_unchecked(s.clone())))
                        }
                        _ => hit.source.as_ref().map(|(_, t)| GroundTerm::Literal(Literal::new_simple_literal(t))),
                    });
                }
                row
            })
            .collect();
        Ok(GraphPattern::Values { variables, bindings: rows })
    }
}
