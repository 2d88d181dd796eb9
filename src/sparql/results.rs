//! Serializing query results and graphs into the negotiated format.
//!
//! Pure functions from an Oxigraph result iterator (or quad iterator) to a
//! `Write`: they run on the blocking thread that evaluates the query, writing into
//! the channel that feeds the HTTP body, so nothing is collected in memory.

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::{GraphNameRef, Quad, QuadRef, Triple};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};
use oxigraph::sparql::{
    QueryEvaluationError, QueryResults, QuerySolution, QuerySolutionIter, QueryTripleIter, Variable,
};
use oxigraph::store::StorageError;
use std::io::{self, Write};

/// What a request will be answered with.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    /// SELECT/ASK results in a SPARQL results format.
    Results(QueryResultsFormat),
    /// CONSTRUCT/DESCRIBE graphs in an RDF syntax.
    Rdf(RdfFormat),
}

/// Prefixes written in Turtle, TriG and RDF/XML output, for readability.
pub const PREFIXES: &[(&str, &str)] = &[
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("dcterms", "http://purl.org/dc/terms/"),
    ("prov", "http://www.w3.org/ns/prov#"),
    ("org", "http://www.w3.org/ns/org#"),
    ("schema", "https://schema.org/"),
    ("sd", "http://www.w3.org/ns/sparql-service-description#"),
    ("void", "http://rdfs.org/ns/void#"),
    ("tkg", "https://w3id.org/treaty-kg/ontology#"),
];

/// A query result whose first item has been evaluated, so that errors raised before
/// any output (a timeout, a refused SERVICE) can still be answered with a status.
pub enum Peeked<'a> {
    Boolean(bool),
    Solutions { variables: Vec<Variable>, first: Option<QuerySolution>, rest: QuerySolutionIter<'a> },
    Graph { first: Option<Triple>, rest: QueryTripleIter<'a> },
}

impl<'a> Peeked<'a> {
    pub fn new(results: QueryResults<'a>) -> Result<Self, QueryEvaluationError> {
        Ok(match results {
            QueryResults::Boolean(b) => Peeked::Boolean(b),
            QueryResults::Solutions(mut rest) => {
                let variables = rest.variables().to_vec();
                let first = rest.next().transpose()?;
                Peeked::Solutions { variables, first, rest }
            }
            QueryResults::Graph(mut rest) => {
                let first = rest.next().transpose()?;
                Peeked::Graph { first, rest }
            }
        })
    }
}

fn io_error(e: QueryEvaluationError) -> io::Error {
    io::Error::other(e)
}

/// Writes a peeked result in `format`.
pub fn serialize(peeked: Peeked<'_>, format: OutputFormat, writer: impl Write) -> io::Result<()> {
    serialize_capped(peeked, format, writer, usize::MAX).map(|_truncated| ())
}

/// Writes at most `cap` solutions (or triples) of a peeked result; returns whether
/// more existed (the answer is truncated).
pub fn serialize_capped(peeked: Peeked<'_>, format: OutputFormat, writer: impl Write, cap: usize) -> io::Result<bool> {
    match (peeked, format) {
        (Peeked::Boolean(value), OutputFormat::Results(f)) => {
            QueryResultsSerializer::from_format(f).serialize_boolean_to_writer(writer, value)?;
            Ok(false)
        }
        (Peeked::Solutions { variables, first, rest }, OutputFormat::Results(f)) => {
            let mut serializer =
                QueryResultsSerializer::from_format(f).serialize_solutions_to_writer(writer, variables)?;
            let truncated = write_capped(first, rest, cap, |solution| serializer.serialize(solution))?;
            serializer.finish()?;
            Ok(truncated)
        }
        (Peeked::Graph { first, rest }, OutputFormat::Rdf(f)) => {
            let mut serializer = rdf_serializer(f).for_writer(writer);
            let truncated = write_capped(first, rest, cap, |triple| serializer.serialize_triple(triple))?;
            serializer.finish()?;
            Ok(truncated)
        }
        (_, format) => Err(io::Error::other(format!("{format:?} cannot carry this kind of query result"))),
    }
}

/// Writes `first` and then `rest`, at most `cap` of them; returns whether more existed.
fn write_capped<T>(
    first: Option<T>,
    rest: impl Iterator<Item = Result<T, QueryEvaluationError>>,
    cap: usize,
    mut write: impl FnMut(&T) -> io::Result<()>,
) -> io::Result<bool> {
    for (i, item) in first.into_iter().map(Ok).chain(rest).enumerate() {
        let item = item.map_err(io_error)?;
        if i >= cap {
            return Ok(true);
        }
        write(&item)?;
    }
    Ok(false)
}

/// An RDF serializer with our prefixes where the syntax has them.
pub fn rdf_serializer(format: RdfFormat) -> RdfSerializer {
    PREFIXES.iter().fold(RdfSerializer::from_format(format), |s, (name, iri)| {
        s.with_prefix(*name, *iri).expect("the prefix table holds valid IRIs")
    })
}

/// Writes the triples of one graph (the graph name is dropped, so triple syntaxes work).
pub fn write_graph(
    quads: impl Iterator<Item = Result<Quad, StorageError>>,
    format: RdfFormat,
    writer: impl Write,
) -> io::Result<()> {
    let mut serializer = rdf_serializer(format).for_writer(writer);
    for quad in quads {
        let quad = quad.map_err(io::Error::other)?;
        serializer.serialize_quad(QuadRef::new(
            &quad.subject,
            &quad.predicate,
            &quad.object,
            GraphNameRef::DefaultGraph,
        ))?;
    }
    serializer.finish()?;
    Ok(())
}

/// Writes a whole dataset (a quad syntax is expected; triple syntaxes fail on named graphs).
pub fn write_dataset(
    quads: impl Iterator<Item = Result<Quad, StorageError>>,
    format: RdfFormat,
    writer: impl Write,
) -> io::Result<()> {
    let mut serializer = rdf_serializer(format).for_writer(writer);
    for quad in quads {
        serializer.serialize_quad(&quad.map_err(io::Error::other)?)?;
    }
    serializer.finish()?;
    Ok(())
}
