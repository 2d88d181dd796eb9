//! Reading the engine: quad patterns (for pages), Triple Pattern Fragments
//! pages, named graphs, its size, the data version, whether a graph exists.

use super::*;
use oxigraph::model::NamedNodeRef;
use std::collections::HashMap;

/// The solutions of a SELECT read past an engine's row limit: when the engine
/// said it cut the answer at `cap` rows (Virtuoso's `ResultSetMaxRows`), the
/// next pages are asked for with `OFFSET`/`LIMIT` until one comes back short.
/// Without `ORDER BY` (sorting every page of a dump would cost a sort per
/// page), so this relies on the engine scanning in the same order each time,
/// as Virtuoso does.
struct Paged<'a> {
    remote: &'a Remote,
    guard: &'a RunningGuard,
    text: String,
    page: QuerySolutionIter<'static>,
    cap: Option<usize>,
    in_page: usize,
    offset: usize,
}

impl Iterator for Paged<'_> {
    type Item = Result<oxigraph::sparql::QuerySolution, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(solution) = self.page.next() {
                self.in_page += 1;
                return Some(solution.map_err(crate::store::error::from_query_error));
            }
            let cap = self.cap.filter(|&cap| self.in_page == cap)?;
            self.offset += cap;
            self.in_page = 0;
            let text = format!("{} OFFSET {} LIMIT {cap}", self.text, self.offset);
            match self.remote.select_reporting(text, &ProtocolDataset::default(), Some(self.guard)) {
                Ok((page, _)) => self.page = page,
                Err(e) => {
                    self.cap = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Remote {
    /// The quads matching a pattern in the engine's named graphs (the ledger
    /// left out). Blank nodes cannot be addressed across requests: a pattern
    /// with one matches nothing.
    pub fn quads<'a>(
        &'a self,
        subject: Option<&NamedOrBlankNode>,
        predicate: Option<&NamedNode>,
        object: Option<&Term>,
        graph: Option<&GraphName>,
        guard: &'a RunningGuard,
    ) -> Result<Box<dyn Iterator<Item = Result<Quad, StoreError>> + 'a>, StoreError> {
        if matches!(subject, Some(NamedOrBlankNode::BlankNode(_))) || matches!(object, Some(Term::BlankNode(_))) {
            return Ok(Box::new(std::iter::empty()));
        }
        let s = subject.map_or("?s".to_owned(), ToString::to_string);
        let p = predicate.map_or("?p".to_owned(), ToString::to_string);
        let o = object.map_or("?o".to_owned(), ToString::to_string);
        let text = match graph {
            Some(GraphName::NamedNode(g)) => format!("SELECT * WHERE {{ GRAPH {g} {{ {s} {p} {o} }} }}"),
            Some(_) => format!("SELECT * WHERE {{ {s} {p} {o} }}"),
            None => format!("SELECT * WHERE {{ GRAPH ?g {{ {s} {p} {o} }} FILTER(?g != <{}>) }}", vocab::LEDGER_GRAPH),
        };
        let (first, cap) = self.select_reporting(text.clone(), &ProtocolDataset::default(), Some(guard))?;
        let solutions = Paged { remote: self, guard, text, page: first, cap, in_page: 0, offset: 0 };
        let (subject, predicate, object, graph) =
            (subject.cloned(), predicate.cloned(), object.cloned(), graph.cloned());
        Ok(Box::new(solutions.map(move |solution| {
            let solution = solution?;
            let pick = |name: &str| solution.get(name).cloned();
            let s = match (&subject, pick("s")) {
                (Some(s), _) => s.clone(),
                (None, Some(Term::NamedNode(n))) => n.into(),
                (None, Some(Term::BlankNode(b))) => b.into(),
                _ => return Err(StoreError::EngineUnavailable("the engine answered a subject that is not one".into())),
            };
            let p = match (&predicate, pick("p")) {
                (Some(p), _) => p.clone(),
                (None, Some(Term::NamedNode(n))) => n,
                _ => {
                    return Err(StoreError::EngineUnavailable("the engine answered a predicate that is not one".into()))
                }
            };
            let o = match (&object, pick("o")) {
                (Some(o), _) => o.clone(),
                (None, Some(o)) => o,
                _ => return Err(StoreError::EngineUnavailable("the engine answered no object".into())),
            };
            let g = match (&graph, pick("g")) {
                (Some(g), _) => g.clone(),
                (None, Some(Term::NamedNode(n))) => n.into(),
                _ => GraphName::DefaultGraph,
            };
            Ok(Quad::new(s, p, o, g))
        })))
    }

    /// The first object each of `subjects` has for `predicate` in the engine's
    /// named graphs, in one query per 256 of them.
    pub fn first_objects(
        &self,
        subjects: &[NamedNode],
        predicate: NamedNodeRef<'_>,
        guard: &RunningGuard,
    ) -> Result<HashMap<NamedNode, Term>, StoreError> {
        let mut found = HashMap::with_capacity(subjects.len());
        for chunk in subjects.chunks(256) {
            let values: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            let text = format!(
                "SELECT ?s ?o WHERE {{ VALUES ?s {{ {} }} GRAPH ?g {{ ?s {predicate} ?o }} }}",
                values.join(" ")
            );
            for solution in self.select(text, &ProtocolDataset::default(), Some(guard))? {
                let solution = solution.map_err(crate::store::error::from_query_error)?;
                if let (Some(Term::NamedNode(s)), Some(o)) = (solution.get("s"), solution.get("o")) {
                    found.entry(s.clone()).or_insert_with(|| o.clone());
                }
            }
        }
        Ok(found)
    }

    /// One page of the distinct triples matching a pattern over the engine's
    /// named graphs, in a stable order, and their count up to `count_cap`
    /// (exact when below it): Triple Pattern Fragments, de-duplicated by the
    /// engine in two queries instead of a lookup per triple.
    pub fn triple_page(
        &self,
        pattern: (Option<&NamedOrBlankNode>, Option<&NamedNode>, Option<&Term>),
        offset: usize,
        limit: usize,
        count_cap: usize,
        guard: &RunningGuard,
    ) -> Result<TriplePage, StoreError> {
        let (subject, predicate, object) = pattern;
        if matches!(subject, Some(NamedOrBlankNode::BlankNode(_))) || matches!(object, Some(Term::BlankNode(_))) {
            return Ok((Vec::new(), 0, true));
        }
        let matches = matching(subject, predicate, object);
        let text =
            format!("SELECT DISTINCT ?s ?p ?o WHERE {{ {matches} }} ORDER BY ?s ?p ?o LIMIT {limit} OFFSET {offset}");
        let mut triples = Vec::new();
        for solution in self.select(text, &ProtocolDataset::default(), Some(guard))? {
            let solution = solution.map_err(crate::store::error::from_query_error)?;
            let (Some(s), Some(Term::NamedNode(p)), Some(o)) =
                (solution.get("s"), solution.get("p"), solution.get("o"))
            else {
                continue;
            };
            let s: NamedOrBlankNode = match s {
                Term::NamedNode(n) => n.clone().into(),
                Term::BlankNode(b) => b.clone().into(),
                _ => continue,
            };
            triples.push(Triple::new(s, p.clone(), o.clone()));
        }
        let count = format!(
            "SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ {matches} }} LIMIT {count_cap} }}"
        );
        let n = self
            .select(count, &ProtocolDataset::default(), Some(guard))?
            .next()
            .transpose()
            .map_err(crate::store::error::from_query_error)?;
        let total = crate::store::engine_count(n.as_ref().and_then(|s| s.get("n")))? as usize;
        Ok((triples, total, total < count_cap))
    }

    /// Up to `limit` named graphs holding statements (the ledger left out).
    /// Grouped rather than `DISTINCT`: over a graph per sentence Virtuoso 7.2.5
    /// answers this at once, and times the `DISTINCT` form out.
    pub fn named_graphs(&self, limit: usize) -> Result<Vec<NamedNode>, StoreError> {
        let text = format!(
            "SELECT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{}>) }} GROUP BY ?g LIMIT {limit}",
            vocab::LEDGER_GRAPH
        );
        let mut graphs = Vec::new();
        for solution in self.select(text, &ProtocolDataset::default(), None)? {
            if let Some(Term::NamedNode(g)) = solution.map_err(crate::store::error::from_query_error)?.get("g") {
                graphs.push(g.clone());
            }
        }
        Ok(graphs)
    }

    /// Whether the engine answers at all.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.ask("ASK {}".into(), &ProtocolDataset::default(), None).map(|_| ())
    }

    /// The statements in the engine's named graphs.
    pub fn len(&self, guard: Option<&RunningGuard>) -> Result<usize, StoreError> {
        let text = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }".to_owned();
        let n = self
            .select(text, &ProtocolDataset::default(), guard)?
            .next()
            .transpose()
            .map_err(crate::store::error::from_query_error)?;
        Ok(crate::store::engine_count(n.as_ref().and_then(|s| s.get("n")))? as usize)
    }

    /// The data version: the last write's id and the statement count.
    pub fn fingerprint(&self) -> Result<String, StoreError> {
        let text = format!(
            "SELECT ?w WHERE {{ GRAPH <{}> {{ <{}> <{}> ?w }} }}",
            vocab::LEDGER_GRAPH,
            vocab::LEDGER_GRAPH,
            vocab::LAST_WRITE
        );
        let last = self
            .select(text, &ProtocolDataset::default(), None)?
            .next()
            .transpose()
            .map_err(crate::store::error::from_query_error)?;
        let last = last.and_then(|s| s.get("w").map(ToString::to_string)).unwrap_or_default();
        let count = self.len(None)?;
        Ok(crate::sources::content_hash(format!("{last}|{count}").as_bytes())[..16].to_owned())
    }

    /// The subjects of a named graph's statements, read just before a write
    /// replaces or deletes the graph, so the data derived from the store is
    /// refreshed for them alone. `None` (refresh the whole graph) for the
    /// default graph (in most engines the union of all graphs), past
    /// [`MAX_SUBJECTS`](crate::store::scope::MAX_SUBJECTS), or when the engine
    /// cut the answer. Not in the write's transaction, as the embedded store's
    /// read is: a write made meanwhile through another treaty-kg, or straight
    /// to the engine, may leave the derived data behind for its subjects.
    pub fn subjects_of(
        &self,
        target: &GraphTarget,
        guard: &RunningGuard,
    ) -> Result<Option<Vec<NamedOrBlankNode>>, StoreError> {
        let GraphTarget::Named(g) = target else { return Ok(None) };
        let most = crate::store::scope::MAX_SUBJECTS;
        let text = format!("SELECT DISTINCT ?s WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }} LIMIT {}", most + 1);
        let (solutions, cap) = self.select_reporting(text, &ProtocolDataset::default(), Some(guard))?;
        let mut subjects = Vec::new();
        for solution in solutions {
            let solution = solution.map_err(crate::store::error::from_query_error)?;
            match solution.get("s") {
                Some(Term::NamedNode(n)) => subjects.push(n.clone().into()),
                // A blank node cannot be named in a later request.
                _ => return Ok(None),
            }
        }
        let cut = cap.is_some_and(|cap| subjects.len() >= cap);
        Ok((!cut && subjects.len() <= most).then_some(subjects))
    }

    /// Whether a graph exists (the default graph always does).
    pub fn graph_exists(&self, target: &GraphTarget, guard: Option<&RunningGuard>) -> Result<bool, StoreError> {
        match target {
            GraphTarget::Default => Ok(true),
            GraphTarget::Named(g) => {
                self.ask(format!("ASK {{ GRAPH {g} {{ ?s ?p ?o }} }}"), &ProtocolDataset::default(), guard)
            }
        }
    }
}
