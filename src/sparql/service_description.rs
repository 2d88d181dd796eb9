//! The SPARQL 1.1 Service Description of the endpoint, as an RDF graph.
//!
//! Built from what the server really does (languages, result formats, whether the
//! default graph is the union, the named graphs of the store), so it cannot drift
//! from the behaviour it describes.

use crate::vocab::{FORMATS, RDF_TYPE, SD};
use oxigraph::model::{BlankNode, Graph, NamedNode, NamedOrBlankNode, Term, Triple};

/// Formats the endpoint writes, as W3C format IRIs (`http://www.w3.org/ns/formats/…`).
const RESULT_FORMATS: &[&str] = &[
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "N-Quads",
    "TriG",
    "RDF_XML",
    "JSON-LD",
];

/// Formats the Graph Store and update endpoints read.
const INPUT_FORMATS: &[&str] = &["Turtle", "N-Triples", "N-Quads", "TriG", "RDF_XML", "JSON-LD"];

fn sd(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{SD}{local}"))
}

pub use crate::store::DefaultGraph;

/// What the description states of the endpoint.
pub struct Endpoint<'a> {
    /// The endpoint's absolute URL.
    pub url: &'a str,
    pub default_graph: DefaultGraph,
    /// The named graphs listed.
    pub named_graphs: &'a [NamedNode],
    /// The saved-query catalogue's URL, when there is one.
    pub catalogue: Option<&'a str>,
    /// Whether the RDFS closure is materialized.
    pub inference: bool,
    /// Whether the full-text search service answers.
    pub search: bool,
}

/// Describes `endpoint`. In front of a remote engine the default graph is the
/// engine's own setting: the description says so instead of claiming either.
pub fn describe(endpoint: &Endpoint<'_>) -> Graph {
    let service = NamedNode::new(endpoint.url).unwrap_or_else(|_| NamedNode::new_unchecked("urn:treaty-kg:endpoint"));
    let mut out = Description { graph: Graph::new(), service: service.clone().into() };
    out.about(RDF_TYPE, sd("Service").into());
    out.says("endpoint", service.into());
    out.says("supportedLanguage", sd("SPARQL11Query").into());
    out.says("supportedLanguage", sd("SPARQL11Update").into());
    // Basic graph patterns match under simple entailment; what RDFS would add by
    // subclass and subproperty (rules rdfs9, rdfs7) is materialized in a graph of
    // its own, which the comment names (no fuller regime is claimed).
    out.says("defaultEntailmentRegime", NamedNode::new_unchecked("http://www.w3.org/ns/entailment/Simple").into());
    out.comment(&if endpoint.inference {
        format!("Entailment: queries match under simple entailment over data that includes the RDFS subclass and subproperty closure (rules rdfs9 and rdfs7) of every graph, materialized in <{}> and regenerated after each write (off with --no-inference).", crate::inference::INFERRED_GRAPH)
    } else {
        "Entailment: simple; nothing is inferred (the server runs with --no-inference).".to_owned()
    });
    out.says("feature", sd("EmptyGraphs").into());
    if endpoint.search {
        // A feature of our own: full-text search as a SERVICE answered in process.
        out.says("feature", NamedNode::new_unchecked(crate::search::SERVICE).into());
        out.comment(&format!("Full-text search: SERVICE <{}> {{ ?hit search:query \"words\" ; search:score ?score ; search:label ?label ; search:snippet ?snippet ; search:limit 20 }} with PREFIX search: <{}>, answered by this server's own index (no outbound request); also GET /search?q=words.", crate::search::SERVICE, crate::search::NS));
    }
    out.default_graph_and_functions(endpoint.default_graph);
    for format in RESULT_FORMATS {
        out.says("resultFormat", NamedNode::new_unchecked(format!("{FORMATS}{format}")).into());
    }
    for format in INPUT_FORMATS {
        out.says("inputFormat", NamedNode::new_unchecked(format!("{FORMATS}{format}")).into());
    }
    if let Some(catalogue) = endpoint.catalogue {
        // The saved-query catalogue (a dcat:Catalog of the queries this server runs).
        out.about(RDFS_SEE_ALSO, NamedNode::new_unchecked(catalogue).into());
    }
    out.dataset(endpoint.named_graphs);
    out.graph
}

const RDFS_COMMENT: &str = "http://www.w3.org/2000/01/rdf-schema#comment";
const RDFS_SEE_ALSO: &str = "http://www.w3.org/2000/01/rdf-schema#seeAlso";

/// The description being written, about one service.
struct Description {
    graph: Graph,
    service: NamedOrBlankNode,
}

impl Description {
    fn add(&mut self, subject: &NamedOrBlankNode, predicate: &str, object: Term) {
        self.graph.insert(&Triple::new(subject.clone(), NamedNode::new_unchecked(predicate), object));
    }

    /// A statement of the service in the `sd:` vocabulary.
    fn says(&mut self, local: &str, object: Term) {
        let service = self.service.clone();
        self.graph.insert(&Triple::new(service, sd(local), object));
    }

    /// A statement of the service.
    fn about(&mut self, predicate: &str, object: Term) {
        let service = self.service.clone();
        self.add(&service, predicate, object);
    }

    /// An English `rdfs:comment` on the service.
    fn comment(&mut self, text: &str) {
        let text = oxigraph::model::Literal::new_language_tagged_literal_unchecked(text, "en");
        self.about(RDFS_COMMENT, text.into());
    }

    /// Whose default graph it is, and the extension functions the embedded
    /// engine evaluates (over a remote engine they are the engine's own, and
    /// not claimed here).
    fn default_graph_and_functions(&mut self, default_graph: DefaultGraph) {
        match default_graph {
            DefaultGraph::Engine => self.comment("This endpoint fronts a remote SPARQL engine: its default graph is the engine's own (Virtuoso's is the union of all its graphs, its system graphs included), and the named graphs listed are those holding statements."),
            DefaultGraph::Union | DefaultGraph::Own => {
                if default_graph == DefaultGraph::Union {
                    self.says("feature", sd("UnionDefaultGraph").into());
                }
                for (function, _) in spargeo::GEOSPARQL_EXTENSION_FUNCTIONS {
                    self.says("extensionFunction", function.into_owned().into());
                }
            }
        }
    }

    /// The default dataset: its default graph and every named graph listed.
    fn dataset(&mut self, named_graphs: &[NamedNode]) {
        let dataset: NamedOrBlankNode = BlankNode::default().into();
        self.says("defaultDataset", dataset.clone().into());
        self.add(&dataset, RDF_TYPE, sd("Dataset").into());
        let default_graph: NamedOrBlankNode = BlankNode::default().into();
        self.graph.insert(&Triple::new(dataset.clone(), sd("defaultGraph"), default_graph.clone()));
        self.add(&default_graph, RDF_TYPE, sd("Graph").into());
        for name in named_graphs {
            let entry: NamedOrBlankNode = BlankNode::default().into();
            self.graph.insert(&Triple::new(dataset.clone(), sd("namedGraph"), entry.clone()));
            self.add(&entry, RDF_TYPE, sd("NamedGraph").into());
            self.graph.insert(&Triple::new(entry, sd("name"), name.clone()));
        }
    }
}
