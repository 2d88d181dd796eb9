//! The dataset's counts, as VoID, the home page and the ontology page show
//! them: statements in all, in the default graph and in each subset of named
//! graphs; named graphs; statements per class (`rdf:type` objects) and per
//! property. Every count is a sum, so a write's exact change keeps it exact
//! ([`Statistics::apply`]); the first computation is one streaming pass
//! ([`Scan`]) in memory bounded by the number of classes and properties and the
//! budget of subsets, never by the data.

use super::layout::{PrefixTree, Subset};
use crate::store::Change;
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use std::collections::{BTreeMap, HashMap};

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

/// The counts of the dataset behind the store.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Statistics {
    /// Statements in every graph, the default graph's included.
    pub triples: u64,
    /// Statements in the default graph.
    pub default_triples: u64,
    /// Named graphs, the empty ones the store keeps (`CREATE GRAPH`) included.
    pub graph_count: u64,
    /// The named graphs as VoID lists them: one by one, or summarised by prefix.
    pub subsets: Vec<Subset>,
    /// Statements `?s rdf:type ?class`, by class.
    #[serde(with = "by_iri")]
    pub classes: BTreeMap<NamedNode, u64>,
    /// Statements by property.
    #[serde(with = "by_iri")]
    pub properties: BTreeMap<NamedNode, u64>,
    /// The named graphs' prefix tree the subsets are arranged from (kept from
    /// changes on the embedded store; empty over an engine).
    #[serde(default)]
    tree: PrefixTree,
    /// Graphs named by blank nodes: how many, and their statements.
    #[serde(default)]
    blank: (u64, u64),
}

/// A map keyed by IRIs, kept as a JSON object keyed by the IRIs' text.
mod by_iri {
    use oxigraph::model::NamedNode;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(map: &BTreeMap<NamedNode, u64>, s: S) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<&str, u64> = map.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        text.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<NamedNode, u64>, D::Error> {
        let text = BTreeMap::<String, u64>::deserialize(d)?;
        text.into_iter().map(|(k, v)| NamedNode::new(k).map(|k| (k, v)).map_err(serde::de::Error::custom)).collect()
    }
}

