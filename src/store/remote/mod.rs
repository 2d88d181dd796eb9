//! The remote backend: any SPARQL 1.1 engine (Virtuoso, `oxigraph serve`, a
//! GraphDB or Stardog cluster, Neptune, QLever) behind its query and update
//! endpoints. Everything a user does goes through SPARQL only: graph reads are
//! CONSTRUCT and SELECT, graph writes are `DROP SILENT` and `INSERT DATA` in one
//! request, existence is ASK (engines' Graph Store endpoints disagree with the
//! Recommendation too often; see `../shared/engines.md`).
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

pub use client::{Credentials, EngineStats};

use super::error::StoreError;
use super::job::{GraphTarget, ProtocolDataset, QueryJob, QuerySource, StoreOptions, UpdateJob};
use super::running::RunningGuard;
use super::version::{Ledger, SourceRecord};
use crate::sources::SourceFile;
use crate::sparql::{checkpoints, parse, results};
use crate::vocab;
use client::{body_reader, Body, Client, Exchange};
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term, Triple};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsParser, ReaderQueryResultsParserOutput};
use oxigraph::sparql::{QueryEvaluationError, QueryResults, QuerySolutionIter, QueryTripleIter};
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

const RESULTS_JSON: &str = "application/sparql-results+json";
const TURTLE: &str = "text/turtle";

/// Where the engine is, and how to talk to it.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The SPARQL 1.1 query endpoint.
    pub query: String,
    /// The update endpoint (often the same URL).
    pub update: String,
    /// The engine's Graph Store endpoint (indirect `?graph=` identification):
    /// when given, graph reads and writes use it instead of SPARQL.
    pub store: Option<String>,
    pub credentials: Option<Credentials>,
    /// Deadline of each request to the engine.
    pub timeout: Duration,
    /// How often the data version is read from the engine.
    pub version_poll: Duration,
}

/// One page of distinct triples, their count, and whether the count is exact.
pub type TriplePage = (Vec<Triple>, usize, bool);

/// A remote SPARQL engine.
pub struct Remote {
    config: RemoteConfig,
    client: Client,
}

