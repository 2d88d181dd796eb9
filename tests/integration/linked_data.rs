//! Linked data over HTTP: 303 flows, RDF documents in every format with their
//! provenance, HTML pages (well formed, every internal link answering 200, every
//! resource of the article reachable from the home page), the ontology, VoID
//! counts, the dump, Triple Pattern Fragments (paging, errors, a real TPF client)
//! and HTTP caching. Dereferencing, documents, the ontology and caching run on
//! every backend (`on_every_backend!`).

use crate::common::*;
use crate::on_every_backend;
use oxigraph::io::RdfFormat;
use oxigraph::model::dataset::CanonicalizationAlgorithm;
use oxigraph::model::{Dataset, Term};
use std::collections::{BTreeSet, VecDeque};
use std::io::Read;
use std::process::Command;

const ID: &str = "https://w3id.org/treaty-kg/id/";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

on_every_backend! {
    /// GET /id/… answers 303 to the page or the document chosen by Accept.
    async fn id_iris_redirect_by_accept(backend) {
        let server = knowledge_graph_on(backend).await;
        let client = no_redirects();
        for (accept, location) in [
            ("text/html,application/xhtml+xml,*/*;q=0.8", "/page/state/latvia"),
            ("text/turtle", "/data/state/latvia.ttl"),
            ("application/n-triples", "/data/state/latvia.nt"),
            ("application/rdf+xml", "/data/state/latvia.rdf"),
            ("application/ld+json", "/data/state/latvia.jsonld"),
            ("application/trig", "/data/state/latvia.trig"),
            ("application/n-quads;q=1, text/turtle;q=0.5", "/data/state/latvia.nq"),
        ] {
            let r = server.call(client.get(server.url("/id/state/latvia")).header("accept", accept)).await;
            assert_eq!(r.status, 303, "{accept}");
            assert_eq!(r.headers["location"], location, "{accept}");
            assert_eq!(r.headers["vary"], "Accept");
        }
        let r = server.call(client.get(server.url("/id/state/latvia")).header("accept", "image/png")).await;
        assert_eq!(r.status, 406);
        let r = server.call(client.get(server.url("/id/state/atlantis")).header("accept", "text/html")).await;
        assert_eq!(r.status, 404);
        assert!(r.text().contains("Nothing is known about this"));
        let r = server.call(client.get(server.url("/id/state/atlantis")).header("accept", "text/turtle")).await;
        assert_eq!(r.status, 404);
        let r = server.call(client.get(server.url("/data/state/latvia.xyz"))).await;
        assert_eq!(r.status, 404);
        assert!(r.text().contains("unknown document extension .xyz"));
        let r = server.call(client.get(server.url("/id/state/..%2F..%2Fetc"))).await;
        assert!(r.status == 400 || r.status == 404, "{}", r.status);
    }
}

