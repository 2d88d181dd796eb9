//! /health, /metrics and the running-queries list with cancellation.

use crate::common::*;
use std::time::Duration;

#[tokio::test]
async fn health_and_metrics() {
    let server = TestServer::start().await;
    let r = server.fetch("/health", "").await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["status"], "ok");

    server.query("ASK {}", "application/sparql-results+json").await;
    server.query("SELEKT", "application/sparql-results+json").await;
    let metrics = server.fetch("/metrics", "").await.text();
    assert!(
        metrics.contains("treaty_kg_http_requests_total{route=\"/sparql\",method=\"GET\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("treaty_kg_http_requests_total{route=\"/sparql\",method=\"GET\",status=\"400\"} 1"));
    assert!(metrics.contains("treaty_kg_http_request_duration_seconds_bucket"));
    // Made-up methods are counted as `other`: a stranger cannot grow the metrics.
    for method in ["FOO1", "FOO2"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = server.call(server.client.request(method, server.url("/sparql"))).await;
        assert_eq!(r.status, 405, "{}", r.text());
    }
    let metrics = server.fetch("/metrics", "").await.text();
    assert!(!metrics.contains("FOO1"), "{metrics}");
    assert!(
        metrics.contains("treaty_kg_http_requests_total{route=\"/sparql\",method=\"other\",status=\"405\"} 2"),
        "{metrics}"
    );
    // The quad count is a full scan, made in the background: a later scrape has it.
    let mut metrics = metrics;
    for _ in 0..50 {
        if metrics.contains("treaty_kg_store_quads 20") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = server.fetch("/metrics", "").await.text();
    }
    assert!(metrics.contains("treaty_kg_store_quads 20"), "{metrics}");
}
