//! The command-line subcommands other than `serve`: `load`, `query`, `dump`.
//! Each opens the store itself (read-only where it only reads, so it can run
//! beside a server), does one thing, and reports on stderr.

use crate::config::{
    BackupArgs, CliFormat, DumpArgs, DumpFormat, LoadArgs, QueriesArgs, QueryArgs, RunArgs, ValidateArgs,
};
use crate::sparql::results::OutputFormat;
use crate::store::{Derivation, GraphTarget, KgStore, QueryJob, StoreLocation, StoreOptions};
use anyhow::{anyhow, Context};
use indicatif::{ProgressBar, ProgressStyle};
use oxigraph::io::RdfFormat;
use oxigraph::model::{NamedNode, Term};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsParser, ReaderQueryResultsParserOutput};
use std::io::Write;
use std::time::{Duration, Instant};

/// `treaty-kg load PATH... [--graph IRI|default] [--store DIR | --remote URL]`
///
/// The loading rule is `serve --data`'s: a file's triples go into the file's
/// own named graph (`sources::discover` names it), named graphs inside a TriG
/// or N-Quads file keep their names; `--graph` puts the triples elsewhere.
pub fn load(args: LoadArgs) -> anyhow::Result<()> {
    let into = match args.graph.as_deref() {
        None => None,
        Some("default") => Some(None),
        Some(g) => Some(Some(
            NamedNode::new(g)
                .map_err(|e| anyhow!("--graph must be an absolute IRI or `default`, {g:?} is not: {e}"))?,
        )),
    };
    let files = crate::sources::discover(&args.files)?;
    if let Some(missing) = args.files.iter().find(|f| !f.exists()) {
        anyhow::bail!("{}: no such file or directory", missing.display());
    }
    let location = match args.remote.config()? {
        Some(remote) => StoreLocation::Remote(remote),
        None => StoreLocation::Directory(args.store.store.clone()),
    };
    let store = KgStore::open(&location, StoreOptions::default())?;
    if store.derivation() == Derivation::InWrite {
        // The bulk loader writes around the inferred graph: the next start materializes it.
        tokio::runtime::Handle::current().block_on(store.set_note(crate::inference::STATE, "stale".into()))?;
    }
    let mut index = load_indexer(&args, &location, &store)?;
    let started = Instant::now();
    let mut loaded = 0u64;
    for file in &files {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} quads ({per_sec}, {elapsed})")
                .expect("valid progress template"),
        );
        bar.set_message(file.display.clone());
        bar.enable_steady_tick(Duration::from_millis(200));
        let progress = bar.clone();
        let file_started = Instant::now();
        let graph = into.clone().unwrap_or_else(|| Some(file.graph.clone()));
        store.bulk_load(&file.path, graph.as_ref(), move |n| progress.set_position(n), &mut |quad| {
            if let Some(index) = &mut index {
                index.see(quad);
            }
        })?;
        let count = bar.position();
        bar.finish_and_clear();
        loaded += count;
        let into = graph.map_or_else(|| "the default graph".to_owned(), |g| g.to_string());
        eprintln!(
            "{}: {count} quads in {:.1} s, triples into {into}",
            file.display,
            file_started.elapsed().as_secs_f64()
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    // No count of the store before and after: each is a full scan (seconds at 10M
    // quads), and `treaty-kg query 'SELECT (COUNT(*) AS ?n) …'` gives it when wanted.
    eprintln!(
        "loaded {loaded} quads from {} file(s) in {seconds:.2} s ({:.0} quads/s)",
        files.len(),
        loaded as f64 / seconds.max(1e-9),
    );
    if let Some(index) = index {
        let started = Instant::now();
        match index.commit(&store.data_version()) {
            Ok(documents) => {
                eprintln!("search index: {documents} documents, written in {:.1} s", started.elapsed().as_secs_f64())
            }
            Err(e) => eprintln!("the search index was not written ({}); `serve` builds it", e.chain()),
        }
    }
    Ok(())
}

/// The search index a load into an empty embedded store builds as it reads
/// (`None` when the store held data: `serve` then updates or rebuilds its own).
fn load_indexer(
    args: &LoadArgs,
    location: &StoreLocation,
    store: &KgStore,
) -> anyhow::Result<Option<crate::search::loading::LoadIndexer>> {
    let StoreLocation::Directory(dir) = location else { return Ok(None) };
    if args.no_search || !store.is_empty()? {
        return Ok(None);
    }
    let at = args.search_index.clone().unwrap_or_else(|| dir.join("search-index"));
    match crate::search::loading::LoadIndexer::create(&at) {
        Ok(index) => Ok(Some(index)),
        Err(e) => {
            eprintln!("{}: the search index cannot be written ({e}); `serve` builds it", at.display());
            Ok(None)
        }
    }
}

