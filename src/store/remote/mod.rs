//! The remote backend: any SPARQL 1.1 engine (Virtuoso, `oxigraph serve`, a
//! GraphDB or Stardog cluster, Neptune, QLever) behind its query and update
//! endpoints. By default everything goes through SPARQL: graph reads are
//! CONSTRUCT and SELECT, graph writes are `DROP SILENT` and `INSERT DATA` in one
//! request, existence is ASK (engines' Graph Store endpoints disagree with the
//! Recommendation too often; see `../shared/engines.md`). With
//! `--remote-store`, graph reads and writes go to the engine's own Graph Store
//! instead (`graphs`), which streams large graphs both ways.
//!
//! What stays ours: the text is parsed here first (depth limit, syntax errors
//! with positions), `SERVICE` and `LOAD` are refused by walking the algebra
//! before anything is sent, saved-query values are bound in the algebra and the
//! bound query is serialized and sent, and the token is checked before that.
//!
//! The data version lives in the engine, in the ledger graph, so that several
//! treaty-kg in front of one engine agree: each write through treaty-kg sets a
//! fresh `tkg:lastWrite` in the same request, and the version is a digest of it
//! and of the engine's statement count, polled (`--remote-version-poll`) to
//! notice writes made to the engine directly.

mod client;
mod graphs;
mod load;
mod reads;

pub use client::EngineStats;

use super::error::{BadAnswer, StoreError};
use super::job::{GraphTarget, GraphWrite, ProtocolDataset, RemoteConfig};
use super::running::RunningGuard;
use super::version::{Ledger, SourceRecord};
use crate::sources::SourceFile;
use crate::sparql::{checkpoints, results};
use crate::vocab;
use client::{body_reader, Body, Client, Exchange};
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term, Triple};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsParser, ReaderQueryResultsParserOutput};
use oxigraph::sparql::{QueryEvaluationError, QueryResults, QuerySolutionIter, QueryTripleIter};
use std::fmt::Write as _;
use std::io::Write;

const RESULTS_JSON: &str = "application/sparql-results+json";
const TURTLE: &str = "text/turtle";

/// One page of distinct triples, their count, and whether the count is exact.
pub type TriplePage = (Vec<Triple>, usize, bool);

/// A remote SPARQL engine.
pub struct Remote {
    config: RemoteConfig,
    client: Client,
}

fn bad_answer(e: impl std::fmt::Display) -> QueryEvaluationError {
    QueryEvaluationError::Dataset(Box::new(BadAnswer(e.to_string())))
}

impl Remote {
    pub fn open(config: RemoteConfig) -> Result<Self, StoreError> {
        let client = Client::new(config.credentials.clone(), config.timeout)?;
        Ok(Remote { config, client })
    }

    pub fn stats(&self) -> &EngineStats {
        &self.client.stats
    }

