//! The seam: one enum with the two backends, embedded (Oxigraph in this
//! process) and remote (a SPARQL 1.1 engine), and the operations the façade
//! asks of either. What both share lives here: parsing request bodies, and the
//! quad-pattern reader the linked-data pages are built on.

use super::change::Written;
use super::embedded::Embedded;
use super::error::StoreError;
use super::job::{GraphTarget, GraphWrite, QueryJob, QuerySource, StoreOptions, UpdateJob};
use super::remote::Remote;
use super::running::RunningGuard;
use super::scope;
use super::version::SourceRecord;
use crate::sources::SourceFile;
use crate::sparql::checkpoints::ServiceError;
use crate::sparql::parse;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNodeRef, Quad, Term, TermRef, Variable};
use oxigraph::sparql::QueryResults;
use std::io::{self, Write};
use std::path::PathBuf;

/// How often long loops look at their cancellation token.
const CHECK_EVERY: usize = 1024;

/// A SPARQL service answered in this process (the search index): the pattern
/// inside `SERVICE <iri> { … }` becomes a `VALUES` block before the query
/// reaches either backend, so no request leaves the server.
pub trait InProcessService: Send + Sync {
    /// Whether `SERVICE <iri>` is this one.
    fn answers(&self, iri: &str) -> bool;
    /// The `VALUES` block for the pattern inside it; `bindings` are the values
    /// bound into the query (a saved query's parameters); `reader` reads the
    /// store as the query's own work. `Err`: why the pattern cannot be
    /// answered, or that the service failed.
    fn solve(
        &self,
        pattern: &spargebra::algebra::GraphPattern,
        bindings: &[(Variable, Term)],
        reader: &QuadReader<'_>,
    ) -> Result<spargebra::algebra::GraphPattern, ServiceError>;
}

