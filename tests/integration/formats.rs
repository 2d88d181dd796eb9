//! Every result format by content negotiation, parsed back with a real parser and
//! compared (solutions as sets, graphs by isomorphism); 406; Vary; format=;
//! streaming of large results. Conneg and every format on every backend.

use crate::common::*;
use crate::on_every_backend;
use oxigraph::io::RdfFormat;
use oxigraph::sparql::results::QueryResultsFormat;

const SELECT: &str = "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(STRSTARTS(STR(?s), 'http://example.org/') || isBlank(?s)) }";
/// The fixtures' 20 statements (Virtuoso's default graph holds its own too).
const CONSTRUCT: &str = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } VALUES ?g { <https://w3id.org/treaty-kg/graph/sample> <https://w3id.org/treaty-kg/graph/extra> } }";

on_every_backend! {
    /// SELECT and ASK in JSON, XML, CSV and TSV: the same solutions in each.
    async fn select_and_ask_in_every_results_format(backend) {
        let server = TestServer::on(backend).await;
        let reference = solutions(
            &server.query(SELECT, "application/sparql-results+json").await.bytes().await.unwrap(),
            QueryResultsFormat::Json,
        );
        assert_eq!(reference.len(), 7);
        for (accept, format) in [
            ("application/sparql-results+xml", QueryResultsFormat::Xml),
            ("text/tab-separated-values", QueryResultsFormat::Tsv),
        ] {
            let r = server.query(SELECT, accept).await;
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with(accept));
            assert_eq!(r.headers()["vary"], "Accept");
            let body = r.bytes().await.unwrap();
            let mut parsed = solutions(&body, format);
            // Blank node labels differ between serializations; compare their count.
            let key = |rows: &mut Vec<Vec<(String, oxigraph::model::Term)>>| {
                rows.iter().filter(|r| !r.iter().any(|(_, t)| matches!(t, oxigraph::model::Term::BlankNode(_)))).count()
            };
            assert_eq!(parsed.len(), reference.len(), "{accept}");
            assert_eq!(key(&mut parsed), key(&mut reference.clone()), "{accept}");
        }
        // CSV loses term kinds: check the values.
        let csv = server.query(SELECT, "text/csv").await;
        assert_eq!(csv.status(), 200);
        let csv = csv.text().await.unwrap();
        assert!(csv.starts_with("s,l\r\n"), "{csv}");
        assert!(csv.contains("http://example.org/latvia,Latvija"));
        assert_eq!(csv.lines().count(), 8);

        for (accept, format) in [
            ("application/sparql-results+json", QueryResultsFormat::Json),
            ("application/sparql-results+xml", QueryResultsFormat::Xml),
            ("text/tab-separated-values", QueryResultsFormat::Tsv),
        ] {
            let r = server.query("ASK { <http://example.org/latvia> ?p ?o }", accept).await;
            assert_eq!(r.status(), 200);
            assert!(boolean(&r.bytes().await.unwrap(), format), "{accept}");
        }
        // CSV has no parser for booleans (the format is lossy); check the text.
        let r = server.query("ASK { <http://example.org/nowhere> ?p ?o }", "text/csv").await;
        assert_eq!(r.text().await.unwrap(), "false");
    }
}

on_every_backend! {
    /// CONSTRUCT in Turtle, N-Triples, N-Quads, TriG, RDF/XML and JSON-LD: isomorphic graphs.
    async fn construct_in_every_rdf_format(backend) {
        let server = TestServer::on(backend).await;
        let reference =
            graph(&server.query(CONSTRUCT, "application/n-triples").await.bytes().await.unwrap(), RdfFormat::NTriples);
        assert_eq!(reference.len(), 20);
        for (accept, format) in [
            ("text/turtle", RdfFormat::Turtle),
            ("application/n-quads", RdfFormat::NQuads),
            ("application/trig", RdfFormat::TriG),
            ("application/rdf+xml", RdfFormat::RdfXml),
            ("application/ld+json", treaty_kg::conneg::json_ld()),
        ] {
            let r = server.query(CONSTRUCT, accept).await;
            assert_eq!(r.status(), 200, "{accept}");
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with(accept));
            assert_isomorphic(&graph(&r.bytes().await.unwrap(), format), &reference);
        }
        let describe = server.query("DESCRIBE <http://example.org/latvia>", "text/turtle").await;
        assert_eq!(describe.status(), 200);
        // DESCRIBE is the engine's own (the Recommendation leaves it open):
        // Virtuoso adds the statements pointing at the resource.
        let described = graph(&describe.bytes().await.unwrap(), RdfFormat::Turtle).len();
        assert_eq!(described, if backend == Backend::Virtuoso { 7 } else { 6 });
    }
}

