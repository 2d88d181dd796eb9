//! The VoID description of the dataset, computed from the store by SPARQL (so
//! it works over any backend): statements per named graph and in all of them, class and
//! property partitions, vocabularies used, endpoints, dump, URI space and licence.
//! Named graphs get a subset each while they are few, and are summarised by IRI
//! prefix beyond that ([`super::subsets`]), so the description stays small.
//! The subsets add up to the dataset: what none names or covers by prefix is
//! one rest subset.
//!
//! The counts are of statements, in streaming aggregates whose memory is bounded
//! by the number of graphs, classes and properties, never by the data: a triple
//! stated in two graphs counts twice, and `void:entities` counts `rdf:type`
//! statements. (Counting distinct triples needs memory proportional to the data.)

use crate::store::{KgStore, QueryJob, StoreError};
use crate::summary::layout::{PrefixTree, Subset, MAX_SUBSETS};
pub use crate::summary::stats::Statistics;
use crate::vocab;
use oxigraph::model::{BlankNode, Graph, Literal, NamedNode, NamedOrBlankNode, Term, Triple};

const VOID: &str = "http://rdfs.org/ns/void#";
const DCTERMS: &str = "http://purl.org/dc/terms/";
const SD: &str = "http://www.w3.org/ns/sparql-service-description#";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

/// The most classes or properties listed; VoID says when a list was cut.
const MAX_PARTITIONS: usize = 100_000;

/// The most graph names read to arrange the subsets (a store with more is
/// described by the first ones read; the total is counted apart). They are
/// not sorted by the engine, for which that is a slow sort of every name
/// (BENCHMARKS.md, "VoID first asked after a write").
const MAX_GRAPH_NAMES: usize = 1_000_000;

fn count(term: &Option<Term>) -> Result<u64, StoreError> {
    crate::store::engine_count(term.as_ref())
}

async fn rows(store: &KgStore, query: String, cap: usize) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
    store.select_rows(QueryJob::text(query, "VoID statistics").scanning_the_whole_store(), cap).await
}

async fn pairs(store: &KgStore, query: String) -> Result<Vec<(NamedNode, u64)>, StoreError> {
    rows(store, query, MAX_PARTITIONS)
        .await?
        .into_iter()
        .filter_map(|row| match (row.first().cloned().flatten(), row.get(1).cloned().flatten()) {
            (Some(Term::NamedNode(n)), c) => Some(count(&c).map(|c| (n, c))),
            _ => None,
        })
        .collect()
}

/// Counts the data. Every query streams with memory bounded by its answer:
/// the statements (one count), the graphs' names, the statements of the graphs
/// listed one by one (only those graphs are read), of each summarised prefix
/// (the largest one by difference), and the class and property partitions.
/// When the listing was cut (by an engine or by [`MAX_GRAPH_NAMES`]) or holds
/// graphs named by blank nodes, the graphs are counted apart, and each
/// summarised prefix's graphs and statements are counted (none by difference);
/// what no subset's name or prefix covers (graphs like none the listing showed)
/// is the rest subset, by difference, so the subsets always add up to the dataset.
/// A `GROUP BY ?g` over all statements is avoided: with a graph per sentence it
/// groups as many rows as there are graphs, many times slower than the count
/// and the names (BENCHMARKS.md, "VoID first asked after a write").
pub async fn statistics_by_sparql(store: &KgStore) -> Result<Statistics, StoreError> {
    let census = store.graph_census(MAX_GRAPH_NAMES).await?;
    let (triples, graph_count) = (census.statements, census.graphs);
    let names: Vec<(NamedNode, u64)> = census.names.into_iter().map(|n| (n, 0)).collect();
    // With a partial listing (or graphs it shows without a name), the
    // summaries' graphs are counted like their statements, not taken from it.
    let partial = graph_count > names.len() as u64;
    let mut tree = PrefixTree::new(MAX_SUBSETS);
    for (name, _) in &names {
        tree.insert(name.as_str(), 0);
    }
    let mut subsets = tree.subsets();
    let mut counted = count_listed(store, &mut subsets).await?;
    counted += count_summaries(store, &mut subsets, partial).await?;
    close_subsets(&mut subsets, partial, (graph_count, triples), counted);
    let classes =
        pairs(store, "SELECT ?c (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s a ?c } } GROUP BY ?c ORDER BY ?c".to_owned())
            .await?
            .into_iter()
            .collect();
    let properties =
        pairs(store, "SELECT ?p (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?p ORDER BY ?p".to_owned())
            .await?
            .into_iter()
            .collect();
    Ok(Statistics::counted(triples, graph_count, subsets, classes, properties))
}

