//! /health, /metrics and the running-queries list with cancellation.

use crate::common::*;
use std::time::Duration;

#[tokio::test]
async fn health_and_metrics() {
    let server = TestServer::start().await;
    let r = server.client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    server.query("ASK {}", "application/sparql-results+json").await;
    server.query("SELEKT", "application/sparql-results+json").await;
    let metrics = server.client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("treaty_kg_http_requests_total{route=\"/sparql\",method=\"GET\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("treaty_kg_http_requests_total{route=\"/sparql\",method=\"GET\",status=\"400\"} 1"));
    assert!(metrics.contains("treaty_kg_http_request_duration_seconds_bucket"));
    // The quad count is a full scan, made in the background: a later scrape has it.
    let mut metrics = metrics;
    for _ in 0..50 {
        if metrics.contains("treaty_kg_store_quads 20") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = server.client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    }
    assert!(metrics.contains("treaty_kg_store_quads 20"), "{metrics}");
}

/// An operator lists a running query and cancels it; its client gets 503 "cancelled".
#[tokio::test]
async fn running_queries_can_be_listed_and_cancelled() {
    let server = TestServer::start().await;
    let rows: String = (0..300).map(|i| format!("<http://example.org/n{i}> <http://example.org/v> \"{i}\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n")).collect();
    server
        .client
        .put(server.url("/store?default"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/n-triples")
        .body(rows)
        .send()
        .await
        .unwrap();
    let expensive = "SELECT (COUNT(*) AS ?c) WHERE { ?a <http://example.org/v> ?x . ?b <http://example.org/v> ?y . ?c <http://example.org/v> ?z . ?d <http://example.org/v> ?w }";
    let slow = server.query(expensive, "application/sparql-results+json");
    let operator = async {
        let mut list = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = server.client.get(server.url("/admin/queries")).bearer_auth(TOKEN).send().await.unwrap();
            assert_eq!(r.status(), 200);
            list = r.json::<Vec<serde_json::Value>>().await.unwrap();
            if !list.is_empty() {
                break;
            }
        }
        assert_eq!(list.len(), 1);
        assert!(list[0]["query"].as_str().unwrap().contains("COUNT(*)"));
        let id = list[0]["id"].as_u64().unwrap();
        let r =
            server.client.delete(server.url(&format!("/admin/queries/{id}"))).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = server.client.delete(server.url("/admin/queries/999999")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 404);
    };
    let (slow, ()) = tokio::join!(slow, operator);
    assert_eq!(slow.status(), 503);
    assert_eq!(slow.headers()["x-error-code"], "cancelled");
}
