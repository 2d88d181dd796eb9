//! # treaty-kg
//!
//! A knowledge-graph query server: an embedded Oxigraph store behind the SPARQL 1.1
//! Protocol (`/sparql`), the Graph Store HTTP Protocol (`/store`), saved queries,
//! linked data and operations routes (`/health`, `/metrics`, `/admin/queries`).
//!
//! ## Layout
//! - `main.rs` — wiring only: parse flags, init logging, build the state, serve.
//! - [`config`] — clap flags → validated [`config::Config`].
//! - [`sources`] — which RDF files are loaded (at start, or by `load`) and the
//!   graph each goes into: one rule, whichever command loads the file.
//! - [`inference`] — the RDFS subclass and subproperty closure, materialized in
//!   one graph: on the embedded store kept exact inside every write's
//!   transaction from the write's change (`inference::entail`); over an engine,
//!   brought up to date after each write in the background.
//! - [`rules`] — graphs derived by `CONSTRUCT` rules (`queries/rules/`), kept
//!   like the inferred graph.
//! - [`summary`] — the dataset summaries (counts per graph, class and
//!   property, events, featured resources, the ontology's terms) as one
//!   snapshot naming its data version: kept from each write's change on the
//!   embedded store, computed by SPARQL over an engine; kept on disk for restarts.
//! - [`store`] — **the only module that touches a storage engine**: the façade
//!   (`KgStore`) over one enum of two backends, embedded (Oxigraph in this
//!   process) and remote (a SPARQL 1.1 engine, `serve --remote`), with admission
//!   by expected cost, the running-work registry and deadline watcher,
//!   streaming, versioning, and the exact change of every embedded write
//!   (`store::change`: a recording transaction, and the `Derived` hooks that
//!   keep derived data current inside it).
//! - [`exec`] — deep stacks: the server's runtime, whose workers get the same
//!   stack as the pool (`exec::server_runtime`), the deep-stack thread pool
//!   long SPARQL parses and evaluations run on (our own; it hands work to the
//!   most recently idle thread, whose caches are warm), and a second one, at a
//!   lower OS priority, for the work the server gives itself
//!   (`exec::background`: the search index).
//! - [`sparql`] — protocol rules (pure), the depth pre-scan, parsing, result
//!   serialization, the service description, binding values into the algebra.
//! - [`conneg`] — `Accept`/`format=` negotiation, table-driven and pure.
//! - [`http`] — thin handlers, one sub-router per concern, and the layers.
//! - [`error`] — `AppError`, the one place errors become status codes.
//! - [`log_writer`] — the log, written in batches by one background thread;
//!   [`log_line`] — what a line says, the request it belongs to included
//!   (a task-local value carried to the pool, not a tracing span); without
//!   colours, the access line is written by `log_line::access` itself, the
//!   same text as its tracing event.
//! - [`memo`] — shared computations, once per data version, single-flight,
//!   one at a time per key.
//! - [`linked_data`] — dereferenceable IRIs (303, RDF documents, HTML pages), how a
//!   resource is described, ontology docs, VoID, dump, TPF.
//! - [`queries`] — saved queries: catalogue, typed parameters, OpenAPI, RDF, cache.
//! - [`ui`] — the web interface: layout (with the search box), home, saved-query
//!   pages, editor, search page, small graphs as pages (VoID, service description), SVG
//!   pictures (timeline, neighbourhood) and maps drawn from WKT (`ui::map`).
//! - [`search`] — full-text search (tantivy) over the store's texts: built by one
//!   scan of the quad reader, documents handed over in batches, or by
//!   `treaty-kg load` from the quads it reads into an empty store; opened at
//!   start before the start's own writes, which it follows; updated after
//!   every write from what the write names (`store::WriteScope`; a large graph
//!   the write created comes with its statements, not read back) through one
//!   index writer kept from update to update, the data version in its commit;
//!   a hit's source (what its graph was derived from) read from the store when
//!   the hit is shown; `/search`, suggestions, and `SERVICE <…/search>` turned
//!   into a `VALUES` block before either backend evaluates the query (the
//!   service reads the store through the query's own reader).
//! - [`validate`] — SHACL validation of the repository's RDF (rudof's engine).
//! - [`generate`] — deterministic synthetic data for benchmarks.
//! - [`auth`], [`metrics`], [`vocab`] (IRI constants), [`cli`] (load/query/dump/validate).
//!
//! ## How a request flows
//! [`serve`] accepts the connection and hands it a clone of the application
//! ([`http::router`]): the layers every request goes through (the body limits,
//! CORS, compression, the security headers) wrap the router once, and only
//! the `ops::Track` layer sits on each route, since it names the route that
//! matched.
//! Everything the handlers reach is one shared [`http::AppState`]. Then, for
//! `GET /sparql?query=…` with `Accept: text/csv`:
//!
//! 1. The `ops::Track` layer names the request (`log_line`): its id goes into
//!    every log line, `X-Request-Id` and any 5xx body. The body-limit layer has
//!    checked the size.
//! 2. `http::sparql` calls `sparql::protocol::from_get` (400/405/415 for
//!    protocol violations) and negotiates the format from the query form, read
//!    from the text's first keyword (406 listing the offers).
//! 3. `store::KgStore::query` admits the work into a lane by its remembered
//!    cost (503 and `Retry-After` when the lane's queue is full).
//! 4. On the embedded store, a query whose last run fitted the inline budget
//!    (or that never ran) is first tried on the worker itself (`store::inline`:
//!    2 ms, 64 KiB, no `SERVICE`). Finished within it, its whole answer
//!    (`store::Answer::Whole`, no channel) goes out at once.
//! 5. Otherwise, and always over an engine, on the deep-stack pool: the text's
//!    depth is scanned (400 with the position past the limit), it is parsed
//!    (400 with the position; a text whose shape was asked before, differing
//!    at most in the absolute IRIs of its body, is filled into that shape's
//!    kept parse instead: `sparql::parse`, `sparql::template`), on the
//!    embedded engine `FILTER NOT EXISTS` becomes a left join where that means the same (`sparql::antijoin`) and
//!    the cancellation checkpoints are added (`sparql::checkpoints`).
//! 6. It is evaluated with a deadline: the watcher thread cancels overdue work
//!    and moves long work to the heavy lane, or, when that is full, sheds it
//!    only for lighter work that waits.
//! 7. It is serialized until the first 64 KiB chunk or the end: a complete
//!    small answer goes out with a `Content-Length`; a large one streams through
//!    a bounded channel that is the response body, the admission slot held until
//!    the last byte.
//! 8. An answer that ended whole within 8 MiB is kept in the answer cache under
//!    its ETag (data version, text, dataset, base, format): the same query is
//!    answered from memory, or 304, until the next write.
//! 9. The middleware logs one line and records metrics.
//!
//! An update (`POST /sparql`, `application/sparql-update`) is checked in the order
//! method, size, token (from the headers, before the body is read), then parsed.
//!
//! ## Invariants
//! - Only `store` touches a storage engine. SPARQL is parsed and evaluated only
//!   on threads with deep stacks (`exec::on_deep_stack`): the pool, and the
//!   server's runtime workers for an inline attempt, which holds its worker at
//!   most about 2 ms (a watchdog cancels its token) before the pool takes over.
//!   No other handler blocks the runtime.
//! - Every piece of work (query, update, page read, dump, write) is admitted,
//!   registered with a deadline and cancellable; it holds its slot until it ends.
//! - Every write is one transaction and bumps the store generation after commit.
//! - Writes need the bearer token; without a configured token the server is read-only.
//! - The server makes no outbound requests: `SERVICE` and `LOAD` are refused,
//!   but for the search service, which is answered in process before evaluation.
//! - The search index records the data version it was built from; a search
//!   answered from an older index says so (`stale`).
//! - 5xx bodies never carry internal details; they carry the request id, and the
//!   details are logged with it.
//! - Every write on the embedded store is applied through a recording
//!   transaction that knows its exact change (quads added and removed, no-ops
//!   excluded); inside that transaction the rules' graphs, then the inferred
//!   graph, are brought up to date from the change, and the dataset summaries
//!   prepare their next snapshot from it; writes commit, move the data version
//!   on and publish their snapshot one at a time, in commit order. No write is
//!   followed by a scan of the store.
//! - Every number a summary page shows comes from one snapshot and names the
//!   data version it counts (`X-Data-Version`, `ETag`).
//! - The linked-data responses (pages, documents, fragments, VoID, the
//!   ontology, the timeline), `/openapi.json` and pages of search hits are
//!   rendered once per data version (or summaries' snapshot), whoever asks and
//!   however many ask at once; the memos are bounded.
//! - Work the server starts on its own (the search index's build and updates)
//!   runs at a lower OS priority than visitors' requests, in an admission lane
//!   of its own (never moved or shed), with a deadline that only catches a
//!   runaway (24 h).
//! - Every cache key and ETag includes the data version; every write moves it on
//!   (over an engine: within `--remote-version-poll` for writes made elsewhere).
//! - An engine gets the user's own text (with `BASE` made explicit) unless values
//!   were bound into the algebra; an answer the engine cut is said to be cut.

