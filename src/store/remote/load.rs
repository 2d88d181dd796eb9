//! Loading files into the engine: the repository's source files at start
//! (with their ledger records) and `treaty-kg load --remote`.
//!
//! Engines limit what one update may carry (Virtuoso 7.2 refuses an `INSERT`
//! of about 1,400 statements: "generated SQL text has exceeded 10000 lines"),
//! and say so differently. So statements go in batches that start large and
//! are halved whenever the engine refuses one; the smaller size is kept for the
//! rest of the load. A blank node names one node only within a request, so the
//! statements that share blank nodes travel together, never split.

use super::*;
use std::collections::HashMap;

/// Statements a batch starts with.
const FIRST_BATCH: usize = 10_000;

/// Sends groups of statements (each group whole) in as few update requests as
/// the engine takes.
struct Batcher<'a> {
    remote: &'a Remote,
    size: usize,
}

impl Batcher<'_> {
    /// Inserts `groups` (each at most `size` statements unless it cannot be
    /// split), halving the batch on the engine's refusal.
    fn send(&mut self, groups: &[Vec<Quad>]) -> Result<(), StoreError> {
        let mut start = 0;
        while start < groups.len() {
            let mut end = start;
            let mut statements = 0;
            while end < groups.len() && (end == start || statements + groups[end].len() <= self.size) {
                statements += groups[end].len();
                end += 1;
            }
            self.send_part(&groups[start..end])?;
            start = end;
        }
        Ok(())
    }

    fn send_part(&mut self, groups: &[Vec<Quad>]) -> Result<(), StoreError> {
        let quads: Vec<Quad> = groups.iter().flatten().cloned().collect();
        match self.remote.run_update(&insert_data(&quads), &ProtocolDataset::default(), None) {
            Err(StoreError::EngineRefused(message)) if groups.len() > 1 => {
                self.size = (quads.len() / 2).max(1);
                tracing::debug!(batch = self.size, %message, "the engine refused a batch; halving it");
                let (a, b) = groups.split_at(groups.len() / 2);
                self.send_part(a)?;
                self.send_part(b)
            }
            other => other,
        }
    }
}

/// The statements with blank nodes, grouped so that statements sharing a blank
/// node (directly or through others) are in one group.
fn blank_node_groups(quads: Vec<Quad>) -> Vec<Vec<Quad>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    let mut id = |label: String, parent: &mut Vec<usize>| {
        *ids.entry(label).or_insert_with(|| {
            parent.push(parent.len());
            parent.len() - 1
        })
    };
    let mut owners = Vec::with_capacity(quads.len());
    for quad in &quads {
        let mut nodes = Vec::new();
        if let NamedOrBlankNode::BlankNode(b) = &quad.subject {
            nodes.push(id(b.as_str().to_owned(), &mut parent));
        }
        if let Term::BlankNode(b) = &quad.object {
            nodes.push(id(b.as_str().to_owned(), &mut parent));
        }
        if let [a, b] = nodes[..] {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            parent[ra] = rb;
        }
        owners.push(nodes[0]);
    }
    let mut groups: HashMap<usize, Vec<Quad>> = HashMap::new();
    for (quad, owner) in quads.into_iter().zip(owners) {
        groups.entry(root(&mut parent, owner)).or_default().push(quad);
    }
    groups.into_values().collect()
}

/// Sends `quads` in batches: plain statements one per group, the others by
/// blank-node group.
fn send_all(batcher: &mut Batcher<'_>, quads: Vec<Quad>) -> Result<(), StoreError> {
    let (with_blank, plain): (Vec<Quad>, Vec<Quad>) =
        quads.into_iter().partition(|q| q.subject.is_blank_node() || q.object.is_blank_node());
    let plain: Vec<Vec<Quad>> = plain.into_iter().map(|q| vec![q]).collect();
    batcher.send(&plain)?;
    batcher.send(&blank_node_groups(with_blank))
}

