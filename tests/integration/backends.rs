//! What a user does over HTTP, run on every backend: the embedded store,
//! Virtuoso and `oxigraph serve` (each test starts a fresh engine on loopback).
//! One body per test, parameterised by backend (`on_every_backend!`). Queries
//! ask about the fixture's own IRIs, never `?s ?p ?o` over the default graph:
//! Virtuoso's default graph also holds its own system graphs.

use crate::common::*;
use crate::on_every_backend;
use oxigraph::io::RdfFormat;
use std::time::Duration;

const LATVIA_BORDERS: &str = "SELECT ?n WHERE { <http://example.org/latvia> <http://example.org/borders> ?n }";

on_every_backend! {
    /// SELECT in JSON and CSV, ASK, CONSTRUCT in Turtle: the fixture's facts.
    async fn queries_in_every_form(backend) {
        let server = TestServer::on(backend).await;
        assert_eq!(server.table(LATVIA_BORDERS).await, rows(&[&["http://example.org/estonia"], &["http://example.org/russia"]]));
        let csv = server.query(LATVIA_BORDERS, "text/csv").await;
        assert_eq!(csv.status(), 200);
        assert!(csv.text().await.unwrap().starts_with("n\r\n"));
        assert!(server.ask("ASK { <http://example.org/nato> a <http://example.org/Alliance> }").await);
        let r = server.query("CONSTRUCT { ?s <http://example.org/borders> ?o } WHERE { ?s <http://example.org/borders> ?o }", "text/turtle").await;
        assert_eq!(r.status(), 200);
        assert_eq!(graph(&r.bytes().await.unwrap(), RdfFormat::Turtle).len(), 4);
        let r = server.query("SELEKT *", "application/sparql-results+json").await;
        assert_eq!(r.status(), 400, "syntax errors are found here, with a position");
    }
}