    fn exchange<'a>(&'a self, url: &'a str, form: Vec<(&'a str, String)>, accept: &'static str) -> Exchange<'a> {
        Exchange { url, method: reqwest::Method::POST, body: Body::Form(form), accept }
    }

    /// A SELECT sent as text; its solutions, streamed.
    fn select(
        &self,
        text: String,
        dataset: &ProtocolDataset,
        guard: Option<&RunningGuard>,
    ) -> Result<QuerySolutionIter<'static>, StoreError> {
        self.select_reporting(text, dataset, guard).map(|(solutions, _)| solutions)
    }

    /// [`Self::select`], with the row limit the engine cut the answer at, when
    /// it says so (Virtuoso answers at most `ResultSetMaxRows`, 10,000 by
    /// default, and says so only in its `X-SPARQL-MaxRows` header).
    fn select_reporting(
        &self,
        text: String,
        dataset: &ProtocolDataset,
        guard: Option<&RunningGuard>,
    ) -> Result<(QuerySolutionIter<'static>, Option<usize>), StoreError> {
        let mut form = vec![("query", text)];
        dataset_form(&mut form, dataset, "default-graph-uri", "named-graph-uri");
        let response = self.client.send(&self.exchange(&self.config.query, form, RESULTS_JSON), guard)?;
        let cap = response
            .headers()
            .get("x-sparql-maxrows")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        let reader = body_reader(response, guard.map(|g| g.token.clone()));
        match QueryResultsParser::from_format(QueryResultsFormat::Json).for_reader(reader) {
            Ok(ReaderQueryResultsParserOutput::Solutions(solutions)) => {
                let variables = solutions.variables().to_vec().into();
                Ok((QuerySolutionIter::new(variables, solutions.map(|s| s.map_err(bad_answer))), cap))
            }
            Ok(ReaderQueryResultsParserOutput::Boolean(b)) => {
                Err(StoreError::EngineUnavailable(format!("the engine answered a SELECT with a boolean ({b})")))
            }
            Err(e) => Err(StoreError::EngineUnavailable(BadAnswer(e.to_string()).to_string())),
        }
    }

    fn ask(&self, text: String, dataset: &ProtocolDataset, guard: Option<&RunningGuard>) -> Result<bool, StoreError> {
        let mut form = vec![("query", text)];
        dataset_form(&mut form, dataset, "default-graph-uri", "named-graph-uri");
        let response = self.client.send(&self.exchange(&self.config.query, form, RESULTS_JSON), guard)?;
        let reader = body_reader(response, guard.map(|g| g.token.clone()));
        match QueryResultsParser::from_format(QueryResultsFormat::Json).for_reader(reader) {
            Ok(ReaderQueryResultsParserOutput::Boolean(b)) => Ok(b),
            Ok(_) => Err(StoreError::EngineUnavailable("the engine answered an ASK with solutions".into())),
            Err(e) => Err(StoreError::EngineUnavailable(BadAnswer(e.to_string()).to_string())),
        }
    }

    /// A CONSTRUCT or DESCRIBE sent as text; its triples, streamed (Turtle).
    fn construct(
        &self,
        text: String,
        dataset: &ProtocolDataset,
        guard: Option<&RunningGuard>,
    ) -> Result<QueryTripleIter<'static>, StoreError> {
        let mut form = vec![("query", text)];
        dataset_form(&mut form, dataset, "default-graph-uri", "named-graph-uri");
        let response = self.client.send(&self.exchange(&self.config.query, form, TURTLE), guard)?;
        let reader = body_reader(response, guard.map(|g| g.token.clone()));
        let triples = RdfParser::from_format(RdfFormat::Turtle)
            .for_reader(reader)
            .map(|q| q.map(Triple::from).map_err(bad_answer));
        Ok(QueryTripleIter::new(triples))
    }

    /// Sends an update, followed in the same request by a fresh ledger entry.
    fn run_update(
        &self,
        text: &str,
        dataset: &ProtocolDataset,
        guard: Option<&RunningGuard>,
    ) -> Result<(), StoreError> {
        // The serializer ends each operation with ` ;`: one separator, then the ledger's.
        let text = text.trim_end().trim_end_matches(';').trim_end();
        // On a line of its own: the text may end with a comment.
        let mut form = vec![("update", format!("{text}\n;\n{}", ledger_write()))];
        dataset_form(&mut form, dataset, "using-graph-uri", "using-named-graph-uri");
        self.client.send(&self.exchange(&self.config.update, form, "*/*"), guard)?;
        Ok(())
    }

    /// A fresh ledger entry alone, after a write the Graph Store made (not in the
    /// same request: a Graph Store request carries one graph).
    fn bump_ledger(&self, guard: &RunningGuard) -> Result<(), StoreError> {
        let form = vec![("update", ledger_write())];
        self.client.send(&self.exchange(&self.config.update, form, "*/*"), Some(guard))?;
        Ok(())
    }

    /// Runs a (bound) query on the engine, after refusing `SERVICE` here:
    /// otherwise the engine would make that request itself.
    /// `text` is the user's own text when nothing was bound into it (else the
    /// bound query is serialized).
    pub fn evaluate(
        &self,
        query: spargebra::Query,
        text: Option<String>,
        dataset: &ProtocolDataset,
        guard: &RunningGuard,
    ) -> Result<QueryResults<'static>, StoreError> {
        if checkpoints::query_calls_service(&query) {
            return Err(super::error::service_refusal());
        }
        let text = text.unwrap_or_else(|| query.to_string());
        Ok(match query {
            spargebra::Query::Construct { .. } | spargebra::Query::Describe { .. } => {
                QueryResults::Graph(self.construct(text, dataset, Some(guard))?)
            }
            spargebra::Query::Ask { .. } => QueryResults::Boolean(self.ask(text, dataset, Some(guard))?),
            spargebra::Query::Select { .. } => {
                let (solutions, cap) = self.select_reporting(text, dataset, Some(guard))?;
                if let Some(cap) = cap {
                    guard.engine_row_cap.store(cap, std::sync::atomic::Ordering::SeqCst);
                }
                QueryResults::Solutions(solutions)
            }
        })
    }

    /// Applies a checked update on the engine, after refusing `SERVICE` here:
    /// the user's own `text` (as parsed into `update`) is sent.
    pub fn update(
        &self,
        update: spargebra::Update,
        text: &str,
        dataset: &ProtocolDataset,
        guard: &RunningGuard,
    ) -> Result<(), StoreError> {
        if checkpoints::update_calls_service(&update) {
            return Err(super::error::service_refusal());
        }
        self.run_update(text, dataset, Some(guard))
    }
}

