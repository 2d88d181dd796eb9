//! The linked-data document of one resource, built from `KgStore::describe`:
//! its statements (both directions, with the graph each is in), the labels and
//! types of everything they mention, and where each graph comes from.

use crate::vocab;
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term, Triple};
use std::collections::{BTreeMap, BTreeSet};

const LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const DERIVED: &str = "http://www.w3.org/ns/prov#wasDerivedFrom";
const TEXT: &str = "https://schema.org/text";

/// A resource and what the store says about it.
pub struct ResourceDoc {
    pub iri: NamedNode,
    /// Statements with the resource as subject or object, each with its graph.
    pub statements: Vec<Quad>,
    /// Labels and types of neighbours, provenance of graphs.
    pub context: Vec<Quad>,
    /// The statements were cut at the server's limit.
    pub truncated: bool,
    /// Properties with more values than shown (pages only).
    pub more: Vec<super::describe::More>,
}

/// Where a statement comes from, as people read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub graph: String,
    pub source: Option<String>,
    /// The source sentence's text, or the source's label.
    pub text: Option<String>,
}

impl ResourceDoc {
    pub fn new(iri: NamedNode, described: super::describe::Described) -> Self {
        let (statements, context) = described
            .quads
            .into_iter()
            .partition(|q: &Quad| q.subject.as_ref() == iri.as_ref().into() || q.object == Term::from(iri.clone()));
        ResourceDoc { iri, statements, context, truncated: described.truncated, more: described.more }
    }

    pub fn exists(&self) -> bool {
        !self.statements.is_empty()
    }

    /// A person-readable label for any IRI: its rdfs:label (English or untagged
    /// first), else its local name.
    pub fn label_of(&self, iri: &str) -> String {
        let mut best: Option<(u8, String)> = None;
        for q in self.statements.iter().chain(&self.context) {
            if q.predicate.as_str() == LABEL
                && matches!(&q.subject, NamedOrBlankNode::NamedNode(n) if n.as_str() == iri)
            {
                if let Term::Literal(l) = &q.object {
                    let rank = match l.language() {
                        Some("en") => 0,
                        None => 1,
                        Some(_) => 2,
                    };
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        best = Some((rank, l.value().to_owned()));
                    }
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or_else(|| local_name(iri))
    }

    /// The provenance of each graph the statements are in.
    pub fn sources(&self) -> BTreeMap<String, Source> {
        let mut sources = BTreeMap::new();
        for q in &self.statements {
            if let GraphName::NamedNode(g) = &q.graph_name {
                sources.entry(g.as_str().to_owned()).or_insert_with(|| {
                    let source = self
                        .context
                        .iter()
                        .find(|c| {
                            c.predicate.as_str() == DERIVED
                                && matches!(&c.subject, NamedOrBlankNode::NamedNode(n) if n == g)
                        })
                        .and_then(|c| match &c.object {
                            Term::NamedNode(n) => Some(n.as_str().to_owned()),
                            _ => None,
                        });
                    let text = source.as_deref().and_then(|s| {
                        self.context
                            .iter()
                            .find(|c| {
                                (c.predicate.as_str() == TEXT || c.predicate.as_str() == LABEL)
                                    && matches!(&c.subject, NamedOrBlankNode::NamedNode(n) if n.as_str() == s)
                            })
                            .and_then(|c| match &c.object {
                                Term::Literal(l) => Some(l.value().to_owned()),
                                _ => None,
                            })
                    });
                    Source { graph: g.as_str().to_owned(), source, text }
                });
            }
        }
        sources
    }

    /// The document as triples: statements, context, and one derived
    /// `tkg:assertedIn` per graph the resource is stated in.
    pub fn triples(&self) -> Vec<Triple> {
        let mut set: BTreeSet<String> = BTreeSet::new();
        let mut triples = Vec::new();
        let mut push = |t: Triple| {
            if set.insert(t.to_string()) {
                triples.push(t);
            }
        };
        for q in self.statements.iter().chain(&self.context) {
            push(Triple::new(q.subject.clone(), q.predicate.clone(), q.object.clone()));
        }
        let asserted_in = NamedNode::new_unchecked(vocab::ASSERTED_IN);
        for graph in self.sources().keys() {
            push(Triple::new(self.iri.clone(), asserted_in.clone(), NamedNode::new_unchecked(graph.clone())));
        }
        triples
    }

    /// The document as quads: every statement in the graph it is asserted in.
    pub fn quads(&self) -> Vec<Quad> {
        let mut seen = BTreeSet::new();
        self.statements.iter().chain(&self.context).filter(|q| seen.insert(q.to_string())).cloned().collect()
    }
}

/// The last segment of an IRI (after `#` or `/`).
pub fn local_name(iri: &str) -> String {
    iri.rsplit(['#', '/']).find(|s| !s.is_empty()).unwrap_or(iri).to_owned()
}
