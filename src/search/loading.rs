//! The index `treaty-kg load` builds from the quads it reads, when the store
//! was empty before: the server then starts on an index that is current, and
//! nothing is read back from the store (decoding every term of a 10M-quad
//! store through Oxigraph's API was most of a first start's CPU).
//!
//! A document per subject per graph, as a build from the store makes, when
//! the file keeps a subject's statements together (Turtle, sorted N-Triples
//! and N-Quads do), or within [`OPEN`] other subjects of each other. A
//! subject whose statements lie further apart gets one document per run:
//! searches find it all the same (hits are collapsed by resource), and the
//! first write that touches it replaces them by one.

use super::build::{self, Gathered};
use super::keeper::{commit, io, WRITER_HEAP};
use super::schema::open_index;
use super::schema::Fields;
use super::{IndexLocation, SearchError};
use crate::store::StoreError;
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad};
use std::path::Path;
use tantivy::IndexWriter;

/// Subjects whose documents are gathered at once (the least recently seen
/// is written when another comes).
const OPEN: usize = 4096;

/// Builds an index from quads as they are loaded; committed by [`Self::commit`].
pub struct LoadIndexer {
    writer: IndexWriter,
    fields: Fields,
    open: lru::LruCache<(NamedNode, GraphName), Gathered>,
    batch: build::Batch,
    /// The first failure; the index is then left as it was.
    failed: Option<StoreError>,
}

impl LoadIndexer {
    /// Starts a new index in `dir` (what it held is replaced at the commit).
    pub fn create(dir: &Path) -> Result<Self, SearchError> {
        let index = open_index(&IndexLocation::Directory(dir.to_owned()))?;
        let (_, fields) = super::schema::schema();
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        writer.delete_all_documents()?;
        Ok(LoadIndexer {
            writer,
            fields,
            open: lru::LruCache::new(std::num::NonZeroUsize::new(OPEN).expect("OPEN is not zero")),
            batch: build::Batch::default(),
            failed: None,
        })
    }

    /// Adds what `quad` says of its subject.
    pub fn see(&mut self, quad: &Quad) {
        if self.failed.is_some() || !build::matters(quad) {
            return;
        }
        let NamedOrBlankNode::NamedNode(subject) = &quad.subject else { return };
        let key = (subject.clone(), quad.graph_name.clone());
        if let Some(gathered) = self.open.get_mut(&key) {
            gathered.see(quad);
            return;
        }
        let mut gathered = Gathered::default();
        gathered.see(quad);
        if let Some((key, oldest)) = self.open.push(key, gathered) {
            self.write(key, oldest);
        }
    }

    fn write(&mut self, (subject, graph): (NamedNode, GraphName), gathered: Gathered) {
        let doc = build::document(&subject.into(), &graph, gathered, self.fields);
        if let Err(e) = self.batch.add(doc, &self.writer) {
            self.failed = Some(e);
        }
    }

    /// Writes the last documents and commits the index as built from data
    /// version `version`; returns how many documents it holds.
    pub fn commit(mut self, version: &str) -> Result<u64, StoreError> {
        while let Some((key, gathered)) = self.open.pop_lru() {
            self.write(key, gathered);
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.batch.hand_over(&self.writer)?;
        commit(&mut self.writer, version)?;
        // Merges finish before the writer goes (no half-merged files left).
        self.writer.wait_merging_threads().map_err(io)?;
        Ok(self.batch.added)
    }
}
