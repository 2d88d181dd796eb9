//! The real binary: restarts reload only changed files (same triple count after a
//! restart), SIGTERM lets an in-flight response finish, and the load/query/dump CLI.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn serve(store: &Path, data: &Path) -> Served {
    let mut args = vec!["--no-default-data".to_owned(), "--store".to_owned(), store.display().to_string()];
    args.extend(["--data".to_owned(), data.display().to_string()]);
    spawn_server(&args, &[])
}

fn terminate(mut served: Served) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().unwrap();
    served.child.wait().unwrap()
}

async fn count(base: &str) -> usize {
    count_at(base, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }").await as usize
}

/// Start, stop, start: the same triple count; a changed file replaces its graph.
#[tokio::test]
async fn restarts_neither_duplicate_nor_lose_triples() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(fixture("sample.ttl"), data.join("sample.ttl")).unwrap();
    std::fs::copy(fixture("extra.nt"), data.join("extra.nt")).unwrap();
    let store = dir.path().join("store");

    let first = serve(&store, &data);
    let n1 = count(&first.base).await;
    assert_eq!(n1, 20);
    assert!(terminate(first).success());

    let second = serve(&store, &data);
    assert_eq!(count(&second.base).await, n1, "a restart must not duplicate triples");
    assert!(terminate(second).success());

    // Change one file: its graph is replaced, not appended to.
    std::fs::write(
        data.join("extra.nt"),
        "<http://example.org/nato> <http://www.w3.org/2000/01/rdf-schema#label> \"NATO\" .\n",
    )
    .unwrap();
    let third = serve(&store, &data);
    assert_eq!(count(&third.base).await, n1 - 1);
    assert!(terminate(third).success());
}

/// A restart on unchanged data neither regenerates the inferred graph nor
/// rebuilds the search index: both say which data version they are current at.
#[tokio::test]
async fn a_restart_on_unchanged_data_keeps_the_inferred_graph_and_the_search_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let data = repo("ontology");
    let first = serve(&store, &data);
    let client = reqwest::Client::new();
    let search = |base: String| {
        let client = client.clone();
        async move {
            let r = call(client.get(format!("{base}/search?q=sovereign+state&format=json"))).await;
            (r.status, r.text())
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while search(first.base.clone()).await.0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the first build did not end");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(first.logged(|l| l.contains("search index built")).await);
    assert!(terminate(first).success());

    let second = serve(&store, &data);
    let (status, body) = search(second.base.clone()).await;
    assert_eq!(status, 200, "the index on disk answers at once: {body}");
    assert!(body.contains("\"stale\":false") && body.contains("ontology#SovereignState"), "{body}");
    assert!(second.logged(|l| l.contains("the inferred graph is current")).await, "{}", second.log().join("\n"));
    let log = second.log().join("\n");
    assert!(!log.contains("search index built"), "rebuilt on unchanged data:\n{log}");
    assert!(terminate(second).success());
}

/// Each thread of process `pid` by name, with its `nice` (Linux's /proc).
#[cfg(target_os = "linux")]
fn thread_priorities(pid: u32) -> Vec<(String, i32)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        // "tid (name) state ppid …": the nice value is the 19th field, the 17th after the name.
        let (name, rest) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") ")).unwrap();
        let nice = rest.split_whitespace().nth(16).unwrap().parse().unwrap();
        threads.push((name.to_owned(), nice));
    }
    threads
}

/// The search index's build and the summaries' whole-store scans run on
/// threads of a lower OS priority than the threads answering visitors.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn background_scans_run_below_the_priority_of_visitors_queries() {
    let dir = tempfile::tempdir().unwrap();
    let mut args =
        vec!["--no-default-data".to_owned(), "--store".to_owned(), dir.path().join("store").display().to_string()];
    args.extend(["--data".to_owned(), repo("ontology").display().to_string()]);
    let served = KillOnDrop(spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]));
    let base = served.0.base.clone();
    let client = reqwest::Client::new();
    assert!(served.0.line("search index built", std::time::Duration::from_secs(120)).await.is_some());
    // A write: the search index's update (background work) follows it, and a
    // search then waits for that update, so both pools have just run a job
    // (idle pool threads live on for 10 s after their last one).
    let label = "INSERT DATA { <http://example.org/z> <http://www.w3.org/2000/01/rdf-schema#label> \"Zanzibar\" }";
    let write = call(client.post(format!("{base}/sparql")).bearer_auth(TOKEN).form(&[("update", label)])).await;
    assert_eq!(write.status, 204);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let found = call(client.get(format!("{base}/search?q=zanzibar&format=json"))).await;
        if found.status == 200 && found.text().contains("\"stale\":false") {
            break;
        }
        assert!(std::time::Instant::now() < until, "the index caught up with the write");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(count(&base).await > 0);
    let threads = thread_priorities(served.0.child.id());
    let of = |name: &str| threads.iter().filter(|(n, _)| n == name).map(|(_, nice)| *nice).collect::<Vec<_>>();
    let own = of("treaty-kg")[0];
    let (background, eval) = (of("treaty-kg-bg"), of("treaty-kg-eval"));
    assert!(!background.is_empty() && !eval.is_empty(), "{threads:?}");
    assert!(background.iter().all(|nice| *nice == (own + 10).min(19)), "{threads:?}");
    assert!(eval.iter().all(|nice| *nice == own), "{threads:?}");
}

