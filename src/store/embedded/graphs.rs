//! The Graph Store operations of the embedded backend (read, replace, merge,
//! delete one graph; add a dataset) and the dump. Writes parse the whole body
//! before they touch the store and apply in one transaction, so a bad body or a
//! cancelled write changes nothing.

use super::{Embedded, CHECK_EVERY};
use crate::sparql::results;
use crate::store::error::StoreError;
use crate::store::job::GraphTarget;
use crate::store::running::RunningGuard;
use crate::store::scope;
use oxigraph::io::RdfFormat;
use oxigraph::model::{GraphNameRef, NamedOrBlankNode, Quad, QuadRef};
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

    /// Replaces (`replace`, GSP PUT) or merges into (POST) a graph with the
    /// triples of `quads` (parsed from the request's body or parts). Returns
    /// whether the graph was created by this call, and the subjects of the
    /// statements it replaced (none for a merge; `None` when too many to list).
    pub fn write_graph(
        &self,
        target: &GraphTarget,
        quads: &[Quad],
        replace: bool,
        guard: &RunningGuard,
    ) -> Result<(bool, Option<Vec<NamedOrBlankNode>>), StoreError> {
        let existed = self.graph_exists(target)?;
        let mut transaction = self.store.start_transaction()?;
        let mut former = Some(Vec::new());
        if replace {
            former = scope::subjects(transaction.quads_for_pattern(None, None, None, Some(target.as_ref())))?;
            transaction.clear_graph(target.as_ref())?;
        }
        if let GraphTarget::Named(g) = target {
            transaction.insert_named_graph(g);
        }
        for (i, quad) in quads.iter().enumerate() {
            if i % CHECK_EVERY == 0 {
                guard.check()?;
            }
            transaction.insert(QuadRef::new(&quad.subject, &quad.predicate, &quad.object, target.as_ref()));
        }
        guard.check()?;
        transaction.commit()?;
        Ok((!existed, former))
    }

    /// Adds every quad of a dataset body (N-Quads, TriG) in one transaction.
    pub fn add_dataset(&self, quads: &[Quad], guard: &RunningGuard) -> Result<usize, StoreError> {
        let mut transaction = self.store.start_transaction()?;
        transaction.extend(quads);
        guard.check()?;
        transaction.commit()?;
        Ok(quads.len())
    }

    /// Deletes a named graph (or empties the default graph). Returns the
    /// subjects of the statements it deleted (`None` when too many to list).
    pub fn delete_graph(
        &self,
        target: &GraphTarget,
        guard: &RunningGuard,
    ) -> Result<Option<Vec<NamedOrBlankNode>>, StoreError> {
        let mut transaction = self.store.start_transaction()?;
        let former = scope::subjects(transaction.quads_for_pattern(None, None, None, Some(target.as_ref())))?;
        match target {
            GraphTarget::Default => transaction.clear_graph(GraphNameRef::DefaultGraph)?,
            GraphTarget::Named(g) => {
                if !transaction.contains_named_graph(g)? {
                    return Err(StoreError::GraphNotFound(g.to_string()));
                }
                transaction.remove_named_graph(g)?;
            }
        }
        guard.check()?;
        transaction.commit()?;
        Ok(former)
    }
}
