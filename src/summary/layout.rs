//! Which named graphs VoID describes one by one, and which it summarises.
//!
//! A store may hold millions of graphs (one per sentence of every article):
//! a subset for each made VoID tens of megabytes. So the graphs are arranged
//! in the tree of their IRIs' path prefixes (each ending at a `/`), and a
//! prefix is opened to its children as long as the description stays within a
//! budget of subsets, the prefixes with the fewest children first. What stays
//! closed is one summary subset: how many graphs under that prefix, and their
//! statements.
//!
//! The tree is built from a stream of (graph, statements) in memory bounded by
//! the budget, not by the graphs: a prefix with more children than the budget
//! can never be opened, so its children are forgotten as soon as there are too
//! many ([`PrefixTree::insert`]); and the whole tree never holds more than
//! [`MAX_NODES`] prefixes (past that, the deepest ones are closed).

use oxigraph::model::NamedNode;
use std::collections::BTreeMap;

/// The most subsets VoID lists.
pub const MAX_SUBSETS: usize = 100;

/// The most prefixes the tree holds while it is built.
const MAX_NODES: usize = 100_000;

/// A subset of the dataset, as VoID describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Subset {
    /// One named graph and its statements.
    Graph(NamedNode, u64),
    /// The graphs whose names start with `prefix`: how many, and their statements.
    Summary { prefix: String, graphs: u64, triples: u64 },
    /// The graphs no other subset covers (graphs named by blank nodes, and
    /// graphs created since the subsets were arranged under names none of
    /// them covers): how many, and their statements.
    Rest { graphs: u64, triples: u64 },
}

impl Subset {
    pub fn triples(&self) -> u64 {
        match self {
            Subset::Graph(_, n) => *n,
            Subset::Summary { triples, .. } | Subset::Rest { triples, .. } => *triples,
        }
    }
}

/// The next prefix of `iri` after `prefix`: up to and including the next `/`,
/// or the whole IRI when no `/` follows.
fn next_prefix<'a>(iri: &'a str, prefix: &str) -> &'a str {
    match iri[prefix.len()..].find('/') {
        Some(i) => &iri[..prefix.len() + i + 1],
        None => iri,
    }
}

/// A prefix and what is under it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Node {
    graphs: u64,
    triples: u64,
    /// Graphs named exactly this prefix (0 or 1); their statements are the
    /// node's less its children's.
    own: u64,
    /// By their full prefix.
    children: BTreeMap<String, Node>,
    /// Too many children to ever open: they are not kept.
    closed: bool,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.graphs == 0 && self.triples == 0 && self.own == 0 && self.children.is_empty()
    }

    /// The statements of the graph named exactly this prefix.
    fn own_triples(&self) -> u64 {
        self.triples.saturating_sub(self.children.values().map(|c| c.triples).sum())
    }
}

/// The tree of graph-name prefixes: built from a stream of graphs, and kept
/// from changes (graphs created and dropped, statements added and removed).
/// A prefix once closed stays closed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrefixTree {
    root: Node,
    budget: usize,
    nodes: usize,
}

impl Default for PrefixTree {
    fn default() -> Self {
        PrefixTree::new(MAX_SUBSETS)
    }
}

fn shift(value: u64, by: i64) -> u64 {
    value.saturating_add_signed(by)
}

/// Adds `graphs` graphs named `graph` and `triples` statements in it under
/// `node` (whose prefix is `prefix`); returns the change in the number of nodes.
fn add(node: &mut Node, prefix: &str, graph: &str, graphs: i64, triples: i64, budget: usize) -> isize {
    node.graphs = shift(node.graphs, graphs);
    node.triples = shift(node.triples, triples);
    if node.closed {
        return 0;
    }
    if prefix == graph {
        node.own = shift(node.own, graphs);
        return 0;
    }
    let next = next_prefix(graph, prefix).to_owned();
    let mut delta = 0;
    if !node.children.contains_key(&next) {
        if graphs <= 0 && triples <= 0 {
            return 0;
        }
        if node.children.len() > budget {
            // Never opened: forget the children.
            let removed = count(node);
            node.children.clear();
            node.own = 0;
            node.closed = true;
            return -(removed as isize);
        }
        node.children.insert(next.clone(), Node::default());
        delta += 1;
    }
    let child = node.children.get_mut(&next).expect("present");
    delta += add(child, &next, graph, graphs, triples, budget);
    if child.is_empty() {
        delta -= 1 + count(child) as isize;
        node.children.remove(&next);
    }
    delta
}

