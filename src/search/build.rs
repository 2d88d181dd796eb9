//! Building the index from the store: one pass over every quad, in whatever
//! order the backend gives them (an engine's own, over `--remote`), a document
//! per run of quads with one subject in one graph.

use super::schema::{key, Fields};
use crate::inference::INFERRED_GRAPH;
use crate::store::{KgStore, QuadReader, StoreError};
use oxigraph::model::{GraphName, NamedNodeRef, NamedOrBlankNode, Quad, Term};
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

/// What each graph (or each of `only`) was derived from (a sentence, a web
/// page) and its text: the sentence's `schema:text`, else the graph's own label.
/// Read as two predicate scans and a lookup per graph without a sentence, not a
/// SPARQL join, which took ten times as long; each scan projects
/// only subjects and objects (see [`crate::store::QuadReader::subjects_and_objects`]).
pub async fn graph_sources(
    store: &KgStore,
    only: Option<&[String]>,
) -> Result<HashMap<String, (String, String)>, StoreError> {
    let only = only.map(<[String]>::to_vec);
    store
        .scan("search index: graph sources", move |reader| {
            let derivations = derivations(reader, only.as_deref())?;
            // The sources' texts: one scan of schema:text when there are many.
            let texts = if only.is_none() { texts(reader, &derivations)? } else { HashMap::new() };
            let mut sources = HashMap::new();
            for (g, source) in derivations {
                let text = match texts.get(&source).cloned() {
                    Some(text) => text,
                    None if only.is_some() => match first_text(reader, &source, TEXT)? {
                        Some(text) => text,
                        None => first_text(reader, &g, LABELS[0])?.unwrap_or_default(),
                    },
                    None => first_text(reader, &g, LABELS[0])?.unwrap_or_default(),
                };
                sources.entry(g).or_insert((source, text));
            }
            Ok(sources)
        })
        .await
}

/// The first literal `subject` has for `predicate`.
fn first_text(reader: &QuadReader<'_>, subject: &str, predicate: &str) -> Result<Option<String>, StoreError> {
    let subject = NamedNodeRef::new_unchecked(subject).into();
    for quad in reader.quads(Some(subject), Some(NamedNodeRef::new_unchecked(predicate)), None, None) {
        if let Term::Literal(l) = quad?.object {
            return Ok(Some(l.value().to_owned()));
        }
    }
    Ok(None)
}

/// Each graph (or each of `only`) and the source it was derived from.
fn derivations(reader: &QuadReader<'_>, only: Option<&[String]>) -> Result<Vec<(String, String)>, StoreError> {
    let derived = NamedNodeRef::new_unchecked(DERIVED_FROM);
    let mut derivations: Vec<(String, String)> = Vec::new();
    let mut see = |subject: NamedOrBlankNode, object: Term| {
        if let (NamedOrBlankNode::NamedNode(g), Term::NamedNode(source)) = (subject, object) {
            derivations.push((g.into_string(), source.into_string()));
        }
    };
    match only {
        Some(graphs) => {
            for g in graphs {
                let subject = NamedNodeRef::new_unchecked(g);
                for quad in reader.quads(Some(subject.into()), Some(derived), None, None).take(1) {
                    let quad = quad?;
                    see(quad.subject, quad.object);
                }
            }
        }
        None => {
            for pair in reader.subjects_and_objects(derived) {
                let (subject, object) = pair?;
                see(subject, object);
            }
        }
    }
    Ok(derivations)
}

/// The `schema:text` of every source in `derivations`, in one scan.
fn texts(reader: &QuadReader<'_>, derivations: &[(String, String)]) -> Result<HashMap<String, String>, StoreError> {
    let wanted: std::collections::HashSet<&str> = derivations.iter().map(|(_, s)| s.as_str()).collect();
    let mut texts: HashMap<String, String> = HashMap::new();
    for pair in reader.subjects_and_objects(NamedNodeRef::new_unchecked(TEXT)) {
        let (subject, object) = pair?;
        if let (NamedOrBlankNode::NamedNode(s), Term::Literal(l)) = (&subject, &object) {
            if wanted.contains(s.as_str()) {
                texts.entry(s.as_str().to_owned()).or_insert_with(|| l.value().to_owned());
            }
        }
    }
    Ok(texts)
}

/// The document being gathered for one subject in one graph.
#[derive(Default)]
struct Gathered {
    labels: Vec<String>,
    alts: Vec<String>,
    texts: Vec<String>,
    types: Vec<String>,
}

impl Gathered {
    fn see(&mut self, quad: &Quad) {
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

/// Adds the documents of every quad `quads` yields to `writer`; returns how many.
pub fn add_documents(
    quads: impl Iterator<Item = Result<Quad, StoreError>>,
    sources: &HashMap<String, (String, String)>,
    fields: Fields,
    writer: &IndexWriter,
) -> Result<u64, StoreError> {
    let mut current: Option<(NamedOrBlankNode, GraphName)> = None;
    let mut gathered = Gathered::default();
    let mut batch: Vec<UserOperation> = Vec::with_capacity(BATCH);
    let mut added = 0;
    for quad in quads {
        let quad = quad?;
        if matches!(&quad.graph_name, GraphName::NamedNode(g) if g.as_str() == INFERRED_GRAPH) {
            continue;
        }
        let same = current.as_ref().is_some_and(|(s, g)| *s == quad.subject && *g == quad.graph_name);
        if !same {
            if let Some((subject, graph)) = current.take() {
                if let Some(doc) = document(&subject, &graph, std::mem::take(&mut gathered), sources, fields) {
                    batch.push(UserOperation::Add(doc));
                    added += 1;
                    if batch.len() == BATCH {
                        hand_over(&mut batch, writer)?;
                    }
                }
            }
            current = Some((quad.subject.clone(), quad.graph_name.clone()));
        }
        gathered.see(&quad);
    }
    if let Some((subject, graph)) = current {
        if let Some(doc) = document(&subject, &graph, gathered, sources, fields) {
            batch.push(UserOperation::Add(doc));
            added += 1;
        }
    }
    hand_over(&mut batch, writer)?;
    Ok(added)
}

/// Gives the batched documents to the writer, in their order.
fn hand_over(batch: &mut Vec<UserOperation>, writer: &IndexWriter) -> Result<(), StoreError> {
    if !batch.is_empty() {
        writer
            .run(batch.drain(..))
            .map_err(|e| StoreError::io("writing the search index", std::io::Error::other(e)))?;
    }
    Ok(())
}

/// The document of `subject` in `graph`, when it has something to find it by.
fn document(
    subject: &NamedOrBlankNode,
    graph: &GraphName,
    gathered: Gathered,
    sources: &HashMap<String, (String, String)>,
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
    if let GraphName::NamedNode(g) = graph {
        if let Some((source, text)) = sources.get(g.as_str()) {
            doc.add_text(f.source, source);
            doc.add_text(f.source_text, text);
        }
    }
    Some(doc)
}