on_every_backend! {
    /// q-values, wildcards, the format= parameter, and 406 listing what is offered.
    async fn negotiation_rules(backend) {
        let server = TestServer::on(backend).await;
        let r = server.query(SELECT, "text/csv;q=0.2, application/sparql-results+xml;q=0.9").await;
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/sparql-results+xml"));
        let r = server.query(SELECT, "text/*").await;
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let r = server.query(SELECT, "*/*").await;
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/sparql-results+json"));

        let r = server.query(SELECT, "image/png").await;
        assert_eq!(r.status(), 406);
        assert_eq!(r.headers()["vary"], "Accept");
        let message = r.text().await.unwrap();
        assert!(message.contains("application/sparql-results+json") && message.contains("text/csv"), "{message}");

        let r = server.query(CONSTRUCT, "application/sparql-results+json").await;
        assert_eq!(r.status(), 406, "a graph cannot be sent as SPARQL results");

        let sparql = || server.client.get(server.url("/sparql"));
        let r = server.call(sparql().query(&[("query", SELECT), ("format", "tsv")]).header("accept", "application/sparql-results+xml")).await;
        assert!(r.header("content-type").starts_with("text/tab-separated-values"));
        let r = server.call(sparql().query(&[("query", CONSTRUCT), ("format", "json")])).await;
        assert!(r.header("content-type").starts_with("application/ld+json"));
        let r = server.call(sparql().query(&[("query", SELECT), ("format", "bogus")])).await;
        assert_eq!(r.status, 400);
    }
}

/// A million-row SELECT streams: the first bytes arrive while the query is still
/// being evaluated (it is still listed as running), and the whole answer arrives.
#[tokio::test]
async fn large_results_stream_before_evaluation_ends() {
    let server = TestServer::start().await;
    let values: String = (0..1000).map(|i| format!("<http://example.org/n{i}> <http://example.org/v> \"{i}\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n")).collect();
    let r = server
        .write(reqwest::Method::PUT, "/store?graph=http%3A%2F%2Fexample.org%2Fnumbers", "application/n-triples", values)
        .await;
    assert_eq!(r.status, 201);
    // Raw responses below: the test reads their Content-Length and their chunks as they arrive.
    // A small answer is complete before its head is sent: one body with a length.
    let small = server.query("SELECT ?a WHERE { ?x <http://example.org/v> ?a }", "text/tab-separated-values").await;
    assert_eq!(small.status(), 200);
    let length = small.content_length().expect("a small answer has a Content-Length");
    assert_eq!(small.bytes().await.unwrap().len() as u64, length);
    // A large one streams (no length) and its first chunk arrives while it is evaluated.
    let query = "SELECT ?a ?b WHERE { ?x <http://example.org/v> ?a . ?y <http://example.org/v> ?b }";
    let mut response = server.query(query, "text/tab-separated-values").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), None);
    let first = response.chunk().await.unwrap().expect("a first chunk");
    assert!(!first.is_empty());
    // This query is listed (the server's own follow-up of the PUT, the search
    // index's read, may be listed beside it).
    let running: Vec<String> = server.state.store.running().list().into_iter().map(|r| r.query).collect();
    assert!(
        running.iter().any(|label| label.contains("?y <http://example.org/v> ?b")),
        "evaluation is still running when the first bytes arrive: {running:?}"
    );
    let mut lines = first.iter().filter(|b| **b == b'\n').count();
    while let Some(chunk) = response.chunk().await.unwrap() {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, 1_000_001, "header plus one million rows");
}
