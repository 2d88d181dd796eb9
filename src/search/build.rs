//! Building the index from the store: one pass over every quad, in whatever
//! order the backend gives them (an engine's own, over `--remote`), a document
//! per run of quads with one subject in one graph; and the sources of the
//! graphs a page of hits comes from, read when the page is shown.

use super::schema::{key, Fields};
use crate::inference::INFERRED_GRAPH;
use crate::store::{QuadReader, StoreError};
use oxigraph::model::{GraphName, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, Term};
use std::collections::HashMap;
use tantivy::indexer::UserOperation;
use tantivy::{IndexWriter, TantivyDocument};

/// Predicates whose values are a resource's names.
const LABELS: &[&str] = &[
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "https://schema.org/name",
    "http://xmlns.com/foaf/0.1/name",
    "http://purl.org/dc/terms/title",
    "http://purl.org/dc/elements/1.1/title",
];
/// Predicates whose values are other names of it.
const ALT_LABELS: &[&str] = &[
    "http://www.w3.org/2004/02/skos/core#altLabel",
    "http://www.w3.org/2004/02/skos/core#hiddenLabel",
    "https://schema.org/alternateName",
    "https://schema.org/givenName",
    "https://schema.org/familyName",
    "http://xmlns.com/foaf/0.1/givenName",
    "http://xmlns.com/foaf/0.1/familyName",
];
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const DERIVED_FROM: &str = "http://www.w3.org/ns/prov#wasDerivedFrom";
const TEXT: &str = "https://schema.org/text";
/// The term of the `graph` field for the default graph (no IRI looks like it).
pub const DEFAULT_GRAPH: &str = "default";
/// The term of the `graph` field for `graph` (none for a blank-node graph name).
pub fn graph_term(graph: &GraphName) -> Option<&str> {
    match graph {
        GraphName::NamedNode(g) => Some(g.as_str()),
        GraphName::DefaultGraph => Some(DEFAULT_GRAPH),
        _ => None,
    }
}

/// Longer texts are indexed up to this many bytes (a sentence is ~300).
const MAX_TEXT: usize = 8 * 1024;

/// What each of `graphs` was derived from (a sentence, a web page) and its
/// text: the source's `schema:text`, else the graph's own label.
pub fn sources_of(
    reader: &QuadReader<'_>,
    graphs: &[NamedNode],
) -> Result<HashMap<NamedNode, (String, String)>, StoreError> {
    let derived = reader.first_objects(graphs, NamedNodeRef::new_unchecked(DERIVED_FROM))?;
    let mut sources: Vec<NamedNode> =
        derived.values().filter_map(|t| if let Term::NamedNode(n) = t { Some(n.clone()) } else { None }).collect();
    sources.sort_unstable();
    sources.dedup();
    let texts = reader.first_objects(&sources, NamedNodeRef::new_unchecked(TEXT))?;
    let literal = |t: Option<&Term>| if let Some(Term::Literal(l)) = t { Some(l.value().to_owned()) } else { None };
    let unspoken: Vec<NamedNode> = derived
        .iter()
        .filter(|(_, source)| matches!(source, Term::NamedNode(n) if literal(texts.get(n)).is_none()))
        .map(|(g, _)| g.clone())
        .collect();
    let labels = reader.first_objects(&unspoken, NamedNodeRef::new_unchecked(LABELS[0]))?;
    Ok(derived
        .into_iter()
        .filter_map(|(g, source)| {
            let Term::NamedNode(source) = source else { return None };
            let text = literal(texts.get(&source)).or_else(|| literal(labels.get(&g))).unwrap_or_default();
            Some((g, (source.into_string(), text)))
        })
        .collect())
}

/// Whether `quad` adds to a document: a named subject's text or type,
/// outside the inferred graph.
pub(super) fn matters(quad: &Quad) -> bool {
    let relevant = match &quad.object {
        Term::NamedNode(_) => quad.predicate.as_str() == RDF_TYPE,
        Term::Literal(l) => is_text(l),
        _ => false,
    };
    relevant
        && quad.subject.is_named_node()
        && !matches!(&quad.graph_name, GraphName::NamedNode(g) if g.as_str() == INFERRED_GRAPH)
}

/// The document being gathered for one subject in one graph.
#[derive(Default)]
pub(super) struct Gathered {
    labels: Vec<String>,
    alts: Vec<String>,
    texts: Vec<String>,
    types: Vec<String>,
}