impl Remote {
    /// Replaces what a source file brought into the engine with its quads, and
    /// records the file in the ledger graph. The last request records the file,
    /// so an interrupted load is redone at the next start.
    pub fn load_source(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        previous: Option<&SourceRecord>,
    ) -> Result<(SourceRecord, usize), StoreError> {
        let quads = crate::sources::parse(file, bytes)?;
        let graph = file.graph.as_str();
        let mut text = String::new();
        for old in previous.map(|r| r.contains.as_slice()).unwrap_or_default() {
            writeln!(text, "DROP SILENT GRAPH <{old}> ;").expect("a String");
        }
        writeln!(text, "DROP SILENT GRAPH <{graph}>").expect("a String");
        self.run_update(&text, &ProtocolDataset::default(), None)?;
        let mut contained: Vec<String> = quads
            .iter()
            .filter_map(|q| match &q.graph_name {
                GraphName::NamedNode(n) if n.as_str() != graph => Some(n.as_str().to_owned()),
                _ => None,
            })
            .collect();
        contained.sort();
        contained.dedup();
        let count = quads.len();
        send_all(&mut Batcher { remote: self, size: FIRST_BATCH }, quads)?;
        let record = SourceRecord {
            file: file.display.clone(),
            hash: crate::sources::content_hash(bytes),
            contains: contained,
            statements: None,
        };
        let ledger = vocab::LEDGER_GRAPH;
        let mut facts = format!(
            "<{graph}> <{}> {} . <{graph}> <{}> \"{}\" .",
            vocab::SOURCE_FILE,
            oxigraph::model::Literal::new_simple_literal(&record.file),
            vocab::CONTENT_HASH,
            record.hash
        );
        for c in &record.contains {
            write!(facts, " <{graph}> <{}> <{c}> .", vocab::CONTAINS_GRAPH).expect("a String");
        }
        let text = format!(
            "DELETE WHERE {{ GRAPH <{ledger}> {{ <{graph}> ?p ?o }} }} ;\nINSERT DATA {{ GRAPH <{ledger}> {{ {facts} }} }}"
        );
        self.run_update(&text, &ProtocolDataset::default(), None)?;
        Ok((record, count))
    }

    /// Loads a file into the engine (CLI `load --remote`), streaming it: plain
    /// statements go as they are read, each batch standing once answered (an
    /// interrupted load keeps what was sent); the statements with blank nodes go
    /// last, by group. `progress` gets the running count; returns the statements read.
    pub fn bulk_load(
        &self,
        path: &std::path::Path,
        graph: Option<&NamedNode>,
        progress: impl Fn(u64),
        see: &mut dyn FnMut(&Quad),
    ) -> Result<u64, StoreError> {
        let parser = crate::sources::read_file(path, graph)?;
        let mut batcher = Batcher { remote: self, size: FIRST_BATCH };
        let (mut plain, mut with_blank) = (Vec::new(), Vec::new());
        let mut count = 0u64;
        for quad in parser {
            let quad = quad.map_err(|e| StoreError::BadBody(format!("{}: {e}", path.display())))?;
            count += 1;
            see(&quad);
            if quad.subject.is_blank_node() || quad.object.is_blank_node() {
                with_blank.push(quad);
            } else {
                plain.push(vec![quad]);
            }
            if plain.len() >= batcher.size {
                batcher.send(&plain)?;
                plain.clear();
                progress(count);
            }
        }
        batcher.send(&plain)?;
        batcher.send(&blank_node_groups(with_blank))?;
        progress(count);
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::blank_node_groups;
    use oxigraph::model::{BlankNode, NamedNode, Quad};

    #[test]
    fn statements_sharing_blank_nodes_stay_together() {
        let p = NamedNode::new_unchecked("http://example.org/p");
        let a = NamedNode::new_unchecked("http://example.org/a");
        let (b1, b2, b3) =
            (BlankNode::new_unchecked("b1"), BlankNode::new_unchecked("b2"), BlankNode::new_unchecked("b3"));
        let quads = vec![
            Quad::new(a.clone(), p.clone(), b1.clone(), oxigraph::model::GraphName::DefaultGraph),
            Quad::new(b3.clone(), p.clone(), a.clone(), oxigraph::model::GraphName::DefaultGraph),
            Quad::new(b1.clone(), p.clone(), b2.clone(), oxigraph::model::GraphName::DefaultGraph),
            Quad::new(b2, p.clone(), a, oxigraph::model::GraphName::DefaultGraph),
        ];
        let mut sizes: Vec<usize> = blank_node_groups(quads).iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 3], "b1-b2 chain together, b3 alone");
    }
}