pub mod auth;
pub mod cli;
pub mod config;
pub mod conneg;
pub mod error;
pub mod exec;
pub mod generate;
pub mod http;
pub mod inference;
pub mod linked_data;
pub mod log_line;
pub mod log_writer;
pub mod memo;
pub mod metrics;
pub mod queries;
pub mod rules;
pub mod search;
pub mod sources;
pub mod sparql;
pub mod store;
pub mod summary;
pub mod ui;
pub mod validate;
pub mod vocab;

use crate::config::Config;
use crate::http::AppState;
use crate::store::{Derivation, KgStore, SourceSync};
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use crate::http::router;

/// Opens the store and syncs the configured source files into it.
pub fn build_state(config: Config) -> anyhow::Result<AppState> {
    let started = std::time::Instant::now();
    let store = KgStore::open(&config.location, config.store_options.clone())?;
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "store opened");
    let rules = match &config.queries_dir {
        Some(dir) => rules::discover(&dir.join("rules")).context("a rule does not load")?,
        None => Vec::new(),
    };
    let sync = || sync_sources(&store, &config.sources);
    // On the embedded store the derived data that is current comes first, so
    // that the source files' changes flow into it like any write; what must be
    // computed whole (after `treaty-kg load`) is computed once they are in. An
    // engine's writes are not seen inside: there, the source files first.
    // The search index is opened before the source files and the derived
    // graphs are written, and follows their writes: an index current when
    // opened (`treaty-kg load` builds one) is updated, not rebuilt. Its
    // updates, or its first build (a write after it would make it stale),
    // start once the derived graphs are written, and run on the background
    // pool beside the summaries' first count.
    let search = || match &config.search {
        Some(location) => open_search(&store, location).map(Some),
        None => Ok(None),
    };
    let begin = |search: &Option<Arc<search::SearchIndex>>, inference: Option<&Arc<inference::Inference>>| {
        if let Some(search) = search {
            // A build waits for the inferred graph's regeneration that follows a write.
            let busy = inference.cloned().map(|inference| -> search::Busy { Box::new(move || inference.is_busy()) });
            search.clone().begin(busy);
        }
    };
    let (inference, summary, search) = match store.derivation() {
        Derivation::AfterWrite => {
            sync()?;
            let (inference, summary) = start_derived(&store, rules, config.inference)?;
            let search = search()?;
            begin(&search, inference.as_ref());
            (inference, summary, search)
        }
        Derivation::InWrite => {
            let search = search()?;
            let (inference, summary) =
                start_embedded_derived(&store, rules, config.inference, sync, |inference| begin(&search, inference))?;
            (inference, summary, search)
        }
    };
    let loading = std::time::Instant::now();
    let queries = queries::Registry::open(config.queries_dir.clone())
        .map_err(|e| anyhow::anyhow!("the saved queries do not load:\n{e}"))?;
    tracing::info!(
        queries = queries.current().len(),
        ms = loading.elapsed().as_secs_f64() * 1e3,
        "saved queries loaded"
    );
    let config_query_cache = config.query_cache;
    Ok(AppState::new(http::Parts {
        search,
        store,
        config: Arc::new(config),
        metrics: Arc::default(),
        queries: Arc::new(queries),
        cache: Arc::default(),
        memos: Arc::default(),
        query_cache: config_query_cache.then(Arc::default),
        inference,
        summary,
    }))
}

