//! Command-line arguments (clap) and the validated [`Config`] the server runs with.
//!
//! Raw flags are checked once here (paths exist, the token file is readable, the
//! bind address parses); everything downstream takes a `Config`, never loose flags.

use crate::store::{RemoteConfig, StoreLocation, StoreOptions};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

mod remote;
pub use remote::RemoteArgs;

/// The store directory used when neither `--store` nor `--memory` is given.
pub const DEFAULT_STORE_DIR: &str = ".treaty-kg/store";
/// The address the server listens on by default (loopback only).
pub const DEFAULT_BIND: &str = "127.0.0.1:7878";
/// Environment variable that may hold the write token.
pub const TOKEN_ENV: &str = "TREATY_KG_WRITE_TOKEN";

/// treaty-kg: a knowledge graph of states, treaties, officials, threats and
/// alliances, served over the SPARQL 1.1 Protocol, the Graph Store Protocol and
/// linked-data URLs from an embedded Oxigraph store.
#[derive(Debug, Parser)]
#[command(name = "treaty-kg", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load ontology/ and data/ into the store (only files that changed) and serve HTTP.
    Serve(Box<ServeArgs>),
    /// Bulk-load RDF files into the store (stop the server first).
    Load(LoadArgs),
    /// Run a SPARQL query against the store and print the results.
    Query(QueryArgs),
    /// Write the whole store (or one graph) to standard output.
    Dump(DumpArgs),
    /// Check RDF files against the SHACL shapes; print each violation and exit 1 if any.
    Validate(ValidateArgs),
    /// Copy the store into a new directory (stop the server first, or POST /admin/backup).
    Backup(BackupArgs),
    /// List the saved queries of the catalogue.
    Queries(QueriesArgs),
    /// Write deterministic synthetic data (N-Quads) to standard output, for benchmarks.
    Generate(GenerateArgs),
    /// Run a saved query against the store.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The new directory to write the backup into (it becomes a store: serve it with --store).
    #[arg(value_name = "DIR")]
    pub target: PathBuf,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many quads to write (at least).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub triples: u64,
    /// The seed: the same seed gives the same data.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct QueriesArgs {
    /// Folder of saved queries.
    #[arg(long, value_name = "DIR", default_value = "queries")]
    pub queries: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The saved query's name (its file stem).
    pub name: String,
    /// A parameter value, NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Output format (table for SELECT/ASK, turtle for CONSTRUCT/DESCRIBE when omitted).
    #[arg(long, value_enum)]
    pub format: Option<CliFormat>,
    /// Folder of saved queries.
    #[arg(long, value_name = "DIR", default_value = "queries")]
    pub queries: PathBuf,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// RDF files or directories to validate (default: ontology/ and data/).
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// The SHACL shapes graph (Turtle).
    #[arg(long, value_name = "FILE", default_value = "ontology/shapes.ttl")]
    pub shapes: PathBuf,
}

