//! The inferred graph on the embedded store, kept exact inside every write's
//! transaction from the write's own change.
//!
//! The graph holds, for every subject, what the closed axioms entail and no
//! graph states: `x a S` for each superclass `S` of a class `x` is stated to
//! be in, and `x S o` for each superproperty `S` of a property `P` with
//! `x P o` stated (rules rdfs9 and rdfs7, not chained). "Stated" means in any
//! graph but the inferred one, the default graph included.
//!
//! Each inferred triple depends only on statements with its own subject, so a
//! write can only change the inferred triples it names: for every changed
//! statement `x P o`, the candidates `x S o` for `S` above `P` (and `x P o`
//! itself when `P` is above something); for `x a C`, the candidates `x a S`.
//! Each candidate is then decided against the store as the write left it:
//! kept or added when entailed and not stated, removed otherwise. A write that
//! changes the axioms adds the candidates of every statement using a class or
//! property whose superclasses or superproperties changed (found through the
//! store's indexes, so the work grows with those statements, not with the store).

use super::{closure, INFERRED_GRAPH};
use crate::memo::lock;
use crate::store::{Derived, Pattern, Publish, QuadRead, Recorder, StoreError};
use oxigraph::model::{
    GraphNameRef, Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, NamedOrBlankNodeRef, Quad, QuadRef, Term,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

const RDF_TYPE: NamedNodeRef<'static> = NamedNodeRef::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#type");
const SUB_CLASS_OF: NamedNodeRef<'static> =
    NamedNodeRef::new_unchecked("http://www.w3.org/2000/01/rdf-schema#subClassOf");
const SUB_PROPERTY_OF: NamedNodeRef<'static> =
    NamedNodeRef::new_unchecked("http://www.w3.org/2000/01/rdf-schema#subPropertyOf");
const LABEL: NamedNodeRef<'static> = NamedNodeRef::new_unchecked("http://www.w3.org/2000/01/rdf-schema#label");
const DERIVED_FROM: NamedNodeRef<'static> = NamedNodeRef::new_unchecked("http://www.w3.org/ns/prov#wasDerivedFrom");
const ONTOLOGY: NamedNodeRef<'static> = NamedNodeRef::new_unchecked("https://w3id.org/treaty-kg/ontology");
const DESCRIPTION: &str = "Inferred: the RDFS subclass and subproperty closure of the data";

fn inferred() -> GraphNameRef<'static> {
    GraphNameRef::NamedNode(NamedNodeRef::new_unchecked(INFERRED_GRAPH))
}

fn is_inferred(graph: GraphNameRef<'_>) -> bool {
    matches!(graph, GraphNameRef::NamedNode(g) if g.as_str() == INFERRED_GRAPH)
}

/// One closed relation (of classes or of properties): what is above and below each term.
#[derive(Debug, Clone, Default, PartialEq)]
struct Hierarchy {
    above: HashMap<NamedNode, BTreeSet<NamedNode>>,
    below: HashMap<NamedNode, BTreeSet<NamedNode>>,
}

impl Hierarchy {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut h = Hierarchy::default();
        for (sub, sup) in closure(pairs) {
            let (sub, sup) = (NamedNode::new_unchecked(sub), NamedNode::new_unchecked(sup));
            h.above.entry(sub.clone()).or_default().insert(sup.clone());
            h.below.entry(sup).or_default().insert(sub);
        }
        h
    }

    fn above(&self, term: NamedNodeRef<'_>) -> impl Iterator<Item = &NamedNode> {
        self.above.get(&term.into_owned()).into_iter().flatten()
    }

    fn below(&self, term: NamedNodeRef<'_>) -> impl Iterator<Item = &NamedNode> {
        self.below.get(&term.into_owned()).into_iter().flatten()
    }

    fn is_above_something(&self, term: NamedNodeRef<'_>) -> bool {
        self.below.contains_key(&term.into_owned())
    }

    /// The terms whose superterms differ between `self` and `other`.
    fn changed(&self, other: &Hierarchy) -> Vec<NamedNode> {
        let keys: HashSet<&NamedNode> = self.above.keys().chain(other.above.keys()).collect();
        keys.into_iter().filter(|k| self.above.get(*k) != other.above.get(*k)).cloned().collect()
    }
}