/// The group pattern of a triple pattern over the engine's named graphs (the
/// ledger left out), with `?s ?p ?o` bound to the pattern's terms: constants
/// stay in the triple pattern (where engines use their indexes) and are bound
/// to the variables after it.
fn matching(subject: Option<&NamedOrBlankNode>, predicate: Option<&NamedNode>, object: Option<&Term>) -> String {
    let mut binds = String::new();
    let mut position = |term: Option<String>, variable: &str| match term {
        Some(term) => {
            write!(binds, " BIND({term} AS {variable})").expect("a String");
            term
        }
        None => variable.to_owned(),
    };
    let s = position(subject.map(ToString::to_string), "?s");
    let p = position(predicate.map(ToString::to_string), "?p");
    let o = position(object.map(ToString::to_string), "?o");
    format!("GRAPH ?g {{ {s} {p} {o} }} FILTER(?g != <{}>){binds}", vocab::LEDGER_GRAPH)
}

/// The engine's Graph Store URL for a graph (indirect identification).
fn graph_store_url(store: &str, target: &GraphTarget) -> String {
    let separator = if store.contains('?') { '&' } else { '?' };
    match target {
        GraphTarget::Default => format!("{store}{separator}default"),
        GraphTarget::Named(g) => format!(
            "{store}{separator}graph={}",
            form_urlencoded::byte_serialize(g.as_str().as_bytes()).collect::<String>()
        ),
    }
}

/// The protocol's dataset parameters for a request to the engine.
fn dataset_form(form: &mut Vec<(&str, String)>, dataset: &ProtocolDataset, default: &'static str, named: &'static str) {
    for g in &dataset.default_graphs {
        form.push((default, g.as_str().to_owned()));
    }
    for g in &dataset.named_graphs {
        form.push((named, g.as_str().to_owned()));
    }
}

/// An insertion of `quads`, grouped by graph. `INSERT { … } WHERE { … }`, not
/// `INSERT DATA`: Virtuoso refuses blank nodes in `INSERT DATA`, and in a
/// template each blank node label makes one fresh blank node, as in the body.
/// Virtuoso 7.2 also fails (500, SR002) on a template of two or more
/// `GRAPH <iri>` blocks when every triple has a blank node, and takes the same
/// with each graph a variable bound in the `WHERE` clause: so such a template
/// names its graphs so (any other keeps the IRIs, which every engine takes in
/// any number).
fn insert_data(quads: &[Quad]) -> String {
    let mut text = String::from("INSERT {\n");
    let mut by_graph: std::collections::BTreeMap<String, Vec<&Quad>> = std::collections::BTreeMap::new();
    for q in quads {
        by_graph.entry(q.graph_name.to_string()).or_default().push(q);
    }
    let blank = |t: &oxigraph::model::Term| t.is_blank_node();
    let all_blank = quads.iter().all(|q| q.subject.is_blank_node() || blank(&q.object));
    let bind = all_blank && by_graph.len() > 1;
    let mut binds = String::new();
    for (i, (graph, quads)) in by_graph.into_iter().enumerate() {
        let triples: String = quads.iter().map(|q| format!("{} {} {} .\n", q.subject, q.predicate, q.object)).collect();
        if graph == GraphName::DefaultGraph.to_string() {
            text.push_str(&triples);
        } else if bind {
            write!(text, "GRAPH ?g{i} {{\n{triples}}}\n").expect("a String");
            write!(binds, "BIND({graph} AS ?g{i}) ").expect("a String");
        } else {
            write!(text, "GRAPH {graph} {{\n{triples}}}\n").expect("a String");
        }
    }
    write!(text, "}} WHERE {{ {binds}}}").expect("a String");
    text
}

/// The ledger update that rides with every write: a fresh id for the last write.
fn ledger_write() -> String {
    let ledger = vocab::LEDGER_GRAPH;
    let id = format!(
        "{:x}-{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
        std::process::id()
    );
    format!(
        "DELETE WHERE {{ GRAPH <{ledger}> {{ <{ledger}> <{last}> ?w }} }} ;\nINSERT DATA {{ GRAPH <{ledger}> {{ <{ledger}> <{last}> \"{id}\" }} }}",
        last = vocab::LAST_WRITE
    )
}

#[cfg(test)]
mod tests {
    use super::insert_data;
    use oxigraph::model::{BlankNode, GraphName, NamedNode, Quad};

    #[test]
    fn graphs_are_variables_only_where_every_triple_has_a_blank_node() {
        let p = NamedNode::new_unchecked("http://e/p");
        let graph = |g: &str| GraphName::from(NamedNode::new_unchecked(g));
        let blank = |g: &str| Quad::new(BlankNode::default(), p.clone(), p.clone(), graph(g));
        let ground = |g: &str| Quad::new(p.clone(), p.clone(), p.clone(), graph(g));
        let text = insert_data(&[blank("http://e/g1"), blank("http://e/g2")]);
        assert!(text.contains("GRAPH ?g0") && text.contains("BIND(<http://e/g1> AS ?g0)"), "{text}");
        spargebra::SparqlParser::new().parse_update(&text).unwrap();
        let text = insert_data(&[blank("http://e/g1"), ground("http://e/g2")]);
        assert!(text.contains("GRAPH <http://e/g1>") && !text.contains("BIND"), "{text}");
        spargebra::SparqlParser::new().parse_update(&text).unwrap();
    }
}
