//! What an engine's own limits must not change in what treaty-kg shows in
//! front of it: run on every backend (`on_every_backend!`).

use crate::common::*;
use crate::on_every_backend;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;

on_every_backend! {
    /// VoID counts every named graph, also past an engine's row limit:
    /// Virtuoso lists at most 10,000 rows by default (`ResultSetMaxRows`) and
    /// says so only in a header, so a listing of 10,050 graphs comes back with
    /// 10,000 and no error. The summary of their prefix says 10,050.
    async fn void_counts_every_graph_past_an_engines_row_limit(backend) {
        let dir = tempfile::tempdir().unwrap();
        let many = 10_050;
        let trig: String = (0..many)
            .map(|i| format!("<http://example.org/many/g{i}> {{ <http://example.org/s{i}> <http://example.org/p> {i} }}\n"))
            .chain((0..30).map(|i| format!("<http://example.org/few/g{i}> {{ <http://example.org/f{i}> <http://example.org/p> {i}, \"{i}\" }}\n")))
            .collect();
        std::fs::write(dir.path().join("many.trig"), trig).unwrap();
        let (engine, target) = target_for(backend, dir.path()).await;
        let loaded = std::process::Command::new(BIN).arg("load").args(&target).arg(dir.path().join("many.trig")).output().unwrap();
        assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
        let served = KillOnDrop(spawn_server(&[target, vec!["--no-default-data".into()]].concat(), &[]));
        let r = call(reqwest::Client::new().get(format!("{}/.well-known/void", served.0.base)).header("accept", "application/n-triples")).await;
        assert_eq!(r.status, 200);
        let g = graph(&r.body, RdfFormat::NTriples);
        let wanted = format!("{many} named graphs whose names start with http://example.org/many/");
        assert_eq!(void_triples_titled(&g, &wanted), many);
        // The small family fits the budget of subsets: a subset per graph, each
        // counted. Virtuoso lists them only if its first 10,000 rows hold them.
        let name = NamedNode::new_unchecked("http://www.w3.org/ns/sparql-service-description#name");
        let few: Vec<u64> = g
            .triples_for_predicate(&name)
            .filter(|t| t.object.to_string().starts_with("<http://example.org/few/"))
            .map(|t| void_triples_of(&g, t.subject))
            .collect();
        assert!(few.iter().all(|&n| n == 2), "{few:?}");
        if backend != Backend::Virtuoso {
            assert_eq!(few.len(), 30);
        }
        // The subsets add up to the dataset: graphs like none the cut listing
        // showed (Virtuoso's own, or the small family) are in a rest subset.
        let dataset = NamedNode::new_unchecked(format!("{}/.well-known/void#dataset", served.0.base));
        let (in_subsets, total) = void_subsets_and_dataset(&g, &dataset);
        assert_eq!(in_subsets, total);
        if let Some(engine) = engine.as_ref().filter(|_| backend == Backend::Virtuoso) {
            // The engine does cut the listing (its `ResultSetMaxRows`), so this tests the fix.
            let listing = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g";
            let r = call(reqwest::Client::new().get(&engine.query).query(&[("query", listing)]).header("accept", "text/csv")).await;
            assert_eq!(r.headers.get("x-sparql-maxrows").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("10000"));
        }
        // The home page counts them all (Virtuoso's own graphs and the ledger are graphs too).
        let home = call(reqwest::Client::new().get(format!("{}/", served.0.base))).await.text();
        let in_all: u64 = home
            .find(" named graphs in all")
            .and_then(|end| home[..end].rsplit(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no graph count on the home page"));
        let extra = if backend == Backend::Embedded { 0 } else { 20 };
        assert!((many + 30..=many + 30 + extra).contains(&in_all), "{in_all} named graphs in all");
    }
}
