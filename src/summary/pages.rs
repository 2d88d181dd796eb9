//! What the pages show besides the counts, read by SPARQL (so the first
//! computation works over any backend) and kept current from each write's
//! change on the embedded store: the timeline's events, the home page's
//! featured resources, and the ontology's terms.
//!
//! Each is a function of a few statements per resource, so a write only
//! re-reads the resources its change names, with the same query restricted to
//! them by `VALUES` (events and featured resources), or, for the ontology,
//! re-reads the terms when the change touches one.

use crate::linked_data::ontology::TermDoc;
use crate::vocab::ONTOLOGY_NS;
use oxigraph::model::{NamedNode, Term};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Rows of a `SELECT`, as the store returns them.
pub type Rows = Vec<Vec<Option<Term>>>;

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";

/// An IRI or a literal's value as text (`None` for blank nodes and unbound cells).
fn text(t: &Option<Term>) -> Option<String> {
    t.as_ref().filter(|t| !matches!(t, Term::BlankNode(_))).map(crate::queries::plain)
}

fn values(subjects: &[NamedNode]) -> String {
    subjects.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------- events --

/// One event of the timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub iri: String,
    pub label: String,
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    /// The date as the source words it ("Tuesday", "next week").
    pub stated: Option<String>,
    /// How precise `date` is, when the data says: the last segment of its
    /// `tkg:datePrecision` concept (`day`, `week`).
    #[serde(default)]
    pub precision: Option<String>,
}

/// The predicates an event is read from: a change to one of them re-reads its subject.
pub const EVENT_PREDICATES: [&str; 5] = [
    RDF_TYPE,
    LABEL,
    "https://w3id.org/treaty-kg/ontology#date",
    "https://w3id.org/treaty-kg/ontology#dateAsStated",
    "https://w3id.org/treaty-kg/ontology#datePrecision",
];

/// The events (of `only`, or all), each with its calendar date when known
/// and its date as stated.
pub fn events_query(only: Option<&[NamedNode]>) -> String {
    let only = only.map(|s| format!("VALUES ?e {{ {} }}", values(s))).unwrap_or_default();
    format!(
        "PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
        SELECT ?e (MIN(?l) AS ?label) (MIN(?d) AS ?date) (MIN(?s) AS ?stated) (MIN(STR(?p)) AS ?precision) WHERE {{
          {only}
          ?e a ?type ; rdfs:label ?l . ?type rdfs:subClassOf* tkg:Event .
          FILTER(LANG(?l) = 'en' || LANG(?l) = '')
          OPTIONAL {{ ?e tkg:date ?d FILTER(DATATYPE(?d) = xsd:date) }}
          OPTIONAL {{ ?e tkg:dateAsStated ?s }}
          OPTIONAL {{ ?e tkg:datePrecision ?p }}
        }} GROUP BY ?e"
    )
}

/// The events of the rows of [`events_query`].
pub fn events_from(rows: Rows) -> BTreeMap<String, Event> {
    rows.into_iter()
        .filter_map(|r| {
            let iri = text(&r[0])?;
            let precision = r.get(4).and_then(text).map(|p| crate::linked_data::document::local_name(&p));
            Some((iri.clone(), Event { iri, label: text(&r[1])?, date: text(&r[2]), stated: text(&r[3]), precision }))
        })
        .collect()
}

/// In timeline order: undated first, then by date, label and IRI.
pub fn ordered_events(events: &BTreeMap<String, Event>) -> Vec<Event> {
    let mut list: Vec<Event> = events.values().cloned().collect();
    list.sort_by(|a, b| (&a.date, &a.label, &a.iri).cmp(&(&b.date, &b.label, &b.iri)));
    list
}

// ------------------------------------------------------------- featured --

/// The kinds of resource the home page features: class and heading.
pub const FEATURED_KINDS: [(&str, &str); 4] = [
    ("https://w3id.org/treaty-kg/ontology#SovereignState", "States"),
    ("https://w3id.org/treaty-kg/ontology#Treaty", "Treaties"),
    ("https://w3id.org/treaty-kg/ontology#Official", "Officials"),
    ("https://w3id.org/treaty-kg/ontology#MilitaryAlliance", "Alliances"),
];