on_every_backend! {
    /// Updates need the token; SERVICE and LOAD are refused before anything
    /// reaches the engine; a write is seen by the next query.
    async fn updates_and_refusals(backend) {
        let server = TestServer::on(backend).await;
        let insert = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/t> <http://example.org/p> 1 } }";
        let anonymous = server.call(server.client.post(server.url("/sparql")).header("content-type", "application/sparql-update").body(insert)).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(server.update(insert).await.status(), 204);
        assert!(server.ask("ASK { GRAPH <http://example.org/g> { <http://example.org/t> ?p 1 } }").await);
        let service = server.query("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "application/sparql-results+json").await;
        assert_eq!(service.status(), 403);
        let load = server.update("LOAD <http://example.org/data.ttl>").await;
        assert_eq!(load.status(), 403);
        let service_update = server.update("INSERT { ?s ?p ?o } WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }").await;
        assert_eq!(service_update.status(), 403);
    }
}

on_every_backend! {
    /// The inferred graph follows writes, adding what they entail, dropping a
    /// type once it is stated, and what no longer follows. On the embedded
    /// store every write brings it up to date inside its own transaction (a
    /// new axiom's consequences included), so the next query sees it and
    /// nothing is ever regenerated whole; over an engine, a new axiom
    /// regenerates it whole and writes naming their subjects refresh those alone.
    async fn inferred_graph_follows_writes(backend) {
        let embedded = matches!(backend, Backend::Embedded);
        let server = TestServer::on(backend).await;
        let (e, sub) = ("http://example.org/", "http://www.w3.org/2000/01/rdf-schema#");
        const REGENERATIONS: &str = "treaty_kg_inference_runs_total{how=\"regeneration\"}";
        async fn write(server: &TestServer, body: String) {
            assert_eq!(server.update(&body).await.status(), 204, "{body}");
        }
        let ask = |pattern: &str| format!("ASK {{ {pattern} }}");
        let inferred = |pattern: &str| format!("ASK {{ GRAPH <https://w3id.org/treaty-kg/graph/inferred> {{ {pattern} }} }}");
        let before = server.counter(REGENERATIONS).await;
        write(&server, format!("INSERT DATA {{ GRAPH <{e}onto> {{ <{e}Minister> <{sub}subClassOf> <{e}Official> . <{e}Official> <{sub}subClassOf> <{e}Person> . <{e}leads> <{sub}subPropertyOf> <{e}memberOf> }} }}")).await;
        write(&server, format!("INSERT DATA {{ GRAPH <{e}g> {{ <{e}evika> a <{e}Minister> ; <{e}leads> <{e}government> }} }}")).await;
        let entailed = ask(&format!("<{e}evika> a <{e}Person> ; <{e}memberOf> <{e}government>"));
        if embedded {
            assert!(server.ask(&entailed).await, "entailed by the write itself");
        }
        assert!(server.eventually(&entailed, true).await);
        let after_axioms = if embedded {
            assert_eq!(server.counter(REGENERATIONS).await, before, "a new axiom regenerates nothing whole");
            before
        } else {
            // A run is counted just after its write lands: wait for the count too.
            let after_axioms = server.counter_past(REGENERATIONS, before).await;
            assert!(after_axioms > before, "a new axiom regenerates the graph whole");
            after_axioms
        };
        write(&server, format!("INSERT DATA {{ GRAPH <{e}g> {{ <{e}evika> a <{e}Official> }} }}")).await;
        assert!(server.eventually(&inferred(&format!("<{e}evika> a <{e}Official>")), false).await, "a stated type is not repeated");
        assert!(server.ask(&inferred(&format!("<{e}evika> a <{e}Person>"))).await);
        write(&server, format!("DELETE DATA {{ GRAPH <{e}g> {{ <{e}evika> a <{e}Minister> , <{e}Official> }} }}")).await;
        assert!(server.eventually(&ask(&format!("<{e}evika> a <{e}Person>")), false).await, "what no longer follows goes");
        assert!(server.ask(&ask(&format!("<{e}evika> <{e}memberOf> <{e}government>"))).await);
        assert_eq!(server.counter(REGENERATIONS).await, after_axioms, "writes naming their subjects did not regenerate the graph");
        assert!(server.counter_past("treaty_kg_inference_runs_total{how=\"refresh\"}", 1).await >= 2, "they refreshed their subjects");
    }
}

on_every_backend! {
    /// The inferred graph follows Graph Store writes: a PUT's new and former
    /// subjects, a POST's, a DELETE's former ones. The embedded store knows a
    /// replaced graph's former subjects and only refreshes; a remote engine
    /// does not say, so a PUT or DELETE there regenerates the graph whole.
    async fn inferred_graph_follows_graph_store_writes(backend) {
        let server = TestServer::on(backend).await;
        let (e, sub) = ("http://example.org/", "http://www.w3.org/2000/01/rdf-schema#");
        const REGENERATIONS: &str = "treaty_kg_inference_runs_total{how=\"regeneration\"}";
        const REFRESHES: &str = "treaty_kg_inference_runs_total{how=\"refresh\"}";
        let target = "/store?graph=http%3A%2F%2Fexample.org%2Fpeople";
        let person = |who: &str| format!("ASK {{ <{e}{who}> a <{e}Person> }}");
        let send = |method: reqwest::Method, body: String| server.send_turtle(method, target, body);
        let before = server.counter(REGENERATIONS).await;
        let axioms = format!("INSERT DATA {{ GRAPH <{e}onto> {{ <{e}Minister> <{sub}subClassOf> <{e}Person> }} }}");
        assert_eq!(server.update(&axioms).await.status(), 204);
        let after_axioms = if matches!(backend, Backend::Embedded) {
            before
        } else {
            server.counter_past(REGENERATIONS, before).await
        };
        assert_eq!(send(reqwest::Method::PUT, format!("<{e}evika> a <{e}Minister> .")).await.status(), 201);
        assert!(server.eventually(&person("evika"), true).await, "a PUT's subjects are entailed");
        assert_eq!(send(reqwest::Method::PUT, format!("<{e}raimundas> a <{e}Minister> .")).await.status(), 204);
        assert!(server.eventually(&person("raimundas"), true).await);
        assert!(server.eventually(&person("evika"), false).await, "a replaced statement's consequence goes");
        assert_eq!(send(reqwest::Method::POST, format!("<{e}gitanas> a <{e}Minister> .")).await.status(), 204);
        assert!(server.eventually(&person("gitanas"), true).await, "a POST's subjects are entailed");
        assert_eq!(server.delete(target).await.status, 204);
        assert!(server.eventually(&person("raimundas"), false).await, "a deleted graph's consequences go");
        assert!(server.eventually(&person("gitanas"), false).await);
        // On every backend: the embedded store reads the replaced subjects in
        // the write's transaction, a remote engine's are listed just before it.
        assert!(server.counter_past(REFRESHES, 3).await >= 4, "each refreshed its subjects");
        assert_eq!(server.counter(REGENERATIONS).await, after_axioms, "no Graph Store write regenerated the graph");
    }
}

on_every_backend! {
    /// The Graph Store: PUT creates (201), replaces (204), GET reads it back,
    /// POST merges, DELETE removes (204), and a missing graph is 404.
    async fn graph_store_cycle(backend) {
        let server = TestServer::on(backend).await;
        let path = "/store?graph=http%3A%2F%2Fexample.org%2Fgs";
        let put = |body: &'static str| server.write(reqwest::Method::PUT, path, "text/turtle", body);
        assert_eq!(put("<http://example.org/a> <http://example.org/p> 1 .").await.status, 201);
        assert_eq!(put("<http://example.org/a> <http://example.org/p> 2 .").await.status, 204);
        let post = server.write(reqwest::Method::POST, path, "text/turtle", "<http://example.org/b> <http://example.org/p> 3 .").await;
        assert_eq!(post.status, 204);
        let got = server.fetch(path, "application/n-triples").await;
        assert_eq!(got.status, 200);
        assert_eq!(graph(&got.body, RdfFormat::NTriples).len(), 2, "replaced, then merged");
        assert_eq!(server.delete(path).await.status, 204);
        assert_eq!(server.fetch(path, "").await.status, 404);
        assert_eq!(server.delete(path).await.status, 404);
    }
}

on_every_backend! {
    /// Linked data over the backend: 303 to the document, the document, the
    /// page, a fragment, and the dump.
    async fn linked_data_and_dump(backend) {
        let server = TestServer::on(backend).await;
        let r = server.fetch("/fragments?subject=http%3A%2F%2Fexample.org%2Flatvia", "application/n-triples").await;
        assert_eq!(r.status, 200);
        let body = r.text();
        assert!(body.contains("<http://example.org/latvia> <http://example.org/borders> <http://example.org/russia>"), "{body}");
        let r = server.fetch("/dump", "").await;
        assert_eq!(r.status, 200);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(r.body.as_slice()), &mut text).unwrap();
        assert!(text.contains("<http://example.org/nato>"), "the dump holds the data");
    }
}

