//! The façade's reads: queries (streamed, capped, ASK, rows), the quad-pattern
//! reader for pages, small reads, and streamed graph reads and dumps. Each is
//! admitted, registered with its deadline, and run on the deep-stack pool.

use super::backend::Backend;
use super::embedded;
use super::error::from_query_error;
use super::running::RunningGuard;
use super::{
    admission, exec, results, stream, stream_error, Answer, ByteReceiver, CappedAnswer, GraphTarget, Inner, KgStore,
    OutputFormat, Peeked, QuadReader, QueryJob, QuerySource, StoreError, Work, WorkClass, GRACE,
};
use bytes::Bytes;
use oxigraph::io::RdfFormat;
use oxigraph::model::{NamedNode, Term};
use oxigraph::sparql::QueryResults;
use std::io::{self, Write};
use tokio::sync::{mpsc, oneshot};

impl KgStore {
    fn query_work(&self, kind: &'static str, job: &QueryJob) -> Work {
        let options = &self.inner.options;
        let limit = if job.whole_store { options.transfer_timeout } else { options.timeout };
        let timeout = job.timeout.map_or(limit, |t| t.min(limit));
        let label = match &job.query {
            QuerySource::Text { text, .. } if job.label.is_empty() => text.clone(),
            _ => job.label.clone(),
        };
        Work { kind, label, class: WorkClass::Read, key: Some(job.cost_key()), timeout }
    }

