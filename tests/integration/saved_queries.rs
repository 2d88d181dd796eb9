//! Saved queries over HTTP: every query of queries/ with its exact answer on
//! data/, the catalogue (JSON, RDF), sources, OpenAPI (validated by a real
//! validator), typed parameters and their errors, caching with ETags, truncation,
//! hot reload, metrics, the CLI, and injection-proof parameters (proptest).

use crate::common::*;
use crate::on_every_backend;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const ID: &str = "https://w3id.org/treaty-kg/id/";

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn run(server: &TestServer, path: &str) -> Reply {
    server.fetch(path, "application/sparql-results+json").await
}

async fn rows_of(server: &TestServer, path: &str) -> Vec<Vec<String>> {
    let r = run(server, path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    results_table(&r.body)
}

fn s(rows: &[&[&str]]) -> Vec<Vec<String>> {
    crate::common::rows(rows)
}

on_every_backend! {
    /// Every saved query answers exactly this on data/ (and every query is pinned
/// here), from the embedded store and from both engines.
    async fn every_saved_query_has_its_pinned_answer(backend) {
        let server = knowledge_graph_on(backend).await;
        let ottawa = format!("{ID}treaty/ottawa-convention");
        let st = |name: &str| format!("{ID}state/{name}");
        let nato = format!("{ID}organization/nato");
        let announced = |state: &str, label: &str| {
            vec![ottawa.clone(), st(state), label.to_owned(), "announced".into(), "Tuesday".into(), "2025-03-18".into()]
        };
        let dated = |text: &str, sentence: &str| vec![format!("{ID}person/raimundas-vaiksnoras"), text.to_owned(), sentence.to_owned(), "2025-03-18".to_owned(), "week of the given day".to_owned()];
        let sentence9 = "Withdrawal to the treaty requires parliamentary approval in Poland, Lithuania, and Estonia.";
        let cases: Vec<(&str, String, Vec<Vec<String>>)> = vec![
            (
                "withdrawals",
                String::new(),
                {
                    let mut r = vec![
                        announced("estonia", "Estonia"),
                        vec![ottawa.clone(), st("finland"), "Finland".into(), "announced".into(), "1 April 2025".into(), "2025-04-01".into()],
                        announced("latvia", "Latvia"),
                        announced("lithuania", "Lithuania"),
                        announced("poland", "Poland"),
                        vec![ottawa.clone(), st("ukraine"), "Ukraine".into(), "decided by the executive".into(), String::new(), "2025-06-29".into()],
                    ];
                    r.sort();
                    r
                },
            ),
            (
                "treaty-prohibitions",
                format!("treaty={}", enc(&ottawa)),
                ["production", "stockpiling", "transfer", "use"].iter().map(|a| vec![ottawa.clone(), (*a).into(), "anti-personnel mine".into()]).collect(),
            ),
            (
                "officials",
                format!("state={}", enc(&st("latvia"))),
                vec![vec![st("latvia"), format!("{ID}person/evika-silina"), "Evika Siliņa".into(), "Prime Minister of Latvia".into(), "Government of Latvia".into(), "2023-09-15".into()]],
            ),
            (
                "quotations-by-person",
                format!("person={}", enc(&format!("{ID}person/raimundas-vaiksnoras"))),
                vec![dated(
                    "Talks and discussions have been going on since the very beginning of the full-scale war in Ukraine—about having the means, especially for the production of explosives, at home",
                    "“Talks and discussions have been going on since the very beginning of the full-scale war in Ukraine—about having the means, especially for the production of explosives, at home,” said Lithuania’s Chief of Defence Raimundas Vaiksnoras.",
                )],
            ),
            (
                "threats",
                String::new(),
                s(&[
                    &["Russia's aggression and its ongoing threat to the Euro-Atlantic community", "Russia", "Joint statement of Poland, Lithuania, Latvia and Estonia on withdrawing from the Ottawa Convention"],
                    &["growing security threats from Russia", "Russia", "Announcement by Poland, Lithuania, Latvia and Estonia of their withdrawal from the Ottawa Convention"],
                    &["military threats to NATO member states bordering Russia and Belarus", "", "Joint statement of Poland, Lithuania, Latvia and Estonia on withdrawing from the Ottawa Convention"],
                ]),
            ),
            (
                "parliamentary-approval",
                String::new(),
                ["Estonia", "Lithuania", "Poland"].iter().map(|n| vec![ottawa.clone(), (*n).into(), format!("Parliament of {n}"), sentence9.into()]).collect(),
            ),
            (
                "alliance-members-bordering",
                format!("neighbour={}", enc(&st("belarus"))),
                [("latvia", "Latvia"), ("lithuania", "Lithuania"), ("poland", "Poland")].iter().map(|(i, n)| vec![nato.clone(), st("belarus"), st(i), (*n).into()]).collect(),
            ),
            (
                "timeline",
                "from=2020-01-01&to=2024-12-31".into(),
                vec![vec!["2020-01-01".into(), "2024-12-31".into(), format!("{ID}event/russian-invasion-of-ukraine"), "Russia's invasion of Ukraine".into(), "2022-02-24".into(), "2022".into()]],
            ),
            (
                "provenance",
                format!("resource={}", enc(&format!("{ID}requirement/parliamentary-approval-estonia-ottawa-convention-withdrawal"))),
                {
                    let r = format!("{ID}requirement/parliamentary-approval-estonia-ottawa-convention-withdrawal");
                    let g = "https://w3id.org/treaty-kg/graph/article/ab8ee8623a11ff01/s09".to_owned();
                    let src = format!("{ID}sentence/ab8ee8623a11ff01-09");
                    let mut v = vec![
                        vec![r.clone(), "http://www.w3.org/1999/02/22-rdf-syntax-ns#type".into(), "https://w3id.org/treaty-kg/ontology#Requirement".into(), g.clone(), src.clone(), sentence9.into()],
                        vec![r.clone(), "http://www.w3.org/2000/01/rdf-schema#label".into(), "Parliamentary approval of Estonia's withdrawal from the Ottawa Convention".into(), g.clone(), src.clone(), sentence9.into()],
                        vec![r, "https://w3id.org/treaty-kg/ontology#approvingBody".into(), format!("{ID}organization/parliament-of-estonia"), g, src, sentence9.into()],
                    ];
                    v.sort();
                    v
                },
            ),
            (
                "treaties-of-state",
                format!("state={}&date=2025-07-01", enc(&st("poland"))),
                vec![vec![
                    st("poland"), "2025-07-01".into(), ottawa.clone(), "Ottawa Convention".into(), "party".into(), "2013-06-01".into(),
                    format!("{ID}withdrawal/poland-ottawa-convention"), "passed by the lower house".into(), "2025-06-25".into(),
                ]],
            ),
            (
                "plans",
                format!("state={}", enc(&st("latvia"))),
                s(&[
                    &[&st("latvia"), "Latvia", "Domestic landmine production in Latvia", "production", "under consideration", "landmine"],
                    &[&st("latvia"), "Latvia", "increased defence spending", "defence spending", "ongoing", ""],
                    &[&st("latvia"), "Latvia", "increased military aid to Ukraine", "military aid", "ongoing", ""],
                ]),
            ),
            (
                "withdrawal-status",
                "date=2025-07-01".into(),
                {
                    let notified = |state: &str| vec!["2025-07-01".to_owned(), state.to_owned(), "Ottawa Convention".into(), "notified".into(), "2025-06-27".into(), format!("{state} notifies the UN Secretary-General of its withdrawal from the Ottawa Convention"), st(&state.to_lowercase())];
                    vec![
                        notified("Estonia"),
                        vec!["2025-07-01".into(), "Finland".into(), "Ottawa Convention".into(), "approved by parliament".into(), "2025-06-19".into(), "Finland's parliament approves the withdrawal from the Ottawa Convention".into(), st("finland")],
                        notified("Latvia"),
                        notified("Lithuania"),
                        vec!["2025-07-01".into(), "Poland".into(), "Ottawa Convention".into(), "passed by the lower house".into(), "2025-06-25".into(), "The Sejm passes Poland's law on withdrawing from the Ottawa Convention".into(), st("poland")],
                        vec!["2025-07-01".into(), "Ukraine".into(), "Ottawa Convention".into(), "decided by the executive".into(), "2025-06-29".into(), "Decree 441/2025: the President of Ukraine enacts the decision to withdraw from the Ottawa Convention".into(), st("ukraine")],
                    ]
                },
            ),
            (
                "search",
                "text=PARLIAMENT%20of".into(),
                ["estonia", "finland", "latvia", "lithuania", "poland"]
                    .iter()
                    .map(|i| {
                        let name = format!("{}{}", i[..1].to_uppercase(), &i[1..]);
                        vec!["PARLIAMENT of".into(), format!("{ID}organization/parliament-of-{i}"), format!("Parliament of {name}")]
                    })
                    .collect(),
            ),
            (
                "nato-accession",
                String::new(),
                s(&[&["Estonia", "2004-03-29"], &["Finland", "2023-04-04"], &["Latvia", "2004-03-29"], &["Lithuania", "2004-03-29"], &["Poland", "1999-03-12"]]),
            ),
            (
                "commitments",
                String::new(),
                ["Estonia", "Latvia", "Lithuania", "Poland"]
                    .iter()
                    .flat_map(|n| [vec![(*n).to_owned(), "international humanitarian law".into()], vec![(*n).to_owned(), "protection of civilians".into()]])
                    .collect(),
            ),
            (
                "reasons",
                String::new(),
                ["Estonia", "Latvia", "Lithuania", "Poland"]
                    .iter()
                    .flat_map(|n| [vec![(*n).to_owned(), "proximity to Russian military activities".into()], vec![(*n).to_owned(), "the current security environment".into()]])
                    .collect(),
            ),
            (
                "borders",
                format!("state={}", enc(&st("estonia"))),
                s(&[&[&st("estonia"), &st("latvia"), "Latvia"], &[&st("estonia"), &st("russia"), "Russia"]]),
            ),
        ];
        let mut pinned: BTreeSet<&str> = cases.iter().map(|(n, _, _)| *n).collect();
        for (name, params, expected) in &cases {
            let path = if params.is_empty() { format!("/queries/{name}") } else { format!("/queries/{name}?{params}") };
            let mut expected = expected.clone();
            expected.sort();
            assert_eq!(rows_of(&server, &path).await, expected, "{path}");
        }
        // The two queries whose answers are checked differently:
        // article-sentences (14 rows, one per sentence, each with statements)…
        let sentences = rows_of(&server, "/queries/article-sentences").await;
        assert_eq!(sentences.len(), 14);
        assert!(sentences.iter().all(|r| r[3].parse::<u32>().unwrap() > 0), "{sentences:?}");
        pinned.insert("article-sentences");
        // …and state-profile, a CONSTRUCT.
        let profile = server.fetch(&format!("/queries/state-profile?state={}", enc(&st("estonia"))), "application/n-triples").await;
        assert_eq!(profile.status, 200);
        let g = graph(&profile.body, oxigraph::io::RdfFormat::NTriples);
        let text = g.to_string();
        for expected in [
            format!("<{ID}state/estonia> <https://w3id.org/treaty-kg/ontology#iso3166Alpha2> \"EE\""),
            format!("<{ID}state/estonia> <https://w3id.org/treaty-kg/ontology#borders> <{ID}state/latvia>"),
            format!("<{ID}withdrawal/estonia-ottawa-convention> <https://w3id.org/treaty-kg/ontology#withdrawingState> <{ID}state/estonia>"),
            format!("<{ID}state/latvia> <http://www.w3.org/2000/01/rdf-schema#label> \"Latvia\"@en"),
        ] {
            assert!(text.contains(&expected), "missing {expected}");
        }
        pinned.insert("state-profile");
        // The withdrawals' status on other days: the four announced (Finland and
        // Ukraine not yet begun), then at the start of 2026, the default: in
        // effect (the three Baltic states), notified (Finland, Poland), a notified
        // suspension (Ukraine).
        let statuses = |rows: Vec<Vec<String>>| rows.into_iter().map(|r| (r[1].clone(), r[3].clone(), r[4].clone())).collect::<Vec<_>>();
        let announced = statuses(rows_of(&server, "/queries/withdrawal-status?date=2025-03-20").await);
        assert_eq!(announced, ["Estonia", "Latvia", "Lithuania", "Poland"].map(|n| (n.to_owned(), "announced".to_owned(), "2025-03-18".to_owned())));
        let later = statuses(rows_of(&server, "/queries/withdrawal-status").await);
        let in_effect = |n: &str| (n.to_owned(), "in effect".to_owned(), "2025-12-27".to_owned());
        assert_eq!(
            later,
            vec![
                in_effect("Estonia"),
                ("Finland".into(), "notified".into(), "2025-07-10".into()),
                in_effect("Latvia"),
                in_effect("Lithuania"),
                ("Poland".into(), "notified".into(), "2025-08-20".into()),
                ("Ukraine".into(), "suspension notified".into(), "2025-07-18".into()),
            ]
        );

        // search-quotations: the full-text index (built in the background) joined
        // with graph patterns; its relevance is a score, not pinned.
        server.search("q=warm+up").await;
        let quotes = rows_of(&server, "/queries/search-quotations?text=explosives").await;
        assert_eq!(quotes.len(), 1, "{quotes:?}");
        assert_eq!(quotes[0][0], format!("{ID}quotation/vaiksnoras-explosives-at-home"));
        assert!(quotes[0][1].contains("especially for the production of explosives"), "{quotes:?}");
        assert!(quotes[0][2].contains("Raimundas Vaik"), "{quotes:?}");
        assert_eq!(quotes[0][3], format!("{ID}sentence/ab8ee8623a11ff01-14"));
        pinned.insert("search-quotations");

        // The GeoSPARQL queries: the engine's own functions over a remote engine
        // (Oxigraph has them; Virtuoso 7 does not, and says so).
        let near = format!("/queries/states-near?state={}&km=400", enc(&st("lithuania")));
        if backend == Backend::Virtuoso {
            for path in ["/queries/borders-check", near.as_str()] {
                let response = server.get(path, "application/sparql-results+json").await;
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                assert!(status >= 400 && body.contains("geosparql"), "{path}: {status} {body}");
            }
        } else {
            assert_eq!(rows_of(&server, "/queries/borders-check").await, Vec::<Vec<String>>::new());
            let names: Vec<String> = rows_of(&server, &near).await.into_iter().map(|r| r[3].clone()).collect();
            assert_eq!(names, ["Belarus", "Estonia", "Latvia"]);
        }
        pinned.insert("borders-check");
        pinned.insert("states-near");

        let catalogue = server.fetch("/queries", "").await.json();
        let names: BTreeSet<String> =
            catalogue["queries"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap().to_owned()).collect();
        assert!(names.len() >= 15);
        let with_params =
            catalogue["queries"].as_array().unwrap().iter().filter(|q| !q["params"].as_array().unwrap().is_empty()).count();
        assert!(with_params * 2 >= names.len(), "at least half take parameters");
        assert_eq!(names, pinned.iter().map(|s| (*s).to_owned()).collect(), "every saved query needs a pinned answer here");
    }
}

/// The catalogue in JSON and as RDF (DCAT + SHACL parameters), the source text,
/// and the Link header.
#[tokio::test]
async fn catalogue_and_sources() {
    let server = knowledge_graph_server().await;
    let r = server.fetch("/queries", "").await;
    assert_eq!(r.status, 200);
    assert!(r.header("link").contains("rel=\"describedby\""));
    let json = r.json();
    let withdrawals = json["queries"].as_array().unwrap().iter().find(|q| q["name"] == "withdrawals").unwrap();
    assert_eq!(withdrawals["params"][0]["type"], "an IRI of a tkg:Treaty");
    assert!(withdrawals["version"].as_str().unwrap().starts_with("sha256:"));

    let r = server.fetch("/queries", "text/turtle").await;
    assert!(r.header("content-type").starts_with("text/turtle"));
    let g = graph(&r.body, oxigraph::io::RdfFormat::Turtle);
    let text = g.to_string();
    let base = &server.base;
    assert!(text.contains(&format!("<{base}/queries/withdrawals> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#DataService>")));
    assert!(text.contains("<http://www.w3.org/ns/shacl#class> <https://w3id.org/treaty-kg/ontology#Treaty>"));
    assert!(text.contains("<http://www.w3.org/ns/shacl#datatype> <http://www.w3.org/2001/XMLSchema#date>"));

    let r = server.fetch("/queries/withdrawals.rq", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/sparql-query");
    let source = r.text();
    assert_eq!(source, std::fs::read_to_string(repo("queries/withdrawals.rq")).unwrap());

    assert_eq!(run(&server, "/queries/no-such-query").await.status, 404);
    assert_eq!(server.fetch("/queries/no-such.rq", "").await.status, 404);

    // The service description links the catalogue.
    let sd = server.fetch("/sparql", "application/n-triples").await;
    assert!(sd.text().contains(&format!("<{base}/queries>")));
}

/// /openapi.json is valid OpenAPI 3.1 according to openapi-spec-validator.
#[tokio::test]
async fn openapi_document_validates() {
    let server = knowledge_graph_server().await;
    let r = server.fetch("/openapi.json", "").await;
    assert_eq!(r.status, 200);
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let again = server.call(server.client.get(server.url("/openapi.json")).header("if-none-match", &etag)).await;
    assert_eq!(again.status, 304, "rendered once per data version: the client's copy is current");
    let op = &doc["paths"]["/queries/timeline"]["get"];
    assert_eq!(op["operationId"], "timeline");
    let from = op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "from").unwrap();
    assert_eq!(from["schema"]["format"], "date");
    let treaty = &doc["paths"]["/queries/withdrawals"]["get"]["parameters"][0]["schema"];
    assert_eq!(
        treaty["enum"],
        serde_json::json!([format!("{ID}treaty/ottawa-convention")]),
        "allowed values from the data"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs (bash .ci/setup.sh installs openapi-spec-validator)");
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected the document (is it installed? bash .ci/setup.sh):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The allowed values `/openapi.json` lists for the `treaty` parameter of `withdrawals`.
async fn listed_treaties(server: &TestServer) -> Vec<serde_json::Value> {
    let doc = server.fetch("/openapi.json", "").await.json();
    doc["paths"]["/queries/withdrawals"]["get"]["parameters"][0]["schema"]["enum"].as_array().unwrap().clone()
}

/// A `values_query` with more values than the lists show (10,000) still
/// allows every one of them: a value is checked by binding it into the values
/// query, not by finding it in the first 10,000 (at 10M quads that refused the
/// parameter's own default).
#[tokio::test]
async fn every_allowed_value_is_allowed_past_the_listing_cap() {
    let server = knowledge_graph_server().await;
    let form = server.get_text("/queries/withdrawals", "text/html").await;
    assert!(form.contains("<select id=\"param-treaty\""), "a few allowed values: a drop-down");
    assert_eq!(listed_treaties(&server).await.len(), 1, "one treaty before the write");
    let treaties: String = (0..10_050)
        .map(|n| format!("<https://example.org/treaty/{n:05}> a <https://w3id.org/treaty-kg/ontology#Treaty> .\n"))
        .collect();
    assert_eq!(server.update(&format!("INSERT DATA {{ {treaties} }}")).await.status(), 204);
    let listed = listed_treaties(&server).await;
    assert_eq!(listed.len(), 10_000, "the listing is capped (and the document kept from before the write is not)");
    let unlisted = (0..10_050)
        .map(|n| format!("https://example.org/treaty/{n:05}"))
        .find(|iri| !listed.iter().any(|v| v == iri.as_str()))
        .expect("some treaty is past the cap");
    let r = run(&server, &format!("/queries/withdrawals?treaty={}", enc(&unlisted))).await;
    assert_eq!(r.status, 200, "a treaty past the listing's cap is allowed: {}", r.text());
    let r = run(&server, &format!("/queries/withdrawals?treaty={}", enc(&format!("{ID}state/latvia")))).await;
    assert_eq!(r.status, 400, "a value outside the values query is still refused");
    assert!(r.text().contains("parameter `treaty`"));
    assert!(!rows_of(&server, "/queries/withdrawals").await.is_empty(), "the default runs");
    let form = server.get_text("/queries/withdrawals", "text/html").await;
    assert!(!form.contains("<select id=\"param-treaty\""), "no drop-down of 10,000 values");
    assert!(form.contains("list=\"param-treaty-values\""), "a field with suggestions instead");
    assert_eq!(form.matches("<option value=").count(), 500, "the first 500 suggested");
}

/// Missing, unknown, ill-typed and out-of-class parameters are 400s that name
/// the parameter and the expected type.
#[tokio::test]
async fn parameter_errors_name_the_parameter_and_type() {
    let server = knowledge_graph_server().await;
    let cases = [
        ("/queries/borders", "missing required parameter `state`"),
        (
            "/queries/borders?state=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Festonia&colour=red",
            "unknown parameter `colour`",
        ),
        ("/queries/timeline?from=18%2F03%2F2025", "parameter `from`: expected xsd:date"),
        ("/queries/borders?state=not%20an%20iri", "parameter `state`: expected an IRI of a tkg:SovereignState"),
        (
            "/queries/borders?state=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Ftreaty%2Fottawa-convention",
            "is not an IRI of a tkg:SovereignState in this dataset",
        ),
        ("/queries/withdrawals?treaty=https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Ftreaty%2Fnone", "parameter `treaty`"),
        ("/queries/borders?state=a&state=b", "more than once"),
        ("/queries/search?text=x&format=bogus", "unknown format"),
    ];
    for (path, message) in cases {
        let r = run(&server, path).await;
        assert_eq!(r.status, 400, "{path}");
        let body = r.text();
        assert!(body.contains(message), "{path}: {body}");
    }
}

/// Formats by content negotiation and format=, POST with a form and JSON.
#[tokio::test]
async fn formats_and_post_bodies() {
    let server = knowledge_graph_server().await;
    let r = server.fetch("/queries/nato-accession", "text/csv").await;
    assert!(r.header("content-type").starts_with("text/csv"));
    assert_eq!(
        r.text(),
        "stateLabel,joined\r\nPoland,1999-03-12\r\nEstonia,2004-03-29\r\nLatvia,2004-03-29\r\nLithuania,2004-03-29\r\nFinland,2023-04-04\r\n"
    );
    let r = server.fetch("/queries/nato-accession?format=xml", "").await;
    assert!(r.header("content-type").starts_with("application/sparql-results+xml"));
    assert_eq!(run(&server, "/queries/nato-accession").await.header("vary"), "Accept");

    let estonia = format!("{ID}state/estonia");
    let borders = || server.client.post(server.url("/queries/borders"));
    let accept_json = "application/sparql-results+json";
    let by_form = server.call(borders().header("accept", accept_json).form(&[("state", estonia.as_str())])).await;
    assert_eq!(by_form.status, 200);
    let by_json =
        server.call(borders().header("accept", accept_json).json(&serde_json::json!({ "state": estonia }))).await;
    assert_eq!(by_json.status, 200);
    assert_eq!(results_table(&by_form.body), results_table(&by_json.body));
    let bad = server.call(borders().header("content-type", "text/plain").body("x")).await;
    assert_eq!(bad.status, 415);
}

/// ETag, conditional GET (304), the cache, and invalidation by a write: an answer
/// computed before a write is never served after it.
#[tokio::test]
async fn caching_and_invalidation() {
    // Without the inferred graph: its regeneration after the write below is a
    // write of its own, which would move the data version on once more at a
    // moment of its choosing (and the counts below with it).
    let server = TestServer::with(Options {
        sources: vec![repo("ontology"), repo("data")],
        queries_dir: Some(repo("queries")),
        inference: false,
        ..Options::default()
    })
    .await;
    let path = "/queries/search?text=zanzibar";
    let first = run(&server, path).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), "miss");
    assert_eq!(first.header("cache-control"), "public, no-cache");
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let data_version = first.headers["x-data-version"].to_str().unwrap().to_owned();
    assert!(first.header("x-query-version").starts_with("sha256:"));
    assert_eq!(first.header("x-result-truncated"), "false");
    assert!(results_table(&first.body).is_empty());

    let second = run(&server, path).await;
    assert_eq!(second.header("x-cache"), "hit");
    assert_eq!(second.headers["etag"].to_str().unwrap(), etag);

    let revalidate = || {
        let request = server.client.get(server.url(path)).header("accept", "application/sparql-results+json");
        server.call(request.header("if-none-match", &etag))
    };
    let conditional = revalidate().await;
    assert_eq!(conditional.status, 304);

    // A write changes the data version: the next answer is recomputed and sees it.
    let r = server
        .update("INSERT DATA { GRAPH <http://example.org/g> { <https://w3id.org/treaty-kg/id/state/zanzibar> <http://www.w3.org/2000/01/rdf-schema#label> \"Zanzibar\" } }")
        .await;
    assert_eq!(r.status(), 204);
    let after = run(&server, path).await;
    assert_eq!(after.header("x-cache"), "miss");
    assert_ne!(after.headers["x-data-version"].to_str().unwrap(), data_version);
    assert_ne!(after.headers["etag"].to_str().unwrap(), etag);
    assert_eq!(results_table(&after.body).len(), 1);
    let stale = revalidate().await;
    assert_eq!(stale.status, 200, "the old ETag no longer matches");

    let metrics = server.fetch("/metrics", "").await.text();
    assert!(metrics.contains("treaty_kg_saved_query_calls_total{query=\"search\",outcome=\"cached\"} 2"), "{metrics}");
    assert!(metrics.contains("treaty_kg_saved_query_calls_total{query=\"search\",outcome=\"not_modified\"} 1"));
    assert!(metrics.contains("treaty_kg_saved_query_calls_total{query=\"search\",outcome=\"ok\"} 2"));
}

const CAPPED: &str = "#+ summary: Labels, at most two\n#+ limit: 2\nSELECT ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } ORDER BY ?l\n";

/// A query's row cap truncates and says so; a new file is picked up while the
/// server runs; a broken file is reported and the old catalogue stays in service.
#[tokio::test]
async fn truncation_and_hot_reload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("capped.rq"), CAPPED).unwrap();
    let server = TestServer::with(Options { queries_dir: Some(dir.path().to_owned()), ..Options::default() }).await;
    let r = run(&server, "/queries/capped").await;
    assert_eq!(r.header("x-result-truncated"), "true");
    assert_eq!(r.header("x-result-limit"), "2");
    assert_eq!(results_table(&r.body).len(), 2);

    std::fs::write(dir.path().join("added.rq"), "#+ summary: Added later\nASK { ?s ?p ?o }\n").unwrap();
    let mut status = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = run(&server, "/queries/added").await.status;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "the new query was picked up");

    std::fs::write(dir.path().join("broken.rq"), "#+ summary: Broken\nSELECT WHERE {\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(run(&server, "/queries/broken").await.status, 404, "a broken file does not go into service");
    assert_eq!(run(&server, "/queries/added").await.status, 200, "the old catalogue stays in service");
}

