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

/// The home page's figures follow a write: summaries computed within the home
/// page's patience are the new version's, with no "previous version" note (the
/// note, when they are not ready in time, is tested on the memo itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_counts_the_new_data_after_a_write() {
    let server = knowledge_graph_server().await;
    let statements = |page: &str| -> u64 {
        let lead = page.split("class=\"lead\"").nth(1).expect("the lead paragraph");
        let digits: String =
            lead.split(" statements").next().unwrap().chars().rev().take_while(char::is_ascii_digit).collect();
        digits.chars().rev().collect::<String>().parse().expect("a statement count")
    };
    let before = statements(&server.get_text("/", BROWSER).await);
    let r = server
        .update("INSERT DATA { GRAPH <urn:home> { <urn:home:a> <urn:home:p> 1 . <urn:home:b> <urn:home:p> 2 } }")
        .await;
    assert_eq!(r.status(), 204);
    let page = server.get_text("/", BROWSER).await;
    assert_eq!(statements(&page), before + 2, "the count (of statements in named graphs) moved with the write");
    assert!(!page.contains("from the version before"), "no stale note when the summaries are ready");
}

/// The repository's data with no patience for a new version's summaries
/// (`--summary-patience-ms 0`), and no write but the test's own (no inferred
/// graph, whose regeneration would be a third version; no search index).
async fn impatient_server() -> TestServer {
    impatient_server_with(Vec::new()).await
}

/// [`impatient_server`], also serving the `extra` source files.
async fn impatient_server_with(extra: Vec<std::path::PathBuf>) -> TestServer {
    TestServer::with(Options {
        sources: [repo("ontology"), repo("data")].into_iter().chain(extra).collect(),
        summary_patience: std::time::Duration::ZERO,
        inference: false,
        search: false,
        ..Options::default()
    })
    .await
}

