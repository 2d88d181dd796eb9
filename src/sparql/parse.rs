//! Parsing SPARQL text: the depth pre-scan first, then Oxigraph's parser, with
//! relative IRIs resolved against a base when one is given.
//!
//! The parser recurses, so these functions must run on the deep-stack pool
//! ([`crate::exec`]); the pre-scan guarantees the recursion fits its stack.

use super::depth::{self, TooDeep};
use spargebra::{Query, SparqlParser, SparqlSyntaxError, Update};

/// Why SPARQL text was refused.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    TooDeep(#[from] TooDeep),
    #[error(transparent)]
    Syntax(#[from] SparqlSyntaxError),
    #[error("{0}")]
    Base(String),
}

fn parser(base: Option<&str>) -> Result<SparqlParser, ParseError> {
    let parser = SparqlParser::new();
    match base {
        Some(base) => parser.with_base_iri(base).map_err(|e| ParseError::Base(format!("bad base IRI {base}: {e}"))),
        None => Ok(parser),
    }
}

/// Parses a query whose structure is at most `max_depth` deep.
pub fn query(text: &str, base: Option<&str>, max_depth: usize) -> Result<Query, ParseError> {
    depth::scan(text, max_depth)?;
    Ok(parser(base)?.parse_query(text)?)
}

/// Parses an update whose structure is at most `max_depth` deep.
pub fn update(text: &str, base: Option<&str>, max_depth: usize) -> Result<Update, ParseError> {
    depth::scan(text, max_depth)?;
    Ok(parser(base)?.parse_update(text)?)
}
