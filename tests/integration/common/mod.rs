//! Shared test helpers: a real server on an ephemeral loopback port, a client,
//! result and graph parsers, and isomorphism checks.

#![allow(dead_code)]

pub mod engines;
pub use engines::{free_port, target_for, Backend, Engine};

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::dataset::CanonicalizationAlgorithm;
use oxigraph::model::{Dataset, Graph, Term};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsParser, SliceQueryResultsParserOutput};
use std::path::PathBuf;
use std::time::Duration;
use treaty_kg::config::Config;

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A file of tests/fixtures/; panics, naming the path, when it does not exist
/// (a test whose input is missing fails instead of passing on nothing).
#[track_caller]
pub fn fixture(name: &str) -> PathBuf {
    existing(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name))
}

/// `path`, which must exist: panics, naming it, when it does not.
#[track_caller]
fn existing(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} does not exist", path.display());
    path
}

/// A running server (in-process router, real socket) and a client for it.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub state: treaty_kg::http::AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The remote engine behind the server, if any (stopped after the server).
    pub engine: Option<Engine>,
}

pub struct Options {
    pub token: Option<String>,
    pub timeout_secs: u64,
    pub sources: Vec<PathBuf>,
    pub max_body_bytes: usize,
    pub union_default_graph: bool,
    pub queries_dir: Option<PathBuf>,
    /// Admission control: evaluations at once, waiting, and how long they wait.
    pub max_concurrent: usize,
    pub max_queued: usize,
    pub queue_timeout: Duration,
    /// Where the data lives: the embedded store, or a fresh remote engine.
    pub backend: Backend,
    /// Over an engine: use its own Graph Store endpoint (`--remote-store`).
    pub engine_graph_store: bool,
    /// Keep `/sparql` answers in memory (off: `--no-query-cache`).
    pub query_cache: bool,
    /// Materialize the subclass and subproperty closure (off: `--no-inference`).
    pub inference: bool,
    /// Keep a full-text index (off: `--no-search`).
    pub search: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: Some(TOKEN.to_owned()),
            timeout_secs: 30,
            sources: vec![fixture("sample.ttl"), fixture("extra.nt")],
            max_body_bytes: 1024 * 1024,
            union_default_graph: true,
            queries_dir: None,
            max_concurrent: 8,
            max_queued: 64,
            queue_timeout: Duration::from_secs(10),
            backend: Backend::Embedded,
            engine_graph_store: false,
            query_cache: true,
            inference: true,
            search: true,
        }
    }
}

/// The 20 statements of the two fixture files, in their graphs: what a test
/// counts instead of `?s ?p ?o` over the default graph (which, in Virtuoso,
/// also holds its own system graphs).
/// The prefixes of the knowledge graph's own vocabulary and of those it uses,
/// for the tests that ask it questions.
pub const PREFIXES: &str = "
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX schema: <https://schema.org/>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
PREFIX uom: <http://www.opengis.net/def/uom/OGC/1.0/>
PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>
PREFIX st: <https://w3id.org/treaty-kg/id/state/>
PREFIX treaty: <https://w3id.org/treaty-kg/id/treaty/>
PREFIX evt: <https://w3id.org/treaty-kg/id/event/>
PREFIX wd: <https://w3id.org/treaty-kg/id/withdrawal/>
PREFIX body: <https://w3id.org/treaty-kg/id/organization/>
PREFIX person: <https://w3id.org/treaty-kg/id/person/>
PREFIX concept: <https://w3id.org/treaty-kg/id/concept/>
PREFIX threat: <https://w3id.org/treaty-kg/id/threat/>
PREFIX plan: <https://w3id.org/treaty-kg/id/plan/>
PREFIX grp: <https://w3id.org/treaty-kg/id/grouping/>
PREFIX quote: <https://w3id.org/treaty-kg/id/quotation/>
PREFIX art: <https://w3id.org/treaty-kg/id/article/>
PREFIX src: <https://w3id.org/treaty-kg/graph/source/>
";

