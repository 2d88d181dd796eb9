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
    Remote(super::remote::RemoteConfig),
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProtocolDataset {
    pub default_graphs: Vec<NamedNode>,
    pub named_graphs: Vec<NamedNode>,
}

impl ProtocolDataset {
    pub fn is_empty(&self) -> bool {
        self.default_graphs.is_empty() && self.named_graphs.is_empty()
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
        self.cost_key.unwrap_or_else(|| {
            let dataset = format!("{:?}", self.dataset);
            match &self.query {
                QuerySource::Text { text, .. } => super::admission::cost_key(&[text, &dataset]),
                QuerySource::Parsed(_) => super::admission::cost_key(&[&self.label, &dataset]),
            }
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