impl Gathered {
    pub(super) fn see(&mut self, quad: &Quad) {
        let p = quad.predicate.as_str();
        match &quad.object {
            Term::NamedNode(t) if p == RDF_TYPE => self.types.push(t.as_str().to_owned()),
            Term::Literal(l) if is_text(l) => {
                let value = truncated(l.value());
                if LABELS.contains(&p) {
                    self.labels.push(value);
                } else if ALT_LABELS.contains(&p) {
                    self.alts.push(value);
                } else {
                    self.texts.push(value);
                }
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.alts.is_empty() && self.texts.is_empty() && self.types.is_empty()
    }
}

fn is_text(literal: &oxigraph::model::Literal) -> bool {
    literal.language().is_some() || literal.datatype().as_str() == "http://www.w3.org/2001/XMLSchema#string"
}

fn truncated(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Documents handed to the index writer at a time. Tantivy passes each hand-off
/// through a channel to its indexing thread, and one document at a time cost the
/// scanning thread a futex wake-up per document (about a tenth of a first build
/// in a profile). The channel holds up to 10,000 hand-offs, so this also
/// bounds what can wait in memory (a sentence-sized document each).
const BATCH: usize = 32;

/// Documents on their way to the index writer, [`BATCH`] at a time, and how
/// many went.
#[derive(Default)]
pub(super) struct Batch {
    operations: Vec<UserOperation>,
    pub(super) added: u64,
}

impl Batch {
    /// Adds `doc`, if there is one; hands the batch over once it is full.
    pub(super) fn add(&mut self, doc: Option<TantivyDocument>, writer: &IndexWriter) -> Result<(), StoreError> {
        let Some(doc) = doc else { return Ok(()) };
        self.operations.push(UserOperation::Add(doc));
        self.added += 1;
        if self.operations.len() >= BATCH {
            self.hand_over(writer)?;
        }
        Ok(())
    }

    /// Gives the batched documents to the writer, in their order.
    pub(super) fn hand_over(&mut self, writer: &IndexWriter) -> Result<(), StoreError> {
        if !self.operations.is_empty() {
            writer
                .run(self.operations.drain(..))
                .map_err(|e| StoreError::io("writing the search index", std::io::Error::other(e)))?;
        }
        Ok(())
    }
}

/// Adds the documents of every quad `quads` yields to `writer`; returns how many.
pub fn add_documents(
    quads: impl Iterator<Item = Result<Quad, StoreError>>,
    fields: Fields,
    writer: &IndexWriter,
) -> Result<u64, StoreError> {
    let mut current: Option<(NamedOrBlankNode, GraphName)> = None;
    let mut gathered = Gathered::default();
    let mut batch = Batch::default();
    for quad in quads {
        let quad = quad?;
        if !matters(&quad) {
            continue;
        }
        let same = current.as_ref().is_some_and(|(s, g)| *s == quad.subject && *g == quad.graph_name);
        if !same {
            if let Some((subject, graph)) = current.take() {
                batch.add(document(&subject, &graph, std::mem::take(&mut gathered), fields), writer)?;
            }
            current = Some((quad.subject.clone(), quad.graph_name.clone()));
        }
        gathered.see(&quad);
    }
    if let Some((subject, graph)) = current {
        batch.add(document(&subject, &graph, gathered, fields), writer)?;
    }
    batch.hand_over(writer)?;
    Ok(batch.added)
}

/// The document of `subject` in `graph`, when it has something to find it by.
pub(super) fn document(
    subject: &NamedOrBlankNode,
    graph: &GraphName,
    gathered: Gathered,
    f: Fields,
) -> Option<TantivyDocument> {
    // Blank nodes have no address a hit could link to.
    let (NamedOrBlankNode::NamedNode(iri), false) = (subject, gathered.is_empty()) else { return None };
    let mut doc = TantivyDocument::default();
    doc.add_text(f.iri, iri.as_str());
    doc.add_u64(f.key, key(iri.as_str()));
    for label in &gathered.labels {
        doc.add_text(f.label, label);
        doc.add_text(f.suggest, label);
        doc.add_text(f.plain, label);
    }
    for alt in &gathered.alts {
        doc.add_text(f.alt, alt);
        doc.add_text(f.suggest, alt);
        doc.add_text(f.plain, alt);
    }
    for text in &gathered.texts {
        doc.add_text(f.text, text);
        doc.add_text(f.plain, text);
    }
    for t in &gathered.types {
        doc.add_text(f.types, t);
    }
    if let Some(term) = graph_term(graph) {
        doc.add_text(f.graph, term);
    }
    Some(doc)
}