    fn evaluate(
        inner: &Inner,
        job: QueryJob,
        graph_form: Option<bool>,
        guard: &RunningGuard,
    ) -> Result<QueryResults<'static>, StoreError> {
        inner.backend.evaluate(job, &inner.options, graph_form, in_process(inner).as_deref(), guard)
    }

    /// Answers `SERVICE` patterns to `service`'s IRI in this process, on either
    /// backend (their pattern becomes a `VALUES` block before evaluation).
    pub fn answer_in_process(&self, service: std::sync::Arc<dyn super::InProcessService>) {
        *self.inner.in_process.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(service);
    }

    /// Evaluates `job` and streams its results in `format`. A query answered
    /// on the request's thread within the inline budget comes back whole.
    /// Otherwise this returns once the first chunk (64 KiB) is serialized or
    /// the whole answer is, whichever comes first, so that errors and timeouts
    /// before it get a proper status and a small answer crosses threads once;
    /// the rest of a large answer is serialized in the background into the
    /// receiver, with back-pressure.
    ///
    /// Also returns the row limit an engine cut the answer at, if it said so.
    pub async fn query(&self, job: QueryJob, format: OutputFormat) -> Result<(Answer, Option<usize>), StoreError> {
        let mut work = self.query_work("query", &job);
        let (guard, remembered) = self.admit(&mut work).await?;
        // Tried on this thread when its last run fit the budget, or it never ran.
        let cheap = remembered.is_none_or(|c| c < super::inline::TIME);
        if let Some(answer) = cheap.then(|| Self::inline(&self.inner, &job, format.clone(), &guard)).flatten() {
            return Ok((Answer::Whole(answer), None));
        }
        let row_cap = guard.engine_row_cap.clone();
        let inner = self.inner.clone();
        let (head_tx, head_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(8);
        let graph_form = Some(matches!(format, OutputFormat::Rdf(_)));
        exec::spawn(move || {
            let peeked = embedded::unwound(&guard, || {
                Self::evaluate(&inner, job, graph_form, &guard)
                    .and_then(|results| Peeked::new(results).map_err(from_query_error))
            })
            .and_then(|peeked| peeked);
            match peeked {
                Err(e) => {
                    let _ = head_tx.send(Err(guard.resolve(e)));
                }
                Ok(peeked) => stream::stream_into(
                    tx,
                    Some(guard.token.clone()),
                    Some(head_tx),
                    |e| stream_error(&guard, e),
                    |w| {
                        embedded::unwound(&guard, || results::serialize(peeked, format, w)).unwrap_or_else(|_| {
                            Err(io::Error::new(io::ErrorKind::TimedOut, "the evaluation was cancelled"))
                        })
                    },
                ),
            }
        });
        // The engine checks its cancellation token only when it reads the store, so a
        // query stuck in an in-memory join may notice late: answer the client at the
        // deadline anyway (the token is cancelled; the thread stops at its next check
        // and stays listed in /admin/queries until it does).
        match tokio::time::timeout(work.timeout + GRACE, head_rx).await {
            Ok(Ok(head)) => head?,
            Ok(Err(_)) => return Err(exec::TaskFailed::lost().into()),
            Err(_) => return Err(StoreError::Timeout(work.timeout.as_secs())),
        }
        let cap = row_cap.load(std::sync::atomic::Ordering::SeqCst);
        Ok((Answer::Streamed(rx), (cap > 0).then_some(cap)))
    }

    /// The whole answer to `job`, when the embedded store can give it on this
    /// very thread within the inline budget (see [`super::inline`]); `None`
    /// otherwise, errors included: the pool then evaluates it as usual.
    fn inline(inner: &Inner, job: &QueryJob, format: OutputFormat, guard: &RunningGuard) -> Option<Bytes> {
        if !exec::on_deep_stack() || !inner.backend.evaluates_in_process() {
            return None;
        }
        let graph_form = Some(matches!(format, OutputFormat::Rdf(_)));
        let mut out = super::inline::BudgetWriter::default();
        let done = super::inline::attempt(&guard.token, || {
            embedded::unwound(guard, || -> Result<(), StoreError> {
                let results = Self::evaluate(inner, job.clone(), graph_form, guard)?;
                let peeked = Peeked::new(results).map_err(from_query_error)?;
                results::serialize(peeked, format, &mut out).map_err(|e| StoreError::io("inline", e))
            })
        });
        let answered = matches!(done, Ok(Ok(())));
        super::inline::record(answered);
        answered.then(|| Bytes::from(out.into_bytes()))
    }

    /// Evaluates `job` into memory, writing at most `cap` solutions or triples in
    /// `format` and saying whether more existed (saved queries).
    pub async fn query_capped(
        &self,
        job: QueryJob,
        format: OutputFormat,
        cap: usize,
    ) -> Result<CappedAnswer, StoreError> {
        let work = self.query_work("query", &job);
        let graph_form = Some(matches!(format, OutputFormat::Rdf(_)));
        self.run(work, move |inner, guard| {
            let results = Self::evaluate(inner, job, graph_form, guard)?;
            let peeked = Peeked::new(results).map_err(from_query_error)?;
            let mut body = Vec::new();
            let truncated =
                results::serialize_capped(peeked, format, &mut body, cap).map_err(|e| stream_error(guard, e))?;
            Ok(CappedAnswer { body: Bytes::from(body), truncated })
        })
        .await
    }

    /// Evaluates a query to its end and returns the engine's plan with each
    /// operator's rows and time (JSON); the answer itself is dropped.
    pub async fn explain(&self, job: QueryJob) -> Result<Bytes, StoreError> {
        let work = self.query_work("explain", &job);
        self.run(work, move |inner, guard| {
            inner.backend.explain(job, &inner.options, in_process(inner).as_deref(), guard).map(Bytes::from)
        })
        .await
    }

    /// Evaluates an ASK query.
    pub async fn ask(&self, job: QueryJob) -> Result<bool, StoreError> {
        let work = self.query_work("query", &job);
        self.run(work, move |inner, guard| match Self::evaluate(inner, job, Some(false), guard)? {
            QueryResults::Boolean(b) => Ok(b),
            _ => Err(StoreError::Request("not an ASK query".into())),
        })
        .await
    }

    /// Rows of a SELECT (at most `cap`), each cell a term or unbound.
    pub async fn select_rows(&self, job: QueryJob, cap: usize) -> Result<Vec<Vec<Option<Term>>>, StoreError> {
        let work = self.query_work("query", &job);
        self.run(work, move |inner, guard| match Self::evaluate(inner, job, Some(false), guard)? {
            QueryResults::Solutions(solutions) => {
                let variables = solutions.variables().to_vec();
                let mut rows = Vec::new();
                for solution in solutions.take(cap) {
                    let solution = solution.map_err(from_query_error)?;
                    rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
                }
                Ok(rows)
            }
            _ => Err(StoreError::Request("not a SELECT query".into())),
        })
        .await
    }

    /// The values of the first variable of a SELECT (allowed values of parameters).
    pub async fn select_terms(&self, job: QueryJob, limit: usize) -> Result<Vec<Term>, StoreError> {
        let rows = self.select_rows(job, limit).await?;
        Ok(rows.into_iter().filter_map(|row| row.into_iter().next().flatten()).collect())
    }

    /// Reads quad patterns: runs `f` with a [`QuadReader`] as admitted, registered
    /// work with the server's deadline. `key` identifies the work's cost (a page).
    pub async fn read<T: Send + 'static>(
        &self,
        label: &str,
        key: &str,
        f: impl FnOnce(&QuadReader<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let work = Work {
            kind: "read",
            label: label.to_owned(),
            class: WorkClass::Read,
            key: Some(admission::cost_key(["read", key])),
            timeout: self.inner.options.timeout,
        };
        self.run(work, move |inner, guard| f(&inner.backend.reader(guard))).await
    }

    /// Reads quad patterns as bulk work (the transfer deadline, the bulk lane;
    /// inside `exec::background`, as the search index's build runs, the
    /// background lane and its deadline): whole-store scans.
    pub async fn scan<T: Send + 'static>(
        &self,
        label: &str,
        f: impl FnOnce(&QuadReader<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let work = self.bulk(label);
        self.run(work, move |inner, guard| f(&inner.backend.reader(guard))).await
    }

    /// Up to `limit` named graphs of the store, in store order.
    pub async fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        let work = self.small_read("named graphs");
        self.run(work, move |inner, _| inner.backend.named_graphs(limit)).await
    }

    fn small_read(&self, label: &str) -> Work {
        Work {
            kind: "read",
            label: label.to_owned(),
            class: WorkClass::Read,
            key: Some(admission::cost_key(["small", label])),
            timeout: self.inner.options.timeout,
        }
    }

    /// A cheap read that proves the storage answers (health checks; not admitted,
    /// so that a busy server still says it is alive).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        exec::run(move || inner.backend.ping()).await?
    }

    /// Number of quads in the store (a full scan: a bulk read).
    pub async fn quad_count(&self) -> Result<usize, StoreError> {
        let work = self.bulk("quad count");
        self.run(work, move |inner, guard| inner.backend.len(guard)).await
    }

    fn bulk(&self, label: &str) -> Work {
        Work {
            kind: "dump",
            label: label.to_owned(),
            class: WorkClass::Bulk,
            key: None,
            timeout: self.inner.options.transfer_timeout,
        }
    }

    /// Whether a graph exists (the default graph always does).
    pub async fn graph_exists(&self, target: &GraphTarget) -> Result<bool, StoreError> {
        let target = target.clone();
        let work = self.small_read("graph exists");
        self.run(work, move |inner, guard| inner.backend.graph_exists(&target, guard)).await
    }

    /// Streams the triples of one graph, or the whole dataset when `target` is `None`.
    pub async fn read_graph(&self, target: Option<GraphTarget>, format: RdfFormat) -> Result<ByteReceiver, StoreError> {
        if let Some(t) = &target {
            if !self.graph_exists(t).await? {
                return Err(StoreError::GraphNotFound(t.label()));
            }
        }
        self.stream_bulk("graph read", move |backend, guard, w| {
            backend.write_graph_to(target.as_ref(), format, w, guard)
        })
        .await
    }

    /// Streams the whole dataset in a quad syntax, gzip-compressed when `gzip`.
    pub async fn dump(&self, format: RdfFormat, gzip: bool) -> Result<ByteReceiver, StoreError> {
        self.stream_bulk("dump", move |backend, guard, w| backend.dump_to(format, gzip, w, guard)).await
    }

    /// Streams what `write` writes as bulk work (admitted, registered, with the
    /// transfer deadline), holding the slot until the last byte.
    async fn stream_bulk(
        &self,
        label: &str,
        write: impl FnOnce(&Backend, &RunningGuard, &mut stream::ChunkWriter) -> io::Result<()> + Send + 'static,
    ) -> Result<ByteReceiver, StoreError> {
        let (guard, _) = self.admit(&mut self.bulk(label)).await?;
        let inner = self.inner.clone();
        let (tx, rx) = mpsc::channel(8);
        exec::spawn(move || {
            stream::stream_into(
                tx,
                Some(guard.token.clone()),
                None,
                |e| stream_error(&guard, e),
                |w| write(&inner.backend, &guard, w),
            );
        });
        Ok(rx)
    }

    /// Writes the store (or one graph) to `writer`, synchronously (CLI `dump`).
    pub fn dump_blocking(&self, target: Option<GraphTarget>, format: RdfFormat, writer: impl Write) -> io::Result<()> {
        self.inner.backend.dump_local(target.as_ref(), format, writer)
    }
}

/// The service answered in this process, if one is set ([`KgStore::answer_in_process`]).
fn in_process(inner: &Inner) -> Option<std::sync::Arc<dyn super::InProcessService>> {
    inner.in_process.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}
