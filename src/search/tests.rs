//! The index kept from writes holds the documents an index built whole from
//! the same store holds, after every kind of write (the summaries' own
//! generator of writes: to the default graph and to named graphs, SPARQL
//! Update of every form, Graph Store replacements and merges, deletions,
//! dataset POSTs); and a hit's source is the store's, whatever changed it.

use super::*;
use crate::summary::tests::{kept_store, picks, update, write};
use std::collections::BTreeMap;

/// Waits until `search`'s index describes the store's current data version.
async fn current(search: &SearchIndex) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while search.status() != (true, true) {
        assert!(tokio::time::Instant::now() < deadline, "the index is still not current");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What the index holds of each resource in each graph: every stored field's
/// values, merged over its documents (a whole build over a store that does not
/// give a subject's quads together, an engine or the in-memory store, may
/// write them as several documents; searches collapse them by resource).
fn documents(search: &SearchIndex) -> BTreeMap<(String, String), Vec<(&'static str, String)>> {
    let searcher = search.reader.searcher();
    let f = search.fields;
    let mut all: BTreeMap<(String, String), Vec<(&'static str, String)>> = BTreeMap::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        for id in segment.doc_ids_alive() {
            let doc: TantivyDocument = searcher.doc(tantivy::DocAddress::new(ord as u32, id)).unwrap();
            let one = |field| query::values(&doc, field).next().unwrap_or_default().to_owned();
            let held = all.entry((one(f.iri), one(f.graph))).or_default();
            for (name, field) in [("label", f.label), ("alt", f.alt), ("text", f.text), ("types", f.types)] {
                held.extend(query::values(&doc, field).map(|v| (name, v.to_owned())));
            }
            held.sort_unstable();
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_kept_from_writes_equals_one_built_whole() {
    let (store, _summary) = kept_store().await;
    let kept = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
    current(&kept).await;
    let mut next = picks(11);
    for step in 0..60 {
        let kind = next(11);
        let label = write(&store, kind, &mut next).await;
        current(&kept).await;
        let whole = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
        current(&whole).await;
        assert_eq!(documents(&kept), documents(&whole), "step {step} ({label})");
    }
    assert!(!documents(&kept).is_empty(), "the writes left something to find");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hits_source_is_the_stores_whatever_changed_it() {
    let (store, _summary) = kept_store().await;
    let search = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
    update(
        &store,
        "INSERT DATA { GRAPH <http://e/g> { <http://e/x> <http://www.w3.org/2000/01/rdf-schema#label> \"Kestrel\" }
                       GRAPH <http://e/prov> { <http://e/g> <http://www.w3.org/ns/prov#wasDerivedFrom> <http://e/s1> .
                                               <http://e/s1> <https://schema.org/text> \"first text\" .
                                               <http://e/s2> <https://schema.org/text> \"second text\" } }",
    )
    .await;
    current(&search).await;
    let source = |search: Arc<SearchIndex>| async move {
        let answer = search.search("kestrel", 0, 10).await.unwrap();
        assert_eq!(answer.hits.len(), 1, "{:?}", answer.hits);
        answer.hits[0].source.clone()
    };
    assert_eq!(source(search.clone()).await, Some(("http://e/s1".into(), "first text".into())));
    // The source's text edited: no statement of the hit's graph changed.
    update(&store, "DELETE DATA { GRAPH <http://e/prov> { <http://e/s1> <https://schema.org/text> \"first text\" } } ; INSERT DATA { GRAPH <http://e/prov> { <http://e/s1> <https://schema.org/text> \"edited text\" } }").await;
    current(&search).await;
    assert_eq!(source(search.clone()).await, Some(("http://e/s1".into(), "edited text".into())));
    // The graph derived from another source.
    update(&store, "DELETE WHERE { GRAPH <http://e/prov> { <http://e/g> <http://www.w3.org/ns/prov#wasDerivedFrom> ?s } } ; INSERT DATA { GRAPH <http://e/prov> { <http://e/g> <http://www.w3.org/ns/prov#wasDerivedFrom> <http://e/s2> } }").await;
    current(&search).await;
    assert_eq!(source(search.clone()).await, Some(("http://e/s2".into(), "second text".into())));
}

/// A Graph Store PUT of a new graph of 1,200 resources (past what the index
/// re-reads subject by subject) is indexed from the statements the write
/// created; the same PUT again (a graph that existed) and a write into the
/// graph after it are read back. Each leaves what a whole build holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_graph_put_whole_is_indexed_from_its_own_write() {
    let (store, _summary) = kept_store().await;
    let kept = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
    current(&kept).await;
    let body = |n: usize| -> String {
        (0..1_200)
            .map(|i| format!("<http://e/r{i}> <http://www.w3.org/2000/01/rdf-schema#label> \"resource {i} take {n}\" ; a <http://e/A> .\n"))
            .collect()
    };
    let target = crate::store::GraphTarget::Named(oxigraph::model::NamedNode::new_unchecked("http://e/bulk"));
    for (step, n) in [(0, 1), (1, 2)] {
        let turtle = vec![(bytes::Bytes::from(body(n)), oxigraph::io::RdfFormat::Turtle)];
        store.write_graph(target.clone(), turtle, "http://e/".into(), crate::store::GraphWrite::Replace).await.unwrap();
        current(&kept).await;
        let whole = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
        current(&whole).await;
        assert_eq!(documents(&kept), documents(&whole), "step {step}");
    }
    update(&store, "INSERT DATA { GRAPH <http://e/bulk> { <http://e/r7> <http://www.w3.org/2000/01/rdf-schema#label> \"another\" } }").await;
    current(&kept).await;
    let whole = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
    current(&whole).await;
    assert_eq!(documents(&kept), documents(&whole), "a write after");
    let held = documents(&kept);
    let r7 = &held[&("http://e/r7".to_owned(), "http://e/bulk".to_owned())];
    assert!(r7.contains(&("label", "resource 7 take 2".to_owned())) && r7.contains(&("label", "another".to_owned())));
}

/// `treaty-kg load`'s index, built from the quads as they are read: it holds
/// what a build from the store holds (a subject whose statements lie further
/// apart than the documents gathered at once included), and an index opened
/// on it is current at once, with no build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_built_while_loading_equals_one_built_from_the_store() {
    use crate::store::{StoreLocation, StoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated.nq");
    crate::generate::generate(5_000, 7, std::fs::File::create(&generated).unwrap()).unwrap();
    // 5,000 labels, then the same subjects' descriptions: each subject's two
    // statements are 5,000 subjects apart.
    let scattered = dir.path().join("scattered.nt");
    let label = "<http://www.w3.org/2000/01/rdf-schema#label>";
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!("<http://e/s{i}> {label} \"Kestrel {i}\"@en .\n"));
    }
    for i in 0..5_000 {
        text.push_str(&format!("<http://e/s{i}> <https://schema.org/description> \"seen at dawn {i}\" .\n"));
    }
    std::fs::write(&scattered, text).unwrap();
    let store = KgStore::open(&StoreLocation::Directory(dir.path().join("store")), StoreOptions::default()).unwrap();
    let at = dir.path().join("index");
    let mut loading = loading::LoadIndexer::create(&at).unwrap();
    for file in [&generated, &scattered] {
        store.bulk_load(file, None, |_| {}, &mut |quad| loading.see(quad)).unwrap();
    }
    let written = loading.commit(&store.data_version()).unwrap();
    assert!(written > 5_000, "{written} documents");

    let loaded = SearchIndex::open(store.clone(), IndexLocation::Directory(at)).unwrap();
    assert_eq!(loaded.status(), (true, true), "current when opened, before any build");
    let whole = SearchIndex::start(store.clone(), IndexLocation::Memory, None).unwrap();
    current(&whole).await;
    let (held, expected) = (documents(&loaded), documents(&whole));
    assert_eq!(held.len(), expected.len());
    assert_eq!(held, expected);
    let s0 = held.iter().find(|((iri, _), _)| iri == "http://e/s0").map(|(_, values)| values);
    assert_eq!(s0.map(Vec::len), Some(2), "both statements of a scattered subject: {s0:?}");
}