fn bump(map: &mut BTreeMap<NamedNode, u64>, key: &NamedNode, up: bool) {
    if up {
        *map.entry(key.clone()).or_default() += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

fn adjust(value: &mut u64, by: i64) {
    *value = value.saturating_add_signed(by);
}

impl Statistics {
    /// The counts of an engine's dataset, counted by SPARQL.
    pub fn counted(
        triples: u64,
        graph_count: u64,
        subsets: Vec<Subset>,
        classes: BTreeMap<NamedNode, u64>,
        properties: BTreeMap<NamedNode, u64>,
    ) -> Self {
        Statistics { triples, graph_count, subsets, classes, properties, ..Statistics::default() }
    }

    /// The counts after `change`.
    pub fn apply(&mut self, change: &Change) {
        // (graphs, statements) changed, by named graph.
        let mut by_graph: HashMap<GraphName, (i64, i64)> = HashMap::new();
        let mut shift = |graph: &GraphName, graphs: i64, triples: i64| match by_graph.get_mut(graph) {
            Some(entry) => *entry = (entry.0 + graphs, entry.1 + triples),
            None => {
                by_graph.insert(graph.clone(), (graphs, triples));
            }
        };
        for (quad, added) in change.quads() {
            let by = if added { 1 } else { -1 };
            adjust(&mut self.triples, by);
            bump(&mut self.properties, &quad.predicate, added);
            if quad.predicate.as_str() == RDF_TYPE {
                if let Term::NamedNode(class) = &quad.object {
                    bump(&mut self.classes, class, added);
                }
            }
            match &quad.graph_name {
                GraphName::DefaultGraph => adjust(&mut self.default_triples, by),
                graph => shift(graph, 0, by),
            }
        }
        for graph in change.dropped_graphs() {
            adjust(&mut self.graph_count, -1);
            shift(&graph.clone().into(), -1, 0);
        }
        for graph in change.created_graphs() {
            adjust(&mut self.graph_count, 1);
            shift(&graph.clone().into(), 1, 0);
        }
        if by_graph.is_empty() {
            return;
        }
        for (graph, (graphs, triples)) in by_graph {
            match graph {
                GraphName::NamedNode(g) => self.tree.add(g.as_str(), graphs, triples),
                GraphName::BlankNode(_) => {
                    adjust(&mut self.blank.0, graphs);
                    adjust(&mut self.blank.1, triples);
                }
                GraphName::DefaultGraph => {}
            }
        }
        self.arrange();
    }

    /// The subsets from the tree and the blank-node graphs.
    fn arrange(&mut self) {
        self.subsets = self.tree.subsets();
        if self.blank != (0, 0) {
            self.subsets.push(Subset::Rest { graphs: self.blank.0, triples: self.blank.1 });
        }
    }

    /// Statements in named graphs.
    pub fn named_triples(&self) -> u64 {
        self.triples - self.default_triples.min(self.triples)
    }
}

/// The first computation: every quad once (in graph order, as the store
/// iterates them), then every named graph's name once; or, by queries, each
/// named graph's statements in graph order and the statements grouped by
/// predicate and by class.
#[derive(Default)]
pub struct Scan {
    stats: Statistics,
    /// The named graph being read and its statements so far.
    current: Option<(NamedNode, u64)>,
}

impl Scan {
    /// Counts one quad.
    pub fn quad(&mut self, quad: &Quad) {
        self.stats.triples += 1;
        *self.stats.properties.entry(quad.predicate.clone()).or_default() += 1;
        if quad.predicate.as_str() == RDF_TYPE {
            if let Term::NamedNode(class) = &quad.object {
                *self.stats.classes.entry(class.clone()).or_default() += 1;
            }
        }
        match &quad.graph_name {
            GraphName::DefaultGraph => self.stats.default_triples += 1,
            GraphName::BlankNode(_) => self.stats.blank.1 += 1,
            GraphName::NamedNode(g) => match &mut self.current {
                Some((current, n)) if current == g => *n += 1,
                _ => {
                    self.flush();
                    self.current = Some((g.clone(), 1));
                }
            },
        }
    }

    fn flush(&mut self) {
        if let Some((graph, n)) = self.current.take() {
            self.stats.tree.add(graph.as_str(), 0, n as i64);
        }
    }

    /// Counts one statement in the named graph `graph` (by the queries' way).
    pub fn statement_in(&mut self, graph: &Term) {
        match graph {
            Term::NamedNode(g) => match &mut self.current {
                Some((current, n)) if current == g => *n += 1,
                _ => {
                    self.flush();
                    self.current = Some((g.clone(), 1));
                }
            },
            Term::BlankNode(_) => self.stats.blank.1 += 1,
            _ => {}
        }
    }

    /// Counts `n` statements with `predicate`, `in_default` of the default graph.
    pub fn predicate(&mut self, predicate: &NamedNode, n: u64, in_default: bool) {
        *self.stats.properties.entry(predicate.clone()).or_default() += n;
        self.stats.triples += n;
        if in_default {
            self.stats.default_triples += n;
        }
    }

    /// Counts `n` statements `?s rdf:type class`.
    pub fn class(&mut self, class: &NamedNode, n: u64) {
        *self.stats.classes.entry(class.clone()).or_default() += n;
    }

    /// Counts one named graph (whether or not it holds statements).
    pub fn graph(&mut self, graph: &NamedOrBlankNode) {
        self.flush();
        self.stats.graph_count += 1;
        match graph {
            NamedOrBlankNode::NamedNode(g) => self.stats.tree.add(g.as_str(), 1, 0),
            NamedOrBlankNode::BlankNode(_) => self.stats.blank.0 += 1,
        }
    }

    /// The counts.
    pub fn finish(mut self) -> Statistics {
        self.flush();
        let mut stats = self.stats;
        stats.arrange();
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_kept_from_changes_equal_counts_scanned() {
        let quad = |s: &str, p: &str, o: &str, g: Option<&str>| {
            Quad::new(
                NamedNode::new_unchecked(s),
                NamedNode::new_unchecked(p),
                NamedNode::new_unchecked(o),
                g.map_or(GraphName::DefaultGraph, |g| NamedNode::new_unchecked(g).into()),
            )
        };
        let all = [
            quad("http://s/1", RDF_TYPE, "http://c/A", Some("http://g/a/1")),
            quad("http://s/1", "http://p/x", "http://o/1", Some("http://g/a/2")),
            quad("http://s/2", RDF_TYPE, "http://c/B", None),
            quad("http://s/3", "http://p/x", "http://o/1", Some("http://h/1")),
        ];
        let scanned = |quads: &[Quad]| {
            let mut scan = Scan::default();
            let mut sorted = quads.to_vec();
            sorted.sort_by_key(|q| q.graph_name.to_string());
            for q in &sorted {
                scan.quad(q);
            }
            let mut graphs: Vec<NamedOrBlankNode> = sorted
                .iter()
                .filter_map(|q| match &q.graph_name {
                    GraphName::NamedNode(n) => Some(n.clone().into()),
                    _ => None,
                })
                .collect();
            graphs.dedup();
            for g in &graphs {
                scan.graph(g);
            }
            scan.finish()
        };
        let mut kept = scanned(&all[..2]);
        let change = crate::store::Change::test_from(&all[2..], &[], &[NamedNode::new_unchecked("http://h/1").into()]);
        kept.apply(&change);
        let whole = scanned(&all);
        assert_eq!((kept.triples, kept.default_triples, kept.graph_count), (4, 1, 3));
        assert_eq!(kept, whole);
        assert_eq!(kept.subsets.iter().map(Subset::triples).sum::<u64>(), whole.named_triples());
        let json = serde_json::to_vec(&kept).unwrap();
        assert_eq!(serde_json::from_slice::<Statistics>(&json).unwrap(), kept, "kept on disk and read back");
    }
}