/// The query a job asks, bound and with in-process services answered; and,
/// when `for_engine`, the user's own text if an engine may be given it unchanged.
fn prepared_query(
    job: QueryJob,
    options: &StoreOptions,
    graph_form: Option<bool>,
    in_process: Option<(&dyn InProcessService, QuadReader<'_>)>,
    for_engine: bool,
) -> Result<(spargebra::Query, Option<String>), StoreError> {
    // An engine gets the user's own text when nothing was bound into it (with
    // the base made explicit): engines' parsers differ on what they accept of
    // a serializer's output (Virtuoso refuses `GRAPH <g> { … } .` in a template).
    // The embedded store evaluates the parsed query: no copy of the text.
    let mut own_text = match (&job.query, job.bindings.is_empty()) {
        (QuerySource::Text { text, base }, true) if for_engine => Some(with_base(text, base.as_deref())),
        _ => None,
    };
    let mut query = bound_query(job.query, &job.bindings, options.max_depth, graph_form)?;
    if let Some((service, reader)) = in_process {
        let answer = |iri: &NamedNode, pattern: &spargebra::algebra::GraphPattern| {
            service.answers(iri.as_str()).then(|| service.solve(pattern, &job.bindings, &reader))
        };
        let (substituted, changed) = crate::sparql::checkpoints::substitute_services(query, &answer)?;
        query = substituted;
        if changed {
            own_text = None;
        }
    }
    Ok((query, own_text))
}

/// Where the data is.
pub enum Backend {
    Embedded(Embedded),
    Remote(Remote),
}

impl Backend {
    /// Parses (when needed), binds and evaluates a query.
    pub fn evaluate(
        &self,
        job: QueryJob,
        options: &StoreOptions,
        graph_form: Option<bool>,
        in_process: Option<&dyn InProcessService>,
        guard: &RunningGuard,
    ) -> Result<QueryResults<'static>, StoreError> {
        let dataset = job.dataset.clone();
        let for_engine = matches!(self, Backend::Remote(_));
        let reader = in_process.map(|s| (s, self.reader(guard)));
        let (query, own_text) = prepared_query(job, options, graph_form, reader, for_engine)?;
        match self {
            Backend::Embedded(e) => {
                let prepared = e.prepare(query, &dataset, options, guard)?;
                e.execute(prepared)
            }
            Backend::Remote(r) => r.evaluate(query, own_text, &dataset, guard),
        }
    }

    /// Evaluates a query to its end and says how: the engine's plan, with each
    /// operator's rows and time, as JSON (Oxigraph's own explanation).
    pub fn explain(
        &self,
        job: QueryJob,
        options: &StoreOptions,
        in_process: Option<&dyn InProcessService>,
        guard: &RunningGuard,
    ) -> Result<Vec<u8>, StoreError> {
        let dataset = job.dataset.clone();
        let (query, _) = prepared_query(job, options, None, in_process.map(|s| (s, self.reader(guard))), false)?;
        match self {
            Backend::Embedded(e) => e.explain(query, &dataset, options, guard),
            Backend::Remote(_) => Err(StoreError::NotSupported(
                "query plans come from the embedded engine; in front of a remote engine, ask the engine itself".into(),
            )),
        }
    }

    /// Parses and checks an update, then applies it.
    /// Returns what it changed (embedded) or may have changed (remote).
    pub fn update(&self, job: UpdateJob, options: &StoreOptions, guard: &RunningGuard) -> Result<Written, StoreError> {
        let update = checked_update(&job, options.max_depth)?;
        match self {
            Backend::Embedded(e) => e.update(update, &job.dataset, options, guard),
            Backend::Remote(r) => {
                let scope = scope::of_update(&update);
                r.update(update, &with_base(&job.text, job.base.as_deref()), &job.dataset, guard)?;
                Ok(Written::scoped(scope))
            }
        }
    }

    pub fn reader<'a>(&'a self, guard: &'a RunningGuard) -> QuadReader<'a> {
        QuadReader { backend: self, guard }
    }

    pub fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        match self {
            Backend::Embedded(e) => e.named_graphs(limit),
            Backend::Remote(r) => r.named_graphs(limit),
        }
    }

    pub fn ping(&self) -> Result<(), StoreError> {
        match self {
            Backend::Embedded(e) => e.ping(),
            Backend::Remote(r) => r.ping(),
        }
    }

    pub fn len(&self, guard: &RunningGuard) -> Result<usize, StoreError> {
        match self {
            Backend::Embedded(e) => e.len(),
            Backend::Remote(r) => r.len(Some(guard)),
        }
    }

    pub fn graph_exists(&self, target: &GraphTarget, guard: &RunningGuard) -> Result<bool, StoreError> {
        match self {
            Backend::Embedded(e) => e.graph_exists(target),
            Backend::Remote(r) => r.graph_exists(target, Some(guard)),
        }
    }

    pub fn write_graph_to(
        &self,
        target: Option<&GraphTarget>,
        format: RdfFormat,
        writer: impl Write,
        guard: &RunningGuard,
    ) -> io::Result<()> {
        match self {
            Backend::Embedded(e) => e.write_graph_to(target, format, writer),
            Backend::Remote(r) => r.write_graph_to(target, format, writer, guard),
        }
    }

    /// Streams the whole dataset, gzip-compressed when asked.
    pub fn dump_to(&self, format: RdfFormat, gzip: bool, writer: impl Write, guard: &RunningGuard) -> io::Result<()> {
        if !gzip {
            return self.write_graph_to(None, format, writer, guard);
        }
        let mut encoder = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
        self.write_graph_to(None, format, &mut encoder, guard)?;
        encoder.finish()?;
        Ok(())
    }

    /// Parses the documents, then replaces or merges into the graph. Returns
    /// whether the graph was created, and what the write changed.
    pub fn write_graph(
        &self,
        target: &GraphTarget,
        documents: &[(bytes::Bytes, RdfFormat)],
        base: &str,
        how: GraphWrite,
        guard: &RunningGuard,
    ) -> Result<(bool, Written), StoreError> {
        let mut quads = Vec::new();
        for (body, format) in documents {
            quads.extend(parse_body(body, *format, base, guard)?);
        }
        if let Some(q) = quads.iter().find(|q| !q.graph_name.is_default_graph()) {
            return Err(StoreError::BadBody(format!(
                "the body names graph {}, but a Graph Store request addresses exactly one graph; send triples, or POST a dataset to /store without ?graph",
                q.graph_name
            )));
        }
        match self {
            Backend::Embedded(e) => e.write_graph(target, &quads, how, guard),
            Backend::Remote(r) => {
                let (created, former) = r.write_graph(target, &quads, how, guard)?;
                let written = quads.into_iter().map(|q| q.subject);
                Ok((
                    created,
                    Written::scoped(scope::of_graph_write(target, former.map(|f| f.into_iter().chain(written)))),
                ))
            }
        }
    }

    pub fn add_dataset(
        &self,
        body: &[u8],
        format: RdfFormat,
        base: &str,
        guard: &RunningGuard,
    ) -> Result<(usize, Written), StoreError> {
        let quads = parse_body(body, format, base, guard)?;
        match self {
            Backend::Embedded(e) => e.add_dataset(&quads, guard),
            Backend::Remote(r) => {
                let added = r.add_dataset(&quads, guard)?;
                Ok((added, Written::scoped(scope::of_quads(quads.iter().map(|q| q.as_ref())))))
            }
        }
    }

    /// Deletes a graph; returns what that changed.
    pub fn delete_graph(&self, target: &GraphTarget, guard: &RunningGuard) -> Result<Written, StoreError> {
        match self {
            Backend::Embedded(e) => e.delete_graph(target, guard),
            Backend::Remote(r) => Ok(Written::scoped(scope::of_graph_write(target, r.delete_graph(target, guard)?))),
        }
    }

    pub fn backup(&self, dir: &PathBuf) -> Result<(), StoreError> {
        match self {
            Backend::Embedded(e) => e.backup(dir),
            Backend::Remote(_) => Err(StoreError::NotSupported(
                "the data lives in the remote engine: back it up with the engine's own tool (Virtuoso: `backup_online` in isql; Oxigraph: `oxigraph backup`)".into(),
            )),
        }
    }

    /// Whether queries are evaluated in this process (and may be tried on the
    /// request's own thread: `store::inline`).
    pub fn evaluates_in_process(&self) -> bool {
        matches!(self, Backend::Embedded(_))
    }

    /// The embedded store, for what only it keeps (the derived views' own writes).
    pub fn embedded(&self) -> Result<&super::embedded::Embedded, StoreError> {
        match self {
            Backend::Embedded(e) => Ok(e),
            Backend::Remote(_) => Err(StoreError::NotSupported("the data lives in a remote engine".into())),
        }
    }

    /// The engine's request statistics (remote backend only).
    pub fn engine_stats(&self) -> Option<&super::remote::EngineStats> {
        match self {
            Backend::Remote(r) => Some(r.stats()),
            Backend::Embedded(_) => None,
        }
    }

    /// Bulk-loads one file: into the embedded store atomically, into an
    /// engine in batches; returns the quads read.
    pub fn bulk_load(
        &self,
        path: &std::path::Path,
        graph: Option<&NamedNode>,
        progress: impl Fn(u64) + Send + Sync + 'static,
        see: &mut dyn FnMut(&Quad),
    ) -> Result<u64, StoreError> {
        match self {
            Backend::Embedded(e) => e.bulk_load(path, graph, progress, see),
            Backend::Remote(r) => r.bulk_load(path, graph, progress, see),
        }
    }

    /// The engine's own data version (`None` on the embedded store, whose
    /// version is the ledger's).
    pub fn engine_version(&self) -> Option<Result<String, StoreError>> {
        match self {
            Backend::Embedded(_) => None,
            Backend::Remote(r) => Some(r.fingerprint()),
        }
    }

    /// Writes the store (or one graph) to `writer` (CLI `dump`: a local store only).
    pub fn dump_local(
        &self,
        target: Option<&GraphTarget>,
        format: oxigraph::io::RdfFormat,
        writer: impl std::io::Write,
    ) -> std::io::Result<()> {
        match self {
            Backend::Embedded(e) => e.write_graph_to(target, format, writer),
            Backend::Remote(_) => {
                Err(std::io::Error::other("the command line dumps a local store; use GET /dump of a server"))
            }
        }
    }

    pub fn load_source(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        previous: Option<&SourceRecord>,
    ) -> Result<(SourceRecord, usize, Written), StoreError> {
        match self {
            Backend::Embedded(e) => e.load_source(file, bytes, previous),
            Backend::Remote(r) => {
                let (record, quads) = r.load_source(file, bytes, previous)?;
                Ok((record, quads, Written::default()))
            }
        }
    }
}

