//! What callers hand the store: queries, updates, graph addresses, datasets,
//! and the options the store runs with.

use oxigraph::model::{GraphNameRef, NamedNode, Term, Variable};
use std::path::PathBuf;
use std::time::Duration;

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// In memory: gone when the process ends (tests, demos).
    Memory,
    /// A RocksDB directory, created when missing.
    Directory(PathBuf),
    /// A remote SPARQL 1.1 engine.
    Remote(RemoteConfig),
}

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
    /// Where what is derived from the engine's data is kept across restarts
    /// (`--remote-state`, one directory per engine); `None`: nothing is kept.
    pub state: Option<std::path::PathBuf>,
}

/// `user:password` for the engine. The password never appears in logs,
/// errors or debug output.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: String,
}

impl Credentials {
    pub fn new(user: String, password: String) -> Self {
        Credentials { user, password }
    }

    pub fn password(&self) -> &str {
        &self.password
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ user: {:?}, password: <hidden> }}", self.user)
    }
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

/// How the views derived from the data (summaries, the inferred graph, the
/// rules' graphs, the search index) are kept current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derivation {
    /// Inside each write's own transaction, from its exact change: every write
    /// passes through this process (the embedded store). The bulk loader writes
    /// around it, so what it loads is derived at the next start.
    InWrite,
    /// After writes are seen, by SPARQL: the engine may also be written
    /// directly, which only its data version shows (a remote engine).
    AfterWrite,
}

/// Evaluation options fixed at start.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The default graph of queries is the union of all graphs.
    pub union_default_graph: bool,
    /// Deadline of every query, update and page read.
    pub timeout: Duration,
    /// Deadline of dumps and whole-store reads, which stream a lot by nature.
    pub transfer_timeout: Duration,
    /// Slots of the normal admission lane (the fast lane has as many, the heavy lane half).
    pub max_concurrent: usize,
    /// Requests allowed to wait in each lane; past it, requests are refused at once.
    pub max_queued: usize,
    /// How long a request waits for a slot before it is refused.
    pub queue_timeout: Duration,
    /// Reads that ran this long (or run this long) belong to the heavy lane.
    pub heavy_after: Duration,
    /// Reads whose last run was quicker than this are admitted to the fast lane.
    pub fast_below: Duration,
    /// The structural depth a SPARQL text may have (`sparql::depth`).
    pub max_depth: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            union_default_graph: true,
            timeout: Duration::from_secs(30),
            transfer_timeout: Duration::from_secs(600),
            max_concurrent: default_concurrency(),
            max_queued: 64,
            queue_timeout: Duration::from_secs(10),
            heavy_after: Duration::from_secs(1),
            fast_below: Duration::from_millis(50),
            max_depth: crate::sparql::depth::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Twice the cores: evaluation is CPU-bound, and some of it waits on the client.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 2)
}

/// What a Graph Store write does to the graph it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphWrite {
    /// PUT: the graph becomes the body's triples.
    Replace,
    /// POST: the body's triples are added to it.
    Merge,
}

/// A graph addressed by the Graph Store Protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphTarget {
    /// The store's own default graph (never the union).
    Default,
    Named(NamedNode),
}

impl GraphTarget {
    pub(crate) fn as_ref(&self) -> GraphNameRef<'_> {
        match self {
            GraphTarget::Default => GraphNameRef::DefaultGraph,
            GraphTarget::Named(n) => n.as_ref().into(),
        }
    }

    pub(crate) fn label(&self) -> String {
        match self {
            GraphTarget::Default => "default graph".into(),
            GraphTarget::Named(g) => g.to_string(),
        }
    }
}

/// The RDF dataset a request names through the protocol
/// (`default-graph-uri`/`named-graph-uri`, or `using-…` for updates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProtocolDataset {
    pub default_graphs: Vec<NamedNode>,
    pub named_graphs: Vec<NamedNode>,
}

impl ProtocolDataset {
    pub fn is_empty(&self) -> bool {
        self.default_graphs.is_empty() && self.named_graphs.is_empty()
    }