on_every_backend! {
    /// The RDF document holds outgoing and incoming statements, neighbours' labels
    /// and types, and provenance; every format parses to the same graph.
    async fn documents_in_every_format_with_provenance(backend) {
        let server = knowledge_graph_on(backend).await;
        let turtle = server.fetch("/data/person/evika-silina.ttl", "").await;
        assert_eq!(turtle.status, 200);
        assert!(turtle.header("content-type").starts_with("text/turtle"));
        let reference = graph(&turtle.body, RdfFormat::Turtle);
        let text = reference.to_string();
        let silina = format!("<{ID}person/evika-silina>");
        for expected in [
            format!("{silina} <http://www.w3.org/2000/01/rdf-schema#label> \"Evika Siliņa\""),
            format!("{silina} <http://www.w3.org/2004/02/skos/core#altLabel> \"Evika Silina\""),
            format!("<{ID}post/prime-minister-of-latvia> <http://www.w3.org/ns/org#heldBy> {silina}"),
            format!("<{ID}quotation/silina-additional-capabilities> <https://schema.org/creator> {silina}"),
            format!("<{ID}post/prime-minister-of-latvia> <http://www.w3.org/2000/01/rdf-schema#label> \"Prime Minister of Latvia\"@en"),
            format!("{silina} <https://w3id.org/treaty-kg/ontology#assertedIn> <https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s10>"),
            format!("<https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s10> <http://www.w3.org/ns/prov#wasDerivedFrom> <{ID}sentence/ab8ee8623a11ff01-10>"),
            format!("<{ID}sentence/ab8ee8623a11ff01-10> <https://schema.org/text> \"Latvia’s Prime Minister Evika Silina confirmed a draft proposal will go to parliament next week.\"@en"),
        ] {
            assert!(text.contains(&expected), "missing {expected}");
        }
        for (ext, format) in
            [("nt", RdfFormat::NTriples), ("rdf", RdfFormat::RdfXml), ("jsonld", treaty_kg::conneg::json_ld())]
        {
            let r = server.fetch(&format!("/data/person/evika-silina.{ext}"), "").await;
            assert_eq!(r.status, 200, "{ext}");
            assert_isomorphic(&graph(&r.body, format), &reference);
        }
        // JSON-LD is compacted, with a usable @context.
        let json: serde_json::Value = server.fetch("/data/person/evika-silina.jsonld", "").await.json();
        assert_eq!(json["@context"]["rdfs"], "http://www.w3.org/2000/01/rdf-schema#");
        let node =
            json["@graph"].as_array().unwrap().iter().find(|n| n["id"] == format!("{ID}person/evika-silina")).unwrap();
        assert_eq!(node["rdfs:label"], "Evika Siliņa");
        // Stated, and inferred from the ontology's subclass axioms.
        let mut types: Vec<&str> = node["type"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        types.sort_unstable();
        assert_eq!(types, ["prov:Agent", "schema:Person", "tkg:Official"]);
        // TriG keeps each statement in its graph.
        let trig = server.fetch("/data/person/evika-silina.trig", "").await;
        let quads = dataset(&trig.body, RdfFormat::TriG);
        assert!(quads.iter().any(|q| q.subject.to_string() == silina
            && q.graph_name.to_string() == "<https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s10>"));
        // Conneg on the extension-less document URL.
        let r = server.fetch("/data/person/evika-silina", "application/n-triples").await;
        assert!(r.header("content-type").starts_with("application/n-triples"));
    }
}

/// Minimal well-formedness of our HTML: every non-void element closes in order.
fn check_well_formed(html: &str, url: &str) {
    const VOID: &[&str] =
        &["meta", "link", "input", "br", "img", "hr", "source", "wbr", "area", "base", "col", "embed", "track"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('!') {
            continue;
        }
        let end = rest.find('>').unwrap_or_else(|| panic!("{url}: unterminated tag"));
        let tag = &rest[..end];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().unwrap_or_else(|| panic!("{url}: </{name}> closes nothing"));
            assert_eq!(top, name.trim(), "{url}: <{top}> closed by </{name}>");
        } else {
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            if name == "script" || name == "style" {
                let close = format!("</{name}>");
                let at = rest.find(&close).unwrap_or_else(|| panic!("{url}: unclosed <{name}>"));
                rest = &rest[at + close.len()..];
                continue;
            }
            if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "{url}: unclosed elements {stack:?}");
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).map(|h| h.replace("&amp;", "&")).collect()
}

