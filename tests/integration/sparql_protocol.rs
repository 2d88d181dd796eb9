//! SPARQL 1.1 Protocol: every way to send a query or update, the dataset
//! parameters, and each error case with the status the Recommendation names.

//!
//! Each test runs on every backend (`on_every_backend!`): the embedded store,
//! Virtuoso and `oxigraph serve`, except the union switch, which is ours.

use crate::common::*;
use crate::on_every_backend;
use oxigraph::sparql::results::QueryResultsFormat;

/// The fixtures' labels, wherever the default graph holds more (Virtuoso).
const LABELS: &str = "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(STRSTARTS(STR(?s), \"http://example.org/\") || isBlank(?s)) }";

on_every_backend! {
    /// A query by GET, by POST form and by POST body gives the same answer.
    async fn query_by_get_form_and_direct_post_agree(backend) {
        let server = TestServer::on(backend).await;
        let by_get = server.query(LABELS, "application/sparql-results+json").await;
        assert_eq!(by_get.status(), 200);
        let by_get = solutions(&by_get.bytes().await.unwrap(), QueryResultsFormat::Json);
        assert_eq!(by_get.len(), 7);

        let by_form = server
            .client
            .post(server.url("/sparql"))
            .form(&[("query", LABELS)])
            .header("accept", "application/sparql-results+json")
            .send()
            .await
            .unwrap();
        assert_eq!(by_form.status(), 200);
        assert_eq!(solutions(&by_form.bytes().await.unwrap(), QueryResultsFormat::Json), by_get);

        let direct = server
            .client
            .post(server.url("/sparql"))
            .header("content-type", "application/sparql-query")
            .header("accept", "application/sparql-results+json")
            .body(LABELS)
            .send()
            .await
            .unwrap();
        assert_eq!(direct.status(), 200);
        assert_eq!(solutions(&direct.bytes().await.unwrap(), QueryResultsFormat::Json), by_get);
    }
}

