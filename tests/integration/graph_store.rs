//! The Graph Store HTTP Protocol at /store: statuses, every RDF format both ways,
//! atomic replacement, malformed bodies leaving graphs unchanged. On every
//! backend (`on_every_backend!`).

use crate::common::*;
use crate::on_every_backend;
use oxigraph::io::RdfFormat;

const G: &str = "/store?graph=http%3A%2F%2Fexample.org%2Fgsp";
const TURTLE: &str = "@prefix ex: <http://example.org/> . ex:a ex:p ex:b , \"x\"@en ; ex:q [ ex:r 1 ] .";

async fn send(server: &TestServer, method: reqwest::Method, path: &str, content_type: &str, body: &str) -> Reply {
    server.write(method, path, content_type, body.to_owned()).await
}

on_every_backend! {
    /// PUT creates (201) then replaces (204); POST merges; DELETE removes (204) then 404s.
    async fn graph_lifecycle_statuses(backend) {
        let server = TestServer::on(backend).await;
        assert_eq!(server.fetch(G, "text/turtle").await.status, 404);
        assert_eq!(send(&server, reqwest::Method::PUT, G, "text/turtle", TURTLE).await.status, 201);
        assert_eq!(send(&server, reqwest::Method::PUT, G, "text/turtle", TURTLE).await.status, 204);
        let body = server.fetch(G, "text/turtle").await.body;
        assert_isomorphic(&graph(&body, RdfFormat::Turtle), &graph(TURTLE.as_bytes(), RdfFormat::Turtle));

        let head = server.call(server.client.head(server.url(G)).header("accept", "text/turtle")).await;
        assert_eq!(head.status, 200);
        assert!(head.header("content-type").starts_with("text/turtle"));

        let more = "<http://example.org/c> <http://example.org/p> <http://example.org/d> .";
        assert_eq!(send(&server, reqwest::Method::POST, G, "application/n-triples", more).await.status, 204);
        let merged = graph(&server.fetch(G, "application/n-triples").await.body, RdfFormat::NTriples);
        assert_eq!(merged.len(), 5);

        assert_eq!(server.delete(G).await.status, 204);
        assert_eq!(server.fetch(G, "text/turtle").await.status, 404);
        assert_eq!(server.delete(G).await.status, 404);

        let created =
            send(&server, reqwest::Method::POST, "/store?graph=http%3A%2F%2Fexample.org%2Fnew", "text/turtle", TURTLE)
                .await;
        assert_eq!(created.status, 201);
    }
}

on_every_backend! {
    /// Every RDF format in (PUT) and out (GET) gives back an isomorphic graph.
    async fn every_rdf_format_both_ways(backend) {
        let server = TestServer::on(backend).await;
        let reference = graph(TURTLE.as_bytes(), RdfFormat::Turtle);
        let formats = [
            ("text/turtle", RdfFormat::Turtle),
            ("application/n-triples", RdfFormat::NTriples),
            ("application/n-quads", RdfFormat::NQuads),
            ("application/trig", RdfFormat::TriG),
            ("application/rdf+xml", RdfFormat::RdfXml),
            ("application/ld+json", treaty_kg::conneg::json_ld()),
        ];
        for (in_type, in_format) in &formats {
            // Serialize the reference graph in the input format with the server's own GET.
            let status = send(&server, reqwest::Method::PUT, G, "text/turtle", TURTLE).await.status;
            assert!(status == 201 || status == 204, "{status}");
            let encoded = server.fetch(G, in_type).await.body;
            assert_isomorphic(&graph(&encoded, *in_format), &reference);
            // And PUT it back in that format.
            let r = send(&server, reqwest::Method::PUT, G, in_type, std::str::from_utf8(&encoded).unwrap()).await;
            assert!(r.status == 204 || r.status == 201, "{in_type}: {}", r.status);
            for (out_type, out_format) in &formats {
                let out = server.fetch(G, out_type).await;
                assert_eq!(out.status, 200);
                assert_isomorphic(&graph(&out.body, *out_format), &reference);
            }
        }
    }
}

on_every_backend! {
    /// A malformed body answers 400 with the parser's position and leaves the graph as it was;
    /// an unsupported media type answers 415.
    async fn bad_bodies_change_nothing(backend) {
        let server = TestServer::on(backend).await;
        send(&server, reqwest::Method::PUT, G, "text/turtle", TURTLE).await;
        let r =
            send(&server, reqwest::Method::PUT, G, "text/turtle", "<http://example.org/a> <http://example.org/p> .").await;
        assert_eq!(r.status, 400);
        let message = r.text();
        assert!(message.contains("line 1"), "{message}");
        let body = server.fetch(G, "text/turtle").await.body;
        assert_isomorphic(&graph(&body, RdfFormat::Turtle), &graph(TURTLE.as_bytes(), RdfFormat::Turtle));

        let r = send(&server, reqwest::Method::PUT, G, "application/pdf", "%PDF").await;
        assert_eq!(r.status, 415);
        assert!(r.text().contains("text/turtle"));

        let r =
            send(&server, reqwest::Method::PUT, G, "application/trig", "<http://x> { <http://a> <http://b> <http://c> }")
                .await;
        assert_eq!(r.status, 400, "a named graph in a body addressed to one graph");

        let r = send(&server, reqwest::Method::PUT, "/store?graph=not%20an%20iri", "text/turtle", TURTLE).await;
        assert_eq!(r.status, 400);
        let r = send(&server, reqwest::Method::PUT, "/store?default&graph=http%3A%2F%2Fa", "text/turtle", TURTLE).await;
        assert_eq!(r.status, 400);
    }
}

on_every_backend! {
    /// The default graph (embedded), the whole dataset, and POST of a dataset or of triples to /store.
    async fn default_graph_and_dataset_requests(backend) {
        let server = TestServer::on(backend).await;
        // An engine's default graph is its own (Virtuoso's: the union of all its
        // graphs), not a graph of its own to replace (README, "What changes remotely").
        if backend == Backend::Embedded {
            assert_eq!(send(&server, reqwest::Method::PUT, "/store?default", "text/turtle", TURTLE).await.status, 204);
            let body = server.fetch("/store?default", "text/turtle").await.body;
            assert_eq!(graph(&body, RdfFormat::Turtle).len(), 4);
        }

        let trig = "<http://example.org/g9> { <http://example.org/s> <http://example.org/p> <http://example.org/o> }";
        assert_eq!(send(&server, reqwest::Method::POST, "/store", "application/trig", trig).await.status, 204);
        let all = server.fetch("/store", "application/n-quads").await;
        assert_eq!(all.status, 200);
        let dataset = dataset(&all.body, RdfFormat::NQuads);
        assert!(dataset.iter().any(|q| q.graph_name.to_string() == "<http://example.org/g9>"));

        let r = send(&server, reqwest::Method::POST, "/store", "text/turtle", TURTLE).await;
        assert_eq!(r.status, 201);
        let location = r.headers["location"].to_str().unwrap().to_owned();
        // The new graph's IRI, under /store/, served by direct identification.
        assert!(location.starts_with(&format!("{}/store/upload/", server.base)), "{location}");
        let named = server.count(&format!("SELECT * {{ GRAPH <{location}> {{ ?s ?p ?o }} }}")).await;
        assert_eq!(named, 4, "the Location is the graph's IRI");
        let fetched = server.call(server.client.get(&location).header("accept", "text/turtle")).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(graph(&fetched.body, RdfFormat::Turtle).len(), 4);

        assert_eq!(server.fetch("/store", "text/turtle").await.status, 406, "a dataset needs a quad format");
    }
}
