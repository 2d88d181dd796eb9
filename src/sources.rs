//! RDF source files: finding the ones the server loads at start (`ontology/`,
//! `data/`, `--data PATH`), naming the graph each one goes into, and reading them
//! into quads. Pure file and parser work; writing them into the store is `store`'s.
//!
//! Rule: a file's triples (its default graph) go into the file's own named graph
//! (`vocab::source_graph_iri`); named graphs inside a TriG or N-Quads file keep
//! their names, and the file records that it contains them.

use crate::vocab;
use anyhow::Context;
use oxigraph::io::{RdfFormat, RdfParser, ReaderQuadParser};
use oxigraph::model::{GraphName, NamedNode, Quad};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A source file of the repository (`ontology/…`, `data/…`) and its graph.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path shown to people and recorded in the system graph.
    pub display: String,
    pub graph: NamedNode,
}

/// Every RDF file under `roots` (files are taken as given, directories walked
/// recursively), sorted by path, each with its graph IRI.
///
/// A file's name for people and for its graph IRI is its path from the root's
/// parent for directory roots (`/srv/kg/data/x.ttl` under root `/srv/kg/data` is
/// `data/x.ttl`), and its file name for file roots, so the IRIs do not depend on
/// where the repository is checked out.
pub fn discover(roots: &[PathBuf]) -> anyhow::Result<Vec<SourceFile>> {
    let mut found = Vec::new();
    for root in roots {
        if root.is_dir() {
            let name = root
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            walk(root, &name, &mut found)?;
        } else {
            let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            found.push((root.clone(), name));
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    found
        .into_iter()
        .map(|(path, display)| {
            let graph = NamedNode::new(vocab::source_graph_iri(&display))
                .with_context(|| format!("{display}: cannot mint a graph IRI for this path"))?;
            Ok(SourceFile { path, display, graph })
        })
        .collect()
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(PathBuf, String)>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list directory", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let display = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        if path.is_dir() {
            walk(&path, &display, out)?;
        } else if format_of_path(&path).is_some() {
            out.push((path, display));
        }
    }
    Ok(())
}

/// The RDF syntax of a file from its extension (`x.ttl`, `x.nq.gz`).
pub fn format_of_path(path: &Path) -> Option<RdfFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let (_, extension) = name.rsplit_once('.')?;
    match extension {
        "owl" => Some(RdfFormat::RdfXml),
        "json" => Some(crate::conneg::json_ld()),
        other => RdfFormat::from_extension(other),
    }
}

pub fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// SHA-256 (hex) of a file's bytes: the file is reloaded when this changes.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why a source file could not be read as RDF; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{file}: unknown RDF syntax for this file extension")]
    UnknownSyntax { file: String },
    #[error("{file}: cannot open: {source}")]
    Open { file: String, source: std::io::Error },
    #[error("{file}: {source}")]
    Gzip { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
}

/// Parses the bytes of `file` (gunzipping `.gz`) into quads, its default graph
/// mapped to the file's own graph. Errors name the file and the parser's position.
pub fn parse(file: &SourceFile, bytes: &[u8]) -> Result<Vec<Quad>, SourceError> {
    let format = format_of_path(&file.path).ok_or_else(|| SourceError::UnknownSyntax { file: file.display.clone() })?;
    let mut content = Vec::new();
    let bytes = if is_gzip(&file.path) {
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut content)
            .map_err(|source| SourceError::Gzip { file: file.display.clone(), source })?;
        content.as_slice()
    } else {
        bytes
    };
    let mut quads = parse_rdf(bytes, format, vocab::BASE_IRI)
        .map_err(|message| SourceError::Syntax { file: file.display.clone(), message })?;
    for quad in &mut quads {
        if quad.graph_name.is_default_graph() {
            quad.graph_name = GraphName::NamedNode(file.graph.clone());
        }
    }
    Ok(quads)
}

/// A streaming parser of the file at `path` (any RDF syntax by extension,
/// `.gz` accepted), blank nodes renamed so they never merge with stored ones,
/// its triples put into `graph` (the default graph when `None`).
pub fn read_file(
    path: &Path,
    graph: Option<&NamedNode>,
) -> Result<ReaderQuadParser<Box<dyn Read + Send>>, SourceError> {
    let named = || path.display().to_string();
    let format = format_of_path(path).ok_or_else(|| SourceError::UnknownSyntax { file: named() })?;
    let file = std::fs::File::open(path).map_err(|source| SourceError::Open { file: named(), source })?;
    let reader: Box<dyn Read + Send> = if is_gzip(path) {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let mut parser = RdfParser::from_format(format).with_base_iri(vocab::BASE_IRI).expect("the base IRI is valid");
    if let Some(g) = graph {
        parser = parser.with_default_graph(g.clone());
    }
    Ok(parser.rename_blank_nodes().for_reader(reader))
}

/// Parses a whole RDF document into memory (so nothing is written when it is
/// malformed); blank nodes get fresh names so they never merge with stored ones.
fn parse_rdf(body: &[u8], format: RdfFormat, base: &str) -> Result<Vec<Quad>, String> {
    let parser = RdfParser::from_format(format)
        .with_base_iri(base)
        .map_err(|e| format!("bad base IRI {base}: {e}"))?
        .rename_blank_nodes();
    parser.for_slice(body).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
}