on_every_backend! {
    /// A saved query is answered from the cache, and a write through the
    /// server makes the next answer fresh.
    async fn saved_query_cache_follows_writes(backend) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("labels.rq"),
            "#+ summary: labels\nSELECT ?l WHERE { <http://example.org/t2> <http://www.w3.org/2000/01/rdf-schema#label> ?l }\n",
        )
        .unwrap();
        let server = TestServer::with(Options { backend, queries_dir: Some(dir.path().to_owned()), ..Options::default() }).await;
        let run = || server.fetch("/queries/labels", "text/csv");
        let first = run().await;
        assert_eq!(first.header("x-cache"), "miss");
        assert_eq!(first.text(), "l\r\n");
        assert_eq!(run().await.header("x-cache"), "hit");
        let insert = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/t2> <http://www.w3.org/2000/01/rdf-schema#label> \"two\" } }";
        assert_eq!(server.update(insert).await.status(), 204);
        assert_eq!(run().await.text(), "l\r\ntwo\r\n");
    }
}

on_every_backend! {
    /// Health says the store (or engine) answers; metrics render.
    async fn health_and_metrics(backend) {
        let server = TestServer::on(backend).await;
        assert_eq!(server.fetch("/health", "").await.status, 200);
        server.query(LATVIA_BORDERS, "application/sparql-results+json").await;
        let metrics = server.fetch("/metrics", "").await.text();
        assert!(metrics.contains("treaty_kg_http_requests_total"), "{metrics}");
        if backend != Backend::Embedded {
            assert!(metrics.contains("treaty_kg_engine_requests_total"), "{metrics}");
        }
    }
}

