//! Graphs derived by rule: each `CONSTRUCT` query in the rules folder
//! (`queries/rules/*.rq` by default) keeps the named graph
//! `https://w3id.org/treaty-kg/graph/derived/{file name}` equal to its result
//! over the union of the data. So a membership that follows from other facts
//! (the NATO members bordering Russia or Belarus) is computed, never listed by
//! hand, and follows every write.
//!
//! On the embedded store a rule runs inside each write's transaction whose
//! change touches one of the predicates its pattern reads (read from its
//! algebra; a pattern with a variable predicate runs after every write), and
//! the graph is changed by exactly what differs. Over a remote engine it runs
//! after every write made through this server, as one update. A rule must not
//! read its own graph (its output would feed it).

use crate::store::{Derivation, Derived, KgStore, Recorder, StoreError, UpdateJob};
use oxigraph::model::{GraphNameRef, NamedNode, Quad, Term, Triple};
use spargebra::algebra::GraphPattern;
use spargebra::term::{NamedNodePattern, TermPattern};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Where the graphs derived by rule are named.
pub const DERIVED_GRAPHS: &str = "https://w3id.org/treaty-kg/graph/derived/";

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

/// Why a rule does not load: which file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("rule {rule}: {reason}")]
    Invalid { rule: String, reason: String },
}

fn invalid(rule: &str, reason: impl ToString) -> RuleError {
    RuleError::Invalid { rule: rule.to_owned(), reason: reason.to_string() }
}

/// One rule: its query, its graph, and what it reads.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub text: String,
    pub graph: NamedNode,
    /// The predicates its pattern reads (`None`: any, a variable predicate),
    /// and the classes it reads instances of.
    reads: Option<(HashSet<String>, HashSet<String>)>,
}

impl Rule {
    /// A rule from its file's text; `Err` says why it is not one.
    fn parse(name: &str, text: &str) -> Result<Self, RuleError> {
        let query = spargebra::SparqlParser::new().parse_query(text).map_err(|e| invalid(name, e))?;
        let spargebra::Query::Construct { pattern, .. } = &query else {
            return Err(invalid(name, "a rule is a CONSTRUCT query"));
        };
        let mut predicates = HashSet::new();
        let mut classes = HashSet::new();
        let any = !reads(pattern, &mut predicates, &mut classes);
        let graph = NamedNode::new(format!("{DERIVED_GRAPHS}{name}")).map_err(|e| invalid(name, e))?;
        Ok(Rule { name: name.to_owned(), text: text.to_owned(), graph, reads: (!any).then_some((predicates, classes)) })
    }

    /// Whether a changed statement may change what the rule derives.
    fn concerns(&self, quad: &Quad) -> bool {
        if quad.graph_name == self.graph.clone().into() {
            return false;
        }
        match &self.reads {
            None => true,
            Some((predicates, classes)) => {
                predicates.contains(quad.predicate.as_str())
                    && (quad.predicate.as_str() != RDF_TYPE
                        || classes.is_empty()
                        || matches!(&quad.object, Term::NamedNode(c) if classes.contains(c.as_str())))
            }
        }
    }

    /// The update that makes the rule's graph its result (over an engine):
    /// the graph dropped, then the rule's template inserted into it. Written
    /// out by hand (engines' parsers differ: Virtuoso refuses a `.` after a
    /// `GRAPH` block in a template, which a serializer writes).
    fn update(&self) -> Result<String, RuleError> {
        let query = spargebra::SparqlParser::new().parse_query(&self.text).map_err(|e| invalid(&self.name, e))?;
        let spargebra::Query::Construct { template, pattern, .. } = &query else {
            return Err(invalid(&self.name, "a rule is a CONSTRUCT query"));
        };
        let template: Vec<String> = template.iter().map(|t| format!("{t} .")).collect();
        let select = spargebra::Query::Select { dataset: None, pattern: pattern.clone(), base_iri: None }.to_string();
        let at = select.find('{').ok_or_else(|| invalid(&self.name, "no pattern"))?;
        let graph = self.graph.as_str();
        Ok(format!(
            "DROP SILENT GRAPH <{graph}> ;\nINSERT {{ GRAPH <{graph}> {{ {} }} }} WHERE {}",
            template.join(" "),
            &select[at..]
        ))
    }
}

