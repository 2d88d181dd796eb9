//! Finding the RDF source files the server loads at start (`ontology/`, `data/`,
//! `--data PATH`) and naming the graph each one goes into.

use crate::store::{format_of_path, SourceFile};
use crate::vocab;
use anyhow::Context;
use oxigraph::model::NamedNode;
use std::path::{Path, PathBuf};

/// Every RDF file under `roots` (files are taken as given, directories walked
/// recursively), sorted by path, each with its graph IRI.
pub fn discover(roots: &[PathBuf]) -> anyhow::Result<Vec<SourceFile>> {
    let mut paths = Vec::new();
    for root in roots {
        if root.is_dir() {
            walk(root, &mut paths)?;
        } else {
            paths.push(root.clone());
        }
    }
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(|path| {
            let display = path.to_string_lossy().replace('\\', "/");
            let display = display.trim_start_matches("./").to_owned();
            let graph = NamedNode::new(vocab::source_graph_iri(&display))
                .with_context(|| format!("{display}: cannot mint a graph IRI for this path"))?;
            Ok(SourceFile { path, display, graph })
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list directory", dir.display()))? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if format_of_path(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}