/// Loads the source files that changed since they were last loaded.
fn sync_sources(store: &KgStore, paths: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let files = sources::discover(paths)?;
    let report = store
        .sync_sources(&files)
        .map_err(|e| anyhow::anyhow!("{}", e.chain()))
        .context("loading the source files failed; nothing of that file was written")?;
    for entry in &report {
        match entry {
            SourceSync::Loaded { graph, quads } => tracing::info!(%graph, quads, "loaded source file"),
            SourceSync::Unchanged { graph } => tracing::debug!(%graph, "source file unchanged"),
        }
    }
    Ok(())
}

/// Opens the search index (updated once [`search::SearchIndex::begin`] is
/// called), and answers its SPARQL service in this process.
fn open_search(store: &KgStore, location: &search::IndexLocation) -> anyhow::Result<Arc<search::SearchIndex>> {
    let search =
        search::SearchIndex::open(store.clone(), location.clone()).context("opening the search index failed")?;
    store.answer_in_process(Arc::new(search::service::SearchService(search.clone())));
    Ok(search)
}

/// Brings the data derived from the store up to date and keeps it so: the
/// rules' graphs first (what they derive is entailed like any statement), the
/// inferred graph, then the dataset summaries (which count both).
fn start_derived(
    store: &KgStore,
    rules: Vec<rules::Rule>,
    inference: bool,
) -> anyhow::Result<(Option<Arc<inference::Inference>>, Arc<summary::Summary>)> {
    let runtime = tokio::runtime::Handle::current();
    runtime
        .block_on(rules::Rules::start(store, rules))
        .map_err(|e| anyhow::anyhow!("{}", e.chain()))
        .context("bringing the graphs derived by rule up to date failed")?;
    let inference = if inference {
        let started = std::time::Instant::now();
        // At start, before serving: the first answers already include what is entailed.
        let inference = runtime
            .block_on(inference::Inference::start(store.clone()))
            .map_err(|e| anyhow::anyhow!("{}", e.chain()))
            .context("bringing the inferred graph up to date failed")?;
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            graph = inference::INFERRED_GRAPH,
            "inferred graph ready"
        );
        Some(inference)
    } else {
        if store.derivation() == Derivation::InWrite {
            // Writes made now leave the inferred graph behind.
            runtime.block_on(store.set_note(inference::STATE, "stale".into()))?;
        }
        None
    };
    let summary = summary::Summary::start(store.clone())
        .map_err(|e| anyhow::anyhow!("{}", e.chain()))
        .context("computing the dataset summaries failed")?;
    Ok((inference, summary))
}