/// How many of each kind the home page lists (by label); the rest are a link away.
pub const FEATURED_PER_KIND: usize = 12;

/// How many of each kind are kept, so that removing some rarely needs a re-read.
const KEPT_PER_KIND: usize = 4 * FEATURED_PER_KIND;

/// The first resources of one kind by label.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Kind {
    /// (label, IRI), the first ones in that order.
    pub first: BTreeSet<(String, String)>,
    /// `first` holds every resource of the kind.
    pub complete: bool,
}

/// The first resources of a class by label (`limit` of them), or of the
/// resources `only` among them (all of those).
pub fn featured_query(class: &str, only: Option<&[NamedNode]>) -> String {
    let (only, limit) = match only {
        Some(s) => (format!("VALUES ?s {{ {} }}", values(s)), String::new()),
        None => (String::new(), format!("ORDER BY STR(?l) STR(?s) LIMIT {KEPT_PER_KIND}")),
    };
    // The grouping in a subquery: engines differ on ordering by an aggregate's alias.
    format!(
        "SELECT ?s ?l WHERE {{ {{ SELECT ?s (MIN(?label) AS ?l) WHERE {{ {only}
           ?s a <{class}> ; <{LABEL}> ?label .
           FILTER(isIRI(?s) && (LANG(?label) = 'en' || LANG(?label) = ''))
         }} GROUP BY ?s }} }} {limit}"
    )
}

fn kind_entries(rows: Rows) -> Vec<(String, String)> {
    rows.into_iter().filter_map(|r| Some((text(&r[1])?, text(&r[0])?))).collect()
}

impl Kind {
    /// The kind read whole from the rows of [`featured_query`] without `only`.
    pub fn from_rows(rows: Rows) -> Self {
        Self::from_entries(kind_entries(rows))
    }

    /// The kind from every (label, IRI) of its resources (or the first
    /// [`KEPT_PER_KIND`] of them in that order).
    pub fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut kind = Kind { first: BTreeSet::new(), complete: true };
        for (label, iri) in entries {
            kind.add(label, iri);
        }
        kind
    }

    /// Adds a resource of the kind, while the kind is read whole.
    pub fn add(&mut self, label: String, iri: String) {
        self.first.insert((label, iri));
        if self.first.len() > KEPT_PER_KIND {
            self.first.pop_last();
        }
        // Full: resources past the kept ones may exist.
        if self.first.len() == KEPT_PER_KIND {
            self.complete = false;
        }
    }

    /// Replaces what is known of `subjects` by their `entries` now (those
    /// still of the kind, with a label). Returns `false` when the kept entries
    /// no longer include the first ones, so the kind must be read whole again.
    pub fn update(&mut self, subjects: &[NamedNode], entries: Vec<(String, String)>) -> bool {
        // Every resource not kept sorts after the last kept one.
        let bound = self.first.iter().next_back().cloned();
        let gone: HashSet<&str> = subjects.iter().map(NamedNode::as_str).collect();
        self.first.retain(|(_, iri)| !gone.contains(iri.as_str()));
        for entry in entries {
            if self.complete || bound.as_ref().is_some_and(|b| &entry < b) {
                self.first.insert(entry);
            }
        }
        while self.first.len() > KEPT_PER_KIND {
            self.first.pop_last();
            self.complete = false;
        }
        self.complete || self.first.len() >= FEATURED_PER_KIND
    }
}

/// A featured resource on the home page.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Featured {
    pub kind: String,
    /// The class of its kind (for the count, and the link to all of them).
    pub class: String,
    pub iri: String,
    pub label: String,
}

/// What the home page features, by kind then label.
pub fn featured(kinds: &BTreeMap<String, Kind>) -> Vec<Featured> {
    let mut list = Vec::new();
    for (class, heading) in FEATURED_KINDS {
        let Some(kind) = kinds.get(class) else { continue };
        for (label, iri) in kind.first.iter().take(FEATURED_PER_KIND) {
            list.push(Featured {
                kind: heading.to_owned(),
                class: class.to_owned(),
                iri: iri.clone(),
                label: label.clone(),
            });
        }
    }
    list.sort_by(|a, b| (&a.kind, &a.label).cmp(&(&b.kind, &b.label)));
    list
}

