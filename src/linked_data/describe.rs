//! How a resource is described for its page and its RDF documents, over the
//! store's quad-pattern reader: the statements about it (both directions, every
//! graph), the labels and types of the resources they mention, and the
//! provenance of the graphs they are in (`prov:wasDerivedFrom` and the source's
//! text and title). Runs inside the store's admitted, deadline-bound work.

use crate::store::{QuadReader, StoreError};
use crate::vocab;
use oxigraph::model::{GraphName, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, Term};
use std::collections::HashSet;

const LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const DERIVED_FROM: &str = "http://www.w3.org/ns/prov#wasDerivedFrom";
const TEXT: &str = "https://schema.org/text";

/// At most `limit` statements about `resource`, then the context; says whether
/// the statements were cut.
pub fn describe(reader: &QuadReader<'_>, resource: &NamedNode, limit: usize) -> Result<(Vec<Quad>, bool), StoreError> {
    let r = resource.as_ref();
    let mut statements: Vec<Quad> = Vec::new();
    let mut truncated = false;
    for quad in reader.quads(Some(r.into()), None, None, None).chain(reader.quads(None, None, Some(r.into()), None)) {
        if statements.len() >= limit {
            truncated = true;
            break;
        }
        statements.push(quad?);
    }
    let label = NamedNodeRef::new_unchecked(LABEL);
    let rdf_type = NamedNodeRef::new_unchecked(vocab::RDF_TYPE);
    let derived = NamedNodeRef::new_unchecked(DERIVED_FROM);
    let text = NamedNodeRef::new_unchecked(TEXT);
    let mut neighbours: Vec<NamedOrBlankNode> = Vec::new();
    let mut graphs: Vec<NamedOrBlankNode> = Vec::new();
    for q in &statements {
        neighbours.push(q.subject.clone());
        neighbours.push(q.predicate.clone().into());
        if let Term::NamedNode(n) = &q.object {
            neighbours.push(n.clone().into());
        }
        if let GraphName::NamedNode(g) = &q.graph_name {
            graphs.push(g.clone().into());
        }
    }
    let mut seen = HashSet::new();
    neighbours.retain(|n| seen.insert(n.clone()));
    let mut seen = HashSet::new();
    graphs.retain(|g| seen.insert(g.clone()));
    let mut context: Vec<Quad> = Vec::new();
    for n in neighbours.iter().filter(|n| n.as_ref() != r.into()) {
        for p in [label, rdf_type] {
            for q in reader.quads(Some(n.as_ref()), Some(p), None, None).take(16) {
                context.push(q?);
            }
        }
    }
    for g in &graphs {
        for q in reader.quads(Some(g.as_ref()), Some(derived), None, None).take(16) {
            let q = q?;
            if let Term::NamedNode(source) = &q.object {
                for p in [text, label] {
                    for t in reader.quads(Some(source.as_ref().into()), Some(p), None, None).take(1) {
                        context.push(t?);
                    }
                }
            }
            context.push(q);
        }
    }
    statements.extend(context);
    Ok((statements, truncated))
}