impl PrefixTree {
    pub fn new(budget: usize) -> Self {
        PrefixTree { root: Node::default(), budget: budget.max(1), nodes: 0 }
    }

    /// Adds one graph and its number of statements.
    pub fn insert(&mut self, graph: &str, triples: u64) {
        self.add(graph, 1, triples as i64)
    }

    /// Adds `graphs` graphs named `graph` (1 created, -1 dropped, 0) and
    /// `triples` statements in it (negative: removed).
    pub fn add(&mut self, graph: &str, graphs: i64, triples: i64) {
        let delta = add(&mut self.root, "", graph, graphs, triples, self.budget);
        self.nodes = self.nodes.saturating_add_signed(delta);
        self.bound();
    }

    /// Closes the deepest prefixes until the tree is within [`MAX_NODES`].
    fn bound(&mut self) {
        while self.nodes > MAX_NODES {
            let depth = depth(&self.root);
            let removed = close_at(&mut self.root, depth.saturating_sub(1));
            if removed == 0 {
                return;
            }
            self.nodes -= removed;
        }
    }

    /// The subsets, at most the budget of them, in IRI order.
    pub fn subsets(&self) -> Vec<Subset> {
        let budget = self.budget;
        let mut groups: Vec<Group<'_>> = vec![Group::Prefix(String::new(), &self.root)];
        loop {
            let mut candidates: Vec<(usize, Vec<Group<'_>>)> =
                groups.iter().enumerate().filter_map(|(i, g)| g.children().map(|kids| (i, kids))).collect();
            candidates.sort_by_key(|(_, kids)| kids.len());
            let mut count = groups.len();
            let mut replaced: BTreeMap<usize, Vec<Group<'_>>> = BTreeMap::new();
            for (i, kids) in candidates {
                if count - 1 + kids.len() <= budget || kids.len() == 1 {
                    count = count - 1 + kids.len();
                    replaced.insert(i, kids);
                }
            }
            if replaced.is_empty() {
                break;
            }
            groups = std::mem::take(&mut groups)
                .into_iter()
                .enumerate()
                .flat_map(|(i, g)| replaced.remove(&i).unwrap_or_else(|| vec![g]))
                .collect();
        }
        groups.into_iter().filter_map(Group::subset).collect()
    }
}

fn depth(node: &Node) -> usize {
    node.children.values().map(|c| 1 + depth(c)).max().unwrap_or(0)
}

/// Closes the nodes at `depth` below `node`; returns how many nodes went.
fn close_at(node: &mut Node, depth: usize) -> usize {
    if depth == 0 {
        let removed = count(node);
        if !node.children.is_empty() {
            node.children.clear();
            node.own = 0;
            node.closed = true;
        }
        return removed;
    }
    node.children.values_mut().map(|c| close_at(c, depth - 1)).sum()
}

fn count(node: &Node) -> usize {
    node.children.values().map(|c| 1 + count(c)).sum()
}

/// A group while the subsets are arranged.
enum Group<'a> {
    Prefix(String, &'a Node),
    /// A graph named like a prefix that also has children.
    Own(String, u64),
}

impl<'a> Group<'a> {
    /// What opening this group gives, when it can be opened.
    fn children(&self) -> Option<Vec<Group<'a>>> {
        let Group::Prefix(prefix, node) = self else { return None };
        if node.closed || node.children.is_empty() {
            return None;
        }
        let mut kids: Vec<Group<'a>> = Vec::new();
        if node.own > 0 {
            kids.push(Group::Own(prefix.clone(), node.own_triples()));
        }
        kids.extend(node.children.iter().map(|(p, n)| Group::Prefix(p.clone(), n)));
        // A prefix whose only child is a graph of the same name opens no further.
        if kids.len() == 1 && matches!(kids[0], Group::Own(..)) {
            return None;
        }
        Some(kids)
    }