/// The query a job asks for, as both backends need it: parsed when given as
/// text (depth limit first), checked against the form its output format was
/// negotiated for (`graph_form`), with the saved-query values bound in its algebra.
fn bound_query(
    source: QuerySource,
    bindings: &[(Variable, Term)],
    max_depth: usize,
    graph_form: Option<bool>,
) -> Result<spargebra::Query, StoreError> {
    let query = match source {
        QuerySource::Parsed(query) => *query,
        QuerySource::Text { text, base } => parse::query(&text, base.as_deref(), max_depth)?,
    };
    let is_graph = matches!(query, spargebra::Query::Construct { .. } | spargebra::Query::Describe { .. });
    if graph_form.is_some_and(|expected| expected != is_graph) {
        return Err(StoreError::Request(
            "the query's form differs from the one its text starts with; send one query per request".into(),
        ));
    }
    crate::sparql::bind::bind(query, bindings).map_err(|e| StoreError::Request(e.to_string()))
}

/// A query or update text with its base IRI made explicit (`BASE` first, which
/// the text's own `BASE`, if any, overrides), so that an engine resolves its
/// relative IRIs as this server does.
fn with_base(text: &str, base: Option<&str>) -> String {
    match base {
        Some(base) => format!("BASE <{base}>\n{text}"),
        None => text.to_owned(),
    }
}