/// Counts the statements of each graph listed by name; returns their sum.
async fn count_listed(store: &KgStore, subsets: &mut [Subset]) -> Result<u64, StoreError> {
    let listed: String = subsets
        .iter()
        .filter_map(|s| match s {
            Subset::Graph(g, _) => Some(format!("<{}> ", g.as_str())),
            Subset::Summary { .. } | Subset::Rest { .. } => None,
        })
        .collect();
    if listed.is_empty() {
        return Ok(0);
    }
    let per_graph = pairs(
        store,
        format!("SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {listed}}} GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g"),
    )
    .await?;
    let mut counted = 0;
    for subset in subsets {
        if let Subset::Graph(g, n) = subset {
            *n = per_graph.iter().find(|(name, _)| name == g).map_or(0, |(_, c)| *c);
            counted += *n;
        }
    }
    Ok(counted)
}

/// The summarised prefix left to be counted by difference: the largest, unless
/// the listing was partial (then the rest would also hold the graphs the
/// listing never showed, under whatever names, and every prefix is counted).
fn by_difference(subsets: &[Subset], partial: bool) -> Option<usize> {
    if partial {
        return None;
    }
    subsets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Subset::Summary { graphs, .. } => Some((*graphs, i)),
            Subset::Graph(..) | Subset::Rest { .. } => None,
        })
        .max()
        .map(|(_, i)| i)
}

/// Counts the statements (and, with a partial listing, the graphs) of every
/// summarised prefix but the one [`by_difference`] leaves; returns their sum.
async fn count_summaries(store: &KgStore, subsets: &mut [Subset], partial: bool) -> Result<u64, StoreError> {
    let largest = by_difference(subsets, partial);
    let mut counted = 0;
    for (i, subset) in subsets.iter_mut().enumerate() {
        let Subset::Summary { prefix, triples, graphs } = subset else { continue };
        if Some(i) == largest {
            continue;
        }
        let literal = prefix.replace('\\', "\\\\").replace('"', "\\\"");
        let pattern = format!("GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), \"{literal}\"))");
        let (n, graphs_under) = store.statement_count(&pattern, partial).await?;
        counted += n;
        *triples = n;
        // Counted only when the listing was partial.
        if let Some(under) = graphs_under {
            *graphs = under;
        }
    }
    Ok(counted)
}

/// Makes the subsets add up to the dataset (`total`: graphs, statements): the
/// prefix left by [`by_difference`] gets what was not counted, or else a rest
/// subset holds what no subset covers.
fn close_subsets(subsets: &mut Vec<Subset>, partial: bool, total: (u64, u64), counted: u64) {
    let (graph_count, triples) = total;
    if let Some(i) = by_difference(subsets, partial) {
        if let Subset::Summary { triples: n, .. } = &mut subsets[i] {
            *n = triples.saturating_sub(counted);
        }
        return;
    }
    let covered: u64 = subsets
        .iter()
        .map(|s| match s {
            Subset::Graph(..) => 1,
            Subset::Summary { graphs, .. } | Subset::Rest { graphs, .. } => *graphs,
        })
        .sum();
    let (rest_graphs, rest_triples) = (graph_count.saturating_sub(covered), triples.saturating_sub(counted));
    if rest_graphs > 0 || rest_triples > 0 {
        subsets.push(Subset::Rest { graphs: rest_graphs, triples: rest_triples });
    }
}

/// The vocabulary namespace of a term (up to its last `#` or `/`).
fn namespace(iri: &str) -> Option<&str> {
    iri.rfind(['#', '/']).map(|i| &iri[..=i])
}