    fn subset(self) -> Option<Subset> {
        match self {
            Group::Own(name, n) => Some(Subset::Graph(NamedNode::new_unchecked(name), n)),
            Group::Prefix(_, node) if node.graphs == 0 => None,
            Group::Prefix(prefix, node) => match node.own > 0 && node.children.is_empty() && !node.closed {
                true => Some(Subset::Graph(NamedNode::new_unchecked(prefix), node.triples)),
                false => Some(Subset::Summary { prefix, graphs: node.graphs, triples: node.triples }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrange(names: &[String], budget: usize) -> Vec<Subset> {
        let mut tree = PrefixTree::new(budget);
        for n in names {
            tree.insert(n, 2);
        }
        tree.subsets()
    }

    #[test]
    fn a_tree_kept_from_changes_equals_one_built_whole() {
        let names: Vec<String> = (0..40).map(|i| format!("http://e.example/{}/g{i}", i % 4)).collect();
        let mut kept = PrefixTree::new(10);
        for n in &names {
            kept.add(n, 1, 0);
            kept.add(n, 0, 3);
        }
        for n in &names[..10] {
            kept.add(n, 0, -3);
            kept.add(n, -1, 0);
        }
        let mut whole = PrefixTree::new(10);
        for n in &names[10..] {
            whole.insert(n, 3);
        }
        assert_eq!(kept, whole);
        assert_eq!(kept.subsets(), whole.subsets());
    }

    #[test]
    fn few_graphs_keep_a_subset_each() {
        let names: Vec<String> = ["http://a.example/g/1", "http://a.example/g/2", "https://b.example/x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = arrange(&names, 10);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|s| matches!(s, Subset::Graph(_, 2))));
    }

    #[test]
    fn many_graphs_are_summarised_under_their_prefix_and_small_families_stay_listed() {
        let mut names: Vec<String> = (0..500).map(|i| format!("http://e.example/article/g{i}/s{}", i % 3)).collect();
        names.extend((0..5).map(|i| format!("http://e.example/source/{i}")));
        names.push("http://e.example/inferred".to_owned());
        let got = arrange(&names, 20);
        assert!(got.len() <= 20, "{got:?}");
        assert!(got.contains(&Subset::Summary {
            prefix: "http://e.example/article/".into(),
            graphs: 500,
            triples: 1000
        }));
        assert!(got.contains(&Subset::Graph(NamedNode::new_unchecked("http://e.example/inferred"), 2)));
        assert_eq!(got.iter().filter(|s| matches!(s, Subset::Graph(..))).count(), 6);
        let total: u64 = got.iter().map(Subset::triples).sum();
        assert_eq!(total, 2 * names.len() as u64, "every statement is in exactly one subset");
    }

    #[test]
    fn a_graph_named_like_a_prefix_of_others_is_kept_apart() {
        let names: Vec<String> = vec!["http://e.example/g".into(), "http://e.example/g/1".into()];
        assert_eq!(arrange(&names, 5).len(), 2);
        let names: Vec<String> = vec!["http://e.example/g/".into(), "http://e.example/g/1".into()];
        let got = arrange(&names, 5);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.contains(&Subset::Graph(NamedNode::new_unchecked("http://e.example/g/"), 2)));
    }

    #[test]
    fn memory_is_bounded_by_the_budget_not_the_graphs() {
        let mut tree = PrefixTree::new(10);
        for i in 0..100_000 {
            tree.insert(&format!("http://e.example/a/{i}/s/{}", i % 7), 1);
        }
        assert!(tree.nodes < 100, "{} prefixes kept", tree.nodes);
        let got = tree.subsets();
        assert_eq!(got.iter().map(Subset::triples).sum::<u64>(), 100_000);
    }
}