/// `treaty-kg dump [--format nquads|trig] [--graph IRI]`
pub fn dump(args: DumpArgs) -> anyhow::Result<()> {
    let store = KgStore::open_read_only(&args.store.store, StoreOptions::default())?;
    let format = match args.format {
        DumpFormat::Nquads => RdfFormat::NQuads,
        DumpFormat::Trig => RdfFormat::TriG,
    };
    let target = args
        .graph
        .as_deref()
        .map(|g| NamedNode::new(g).map(GraphTarget::Named).map_err(|e| anyhow!("--graph must be an absolute IRI: {e}")))
        .transpose()?;
    let stdout = std::io::stdout().lock();
    store.dump_blocking(target, format, std::io::BufWriter::new(stdout))?;
    Ok(())
}

/// `treaty-kg validate [FILES] [--shapes F]`: prints each violation; returns
/// whether the files conform.
pub fn validate(args: ValidateArgs) -> anyhow::Result<bool> {
    let roots = if args.files.is_empty() {
        vec![std::path::PathBuf::from("ontology"), std::path::PathBuf::from("data")]
    } else {
        args.files
    };
    let violations = crate::validate::validate(&roots, &args.shapes)?;
    for violation in &violations {
        println!("{violation}");
    }
    if violations.is_empty() {
        eprintln!("conforms: no violations of {}", args.shapes.display());
    } else {
        eprintln!("{} violation(s) of {}", violations.len(), args.shapes.display());
    }
    Ok(violations.is_empty())
}

