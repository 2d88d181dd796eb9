//! Loading data into the embedded store outside of requests: the repository's
//! source files at start (only those that changed), bulk loads from the
//! command line, and backups.

use super::Embedded;
use crate::sources::{self, SourceFile};
use crate::store::change::Written;
use crate::store::error::StoreError;
use crate::store::version::SourceRecord;
use oxigraph::model::{GraphName, NamedNode};
use oxigraph::store::StorageError;
use std::io;
use std::path::{Path, PathBuf};

/// Why a bulk load stopped: the file or the storage.
#[derive(Debug, thiserror::Error)]
enum LoadFailure {
    #[error(transparent)]
    Parse(#[from] oxigraph::io::RdfParseError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Embedded {
    /// Replaces what a source file brought in last time (its graph and the named
    /// graphs it contained, per `previous`) with the file's quads, in one
    /// transaction. Returns the file's new record and its number of quads.
    pub fn load_source(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        previous: Option<&SourceRecord>,
    ) -> Result<(SourceRecord, usize, Written), StoreError> {
        let quads = sources::parse(file, bytes)?;
        let graph = file.graph.as_ref();
        let mut contained = Vec::new();
        let mut added = 0u64;
        let ((), written) = self.write(None, |recorder| {
            for old in previous.map(|r| r.contains.as_slice()).unwrap_or_default() {
                if let Ok(g) = NamedNode::new(old.as_str()) {
                    recorder.drop_graph(g.as_ref().into())?;
                }
            }
            recorder.drop_graph(graph.into())?;
            recorder.create_graph(graph.into())?;
            for quad in &quads {
                if let GraphName::NamedNode(n) = &quad.graph_name {
                    if n != &file.graph {
                        contained.push(n.as_str().to_owned());
                    }
                }
                added += u64::from(recorder.insert(quad.as_ref())?);
            }
            Ok(())
        })?;
        contained.sort();
        contained.dedup();
        let record = SourceRecord {
            file: file.display.clone(),
            hash: sources::content_hash(bytes),
            contains: contained,
            statements: Some(added),
        };
        Ok((record, quads.len(), written))
    }

    /// Bulk-loads one file (any RDF syntax by extension, `.gz` accepted) with
    /// Oxigraph's bulk loader, atomically (committed at the end). `progress` is
    /// called with the running quad count, `see` with each quad read; returns
    /// the number of quads read.
    pub fn bulk_load(
        &self,
        path: &Path,
        graph: Option<&NamedNode>,
        progress: impl Fn(u64) + Send + Sync + 'static,
        see: &mut dyn FnMut(&oxigraph::model::Quad),
    ) -> Result<u64, StoreError> {
        let parser = sources::read_file(path, graph)?;
        // Nothing but the file goes into the load: a small write after it (the
        // write counter, once) left a tiny extra SST file in every column family,
        // and every query then paid a seek in each (BENCHMARKS.md, "Store layout
        // after `treaty-kg load`"). The counter now lives in the ledger.
        let mut count = 0u64;
        let quads = parser.inspect(|quad| {
            if let Ok(quad) = quad {
                see(quad);
            }
            count += 1;
            if count.is_multiple_of(10_000) {
                progress(count);
            }
        });
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut loader = self.store.bulk_loader().with_num_threads(threads);
        loader
            .load_ok_quads::<_, LoadFailure>(quads)
            .and_then(|()| loader.commit().map_err(LoadFailure::from))
            .map_err(|e| match e {
                LoadFailure::Parse(e) => StoreError::BadBody(format!("{}: {e}", path.display())),
                LoadFailure::Storage(e) => StoreError::Storage(e),
            })?;
        progress(count);
        Ok(count)
    }

    /// Writes a consistent copy of the store into `dir` (which must not exist)
    /// while it keeps serving: a RocksDB checkpoint, openable as a store.
    pub fn backup(&self, dir: &PathBuf) -> Result<(), StoreError> {
        if self.in_memory {
            return Err(StoreError::Request(
                "this server keeps its store in memory; there is nothing on disk to back up".into(),
            ));
        }
        if dir.exists() {
            return Err(StoreError::Request(format!(
                "{}: already exists; a backup goes into a new directory",
                dir.display()
            )));
        }
        self.store.flush()?;
        self.store.backup(dir).map_err(|e| StoreError::Io {
            context: format!("{}: backup failed", dir.display()),
            source: io::Error::other(e),
        })
    }
}
