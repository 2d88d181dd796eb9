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

/// Whose default graph the endpoint's queries see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultGraph {
    /// The union of all graphs (`sd:UnionDefaultGraph`).
    Union,
    /// The store's own default graph.
    Own,
    /// A remote engine's: its own setting, which the description does not claim.
    Engine,
}

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
    let Endpoint { url: endpoint, default_graph, named_graphs, catalogue, inference, search } = *endpoint;
    let mut graph = Graph::new();
    let service = NamedNode::new(endpoint).unwrap_or_else(|_| NamedNode::new_unchecked("urn:treaty-kg:endpoint"));
    let rdf_type = NamedNode::new_unchecked(RDF_TYPE);
    let mut add = |s: &NamedOrBlankNode, p: NamedNode, o: Term| {
        graph.insert(&Triple::new(s.clone(), p, o));
    };
    let s: NamedOrBlankNode = service.clone().into();
    add(&s, rdf_type.clone(), sd("Service").into());
    add(&s, sd("endpoint"), service.clone().into());
    add(&s, sd("supportedLanguage"), sd("SPARQL11Query").into());
    add(&s, sd("supportedLanguage"), sd("SPARQL11Update").into());
    // Basic graph patterns match under simple entailment; what RDFS would add by
    // subclass and subproperty (rules rdfs9, rdfs7) is materialized in a graph of
    // its own, which the comment names (no fuller regime is claimed).
    add(&s, sd("defaultEntailmentRegime"), NamedNode::new_unchecked("http://www.w3.org/ns/entailment/Simple").into());
    let entailment = if inference {
        format!("Entailment: queries match under simple entailment over data that includes the RDFS subclass and subproperty closure (rules rdfs9 and rdfs7) of every graph, materialized in <{}> and regenerated after each write (off with --no-inference).", crate::inference::INFERRED_GRAPH)
    } else {
        "Entailment: simple; nothing is inferred (the server runs with --no-inference).".to_owned()
    };
    add(
        &s,
        NamedNode::new_unchecked("http://www.w3.org/2000/01/rdf-schema#comment"),
        oxigraph::model::Literal::new_language_tagged_literal_unchecked(entailment, "en").into(),
    );
    add(&s, sd("feature"), sd("EmptyGraphs").into());
    if search {
        // A feature of our own: full-text search as a SERVICE answered in process.
        add(&s, sd("feature"), NamedNode::new_unchecked(crate::search::SERVICE).into());
        add(
            &s,
            NamedNode::new_unchecked("http://www.w3.org/2000/01/rdf-schema#comment"),
            oxigraph::model::Literal::new_language_tagged_literal_unchecked(
                format!("Full-text search: SERVICE <{}> {{ ?hit search:query \"words\" ; search:score ?score ; search:label ?label ; search:snippet ?snippet ; search:limit 20 }} with PREFIX search: <{}>, answered by this server's own index (no outbound request); also GET /search?q=words.", crate::search::SERVICE, crate::search::NS),
                "en",
            )
            .into(),
        );
    }
    if default_graph == DefaultGraph::Engine {
        add(
            &s,
            NamedNode::new_unchecked("http://www.w3.org/2000/01/rdf-schema#comment"),
            oxigraph::model::Literal::new_language_tagged_literal_unchecked(
                "This endpoint fronts a remote SPARQL engine: its default graph is the engine's own (Virtuoso's is the union of all its graphs, its system graphs included), and the named graphs listed are those holding statements.",
                "en",
            )
            .into(),
        );
    } else {
        if default_graph == DefaultGraph::Union {
            add(&s, sd("feature"), sd("UnionDefaultGraph").into());
        }
        // GeoSPARQL's functions, evaluated by the embedded engine (over a remote
        // engine they are the engine's own, and not claimed here).
        for (function, _) in spargeo::GEOSPARQL_EXTENSION_FUNCTIONS {
            add(&s, sd("extensionFunction"), function.into_owned().into());
        }
    }
    for format in RESULT_FORMATS {
        add(&s, sd("resultFormat"), NamedNode::new_unchecked(format!("{FORMATS}{format}")).into());
    }
    for format in INPUT_FORMATS {
        add(&s, sd("inputFormat"), NamedNode::new_unchecked(format!("{FORMATS}{format}")).into());
    }
    if let Some(catalogue) = catalogue {
        // The saved-query catalogue (a dcat:Catalog of the queries this server runs).
        add(
            &s,
            NamedNode::new_unchecked("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
            NamedNode::new_unchecked(catalogue).into(),
        );
    }
    let dataset: NamedOrBlankNode = BlankNode::default().into();
    add(&s, sd("defaultDataset"), dataset.clone().into());
    add(&dataset, rdf_type.clone(), sd("Dataset").into());
    let default_graph: NamedOrBlankNode = BlankNode::default().into();
    add(&dataset, sd("defaultGraph"), default_graph.clone().into());
    add(&default_graph, rdf_type.clone(), sd("Graph").into());
    for name in named_graphs {
        let entry: NamedOrBlankNode = BlankNode::default().into();
        add(&dataset, sd("namedGraph"), entry.clone().into());
        add(&entry, rdf_type.clone(), sd("NamedGraph").into());
        add(&entry, sd("name"), name.clone().into());
    }
    graph
}
