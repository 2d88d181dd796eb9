//! Every derived view kept from writes' changes equals the same view computed
//! from scratch, after every kind of write, to the default graph and to named
//! graphs: the counts, the events, the featured resources, the ontology's
//! terms (all of [`super::Views`]) and the inferred graph.

use super::*;
use crate::inference::{Inference, INFERRED_GRAPH};
use crate::store::{GraphTarget, GraphWrite, StoreLocation, StoreOptions, UpdateJob};
use bytes::Bytes;
use oxigraph::io::RdfFormat;
use oxigraph::model::{GraphName, Quad, Term};
use std::collections::BTreeSet;

const TKG: &str = "https://w3id.org/treaty-kg/ontology#";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";

pub(crate) async fn update(store: &KgStore, text: &str) {
    let job = UpdateJob { text: text.to_owned(), base: None, dataset: Default::default() };
    store.update(job).await.unwrap_or_else(|e| panic!("{text}: {}", e.chain()));
}

/// The inferred graph as it must be, computed here from every statement of
/// every other graph (the default graph's included): what the closed axioms
/// entail, less what some graph states.
fn entailed_from_scratch(store: &KgStore) -> BTreeSet<String> {
    let stated: Vec<Quad> = store
        .read_consistently(|r| r.quads(None, None, None, None))
        .unwrap()
        .into_iter()
        .filter(|q| !matches!(&q.graph_name, GraphName::NamedNode(g) if g.as_str() == INFERRED_GRAPH))
        .collect();
    let pairs = |relation: &str| -> Vec<(String, String)> {
        stated
            .iter()
            .filter(|q| q.predicate.as_str() == relation)
            .filter_map(|q| match (&q.subject, &q.object) {
                (NamedOrBlankNode::NamedNode(a), Term::NamedNode(b)) => Some((a.as_str().into(), b.as_str().into())),
                _ => None,
            })
            .collect()
    };
    let classes = crate::inference::closure(&pairs(&format!("{RDFS}subClassOf")));
    let properties = crate::inference::closure(&pairs(&format!("{RDFS}subPropertyOf")));
    let triples: BTreeSet<String> =
        stated.iter().map(|q| format!("{} {} {}", q.subject, q.predicate, q.object)).collect();
    let mut entailed = BTreeSet::new();
    for q in &stated {
        if q.predicate.as_str() == RDF_TYPE {
            for (sub, sup) in &classes {
                if matches!(&q.object, Term::NamedNode(o) if o.as_str() == sub) {
                    entailed.insert(format!("{} <{RDF_TYPE}> <{sup}>", q.subject));
                }
            }
        }
        for (_, sup) in properties.iter().filter(|(sub, _)| sub == q.predicate.as_str()) {
            entailed.insert(format!("{} <{sup}> {}", q.subject, q.object));
        }
    }
    entailed.retain(|t| !triples.contains(t));
    entailed
}

fn inferred_now(store: &KgStore) -> BTreeSet<String> {
    let graph = NamedNode::new_unchecked(INFERRED_GRAPH);
    store
        .read_consistently(|r| r.quads(None, None, None, Some(graph.as_ref().into())))
        .unwrap()
        .into_iter()
        .filter(|q| q.subject != NamedOrBlankNode::from(graph.clone()))
        .map(|q| format!("{} {} {}", q.subject, q.predicate, q.object))
        .collect()
}

/// A store with axioms (`A ⊂ B ⊂ C`, `A ⊂ tkg:Event`, `p ⊂ q`), kept by the
/// inferred graph's and the summaries' keepers.
pub(crate) async fn kept_store() -> (KgStore, Arc<Summary>) {
    let store = KgStore::open(&StoreLocation::Memory, StoreOptions::default()).unwrap();
    update(
        &store,
        &format!(
            "INSERT DATA {{ GRAPH <http://e/onto> {{
               <http://e/A> <{RDFS}subClassOf> <http://e/B> . <http://e/B> <{RDFS}subClassOf> <http://e/C> .
               <http://e/A> <{RDFS}subClassOf> <{TKG}Event> .
               <http://e/p> <{RDFS}subPropertyOf> <http://e/q> .
               <{TKG}Event> a <http://www.w3.org/2002/07/owl#Class> ; <{RDFS}label> \"Event\" . }} }}"
        ),
    )
    .await;
    Inference::start(store.clone()).await.unwrap();
    let summary = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || Summary::start(store)).await.unwrap().unwrap()
    };
    (store, summary)
}

/// A repeatable stream of picks below `n` (a linear congruential generator
/// seeded with `seed`): the same writes on every run.
pub(crate) fn picks(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n.max(1)
    }
}

