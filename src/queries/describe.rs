//! The catalogue as RDF, so semantic-web tools can discover and call saved
//! queries: a `dcat:Catalog` of `dcat:DataService`s, each also a SHACL-AF SPARQL
//! executable (`sh:select`/`sh:construct`/`sh:ask`) whose parameters are
//! described with `sh:parameter` (datatype or class, optional, default, allowed values).

use super::params::ParamType;
use super::Catalogue;
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
    let mut g = Graph::new();
    let mut add = |s: &NamedOrBlankNode, p: NamedNode, o: Term| {
        g.insert(&Triple::new(s.clone(), p, o));
    };
    let catalog: NamedOrBlankNode = NamedNode::new_unchecked(format!("{base}/queries")).into();
    add(&catalog, iri(RDF, "type"), iri(DCAT, "Catalog").into());
    add(
        &catalog,
        iri(DCTERMS, "title"),
        Literal::new_language_tagged_literal_unchecked("treaty-kg saved queries", "en").into(),
    );
    add(&catalog, iri(DCAT, "endpointDescription"), NamedNode::new_unchecked(format!("{base}/openapi.json")).into());
    for query in catalogue.iter() {
        let url = NamedNode::new_unchecked(format!("{base}/queries/{}", query.name));
        let s: NamedOrBlankNode = url.clone().into();
        add(&catalog, iri(DCAT, "service"), url.clone().into());
        add(&s, iri(RDF, "type"), iri(DCAT, "DataService").into());
        let (executable, text_property) = match query.form() {
            "SELECT" => ("SPARQLSelectExecutable", "select"),
            "ASK" => ("SPARQLAskExecutable", "ask"),
            "CONSTRUCT" => ("SPARQLConstructExecutable", "construct"),
            _ => ("SPARQLExecutable", "describe"),
        };
        add(&s, iri(RDF, "type"), iri(SH, executable).into());
        add(&s, iri(DCTERMS, "identifier"), Literal::new_simple_literal(&query.name).into());
        add(&s, iri(DCTERMS, "title"), Literal::new_language_tagged_literal_unchecked(&query.summary, "en").into());
        if !query.description.is_empty() {
            add(
                &s,
                iri(DCTERMS, "description"),
                Literal::new_language_tagged_literal_unchecked(&query.description, "en").into(),
            );
        }
        for tag in &query.tags {
            add(&s, iri(DCAT, "keyword"), Literal::new_simple_literal(tag).into());
        }
        add(&s, iri(DCAT, "endpointURL"), url.clone().into());
        add(&s, iri(DCAT, "endpointDescription"), NamedNode::new_unchecked(format!("{base}/openapi.json")).into());
        add(&s, iri(OWL, "versionInfo"), Literal::new_simple_literal(&query.version).into());
        add(&s, iri(SH, text_property), Literal::new_simple_literal(&query.source).into());
        for param in &query.params {
            let node: NamedOrBlankNode = BlankNode::default().into();
            add(&s, iri(SH, "parameter"), node.clone().into());
            add(&node, iri(RDF, "type"), iri(SH, "Parameter").into());
            add(&node, iri(SH, "path"), NamedNode::new_unchecked(format!("{}#{}", url.as_str(), param.name)).into());
            add(&node, iri(SH, "name"), Literal::new_simple_literal(&param.name).into());
            if !param.description.is_empty() {
                add(&node, iri(SH, "description"), Literal::new_simple_literal(&param.description).into());
            }
            match &param.kind {
                ParamType::Iri { class } => {
                    add(&node, iri(SH, "nodeKind"), iri(SH, "IRI").into());
                    if let Some(class) = class {
                        add(&node, iri(SH, "class"), class.clone().into());
                    }
                }
                ParamType::Literal { datatype } => add(&node, iri(SH, "datatype"), datatype.clone().into()),
            }
            add(&node, iri(SH, "optional"), Literal::from(!param.required).into());
            if let Some(default) = param.default.as_deref().and_then(|d| param.kind.term(d).ok()) {
                add(&node, iri(SH, "defaultValue"), default);
            }
            if let Some(values) = &param.values {
                let terms: Vec<Term> = values.iter().filter_map(|v| param.kind.term(v).ok()).collect();
                let mut list: Term = iri(RDF, "nil").into();
                for term in terms.into_iter().rev() {
                    let cell: NamedOrBlankNode = BlankNode::default().into();
                    add(&cell, iri(RDF, "first"), term);
                    add(&cell, iri(RDF, "rest"), list);
                    list = cell.into();
                }
                add(&node, iri(SH, "in"), list);
            }
        }
    }
    g
}
