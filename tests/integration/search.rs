//! Full-text search over real HTTP: the JSON API, the page, suggestions, the
//! index following writes, and search from SPARQL on every backend.

use crate::common::*;
use crate::on_every_backend;

const ID: &str = "https://w3id.org/treaty-kg/id/";

fn iris(answer: &serde_json::Value) -> Vec<String> {
    answer["hits"].as_array().unwrap().iter().map(|h| h["iri"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_finds_names_words_phrases_and_prefixes() {
    let server = knowledge_graph_server().await;

    // Accents ignored: the article's "Silina" and the background's "Siliņa" are one person.
    let answer = server.search("q=Silina").await;
    assert_eq!(answer["query"], "Silina");
    assert_eq!(iris(&answer)[0], format!("{ID}person/evika-silina"), "{answer:#}");
    for hit in answer["hits"].as_array().unwrap() {
        for key in ["iri", "label", "type", "snippet", "score"] {
            assert!(hit.get(key).is_some(), "{key} missing in {hit}");
        }
    }
    assert!(answer["total"].as_u64().unwrap() >= 2);
    assert_eq!(answer["hits"][0]["label"], "Evika Siliņa");

    // Stems, and a resource named by the words before those that mention them.
    let answer = server.search("q=landmine+productions").await;
    let found = iris(&answer);
    assert_eq!(found[0], format!("{ID}plan/latvia-domestic-landmine-production"), "{answer:#}");
    assert!(found.contains(&format!("{ID}sentence/ab8ee8623a11ff01-12")), "the sentence that mentions it: {found:?}");
    assert!(answer["hits"][0]["snippet"].as_str().unwrap().contains("<b>landmine</b> <b>production</b>"));
    assert_eq!(answer["hits"][0]["type"], "https://w3id.org/treaty-kg/ontology#Plan");

    // A phrase keeps its order; the same words out of order are not the phrase.
    let phrase = server.search("q=%22full-scale+war%22").await;
    assert!(iris(&phrase).contains(&format!("{ID}quotation/vaiksnoras-explosives-at-home")), "{phrase:#}");
    let reversed = server.search("q=%22war+full-scale%22").await;
    assert_eq!(reversed["total"], 0, "{reversed:#}");

    // A prefix; the hit carries the sentence it was quoted in.
    let answer = server.search("q=explos*").await;
    let quote = answer["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["iri"] == format!("{ID}quotation/vaiksnoras-explosives-at-home"))
        .unwrap_or_else(|| panic!("{answer:#}"));
    assert_eq!(quote["source"]["iri"], format!("{ID}sentence/ab8ee8623a11ff01-14"));
    assert!(quote["source"]["text"].as_str().unwrap().contains("Vaiksnoras"), "{quote}");
    assert!(quote["snippet"].as_str().unwrap().contains("<b>explosives</b>"), "{quote}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_are_paged_and_bad_parameters_are_400s() {
    let server = knowledge_graph_server().await;
    let first = server.search("q=Latvia&per_page=3&page=1").await;
    let second = server.search("q=Latvia&per_page=3&page=2").await;
    let total = first["total"].as_u64().unwrap();
    assert!(total > 6, "{first:#}");
    assert_eq!(second["total"], total);
    let (a, b) = (iris(&first), iris(&second));
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|iri| !b.contains(iri)), "pages overlap: {a:?} {b:?}");
    let response = server.get("/search?q=Latvia&per_page=3", "application/json").await;
    let link = response.headers().get("link").unwrap().to_str().unwrap().to_owned();
    assert!(link.contains("page=2") && link.contains("rel=\"next\""), "{link}");

    let long = "a".repeat(501);
    let twenty_words = vec!["word"; 20].join("+");
    for (query, expected) in [
        ("q=Latvia&per_page=0", "per_page"),
        ("q=Latvia&page=x", "page"),
        (&*format!("q={long}"), "limit is 500"),
        (&*format!("q={twenty_words}"), "the limit is 16"),
        ("", "q is missing"),
        ("q=Latvia&format=xml", "format"),
    ] {
        let response = server.get(&format!("/search?{query}"), "application/json").await;
        assert_eq!(response.status(), 400, "{query}");
        let body = response.text().await.unwrap();
        assert!(body.contains(expected), "{query}: {body}");
    }
    assert_eq!(server.fetch("/search/suggest?q=la&limit=50", "").await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_complete_what_is_typed_and_the_page_shows_snippets_and_sources() {
    let server = knowledge_graph_server().await;
    server.search("q=warm+up").await;
    let suggest = server.fetch("/search/suggest?q=vaik", "").await.json();
    let first = &suggest["suggestions"][0];
    assert_eq!(first["iri"], format!("{ID}person/raimundas-vaiksnoras"), "{suggest:#}");
    assert_eq!(first["label"], "Raimundas Vaikšnoras");
    assert_eq!(first["href"], "/page/person/raimundas-vaiksnoras");
    let two_words = server.fetch("/search/suggest?q=evika+sil", "").await.json();
    assert_eq!(two_words["suggestions"][0]["iri"], format!("{ID}person/evika-silina"), "{two_words:#}");

    let page = server.get_text("/search?q=explosives", "text/html,application/xhtml+xml,*/*;q=0.8").await;
    assert!(page.contains("<b>explosives</b>"), "{page}");
    assert!(page.contains("href=\"/page/quotation/vaiksnoras-explosives-at-home\""), "{page}");
    assert!(page.contains("From: "), "the source sentence is shown");
    assert!(page.contains("schema:Quotation"), "the type is shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_every_write() {
    let server = TestServer::start().await;
    assert_eq!(server.search("q=Zanzibar").await["total"], 0);
    let insert = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/accord> <http://www.w3.org/2000/01/rdf-schema#label> \"Zanzibar Accord\"@en } }";
    assert_eq!(server.update(insert).await.status(), 204);
    let answer = server.search("q=zanzibar").await;
    assert_eq!(iris(&answer), vec!["http://example.org/accord".to_owned()], "{answer:#}");
    assert_eq!(answer["data_version"], server.state.store.data_version(), "built from the current data");
    // A change to one subject leaves the others of its graph alone.
    let second = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/pact> <http://www.w3.org/2000/01/rdf-schema#label> \"Zanzibar Pact\" } }";
    assert_eq!(server.update(second).await.status(), 204);
    assert_eq!(server.search("q=zanzibar").await["total"], 2);
    let rename = "DELETE { GRAPH <http://example.org/g> { <http://example.org/accord> ?p ?l } } INSERT { GRAPH <http://example.org/g> { <http://example.org/accord> ?p \"Kilimanjaro Accord\" } } WHERE { GRAPH <http://example.org/g> { <http://example.org/accord> ?p ?l } }";
    assert_eq!(server.update(rename).await.status(), 204);
    assert_eq!(iris(&server.search("q=zanzibar").await), vec!["http://example.org/pact".to_owned()]);
    assert_eq!(iris(&server.search("q=kilimanjaro").await), vec!["http://example.org/accord".to_owned()]);
    // Graph Store writes, whole graphs (a DROP), and a write no scope bounds (a variable graph).
    let put = server
        .put_turtle(
            "/store?graph=http%3A%2F%2Fexample.org%2Fh",
            "<http://example.org/treaty> <http://www.w3.org/2000/01/rdf-schema#label> \"Serengeti Treaty\" ."
                .to_owned(),
        )
        .await;
    assert!(put.status().is_success());
    assert_eq!(server.search("q=serengeti").await["total"], 1);
    // A replacement names the subjects it replaced too: theirs go, the new ones come.
    let label = "<http://www.w3.org/2000/01/rdf-schema#label>";
    let replace = server
        .put_turtle(
            "/store?graph=http%3A%2F%2Fexample.org%2Fh",
            format!("<http://example.org/convention> {label} \"Okavango Convention\" ."),
        )
        .await;
    assert!(replace.status().is_success());
    assert_eq!(server.search("q=serengeti").await["total"], 0, "the replaced subject left the index");
    assert_eq!(server.search("q=okavango").await["total"], 1);
    // A dataset POST names its subjects in their graphs.
    let quads = format!("<http://example.org/treaty> {label} \"Serengeti Treaty\" <http://example.org/h> .\n");
    let posted = server.write(reqwest::Method::POST, "/store", "application/n-quads", quads).await;
    assert!((200..300).contains(&posted.status), "{}", posted.status);
    assert_eq!(server.search("q=serengeti").await["total"], 1);
    assert_eq!(server.update("DROP GRAPH <http://example.org/g>").await.status(), 204);
    assert_eq!(server.search("q=zanzibar").await["total"], 0);
    assert_eq!(server.search("q=kilimanjaro").await["total"], 0);
    let anywhere = "DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o FILTER(?o = \"Serengeti Treaty\") } }";
    assert_eq!(server.update(anywhere).await.status(), 204);
    assert_eq!(server.search("q=serengeti").await["total"], 0);
    // A deleted graph names the subjects it held.
    let deleted = server.delete("/store?graph=http%3A%2F%2Fexample.org%2Fh").await;
    assert_eq!(deleted.status, 204);
    assert_eq!(server.search("q=okavango").await["total"], 0);

    let off = TestServer::with(Options { search: false, ..Options::default() }).await;
    assert_eq!(off.fetch("/search?q=x", "").await.status, 404);
}

on_every_backend! {
    async fn search_from_sparql_and_saved_queries(backend) {
        let server = knowledge_graph_on(backend).await;
        server.search("q=warm+up").await;
        let rows = server.table(
            "PREFIX search: <https://w3id.org/treaty-kg/search#>
             SELECT ?hit ?label WHERE {
               SERVICE <https://w3id.org/treaty-kg/search> { ?hit search:query \"explosives\" ; search:label ?label ; search:limit 50 }
               ?hit a <https://schema.org/Quotation> .
             }",
        ).await;
        assert_eq!(rows, vec![vec![format!("{ID}quotation/vaiksnoras-explosives-at-home"), "Raimundas Vaiksnoras on producing explosives at home".to_owned()]]);

        let csv = server.get_text("/queries/search-quotations?text=explosives", "text/csv").await;
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(lines[1].contains("vaiksnoras-explosives-at-home") && lines[1].contains("Vaik"), "{csv}");

        for (query, expected) in [
            ("SELECT * { SERVICE <https://w3id.org/treaty-kg/search> { ?h <https://w3id.org/treaty-kg/search#query> ?t } }", "not bound"),
            ("SELECT * { SERVICE <https://w3id.org/treaty-kg/search> { ?h <https://w3id.org/treaty-kg/search#query> \"x\" ; <https://w3id.org/treaty-kg/search#nope> ?n } }", "search:nope"),
            ("SELECT * { SERVICE <https://w3id.org/treaty-kg/search> { ?h <https://w3id.org/treaty-kg/search#score> ?s } }", "needs search:query"),
        ] {
            let response = server.query(query, "application/sparql-results+json").await;
            assert_eq!(response.status(), 400, "{query}");
            let body = response.text().await.unwrap();
            assert!(body.contains(expected), "{query}: {body}");
        }
    }
}

/// A build that fails (here: cancelled from `/admin/queries`, as an operator
/// may) is retried a few seconds later, not left until the next write: a
/// server nobody writes to would otherwise keep no index until its restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_is_retried_without_waiting_for_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("generated.nq");
    // Large enough that the build is still reading when the server starts
    // answering (the summaries' first count, on two threads, comes first):
    // a cancellation after its last read is too late to stop it.
    treaty_kg::generate::generate(200_000, 3, std::fs::File::create(&data).unwrap()).unwrap();
    let args = [
        "--no-default-data",
        "--no-inference",
        "--store",
        &dir.path().join("store").display().to_string(),
        "--data",
        &data.display().to_string(),
    ]
    .map(str::to_owned);
    let served = KillOnDrop(spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]));
    let client = reqwest::Client::new();
    let admin = format!("{}/admin/queries", served.0.base);
    let mut id = None;
    // The load, then the graph sources' scan, come first: on a loaded machine that takes a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        let list: Vec<serde_json::Value> =
            serde_json::from_slice(&call(client.get(&admin).bearer_auth(TOKEN)).await.body).unwrap();
        id = list.iter().find(|q| q["query"] == "building the search index").and_then(|q| q["id"].as_u64());
        if id.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let id = id.expect("the first build is listed while it runs");
    assert_eq!(call(client.delete(format!("{admin}/{id}")).bearer_auth(TOKEN)).await.status, 204);
    let wait = std::time::Duration::from_secs(120);
    let failed = served.0.line("it is rebuilt later", wait).await;
    let failed = failed.unwrap_or_else(|| panic!("the build failed: {}", served.0.log().join("\n")));
    let built = served.0.line("search index built", wait).await;
    let built = built.unwrap_or_else(|| panic!("built again, with no write: {}", served.0.log().join("\n")));
    // The rebuild started after the retry's wait (5 s), by the server's clock.
    let took_ms: f64 = built.split("ms=").nth(1).and_then(|v| v.split_whitespace().next()).unwrap().parse().unwrap();
    let waited = logged_at(&built) - took_ms / 1e3 - logged_at(&failed);
    assert!(waited >= 4.9, "the rebuild started {waited:.2} s after the failure, not after the retry's wait");
    let answer = call(client.get(format!("{}/search?q=state&format=json", served.0.base))).await;
    assert_eq!(answer.status, 200);
}

/// The hits of each of `searches` at `base`: each one's total, its first
/// page's IRIs and their scores (to four decimals), and whether the index
/// answering said it was current.
async fn hits_at(base: &str, searches: &[&str]) -> Vec<(u64, Vec<String>, Vec<i64>, bool)> {
    let client = reqwest::Client::new();
    let mut all = Vec::new();
    for q in searches {
        let answer =
            call(client.get(format!("{base}/search")).query(&[("q", *q), ("format", "json"), ("per_page", "100")]))
                .await
                .expect(200, q)
                .json();
        let scores = answer["hits"].as_array().unwrap().iter();
        let scores = scores.map(|h| (h["score"].as_f64().unwrap() * 1e4).round() as i64).collect();
        all.push((answer["total"].as_u64().unwrap(), iris(&answer), scores, answer["stale"] == false));
    }
    all
}

/// `treaty-kg load` into an empty store builds the search index from what it
/// reads: the first start then updates it with what the source files and the
/// inferred graph changed, and builds nothing. Its hits are those of the index
/// the server builds whole from the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_loaded_from_the_command_line_starts_with_its_search_index_current() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("generated.nq");
    treaty_kg::generate::generate(20_000, 5, std::fs::File::create(&data).unwrap()).unwrap();
    let store = dir.path().join("store");
    let loaded = std::process::Command::new(BIN).args(["load", "--store"]).arg(&store).arg(&data).output().unwrap();
    let report = String::from_utf8_lossy(&loaded.stderr);
    assert!(loaded.status.success() && report.contains("search index: "), "{report}");
    let args = [
        "--store",
        &store.display().to_string(),
        "--data",
        &repo("ontology").display().to_string(),
        "--data",
        &repo("data").display().to_string(),
        "--no-default-data",
    ]
    .map(str::to_owned);
    // Names from the generated data, the repository's data, and both.
    let searches = ["State 17", "Silina", "landmine production", "treaty", "Latvia", "alliance"];
    let wait = std::time::Duration::from_secs(120);

    let first = KillOnDrop(spawn_server(&args, &[]));
    let updated = first.0.line("search index updated", wait).await;
    assert!(updated.is_some(), "the loaded index is updated: {}", first.0.log().join("\n"));
    let from_load = hits_at(&first.0.base, &searches).await;
    assert!(!first.0.log().iter().any(|l| l.contains("search index built")), "{}", first.0.log().join("\n"));
    drop(first);

    std::fs::remove_dir_all(store.join("search-index")).unwrap();
    let second = KillOnDrop(spawn_server(&args, &[]));
    assert!(second.0.line("search index built", wait).await.is_some(), "{}", second.0.log().join("\n"));
    let rebuilt = hits_at(&second.0.base, &searches).await;
    for ((search, loaded), built) in searches.iter().zip(&from_load).zip(&rebuilt) {
        assert!(loaded.3 && built.3, "{search}: both indexes are current");
        assert!(loaded.0 > 0, "{search}: found in the loaded index");
        assert_eq!(loaded.0, built.0, "{search}: totals");
        assert_eq!(loaded.2, built.2, "{search}: the scores of the first page");
        // Hits of equal score come in either order, and past one page ties may
        // be cut at another place: the whole set when it fits on the page.
        if loaded.0 <= 100 {
            let (mut a, mut b) = (loaded.1.clone(), built.1.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b, "{search}: hits");
        }
    }
}