/// Engine faults: an engine that never answers gives 504 within the deadline,
/// one that is down gives 502, and when it is back the same server answers
/// again, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_faults_are_502_and_504_and_the_server_recovers() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/sparql", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(256) {
            held.push(stream);
        }
    });
    let mut served = KillOnDrop(spawn_server(
        &["--remote".into(), silent_url, "--remote-timeout".into(), "1".into(), "--no-default-data".into()],
        &[],
    ));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = std::time::Instant::now();
    let r = call(client.get(format!("{}/sparql", served.0.base)).query(&[("query", "ASK {}")])).await;
    assert_eq!(r.status, 504);
    assert_eq!(r.header("x-error-code"), "engine_timeout");
    assert!(started.elapsed() < Duration::from_secs(10), "answered within the deadline, not left hanging");
    assert!(served.0.is_running());

    let port = free_port();
    let location = tempfile::tempdir().unwrap();
    let engine = tokio::task::spawn_blocking({
        let path = location.path().to_owned();
        move || Engine::oxigraph_at(port, &path)
    })
    .await
    .unwrap();
    let served = KillOnDrop(spawn_server(
        &[
            "--remote".into(),
            engine.query.clone(),
            "--remote-update".into(),
            engine.update.clone(),
            "--remote-timeout".into(),
            "2".into(),
            "--no-default-data".into(),
        ],
        &[],
    ));
    let ask = |query: &'static str| call(client.get(format!("{}/sparql", served.0.base)).query(&[("query", query)]));
    assert_eq!(ask("ASK {}").await.status, 200);
    drop(engine);
    // An answer kept from before is still served (nothing was written since)…
    assert_eq!(ask("ASK {}").await.status, 200);
    // …but anything new needs the engine.
    let down = ask("ASK { ?s ?p ?o }").await;
    assert_eq!(down.status, 502);
    assert_eq!(down.header("x-error-code"), "engine_unavailable");
    assert_eq!(call(client.get(format!("{}/health", served.0.base))).await.status, 503);
    let _back = tokio::task::spawn_blocking({
        let path = location.path().to_owned();
        move || Engine::oxigraph_at(port, &path)
    })
    .await
    .unwrap();
    assert_eq!(ask("ASK { ?s ?p ?o }").await.status, 200, "the same server answers once the engine is back");
}

/// Two servers in front of one engine: a write through one shows in the
/// other's cached saved-query answer within the version poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_front_ends_over_one_engine_agree() {
    let engine = tokio::task::spawn_blocking(|| Engine::start(Backend::Oxigraph)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("labels.rq"),
        "#+ summary: labels\nSELECT ?l WHERE { <http://example.org/t3> <http://www.w3.org/2000/01/rdf-schema#label> ?l }\n",
    )
    .unwrap();
    let front = |engine: &Engine| {
        let args: Vec<String> = vec![
            "--remote".into(),
            engine.query.clone(),
            "--remote-update".into(),
            engine.update.clone(),
            "--remote-version-poll".into(),
            "1".into(),
            "--no-default-data".into(),
            "--queries".into(),
            dir.path().display().to_string(),
        ];
        KillOnDrop(spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]))
    };
    let (a, b) = (front(&engine), front(&engine));
    let client = reqwest::Client::new();
    let run = |base: String| {
        let client = client.clone();
        async move { call(client.get(format!("{base}/queries/labels")).header("accept", "text/csv")).await.text() }
    };
    assert_eq!(run(b.0.base.clone()).await, "l\r\n");
    assert_eq!(run(b.0.base.clone()).await, "l\r\n", "now cached");
    let insert = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/t3> <http://www.w3.org/2000/01/rdf-schema#label> \"three\" } }";
    let written = call(
        client
            .post(format!("{}/sparql", a.0.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/sparql-update")
            .body(insert),
    )
    .await;
    assert_eq!(written.status, 204);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(run(b.0.base.clone()).await, "l\r\nthree\r\n", "the other front end saw the write");
}

/// `backup` is the engine's job: 501 with a pointer to its own tool; so is
/// explaining a query's plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_is_the_engines_job() {
    let server = TestServer::with(Options { backend: Backend::Oxigraph, ..Options::default() }).await;
    let r = server
        .call(server.client.post(server.url("/admin/backup")).bearer_auth(TOKEN).form(&[("dir", "/tmp/x")]))
        .await;
    assert_eq!(r.status, 501);
    assert!(r.text().contains("oxigraph backup"));
    // So is a query's plan: explain says so rather than guessing.
    let explained =
        server.call(server.client.get(server.url("/sparql")).query(&[("query", "ASK {}"), ("explain", "true")])).await;
    assert_eq!(explained.status, 501, "{}", explained.text());
}

