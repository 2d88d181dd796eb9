//! The web interface in a real browser: headless Chromium driven by
//! playwright-core (tests/browser/ui.mjs) against a real server. Screenshots of
//! each step are kept in target/screenshots/.

use crate::common::*;
use std::process::Command;

#[tokio::test]
async fn the_web_interface_works_in_a_real_browser() {
    let server = knowledge_graph_server().await;
    let script = repo("tests/browser/ui.mjs");
    assert!(
        repo_may_not_exist("tests/browser/node_modules/playwright-core").exists(),
        "playwright-core is missing: run `bash .ci/setup.sh` (installs it and Debian's chromium)"
    );
    let shots = repo_may_not_exist("target/screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let base = server.base.clone();
    let out =
        tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(base).arg(shots).output().unwrap())
            .await
            .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(out.status.success(), "browser test failed:\n{report}");
    assert!(report.contains("ok - no page errors"), "{report}");
}

/// Runs tests/browser/pictures.mjs against `server` on `pages`; its report.
async fn pictures_clear(server: &TestServer, pages: &[&str]) -> String {
    let base = server.base.clone();
    let pages: Vec<String> = pages.iter().map(|p| (*p).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(repo("tests/browser/pictures.mjs")).arg(base).args(pages).output().unwrap()
    })
    .await
    .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "labels overlap:\n{report}");
    report
}

/// Every picture's labels are clear of each other, as Chromium lays them out:
/// on our data, and with a hundred more events crowded into one year.
#[tokio::test]
async fn no_two_labels_of_a_picture_overlap() {
    let server = knowledge_graph_server().await;
    let pages = ["/", "/?date=2025-07-01", "/page/state/latvia", "/page/state/russia", "/page/person/evika-silina"];
    println!("{}", pictures_clear(&server, &pages).await);

    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.trig");
    let mut text = String::from(
        "@prefix tkg: <https://w3id.org/treaty-kg/ontology#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n\
         @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n<urn:crowd> {\n",
    );
    for i in 0..100 {
        let (month, day) = (1 + i % 12, 1 + (i * 7) % 28);
        let words = ["Talks", "A vote on the law", "A statement by the ministers of defence", "Notification"][i % 4];
        text.push_str(&format!(
            "<urn:crowd:{i}> a tkg:Event ; rdfs:label \"{words} number {i}\"@en ; tkg:date \"2025-{month:02}-{day:02}\"^^xsd:date .\n"
        ));
    }
    text.push_str("}\n");
    std::fs::write(&events, text).unwrap();
    let crowded = TestServer::with(Options {
        sources: vec![repo("ontology"), repo("data"), events],
        queries_dir: Some(repo("queries")),
        ..Options::default()
    })
    .await;
    let report = pictures_clear(&crowded, &["/", "/timeline.svg"]).await;
    println!("{report}");
    let home = crowded.get_text("/", "text/html").await;
    assert!(home.matches("class=\"timeline-label\"").count() >= 110, "every event labelled");
}