/// The axioms, closed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axioms {
    classes: Hierarchy,
    properties: Hierarchy,
}

/// A triple the inferred graph may have to hold or lose.
type Candidate = (NamedOrBlankNode, NamedNode, Term);

/// Keeps the inferred graph exact inside every write (see the module doc).
#[derive(Default)]
pub struct Entailment {
    /// The axioms as committed.
    axioms: Arc<Mutex<Axioms>>,
    /// The axioms a write in progress changed them to, published at its commit.
    pending: Mutex<Option<Axioms>>,
    /// Writes that changed the inferred graph.
    updates: std::sync::atomic::AtomicU64,
}

impl Entailment {
    /// Starts from the axioms the store holds now.
    pub fn new(axioms: Axioms) -> Self {
        Entailment { axioms: Arc::new(Mutex::new(axioms)), pending: Mutex::default(), updates: Default::default() }
    }

    /// Starts again from `axioms` (read before a whole materialization).
    pub fn reset(&self, axioms: Axioms) {
        *lock(&self.axioms) = axioms;
    }

    /// The candidates of every stated quad in `quads` (read from the store in
    /// batches by the first materialization).
    pub fn candidates_of(&self, quads: &[Quad]) -> Vec<Candidate> {
        let axioms = lock(&self.axioms).clone();
        let mut found = HashSet::new();
        for quad in quads {
            candidates(quad.as_ref(), &axioms, &mut found);
        }
        found.into_iter().collect()
    }

    /// Decides `candidates` against the store as the recorder sees it.
    pub fn settle(&self, recorder: &mut Recorder<'_>, candidates: Vec<Candidate>) -> Result<(), StoreError> {
        let axioms = lock(&self.axioms).clone();
        settle(recorder, candidates, &axioms)?;
        describe(recorder)
    }

    /// The patterns whose quads yield every candidate: the inferred graph
    /// itself, the instances of each class with superclasses, and the
    /// statements of each property with superproperties.
    pub fn patterns(&self) -> Vec<Pattern> {
        let axioms = lock(&self.axioms);
        let mut patterns = vec![Pattern { graph: Some(inferred().into_owned()), ..Pattern::default() }];
        for class in axioms.classes.above.keys() {
            let object = Some(class.clone().into());
            patterns.push(Pattern { predicate: Some(RDF_TYPE.into_owned()), object, ..Pattern::default() });
        }
        for property in axioms.properties.above.keys() {
            patterns.push(Pattern { predicate: Some(property.clone()), ..Pattern::default() });
        }
        patterns
    }