/// A statement count no data here has: a page showing it read the kept file.
const MARK: u64 = 4_242_424;

/// The statement count in the summaries kept in `kept`.
fn kept_statement_count(kept: &Path) -> u64 {
    let file = kept.join("summaries.json");
    assert!(file.exists(), "the summaries kept in {}", kept.display());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    json["views"]["stats"]["triples"].as_u64().unwrap()
}

/// Replaces the kept statement count with [`MARK`].
fn mark_kept_statement_count(kept: &Path) {
    let file = kept.join("summaries.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    json["views"]["stats"]["triples"] = MARK.into();
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
}

/// The dataset summaries are kept beside the ledger under their data version:
/// a restart on unchanged data reads them back instead of scanning the store
/// again, and a write then changes them by its own change (so a figure only
/// the kept file held moves on from there).
#[tokio::test]
async fn a_restart_on_unchanged_data_reads_the_summaries_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let start = || {
        let args = [
            "--no-default-data",
            "--store",
            &store.display().to_string(),
            "--data",
            &repo("ontology").display().to_string(),
        ]
        .map(str::to_owned);
        spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)])
    };
    let home = |base: String| async move { call(reqwest::Client::new().get(format!("{base}/"))).await.text() };
    let first = start();
    let page = home(first.base.clone()).await;
    let kept = store.join("treaty-kg-kept");
    let triples = kept_statement_count(&kept);
    assert!(page.contains(&format!("{triples} statements")), "the page shows what was kept");
    assert!(terminate(first).success());

    // A figure only the kept file holds: the restart must read it, not scan.
    mark_kept_statement_count(&kept);
    let second = start();
    let page = home(second.base.clone()).await;
    assert!(page.contains(&format!("{MARK} statements")), "read back from disk");
    assert!(second.logged(|l| l.contains("summaries read from disk")).await);

    let insert = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/a> <http://example.org/p> 1 } }";
    let update = reqwest::Client::new().post(format!("{}/sparql", second.base)).bearer_auth(TOKEN);
    let response = call(update.header("content-type", "application/sparql-update").body(insert)).await;
    assert_eq!(response.status, 204);
    let page = home(second.base.clone()).await;
    assert!(page.contains(&format!("{} statements", MARK + 1)), "the write's one statement, counted at once");
    assert!(terminate(second).success());
    assert_eq!(kept_statement_count(&kept), MARK + 1, "kept at shutdown");
}

/// In front of a remote engine, `--remote-state DIR` keeps the summaries and
/// the search index there: a restart on the engine's unchanged data reads the
/// summaries back and searches the kept index, scanning the engine for neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_front_of_an_unchanged_engine_reads_its_kept_state_back() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (_engine, target) = target_for(Backend::Oxigraph, dir.path()).await;
    let start = || {
        let rest = [
            "--no-default-data",
            "--remote-state",
            &state.display().to_string(),
            "--data",
            &repo("ontology").display().to_string(),
        ];
        spawn_server(&[target.clone(), rest.map(str::to_owned).to_vec()].concat(), &[("TREATY_KG_WRITE_TOKEN", TOKEN)])
    };
    let get = |url: String| call(reqwest::Client::new().get(url));
    let first = start();
    let page = get(format!("{}/", first.base)).await.text();
    assert!(first.line("search index built", Duration::from_secs(30)).await.is_some(), "built at the first start");
    // One directory per engine, named from its URL.
    let engines: Vec<_> = std::fs::read_dir(&state).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(engines.len(), 1, "{engines:?}");
    let kept = engines[0].join("treaty-kg-kept");
    let triples = kept_statement_count(&kept);
    assert!(page.contains(&format!("{triples} statements")), "the page shows what was kept");
    assert!(engines[0].join("search-index").join("meta.json").exists(), "the index is on disk");
    assert!(terminate(first).success());

    mark_kept_statement_count(&kept);
    let second = start();
    let page = get(format!("{}/", second.base)).await.text();
    assert!(page.contains(&format!("{MARK} statements")), "read back from disk, not scanned");
    assert!(second.logged(|l| l.contains("summaries read from disk")).await);
    let found = get(format!("{}/search?q=treaty", second.base)).await;
    assert_eq!(found.status, 200, "the kept index answers at once");
    assert!(found.text().contains("/ontology"), "with the ontology's terms");
    assert!(
        second.line("search index built", Duration::from_secs(3)).await.is_none(),
        "the kept index is not built again"
    );
    assert!(terminate(second).success());
}

