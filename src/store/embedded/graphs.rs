//! The Graph Store operations of the embedded backend (read, replace, merge,
//! delete one graph; add a dataset) and the dump. Writes parse the whole body
//! before they touch the store and apply in one transaction, so a bad body or a
//! cancelled write changes nothing.

use super::{Embedded, CHECK_EVERY};
use crate::sparql::results;
use crate::store::change::Written;
use crate::store::error::StoreError;
use crate::store::job::{GraphTarget, GraphWrite};
use crate::store::running::RunningGuard;
use oxigraph::io::RdfFormat;
use oxigraph::model::{GraphNameRef, Quad, QuadRef};
use std::io::{self, Write};

impl Embedded {
    /// Whether a graph exists (the default graph always does).
    pub fn graph_exists(&self, target: &GraphTarget) -> Result<bool, StoreError> {
        match target {
            GraphTarget::Default => Ok(true),
            GraphTarget::Named(g) => Ok(self.store.contains_named_graph(g)?),
        }
    }

    /// Writes the triples of one graph, or every quad when `target` is `None`, in `format`.
    pub fn write_graph_to(
        &self,
        target: Option<&GraphTarget>,
        format: RdfFormat,
        writer: impl Write,
    ) -> io::Result<()> {
        match target {
            Some(t) => {
                results::write_graph(self.store.quads_for_pattern(None, None, None, Some(t.as_ref())), format, writer)
            }
            None => results::write_dataset(self.store.iter(), format, writer),
        }
    }

    /// Replaces (GSP PUT) or merges into (POST) a graph with the
    /// triples of `quads` (parsed from the request's body or parts). Returns
    /// whether the graph was created by this call.
    pub fn write_graph(
        &self,
        target: &GraphTarget,
        quads: &[Quad],
        how: GraphWrite,
        guard: &RunningGuard,
    ) -> Result<(bool, Written), StoreError> {
        self.write(Some(guard), |recorder| {
            let existed = match target {
                GraphTarget::Default => true,
                GraphTarget::Named(g) => !recorder.create_graph(g.into())?,
            };
            if how == GraphWrite::Replace && existed {
                recorder.clear_graph(target.as_ref())?;
            }
            for (i, quad) in quads.iter().enumerate() {
                if i % CHECK_EVERY == 0 {
                    guard.check()?;
                }
                recorder.insert(QuadRef::new(&quad.subject, &quad.predicate, &quad.object, target.as_ref()))?;
            }
            Ok(!existed)
        })
    }

    /// Adds every quad of a dataset body (N-Quads, TriG) in one transaction;
    /// returns how many were new.
    pub fn add_dataset(&self, quads: &[Quad], guard: &RunningGuard) -> Result<(usize, Written), StoreError> {
        self.write(Some(guard), |recorder| {
            let mut added = 0;
            for (i, quad) in quads.iter().enumerate() {
                if i % CHECK_EVERY == 0 {
                    guard.check()?;
                }
                added += usize::from(recorder.insert(quad.as_ref())?);
            }
            Ok(added)
        })
    }

    /// Deletes a named graph (or empties the default graph).
    pub fn delete_graph(&self, target: &GraphTarget, guard: &RunningGuard) -> Result<Written, StoreError> {
        Ok(self
            .write(Some(guard), |recorder| match target {
                GraphTarget::Default => recorder.clear_graph(GraphNameRef::DefaultGraph),
                GraphTarget::Named(g) => {
                    if recorder.drop_graph(g.into())? {
                        Ok(())
                    } else {
                        Err(StoreError::GraphNotFound(g.to_string()))
                    }
                }
            })?
            .1)
    }
}