    /// Writes that changed the inferred graph since start.
    pub fn updates(&self) -> u64 {
        self.updates.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Entailment {
    /// Hands `sink` every statement the inferred graph must hold, read from
    /// `recorder` (whose inferred graph is empty): for the instances of each
    /// class with superclasses, each instance's stated types read once per
    /// class it is found under; for the statements of each property with
    /// superproperties, a lookup per superproperty; then the graph's
    /// description when anything was found. Streams: memory does not grow
    /// with the store (a statement found twice is handed twice).
    pub fn entailed(
        &self,
        recorder: &dyn QuadRead,
        sink: &mut dyn FnMut(Quad) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let axioms = lock(&self.axioms).clone();
        let mut found = false;
        for (class, supers) in &axioms.classes.above {
            let mut last: Option<NamedOrBlankNode> = None;
            recorder.each_quad(None, Some(RDF_TYPE), Some(class.as_ref().into()), None, &mut |q| {
                if is_inferred(q.graph_name.as_ref()) || last.as_ref() == Some(&q.subject) {
                    return Ok(());
                }
                let types = stated_types(recorder, &q.subject)?;
                for sup in supers.iter().filter(|s| !types.contains(*s)) {
                    found = true;
                    sink(Quad::new(q.subject.clone(), RDF_TYPE, sup.clone(), inferred()))?;
                }
                last = Some(q.subject);
                Ok(())
            })?;
        }
        for (property, supers) in &axioms.properties.above {
            let mut last: Option<(NamedOrBlankNode, Term)> = None;
            recorder.each_quad(None, Some(property.as_ref()), None, None, &mut |q| {
                if is_inferred(q.graph_name.as_ref())
                    || last.as_ref().is_some_and(|(s, o)| s == &q.subject && o == &q.object)
                {
                    return Ok(());
                }
                for sup in supers {
                    if !stated(recorder, &q.subject, sup.as_ref(), &q.object)? {
                        found = true;
                        sink(Quad::new(q.subject.clone(), sup.clone(), q.object.clone(), inferred()))?;
                    }
                }
                last = Some((q.subject, q.object));
                Ok(())
            })?;
        }
        if found {
            let graph = NamedNodeRef::new_unchecked(INFERRED_GRAPH);
            sink(Quad::new(graph, DERIVED_FROM, ONTOLOGY, inferred()))?;
            sink(Quad::new(
                graph,
                LABEL,
                Literal::new_language_tagged_literal_unchecked(DESCRIPTION, "en"),
                inferred(),
            ))?;
        }
        Ok(())
    }
}

/// Reads the axioms the store holds, closed.
pub fn read_axioms(recorder: &Recorder<'_>) -> Result<Axioms, StoreError> {
    let pairs = |relation: NamedNodeRef<'_>| -> Result<Vec<(String, String)>, StoreError> {
        Ok(recorder
            .quads(None, Some(relation), None, None)?
            .into_iter()
            .filter(|q| !is_inferred(q.graph_name.as_ref()))
            .filter_map(|q| match (q.subject, q.object) {
                (NamedOrBlankNode::NamedNode(a), Term::NamedNode(b)) => Some((a.into_string(), b.into_string())),
                _ => None,
            })
            .collect())
    };
    Ok(Axioms {
        classes: Hierarchy::from_pairs(&pairs(SUB_CLASS_OF)?),
        properties: Hierarchy::from_pairs(&pairs(SUB_PROPERTY_OF)?),
    })
}

impl Derived for Entailment {
    fn extend(&self, recorder: &mut Recorder<'_>) -> Result<(), StoreError> {
        *lock(&self.pending) = None;
        let before = lock(&self.axioms).clone();
        let axioms_changed = recorder.change().quads().any(|(q, _)| {
            (q.predicate.as_ref() == SUB_CLASS_OF || q.predicate.as_ref() == SUB_PROPERTY_OF)
                && !is_inferred(q.graph_name.as_ref())
        });
        let axioms = if axioms_changed { read_axioms(recorder)? } else { before.clone() };
        let mut found = HashSet::new();
        for (quad, _) in recorder.change().quads() {
            candidates(quad.as_ref(), &before, &mut found);
            if axioms_changed {
                candidates(quad.as_ref(), &axioms, &mut found);
            }
        }
        if axioms != before {
            for class in before.classes.changed(&axioms.classes) {
                for quad in recorder.quads(None, Some(RDF_TYPE), Some(class.as_ref().into()), None)? {
                    candidates(quad.as_ref(), &before, &mut found);
                    candidates(quad.as_ref(), &axioms, &mut found);
                }
            }
            for property in before.properties.changed(&axioms.properties) {
                for quad in recorder.quads(None, Some(property.as_ref()), None, None)? {
                    candidates(quad.as_ref(), &before, &mut found);
                    candidates(quad.as_ref(), &axioms, &mut found);
                }
            }
            *lock(&self.pending) = Some(axioms.clone());
        }
        if found.is_empty() && !axioms_changed {
            return Ok(());
        }
        let before = recorder.change().len();
        settle(recorder, found.into_iter().collect(), &axioms)?;
        describe(recorder)?;
        if recorder.change().len() != before {
            self.updates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    fn prepare(&self, _recorder: &Recorder<'_>) -> Result<Option<Publish>, StoreError> {
        let Some(axioms) = lock(&self.pending).take() else { return Ok(None) };
        let committed = self.axioms.clone();
        Ok(Some(Box::new(move |_| *lock(&committed) = axioms)))
    }
}

/// Adds to `found` the inferred triples that `quad` (stated, or inferred and
/// changed by someone) bears on.
fn candidates(quad: QuadRef<'_>, axioms: &Axioms, found: &mut HashSet<Candidate>) {
    if quad.subject == NamedOrBlankNodeRef::NamedNode(NamedNodeRef::new_unchecked(INFERRED_GRAPH))
        && is_inferred(quad.graph_name)
    {
        return;
    }
    let subject = quad.subject.into_owned();
    if quad.predicate == RDF_TYPE {
        if let oxigraph::model::TermRef::NamedNode(class) = quad.object {
            for sup in axioms.classes.above(class) {
                found.insert((subject.clone(), RDF_TYPE.into_owned(), sup.clone().into()));
            }
            if axioms.classes.is_above_something(class) || is_inferred(quad.graph_name) {
                found.insert((subject.clone(), RDF_TYPE.into_owned(), class.into_owned().into()));
            }
        }
        return;
    }
    for sup in axioms.properties.above(quad.predicate) {
        found.insert((subject.clone(), sup.clone(), quad.object.into_owned()));
    }
    if axioms.properties.is_above_something(quad.predicate) || is_inferred(quad.graph_name) {
        found.insert((subject, quad.predicate.into_owned(), quad.object.into_owned()));
    }
}

/// Whether some graph but the inferred one states `s p o`.
fn stated(recorder: &dyn QuadRead, s: &NamedOrBlankNode, p: NamedNodeRef<'_>, o: &Term) -> Result<bool, StoreError> {
    Ok(recorder
        .quads(Some(s.as_ref()), Some(p), Some(o.as_ref()), None)?
        .iter()
        .any(|q| !is_inferred(q.graph_name.as_ref())))
}

/// Makes the inferred graph hold each candidate exactly when it is entailed
/// and not stated. The candidates are taken subject by subject: a subject's
/// stated types are read once for all its type candidates.
fn settle(recorder: &mut Recorder<'_>, candidates: Vec<Candidate>, axioms: &Axioms) -> Result<(), StoreError> {
    let mut by_subject: HashMap<NamedOrBlankNode, Vec<(NamedNode, Term)>> = HashMap::new();
    for (s, p, o) in candidates {
        by_subject.entry(s).or_default().push((p, o));
    }
    for (s, candidates) in by_subject {
        let mut types: Option<HashSet<NamedNode>> = None;
        for (p, o) in candidates {
            let wanted = if p.as_ref() == RDF_TYPE {
                let Term::NamedNode(class) = &o else { continue };
                if types.is_none() {
                    types = Some(stated_types(recorder, &s)?);
                }
                let stated = types.as_ref().expect("read above");
                !stated.contains(class) && axioms.classes.below(class.as_ref()).any(|sub| stated.contains(sub))
            } else {
                let mut entailed = false;
                for sub in axioms.properties.below(p.as_ref()) {
                    if stated(recorder, &s, sub.as_ref(), &o)? {
                        entailed = true;
                        break;
                    }
                }
                entailed && !stated(recorder, &s, p.as_ref(), &o)?
            };
            let quad = QuadRef::new(&s, &p, &o, inferred());
            if wanted {
                recorder.insert(quad)?;
            } else {
                recorder.remove(quad)?;
            }
        }
    }
    Ok(())
}

/// The classes some graph but the inferred one says `s` is an instance of.
fn stated_types(recorder: &dyn QuadRead, s: &NamedOrBlankNode) -> Result<HashSet<NamedNode>, StoreError> {
    Ok(recorder
        .quads(Some(s.as_ref()), Some(RDF_TYPE), None, None)?
        .into_iter()
        .filter(|q| !is_inferred(q.graph_name.as_ref()))
        .filter_map(|q| match q.object {
            Term::NamedNode(c) => Some(c),
            _ => None,
        })
        .collect())
}

/// The graph describes itself while it holds anything else, and not otherwise.
fn describe(recorder: &mut Recorder<'_>) -> Result<(), StoreError> {
    let graph = NamedNodeRef::new_unchecked(INFERRED_GRAPH);
    let holds_something = recorder.holds_other_than(graph.into(), inferred())?;
    let label = Literal::new_language_tagged_literal_unchecked(DESCRIPTION, "en");
    let description =
        [Quad::new(graph, DERIVED_FROM, ONTOLOGY, inferred()), Quad::new(graph, LABEL, label, inferred())];
    for quad in &description {
        if holds_something {
            recorder.insert(quad.as_ref())?;
        } else {
            recorder.remove(quad.as_ref())?;
        }
    }
    Ok(())
}
