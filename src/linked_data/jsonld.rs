//! Compacted JSON-LD for linked-data documents: a `@context` of our prefixes
//! plus `id`/`type` aliases, one node object per subject, IRIs as CURIEs where a
//! prefix fits. Plain enough for a JavaScript developer (`node["rdfs:label"]`),
//! and valid JSON-LD that any processor expands back to the same graph.

use crate::sparql::results::PREFIXES;
use oxigraph::model::{Term, Triple};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn compact(iri: &str) -> String {
    PREFIXES
        .iter()
        .find_map(|(p, ns)| {
            iri.strip_prefix(ns)
                .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .map(|l| format!("{p}:{l}"))
        })
        .unwrap_or_else(|| iri.to_owned())
}

fn node_id(term: &str) -> String {
    compact(term)
}

fn value(term: &Term) -> Value {
    match term {
        Term::NamedNode(n) => json!({ "id": node_id(n.as_str()) }),
        Term::BlankNode(b) => json!({ "id": format!("_:{}", b.as_str()) }),
        Term::Literal(l) => {
            if let Some(lang) = l.language() {
                json!({ "@value": l.value(), "@language": lang })
            } else if l.datatype().as_str() == "http://www.w3.org/2001/XMLSchema#string" {
                Value::from(l.value())
            } else {
                json!({ "@value": l.value(), "@type": compact(l.datatype().as_str()) })
            }
        }
        #[allow(unreachable_patterns)]
        other => Value::from(other.to_string()),
    }
}

/// The triples as a compacted JSON-LD document.
pub fn document(triples: &[Triple]) -> Value {
    let mut nodes: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for t in triples {
        let id = match &t.subject {
            oxigraph::model::NamedOrBlankNode::NamedNode(n) => node_id(n.as_str()),
            oxigraph::model::NamedOrBlankNode::BlankNode(b) => format!("_:{}", b.as_str()),
        };
        let node = nodes.entry(id.clone()).or_insert_with(|| {
            let mut m = Map::new();
            m.insert("id".into(), Value::from(id.clone()));
            m
        });
        let (key, v) = if t.predicate.as_str() == crate::vocab::RDF_TYPE {
            match &t.object {
                Term::NamedNode(n) => ("type".to_owned(), Value::from(compact(n.as_str()))),
                other => (compact(t.predicate.as_str()), value(other)),
            }
        } else {
            (compact(t.predicate.as_str()), value(&t.object))
        };
        match node.get_mut(&key) {
            Some(Value::Array(values)) => {
                if !values.contains(&v) {
                    values.push(v)
                }
            }
            Some(existing) => {
                if *existing != v {
                    let old = existing.take();
                    *existing = Value::Array(vec![old, v]);
                }
            }
            None => {
                node.insert(key, v);
            }
        }
    }
    let mut context = Map::new();
    context.insert("id".into(), Value::from("@id"));
    context.insert("type".into(), Value::from("@type"));
    for (prefix, ns) in PREFIXES {
        context.insert((*prefix).into(), Value::from(*ns));
    }
    json!({ "@context": context, "@graph": nodes.into_values().map(Value::Object).collect::<Vec<_>>() })
}