/// Where the store is.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory of the persistent RocksDB store (created when missing).
    #[arg(long, value_name = "DIR", env = "TREATY_KG_STORE", default_value = DEFAULT_STORE_DIR)]
    pub store: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep the store in memory instead (nothing persists after exit).
    #[arg(long, conflicts_with_all = ["store", "remote"])]
    pub memory: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", env = "TREATY_KG_BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Extra RDF files or directories to load, each file into its own named graph
    /// (repeatable; ontology/ and data/ of the working directory are always loaded).
    #[arg(long, value_name = "PATH")]
    pub data: Vec<PathBuf>,
    /// Skip loading ontology/ and data/ of the working directory.
    #[arg(long)]
    pub no_default_data: bool,
    /// Seconds a query or update may run before it is cancelled.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// File holding the bearer token that writes must present
    /// (or set TREATY_KG_WRITE_TOKEN). Without one the server is read-only.
    #[arg(long, value_name = "FILE")]
    pub write_token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest query text accepted, in bytes (larger ones get 413; updates, which
    /// need the token, may use the whole body).
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_query_bytes: usize,
    /// Do not keep answers of `/sparql` queries in memory (ETags and 304 stay).
    #[arg(long)]
    pub no_query_cache: bool,
    /// Do not materialize the RDFS subclass and subproperty closure into
    /// https://w3id.org/treaty-kg/graph/inferred (queries see only what is stated).
    #[arg(long)]
    pub no_inference: bool,
    /// No full-text index: `/search` and the search SERVICE answer 404.
    #[arg(long)]
    pub no_search: bool,
    /// Where the full-text index is kept (default: `search-index` inside the
    /// `--store` directory, or the `--remote-state` one; else in memory).
    #[arg(long, value_name = "DIR")]
    pub search_index: Option<PathBuf>,
    /// Deepest structure a SPARQL query or update may have: each `{`, `(`, `[`
    /// or `<<` opens a level, and each operator or pattern keyword chained inside
    /// a level adds one. Deeper text gets 400 with the position.
    #[arg(long, value_name = "N", default_value_t = crate::sparql::depth::DEFAULT_MAX_DEPTH)]
    pub max_query_depth: usize,
    /// Whether the default graph of queries is the union of all named graphs
    /// (`--union-default-graph=false` for the store's own, separate default graph).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub union_default_graph: bool,
    /// Queries, updates and page reads evaluated at once (default: twice the cores).
    #[arg(long, value_name = "N")]
    pub max_concurrent_queries: Option<usize>,
    /// Requests allowed to wait for an evaluation slot; more get 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_queued_queries: usize,
    /// Seconds a request waits for an evaluation slot before it gets 503.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub queue_timeout: u64,
    /// Milliseconds after which a running read moves to the heavy lane (when that
    /// lane is full it runs on, cancelled with 503 only if lighter requests wait
    /// for its slot).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub heavy_after_ms: u64,
    /// Seconds a dump or whole-store read may stream before it is cut (the
    /// server's own background scans, at a lower priority: 24 hours, or this if longer).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub transfer_timeout: u64,
    /// Folder of saved queries (`*.rq`); reloaded when it changes. Default:
    /// `queries` when that folder exists. A path given here must be a folder.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// The public URL of this server, when it runs behind a proxy
    /// (defaults to http://<Host header>).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// RDF files or directories (syntax by extension: .ttl .nt .nq .trig .rdf
    /// .owl .jsonld, optionally .gz).
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Where triples go: an absolute IRI, or `default` for the default graph.
    /// Without it, each file's triples go into the file's own named graph, as
    /// with `serve --data` (quads keep their graph either way).
    #[arg(long, value_name = "IRI|default")]
    pub graph: Option<String>,
    /// Build no full-text index while loading. Into an empty `--store`, the
    /// load builds the index from what it reads, so the server starts on a
    /// current one instead of reading the whole store back to build it.
    #[arg(long)]
    pub no_search: bool,
    /// Where that index goes (default: `search-index` inside the `--store`
    /// directory, where `serve` looks for it).
    #[arg(long, value_name = "DIR")]
    pub search_index: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum CliFormat {
    Table,
    Csv,
    Tsv,
    Json,
    Xml,
    Turtle,
    Ntriples,
    Nquads,
    Trig,
    Jsonld,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The SPARQL query text.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub sparql: Option<String>,
    /// Read the query from this file instead.
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,
    /// Output format (table for SELECT/ASK, turtle for CONSTRUCT/DESCRIBE when omitted).
    #[arg(long, value_enum)]
    pub format: Option<CliFormat>,
    /// Query the store's own default graph instead of the union of all graphs.
    #[arg(long)]
    pub no_union_default_graph: bool,
    /// Seconds before the query is cancelled.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum DumpFormat {
    Nquads,
    Trig,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output syntax.
    #[arg(long, value_enum, default_value = "nquads")]
    pub format: DumpFormat,
    /// Only this named graph (written as triples in the chosen syntax).
    #[arg(long, value_name = "IRI")]
    pub graph: Option<String>,
}

/// The validated configuration of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    pub location: StoreLocation,
    pub bind: SocketAddr,
    /// Files and directories whose RDF files are loaded at start.
    pub sources: Vec<PathBuf>,
    pub store_options: StoreOptions,
    /// The bearer token writes must carry; `None` makes the server read-only.
    pub write_token: Option<String>,
    pub max_body_bytes: usize,
    /// Largest anonymous query text, in bytes.
    pub max_query_bytes: usize,
    pub public_url: Option<String>,
    /// The saved-query folder, if there is one.
    pub queries_dir: Option<PathBuf>,
    /// Whether answers of `/sparql` queries are kept in memory.
    pub query_cache: bool,
    /// Whether the RDFS subclass and subproperty closure is materialized.
    pub inference: bool,
    /// Where the full-text index is (`None`: no search).
    pub search: Option<crate::search::IndexLocation>,
}