on_every_backend! {
    /// default-graph-uri and named-graph-uri replace the query's dataset.
    async fn dataset_parameters_restrict_the_dataset(backend) {
        let server = TestServer::on(backend).await;
        let extra = "https://w3id.org/treaty-kg/graph/".to_owned();
        // Find the graph the NATO file went into.
        let graphs =
            server.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { <http://example.org/nato> ?p ?o } }", "text/csv").await;
        let graphs = graphs.text().await.unwrap();
        let nato_graph = graphs.lines().nth(1).unwrap().trim().to_owned();
        assert!(nato_graph.starts_with(&extra), "{nato_graph}");

        let response = server
            .client
            .get(server.url("/sparql"))
            .query(&[("query", LABELS), ("default-graph-uri", nato_graph.as_str())])
            .header("accept", "application/sparql-results+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let rows = solutions(&response.bytes().await.unwrap(), QueryResultsFormat::Json);
        assert_eq!(rows.len(), 1, "only the NATO label is in that graph");

        let response = server
            .client
            .get(server.url("/sparql"))
            .query(&[
                ("query", "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"),
                ("named-graph-uri", nato_graph.as_str()),
            ])
            .header("accept", "application/sparql-results+json")
            .send()
            .await
            .unwrap();
        let rows = solutions(&response.bytes().await.unwrap(), QueryResultsFormat::Json);
        assert_eq!(rows.len(), 1);
    }
}

on_every_backend! {
    /// Updates by urlencoded form and by direct body, with using-graph-uri.
    async fn updates_by_form_and_body(backend) {
        let server = TestServer::on(backend).await;
        let response = server
            .client
            .post(server.url("/sparql"))
            .bearer_auth(TOKEN)
            .form(&[(
                "update",
                "INSERT DATA { GRAPH <http://example.org/g1> { <http://example.org/a> <http://example.org/p> 1 } }",
            )])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let response = server
            .update("INSERT DATA { GRAPH <http://example.org/g2> { <http://example.org/b> <http://example.org/p> 2 } }")
            .await;
        assert_eq!(response.status(), 204);
        // using-graph-uri: the WHERE clause sees only g1.
        let response = server
            .client
            .post(server.url("/sparql?using-graph-uri=http%3A%2F%2Fexample.org%2Fg1"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/sparql-update")
            .body("INSERT { GRAPH <http://example.org/g3> { ?s ?p ?o } } WHERE { ?s <http://example.org/p> ?o . BIND(<http://example.org/p> AS ?p) }")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
        assert_eq!(server.count("SELECT * WHERE { GRAPH <http://example.org/g3> { ?s ?p ?o } }").await, 1);
    }
}

on_every_backend! {
    /// Each protocol error case answers its status with a message saying what was wrong.
    async fn protocol_errors_have_the_right_status_and_message(backend) {
        let server = TestServer::on(backend).await;
        let get = |q: &'static str| server.client.get(server.url(&format!("/sparql?{q}"))).send();

        let r = get("query=ASK%7B%7D&query=ASK%7B%7D").await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("exactly one"));

        let r = get("update=CLEAR%20ALL").await.unwrap();
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "POST");

        let r = get("query=SELECT%20*%20WHERE%20%7B%20%3Fs%20%3Fp%20").await.unwrap();
        assert_eq!(r.status(), 400);
        let message = r.text().await.unwrap();
        assert!(message.contains("malformed SPARQL") && message.contains("1:"), "position missing: {message}");

        let r = server
            .client
            .post(server.url("/sparql"))
            .header("content-type", "text/plain")
            .body("ASK {}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        assert!(r.text().await.unwrap().contains("application/sparql-query"));

        let r = server.client.post(server.url("/sparql")).body("query=ASK%7B%7D").send().await.unwrap();
        assert_eq!(r.status(), 415, "a form without its media type");

        let r = server
            .client
            .post(server.url("/sparql"))
            .form(&[("query", "ASK {}"), ("update", "CLEAR ALL")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        let r = server
            .client
            .post(server.url("/sparql"))
            .header("content-type", "application/sparql-query")
            .body(vec![0xC3u8, 0x28])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        let r = server.client.put(server.url("/sparql")).body("ASK {}").send().await.unwrap();
        assert_eq!(r.status(), 405);

        let r = server
            .client
            .post(server.url("/sparql?using-graph-uri=http%3A%2F%2Fa"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/sparql-update")
            .body("DELETE { ?s ?p ?o } USING <http://b> WHERE { ?s ?p ?o }")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(server.count(FIXTURE_TRIPLES).await, 20, "nothing was deleted");
    }
}

on_every_backend! {
    /// A malformed update, and an update that fails midway, leave the store exactly as before.
    async fn failed_updates_change_nothing(backend) {
        let server = TestServer::on(backend).await;
        let before = server.dataset().await;

        let r = server.update("INSERT DATA { <http://example.org/x> <http://example.org/p> 1 } ; DELEET WHERE { }").await;
        assert_eq!(r.status(), 400);
        assert_datasets_isomorphic(&server.dataset().await, &before);

        // The first operation succeeds in isolation; the second fails (graph exists),
        // so the whole request must be rolled back.
        let graph = "https://w3id.org/treaty-kg/graph/sample";
        assert!(server.ask(&format!("ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")).await, "the graph exists");
        let r = server
            .update(&format!("INSERT DATA {{ <http://example.org/x> <http://example.org/p> 1 }} ; CREATE GRAPH <{graph}>"))
            .await;
        // The embedded store says 400; `oxigraph serve` answers such an update
        // 500, which is passed on as 502 with its message (README, "What
        // changes remotely"). Either way nothing was written.
        let (status, message) = (r.status(), r.text().await.unwrap());
        if backend == Backend::Embedded {
            assert_eq!(status, 400, "{message}");
        } else {
            assert!(status.is_client_error() || status.is_server_error(), "{status}: {message}");
        }
        assert_datasets_isomorphic(&server.dataset().await, &before);
    }
}

on_every_backend! {
    /// GET /sparql with no operation answers the service description, as RDF by conneg.
    async fn service_description_by_content_negotiation(backend) {
        let server = TestServer::on(backend).await;
        for (accept, format) in [
            ("text/turtle", oxigraph::io::RdfFormat::Turtle),
            ("application/rdf+xml", oxigraph::io::RdfFormat::RdfXml),
            ("application/n-triples", oxigraph::io::RdfFormat::NTriples),
        ] {
            let r = server.client.get(server.url("/sparql")).header("accept", accept).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with(accept));
            let g = graph(&r.bytes().await.unwrap(), format);
            let endpoint = format!("{}/sparql", server.base);
            let text = g.to_string();
            assert!(
                text.contains(&format!(
                    "<{endpoint}> <http://www.w3.org/ns/sparql-service-description#endpoint> <{endpoint}>"
                )),
                "{text}"
            );
            // Over an engine the default graph is the engine's: said in words, not as our feature.
            let union = text.contains("http://www.w3.org/ns/sparql-service-description#UnionDefaultGraph");
            assert_eq!(union, backend == Backend::Embedded, "{text}");
            assert_eq!(text.contains("fronts a remote SPARQL engine"), backend != Backend::Embedded);
            assert!(text.contains("SPARQL11Update"));
        }
    }
}

/// The default graph is the union of the named graphs unless switched off.
#[tokio::test]
async fn union_default_graph_is_configurable() {
    let server = TestServer::start().await;
    // The 20 data triples, and no bookkeeping (that is in the ledger, beside the data).
    assert_eq!(server.count("SELECT * { ?s ?p ?o }").await, 20);
    let strict = TestServer::with(Options { union_default_graph: false, ..Options::default() }).await;
    assert_eq!(strict.count("SELECT * { ?s ?p ?o }").await, 0);
    assert_eq!(strict.count("SELECT * { GRAPH ?g { ?s ?p ?o } }").await, 20);
}

on_every_backend! {
    /// Query answers carry an ETag (data version, text, dataset, format):
    /// `If-None-Match` gets 304 without evaluating, a repeated query is
    /// answered from memory (streamed answers included), a write moves both on;
    /// `NOW()` is never cached.
    async fn query_answers_are_cached_until_a_write(backend) {
        // Without the inferred graph's regeneration, a write of its own that
        // would move the data version on at a moment of its choosing.
        let server = TestServer::with(Options { backend, inference: false, ..Options::default() }).await;
        assert_eq!(server.put_turtle("/store?graph=http%3A%2F%2Fexample.org%2Frows", numbered_rows()).await.status(), 201);
        // 9,000 rows (Virtuoso answers at most 10,000): several chunks, streamed while they are kept.
        let big = "SELECT ?a ?b WHERE { GRAPH <http://example.org/rows> { ?a <http://example.org/v> ?x . ?b <http://example.org/v> ?y FILTER(?x < 30) } }";
        let get = |query: &'static str, etag: Option<String>| {
            let mut request = server.client.get(server.url("/sparql")).query(&[("query", query)]).header("accept", "text/csv");
            if let Some(tag) = etag {
                request = request.header("if-none-match", tag);
            }
            request.send()
        };
        let first = get(big, None).await.unwrap();
        assert_eq!(first.headers()["x-cache"], "miss");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let body = first.text().await.unwrap();
        assert_eq!(body.lines().count(), 9_001);
        let again = get(big, None).await.unwrap();
        assert_eq!(again.headers()["x-cache"], "hit");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert_eq!(again.text().await.unwrap(), body);
        assert_eq!(get(big, Some(etag.clone())).await.unwrap().status(), 304);

        let insert = "INSERT DATA { GRAPH <http://example.org/rows> { <http://example.org/n300> <http://example.org/v> 300 } }";
        assert_eq!(server.update(insert).await.status(), 204);
        let after = get(big, Some(etag.clone())).await.unwrap();
        assert_eq!(after.status(), 200, "a write moves the ETag on");
        assert_eq!(after.headers()["x-cache"], "miss");
        assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
        assert_eq!(after.text().await.unwrap().lines().count(), 30 * 301 + 1);

        let clock = get("SELECT (NOW() AS ?t) {}", None).await.unwrap();
        assert!(clock.headers().get("etag").is_none() && clock.headers().get("x-cache").is_none());
    }
}

/// `--no-query-cache`: answers are evaluated each time; their ETags stay.
#[tokio::test]
async fn the_query_cache_can_be_switched_off() {
    let server = TestServer::with(Options { query_cache: false, ..Options::default() }).await;
    let r = server.query(LABELS, "text/csv").await;
    assert!(r.headers().get("x-cache").is_none());
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let revalidated = server
        .client
        .get(server.url("/sparql"))
        .query(&[("query", LABELS)])
        .header("accept", "text/csv")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

/// `/sparql/explain`: the engine's plan with each operator's rows and time, on
/// the embedded store; a clear refusal for what it cannot explain.
#[tokio::test]
async fn queries_explain_their_plan() {
    let server = knowledge_graph_server().await;
    let query = "SELECT ?s ?label WHERE { ?s a <https://w3id.org/treaty-kg/ontology#SovereignState> ; <http://www.w3.org/2000/01/rdf-schema#label> ?label }";
    let response = server.client.get(server.url("/sparql/explain")).query(&[("query", query)]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let plan: serde_json::Value = response.json().await.unwrap();
    assert!(plan["planning duration in seconds"].is_number(), "{plan}");
    // Somewhere in the tree, an operator produced the states' rows, timed.
    fn rows(node: &serde_json::Value, out: &mut Vec<u64>) {
        assert!(node["name"].is_string() && node["duration in seconds"].is_number(), "{node}");
        out.push(node["number of results"].as_u64().unwrap());
        node["children"].as_array().unwrap().iter().for_each(|c| rows(c, out));
    }
    let mut counts = Vec::new();
    rows(&plan["plan"], &mut counts);
    assert!(counts.contains(&10), "ten states with labels: {counts:?} in {plan}");
    // The form POST the editor sends.
    let posted = server.client.post(server.url("/sparql/explain")).form(&[("query", "ASK {}")]).send().await.unwrap();
    assert_eq!(posted.status(), 200);
    // Refusals that say why.
    let bad = server.client.get(server.url("/sparql/explain")).query(&[("query", "SELECT")]).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let update = server
        .client
        .post(server.url("/sparql/explain"))
        .form(&[("update", "INSERT DATA { <urn:a> <urn:b> <urn:c> }")])
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 400);
    assert!(update.text().await.unwrap().contains("explains queries"));
    assert_eq!(server.count("SELECT * { <urn:a> ?p ?o }").await, 0, "nothing was written");
}

/// A query tried on the request's own thread (`store::inline`): a small one is
/// answered there; one past the budget (time, or an answer over 64 KiB) gives
/// way to the pool and is answered whole, the same as ever.
#[tokio::test]
async fn small_queries_answer_inline_and_large_ones_give_way() {
    let server = knowledge_graph_server().await;
    let answered = "treaty_kg_inline_attempts_total{outcome=\"answered\"}";
    let gave_way = "treaty_kg_inline_attempts_total{outcome=\"gave_way\"}";
    let before = server.counter(answered).await;
    let rows = server.table("SELECT ?p ?o WHERE { <https://w3id.org/treaty-kg/id/state/latvia> ?p ?o }").await;
    assert!(rows.len() > 5);
    assert!(server.counter(answered).await > before, "the point lookup was answered on its own thread");

    let count = |rows: Vec<Vec<String>>| rows[0][0].parse::<u64>().unwrap();
    let quads = count(server.table("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").await);
    let typed = count(server.table("SELECT (COUNT(*) AS ?n) WHERE { ?s a ?c }").await);
    let before = server.counter(gave_way).await;
    // Past the time: a join of every typing with every statement.
    let joined = count(server.table("SELECT (COUNT(*) AS ?n) WHERE { ?a a ?c . ?s ?p ?o }").await);
    assert_eq!(joined, typed * quads);
    // Past the size: every statement, well over 64 KiB of JSON, whole.
    let all = server.table("SELECT * WHERE { ?s ?p ?o }").await;
    assert_eq!(all.len() as u64, quads);
    assert!(server.counter(gave_way).await >= before + 2, "both gave way to the pool");
}