/// `treaty-kg query (SPARQL | --file F) [--format …]`
pub async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let text = match (&args.sparql, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(file)) => {
            std::fs::read_to_string(file).with_context(|| format!("{}: cannot read", file.display()))?
        }
        (None, None) => unreachable!("clap requires SPARQL or --file"),
    };
    let is_graph = matches!(
        crate::sparql::depth::form(&text),
        Some(crate::sparql::depth::QueryForm::Construct | crate::sparql::depth::QueryForm::Describe)
    );
    let (format, output) = output_format(args.format, is_graph)?;
    let options = StoreOptions {
        union_default_graph: !args.no_union_default_graph,
        timeout: Duration::from_secs(args.timeout),
        ..StoreOptions::default()
    };
    let store = KgStore::open_read_only(&args.store.store, options)?;
    let job = QueryJob::text(text.clone(), text);
    // The embedded store (read-only): no engine cuts the answer.
    let (mut answer, _) = store.query(job, output).await.map_err(|e| anyhow!("{}", e.chain()))?;
    let mut stdout = std::io::stdout().lock();
    if format == CliFormat::Table && !is_graph {
        let mut json = Vec::new();
        while let Some(chunk) = answer.next_chunk().await {
            json.extend_from_slice(&chunk?);
        }
        stdout.write_all(render_table(&json)?.as_bytes())?;
    } else {
        while let Some(chunk) = answer.next_chunk().await {
            stdout.write_all(&chunk?)?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// The output of a CLI query: the chosen format (table and turtle by default) and
/// what the store writes for it.
fn output_format(format: Option<CliFormat>, is_graph: bool) -> anyhow::Result<(CliFormat, OutputFormat)> {
    let format = format.unwrap_or(if is_graph { CliFormat::Turtle } else { CliFormat::Table });
    let output = match (format, is_graph) {
        (CliFormat::Table, false) | (CliFormat::Json, false) => OutputFormat::Results(QueryResultsFormat::Json),
        (CliFormat::Csv, false) => OutputFormat::Results(QueryResultsFormat::Csv),
        (CliFormat::Tsv, false) => OutputFormat::Results(QueryResultsFormat::Tsv),
        (CliFormat::Xml, false) => OutputFormat::Results(QueryResultsFormat::Xml),
        (CliFormat::Table | CliFormat::Turtle, true) => OutputFormat::Rdf(RdfFormat::Turtle),
        (CliFormat::Ntriples, true) => OutputFormat::Rdf(RdfFormat::NTriples),
        (CliFormat::Nquads, true) => OutputFormat::Rdf(RdfFormat::NQuads),
        (CliFormat::Trig, true) => OutputFormat::Rdf(RdfFormat::TriG),
        (CliFormat::Jsonld | CliFormat::Json, true) => OutputFormat::Rdf(crate::conneg::json_ld()),
        (CliFormat::Xml, true) => OutputFormat::Rdf(RdfFormat::RdfXml),
        (other, _) => {
            return Err(anyhow!(
                "--format {other:?} does not fit a {} query",
                if is_graph { "CONSTRUCT/DESCRIBE" } else { "SELECT/ASK" }
            ))
        }
    };
    Ok((format, output))
}

/// `treaty-kg backup DIR`: a consistent copy of a store nobody else has open.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let store = KgStore::open(&StoreLocation::Directory(args.store.store.clone()), StoreOptions::default())?;
    store.backup(args.target.clone()).await?;
    eprintln!(
        "backed up {} into {} (data version {}); serve it with --store {}",
        args.store.store.display(),
        args.target.display(),
        store.data_version(),
        args.target.display()
    );
    Ok(())
}

/// `treaty-kg queries`: the catalogue, one query a line with its parameters.
pub fn queries(args: QueriesArgs) -> anyhow::Result<()> {
    let catalogue = crate::queries::Catalogue::load(&args.queries)?;
    let mut out = std::io::stdout().lock();
    for q in catalogue.iter() {
        writeln!(out, "{:<32} {}", q.name, q.summary)?;
        for p in &q.params {
            let need = if p.required { "required" } else { "optional" };
            let default = p.default.as_deref().map(|d| format!(", default {d}")).unwrap_or_default();
            writeln!(out, "    --param {}=…  {} ({need}{default})", p.name, p.kind.describe())?;
        }
    }
    writeln!(out, "{} saved queries", catalogue.len())?;
    Ok(())
}

/// `treaty-kg run NAME [--param k=v]... [--format …]`
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let catalogue = crate::queries::Catalogue::load(&args.queries)?;
    let query = catalogue
        .get(&args.name)
        .ok_or_else(|| anyhow!("no saved query is named {:?}; `treaty-kg queries` lists them", args.name))?;
    let pairs = args
        .params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow!("--param {p:?} must be NAME=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bindings = crate::queries::params::bind(&query.params, &pairs).map_err(|e| anyhow!("{e}"))?;
    let (format, output) = output_format(args.format, query.is_graph())?;
    let store = KgStore::open_read_only(&args.store.store, StoreOptions::default())?;
    crate::queries::check_against_store(&store, &query, &bindings).await.map_err(|e| anyhow!("{e}"))?;
    let job = QueryJob { bindings, timeout: query.timeout, ..QueryJob::new(query.query.clone(), &query.name) };
    let answer = store.query_capped(job, output, query.row_cap).await?;
    let mut stdout = std::io::stdout().lock();
    if format == CliFormat::Table && !query.is_graph() {
        stdout.write_all(render_table(&answer.body)?.as_bytes())?;
    } else {
        stdout.write_all(&answer.body)?;
    }
    if answer.truncated {
        eprintln!("note: the answer was cut at {} rows (the query's row cap)", query.row_cap);
    }
    Ok(())
}

/// Renders SPARQL JSON results as an aligned text table (or `true`/`false`).
pub fn render_table(json: &[u8]) -> anyhow::Result<String> {
    match QueryResultsParser::from_format(QueryResultsFormat::Json).for_reader(json)? {
        ReaderQueryResultsParserOutput::Boolean(b) => Ok(format!("{b}\n")),
        ReaderQueryResultsParserOutput::Solutions(solutions) => {
            let variables: Vec<String> = solutions.variables().iter().map(|v| v.as_str().to_owned()).collect();
            let mut rows = Vec::new();
            for solution in solutions {
                let solution = solution?;
                rows.push(
                    variables
                        .iter()
                        .map(|v| solution.get(v.as_str()).map(display_term).unwrap_or_default())
                        .collect::<Vec<_>>(),
                );
            }
            let mut widths: Vec<usize> = variables.iter().map(|v| v.chars().count()).collect();
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: &[String]| -> String {
                let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
                format!("| {} |\n", padded.join(" | "))
            };
            let mut out = line(&variables);
            out.push_str(&format!("|{}|\n", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|")));
            for row in &rows {
                out.push_str(&line(row));
            }
            out.push_str(&format!("{} row(s)\n", rows.len()));
            Ok(out)
        }
    }
}

/// A term as a person reads it: IRIs bare, literals as their value
/// (language tag and non-string datatype kept).
fn display_term(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => n.as_str().to_owned(),
        Term::BlankNode(b) => b.to_string(),
        Term::Literal(l) => {
            let value = l.value().replace('\n', "\\n");
            if let Some(lang) = l.language() {
                format!("{value}@{lang}")
            } else if l.datatype().as_str() == "http://www.w3.org/2001/XMLSchema#string" {
                value
            } else {
                format!("{value}^^{}", l.datatype().as_str())
            }
        }
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}
