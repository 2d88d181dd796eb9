//! What a browser gets: pages for the endpoint, its description and VoID (RDF
//! clients still get RDF), and no link of ours that makes the browser download
//! a file it cannot show unless the link says "download".

use crate::common::*;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

async fn content_type(server: &TestServer, path: &str, accept: &str) -> String {
    let response = server.get(path, accept).await;
    assert_eq!(response.status(), 200, "{path} ({accept})");
    response.headers()["content-type"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_pages_and_rdf_clients_get_rdf() {
    let server = knowledge_graph_server().await;
    for (path, marker) in [
        ("/sparql", "id=\"query\""),
        ("/service-description", "Service description"),
        ("/.well-known/void", "Dataset description (VoID)"),
    ] {
        assert!(content_type(&server, path, BROWSER).await.starts_with("text/html"), "{path}");
        let page = server.get_text(path, BROWSER).await;
        assert!(page.contains(marker), "{path}: {page}");
        assert!(page.contains("id=\"site-search\""), "{path}: every page has the search box");
    }
    let void = server.get_text("/.well-known/void", BROWSER).await;
    assert!(void.contains("void:triples") && void.contains("download"), "{void}");
    let description = server.get_text("/service-description", BROWSER).await;
    assert!(description.contains("https://w3id.org/treaty-kg/search"), "the search feature is described");

    // RDF clients, and clients with no preference, still get RDF.
    for path in ["/sparql", "/service-description", "/.well-known/void"] {
        assert!(content_type(&server, path, "*/*").await.starts_with("text/turtle"), "{path}");
        assert!(content_type(&server, path, "application/rdf+xml").await.starts_with("application/rdf+xml"), "{path}");
    }
    let turtle = server.get_text("/service-description?format=ttl", BROWSER).await;
    let graph = graph(turtle.as_bytes(), oxigraph::io::RdfFormat::Turtle);
    assert!(graph.iter().any(|t| t.object.to_string() == "<https://w3id.org/treaty-kg/search>"), "{turtle}");
    assert!(content_type(&server, "/.well-known/void?format=jsonld", BROWSER).await.starts_with("application/ld+json"));
}

/// The links of an HTML page: (href, text), same-site ones only.
fn links(page: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<a ") {
        rest = &rest[start..];
        let Some(end) = rest.find("</a>") else { break };
        let anchor = &rest[..end];
        rest = &rest[end..];
        let Some(h) = anchor.find("href=\"") else { continue };
        let href = &anchor[h + 6..];
        let href = href[..href.find('"').unwrap_or(0)].replace("&amp;", "&");
        if !href.starts_with('/') || href.starts_with("//") {
            continue;
        }
        let tag_end = anchor.find('>').unwrap_or(0);
        let says_download = anchor[..tag_end].contains(" download") || anchor.to_lowercase().contains("download");
        let href = href.split('#').next().unwrap_or_default().to_owned();
        if !href.is_empty() {
            found.push((href, if says_download { "download".to_owned() } else { String::new() }));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_link_of_ours_downloads_what_a_browser_cannot_show_unless_it_says_so() {
    let server = knowledge_graph_server().await;
    server.search("q=warm+up").await;
    let shown = ["text/html", "image/svg+xml", "application/json", "text/plain", "text/css", "text/javascript"];
    let mut pages = vec![
        "/".to_owned(),
        "/editor".to_owned(),
        "/queries".to_owned(),
        "/queries/borders?state=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Festonia".to_owned(),
        "/page/state/latvia".to_owned(),
        "/page/quotation/vaiksnoras-explosives-at-home".to_owned(),
        "/ontology".to_owned(),
        "/search?q=latvia".to_owned(),
        "/fragments".to_owned(),
        "/.well-known/void".to_owned(),
        "/service-description".to_owned(),
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    let mut visited = 0;
    while let Some(page) = pages.pop() {
        let body = server.get_text(&page, BROWSER).await;
        for (href, says) in links(&body) {
            if !seen.insert(href.clone()) || seen.len() > 400 {
                continue;
            }
            let response = server.get(&href, BROWSER).await;
            let status = response.status();
            let kind =
                response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let attachment = response
                .headers()
                .get("content-disposition")
                .is_some_and(|v| v.to_str().unwrap().starts_with("attachment"));
            visited += 1;
            if !status.is_success() {
                problems.push(format!("{href} (linked from {page}): {status}"));
            } else if (attachment || !shown.iter().any(|s| kind.starts_with(s))) && says != "download" {
                problems.push(format!("{href} (linked from {page}): {kind} without saying download"));
            }
        }
    }
    assert!(visited > 40, "only {visited} links followed");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// The statement count in the home page's lead paragraph.
fn statements(page: &str) -> u64 {
    let lead = page.split("class=\"lead\"").nth(1).unwrap_or_else(|| panic!("the lead paragraph in {page}"));
    let digits: String =
        lead.split(" statements").next().unwrap().chars().rev().take_while(char::is_ascii_digit).collect();
    digits.chars().rev().collect::<String>().parse().expect("a statement count")
}

/// The home page's figures follow a write at once, with no "previous version" note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_counts_the_new_data_after_a_write() {
    let server = knowledge_graph_server().await;
    let before = statements(&server.get_text("/", BROWSER).await);
    let r = server
        .update("INSERT DATA { GRAPH <urn:home> { <urn:home:a> <urn:home:p> 1 . <urn:home:b> <urn:home:p> 2 } }")
        .await;
    assert_eq!(r.status(), 204);
    let page = server.get_text("/", BROWSER).await;
    assert_eq!(statements(&page), before + 2, "the count moved with the write");
    assert!(!page.contains("from the version before"), "no stale note when the summaries are ready");
}

/// The repository's data, and no write but the test's own (no search index).
async fn quiet_server() -> TestServer {
    TestServer::with(Options { sources: vec![repo("ontology"), repo("data")], search: false, ..Options::default() })
        .await
}

/// The data version the server is at now.
async fn data_version(server: &TestServer) -> String {
    let health: serde_json::Value = server.get("/health", "application/json").await.json().await.unwrap();
    health["data_version"].as_str().unwrap().to_owned()
}

/// After a write, every page summarising the whole dataset (VoID, the
/// ontology page, the timeline, the editor's vocabulary) shows the new data
/// version at once: the summaries are kept from each write's change, never
/// scanned again, so no page answers an older version or waits.
#[tokio::test]
async fn dataset_summaries_show_a_write_at_once_under_its_version() {
    let server = quiet_server().await;
    let summaries = [
        ("/.well-known/void", "text/turtle"),
        ("/.well-known/void", BROWSER),
        ("/ontology", BROWSER),
        ("/timeline.svg", "image/svg+xml"),
    ];
    let validators = |r: &reqwest::Response| {
        let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        (header("etag").expect("an ETag"), header("x-data-version").expect("an X-Data-Version"))
    };
    let mut before = Vec::new();
    for (path, accept) in summaries {
        let r = server.get(path, accept).await;
        assert_eq!(r.status(), 200, "{path} ({accept})");
        before.push(validators(&r));
    }
    let r = server.update("INSERT DATA { GRAPH <urn:summary> { <urn:summary:a> <urn:summary:p> 1 } }").await;
    assert_eq!(r.status(), 204);
    let now = data_version(&server).await;
    for ((path, accept), (etag, version)) in summaries.iter().zip(&before) {
        let r = server.get(path, accept).await;
        assert_eq!(r.status(), 200, "{path} ({accept})");
        let (new_etag, new_version) = validators(&r);
        assert_ne!(&new_etag, etag, "{path} ({accept}): a new ETag");
        assert_ne!(&new_version, version, "{path} ({accept}): a new data version");
        assert_eq!(new_version, now, "{path} ({accept}): the current one");
        let request = server.client.get(server.url(path)).header("accept", *accept);
        let revalidated = server.call(request.header("if-none-match", &new_etag)).await;
        assert_eq!(revalidated.status, 304, "{path} ({accept}): the new ETag validates");
    }
    let void = server.get_text("/.well-known/void", "application/n-triples").await;
    assert!(void.contains("urn:summary:p"), "the new property's partition is in VoID at once");
    let vocabulary: serde_json::Value =
        server.get("/editor/vocabulary.json", "application/json").await.json().await.unwrap();
    assert_eq!(vocabulary["data_version"], now.as_str(), "the vocabulary names the current version");
}

/// A VoID description first asked after a write, for a host or in a format no
/// one asked for before, is rendered at once from the current counts.
#[tokio::test]
async fn void_first_asked_after_a_write_is_current_at_once() {
    let server = quiet_server().await;
    let r = server.update("INSERT DATA { GRAPH <urn:void-later> { <urn:void-later:a> <urn:void-later:p> 1 } }").await;
    assert_eq!(r.status(), 204);
    let now = data_version(&server).await;
    let views = [("another host", "kg.example:8080", "text/turtle"), ("another format", "", "application/n-triples")];
    for (what, host, accept) in views {
        let request = server.client.get(server.url("/.well-known/void")).header("accept", accept);
        let request = if host.is_empty() { request } else { request.header("host", host) };
        let r = server.call(request).await;
        assert_eq!(r.status, 200, "{what}");
        assert_eq!(r.headers["x-data-version"].to_str().unwrap(), now, "{what}: the current version");
        let body = r.text();
        assert!(body.contains("urn:void-later:p"), "{what}: with the write's property");
        if !host.is_empty() {
            assert!(body.contains(&format!("<http://{host}/sparql>")), "{what}: for that host: {body}");
        }
    }
}

/// The home page features the first few of each kind by label, however many
/// the data holds, with a link to all of them (as fragments).
#[tokio::test]
async fn the_home_page_features_a_few_of_each_kind_and_links_to_the_rest() {
    let server = knowledge_graph_server().await;
    let treaties: String = (10..40)
        .map(|n| {
            format!(
                "<https://w3id.org/treaty-kg/id/treaty/t-{n}> a <https://w3id.org/treaty-kg/ontology#Treaty> ; \
                 <http://www.w3.org/2000/01/rdf-schema#label> \"Treaty {n}\"@en . "
            )
        })
        .collect();
    let r = server.update(&format!("INSERT DATA {{ GRAPH <urn:treaties> {{ {treaties} }} }}")).await;
    assert_eq!(r.status(), 204);
    let home = server.get_text("/", BROWSER).await;
    let listed = home.matches("href=\"/page/treaty/t-").count();
    assert!((1..=12).contains(&listed), "{listed} of the 30 new treaties listed");
    let all = "/fragments?predicate=http%3A%2F%2Fwww.w3.org%2F1999%2F02%2F22-rdf-syntax-ns%23type&amp;object=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fontology%23Treaty";
    assert!(home.contains(all), "a link to every treaty");
    let fragment = server.get_text(&all.replace("&amp;", "&"), BROWSER).await;
    assert!(fragment.contains("t-39"), "which lists them");
}

/// Generated quads behind the test below.
const GENERATED: u64 = 100_000;

/// On a store of generated quads, each of six writes is on the home page at
/// once: its count moves by exactly the write's statements (and what they
/// entail), with no note that the page is behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_on_the_home_page_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("generated.nq");
    treaty_kg::generate::generate(GENERATED, 7, std::fs::File::create(&data).unwrap()).unwrap();
    let server = TestServer::with(Options { sources: vec![data], search: false, ..Options::default() }).await;
    let mut count = statements(&server.get_text("/", BROWSER).await);
    for i in 0..6 {
        let write = format!("INSERT DATA {{ GRAPH <urn:busy> {{ <urn:busy:{i}> <urn:busy:p> {i} }} }}");
        assert_eq!(server.update(&write).await.status(), 204);
        let page = server.get_text("/", BROWSER).await;
        assert!(!page.contains("from the version before"), "visit {i}: current at once");
        assert_eq!(statements(&page), count + 1, "visit {i}: the write's one statement is counted");
        count += 1;
    }
}
