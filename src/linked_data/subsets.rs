//! Which named graphs VoID describes one by one, and which it summarises.
//!
//! A store may hold thousands of graphs (one per sentence of every article, or
//! per generated article): a subset for each made VoID 37 MB at 1M quads. So the
//! graphs are arranged in the tree of their IRIs' path prefixes (each ending at
//! a `/`), and a prefix is opened to its children as long as the description
//! stays within a budget of subsets, the prefixes with the fewest children first.
//! What stays closed is one summary subset: how many graphs under that prefix,
//! and their statements. The knowledge graph's own graphs (sources, sentences,
//! ontology, inferred) are few, and keep a subset each.

use oxigraph::model::NamedNode;
use std::collections::BTreeMap;

/// The most subsets VoID lists.
pub const MAX_SUBSETS: usize = 100;

/// A subset of the dataset, as VoID describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Subset {
    /// One named graph and its statements.
    Graph(NamedNode, u64),
    /// The graphs whose names start with `prefix`: how many, and their statements.
    Summary { prefix: String, graphs: u64, triples: u64 },
    /// The graphs no other subset covers: those an engine's cut listing never
    /// showed, and graphs named by blank nodes. How many, and their statements.
    Rest { graphs: u64, triples: u64 },
}

/// A node of the prefix tree: a prefix and the graphs (indices) under it.
struct Group {
    prefix: String,
    members: Vec<usize>,
}

/// The next prefix of `iri` after `prefix`: up to and including the next `/`,
/// or the whole IRI when no `/` follows.
fn next_prefix<'a>(iri: &'a str, prefix: &str) -> &'a str {
    match iri[prefix.len()..].find('/') {
        Some(i) => &iri[..prefix.len() + i + 1],
        None => iri,
    }
}

/// Whether a group is one graph (nothing left to open).
fn is_leaf(group: &Group, graphs: &[(NamedNode, u64)]) -> bool {
    group.members.len() == 1 && graphs[group.members[0]].0.as_str() == group.prefix
}

fn children(group: &Group, graphs: &[(NamedNode, u64)]) -> Vec<Group> {
    let mut by_prefix: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &group.members {
        by_prefix.entry(next_prefix(graphs[i].0.as_str(), &group.prefix)).or_default().push(i);
    }
    by_prefix.into_iter().map(|(prefix, members)| Group { prefix: prefix.to_owned(), members }).collect()
}

/// The subsets for `graphs` (each with its statement count), at most `budget`
/// of them (more only when there are more than `budget` distinct top prefixes,
/// which no IRI scheme has), in IRI order.
pub fn subsets(graphs: &[(NamedNode, u64)], budget: usize) -> Vec<Subset> {
    let mut groups = vec![Group { prefix: String::new(), members: (0..graphs.len()).collect() }];
    loop {
        // Open each closed prefix whose children still fit, fewest children first.
        let mut opened = false;
        let mut candidates: Vec<(usize, Vec<Group>)> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !is_leaf(g, graphs))
            .map(|(i, g)| (i, children(g, graphs)))
            .collect();
        candidates.sort_by_key(|(_, kids)| kids.len());
        let mut count = groups.len();
        let mut replaced: BTreeMap<usize, Vec<Group>> = BTreeMap::new();
        for (i, kids) in candidates {
            // A group whose one child is itself (a name listed twice) opens no further.
            if kids.len() == 1 && kids[0].prefix == groups[i].prefix {
                continue;
            }
            if count - 1 + kids.len() <= budget.max(1) || kids.len() == 1 {
                count = count - 1 + kids.len();
                replaced.insert(i, kids);
                opened = true;
            }
        }
        if !opened {
            break;
        }
        groups = std::mem::take(&mut groups)
            .into_iter()
            .enumerate()
            .flat_map(|(i, g)| replaced.remove(&i).unwrap_or_else(|| vec![g]))
            .collect();
    }
    groups
        .into_iter()
        .filter(|g| !g.members.is_empty())
        .map(|g| {
            if is_leaf(&g, graphs) {
                let (name, n) = &graphs[g.members[0]];
                Subset::Graph(name.clone(), *n)
            } else {
                let triples = g.members.iter().map(|&i| graphs[i].1).sum();
                Subset::Summary { prefix: g.prefix, graphs: g.members.len() as u64, triples }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graphs(names: &[String]) -> Vec<(NamedNode, u64)> {
        names.iter().map(|n| (NamedNode::new_unchecked(n.clone()), 2)).collect()
    }

    #[test]
    fn few_graphs_keep_a_subset_each() {
        let names: Vec<String> = ["http://a.example/g/1", "http://a.example/g/2", "https://b.example/x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = subsets(&graphs(&names), 10);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|s| matches!(s, Subset::Graph(_, 2))));
    }

    #[test]
    fn many_graphs_are_summarised_under_their_prefix_and_small_families_stay_listed() {
        let mut names: Vec<String> = (0..500).map(|i| format!("http://e.example/article/g{i}/s{}", i % 3)).collect();
        names.extend((0..5).map(|i| format!("http://e.example/source/{i}")));
        names.push("http://e.example/inferred".to_owned());
        names.sort();
        let got = subsets(&graphs(&names), 20);
        assert!(got.len() <= 20, "{got:?}");
        assert!(got.contains(&Subset::Summary {
            prefix: "http://e.example/article/".into(),
            graphs: 500,
            triples: 1000
        }));
        assert!(got.contains(&Subset::Graph(NamedNode::new_unchecked("http://e.example/inferred"), 2)));
        assert_eq!(got.iter().filter(|s| matches!(s, Subset::Graph(..))).count(), 6);
        // Nothing is lost: every statement is in exactly one subset.
        let total: u64 = got
            .iter()
            .map(|s| match s {
                Subset::Graph(_, n) => *n,
                Subset::Summary { triples, .. } | Subset::Rest { triples, .. } => *triples,
            })
            .sum();
        assert_eq!(total, 2 * names.len() as u64);
    }

    #[test]
    fn a_graph_named_like_a_prefix_of_others_is_kept_apart() {
        let names: Vec<String> = vec!["http://e.example/g".into(), "http://e.example/g/1".into()];
        let got = subsets(&graphs(&names), 5);
        assert_eq!(got.len(), 2, "{got:?}");
    }
}