on_every_backend! {
    /// An operator lists a running query and cancels it: its client gets 503
    /// `cancelled` at once; over an engine, the request to it is dropped.
    async fn running_queries_can_be_cancelled(backend) {
        let server = TestServer::with(Options { backend, timeout_secs: 60, ..Options::default() }).await;
        let put = server.put_turtle("/store?graph=http%3A%2F%2Fexample.org%2Frows", numbered_rows()).await;
        assert_eq!(put.status(), 201);
        let expensive = endless_join(Some("http://example.org/rows"));
        let slow = server.query(&expensive, "application/sparql-results+json");
        let operator = async {
            let mut list = Vec::new();
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let r = server.call(server.client.get(server.url("/admin/queries")).bearer_auth(TOKEN)).await;
                list = serde_json::from_slice::<Vec<serde_json::Value>>(&r.body).unwrap();
                if list.iter().any(|q| q["query"].as_str().is_some_and(|t| t.contains("COUNT(*)"))) {
                    break;
                }
            }
            let query = list.iter().find(|q| q["query"].as_str().is_some_and(|t| t.contains("COUNT(*)"))).expect("listed");
            let id = query["id"].as_u64().unwrap();
            assert_eq!(server.delete(&format!("/admin/queries/{id}")).await.status, 204);
            assert_eq!(server.delete("/admin/queries/999999").await.status, 404);
            std::time::Instant::now()
        };
        let (slow, cancelled_at) = tokio::join!(slow, operator);
        assert_eq!(slow.status(), 503);
        assert_eq!(slow.headers()["x-error-code"], "cancelled");
        assert!(cancelled_at.elapsed() < Duration::from_secs(5), "answered soon after the cancellation");
    }
}

/// `--remote-store`: over `oxigraph serve`, graph reads and writes use its own
/// Graph Store endpoint, with the same statuses as through SPARQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_own_graph_store() {
    let server =
        TestServer::with(Options { backend: Backend::Oxigraph, engine_graph_store: true, ..Options::default() }).await;
    let path = "/store?graph=http%3A%2F%2Fexample.org%2Fgs2";
    let put = |body: &'static str| server.write(reqwest::Method::PUT, path, "text/turtle", body);
    assert_eq!(put("<http://example.org/a> <http://example.org/p> [ <http://example.org/q> 1 ] .").await.status, 201);
    assert_eq!(put("<http://example.org/a> <http://example.org/p> 2 .").await.status, 204);
    let got = server.fetch(path, "text/turtle").await;
    assert_eq!(got.status, 200);
    assert_eq!(graph(&got.body, RdfFormat::Turtle).len(), 1, "replaced");
    assert_eq!(server.delete(path).await.status, 204);
    assert_eq!(server.fetch(path, "").await.status, 404);
}

on_every_backend! {
    /// `treaty-kg load` fills the store or the engine with one rule (`serve
    /// --data`'s): a file's triples go into the file's own graph, a TriG file's
    /// graphs keep their names; over an engine in batches, blank nodes kept whole.
    async fn cli_load_follows_one_rule_on_every_backend(backend) {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..12_345).map(|i| format!("<http://example.org/r{i}> <http://example.org/v> {i} .\n")).collect();
        std::fs::write(dir.path().join("rows.ttl"), lines).unwrap();
        std::fs::write(
            dir.path().join("blank.ttl"),
            "<http://example.org/a> <http://example.org/p> [ <http://example.org/q> 1 ; <http://example.org/r> [ <http://example.org/s> 2 ] ] .",
        )
        .unwrap();
        std::fs::write(dir.path().join("graphs.trig"), "<http://example.org/own> { <http://example.org/t> <http://example.org/p> 3 }").unwrap();
        let files = ["rows.ttl", "blank.ttl", "graphs.trig"].map(|f| dir.path().join(f).display().to_string());
        let (_engine, target) = target_for(backend, dir.path()).await;
        let loaded = std::process::Command::new(BIN).arg("load").args(&target).args(&files).output().unwrap();
        assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
        let report = String::from_utf8_lossy(&loaded.stderr);
        assert!(report.contains("loaded 12350 quads from 3 file(s)"), "{report}");
        let served = KillOnDrop(spawn_server(&[target, vec!["--no-default-data".into()]].concat(), &[]));
        let graph_of = crate::common::graph;
        let graph = |file: &str| treaty_kg::vocab::source_graph_iri(file);
        let base = &served.0.base;
        let count = format!("SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{}> {{ ?s ?p ?o }} }}", graph("rows.ttl"));
        assert_eq!(count_at(base, &count).await, 12_345, "every batch arrived, in the file's graph");
        // Our own reads go past an engine's row limit (Virtuoso: 10,000 by default).
        let url = format!("{base}/store?graph={}", form_urlencoded::byte_serialize(graph("rows.ttl").as_bytes()).collect::<String>());
        let client = reqwest::Client::new();
        let whole = call(client.get(&url).header("accept", "application/n-triples")).await;
        assert_eq!(whole.status, 200);
        assert_eq!(graph_of(&whole.body, RdfFormat::NTriples).len(), 12_345, "the whole graph, page after page");
        // A user's query cut by the engine says so.
        let select = format!("SELECT * WHERE {{ GRAPH <{}> {{ ?s ?p ?o }} }}", graph("rows.ttl"));
        let r = call(client.get(format!("{base}/sparql")).query(&[("query", select.as_str())]).header("accept", "text/csv")).await;
        let cut = r.headers.get("x-result-truncated").map(|v| v.to_str().unwrap().to_owned());
        let rows_answered = r.text().lines().count() - 1;
        if backend == Backend::Virtuoso {
            assert_eq!((cut.as_deref(), rows_answered), (Some("true"), 10_000), "Virtuoso's ResultSetMaxRows, said");
        } else {
            assert_eq!((cut, rows_answered), (None, 12_345));
        }
        let linked = format!(
            "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{}> {{ <http://example.org/a> <http://example.org/p> ?b . ?b <http://example.org/q> 1 ; <http://example.org/r> ?c . ?c <http://example.org/s> 2 }} }}",
            graph("blank.ttl")
        );
        assert_eq!(count_at(base, &linked).await, 1, "blank nodes stay linked");
        let own = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <http://example.org/own> { <http://example.org/t> ?p 3 } }";
        assert_eq!(count_at(base, own).await, 1);
        // The same file given to `serve --data` goes into the same graph.
        let server = TestServer::with(Options { sources: vec![dir.path().join("blank.ttl")], ..Options::default() }).await;
        let listed = server.table("SELECT DISTINCT ?g WHERE { GRAPH ?g { <http://example.org/a> ?p ?o } }").await;
        assert_eq!(listed, rows(&[&[&graph("blank.ttl")]]));
    }
}

