//! The catalogue as RDF, so semantic-web tools can discover and call saved
//! queries: a `dcat:Catalog` of `dcat:DataService`s, each also a SHACL-AF SPARQL
//! executable (`sh:select`/`sh:construct`/`sh:ask`) whose parameters are
//! described with `sh:parameter` (datatype or class, optional, default, allowed values).

use super::params::{Param, ParamType};
use super::{Catalogue, SavedQuery};
use oxigraph::model::{BlankNode, Graph, Literal, NamedNode, NamedOrBlankNode, Term, Triple};

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCTERMS: &str = "http://purl.org/dc/terms/";
const SH: &str = "http://www.w3.org/ns/shacl#";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const OWL: &str = "http://www.w3.org/2002/07/owl#";

fn iri(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

/// Describes `catalogue` as served from `base` (the server's public URL).
pub fn describe(catalogue: &Catalogue, base: &str) -> Graph {
    let mut out = Out(Graph::new());
    let catalog: NamedOrBlankNode = NamedNode::new_unchecked(format!("{base}/queries")).into();
    out.add(&catalog, iri(RDF, "type"), iri(DCAT, "Catalog").into());
    out.add(&catalog, iri(DCTERMS, "title"), english("treaty-kg saved queries"));
    out.add(
        &catalog,
        iri(DCAT, "endpointDescription"),
        NamedNode::new_unchecked(format!("{base}/openapi.json")).into(),
    );
    for query in catalogue.iter() {
        let url = NamedNode::new_unchecked(format!("{base}/queries/{}", query.name));
        out.add(&catalog, iri(DCAT, "service"), url.clone().into());
        out.service(query, &url, base);
    }
    out.0
}

fn english(text: &str) -> Term {
    Literal::new_language_tagged_literal_unchecked(text, "en").into()
}

/// The graph being written.
struct Out(Graph);

impl Out {
    fn add(&mut self, subject: &NamedOrBlankNode, predicate: NamedNode, object: Term) {
        self.0.insert(&Triple::new(subject.clone(), predicate, object));
    }

    /// One saved query, at `url`: a data service and a SHACL executable.
    fn service(&mut self, query: &SavedQuery, url: &NamedNode, base: &str) {
        let s: NamedOrBlankNode = url.clone().into();
        self.add(&s, iri(RDF, "type"), iri(DCAT, "DataService").into());
        let (executable, text_property) = match query.form() {
            "SELECT" => ("SPARQLSelectExecutable", "select"),
            "ASK" => ("SPARQLAskExecutable", "ask"),
            "CONSTRUCT" => ("SPARQLConstructExecutable", "construct"),
            _ => ("SPARQLExecutable", "describe"),
        };
        self.add(&s, iri(RDF, "type"), iri(SH, executable).into());
        self.add(&s, iri(DCTERMS, "identifier"), Literal::new_simple_literal(&query.name).into());
        self.add(&s, iri(DCTERMS, "title"), english(&query.summary));
        if !query.description.is_empty() {
            self.add(&s, iri(DCTERMS, "description"), english(&query.description));
        }
        for tag in &query.tags {
            self.add(&s, iri(DCAT, "keyword"), Literal::new_simple_literal(tag).into());
        }
        self.add(&s, iri(DCAT, "endpointURL"), url.clone().into());
        self.add(&s, iri(DCAT, "endpointDescription"), NamedNode::new_unchecked(format!("{base}/openapi.json")).into());
        self.add(&s, iri(OWL, "versionInfo"), Literal::new_simple_literal(&query.version).into());
        self.add(&s, iri(SH, text_property), Literal::new_simple_literal(&query.source).into());
        for param in &query.params {
            let node: NamedOrBlankNode = BlankNode::default().into();
            self.add(&s, iri(SH, "parameter"), node.clone().into());
            self.parameter(&node, param, url);
        }
    }

    /// A parameter as `sh:Parameter`: its path, kind, whether it is optional,
    /// its default and the values it allows.
    fn parameter(&mut self, node: &NamedOrBlankNode, param: &Param, url: &NamedNode) {
        self.add(node, iri(RDF, "type"), iri(SH, "Parameter").into());
        self.add(node, iri(SH, "path"), NamedNode::new_unchecked(format!("{}#{}", url.as_str(), param.name)).into());
        self.add(node, iri(SH, "name"), Literal::new_simple_literal(&param.name).into());
        if !param.description.is_empty() {
            self.add(node, iri(SH, "description"), Literal::new_simple_literal(&param.description).into());
        }
        match &param.kind {
            ParamType::Iri { class } => {
                self.add(node, iri(SH, "nodeKind"), iri(SH, "IRI").into());
                if let Some(class) = class {
                    self.add(node, iri(SH, "class"), class.clone().into());
                }
            }
            ParamType::Literal { datatype } => self.add(node, iri(SH, "datatype"), datatype.clone().into()),
        }
        self.add(node, iri(SH, "optional"), Literal::from(!param.required).into());
        if let Some(default) = param.default.as_deref().and_then(|d| param.kind.term(d).ok()) {
            self.add(node, iri(SH, "defaultValue"), default);
        }
        if let Some(values) = &param.values {
            let terms: Vec<Term> = values.iter().filter_map(|v| param.kind.term(v).ok()).collect();
            let list = self.list(terms);
            self.add(node, iri(SH, "in"), list);
        }
    }

    /// An RDF list of `terms`.
    fn list(&mut self, terms: Vec<Term>) -> Term {
        let mut list: Term = iri(RDF, "nil").into();
        for term in terms.into_iter().rev() {
            let cell: NamedOrBlankNode = BlankNode::default().into();
            self.add(&cell, iri(RDF, "first"), term);
            self.add(&cell, iri(RDF, "rest"), list);
            list = cell.into();
        }
        list
    }
}