/// Where the knowledge graph's resources are minted.
pub const ID: &str = "https://w3id.org/treaty-kg/id/";

/// `body` after [`PREFIXES`].
pub fn q(body: &str) -> String {
    format!("{PREFIXES}\n{body}")
}

pub const FIXTURE_TRIPLES: &str = "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } VALUES ?g { <https://w3id.org/treaty-kg/graph/sample> <https://w3id.org/treaty-kg/graph/extra> } }";

impl TestServer {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    /// The fixtures served from `backend`.
    pub async fn on(backend: Backend) -> Self {
        Self::with(Options { backend, ..Options::default() }).await
    }

    pub async fn with(options: Options) -> Self {
        let mut config = Config::in_memory();
        config.write_token = options.token;
        config.store_options.timeout = Duration::from_secs(options.timeout_secs);
        config.store_options.union_default_graph = options.union_default_graph;
        config.sources = options.sources;
        config.max_body_bytes = options.max_body_bytes;
        config.queries_dir = options.queries_dir;
        config.query_cache = options.query_cache;
        config.inference = options.inference;
        if !options.search {
            config.search = None;
        }
        config.store_options.max_concurrent = options.max_concurrent;
        config.store_options.max_queued = options.max_queued;
        config.store_options.queue_timeout = options.queue_timeout;
        let engine = match options.backend {
            Backend::Embedded => None,
            backend => Some(tokio::task::spawn_blocking(move || Engine::start(backend)).await.unwrap()),
        };
        if let Some(engine) = &engine {
            config.location = treaty_kg::store::StoreLocation::Remote(treaty_kg::store::RemoteConfig {
                query: engine.query.clone(),
                update: engine.update.clone(),
                store: if options.engine_graph_store { engine.store.clone() } else { None },
                credentials: None,
                timeout: Duration::from_secs(options.timeout_secs),
                version_poll: Duration::from_secs(1),
                state: None,
            });
        }
        let state = tokio::task::spawn_blocking(move || treaty_kg::build_state(config)).await.unwrap().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        // On the server's own runtime, as `treaty-kg serve` runs it (deep-stack
        // workers that evaluate small queries themselves).
        std::thread::spawn(move || {
            let runtime = treaty_kg::exec::server_runtime(Some(2)).unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                treaty_kg::serve(listener, served, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        TestServer { base, client: reqwest::Client::new(), state, shutdown: Some(tx), engine }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET /sparql?query=… with an Accept header.
    pub async fn query(&self, query: &str, accept: &str) -> reqwest::Response {
        self.client.get(self.url("/sparql")).query(&[("query", query)]).header("accept", accept).send().await.unwrap()
    }

    /// POST application/sparql-update with the token.
    pub async fn update(&self, update: &str) -> reqwest::Response {
        self.client
            .post(self.url("/sparql"))
            .header("content-type", "application/sparql-update")
            .bearer_auth(TOKEN)
            .body(update.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// The number of solutions of a SELECT.
    pub async fn count(&self, query: &str) -> usize {
        let response = self.query(query, "application/sparql-results+json").await;
        let status = response.status();
        let body = response.bytes().await.unwrap();
        assert_eq!(status, 200, "query failed: {query}\n{}", String::from_utf8_lossy(&body));
        solutions(&body, QueryResultsFormat::Json).len()
    }

    /// The whole store as a dataset.
    pub async fn dataset(&self) -> Dataset {
        let r = self.fetch("/store", "application/n-quads").await;
        assert_eq!(r.status, 200);
        dataset(&r.body, RdfFormat::NQuads)
    }
}

/// An answer read whole: its status, headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Self {
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        Reply { status, headers, body: response.bytes().await.unwrap().to_vec() }
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, `""` when it is missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Panics, showing the body, unless the status is `status`.
    pub fn expect(self, status: u16, step: &str) -> Self {
        assert_eq!(self.status, status, "{step}: {}", self.text());
        self
    }
}

/// Sends `request` and reads the answer whole (for a server that is not a `TestServer`).
pub async fn call(request: reqwest::RequestBuilder) -> Reply {
    Reply::read(request.send().await.unwrap()).await
}

impl TestServer {
    /// Sends `request` and reads the answer whole.
    pub async fn call(&self, request: reqwest::RequestBuilder) -> Reply {
        call(request).await
    }

    /// Sends `body` of `content_type` to `path` with `method` and the token; the answer read whole.
    pub async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let request = self.client.request(method, self.url(path)).bearer_auth(TOKEN);
        self.call(request.header("content-type", content_type).body(body)).await
    }

    /// DELETEs `path` with the token; the answer read whole.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(self.client.delete(self.url(path)).bearer_auth(TOKEN)).await
    }

    /// GETs `path`, with `Accept: accept` unless it is empty; the answer read whole.
    pub async fn fetch(&self, path: &str, accept: &str) -> Reply {
        let mut request = self.client.get(self.url(path));
        if !accept.is_empty() {
            request = request.header("accept", accept);
        }
        self.call(request).await
    }
}

/// Asserts that `response` has `status`, naming `step` and showing the body
/// when it has not; returns the headers for further checks.
pub async fn expect_status(response: reqwest::Response, status: u16, step: &str) -> reqwest::header::HeaderMap {
    let (got, headers) = (response.status(), response.headers().clone());
    let body = response.text().await.unwrap_or_default();
    assert_eq!(got, status, "{step}: {body}");
    headers
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One test per backend (embedded, Virtuoso, `oxigraph serve`) from one body:
/// `on_every_backend! { async fn name(backend) { … } }` makes the module `name`
/// with the tests `embedded`, `virtuoso` and `oxigraph`.
#[macro_export]
macro_rules! on_every_backend {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::common::Backend) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                run($crate::common::Backend::Embedded).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn virtuoso() {
                run($crate::common::Backend::Virtuoso).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn oxigraph() {
                run($crate::common::Backend::Oxigraph).await
            }
        }
    };
}

/// Parses SELECT results into rows of (variable, term) pairs, sorted.
pub fn solutions(body: &[u8], format: QueryResultsFormat) -> Vec<Vec<(String, Term)>> {
    match QueryResultsParser::from_format(format).for_slice(body).unwrap() {
        SliceQueryResultsParserOutput::Solutions(s) => {
            let mut rows: Vec<Vec<(String, Term)>> = s
                .map(|row| {
                    let row = row.unwrap();
                    let mut cells: Vec<(String, Term)> =
                        row.iter().map(|(v, t)| (v.as_str().to_owned(), t.clone())).collect();
                    cells.sort_by(|a, b| a.0.cmp(&b.0));
                    cells
                })
                .collect();
            rows.sort_by_key(|r| format!("{r:?}"));
            rows
        }
        SliceQueryResultsParserOutput::Boolean(_) => panic!("expected solutions, got a boolean"),
    }
}

pub fn boolean(body: &[u8], format: QueryResultsFormat) -> bool {
    match QueryResultsParser::from_format(format).for_slice(body).unwrap() {
        SliceQueryResultsParserOutput::Boolean(b) => b,
        SliceQueryResultsParserOutput::Solutions(_) => panic!("expected a boolean"),
    }
}

/// The `void:triples` VoID gives `subject`.
pub fn void_triples_of(g: &Graph, subject: oxigraph::model::NamedOrBlankNodeRef<'_>) -> u64 {
    let void_triples = oxigraph::model::NamedNodeRef::new_unchecked("http://rdfs.org/ns/void#triples");
    match g.object_for_subject_predicate(subject, void_triples) {
        Some(oxigraph::model::TermRef::Literal(l)) => l.value().parse().unwrap(),
        other => panic!("{subject} has no void:triples: {other:?}"),
    }
}

/// The statements a VoID description counts in all of `dataset`'s subsets, and in `dataset`.
pub fn void_subsets_and_dataset(g: &Graph, dataset: &oxigraph::model::NamedNode) -> (u64, u64) {
    let subset = oxigraph::model::NamedNodeRef::new_unchecked("http://rdfs.org/ns/void#subset");
    let in_subsets = g
        .objects_for_subject_predicate(dataset, subset)
        .map(|s| match s {
            oxigraph::model::TermRef::BlankNode(b) => void_triples_of(g, b.into()),
            other => panic!("subset {other}"),
        })
        .sum();
    (in_subsets, void_triples_of(g, dataset.into()))
}

/// The statements of the VoID subset titled exactly `title`.
pub fn void_triples_titled(g: &Graph, title: &str) -> u64 {
    let dct_title = oxigraph::model::NamedNodeRef::new_unchecked("http://purl.org/dc/terms/title");
    let subset = g
        .triples_for_predicate(dct_title)
        .find(|t| matches!(t.object, oxigraph::model::TermRef::Literal(l) if l.value() == title))
        .unwrap_or_else(|| {
            let titles: Vec<String> = g.triples_for_predicate(dct_title).map(|t| t.object.to_string()).collect();
            panic!("no subset titled {title:?}: {titles:?}")
        })
        .subject;
    void_triples_of(g, subset)
}

pub fn graph(body: &[u8], format: RdfFormat) -> Graph {
    let mut graph = Graph::new();
    for quad in RdfParser::from_format(format).for_slice(body) {
        let quad = quad.unwrap_or_else(|e| panic!("unparseable {format:?}: {e}\n{}", String::from_utf8_lossy(body)));
        graph.insert(quad.as_ref());
    }
    graph
}

pub fn dataset(body: &[u8], format: RdfFormat) -> Dataset {
    RdfParser::from_format(format).for_slice(body).map(|q| q.unwrap()).collect()
}

#[track_caller]
pub fn assert_isomorphic(a: &Graph, b: &Graph) {
    let (mut a, mut b) = (a.clone(), b.clone());
    a.canonicalize(CanonicalizationAlgorithm::Unstable);
    b.canonicalize(CanonicalizationAlgorithm::Unstable);
    assert_eq!(a, b, "graphs are not isomorphic");
}

#[track_caller]
pub fn assert_datasets_isomorphic(a: &Dataset, b: &Dataset) {
    let (mut a, mut b) = (a.clone(), b.clone());
    a.canonicalize(CanonicalizationAlgorithm::Unstable);
    b.canonicalize(CanonicalizationAlgorithm::Unstable);
    assert_eq!(a, b, "datasets are not isomorphic");
}

/// A file or folder of the repository; panics, naming the path, when it does
/// not exist (a test whose input is missing fails instead of passing on nothing).
#[track_caller]
pub fn repo(path: &str) -> PathBuf {
    existing(repo_may_not_exist(path))
}

/// A path in the repository that may not exist (yet), unchecked: an output a
/// test creates, or something it fetches when missing, checks for itself with
/// a message saying how to install it, or does without. Inputs go through `repo`.
pub fn repo_may_not_exist(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A server loaded with the repository's ontology/ and data/.
pub async fn knowledge_graph_server() -> TestServer {
    knowledge_graph_on(Backend::Embedded).await
}

/// The repository's ontology/ and data/ (with its saved queries) served from `backend`.
pub async fn knowledge_graph_on(backend: Backend) -> TestServer {
    TestServer::with(Options {
        sources: vec![repo("ontology"), repo("data")],
        queries_dir: Some(repo("queries")),
        backend,
        ..Options::default()
    })
    .await
}

/// A term as plain text: IRIs bare, literals by value.
pub fn plain(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => n.as_str().to_owned(),
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    }
}

impl TestServer {
    /// The rows of a SELECT as plain text, columns in the order of the head, rows sorted.
    pub async fn table(&self, query: &str) -> Vec<Vec<String>> {
        ok_table(self.query(query, "application/sparql-results+json").await, query).await
    }

    pub async fn ask(&self, query: &str) -> bool {
        let response = self.query(query, "application/sparql-results+json").await;
        assert_eq!(response.status(), 200, "{query}");
        boolean(&response.bytes().await.unwrap(), QueryResultsFormat::Json)
    }

    /// Whether the ASK `query` answers `expected` within five seconds (for
    /// what the server derives in the background after a write).
    pub async fn eventually(&self, query: &str, expected: bool) -> bool {
        for _ in 0..50 {
            if self.ask(query).await == expected {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }

    /// A counter of `/metrics` (the sum of its samples whose line starts with `sample`).
    pub async fn counter(&self, sample: &str) -> u64 {
        let text = self.fetch("/metrics", "").await.text();
        text.lines().filter(|l| l.starts_with(sample)).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
    }

    /// The counter `sample` once it is past `floor`, or as it is after five seconds.
    pub async fn counter_past(&self, sample: &str, floor: u64) -> u64 {
        for _ in 0..50 {
            let value = self.counter(sample).await;
            if value > floor {
                return value;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.counter(sample).await
    }
}

/// SPARQL JSON results as plain-text rows, columns in head order, rows sorted.
pub fn results_table(body: &[u8]) -> Vec<Vec<String>> {
    match QueryResultsParser::from_format(QueryResultsFormat::Json).for_slice(body).unwrap() {
        SliceQueryResultsParserOutput::Solutions(solutions) => {
            let variables = solutions.variables().to_vec();
            let mut rows: Vec<Vec<String>> = solutions
                .map(|s| {
                    let s = s.unwrap();
                    variables.iter().map(|v| s.get(v).map(plain).unwrap_or_default()).collect()
                })
                .collect();
            rows.sort();
            rows
        }
        SliceQueryResultsParserOutput::Boolean(_) => panic!("expected solutions"),
    }
}

/// The rows of a SPARQL JSON answer as plain text, sorted; panics, naming
/// `asked`, unless the answer is 200.
async fn ok_table(response: reqwest::Response, asked: &str) -> Vec<Vec<String>> {
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, 200, "{asked}\n{}", String::from_utf8_lossy(&body));
    results_table(&body)
}

/// Rows from string literals, sorted, for comparing with `TestServer::table`.
pub fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = expected.iter().map(|r| r.iter().map(|c| (*c).to_owned()).collect()).collect();
    rows.sort();
    rows
}

pub const BIN: &str = env!("CARGO_BIN_EXE_treaty-kg");

/// A `treaty-kg serve` child process, the address it listens on, and its log.
pub struct Served {
    pub child: std::process::Child,
    pub base: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Served {
    /// The lines the server has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Whether a line that `matches` is logged within a few seconds (the
    /// server writes its log in batches, every 50 ms).
    pub async fn logged(&self, matches: impl Fn(&str) -> bool) -> bool {
        self.first_line(matches, std::time::Duration::from_secs(5)).await.is_some()
    }

    /// The first logged line that contains `what`, waiting up to `wait` for it.
    pub async fn line(&self, what: &str, wait: std::time::Duration) -> Option<String> {
        self.first_line(|l| l.contains(what), wait).await
    }

    /// The first logged line that `matches`, waiting up to `wait` for it.
    async fn first_line(&self, matches: impl Fn(&str) -> bool, wait: std::time::Duration) -> Option<String> {
        let until = std::time::Instant::now() + wait;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| matches(l)) {
                return Some(line);
            }
            if std::time::Instant::now() > until {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// When a log line was written, in seconds since 1970, from its RFC 3339 UTC
/// timestamp (`2026-12-04T21:46:29.676883Z …`): the server's own clock, so
/// gaps between lines do not depend on how promptly a test read them.
pub fn logged_at(line: &str) -> f64 {
    let stamp = line.split_whitespace().next().unwrap();
    let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339);
    at.unwrap_or_else(|e| panic!("{stamp}: not an RFC 3339 timestamp: {e}")).unix_timestamp_nanos() as f64 / 1e9
}

/// Kills a served child when dropped (tests that panic leave no server behind).
pub struct KillOnDrop(pub Served);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// Starts the real binary (`serve --bind 127.0.0.1:0` plus `args`) and waits
/// until it says where it listens.
pub fn spawn_server(args: &[String], envs: &[(&str, &str)]) -> Served {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(BIN);
    command.args(["serve", "--bind", "127.0.0.1:0"]).args(args).env("RUST_LOG", "treaty_kg=info").env("NO_COLOR", "1");
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let mut log = String::new();
    let base = loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!("the server exited before serving:\n{log}"),
        };
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("address=").nth(1) {
            let address = rest.split_whitespace().next().unwrap();
            break format!("http://{address}");
        }
    };
    // Keep draining the log (and keeping it) so the child never blocks on a full pipe.
    let kept = std::sync::Arc::new(std::sync::Mutex::new(log.lines().map(str::to_owned).collect::<Vec<_>>()));
    let sink = kept.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Served { child, base, log: kept }
}

/// The single number a `SELECT (COUNT(…) AS ?n)` answers, asked of the server at `base`.
pub async fn count_at(base: &str, query: &str) -> u64 {
    let request = reqwest::Client::new().get(format!("{base}/sparql")).query(&[("query", query)]);
    let body = call(request.header("accept", "text/csv")).await.text();
    body.lines().nth(1).unwrap_or_else(|| panic!("no count in {body:?}")).trim().parse().unwrap()
}

/// 300 statements `<http://example.org/nI> <http://example.org/v> I`, in Turtle:
/// a join of k copies of their pattern has 300^k solutions (queries that never end).
pub fn numbered_rows() -> String {
    (0..300).map(|i| format!("<http://example.org/n{i}> <http://example.org/v> {i} .\n")).collect()
}

/// The four-way join over `numbered_rows` (8.1e9 solutions), in `graph` or the default graph.
pub fn endless_join(graph: Option<&str>) -> String {
    let patterns = "?a <http://example.org/v> ?x . ?b <http://example.org/v> ?y . ?c <http://example.org/v> ?z . ?d <http://example.org/v> ?w";
    match graph {
        Some(g) => format!("SELECT (COUNT(*) AS ?c) WHERE {{ GRAPH <{g}> {{ {patterns} }} }}"),
        None => format!("SELECT (COUNT(*) AS ?c) WHERE {{ {patterns} }}"),
    }
}

impl TestServer {
    /// GETs `path` with an `Accept` header; the body as text.
    pub async fn get_text(&self, path: &str, accept: &str) -> String {
        self.get(path, accept).await.text().await.unwrap()
    }

    /// The rows of the SPARQL JSON answer at `path` (a saved query), as plain
    /// text, sorted; panics unless 200.
    pub async fn rows_at(&self, path: &str) -> Vec<Vec<String>> {
        ok_table(self.get(path, "application/sparql-results+json").await, path).await
    }

    /// GETs `path` with an `Accept` header.
    pub async fn get(&self, path: &str, accept: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("accept", accept).send().await.unwrap()
    }

    /// GET /search?… as JSON once the search index has caught up with the data
    /// (it is built in the background: 503 until the first build, `stale`
    /// while a rebuild runs). Panics on any other status.
    pub async fn search(&self, query_string: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let response = self.get(&format!("/search?{query_string}"), "application/json").await;
            let status = response.status();
            let body = response.text().await.unwrap();
            if status == 200 {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                if json["stale"] == false || std::time::Instant::now() > deadline {
                    return json;
                }
            } else {
                assert!(status == 503 && std::time::Instant::now() < deadline, "{query_string}: {status} {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// PUTs a Turtle body to a Graph Store `target` (`/store?default`, `/store?graph=…`) with the token.
    pub async fn put_turtle(&self, target: &str, body: String) -> reqwest::Response {
        self.send_turtle(reqwest::Method::PUT, target, body).await
    }

    /// Sends a Turtle body to `target` with `method` and the token.
    pub async fn send_turtle(&self, method: reqwest::Method, target: &str, body: String) -> reqwest::Response {
        self.send_rdf(method, target, "text/turtle", body).await
    }

    /// Sends an RDF body of `content_type` to `target` with `method` and the token.
    pub async fn send_rdf(
        &self,
        method: reqwest::Method,
        target: &str,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(target))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