/// The embedded store's derived data: the rules' graphs, and what is current
/// of the inferred graph and the summaries, kept from now on; then `sync`;
/// then what was behind, computed whole (so a store changed by `treaty-kg
/// load` is materialized and counted once, with the source files in). The
/// search index (`search`) starts before the summaries are counted.
fn start_embedded_derived(
    store: &KgStore,
    rules: Vec<rules::Rule>,
    inference: bool,
    sync: impl FnOnce() -> anyhow::Result<()>,
    search: impl FnOnce(Option<&Arc<inference::Inference>>),
) -> anyhow::Result<(Option<Arc<inference::Inference>>, Arc<summary::Summary>)> {
    let runtime = tokio::runtime::Handle::current();
    let failed = |what: &'static str| move |e: store::StoreError| anyhow::anyhow!("{}", e.chain()).context(what);
    runtime
        .block_on(rules::Rules::start(store, rules))
        .map_err(failed("bringing the graphs derived by rule up to date failed"))?;
    let inference = if inference {
        Some(inference::Inference::open_embedded(store.clone()).map_err(failed("reading the axioms failed"))?)
    } else {
        // Writes made now leave the inferred graph behind.
        runtime.block_on(store.set_note(inference::STATE, "stale".into()))?;
        None
    };
    // A materialization writes through the bulk loader, which the summaries
    // cannot follow: they are then counted after it.
    let behind = matches!(&inference, Some((_, true)));
    let kept = if behind { None } else { summary::Summary::start_kept(store) };
    sync()?;
    if let Some((inference, true)) = &inference {
        let started = std::time::Instant::now();
        runtime.block_on(inference.materialize()).map_err(failed("materializing the inferred graph failed"))?;
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            graph = inference::INFERRED_GRAPH,
            "inferred graph ready"
        );
    }
    let inference = inference.map(|(inference, _)| inference);
    search(inference.as_ref());
    let summary = match kept {
        Some(summary) => summary,
        None => summary::Summary::start(store.clone()).map_err(failed("computing the dataset summaries failed"))?,
    };
    store.flush().map_err(failed("writing the store's buffers failed"))?;
    exec::release_free_memory();
    Ok((inference, summary))
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish. Also watches the saved-query folder for changes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.queries.watch(std::time::Duration::from_secs(2));
    let keeping = state.summary.clone();
    let kept_every = tokio::spawn(async move {
        let mut kept_at = keeping.current().stamp.generation;
        loop {
            tokio::time::sleep(KEEP_SUMMARIES_EVERY).await;
            let generation = keeping.current().stamp.generation;
            if generation != kept_at {
                let summary = keeping.clone();
                let _ = tokio::task::spawn_blocking(move || summary.keep()).await;
                kept_at = generation;
            }
        }
    });
    // TCP_NODELAY, and a response's head and body sent as one buffer.
    let listener = http::conn::FlatListener(listener);
    // `into_make_service` turns every route into a service once, here. Serving the
    // `Router` itself redoes that for each connection (axum clones and converts
    // the whole route table per connection, which a client opening a connection
    // per query, such as SPARQLWrapper, pays each time: BENCHMARKS.md, "A
    // connection per request").
    let summary = state.summary.clone();
    let served = axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service(router(state)))
        .with_graceful_shutdown(shutdown)
        .await;
    kept_every.abort();
    let _ = tokio::task::spawn_blocking(move || summary.keep()).await;
    served
}

/// How often the dataset summaries are kept on disk while writes change them
/// (and at shutdown): a restart after a crash computes them again.
const KEEP_SUMMARIES_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