/// The VoID graph for a server at `base`.
pub fn describe(stats: &Statistics, base: &str) -> Graph {
    let dataset: NamedOrBlankNode = NamedNode::new_unchecked(format!("{base}/.well-known/void#dataset")).into();
    let mut out = Void { graph: Graph::new(), dataset: dataset.clone() };
    out.add(&dataset, RDF_TYPE, void("Dataset").into());
    out.text(&dataset, "title", "treaty-kg knowledge graph");
    out.text(
        &dataset,
        "description",
        "States, treaties, officials, threats and military alliances, with the provenance of every statement.",
    );
    let license = NamedNode::new_unchecked("https://creativecommons.org/licenses/by/4.0/");
    out.add(&dataset, &format!("{DCTERMS}license"), license.into());
    out.about("sparqlEndpoint", NamedNode::new_unchecked(format!("{base}/sparql")).into());
    out.about("dataDump", NamedNode::new_unchecked(format!("{base}/dump")).into());
    out.about("uriSpace", Literal::new_simple_literal(format!("{}id/", vocab::BASE_IRI)).into());
    out.about("uriLookupEndpoint", NamedNode::new_unchecked(format!("{base}/id/")).into());
    let root = NamedNode::new_unchecked(format!("{}id/treaty/ottawa-convention", vocab::BASE_IRI));
    out.about("rootResource", root.into());
    out.about("triples", Literal::from(stats.triples as i64).into());
    out.about("classes", Literal::from(stats.classes.len() as i64).into());
    out.about("properties", Literal::from(stats.properties.len() as i64).into());
    out.partitions(stats);
    out.subsets(stats);
    out.graph
}

fn void(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{VOID}{local}"))
}

/// The VoID description being written, about one dataset.
struct Void {
    graph: Graph,
    dataset: NamedOrBlankNode,
}

impl Void {
    fn add(&mut self, subject: &NamedOrBlankNode, predicate: &str, object: Term) {
        self.graph.insert(&Triple::new(subject.clone(), NamedNode::new_unchecked(predicate), object));
    }

    /// A `void:` statement of the dataset.
    fn about(&mut self, local: &str, object: Term) {
        let dataset = self.dataset.clone();
        self.graph.insert(&Triple::new(dataset, void(local), object));
    }

    /// An English `dcterms:` text of `subject`.
    fn text(&mut self, subject: &NamedOrBlankNode, local: &str, text: &str) {
        let text = Literal::new_language_tagged_literal_unchecked(text, "en");
        self.add(subject, &format!("{DCTERMS}{local}"), text.into());
    }

    /// A new blank node, linked from the dataset by `void:{link}`.
    fn part(&mut self, link: &str) -> NamedOrBlankNode {
        let part: NamedOrBlankNode = BlankNode::default().into();
        self.about(link, part.clone().into());
        part
    }

    /// The vocabularies used, and the class and property partitions.
    fn partitions(&mut self, stats: &Statistics) {
        let mut vocabularies: Vec<&str> =
            stats.classes.iter().chain(&stats.properties).filter_map(|(t, _)| namespace(t.as_str())).collect();
        vocabularies.sort();
        vocabularies.dedup();
        for v in vocabularies {
            self.about("vocabulary", NamedNode::new_unchecked(v).into());
        }
        for (class, n) in &stats.classes {
            let part = self.part("classPartition");
            self.graph.insert(&Triple::new(part.clone(), void("class"), class.clone()));
            self.graph.insert(&Triple::new(part, void("entities"), Literal::from(*n as i64)));
        }
        for (property, n) in &stats.properties {
            let part = self.part("propertyPartition");
            self.graph.insert(&Triple::new(part.clone(), void("property"), property.clone()));
            self.graph.insert(&Triple::new(part, void("triples"), Literal::from(*n as i64)));
        }
    }

    /// A subset per named graph while they are few; beyond that, graphs
    /// summarised by IRI prefix; and the default graph's, when it holds any.
    fn subsets(&mut self, stats: &Statistics) {
        if stats.default_triples > 0 {
            self.subset(None, "The default graph", stats.default_triples);
        }
        for subset in &stats.subsets {
            match subset {
                Subset::Graph(graph, n) => self.subset(Some(graph), "", *n),
                Subset::Summary { prefix, graphs, triples } => {
                    self.subset(None, &format!("{graphs} named graphs whose names start with {prefix}"), *triples)
                }
                Subset::Rest { graphs, triples } => {
                    self.subset(None, &format!("{graphs} more named graphs, not listed by name"), *triples)
                }
            }
        }
    }

    /// One subset: a graph by its name, or others by a title.
    fn subset(&mut self, graph: Option<&NamedNode>, title: &str, triples: u64) {
        let part = self.part("subset");
        self.add(&part, RDF_TYPE, void("Dataset").into());
        match graph {
            Some(graph) => self.add(&part, &format!("{SD}name"), graph.clone().into()),
            None => self.text(&part, "title", title),
        }
        self.graph.insert(&Triple::new(part, void("triples"), Literal::from(triples as i64)));
    }
}