/// After a write, a page summarising the whole dataset (VoID, the ontology page,
/// the timeline) that is not ready within `--summary-patience-ms` is answered
/// from the previous version: with that version's ETag and `X-Data-Version`
/// (so no cache takes it for the current one) and, in HTML, a note saying so.
/// The new version's rendering goes on and answers the next views.
#[tokio::test]
async fn dataset_summaries_answer_the_previous_version_while_the_new_one_renders() {
    let server = impatient_server().await;
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
    for ((path, accept), (etag, version)) in summaries.iter().zip(&before) {
        let r = server.get(path, accept).await;
        assert_eq!(r.status(), 200, "{path} ({accept})");
        assert_eq!(&validators(&r), &(etag.clone(), version.clone()), "{path} ({accept}): the previous version's");
        let body = r.text().await.unwrap();
        if *accept == BROWSER {
            assert!(body.contains("from the version before"), "{path}: the page says it is not current");
            assert!(body.contains("id=\"site-search\""), "{path}: the rest of the page is intact");
        }
        let revalidated = server.client.get(server.url(path)).header("accept", *accept).header("if-none-match", etag);
        assert!([200, 304].contains(&revalidated.send().await.unwrap().status().as_u16()));
        // The new version's rendering went on: it answers within a while.
        let mut fresh = None;
        for _ in 0..100 {
            let r = server.get(path, accept).await;
            let now = validators(&r);
            if now.0 != *etag {
                fresh = Some((now, r.text().await.unwrap()));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let ((_, new_version), body) = fresh.unwrap_or_else(|| panic!("{path} ({accept}): still the old version"));
        assert_ne!(&new_version, version, "{path}: the new ETag names the new data version");
        assert!(!body.contains("from the version before"), "{path}: no note once current");
    }
}

/// A VoID description first asked after a write, for a host or in a format no
/// one asked for before it, has no rendering of its own from the previous
/// version. It does not wait for the new statistics' full scan (a minute at
/// 10M quads): past `--summary-patience-ms` it is rendered from the previous
/// version's statistics, under that version's validators, for that host. The
/// editor's vocabulary does the same. The new version follows for each.
#[tokio::test]
async fn void_first_asked_after_a_write_is_rendered_from_the_previous_statistics() {
    // Enough statements that the new version's statistics take longer to scan
    // than the few requests below take to be answered (with the repository's
    // data alone the scan sometimes won that race).
    let dir = tempfile::tempdir().unwrap();
    let bulk = dir.path().join("bulk.nt");
    let lines: String = (0..100_000).map(|i| format!("<urn:bulk:{i}> <urn:bulk:p> \"{i}\" .\n")).collect();
    std::fs::write(&bulk, lines).unwrap();
    let server = impatient_server_with(vec![bulk]).await;
    let version = |r: &reqwest::Response| r.headers()["x-data-version"].to_str().unwrap().to_owned();
    let before = version(&server.get("/.well-known/void", "text/turtle").await);
    let r = server.update("INSERT DATA { GRAPH <urn:void-later> { <urn:void-later:a> <urn:void-later:p> 1 } }").await;
    assert_eq!(r.status(), 204);
    let vocabulary = || async {
        let r = server.get("/editor/vocabulary.json", "application/json").await;
        r.json::<serde_json::Value>().await.unwrap()["data_version"].as_str().unwrap().to_owned()
    };
    assert_eq!(vocabulary().await, before, "the vocabulary of the version before, at once");
    // (what, Host, Accept): neither was asked for before the write.
    let views = [("another host", "kg.example:8080", "text/turtle"), ("another format", "", "application/n-triples")];
    let view = |host: &str, accept: &str| {
        let request = server.client.get(server.url("/.well-known/void")).header("accept", accept);
        let request = if host.is_empty() { request } else { request.header("host", host) };
        async move { request.send().await.unwrap() }
    };
    for (what, host, accept) in views {
        let r = view(host, accept).await;
        assert_eq!(r.status(), 200, "{what}");
        assert_eq!(version(&r), before, "{what}: the previous version's, at once");
        let body = r.text().await.unwrap();
        if !host.is_empty() {
            assert!(body.contains(&format!("<http://{host}/sparql>")), "{what}: for that host: {body}");
        }
    }
    for (what, host, accept) in views {
        let mut fresh = false;
        for _ in 0..100 {
            if version(&view(host, accept).await) != before {
                fresh = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(fresh, "{what}: the new version follows");
    }
    assert_ne!(vocabulary().await, before, "and the vocabulary's");
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

/// Generated quads behind the scan test below: enough that the first summary
/// scans after a write outlast the test's six writes and visits.
const GENERATED: u64 = 100_000;

/// Writes during a summary's scan cost one more scan, not one each: the home
/// page visited after each of six writes starts the summaries of the newest
/// version, and the versions asked while the first scans run share one scan
/// of the last (`treaty_kg_summary_scans_total` counts them). The page then
/// ends current. The scans take turns at one gate, in no set order: the one
/// that goes first after the first write (the events' scan of these quads takes
/// about 40 ms) can end between two writes, and the next visit then starts one
/// for its version, which queues behind the others' long scans while the
/// remaining writes land. So at most three per summary; one per write, as the
/// memo before `f6df32d` did, is six.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_summary_scans_share_one_more_scan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("generated.nq");
    treaty_kg::generate::generate(GENERATED, 7, std::fs::File::create(&data).unwrap()).unwrap();
    let server = TestServer::with(Options {
        sources: vec![data],
        summary_patience: std::time::Duration::ZERO,
        inference: false,
        search: false,
        ..Options::default()
    })
    .await;
    let summaries = ["statistics", "sources", "featured", "events"];
    let scans = |name: &str| format!("treaty_kg_summary_scans_total{{summary=\"{name}\"}}");
    let mut before = Vec::new();
    for name in summaries {
        before.push(server.counter(&scans(name)).await);
    }
    assert!(before.iter().all(|n| *n == 1), "each summary scanned once at start: {before:?}");
    let started = std::time::Instant::now();
    for i in 0..6 {
        let write = format!("INSERT DATA {{ GRAPH <urn:busy> {{ <urn:busy:{i}> <urn:busy:p> {i} }} }}");
        assert_eq!(server.update(&write).await.status(), 204);
        let page = server.get_text("/", BROWSER).await;
        assert!(page.contains("from the version before"), "visit {i}: the previous version's, at once");
    }
    let writing = started.elapsed();
    let mut current = false;
    for _ in 0..300 {
        if !server.get_text("/", BROWSER).await.contains("from the version before") {
            current = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(current, "the home page ends current");
    let scanning = started.elapsed();
    for (name, before) in summaries.iter().zip(before) {
        let ran = server.counter(&scans(name)).await - before;
        assert!(
            (1..=3).contains(&ran),
            "{name}: {ran} scans for six versions (writes and visits took {writing:?}, all scans {scanning:?})"
        );
    }
}
