//! Where (issue 42): GeoSPARQL's functions in `/sparql`, in updates and in the
//! service description; every state's shape from Natural Earth; the saved query
//! that checks the land-border facts against the shapes (empty on our data, and
//! not empty once a fact and a shape disagree); states near a given state.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geosparql_functions_answer() {
    let server = knowledge_graph_server().await;
    // The issue's own query: Riga to Vilnius, in metres.
    let distance = server
        .table(&q("SELECT (geof:distance(\"POINT(24.1 56.9)\"^^geo:wktLiteral, \"POINT(25.3 54.7)\"^^geo:wktLiteral, uom:metre) AS ?d) {}"))
        .await;
    let metres: f64 = distance[0][0].parse().unwrap();
    assert!((255_000.0..257_000.0).contains(&metres), "Riga–Vilnius is about 256 km, not {metres} m");
    // Relations between the states' shapes.
    let touches = "ASK { st:latvia geo:hasGeometry/geo:asWKT ?a . st:estonia geo:hasGeometry/geo:asWKT ?b FILTER(geof:sfTouches(?a, ?b)) }";
    assert!(server.ask(&q(touches)).await, "Latvia's and Estonia's shapes touch");
    let apart = "ASK { st:poland geo:hasGeometry/geo:asWKT ?a . st:estonia geo:hasGeometry/geo:asWKT ?b FILTER(geof:sfIntersects(?a, ?b)) }";
    assert!(!server.ask(&q(apart)).await, "Poland's and Estonia's do not meet");
    // A malformed WKT is an expression error (no value), not a failed query.
    let bad = server
        .table(&q("SELECT (geof:sfTouches(\"POINT(1\"^^geo:wktLiteral, \"POINT(1 2)\"^^geo:wktLiteral) AS ?t) {}"))
        .await;
    assert_eq!(bad, rows(&[&[""]]));
    // Updates know them too.
    let write = server
        .update(&q("INSERT { GRAPH <urn:geo> { st:latvia <urn:geo:near> st:estonia } } WHERE { st:latvia geo:hasGeometry/geo:asWKT ?a . st:estonia geo:hasGeometry/geo:asWKT ?b FILTER(geof:sfTouches(?a, ?b)) }"))
        .await;
    assert_eq!(write.status(), 204);
    assert!(server.ask("ASK { GRAPH <urn:geo> { ?s ?p ?o } }").await, "the update's WHERE evaluated geof:sfTouches");
    // The service description lists them.
    let description = server.get_text("/sparql", "text/turtle").await;
    assert!(description.contains("http://www.opengis.net/def/function/geosparql/distance"), "{description}");
    // The editor completes them, and their prefix.
    let vocabulary: serde_json::Value =
        server.get("/editor/vocabulary.json", "application/json").await.json().await.unwrap();
    let functions: Vec<&str> = vocabulary["terms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "GeoSPARQL function")
        .filter_map(|t| t["iri"].as_str())
        .collect();
    assert!(functions.contains(&"http://www.opengis.net/def/function/geosparql/sfTouches"), "{functions:?}");
    assert!(vocabulary["prefixes"].as_array().unwrap().iter().any(|p| p["prefix"] == "geof"), "{vocabulary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_has_a_shape_and_the_borders_agree_with_them() {
    let server = knowledge_graph_server().await;
    let shapeless = server
        .table(&q("SELECT ?s WHERE { ?s a tkg:SovereignState FILTER NOT EXISTS { ?s geo:hasGeometry/geo:asWKT ?w } }"))
        .await;
    assert!(shapeless.is_empty(), "states without a shape: {shapeless:?}");
    let cited =
        "ASK { GRAPH ?g { st:russia geo:hasGeometry ?shape } ?g <http://www.w3.org/ns/prov#wasDerivedFrom> ?source }";
    assert!(server.ask(&q(cited)).await, "the shapes' graph cites its source");
    assert_eq!(server.rows_at("/queries/borders-check").await, Vec::<Vec<String>>::new());

    // A fact the shapes contradict is reported, and so is a missing one.
    let write = server.update(&q("INSERT DATA { GRAPH <urn:geo:wrong> { st:poland tkg:borders st:estonia } }")).await;
    assert_eq!(write.status(), 204);
    let write = server.update(&q("DELETE WHERE { GRAPH ?g { st:latvia tkg:borders st:estonia } }")).await;
    assert_eq!(write.status(), 204);
    let write = server.update(&q("DELETE WHERE { GRAPH ?g { st:estonia tkg:borders st:latvia } }")).await;
    assert_eq!(write.status(), 204);
    let problems: Vec<(String, String, String)> = server
        .rows_at("/queries/borders-check")
        .await
        .into_iter()
        .map(|r| (r[0].clone(), r[2].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        problems,
        vec![
            ("borders fact, shapes do not meet".to_owned(), "Estonia".to_owned(), "Poland".to_owned()),
            ("shapes meet, no borders fact".to_owned(), "Estonia".to_owned(), "Latvia".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_near_a_state() {
    let server = knowledge_graph_server().await;
    let lithuania = "https%3A%2F%2Fw3id.org%2Ftreaty-kg%2Fid%2Fstate%2Flithuania";
    let near = server.rows_at(&format!("/queries/states-near?state={lithuania}&km=400")).await;
    let mut found: Vec<(u64, String, String)> =
        near.iter().map(|r| (r[4].parse::<f64>().unwrap() as u64, r[3].clone(), r[5].clone())).collect();
    found.sort();
    let names: Vec<&str> = found.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(names, ["Latvia", "Belarus", "Estonia"], "{found:?}");
    assert!(found.iter().all(|(km, _, _)| *km <= 400));
    assert_eq!(found[2].2, "false", "Estonia does not border Lithuania");
    let refused = server.get("/queries/states-near?km=far", "application/sparql-results+json").await;
    assert_eq!(refused.status(), 400);
}

/// The `<text>` contents of one class in a page's first map.
fn map_texts(page: &str, class: &str) -> Vec<String> {
    let map = page.split("<figure class=\"map\">").nth(1).and_then(|m| m.split("</figure>").next()).unwrap_or_default();
    map.split(&format!("class=\"{class}\""))
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split('<').next()?.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_on_the_home_page_state_pages_and_answers() {
    let server = knowledge_graph_server().await;
    // The home page: the withdrawing states by status on the day asked.
    let home = server.get_text("/?date=2025-03-20", "text/html").await;
    assert!(home.contains("Withdrawals from the Ottawa Convention on 2025-03-20"), "the map's title names the day");
    assert_eq!(map_texts(&home, "map-legend"), ["announced", "not withdrawing, or not yet"]);
    let labels = map_texts(&home, "map-label");
    for state in ["Poland", "Lithuania", "Latvia", "Estonia"] {
        assert!(labels.iter().any(|l| l == state), "{state} labelled: {labels:?}");
    }
    let later = server.get_text("/?date=2026-03-01", "text/html").await;
    assert!(map_texts(&later, "map-legend").contains(&"in effect".to_owned()));
    let bad = server.get("/?date=yesterday", "text/html").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("date"));
    // A state's page: it and its neighbours.
    let page = server.get_text("/page/state/estonia", "text/html").await;
    assert!(page.contains("Estonia and the states it borders"));
    let labels = map_texts(&page, "map-label");
    for state in ["Estonia", "Latvia", "Russia"] {
        assert!(labels.iter().any(|l| l == state), "{state} labelled: {labels:?}");
    }
    // A page without a shape has no map.
    let treaty = server.get_text("/page/treaty/ottawa-convention", "text/html").await;
    assert!(!treaty.contains("<figure class=\"map\">"));
    // An answer's WKT values, drawn for the editor.
    let answer = server
        .query(
            &q("SELECT ?s ?w WHERE { ?s geo:hasGeometry/geo:asWKT ?w } ORDER BY ?s"),
            "application/sparql-results+json",
        )
        .await
        .text()
        .await
        .unwrap();
    let drawn = server.call(server.client.post(server.url("/map.svg")).body(answer)).await;
    assert_eq!(drawn.status, 200);
    let drawn = drawn.text();
    assert_eq!(map_texts(&drawn, "map-legend"), ["10 shape(s) of the answer"]);
    assert_eq!(drawn.matches("<path").count(), 10);
    let refused = server.call(server.client.post(server.url("/map.svg")).body("{\"head\":")).await;
    assert_eq!(refused.status, 400);
}