/// A broken query file stops the server at start, naming the file and line.
#[tokio::test]
async fn a_broken_query_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.rq"),
        "#+ summary: x\n#+ params:\n#+   - name: n\n#+     type: xsd:nonsense\nSELECT ?n {}\n",
    )
    .unwrap();
    let mut config = treaty_kg::config::Config::in_memory();
    config.queries_dir = Some(dir.path().to_owned());
    let error =
        tokio::task::spawn_blocking(move || treaty_kg::build_state(config).err().unwrap().to_string()).await.unwrap();
    assert!(error.contains("bad.rq:3:") && error.contains("xsd:nonsense"), "{error}");
}

/// `treaty-kg queries` and `treaty-kg run`.
#[test]
fn cli_lists_and_runs_saved_queries() {
    let bin = env!("CARGO_BIN_EXE_treaty-kg");
    let out = Command::new(bin).current_dir(repo("")).arg("queries").output().unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("withdrawals") && listing.contains("22 saved queries"), "{listing}");

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = Command::new(bin)
        .current_dir(repo(""))
        .args(["load", "--store"])
        .arg(&store)
        .args(["data/background.trig", "data/articles/ab8ee8623a11ff01.trig"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(bin)
        .current_dir(repo(""))
        .args(["run", "nato-accession", "--format", "csv", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "stateLabel,joined\r\nPoland,1999-03-12\r\nEstonia,2004-03-29\r\nLatvia,2004-03-29\r\nLithuania,2004-03-29\r\nFinland,2023-04-04\r\n"
    );
    let out = Command::new(bin)
        .current_dir(repo(""))
        .args(["run", "borders", "--param", "state=https://w3id.org/treaty-kg/id/state/estonia", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(
            "| https://w3id.org/treaty-kg/id/state/estonia | https://w3id.org/treaty-kg/id/state/latvia | Latvia@en "
        ),
        "{table}"
    );
    assert!(table.ends_with("2 row(s)\n"));
    let out = Command::new(bin)
        .current_dir(repo(""))
        .args(["run", "borders", "--param", "state=https://w3id.org/treaty-kg/id/treaty/ottawa-convention", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an IRI of a tkg:SovereignState"));
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("} ; DROP ALL ; {".to_owned()),
        Just("\" } INSERT DATA { <http://x> <http://y> <http://z> } #".to_owned()),
        Just("'; CLEAR ALL; '".to_owned()),
        Just("> <http://evil> .".to_owned()),
        Just("#".to_owned()),
        Just("\\\"\\n".to_owned()),
        Just("parliament\nof".to_owned()),
        Just("Siliņa".to_owned()),
        "[\\PC]{0,40}",
        "[\"'<>{}#;\\\\ \\n\\t.?$]{1,20}",
        "\\PC{200,400}",
    ]
}

/// Hostile parameter values only ever match as plain values: the answer is
/// exactly the labels that contain the text, and the store is unchanged.
#[test]
fn hostile_parameter_values_are_plain_values() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(knowledge_graph_server());
    let labels: Vec<(String, String)> = runtime
        .block_on(server.table(
            "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(STRSTARTS(STR(?s), 'https://w3id.org/treaty-kg/id/')) }",
        ))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let before = runtime.block_on(server.dataset());
    let version = server.state.store.data_version();
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(text in hostile())| {
        let response = runtime.block_on(server.call(
            server.client.post(server.url("/queries/search"))
                .header("accept", "application/sparql-results+json")
                .form(&[("text", text.as_str())]),
        ));
        prop_assert_eq!(response.status, 200);
        let got: BTreeSet<(String, String)> = results_table(&response.body).into_iter().map(|r| (r[1].clone(), r[2].clone())).collect();
        let needle = text.to_lowercase();
        let expected: BTreeSet<(String, String)> = labels
            .iter()
            .filter(|(_, l)| sparql_lcase(l).contains(&sparql_lcase(&needle)))
            .cloned()
            .collect();
        prop_assert_eq!(got, expected);
    });
    assert_eq!(server.state.store.data_version(), version, "no write happened");
    assert_datasets_isomorphic(&runtime.block_on(server.dataset()), &before);
}

/// SPARQL's LCASE (Unicode lower-casing, as Rust's `to_lowercase`).
fn sparql_lcase(s: &str) -> String {
    s.to_lowercase()
}
