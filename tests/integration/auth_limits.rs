//! Write tokens, the query timeout, the body limit, refused outbound requests,
//! CORS and compression. The write rules on every backend: the token is
//! checked before anything reaches an engine.

use crate::common::*;
use crate::on_every_backend;
use std::time::{Duration, Instant};

const INSERT: &str = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/t> <http://example.org/p> 1 } }";

on_every_backend! {
    /// No token configured: every write is 403 with a message saying how to enable writes.
    async fn read_only_without_a_token(backend) {
        let server = TestServer::with(Options { token: None, backend, ..Options::default() }).await;
        let r = server.update(INSERT).await;
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("--write-token-file"));
        let r = server.call(server.client.put(server.url("/store?default")).header("content-type", "text/turtle").body("")).await;
        assert_eq!(r.status, 403);
        let r = server.call(server.client.delete(server.url("/store?default"))).await;
        assert_eq!(r.status, 403);
        assert_eq!(server.query("ASK {}", "application/sparql-results+json").await.status(), 200, "reads stay public");
    }
}

on_every_backend! {
    /// With a token: missing → 401 with WWW-Authenticate, wrong → 401, right → 204.
    async fn token_rules(backend) {
        let server = TestServer::on(backend).await;
        let post = |token: Option<&'static str>| {
            let mut request =
                server.client.post(server.url("/sparql")).header("content-type", "application/sparql-update").body(INSERT);
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            server.call(request)
        };
        let refused = post(None).await.expect(401, "no token");
        assert!(refused.header("www-authenticate").starts_with("Bearer"));
        post(Some("test-token-0123456789abcdeX")).await.expect(401, "a wrong token");
        assert_eq!(server.count("SELECT * { <http://example.org/t> ?p ?o }").await, 0, "a refused write wrote");
        post(Some(TOKEN)).await.expect(204, "the right token");
        assert_eq!(server.count("SELECT * { <http://example.org/t> ?p ?o }").await, 1, "the accepted write is not read back");
        let r = server.fetch("/admin/queries", "").await;
        assert_eq!(r.status, 401, "the running-queries list needs the token");
    }
}

/// An expensive query is cancelled at the deadline (503, within timeout + slack),
/// and a cheap request is answered promptly while it runs.
#[tokio::test]
async fn timeout_cancels_evaluation_and_others_are_served() {
    let server = TestServer::with(Options { timeout_secs: 2, ..Options::default() }).await;
    server.put_turtle("/store?default", numbered_rows()).await;
    // 300^4 = 8.1e9 combinations: never finishes without cancellation.
    let expensive = endless_join(None);
    let started = Instant::now();
    let slow = server.query(&expensive, "application/sparql-results+json");
    let cheap = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        let r = server.query("ASK { ?s ?p ?o }", "application/sparql-results+json").await;
        assert_eq!(r.status(), 200);
        t.elapsed()
    };
    let (slow, cheap_elapsed) = tokio::join!(slow, cheap);
    let elapsed = started.elapsed();
    assert_eq!(slow.status(), 503);
    assert_eq!(slow.headers()["x-error-code"], "timeout");
    assert!(slow.text().await.unwrap().contains("time limit of 2 s"));
    assert!(elapsed < Duration::from_secs(4), "answered late: {elapsed:?}");
    assert!(elapsed >= Duration::from_secs(2), "cancelled early: {elapsed:?}");
    assert!(cheap_elapsed < Duration::from_secs(1), "a cheap query waited {cheap_elapsed:?}");
}

on_every_backend! {
    /// A body over the limit is refused with 413 and nothing is written.
    async fn oversized_bodies_get_413(backend) {
        let server = TestServer::with(Options { max_body_bytes: 1024, backend, ..Options::default() }).await;
        let before = server.dataset().await;
        let big = format!("<http://example.org/a> <http://example.org/p> \"{}\" .", "x".repeat(4096));
        let r = server.write(reqwest::Method::PUT, "/store?default", "application/n-triples", big).await;
        assert_eq!(r.status, 413);
        assert_datasets_isomorphic(&server.dataset().await, &before);
    }
}

/// SERVICE and LOAD are refused: the server makes no outbound requests.
#[tokio::test]
async fn outbound_requests_are_refused() {
    let server = TestServer::start().await;
    let r = server
        .query("SELECT * WHERE { SERVICE <http://example.com/sparql> { ?s ?p ?o } }", "application/sparql-results+json")
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("SERVICE is switched off"));
    let r = server.update("LOAD <http://example.com/data.ttl>").await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("LOAD is switched off"));
}

/// Reads are open to other origins; responses are compressed on request.
#[tokio::test]
async fn cors_and_compression() {
    let server = TestServer::start().await;
    let r = server
        .call(server.client.get(server.url("/sparql?query=ASK%7B%7D")).header("origin", "https://yasgui.example"))
        .await;
    assert_eq!(r.header("access-control-allow-origin"), "*");
    let preflight = server
        .call(
            server
                .client
                .request(reqwest::Method::OPTIONS, server.url("/sparql"))
                .header("origin", "https://yasgui.example")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type"),
        )
        .await;
    assert!((200..300).contains(&preflight.status));
    assert!(preflight.headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));

    let query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }";
    let compressed = |encoding: &'static str| {
        let request = server.client.get(server.url("/sparql")).query(&[("query", query)]);
        server.call(request.header("accept", "application/n-triples").header("accept-encoding", encoding))
    };
    for (encoding, expected) in [("gzip", "gzip"), ("br", "br")] {
        assert_eq!(compressed(encoding).await.header("content-encoding"), expected);
    }
    let r = compressed("gzip").await;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(r.body.as_slice()), &mut text).unwrap();
    assert_eq!(text.lines().count(), 20);
}