/// The dataset summaries are computed as the server starts, before anyone
/// asks, and kept on disk; after a write every summary page is the new
/// version's at its first view.
#[tokio::test]
async fn the_summaries_are_computed_at_start_and_follow_writes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut args = vec!["--no-default-data".to_owned(), "--store".to_owned(), store.display().to_string()];
    args.extend(["--data".to_owned(), repo("ontology").display().to_string()]);
    let served = spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]);
    assert!(served.logged(|l| l.contains("dataset summaries computed")).await, "{}", served.log().join("\n"));
    assert!(store.join("treaty-kg-kept").join("summaries.json").exists(), "kept without a visitor");
    assert!(!served.log().iter().any(|l| l.contains("method=GET")), "no request was needed");
    let client = reqwest::Client::new();
    let version = |r: Reply| r.headers["x-data-version"].to_str().unwrap().to_owned();
    let timeline = || call(client.get(format!("{}/timeline.svg", served.base)));
    let before = version(timeline().await);
    let put = client
        .put(format!("{}/store?graph=http%3A%2F%2Fexample.org%2Fg", served.base))
        .bearer_auth(TOKEN)
        .header("content-type", "text/turtle")
        .body("<http://example.org/a> <http://example.org/p> 1 .");
    assert_eq!(call(put).await.status, 201);
    assert_ne!(version(timeline().await), before, "the timeline's first view after the write is the new version's");
    assert!(terminate(served).success());
}

/// SIGTERM while a large response streams: the response completes, then the process exits 0.
#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("numbers.nt");
    let rows: String = (0..700).map(|i| format!("<http://example.org/n{i}> <http://example.org/v> \"{i}\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n")).collect();
    std::fs::write(&data, rows).unwrap();
    let served = serve(&dir.path().join("store"), &data);
    let query = "SELECT ?a ?b WHERE { ?x <http://example.org/v> ?a . ?y <http://example.org/v> ?b }";
    // Raw: the answer is read chunk by chunk, with the SIGTERM sent mid-stream.
    let mut response = reqwest::Client::new()
        .get(format!("{}/sparql", served.base))
        .query(&[("query", query)])
        .header("accept", "text/tab-separated-values")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = 0usize;
    if let Some(chunk) = response.chunk().await.unwrap() {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let pid = served.child.id();
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    while let Some(chunk) = response.chunk().await.unwrap() {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, 700 * 700 + 1);
    let mut child = served.child;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success());
}

/// `load` then `query` (table, csv) then `dump`, on a persistent store.
#[test]
fn cli_load_query_dump() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A gzip-compressed input, loaded into a named graph.
    let gz = dir.path().join("sample.ttl.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &std::fs::read(fixture("sample.ttl")).unwrap()).unwrap();
    encoder.finish().unwrap();
    let out = Command::new(BIN)
        .args(["load", "--graph", "http://example.org/g", "--store"])
        .arg(&store)
        .arg(&gz)
        .arg(fixture("extra.nt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("loaded 20 quads from 2 file(s)"), "{report}");
    assert!(report.contains("quads/s"));

    let out = Command::new(BIN)
        .args(["query", "--store"])
        .arg(&store)
        .arg("SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(LANG(?l) = 'lv') }")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        table,
        "| s                         | l          |\n|---------------------------|------------|\n| http://example.org/latvia | Latvija@lv |\n1 row(s)\n"
    );

    let out = Command::new(BIN)
        .args(["query", "--format", "csv", "--store"])
        .arg(&store)
        .arg("SELECT (COUNT(*) AS ?n) WHERE { GRAPH <http://example.org/g> { ?s ?p ?o } }")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "n\r\n20\r\n");

    let out =
        Command::new(BIN).args(["query", "--format", "csv", "--store"]).arg(&store).arg("SELEKT").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed SPARQL"));

    let out = Command::new(BIN).args(["dump", "--store"]).arg(&store).output().unwrap();
    assert!(out.status.success());
    let dumped = dataset(&out.stdout, oxigraph::io::RdfFormat::NQuads);
    // The 20 loaded quads and nothing else: the write counter is in the ledger
    // beside the data, which counts both loads.
    assert_eq!(dumped.len(), 20);
    let ledger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("treaty-kg-ledger.json")).unwrap()).unwrap();
    assert_eq!(ledger["writes"], 2);
    let out = Command::new(BIN)
        .args(["dump", "--format", "trig", "--graph", "http://example.org/g", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(graph(&out.stdout, oxigraph::io::RdfFormat::TriG).len(), 20);
}
