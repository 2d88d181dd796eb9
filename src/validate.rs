//! SHACL validation of the repository's RDF with rudof's `shacl_validation`
//! (a native Rust SHACL engine built on the same Oxigraph crates as ours).
//!
//! The data graph validated is the union of the files' triples plus one derived
//! triple per statement, `?s tkg:assertedIn ?g`, naming the named graph it is
//! asserted in. SHACL cannot see named graphs; this is how the shapes can require
//! that every fact-bearing resource is stated in a graph that has provenance.

use crate::sources::{self, SourceFile};
use crate::vocab;
use anyhow::{anyhow, Context};
use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::{GraphName, NamedNodeRef, TripleRef};
use rudof_rdf::rdf_core::RDFFormat;
use rudof_rdf::rdf_impl::{InMemoryGraph, ReaderMode};
use shacl_validation::shacl_processor::{GraphValidation, ShaclProcessor, ShaclValidationMode};
use shacl_validation::store::{Graph, ShaclDataManager};
use std::path::{Path, PathBuf};

/// One SHACL validation result, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub focus: String,
    pub path: Option<String>,
    pub value: Option<String>,
    pub component: String,
    pub shape: Option<String>,
    pub severity: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: focus {}", self.severity, self.focus)?;
        if let Some(path) = &self.path {
            write!(f, ", path {path}")?;
        }
        if let Some(value) = &self.value {
            write!(f, ", value {value}")?;
        }
        write!(f, ", constraint {}", self.component)?;
        if let Some(shape) = &self.shape {
            write!(f, " (shape {shape})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Validates every RDF file under `roots` (except `shapes` itself) against the
/// SHACL shapes in `shapes`. Returns the violations; an error means the files or
/// the shapes could not be read at all.
pub fn validate(roots: &[PathBuf], shapes: &Path) -> anyhow::Result<Vec<Violation>> {
    let shapes_canonical = shapes.canonicalize().ok();
    let files: Vec<SourceFile> =
        sources::discover(roots)?.into_iter().filter(|f| f.path.canonicalize().ok() != shapes_canonical).collect();
    let data = data_graph(&files)?;
    let graph =
        InMemoryGraph::from_reader(&mut data.as_slice(), "data", &RDFFormat::NTriples, None, &ReaderMode::Strict)
            .map_err(|e| anyhow!("building the data graph failed: {e}"))?;
    let shapes_text =
        std::fs::read(shapes).with_context(|| format!("{}: cannot read the shapes file", shapes.display()))?;
    let schema = ShaclDataManager::load(
        &mut shapes_text.as_slice(),
        &shapes.display().to_string(),
        RDFFormat::Turtle,
        Some(vocab::BASE_IRI),
    )
    .map_err(|e| anyhow!("{}: not a valid SHACL shapes graph: {e}", shapes.display()))?;
    let store = Graph::from_graph(graph).map_err(|e| anyhow!("{e}"))?;
    let report = GraphValidation::from_graph(store, ShaclValidationMode::Native)
        .validate(&schema)
        .map_err(|e| anyhow!("SHACL validation failed to run: {e}"))?;
    Ok(report
        .results()
        .iter()
        .map(|r| Violation {
            focus: r.focus_node().to_string(),
            path: r.path().map(ToString::to_string),
            value: r.value().map(ToString::to_string),
            component: r.component().to_string(),
            shape: r.source().map(ToString::to_string),
            severity: format!("{:?}", r.severity()),
            message: r.message().map(str::to_owned).unwrap_or_else(|| describe(&r.component().to_string())),
        })
        .collect())
}

/// A sentence for a SHACL constraint component, when the shape gives no message.
fn describe(component: &str) -> String {
    let local = component.trim_matches(['<', '>']).rsplit(['#', '/', ':']).next().unwrap_or(component);
    match local {
        "MinCountConstraintComponent" => "a required value is missing".into(),
        "MaxCountConstraintComponent" => "too many values".into(),
        "ClassConstraintComponent" => "the value is not an instance of the expected class".into(),
        "DatatypeConstraintComponent" => "the value does not have the expected datatype".into(),
        "PatternConstraintComponent" => "the value does not match the expected pattern".into(),
        "NodeConstraintComponent" => "the value does not conform to the required node shape".into(),
        "NodeKindConstraintComponent" => "the value is not of the expected kind (IRI, literal…)".into(),
        other => format!("violates {other}"),
    }
}

/// The files' triples as N-Triples, plus `?s tkg:assertedIn ?g` for every
/// statement in a named graph.
fn data_graph(files: &[SourceFile]) -> anyhow::Result<Vec<u8>> {
    let asserted_in = NamedNodeRef::new_unchecked(vocab::ASSERTED_IN);
    let mut serializer = RdfSerializer::from_format(RdfFormat::NTriples).for_writer(Vec::new());
    for file in files {
        let bytes = std::fs::read(&file.path).with_context(|| format!("{}: cannot read", file.display))?;
        let quads = sources::parse(file, &bytes)?;
        for quad in &quads {
            serializer.serialize_triple(TripleRef::new(&quad.subject, &quad.predicate, &quad.object))?;
            if let GraphName::NamedNode(g) = &quad.graph_name {
                serializer.serialize_triple(TripleRef::new(&quad.subject, asserted_in, g))?;
            }
        }
    }
    Ok(serializer.finish()?)
}