/// From the home page, every internal link answers 200, every page is well
/// formed, and every resource of the article's graph is reached.
#[tokio::test]
async fn pages_are_well_formed_linked_and_reach_every_resource() {
    let server = knowledge_graph_server().await;
    let mut queue: VecDeque<String> = VecDeque::from(["/".to_owned()]);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut pages = 0;
    while let Some(path) = queue.pop_front() {
        let path = path.split('#').next().unwrap().to_owned();
        if !seen.insert(path.clone()) {
            continue;
        }
        let r = server.fetch(&path, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8").await;
        assert_eq!(r.status, 200, "{path}");
        let is_html = r.header("content-type").starts_with("text/html");
        let body = r.text();
        if is_html && (path == "/" || path.starts_with("/page/") || path == "/ontology") {
            pages += 1;
            check_well_formed(&body, &path);
            for href in hrefs(&body) {
                if href.starts_with('/') && !seen.contains(href.split('#').next().unwrap()) {
                    queue.push_back(href);
                }
            }
        }
    }
    assert!(pages > 50, "{pages} pages crawled");
    let resources = server
        .table("SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } FILTER(STRSTARTS(STR(?s), 'https://w3id.org/treaty-kg/id/')) FILTER(STRSTARTS(STR(?g), 'https://w3id.org/treaty-kg/graph/article/')) }")
        .await;
    let unreached: Vec<&String> =
        resources.iter().map(|r| &r[0]).filter(|iri| !seen.contains(&format!("/page/{}", &iri[ID.len()..]))).collect();
    assert!(unreached.is_empty(), "not reachable from the home page: {unreached:?}");
    // The page of a person shows the source sentence of each fact and links to the formats.
    let page = server.fetch("/page/person/evika-silina", "").await.text();
    assert!(page
        .contains("Latvia’s Prime Minister Evika Silina confirmed a draft proposal will go to parliament next week."));
    assert!(page.contains("<link rel=\"alternate\" type=\"text/turtle\" href=\"/data/person/evika-silina.ttl\">"));
    assert!(page.contains("<script type=\"application/ld+json\">"));
    assert!(page.contains("Referred to by"));
}

on_every_backend! {
    /// The ontology: HTML documentation with an anchor and a usage count per term,
    /// and RDF with the owl:Ontology.
    async fn ontology_dereferences(backend) {
        let server = knowledge_graph_on(backend).await;
        let page = server.get_text("/ontology", "text/html").await;
        assert!(page.contains("<section id=\"Treaty\">"));
        assert!(page.contains("<section id=\"withdrawingState\">"));
        assert!(page.contains(">4 statements<"), "withdrawingState is used 4 times");
        assert!(page.contains("superclass of"));
        let ttl = server.fetch("/ontology", "text/turtle").await;
        let g = graph(&ttl.body, RdfFormat::Turtle);
        assert!(g.to_string().contains("<https://w3id.org/treaty-kg/ontology> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Ontology>"));
        let rdf = server.fetch("/ontology.rdf", "").await;
        assert_isomorphic(&graph(&rdf.body, RdfFormat::RdfXml), &g);
    }
}

fn number(term: &Term) -> u64 {
    match term {
        Term::Literal(l) => l.value().parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// VoID's counts equal the store's real counts.
#[tokio::test]
async fn void_counts_match_the_store() {
    let server = knowledge_graph_server().await;
    let r = server.fetch("/.well-known/void", "").await;
    assert_eq!(r.status, 200);
    let g = graph(&r.body, RdfFormat::Turtle);
    let void = |l: &str| oxigraph::model::NamedNode::new_unchecked(format!("http://rdfs.org/ns/void#{l}"));
    let dataset = oxigraph::model::NamedNode::new_unchecked(format!("{}/.well-known/void#dataset", server.base));
    let triples = number(&g.object_for_subject_predicate(&dataset, &void("triples")).unwrap().into_owned());
    let real = server.table("SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }").await;
    assert_eq!(triples.to_string(), real[0][0]);
    for (predicate, expected) in [
        ("sparqlEndpoint", format!("<{}/sparql>", server.base)),
        ("dataDump", format!("<{}/dump>", server.base)),
        ("uriSpace", "\"https://w3id.org/treaty-kg/id/\"".to_owned()),
    ] {
        assert_eq!(g.object_for_subject_predicate(&dataset, &void(predicate)).unwrap().to_string(), expected);
    }
    // Per graph.
    let sd_name = oxigraph::model::NamedNode::new_unchecked("http://www.w3.org/ns/sparql-service-description#name");
    let s09 =
        oxigraph::model::NamedNode::new_unchecked("https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s09");
    let subset = g.subject_for_predicate_object(&sd_name, &s09).unwrap();
    let n = number(&g.object_for_subject_predicate(subset, &void("triples")).unwrap().into_owned());
    let real = server.table("SELECT (COUNT(*) AS ?n) { GRAPH <https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s09> { ?s ?p ?o } }").await;
    assert_eq!(n.to_string(), real[0][0]);
    // A class partition.
    let class = void("class");
    let state = oxigraph::model::NamedNode::new_unchecked("https://w3id.org/treaty-kg/ontology#SovereignState");
    let part = g.subject_for_predicate_object(&class, &state).unwrap();
    assert_eq!(number(&g.object_for_subject_predicate(part, &void("entities")).unwrap().into_owned()), 10);
    assert!(g.to_string().contains("<http://rdfs.org/ns/void#vocabulary> <http://www.w3.org/ns/org#>"));

    // The statistics are computed once per version of the data: a write shows at once.
    let r = server
        .update("INSERT DATA { GRAPH <http://example.org/new> { <http://example.org/s> <http://example.org/p> 1 } }")
        .await;
    assert_eq!(r.status(), 204);
    let r = server.fetch("/.well-known/void", "").await;
    let g = graph(&r.body, RdfFormat::Turtle);
    let after = number(&g.object_for_subject_predicate(&dataset, &void("triples")).unwrap().into_owned());
    assert_eq!(after, triples + 1);
}

/// Thousands of graphs do not make VoID thousands of subsets: past the budget,
/// graphs are summarised by IRI prefix, the knowledge graph's own keep a subset
/// each, and every statement stays counted in exactly one subset.
#[tokio::test]
async fn void_summarises_many_graphs_by_prefix() {
    let server = knowledge_graph_server().await;
    // Two families: the larger summary is counted by difference, the other by its own count.
    let quads: String = (0..300)
        .map(|i| format!("GRAPH <http://example.org/batch/g{i}> {{ <http://example.org/s{i}> <http://example.org/p> {i} }} "))
        .chain((0..150).map(|i| {
            format!("GRAPH <http://example.org/other/g{i}> {{ <http://example.org/s{i}> <http://example.org/p> {i}, \"v{i}\" }} ")
        }))
        .collect();
    assert_eq!(server.update(&format!("INSERT DATA {{ {quads} }}")).await.status(), 204);
    let g = graph(server.get_text("/.well-known/void", "application/n-triples").await.as_bytes(), RdfFormat::NTriples);
    let void = |l: &str| oxigraph::model::NamedNode::new_unchecked(format!("http://rdfs.org/ns/void#{l}"));
    let dataset = oxigraph::model::NamedNode::new_unchecked(format!("{}/.well-known/void#dataset", server.base));
    let subsets: Vec<_> = g.objects_for_subject_predicate(&dataset, &void("subset")).collect();
    assert!(subsets.len() <= 100, "{} subsets", subsets.len());
    assert_eq!(void_triples_titled(&g, "300 named graphs whose names start with http://example.org/batch/"), 300);
    assert_eq!(void_triples_titled(&g, "150 named graphs whose names start with http://example.org/other/"), 300);
    let sd_name = oxigraph::model::NamedNode::new_unchecked("http://www.w3.org/ns/sparql-service-description#name");
    let s09 =
        oxigraph::model::NamedNode::new_unchecked("https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s09");
    assert!(g.subject_for_predicate_object(&sd_name, &s09).is_some(), "the article's graphs keep their subsets");
    let (in_subsets, total) = void_subsets_and_dataset(&g, &dataset);
    assert_eq!(in_subsets, total);
}

/// Graphs named by blank nodes (which a TriG file may hold) have no name to
/// list: VoID counts them in a rest subset, so the subsets still add up.
#[tokio::test]
async fn void_counts_graphs_without_a_name_in_a_rest_subset() {
    let server = knowledge_graph_server().await;
    let trig = "_:unnamed { <http://example.org/s> <http://example.org/p> 1, 2 }";
    let r = server.send_rdf(reqwest::Method::POST, "/store", "application/trig", trig.to_owned()).await;
    assert_eq!(r.status(), 204);
    let g = graph(server.get_text("/.well-known/void", "application/n-triples").await.as_bytes(), RdfFormat::NTriples);
    let dataset = oxigraph::model::NamedNode::new_unchecked(format!("{}/.well-known/void#dataset", server.base));
    let (in_subsets, total) = void_subsets_and_dataset(&g, &dataset);
    assert_eq!(in_subsets, total);
    assert_eq!(void_triples_titled(&g, "1 more named graphs, not listed by name"), 2);
}

/// The dump is gzip-compressed N-Quads that, loaded into a fresh store, is
/// isomorphic to the served dataset (less the server's bookkeeping graph).
#[tokio::test]
async fn dump_reloads_to_an_isomorphic_dataset() {
    let server = knowledge_graph_server().await;
    let r = server.fetch("/dump", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert!(r.header("content-type").starts_with("application/n-quads"));
    let mut nquads = Vec::new();
    flate2::read::GzDecoder::new(r.body.as_slice()).read_to_end(&mut nquads).unwrap();
    let fresh = oxigraph::store::Store::new().unwrap();
    fresh.load_from_slice(RdfFormat::NQuads, &nquads).unwrap();
    let reloaded: Dataset = fresh.iter().map(|q| q.unwrap()).collect();
    let served = server.dataset().await;
    let (mut a, mut b) = (reloaded, served);
    a.canonicalize(CanonicalizationAlgorithm::Unstable);
    b.canonicalize(CanonicalizationAlgorithm::Unstable);
    assert_eq!(a, b);
    let trig = server.fetch("/dump", "application/trig").await;
    assert!(trig.header("content-type").starts_with("application/trig"));
}

/// Follows hydra:next from the first page; returns every data triple seen, and
/// the totalItems of the first page.
async fn all_pages(server: &TestServer, first: &str) -> (Vec<String>, u64) {
    let mut url = server.url(first);
    let mut triples = Vec::new();
    let mut total = None;
    loop {
        let r = server.call(server.client.get(&url).header("accept", "application/trig")).await;
        assert_eq!(r.status, 200, "{url}");
        let quads = dataset(&r.body, RdfFormat::TriG);
        let mut next = None;
        for q in quads.iter() {
            if q.graph_name.is_default_graph() {
                triples.push(format!("{} {} {}", q.subject, q.predicate, q.object));
            } else if q.predicate.as_str() == "http://www.w3.org/ns/hydra/core#next" {
                next = Some(q.object.to_string().trim_matches(['<', '>']).to_owned());
            } else if q.predicate.as_str() == "http://www.w3.org/ns/hydra/core#totalItems" && total.is_none() {
                total = Some(number(&q.object.into_owned()));
            }
        }
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    (triples, total.unwrap())
}

/// TPF paging covers every matching triple exactly once, with the right count.
#[tokio::test]
async fn fragments_page_through_every_triple_once() {
    let server = knowledge_graph_server().await;
    let (triples, total) =
        all_pages(&server, "/fragments?predicate=http%3A%2F%2Fwww.w3.org%2F2000%2F01%2Frdf-schema%23label").await;
    let unique: BTreeSet<&String> = triples.iter().collect();
    assert_eq!(unique.len(), triples.len(), "no triple twice");
    assert_eq!(triples.len() as u64, total);
    let expected = server
        .table(
            "SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?o { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?o } }",
        )
        .await;
    assert_eq!(total.to_string(), expected[0][0]);
    assert!(total > 100, "more than one page");

    let (all, total) = all_pages(&server, "/fragments").await;
    assert_eq!(all.len() as u64, total);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());

    // An object literal in the explicit representation.
    let text = server.fetch("/fragments?object=%22Latvia%22%40en", "application/n-triples").await.text();
    assert!(text.contains(&format!("<{ID}state/latvia> <http://www.w3.org/2000/01/rdf-schema#label> \"Latvia\"@en .")));
    for (accept, ok) in [("text/turtle", 200), ("application/ld+json", 200), ("text/html", 200), ("image/png", 406)] {
        let r =
            server.fetch("/fragments?subject=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Flatvia", accept).await;
        assert_eq!(r.status, ok, "{accept}");
    }
    assert_eq!(server.fetch("/fragments?subject=not%20an%20iri", "").await.status, 400);
    assert_eq!(server.fetch("/fragments?object=%22unterminated", "").await.status, 400);
    assert_eq!(server.fetch("/fragments?page=0", "").await.status, 400);
    let r = server.fetch("/fragments?page=999", "").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("past the end"));
}

/// A real TPF client (Comunica) evaluates a two-pattern query through /fragments
/// and gets the same answers as /sparql.
#[tokio::test]
async fn a_tpf_client_answers_like_the_sparql_endpoint() {
    let server = knowledge_graph_server().await;
    let client = repo_may_not_exist(".ci/comunica/node_modules/.bin/comunica-sparql");
    assert!(
        client.exists(),
        "{} is missing: run `bash .ci/setup.sh` (installs @comunica/query-sparql@4)",
        client.display()
    );
    let query = "SELECT ?s ?label WHERE { ?s <https://w3id.org/treaty-kg/ontology#borders> <https://w3id.org/treaty-kg/id/state/russia> . ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }";
    let fragments = server.url("/fragments");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(client).arg(fragments).arg(query).args(["-t", "application/sparql-results+xml"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let via_tpf: Vec<Vec<String>> = solutions(&out.stdout, oxigraph::sparql::results::QueryResultsFormat::Xml)
        .into_iter()
        .map(|row| row.into_iter().rev().map(|(_, t)| plain(&t)).collect())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(via_tpf, server.table(query).await);
    assert_eq!(via_tpf.len(), 8);
}

on_every_backend! {
    /// ETag and Last-Modified on linked-data responses; conditional requests get
    /// 304; a write changes the validators.
    async fn http_caching_of_linked_data(backend) {
        let server = knowledge_graph_on(backend).await;
        let r = server.fetch("/data/state/latvia.ttl", "").await;
        let etag = r.headers["etag"].to_str().unwrap().to_owned();
        let modified = r.headers["last-modified"].to_str().unwrap().to_owned();
        let again =
            server.call(server.client.get(server.url("/data/state/latvia.ttl")).header("if-none-match", &etag)).await;
        assert_eq!(again.status, 304);
        let since =
            server.call(server.client.get(server.url("/page/state/latvia")).header("if-modified-since", &modified)).await;
        assert_eq!(since.status, 304);
        for path in ["/.well-known/void", "/fragments", "/ontology"] {
            let r = server.fetch(path, "").await;
            let tag = r.headers["etag"].to_str().unwrap().to_owned();
            let body = r.text();
            if path == "/.well-known/void" {
                // The graphs are found and counted over every backend.
                assert!(body.contains("<https://w3id.org/treaty-kg/graph/data/background>"), "{body}");
            }
            let r = server.call(server.client.get(server.url(path)).header("if-none-match", &tag)).await;
            assert_eq!(r.status, 304, "{path}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let write = server.update("INSERT DATA { GRAPH <http://example.org/g> { <https://w3id.org/treaty-kg/id/state/latvia> <http://example.org/p> 1 } }").await;
        assert_eq!(write.status(), 204);
        let after =
            server.call(server.client.get(server.url("/data/state/latvia.ttl")).header("if-none-match", &etag)).await;
        assert_eq!(after.status, 200, "a write invalidates the ETag");
        assert_ne!(after.headers["last-modified"].to_str().unwrap(), modified);
        assert!(after.text().contains("<http://example.org/p> 1"));
    }
}

/// The `treaty_kg_linked_data_renders` counter of `/metrics`.
async fn renders(server: &TestServer) -> u64 {
    let metrics = server.get_text("/metrics", "text/plain").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("treaty_kg_linked_data_renders_total "))
        .unwrap_or_else(|| panic!("no render counter in {metrics}"))
        .trim()
        .parse()
        .unwrap()
}

/// Pages, documents and fragments are rendered once per data version: eight
/// concurrent first views share one rendering, later views read no store, and a
/// write makes the next view render afresh (and show the write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_once_per_data_version() {
    let server = knowledge_graph_server().await;
    for (path, accept) in [
        ("/page/state/latvia", "text/html"),
        ("/data/state/latvia.ttl", "text/turtle"),
        ("/fragments?subject=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Flatvia", "text/turtle"),
    ] {
        let before = renders(&server).await;
        let views = (0..8).map(|_| server.get_text(path, accept));
        let bodies = futures::future::join_all(views).await;
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{path}: concurrent views differ");
        assert_eq!(renders(&server).await, before + 1, "{path}: eight concurrent first views, one rendering");
        for _ in 0..5 {
            assert_eq!(server.get_text(path, accept).await, bodies[0]);
        }
        assert_eq!(renders(&server).await, before + 1, "{path}: repeat views are served from memory");
    }
    let r = server
        .update("INSERT DATA { GRAPH <http://example.org/g> { <https://w3id.org/treaty-kg/id/state/latvia> <http://example.org/motto> \"Tevzemei\" } }")
        .await;
    assert_eq!(r.status(), 204);
    let before = renders(&server).await;
    let page = server.get_text("/page/state/latvia", "text/html").await;
    assert!(page.contains("Tevzemei"), "the page after a write shows it");
    assert_eq!(renders(&server).await, before + 1);
}

/// A hub's page shows the first values of each property, how many there are,
/// and a link to all of them as fragments; its RDF document keeps them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_pages_cap_each_property_and_link_to_the_rest() {
    let server = TestServer::start().await;
    let hub = "https://w3id.org/treaty-kg/id/state/hub";
    let mut data = String::new();
    for i in 0..120 {
        data.push_str(&format!("<https://w3id.org/treaty-kg/id/state/s{i}> <http://example.org/borders> <{hub}> .\n"));
    }
    for i in 0..60 {
        data.push_str(&format!("<{hub}> <http://example.org/tag> \"tag {i}\" .\n"));
    }
    data.push_str(&format!("<{hub}> <http://www.w3.org/2000/01/rdf-schema#label> \"Hub\" .\n"));
    assert_eq!(
        server.update(&format!("INSERT DATA {{ GRAPH <http://example.org/hub> {{ {data} }} }}")).await.status(),
        204
    );

    let page = server.get_text("/page/state/hub", "text/html").await;
    assert_eq!(page.matches("<td><span class=\"literal\">tag ").count(), 50, "50 of the 60 tags");
    assert!(page.contains("Showing 50 of 60"), "{page}");
    assert!(page.contains("Showing 50 of 120"), "{page}");
    let subject = "https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Fhub";
    let incoming = format!("/fragments?predicate=http%3A%2F%2Fexample.org%2Fborders&amp;object={subject}");
    assert!(page.contains(&incoming), "{page}");
    assert!(page.contains(&format!("/fragments?subject={subject}&amp;predicate=http%3A%2F%2Fexample.org%2Ftag")));
    // The fragment behind the link holds all 120 (its count says so).
    let fragment = server.get_text(&incoming.replace("&amp;", "&"), "text/turtle").await;
    assert!(fragment.contains("120"), "{fragment}");

    let document = server.get_text("/data/state/hub.nt", "application/n-triples").await;
    assert_eq!(document.lines().filter(|l| l.contains("example.org/tag")).count(), 60, "documents are not capped");
}