/// A fault in reading an engine's answer, carried through the engine's error type.
#[derive(Debug, thiserror::Error)]
#[error("the engine's answer does not parse: {0}")]
pub struct BadAnswer(pub String);

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
        let mut form = vec![("query", text)];
        dataset_form(&mut form, dataset, "default-graph-uri", "named-graph-uri");
        let response = self.client.send(&self.exchange(&self.config.query, form, RESULTS_JSON), guard)?;
        let reader = body_reader(response, guard.map(|g| g.token.clone()));
        match QueryResultsParser::from_format(QueryResultsFormat::Json).for_reader(reader) {
            Ok(ReaderQueryResultsParserOutput::Solutions(solutions)) => {
                let variables = solutions.variables().to_vec().into();
                Ok(QuerySolutionIter::new(variables, solutions.map(|s| s.map_err(bad_answer))))
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
        let mut form = vec![("update", format!("{text} ;\n{}", ledger_write()))];
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

    /// Parses (when needed), checks and binds a query, then runs it on the engine.
    pub fn evaluate(
        &self,
        job: QueryJob,
        options: &StoreOptions,
        graph_form: Option<bool>,
        guard: &RunningGuard,
    ) -> Result<QueryResults<'static>, StoreError> {
        let query = match job.query {
            QuerySource::Parsed(query) => *query,
            QuerySource::Text { text, base } => parse::query(&text, base.as_deref(), options.max_depth)?,
        };
        if checkpoints::query_calls_service(&query) {
            return Err(super::error::service_refusal());
        }
        let is_graph = matches!(query, spargebra::Query::Construct { .. } | spargebra::Query::Describe { .. });
        if graph_form.is_some_and(|expected| expected != is_graph) {
            return Err(StoreError::Request(
                "the query's form differs from the one its text starts with; send one query per request".into(),
            ));
        }
        let query = crate::sparql::bind::bind(query, &job.bindings).map_err(|e| StoreError::Request(e.to_string()))?;
        let is_ask = matches!(query, spargebra::Query::Ask { .. });
        let text = query.to_string();
        if is_graph {
            Ok(QueryResults::Graph(self.construct(text, &job.dataset, Some(guard))?))
        } else if is_ask {
            Ok(QueryResults::Boolean(self.ask(text, &job.dataset, Some(guard))?))
        } else {
            Ok(QueryResults::Solutions(self.select(text, &job.dataset, Some(guard))?))
        }
    }

    /// Parses and checks an update here, then applies it on the engine.
    pub fn update(&self, job: UpdateJob, options: &StoreOptions, guard: &RunningGuard) -> Result<(), StoreError> {
        let update = parse::update(&job.text, job.base.as_deref(), options.max_depth)?;
        if update.operations.iter().any(|op| matches!(op, spargebra::GraphUpdateOperation::Load { .. })) {
            return Err(StoreError::Refused(
                "LOAD is switched off: this server makes no outbound requests, nor lets the engine make them".into(),
            ));
        }
        if checkpoints::update_calls_service(&update) {
            return Err(super::error::service_refusal());
        }
        crate::sparql::protocol::check_update_dataset(&update, &job.dataset).map_err(StoreError::Request)?;
        self.run_update(&update.to_string(), &job.dataset, Some(guard))
    }

    /// The quads matching a pattern in the engine's named graphs (the ledger
    /// left out). Blank nodes cannot be addressed across requests: a pattern
    /// with one matches nothing.
    pub fn quads(
        &self,
        subject: Option<&NamedOrBlankNode>,
        predicate: Option<&NamedNode>,
        object: Option<&Term>,
        graph: Option<&GraphName>,
        guard: &RunningGuard,
    ) -> Result<Box<dyn Iterator<Item = Result<Quad, StoreError>>>, StoreError> {
        if matches!(subject, Some(NamedOrBlankNode::BlankNode(_))) || matches!(object, Some(Term::BlankNode(_))) {
            return Ok(Box::new(std::iter::empty()));
        }
        let s = subject.map_or("?s".to_owned(), ToString::to_string);
        let p = predicate.map_or("?p".to_owned(), ToString::to_string);
        let o = object.map_or("?o".to_owned(), ToString::to_string);
        let text = match graph {
            Some(GraphName::NamedNode(g)) => format!("SELECT * WHERE {{ GRAPH {g} {{ {s} {p} {o} }} }}"),
            Some(_) => format!("SELECT * WHERE {{ {s} {p} {o} }}"),
            None => format!("SELECT * WHERE {{ GRAPH ?g {{ {s} {p} {o} }} FILTER(?g != <{}>) }}", vocab::LEDGER_GRAPH),
        };
        let solutions = self.select(text, &ProtocolDataset::default(), Some(guard))?;
        let (subject, predicate, object, graph) =
            (subject.cloned(), predicate.cloned(), object.cloned(), graph.cloned());
        Ok(Box::new(solutions.map(move |solution| {
            let solution = solution.map_err(super::error::from_query_error)?;
            let pick = |name: &str| solution.get(name).cloned();
            let s = match (&subject, pick("s")) {
                (Some(s), _) => s.clone(),
                (None, Some(Term::NamedNode(n))) => n.into(),
                (None, Some(Term::BlankNode(b))) => b.into(),
                _ => return Err(StoreError::EngineUnavailable("the engine answered a subject that is not one".into())),
            };
            let p = match (&predicate, pick("p")) {
                (Some(p), _) => p.clone(),
                (None, Some(Term::NamedNode(n))) => n,
                _ => {
                    return Err(StoreError::EngineUnavailable("the engine answered a predicate that is not one".into()))
                }
            };
            let o = match (&object, pick("o")) {
                (Some(o), _) => o.clone(),
                (None, Some(o)) => o,
                _ => return Err(StoreError::EngineUnavailable("the engine answered no object".into())),
            };
            let g = match (&graph, pick("g")) {
                (Some(g), _) => g.clone(),
                (None, Some(Term::NamedNode(n))) => n.into(),
                _ => GraphName::DefaultGraph,
            };
            Ok(Quad::new(s, p, o, g))
        })))
    }

    /// One page of the distinct triples matching a pattern over the engine's
    /// named graphs, in a stable order, and their count up to `count_cap`
    /// (exact when below it): Triple Pattern Fragments, de-duplicated by the
    /// engine in two queries instead of a lookup per triple.
    pub fn triple_page(
        &self,
        pattern: (Option<&NamedOrBlankNode>, Option<&NamedNode>, Option<&Term>),
        offset: usize,
        limit: usize,
        count_cap: usize,
        guard: &RunningGuard,
    ) -> Result<TriplePage, StoreError> {
        let (subject, predicate, object) = pattern;
        if matches!(subject, Some(NamedOrBlankNode::BlankNode(_))) || matches!(object, Some(Term::BlankNode(_))) {
            return Ok((Vec::new(), 0, true));
        }
        let matches = matching(subject, predicate, object);
        let text =
            format!("SELECT DISTINCT ?s ?p ?o WHERE {{ {matches} }} ORDER BY ?s ?p ?o LIMIT {limit} OFFSET {offset}");
        let mut triples = Vec::new();
        for solution in self.select(text, &ProtocolDataset::default(), Some(guard))? {
            let solution = solution.map_err(super::error::from_query_error)?;
            let (Some(s), Some(Term::NamedNode(p)), Some(o)) =
                (solution.get("s"), solution.get("p"), solution.get("o"))
            else {
                continue;
            };
            let s: NamedOrBlankNode = match s {
                Term::NamedNode(n) => n.clone().into(),
                Term::BlankNode(b) => b.clone().into(),
                _ => continue,
            };
            triples.push(Triple::new(s, p.clone(), o.clone()));
        }
        let count = format!(
            "SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ {matches} }} LIMIT {count_cap} }}"
        );
        let n = self
            .select(count, &ProtocolDataset::default(), Some(guard))?
            .next()
            .transpose()
            .map_err(super::error::from_query_error)?;
        let total = n
            .and_then(|s| match s.get("n") {
                Some(Term::Literal(l)) => l.value().parse().ok(),
                _ => None,
            })
            .unwrap_or(0);
        Ok((triples, total, total < count_cap))
    }

    /// Up to `limit` named graphs holding statements (the ledger left out).
    pub fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        let text = format!(
            "SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{}>) }} LIMIT {limit}",
            vocab::LEDGER_GRAPH
        );
        let mut graphs = Vec::new();
        for solution in self.select(text, &ProtocolDataset::default(), None)? {
            if let Some(Term::NamedNode(g)) = solution.map_err(super::error::from_query_error)?.get("g") {
                graphs.push(g.clone());
            }
        }
        Ok(graphs)
    }

    /// Whether the engine answers at all.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.ask("ASK {}".into(), &ProtocolDataset::default(), None).map(|_| ())
    }

    /// The statements in the engine's named graphs.
    pub fn len(&self, guard: Option<&RunningGuard>) -> Result<usize, StoreError> {
        let text = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }".to_owned();
        let n = self
            .select(text, &ProtocolDataset::default(), guard)?
            .next()
            .transpose()
            .map_err(super::error::from_query_error)?;
        Ok(n.and_then(|s| match s.get("n") {
            Some(Term::Literal(l)) => l.value().parse().ok(),
            _ => None,
        })
        .unwrap_or(0))
    }

    /// The data version: the last write's id and the statement count.
    pub fn fingerprint(&self) -> Result<String, StoreError> {
        let text = format!(
            "SELECT ?w WHERE {{ GRAPH <{}> {{ <{}> <{}> ?w }} }}",
            vocab::LEDGER_GRAPH,
            vocab::LEDGER_GRAPH,
            vocab::LAST_WRITE
        );
        let last = self
            .select(text, &ProtocolDataset::default(), None)?
            .next()
            .transpose()
            .map_err(super::error::from_query_error)?;
        let last = last.and_then(|s| s.get("w").map(ToString::to_string)).unwrap_or_default();
        let count = self.len(None)?;
        Ok(crate::sources::content_hash(format!("{last}|{count}").as_bytes())[..16].to_owned())
    }

    /// Whether a graph exists (the default graph always does).
    pub fn graph_exists(&self, target: &GraphTarget, guard: Option<&RunningGuard>) -> Result<bool, StoreError> {
        match target {
            GraphTarget::Default => Ok(true),
            GraphTarget::Named(g) => {
                self.ask(format!("ASK {{ GRAPH {g} {{ ?s ?p ?o }} }}"), &ProtocolDataset::default(), guard)
            }
        }
    }

    /// Writes one graph (or every named graph's quads, for `None`) in `format`.
    pub fn write_graph_to(
        &self,
        target: Option<&GraphTarget>,
        format: RdfFormat,
        writer: impl Write,
        guard: &RunningGuard,
    ) -> std::io::Result<()> {
        let io = |e: StoreError| std::io::Error::other(e.chain());
        match target {
            Some(target) if self.config.store.is_some() => {
                let url = graph_store_url(self.config.store.as_deref().unwrap_or_default(), target);
                let exchange = Exchange {
                    url: &url,
                    method: reqwest::Method::GET,
                    body: Body::None,
                    accept: "application/n-triples",
                };
                let response = self.client.send(&exchange, Some(guard)).map_err(io)?;
                let quads = RdfParser::from_format(RdfFormat::NTriples)
                    .for_reader(body_reader(response, Some(guard.token.clone())))
                    .map(|q| q.map_err(|e| oxigraph::store::StorageError::Other(Box::new(BadAnswer(e.to_string())))));
                results::write_graph(quads, format, writer)
            }
            Some(target) => {
                let text = match target {
                    GraphTarget::Named(g) => format!("CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }}"),
                    GraphTarget::Default => "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }".to_owned(),
                };
                let triples = self.construct(text, &ProtocolDataset::default(), Some(guard)).map_err(io)?;
                let quads = triples.map(|t| {
                    t.map(|t| t.in_graph(GraphName::DefaultGraph))
                        .map_err(|e| oxigraph::store::StorageError::Other(Box::new(e)))
                });
                results::write_graph(quads, format, writer)
            }
            None => {
                let quads = self.quads(None, None, None, None, guard).map_err(io)?;
                let quads = quads.map(|q| q.map_err(|e| oxigraph::store::StorageError::Other(Box::new(e))));
                results::write_dataset(quads, format, writer)
            }
        }
    }

    /// Replaces or merges into a graph in one update request.
    pub fn write_graph(
        &self,
        target: &GraphTarget,
        quads: Vec<Quad>,
        replace: bool,
        guard: &RunningGuard,
    ) -> Result<bool, StoreError> {
        let existed = self.graph_exists(target, Some(guard))?;
        let graph = match target {
            GraphTarget::Named(g) => GraphName::NamedNode(g.clone()),
            GraphTarget::Default => GraphName::DefaultGraph,
        };
        let mut text = String::new();
        if replace {
            match target {
                GraphTarget::Named(g) => writeln!(text, "DROP SILENT GRAPH {g} ;").expect("a String"),
                GraphTarget::Default => text.push_str("DROP SILENT DEFAULT ;\n"),
            }
        }
        let quads: Vec<Quad> =
            quads.into_iter().map(|q| Quad::new(q.subject, q.predicate, q.object, graph.clone())).collect();
        if let Some(store) = &self.config.store {
            let mut body = Vec::new();
            for q in &quads {
                writeln!(body, "{} {} {} .", q.subject, q.predicate, q.object)
                    .map_err(|e| StoreError::io("serializing", e))?;
            }
            let method = if replace { reqwest::Method::PUT } else { reqwest::Method::POST };
            let url = graph_store_url(store, target);
            let exchange =
                Exchange { url: &url, method, body: Body::Document(body, "application/n-triples"), accept: "*/*" };
            self.client.send(&exchange, Some(guard))?;
            self.bump_ledger(guard)?;
            return Ok(!existed);
        }
        text.push_str(&insert_data(&quads));
        self.run_update(&text, &ProtocolDataset::default(), Some(guard))?;
        Ok(!existed)
    }

    /// Adds the quads of a dataset in one update request.
    pub fn add_dataset(&self, quads: &[Quad], guard: &RunningGuard) -> Result<usize, StoreError> {
        self.run_update(&insert_data(quads), &ProtocolDataset::default(), Some(guard))?;
        Ok(quads.len())
    }

    /// Deletes a named graph (or empties the default graph).
    pub fn delete_graph(&self, target: &GraphTarget, guard: &RunningGuard) -> Result<(), StoreError> {
        if let Some(store) = &self.config.store {
            if !self.graph_exists(target, Some(guard))? {
                return Err(StoreError::GraphNotFound(target.label()));
            }
            let url = graph_store_url(store, target);
            let exchange = Exchange { url: &url, method: reqwest::Method::DELETE, body: Body::None, accept: "*/*" };
            self.client.send(&exchange, Some(guard))?;
            return self.bump_ledger(guard);
        }
        match target {
            GraphTarget::Default => self.run_update("CLEAR SILENT DEFAULT", &ProtocolDataset::default(), Some(guard)),
            GraphTarget::Named(g) => {
                if !self.graph_exists(target, Some(guard))? {
                    return Err(StoreError::GraphNotFound(g.to_string()));
                }
                self.run_update(&format!("DROP SILENT GRAPH {g}"), &ProtocolDataset::default(), Some(guard))
            }
        }
    }

    /// The bookkeeping kept in the engine's ledger graph.
    pub fn read_ledger(&self) -> Result<Ledger, StoreError> {
        let text = format!("SELECT ?s ?p ?o WHERE {{ GRAPH <{}> {{ ?s ?p ?o }} }}", vocab::LEDGER_GRAPH);
        let mut ledger = Ledger::default();
        for solution in self.select(text, &ProtocolDataset::default(), None)? {
            let solution = solution.map_err(super::error::from_query_error)?;
            let (Some(Term::NamedNode(s)), Some(Term::NamedNode(p)), Some(o)) =
                (solution.get("s"), solution.get("p"), solution.get("o"))
            else {
                continue;
            };
            let value = match o {
                Term::Literal(l) => l.value().to_owned(),
                Term::NamedNode(n) => n.as_str().to_owned(),
                _ => continue,
            };
            let record = || SourceRecord::default();
            match p.as_str() {
                vocab::SOURCE_FILE => ledger.sources.entry(s.as_str().to_owned()).or_insert_with(record).file = value,
                vocab::CONTENT_HASH => ledger.sources.entry(s.as_str().to_owned()).or_insert_with(record).hash = value,
                vocab::CONTAINS_GRAPH => {
                    ledger.sources.entry(s.as_str().to_owned()).or_insert_with(record).contains.push(value)
                }
                _ => {}
            }
        }
        Ok(ledger)
    }

    /// Replaces what a source file brought into the engine with its quads, and
    /// records the file in the ledger graph. Large files go in several requests
    /// (engines limit a request's size): the last one records the file, so an
    /// interrupted load is redone at the next start.
    pub fn load_source(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        previous: Option<&SourceRecord>,
    ) -> Result<(SourceRecord, usize), StoreError> {
        let quads = crate::sources::parse(file, bytes).map_err(StoreError::BadBody)?;
        let graph = file.graph.as_str();
        let mut text = String::new();
        for old in previous.map(|r| r.contains.as_slice()).unwrap_or_default() {
            writeln!(text, "DROP SILENT GRAPH <{old}> ;").expect("a String");
        }
        writeln!(text, "DROP SILENT GRAPH <{graph}>").expect("a String");
        self.run_update(&text, &ProtocolDataset::default(), None)?;
        // A blank node must stay within one request (labels are per request): the
        // statements with blank nodes go together, the others in chunks.
        let (with_blank, plain): (Vec<Quad>, Vec<Quad>) =
            quads.iter().cloned().partition(|q| q.subject.is_blank_node() || q.object.is_blank_node());
        for chunk in plain.chunks(5_000).chain(std::iter::once(with_blank.as_slice())) {
            if !chunk.is_empty() {
                self.run_update(&insert_data(chunk), &ProtocolDataset::default(), None)?;
            }
        }
        let mut contained: Vec<String> = quads
            .iter()
            .filter_map(|q| match &q.graph_name {
                GraphName::NamedNode(n) if n.as_str() != graph => Some(n.as_str().to_owned()),
                _ => None,
            })
            .collect();
        contained.sort();
        contained.dedup();
        let record =
            SourceRecord { file: file.display.clone(), hash: crate::sources::content_hash(bytes), contains: contained };
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
        Ok((record, quads.len()))
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

/// An insertion of `quads`, grouped by graph. `INSERT { … } WHERE {}`, not
/// `INSERT DATA`: Virtuoso refuses blank nodes in `INSERT DATA`, and in a
/// template each blank node label makes one fresh blank node, as in the body.
fn insert_data(quads: &[Quad]) -> String {
    let mut text = String::from("INSERT {\n");
    let mut by_graph: std::collections::BTreeMap<String, Vec<&Quad>> = std::collections::BTreeMap::new();
    for q in quads {
        by_graph.entry(q.graph_name.to_string()).or_default().push(q);
    }
    for (graph, quads) in by_graph {
        let triples: String = quads.iter().map(|q| format!("{} {} {} .\n", q.subject, q.predicate, q.object)).collect();
        if graph == GraphName::DefaultGraph.to_string() {
            text.push_str(&triples);
        } else {
            write!(text, "GRAPH {graph} {{\n{triples}}}\n").expect("a String");
        }
    }
    text.push_str("} WHERE {}");
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
