//! SPARQL 1.1 Protocol: every way to send a query or update, the dataset
//! parameters, and each error case with the status the Recommendation names.

use crate::common::*;
use oxigraph::sparql::results::QueryResultsFormat;

const LABELS: &str = "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }";

/// A query by GET, by POST form and by POST body gives the same answer.
#[tokio::test]
async fn query_by_get_form_and_direct_post_agree() {
    let server = TestServer::start().await;
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

/// default-graph-uri and named-graph-uri replace the query's dataset.
#[tokio::test]
async fn dataset_parameters_restrict_the_dataset() {
    let server = TestServer::start().await;
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

/// Updates by urlencoded form and by direct body, with using-graph-uri.
#[tokio::test]
async fn updates_by_form_and_body() {
    let server = TestServer::start().await;
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
    assert_eq!(response.status(), 204);
    assert_eq!(server.count("SELECT * WHERE { GRAPH <http://example.org/g3> { ?s ?p ?o } }").await, 1);
}

/// Each protocol error case answers its status with a message saying what was wrong.
#[tokio::test]
async fn protocol_errors_have_the_right_status_and_message() {
    let server = TestServer::start().await;
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
    assert_eq!(server.count("SELECT * { ?s ?p ?o }").await, 20, "nothing was deleted");
}

/// A malformed update, and an update that fails midway, leave the store exactly as before.
#[tokio::test]
async fn failed_updates_change_nothing() {
    let server = TestServer::start().await;
    let before = server.dataset().await;

    let r = server.update("INSERT DATA { <http://example.org/x> <http://example.org/p> 1 } ; DELEET WHERE { }").await;
    assert_eq!(r.status(), 400);
    assert_datasets_isomorphic(&server.dataset().await, &before);

    // The first operation succeeds in isolation; the second fails (graph exists),
    // so the whole request must be rolled back.
    let existing = "https://w3id.org/treaty-kg/graph/";
    let graphs =
        server.query("SELECT ?g { GRAPH ?g {} } LIMIT 1", "text/tab-separated-values").await.text().await.unwrap();
    assert!(graphs.contains(existing));
    let graph = graphs.lines().nth(1).unwrap().trim().trim_matches(['<', '>']).to_owned();
    let r = server
        .update(&format!("INSERT DATA {{ <http://example.org/x> <http://example.org/p> 1 }} ; CREATE GRAPH <{graph}>"))
        .await;
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    assert_datasets_isomorphic(&server.dataset().await, &before);
}

/// GET /sparql with no operation answers the service description, as RDF by conneg.
#[tokio::test]
async fn service_description_by_content_negotiation() {
    let server = TestServer::start().await;
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
        assert!(text.contains("http://www.w3.org/ns/sparql-service-description#UnionDefaultGraph"));
        assert!(text.contains("SPARQL11Update"));
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
