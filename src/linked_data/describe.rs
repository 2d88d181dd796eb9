//! How a resource is described for its page and its RDF documents, over the
//! store's quad-pattern reader: the statements about it (both directions, every
//! graph), the labels and types of the resources they mention, and the
//! provenance of the graphs they are in (`prov:wasDerivedFrom` and the source's
//! text and title). Runs inside the store's admitted, deadline-bound work.

use crate::store::{QuadReader, StoreError};
use crate::vocab;
use oxigraph::model::{GraphName, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, Term};
use std::collections::{BTreeMap, HashSet};

const LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const DERIVED_FROM: &str = "http://www.w3.org/ns/prov#wasDerivedFrom";
const TEXT: &str = "https://schema.org/text";

/// The most values of one property (in one direction) a page shows; the rest
/// are one link away, as Triple Pattern Fragments (RDF documents are not capped so).
pub const PAGE_PER_PROPERTY: usize = 50;

/// A property with more values (in one direction) than a page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct More {
    pub predicate: NamedNode,
    /// The resource is the object of these statements.
    pub incoming: bool,
    /// How many there are (at least this many when `exact` is false).
    pub total: usize,
    pub exact: bool,
}

/// What describes a resource.
pub struct Described {
    pub quads: Vec<Quad>,
    /// A direction had more statements than `limit`: only the first were read.
    pub truncated: bool,
    /// The properties whose values were capped at `per_property`.
    pub more: Vec<More>,
}

/// The statements about `resource` (reading at most `limit` in each direction),
/// at most `per_property` values of each property and direction when given (a
/// page, as LodView caps hubs), then the context.
pub fn describe(
    reader: &QuadReader<'_>,
    resource: &NamedNode,
    limit: usize,
    per_property: Option<usize>,
) -> Result<Described, StoreError> {
    let r = resource.as_ref();
    let mut statements: Vec<Quad> = Vec::new();
    let mut truncated = false;
    let mut more = Vec::new();
    let directions = [
        (false, reader.quads(Some(r.into()), None, None, None)),
        (true, reader.quads(None, None, Some(r.into()), None)),
    ];
    for (incoming, quads) in directions {
        let mut counts: BTreeMap<NamedNode, usize> = BTreeMap::new();
        let mut exact = true;
        for (read, quad) in quads.enumerate() {
            if read >= limit {
                (truncated, exact) = (true, false);
                break;
            }
            let quad = quad?;
            let n = counts.entry(quad.predicate.clone()).or_default();
            *n += 1;
            if per_property.is_none_or(|cap| *n <= cap) {
                statements.push(quad);
            }
        }
        let cap = per_property.unwrap_or(usize::MAX);
        more.extend(counts.into_iter().filter(|(_, n)| *n > cap).map(|(predicate, total)| More {
            predicate,
            incoming,
            total,
            exact,
        }));
    }
    let context = context(reader, r, &statements)?;
    statements.extend(context);
    Ok(Described { quads: statements, truncated, more })
}

/// The context of `statements`: the labels and types of the resources they
/// mention (but `resource`), and the provenance of the graphs they are in.
fn context(reader: &QuadReader<'_>, resource: NamedNodeRef<'_>, statements: &[Quad]) -> Result<Vec<Quad>, StoreError> {
    let label = NamedNodeRef::new_unchecked(LABEL);
    let rdf_type = NamedNodeRef::new_unchecked(vocab::RDF_TYPE);
    let derived = NamedNodeRef::new_unchecked(DERIVED_FROM);
    let text = NamedNodeRef::new_unchecked(TEXT);
    let (neighbours, graphs) = mentioned(statements);
    let mut context: Vec<Quad> = Vec::new();
    for n in neighbours.iter().filter(|n| n.as_ref() != resource.into()) {
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
    Ok(context)
}

/// The resources `statements` mention (subjects, predicates, IRI objects) and
/// the named graphs they are in, each once, in the order first met.
fn mentioned(statements: &[Quad]) -> (Vec<NamedOrBlankNode>, Vec<NamedOrBlankNode>) {
    let mut neighbours: Vec<NamedOrBlankNode> = Vec::new();
    let mut graphs: Vec<NamedOrBlankNode> = Vec::new();
    for q in statements {
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
    (neighbours, graphs)
}