impl Config {
    /// A configuration for tests and embedding: in-memory, read-only, no sources.
    pub fn in_memory() -> Self {
        Config {
            location: StoreLocation::Memory,
            bind: DEFAULT_BIND.parse().expect("valid default bind address"),
            sources: Vec::new(),
            store_options: StoreOptions::default(),
            write_token: None,
            max_body_bytes: 64 * 1024 * 1024,
            max_query_bytes: 4 * 1024 * 1024,
            public_url: None,
            queries_dir: None,
            query_cache: true,
            inference: true,
            search: Some(crate::search::IndexLocation::Memory),
        }
    }

    /// Validates `serve` flags. `token_from_env` is the value of [`TOKEN_ENV`].
    pub fn from_serve_args(mut args: ServeArgs, token_from_env: Option<String>) -> anyhow::Result<Self> {
        let location = match (args.remote.config()?, args.memory) {
            (Some(remote), _) => StoreLocation::Remote(remote),
            (None, true) => StoreLocation::Memory,
            (None, false) => StoreLocation::Directory(std::mem::take(&mut args.store.store)),
        };
        let write_token = write_token(&args, token_from_env)?;
        check_limits(&args)?;
        let queries_dir = match args.queries.take() {
            Some(dir) if dir.is_dir() => Some(dir),
            Some(dir) => bail!("{}: --queries must name a folder of saved queries (*.rq)", dir.display()),
            None => Some(PathBuf::from("queries")).filter(|d| d.is_dir()),
        };
        let sources = sources(&mut args)?;
        let search = match (&args.search_index, &location) {
            _ if args.no_search => None,
            (Some(dir), _) => Some(crate::search::IndexLocation::Directory(dir.clone())),
            (None, StoreLocation::Directory(dir) | StoreLocation::Remote(RemoteConfig { state: Some(dir), .. })) => {
                Some(crate::search::IndexLocation::Directory(dir.join("search-index")))
            }
            (None, _) => Some(crate::search::IndexLocation::Memory),
        };
        Ok(Config {
            search,
            location,
            bind: args.bind,
            sources,
            store_options: StoreOptions {
                union_default_graph: args.union_default_graph,
                timeout: Duration::from_secs(args.timeout),
                max_concurrent: args.max_concurrent_queries.unwrap_or_else(crate::store::default_concurrency).max(1),
                max_queued: args.max_queued_queries,
                queue_timeout: Duration::from_secs(args.queue_timeout),
                heavy_after: Duration::from_millis(args.heavy_after_ms.max(1)),
                transfer_timeout: Duration::from_secs(args.transfer_timeout.max(1)),
                max_depth: args.max_query_depth,
                ..StoreOptions::default()
            },
            write_token,
            max_body_bytes: args.max_body_bytes,
            max_query_bytes: args.max_query_bytes.min(args.max_body_bytes),
            public_url: args.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            queries_dir,
            query_cache: !args.no_query_cache,
            inference: !args.no_inference,
        })
    }
}

/// The write token, from `--write-token-file` or else the environment; long
/// enough to resist guessing.
fn write_token(args: &ServeArgs, from_env: Option<String>) -> anyhow::Result<Option<String>> {
    let token = match &args.write_token_file {
        Some(file) => {
            let token = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read the write token file", file.display()))?;
            Some(token.trim().to_owned())
        }
        None => from_env.map(|t| t.trim().to_owned()),
    };
    if token.as_ref().is_some_and(|t| t.len() < 16) {
        bail!("the write token is shorter than 16 characters; use a long random string (e.g. `openssl rand -hex 32`)");
    }
    Ok(token)
}

/// The limits and URLs that have a range.
fn check_limits(args: &ServeArgs) -> anyhow::Result<()> {
    if args.timeout == 0 {
        bail!("--timeout must be at least 1 second");
    }
    if args.max_query_depth < 8 {
        bail!("--max-query-depth must be at least 8; {} would refuse even simple queries", args.max_query_depth);
    }
    if args.max_query_depth > 100_000 {
        bail!("--max-query-depth must be at most 100000: deeper text would not fit the evaluation threads' stacks");
    }
    if let Some(url) = &args.public_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--public-url must start with http:// or https://, got {url:?}");
        }
    }
    Ok(())
}

/// The files and folders loaded at start: the repository's own (unless
/// `--no-default-data`), then each `--data`, which must exist.
fn sources(args: &mut ServeArgs) -> anyhow::Result<Vec<PathBuf>> {
    let mut sources = Vec::new();
    if !args.no_default_data {
        sources.extend(["ontology", "data"].map(PathBuf::from).into_iter().filter(|dir| dir.is_dir()));
    }
    for path in std::mem::take(&mut args.data) {
        if !path.exists() {
            bail!("{}: --data path does not exist", path.display());
        }
        sources.push(path);
    }
    Ok(sources)
}