/// An update parsed (depth limit first) and checked as both backends need it:
/// no `LOAD` (the server makes no outbound requests, nor lets an engine behind
/// it make them), and the protocol's rule on USING and its parameters.
fn checked_update(job: &UpdateJob, max_depth: usize) -> Result<spargebra::Update, StoreError> {
    let update = parse::update(&job.text, job.base.as_deref(), max_depth)?;
    if update.operations.iter().any(|op| matches!(op, spargebra::GraphUpdateOperation::Load { .. })) {
        return Err(StoreError::Refused(
            "LOAD is switched off: this server makes no outbound requests; load files with `treaty-kg load` or PUT them to /store"
                .into(),
        ));
    }
    job.dataset.check_update(&update)?;
    Ok(update)
}

/// Parses a whole RDF body into memory (so nothing is written when it is
/// malformed), with fresh blank nodes, checking for cancellation as it goes.
pub fn parse_body(body: &[u8], format: RdfFormat, base: &str, guard: &RunningGuard) -> Result<Vec<Quad>, StoreError> {
    let parser = RdfParser::from_format(format)
        .with_base_iri(base)
        .map_err(|e| StoreError::Request(format!("bad base IRI {base}: {e}")))?
        .rename_blank_nodes();
    let mut quads = Vec::new();
    for (i, quad) in parser.for_slice(body).enumerate() {
        if i % CHECK_EVERY == 0 {
            guard.check()?;
        }
        quads.push(quad.map_err(|e| StoreError::BadBody(e.to_string()))?);
    }
    Ok(quads)
}

/// Reads quad patterns for one piece of running work: the small primitive the
/// linked-data pages and Triple Pattern Fragments are built on. Every iterator
/// stops with the work's cancellation reason once its deadline passes.
pub struct QuadReader<'a> {
    backend: &'a Backend,
    guard: &'a RunningGuard,
}

impl<'a> QuadReader<'a> {
    /// The quads matching a pattern. Embedded: in index order, the default
    /// graph's first, then the named graphs'. Remote: the engine's named
    /// graphs, in the engine's order.
    pub fn quads(
        &self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
    ) -> Box<dyn Iterator<Item = Result<Quad, StoreError>> + 'a> {
        match self.backend {
            Backend::Embedded(e) => Box::new(e.quads(subject, predicate, object, graph, self.guard)),
            Backend::Remote(r) => {
                let found = r.quads(
                    subject.map(|s| s.into_owned()).as_ref(),
                    predicate.map(|p| p.into_owned()).as_ref(),
                    object.map(|o| o.into_owned()).as_ref(),
                    graph.map(|g| g.into_owned()).as_ref(),
                    self.guard,
                );
                match found {
                    Ok(quads) => quads,
                    Err(e) => Box::new(std::iter::once(Err(e))),
                }
            }
        }
    }

    /// The first object each of `subjects` has for `predicate`, in any graph:
    /// a lookup each on the embedded store, one request per 256 of them to an
    /// engine (where a lookup each would be a request each).
    pub fn first_objects(
        &self,
        subjects: &[NamedNode],
        predicate: NamedNodeRef<'_>,
    ) -> Result<std::collections::HashMap<NamedNode, Term>, StoreError> {
        match self.backend {
            Backend::Embedded(_) => {
                let mut found = std::collections::HashMap::with_capacity(subjects.len());
                for s in subjects {
                    if let Some(quad) = self.quads(Some(s.as_ref().into()), Some(predicate), None, None).next() {
                        found.insert(s.clone(), quad?.object);
                    }
                }
                Ok(found)
            }
            Backend::Remote(r) => r.first_objects(subjects, predicate, self.guard),
        }
    }

    /// One page of the distinct triples of a pattern over the union of all
    /// graphs, from `offset`, with their count up to `count_cap` (and within
    /// `count_budget` on the embedded store): an engine de-duplicates with its
    /// own `SELECT DISTINCT`; the embedded store scans its index (see
    /// [`super::pages`]).
    pub fn triple_page(
        &self,
        pattern: (Option<&oxigraph::model::NamedOrBlankNode>, Option<&NamedNode>, Option<&oxigraph::model::Term>),
        offset: usize,
        limit: usize,
        count_cap: usize,
        count_budget: std::time::Duration,
    ) -> Result<super::TriplePage, StoreError> {
        match self.backend {
            Backend::Embedded(_) => super::pages::scan(self, pattern, offset, limit, count_cap, count_budget),
            Backend::Remote(r) => {
                let (triples, total, exact) = r.triple_page(pattern, offset, limit, count_cap, self.guard)?;
                let total = total.max(offset + triples.len());
                Ok(super::TriplePage { triples, total, exact })
            }
        }
    }

    /// Fails with the cancellation reason once the work is cancelled.
    pub fn check(&self) -> Result<(), StoreError> {
        self.guard.check()
    }
}