// ------------------------------------------------------------- ontology --

/// The predicates the ontology page reads of its terms.
pub const TERM_PREDICATES: [&str; 7] = [
    RDF_TYPE,
    LABEL,
    "http://www.w3.org/2000/01/rdf-schema#comment",
    "http://www.w3.org/2000/01/rdf-schema#domain",
    "http://www.w3.org/2000/01/rdf-schema#range",
    "http://www.w3.org/2000/01/rdf-schema#subClassOf",
    "http://www.w3.org/2000/01/rdf-schema#subPropertyOf",
];

/// The ontology's terms: kind, label and comment.
pub fn terms_query() -> String {
    format!(
        "SELECT ?term ?kind ?label ?comment WHERE {{
           ?term a ?kind ; <{LABEL}> ?label .
           OPTIONAL {{ ?term <http://www.w3.org/2000/01/rdf-schema#comment> ?comment }}
           VALUES ?kind {{ <http://www.w3.org/2002/07/owl#Class> <http://www.w3.org/2002/07/owl#ObjectProperty> <http://www.w3.org/2002/07/owl#DatatypeProperty> }}
           FILTER(STRSTARTS(STR(?term), \"{ONTOLOGY_NS}\"))
         }} ORDER BY ?kind ?term"
    )
}

/// How the ontology's terms relate to other terms.
pub fn relations_query() -> String {
    format!(
        "SELECT ?term ?relation ?other WHERE {{
           {{ ?term ?p ?other . VALUES (?p ?relation) {{
               (<http://www.w3.org/2000/01/rdf-schema#domain> \"domain\")
               (<http://www.w3.org/2000/01/rdf-schema#range> \"range\")
               (<http://www.w3.org/2000/01/rdf-schema#subClassOf> \"subclass of\")
               (<http://www.w3.org/2000/01/rdf-schema#subPropertyOf> \"subproperty of\") }} }}
           UNION {{ ?other <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?term . BIND(\"superclass of\" AS ?relation) }}
           FILTER(STRSTARTS(STR(?term), \"{ONTOLOGY_NS}\"))
         }} ORDER BY ?term ?relation ?other"
    )
}

/// The terms from the rows of [`terms_query`] and [`relations_query`].
pub fn terms_from(terms: Rows, relations: Rows) -> Vec<TermDoc> {
    let plain = |t: &Option<Term>| text(t).unwrap_or_default();
    let mut docs: BTreeMap<String, TermDoc> = BTreeMap::new();
    for row in terms {
        let iri = plain(&row[0]);
        let entry = docs.entry(iri.clone()).or_insert_with(|| TermDoc { iri, ..TermDoc::default() });
        entry.kind = crate::linked_data::document::local_name(&plain(&row[1]));
        entry.label = plain(&row[2]);
        entry.comment = plain(&row[3]);
    }
    for row in relations {
        if let Some(doc) = docs.get_mut(&plain(&row[0])) {
            let pair = (plain(&row[1]), plain(&row[2]));
            if !doc.relations.contains(&pair) {
                doc.relations.push(pair);
            }
        }
    }
    docs.into_values().collect()
}

/// Whether a changed statement bears on the ontology page: a statement about
/// one of its terms, or a class declared a subclass of one (an instance typed
/// with a term, `?x a tkg:Treaty`, does not: its use is counted by the statistics).
pub fn touches_terms(subject: &str, predicate: &str, object: &Term) -> bool {
    let of_term = subject.starts_with(ONTOLOGY_NS) && TERM_PREDICATES.contains(&predicate);
    let below_term = predicate == "http://www.w3.org/2000/01/rdf-schema#subClassOf"
        && matches!(object, Term::NamedNode(o) if o.as_str().starts_with(ONTOLOGY_NS));
    of_term || below_term
}

// ------------------------------------------------ read one resource at a time --

/// What the embedded store's pages read of one resource, through quad
/// patterns on the write's transaction (index lookups, no query to plan):
/// what a write changed is re-read so, and the first computation reads every
/// resource the same way, so both give the same answer.
pub mod direct {
    use super::{Event, Kind, LABEL, RDF_TYPE};
    use crate::store::{QuadRead, Recorder, StoreError};
    use oxigraph::model::{GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNode, Term};
    use std::collections::{BTreeMap, HashSet};

    const EVENT: &str = "https://w3id.org/treaty-kg/ontology#Event";
    const SUB_CLASS_OF: &str = "http://www.w3.org/2000/01/rdf-schema#subClassOf";
    const DATE: &str = "https://w3id.org/treaty-kg/ontology#date";
    const DATE_AS_STATED: &str = "https://w3id.org/treaty-kg/ontology#dateAsStated";
    const DATE_PRECISION: &str = "https://w3id.org/treaty-kg/ontology#datePrecision";
    const XSD_DATE: &str = "http://www.w3.org/2001/XMLSchema#date";

    /// Where the pages read: every graph, or the default graph alone.
    #[derive(Clone, Copy)]
    pub struct Scope(pub bool);

    impl Scope {
        fn graph(self) -> Option<GraphNameRef<'static>> {
            (!self.0).then_some(GraphNameRef::DefaultGraph)
        }

        fn objects(self, r: &Recorder<'_>, s: &NamedNode, p: &str) -> Result<Vec<Term>, StoreError> {
            let p = NamedNodeRef::new_unchecked(p);
            Ok(r.quads(Some(s.as_ref().into()), Some(p), None, self.graph())?.into_iter().map(|q| q.object).collect())
        }

        fn subjects(self, r: &Recorder<'_>, p: &str, o: &NamedNode) -> Result<Vec<NamedNode>, StoreError> {
            let p = NamedNodeRef::new_unchecked(p);
            let mut found: Vec<NamedNode> = r
                .quads(None, Some(p), Some(o.as_ref().into()), self.graph())?
                .into_iter()
                .filter_map(|q| match q.subject {
                    NamedOrBlankNode::NamedNode(n) => Some(n),
                    NamedOrBlankNode::BlankNode(_) => None,
                })
                .collect();
            found.sort();
            found.dedup();
            Ok(found)
        }
    }

    /// The least of a resource's labels in English or in no language.
    pub fn label(r: &Recorder<'_>, s: &NamedNode, scope: Scope) -> Result<Option<String>, StoreError> {
        Ok(scope
            .objects(r, s, LABEL)?
            .into_iter()
            .filter_map(|o| match o {
                Term::Literal(l) if matches!(l.language(), None | Some("en")) => Some(l.value().to_owned()),
                _ => None,
            })
            .min())
    }

    /// `tkg:Event` and every class below it.
    pub fn event_classes(r: &Recorder<'_>, scope: Scope) -> Result<HashSet<NamedNode>, StoreError> {
        let mut classes = HashSet::from([NamedNode::new_unchecked(EVENT)]);
        let mut frontier = vec![NamedNode::new_unchecked(EVENT)];
        while let Some(class) = frontier.pop() {
            for sub in scope.subjects(r, SUB_CLASS_OF, &class)? {
                if classes.insert(sub.clone()) {
                    frontier.push(sub);
                }
            }
        }
        Ok(classes)
    }

    /// The classes `s` is an instance of.
    fn types(r: &Recorder<'_>, s: &NamedNode, scope: Scope) -> Result<HashSet<NamedNode>, StoreError> {
        Ok(scope
            .objects(r, s, RDF_TYPE)?
            .into_iter()
            .filter_map(|t| match t {
                Term::NamedNode(c) => Some(c),
                _ => None,
            })
            .collect())
    }

    /// The event `s` is, if it is one (of an event class, with a label).
    pub fn event(
        r: &Recorder<'_>,
        s: &NamedNode,
        classes: &HashSet<NamedNode>,
        scope: Scope,
    ) -> Result<Option<Event>, StoreError> {
        let types = types(r, s, scope)?;
        event_of_types(r, s, &types, classes, scope)
    }

    fn event_of_types(
        r: &Recorder<'_>,
        s: &NamedNode,
        types: &HashSet<NamedNode>,
        classes: &HashSet<NamedNode>,
        scope: Scope,
    ) -> Result<Option<Event>, StoreError> {
        if !types.iter().any(|t| classes.contains(t)) {
            return Ok(None);
        }
        let Some(label) = label(r, s, scope)? else { return Ok(None) };
        let date = scope
            .objects(r, s, DATE)?
            .into_iter()
            .filter_map(|o| match o {
                Term::Literal(l) if l.datatype().as_str() == XSD_DATE => Some(l.value().to_owned()),
                _ => None,
            })
            .min();
        let stated = scope
            .objects(r, s, DATE_AS_STATED)?
            .into_iter()
            .filter_map(|o| match o {
                Term::Literal(l) => Some(l.value().to_owned()),
                Term::NamedNode(n) => Some(n.into_string()),
                _ => None,
            })
            .min();
        let precision = scope
            .objects(r, s, DATE_PRECISION)?
            .into_iter()
            .filter_map(|o| if let Term::NamedNode(n) = o { Some(n.into_string()) } else { None })
            .min()
            .map(|p| crate::linked_data::document::local_name(&p));
        Ok(Some(Event { iri: s.as_str().to_owned(), label, date, stated, precision }))
    }

    /// Calls `each` with every resource of `class`, streamed (a resource
    /// stated in several graphs once).
    fn each_instance(
        r: &Recorder<'_>,
        class: &NamedNode,
        scope: Scope,
        each: &mut dyn FnMut(&NamedNode) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut last: Option<NamedNode> = None;
        let rdf_type = NamedNodeRef::new_unchecked(RDF_TYPE);
        r.each_quad(None, Some(rdf_type), Some(class.as_ref().into()), scope.graph(), &mut |q| {
            let NamedOrBlankNode::NamedNode(s) = q.subject else { return Ok(()) };
            if last.as_ref() != Some(&s) {
                each(&s)?;
                last = Some(s);
            }
            Ok(())
        })
    }

    /// Every event: the resources of each event class, each read once (under
    /// the first of its event classes in IRI order), streamed.
    pub fn events(r: &Recorder<'_>, scope: Scope) -> Result<BTreeMap<String, Event>, StoreError> {
        let classes = event_classes(r, scope)?;
        let mut ordered: Vec<&NamedNode> = classes.iter().collect();
        ordered.sort();
        let mut events = BTreeMap::new();
        for (i, class) in ordered.iter().enumerate() {
            each_instance(r, class, scope, &mut |s| {
                let types = types(r, s, scope)?;
                if ordered[..i].iter().any(|earlier| types.contains(*earlier)) {
                    return Ok(());
                }
                if let Some(event) = event_of_types(r, s, &types, &classes, scope)? {
                    events.insert(event.iri.clone(), event);
                }
                Ok(())
            })?;
        }
        Ok(events)
    }

    /// `s`'s entry among the resources of `class` (label, IRI), if it is one with a label.
    pub fn featured(
        r: &Recorder<'_>,
        s: &NamedNode,
        class: &str,
        scope: Scope,
    ) -> Result<Option<(String, String)>, StoreError> {
        let typed =
            scope.objects(r, s, RDF_TYPE)?.iter().any(|t| matches!(t, Term::NamedNode(c) if c.as_str() == class));
        if !typed {
            return Ok(None);
        }
        Ok(label(r, s, scope)?.map(|l| (l, s.as_str().to_owned())))
    }

    /// The resources of `class`, read whole, streamed (only the first ones kept).
    pub fn kind(r: &Recorder<'_>, class: &str, scope: Scope) -> Result<Kind, StoreError> {
        let mut kind = Kind::from_entries(std::iter::empty());
        each_instance(r, &NamedNode::new_unchecked(class), scope, &mut |s| {
            if let Some(l) = label(r, s, scope)? {
                kind.add(l, s.as_str().to_owned());
            }
            Ok(())
        })?;
        Ok(kind)
    }
}