    /// The protocol's rule for a parsed update: a USING clause and the
    /// `using-graph-uri`/`using-named-graph-uri` parameters exclude each other.
    pub fn check_update(&self, update: &spargebra::Update) -> Result<(), super::StoreError> {
        let using = |op: &spargebra::GraphUpdateOperation| {
            matches!(op, spargebra::GraphUpdateOperation::DeleteInsert { using: Some(_), .. })
        };
        if !self.is_empty() && update.operations.iter().any(using) {
            return Err(super::StoreError::Request(
                "the update has a USING clause and the request has using-graph-uri/using-named-graph-uri; the protocol forbids both".into(),
            ));
        }
        Ok(())
    }
}

/// A query as text (parsed by the store, on a deep-stack thread, under
/// admission) or already parsed (saved queries, parsed when they load).
#[derive(Debug, Clone)]
pub enum QuerySource {
    Text {
        text: String,
        /// The IRI relative IRIs resolve against (the endpoint's URL).
        base: Option<String>,
    },
    Parsed(Box<spargebra::Query>),
}

/// A query ready to run.
#[derive(Debug, Clone)]
pub struct QueryJob {
    pub query: QuerySource,
    pub dataset: ProtocolDataset,
    /// Values bound to variables of the query (saved-query parameters), joined
    /// into the query's algebra as a one-row VALUES table (`sparql::bind`).
    pub bindings: Vec<(Variable, Term)>,
    /// The text shown in the running-queries list.
    pub label: String,
    /// A deadline shorter than the server's (a saved query's own timeout).
    pub timeout: Option<Duration>,
    /// What identifies this work's cost for admission; by default the text.
    pub cost_key: Option<u64>,
    /// A scan of the whole store (the dataset summaries, once per data
    /// version): bounded by `--transfer-timeout`, like a dump, instead of the
    /// deadline of a visitor's query; inside `exec::background` (as the
    /// summaries run) by the background lane's much longer one.
    pub whole_store: bool,
}

impl QueryJob {
    /// A parsed query on the default dataset, with no bindings and the server's deadline.
    pub fn new(query: spargebra::Query, label: impl Into<String>) -> Self {
        Self::from_source(QuerySource::Parsed(Box::new(query)), label.into())
    }

    /// A query given as text, parsed by the store.
    pub fn text(text: impl Into<String>, label: impl Into<String>) -> Self {
        Self::from_source(QuerySource::Text { text: text.into(), base: None }, label.into())
    }

    /// Resolves the text's relative IRIs against `base`.
    pub fn with_base(mut self, base: String) -> Self {
        if let QuerySource::Text { base: slot, .. } = &mut self.query {
            *slot = Some(base);
        }
        self
    }

    fn from_source(query: QuerySource, label: String) -> Self {
        QueryJob {
            query,
            dataset: ProtocolDataset::default(),
            bindings: Vec::new(),
            label,
            timeout: None,
            cost_key: None,
            whole_store: false,
        }
    }

    /// Marks the job as a scan of the whole store ([`QueryJob::whole_store`]).
    pub fn scanning_the_whole_store(mut self) -> Self {
        self.whole_store = true;
        self
    }

    /// The key of this work's remembered cost.
    pub(crate) fn cost_key(&self) -> u64 {
        self.cost_key.unwrap_or_else(|| match &self.query {
            QuerySource::Text { text, .. } => super::admission::cost_key((text, &self.dataset)),
            QuerySource::Parsed(_) => super::admission::cost_key((&self.label, &self.dataset)),
        })
    }
}

/// An update given as text (parsed by the store after the token was checked).
#[derive(Debug, Clone)]
pub struct UpdateJob {
    pub text: String,
    pub base: Option<String>,
    pub dataset: ProtocolDataset,
}

/// A materialized, capped answer (saved queries).
#[derive(Debug, Clone)]
pub struct CappedAnswer {
    pub body: bytes::Bytes,
    /// More rows (or triples) existed than the cap; only the first `cap` were written.
    pub truncated: bool,
}

/// Outcome of syncing one source file at start.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSync {
    Loaded { graph: String, quads: usize },
    Unchanged { graph: String },
}