/// One write of a kind picked by `pick`, about subjects and graphs picked by `next`.
pub(crate) async fn write(store: &KgStore, kind: u64, next: &mut impl FnMut(u64) -> u64) -> String {
    let subject = format!("http://e/s{}", next(4));
    let graph = match next(3) {
        0 => None,
        n => Some(format!("http://e/g{n}")),
    };
    let statements = [
        "a <http://e/A>".to_owned(),
        "a <http://e/B>".to_owned(),
        "a <http://e/C>".to_owned(),
        format!("a <{TKG}SovereignState>"),
        format!("<{RDFS}label> \"name {}\"@en", next(5)),
        format!("<{TKG}date> \"2025-0{}-01\"^^<http://www.w3.org/2001/XMLSchema#date>", 1 + next(8)),
        "<http://e/p> <http://e/o>".to_owned(),
        "<http://e/q> <http://e/o>".to_owned(),
    ];
    let statement = &statements[next(statements.len() as u64) as usize];
    let wrap = |body: String| match &graph {
        Some(g) => format!("GRAPH <{g}> {{ {body} }}"),
        None => body,
    };
    let target = match &graph {
        Some(g) => GraphTarget::Named(oxigraph::model::NamedNode::new_unchecked(g)),
        None => GraphTarget::Default,
    };
    let turtle = |body: String| vec![(Bytes::from(body), RdfFormat::Turtle)];
    let label = format!("{kind}: {statement} of <{subject}> in {graph:?}");
    match kind {
        0 => update(store, &format!("INSERT DATA {{ {} }}", wrap(format!("<{subject}> {statement}")))).await,
        1 => update(store, &format!("DELETE DATA {{ {} }}", wrap(format!("<{subject}> {statement}")))).await,
        2 => {
            // A template over variables: every subject with the statement gets another.
            let pattern = wrap(format!("?x {statement}"));
            let added = wrap(format!("?x {}", statements[next(statements.len() as u64) as usize]));
            update(store, &format!("INSERT {{ {added} }} WHERE {{ {pattern} }}")).await
        }
        3 => {
            let pattern = wrap(format!("?x {statement}"));
            update(store, &format!("DELETE {{ {pattern} }} WHERE {{ {pattern} }}")).await
        }
        4 => {
            let text = match &graph {
                Some(g) => format!("CLEAR SILENT GRAPH <{g}>"),
                None => "CLEAR DEFAULT".to_owned(),
            };
            update(store, &text).await
        }
        5 => {
            let text = match &graph {
                Some(g) => format!("DROP SILENT GRAPH <{g}> ; CREATE SILENT GRAPH <{g}>"),
                None => "DROP SILENT DEFAULT".to_owned(),
            };
            update(store, &text).await
        }
        6 => {
            store
                .write_graph(
                    target,
                    turtle(format!("<{subject}> {statement} .")),
                    "http://e/".into(),
                    GraphWrite::Replace,
                )
                .await
                .unwrap();
        }
        7 => {
            store
                .write_graph(
                    target,
                    turtle(format!("<{subject}> {statement} .")),
                    "http://e/".into(),
                    GraphWrite::Merge,
                )
                .await
                .unwrap();
        }
        8 => {
            let _ = store.delete_graph(target).await;
        }
        9 => {
            let g = graph.clone().unwrap_or_else(|| "http://e/g1".into());
            let body = format!(
                "<{subject}> <{RDF_TYPE}> <http://e/B> <{g}> .\n<{subject}> <{RDFS}label> \"x\" <{g}> .\n<{subject}> <http://e/p> <http://e/o> .\n"
            );
            store.add_dataset(Bytes::from(body), RdfFormat::NQuads, "http://e/".into()).await.unwrap();
        }
        _ => {
            // The axioms change: a class hierarchy link comes or goes.
            let verb = if next(2) == 0 { "INSERT" } else { "DELETE" };
            update(
                store,
                &format!("{verb} DATA {{ GRAPH <http://e/onto> {{ <http://e/C> <{RDFS}subClassOf> <http://e/D> }} }}"),
            )
            .await
        }
    }
    label
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_kept_from_changes_equals_the_view_computed_from_scratch() {
    let (store, summary) = kept_store().await;
    let mut next = picks(7);
    for step in 0..150 {
        let kind = next(11);
        let label = write(&store, kind, &mut next).await;
        let kept = summary.current();
        assert_eq!(kept.stamp.generation, store.generation(), "step {step}: the snapshot names the current version");
        let scratch = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || compute(&store)).await.unwrap().unwrap()
        };
        assert_eq!(kept.views.stats, scratch.stats, "step {step} ({label}): counts");
        assert_eq!(kept.views.events, scratch.events, "step {step} ({label}): events");
        assert_eq!(kept.views.featured().len(), scratch.featured().len(), "step {step} ({label}): featured");
        assert_eq!(
            kept.views.featured().iter().map(|f| &f.iri).collect::<Vec<_>>(),
            scratch.featured().iter().map(|f| &f.iri).collect::<Vec<_>>(),
            "step {step} ({label}): featured"
        );
        assert_eq!(kept.views.terms, scratch.terms, "step {step} ({label}): ontology terms");
        assert_eq!(inferred_now(&store), entailed_from_scratch(&store), "step {step} ({label}): inferred graph");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_file_reloaded_changes_the_views_as_a_write_would() {
    let (store, summary) = kept_store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ttl");
    let file = |body: &str| {
        std::fs::write(&path, body).unwrap();
        crate::sources::discover(std::slice::from_ref(&path)).unwrap()
    };
    for body in [
        "<http://e/x> a <http://e/A> ; <http://www.w3.org/2000/01/rdf-schema#label> \"x\" .",
        "<http://e/x> a <http://e/C> . <http://e/y> <http://e/p> <http://e/z> .",
        "",
    ] {
        let files = file(body);
        let s2 = store.clone();
        tokio::task::spawn_blocking(move || s2.sync_sources(&files)).await.unwrap().unwrap();
        let s2 = store.clone();
        let scratch = tokio::task::spawn_blocking(move || compute(&s2)).await.unwrap().unwrap();
        assert_eq!(summary.current().views, scratch, "{body}");
        assert_eq!(inferred_now(&store), entailed_from_scratch(&store), "{body}");
    }
}