/// The triples a `CONSTRUCT` gives, as N-Triples lines.
async fn triples(store: &KgStore, query: &str) -> Result<HashSet<String>, StoreError> {
    let job = crate::store::QueryJob::text(query, "rule");
    let format = crate::sparql::results::OutputFormat::Rdf(oxigraph::io::RdfFormat::NTriples);
    let answer = store.query_capped(job, format, 1_000_000).await?;
    Ok(String::from_utf8_lossy(&answer.body).lines().map(str::to_owned).collect())
}

/// Adds the predicates `pattern` reads, and the classes its `rdf:type`
/// patterns name (left empty when one of them has a variable class: any);
/// `false` when it reads a variable predicate or a path (any predicate).
fn reads(pattern: &GraphPattern, predicates: &mut HashSet<String>, classes: &mut HashSet<String>) -> bool {
    let (mut fixed, mut any_class) = (true, false);
    crate::sparql::visit(pattern, &mut |p| match p {
        GraphPattern::Bgp { patterns } => {
            for t in patterns {
                match &t.predicate {
                    NamedNodePattern::NamedNode(n) => {
                        predicates.insert(n.as_str().to_owned());
                        match &t.object {
                            TermPattern::NamedNode(c) if n.as_str() == RDF_TYPE => {
                                classes.insert(c.as_str().to_owned());
                            }
                            _ if n.as_str() == RDF_TYPE => any_class = true,
                            _ => {}
                        }
                    }
                    NamedNodePattern::Variable(_) => fixed = false,
                }
            }
        }
        GraphPattern::Path { .. } => fixed = false,
        _ => {}
    });
    if any_class {
        classes.clear();
    }
    fixed
}

/// The rules of a folder (none when it does not exist), by file name.
pub fn discover(dir: &Path) -> Result<Vec<Rule>, RuleError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut rules = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| RuleError::Read { path: dir.display().to_string(), source })?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rq") {
            continue;
        }
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| RuleError::Read { path: path.display().to_string(), source })?;
        rules.push(Rule::parse(&name, &text)?);
    }
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rules)
}

/// Keeps the rules' graphs current.
pub struct Rules {
    rules: Vec<Rule>,
    union: bool,
}

impl Rules {
    /// Brings every rule's graph up to date now, then keeps it so.
    pub async fn start(store: &KgStore, rules: Vec<Rule>) -> Result<Arc<Self>, StoreError> {
        let keeper = Arc::new(Rules { rules, union: store.options().union_default_graph });
        if keeper.rules.is_empty() {
            return Ok(keeper);
        }
        if store.derivation() == Derivation::AfterWrite {
            match keeper.run_remote(store).await {
                Ok(()) => {}
                // An engine that does not answer yet: after the next write, then.
                Err(e) if e.is_engine_fault() => {
                    tracing::warn!(error = %e.chain(), "the graphs derived by rule wait for the engine")
                }
                Err(e) => return Err(e),
            }
            let (store2, weak) = (store.clone(), Arc::downgrade(&keeper));
            store.after_writes(false, move |_| {
                if let Some(keeper) = weak.upgrade() {
                    let store = store2.clone();
                    tokio::spawn(async move {
                        if let Err(e) = keeper.run_remote(&store).await {
                            tracing::warn!(error = %e.chain(), "a rule's graph could not be brought up to date");
                        }
                    });
                }
            });
            return Ok(keeper);
        }
        let all = keeper.clone();
        let settled = store.write_derived(&move |recorder| all.settle(recorder, None))?;
        tracing::info!(rules = keeper.rules.len(), changed = settled, "graphs derived by rule are current");
        store.derive(keeper.clone());
        Ok(keeper)
    }