/// Virtuoso's `/sparql-auth` answers only HTTP Digest: with
/// `--remote-credentials` queries and updates go through it; with a wrong
/// password the engine's refusal is a 502, and the password shows nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_credentials_for_virtuosos_sparql_auth() {
    let engine = tokio::task::spawn_blocking(|| Engine::start(Backend::Virtuoso)).await.unwrap();
    let protected = engine.query.replace("/sparql", "/sparql-auth");
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
    std::fs::write(&right, "dba:dba\n").unwrap();
    std::fs::write(&wrong, "dba:not-the-password-quokka\n").unwrap();
    let front = |credentials: &std::path::Path| {
        let args: Vec<String> = vec![
            "--remote".into(),
            protected.clone(),
            "--remote-credentials".into(),
            credentials.display().to_string(),
            "--no-default-data".into(),
        ];
        KillOnDrop(spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]))
    };
    let client = reqwest::Client::new();
    let served = front(&right);
    let ask = |base: String| {
        let client = client.clone();
        async move {
            let ask = "ASK { GRAPH <http://example.org/digest> { ?s ?p 7 } }";
            call(
                client
                    .get(format!("{base}/sparql"))
                    .query(&[("query", ask)])
                    .header("accept", "application/sparql-results+json"),
            )
            .await
        }
    };
    let before = ask(served.0.base.clone()).await;
    assert_eq!(before.status, 200);
    assert!(!boolean(&before.body, oxigraph::sparql::results::QueryResultsFormat::Json));
    let written = call(
        client
            .post(format!("{}/sparql", served.0.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/sparql-update")
            .body(
                "INSERT DATA { GRAPH <http://example.org/digest> { <http://example.org/s> <http://example.org/p> 7 } }",
            ),
    )
    .await;
    assert_eq!(written.status, 204, "{}", written.text());
    let after = ask(served.0.base.clone()).await;
    assert!(boolean(&after.body, oxigraph::sparql::results::QueryResultsFormat::Json));

    let refused = front(&wrong);
    let r = ask(refused.0.base.clone()).await;
    assert_eq!(r.status, 502);
    let message = r.text();
    assert!(message.contains("401"), "{message}");
    // A word, not digits: a request id or a hash in the log may hold any digits.
    assert!(!message.contains("quokka"));
    let log = refused.0.log().join("\n");
    assert!(!log.contains("quokka"), "the password is not logged:\n{log}");
}