    /// Over an engine: each rule whose result differs from its graph replaces
    /// it (an unchanged one writes nothing, so the engine's data version stays).
    async fn run_remote(&self, store: &KgStore) -> Result<(), StoreError> {
        for rule in &self.rules {
            let stored = format!("CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{}> {{ ?s ?p ?o }} }}", rule.graph.as_str());
            if triples(store, &rule.text).await? == triples(store, &stored).await? {
                continue;
            }
            let text = rule.update().map_err(|e| StoreError::Request(e.to_string()))?;
            store.internal_update(UpdateJob { text, base: None, dataset: Default::default() }).await?;
        }
        Ok(())
    }

    /// Makes each rule's graph (of those `only` names, or all) its result now.
    fn settle(&self, recorder: &mut Recorder<'_>, only: Option<&[usize]>) -> Result<(), StoreError> {
        for (i, rule) in self.rules.iter().enumerate() {
            if only.is_some_and(|only| !only.contains(&i)) {
                continue;
            }
            let graph = GraphNameRef::NamedNode(rule.graph.as_ref());
            let wanted: HashSet<Triple> = recorder.construct(&rule.text, self.union)?.into_iter().collect();
            let present: HashSet<Triple> = recorder
                .quads(None, None, None, Some(graph))?
                .into_iter()
                .map(|q| Triple::new(q.subject, q.predicate, q.object))
                .collect();
            for t in present.difference(&wanted) {
                recorder.remove(t.as_ref().in_graph(graph))?;
            }
            for t in wanted.difference(&present) {
                recorder.insert(t.as_ref().in_graph(graph))?;
            }
        }
        Ok(())
    }
}

impl Derived for Rules {
    fn extend(&self, recorder: &mut Recorder<'_>) -> Result<(), StoreError> {
        let touched: Vec<usize> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| recorder.change().quads().any(|(q, _)| rule.concerns(q)))
            .map(|(i, _)| i)
            .collect();
        if touched.is_empty() {
            return Ok(());
        }
        self.settle(recorder, Some(&touched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "PREFIX org: <http://www.w3.org/ns/org#>
        CONSTRUCT { ?g org:hasMember ?m } WHERE { ?g a <http://e/Grouping> ; <http://e/from> ?o . ?m org:memberOf ?o }";

    #[test]
    fn a_rule_reads_the_predicates_of_its_pattern_and_the_classes_it_names() {
        let rule = Rule::parse("members", RULE).unwrap();
        assert_eq!(rule.graph.as_str(), format!("{DERIVED_GRAPHS}members"));
        let quad = |p: &str, o: &str| {
            Quad::new(
                NamedNode::new_unchecked("http://e/x"),
                NamedNode::new_unchecked(p),
                NamedNode::new_unchecked(o),
                oxigraph::model::GraphName::DefaultGraph,
            )
        };
        assert!(rule.concerns(&quad("http://www.w3.org/ns/org#memberOf", "http://e/nato")));
        assert!(rule.concerns(&quad(RDF_TYPE, "http://e/Grouping")));
        assert!(!rule.concerns(&quad(RDF_TYPE, "http://e/State")), "another class");
        assert!(!rule.concerns(&quad("http://e/other", "http://e/y")));
        let any = Rule::parse("any", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }").unwrap();
        assert!(any.concerns(&quad("http://e/other", "http://e/y")), "a variable predicate reads everything");
        assert!(Rule::parse("select", "SELECT * { ?s ?p ?o }").is_err());
    }

    #[test]
    fn over_an_engine_a_rule_is_one_update_that_parses() {
        let text = Rule::parse("members", RULE).unwrap().update().unwrap();
        assert!(!text.contains("} ."), "no dot after the GRAPH block: {text}");
        spargebra::SparqlParser::new().parse_update(&text).unwrap();
    }
}
