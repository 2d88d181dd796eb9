//! Graphs in the engine: reading, replacing, merging and deleting one (over
//! SPARQL, or the engine's own Graph Store with `--remote-store`), adding a
//! dataset, and the ledger.

use super::*;

impl Remote {
    /// Writes one graph (or every named graph's quads, for `None`) in `format`.
    pub fn write_graph_to(
        &self,
        target: Option<&GraphTarget>,
        format: RdfFormat,
        writer: impl Write,
        guard: &RunningGuard,
    ) -> std::io::Result<()> {
        let io = |e: StoreError| std::io::Error::other(e.chain());
        match target {
            Some(target) if self.config.store.is_some() => {
                let url = graph_store_url(self.config.store.as_deref().unwrap_or_default(), target);
                let exchange = Exchange {
                    url: &url,
                    method: reqwest::Method::GET,
                    body: Body::None,
                    accept: "application/n-triples",
                };
                let response = self.client.send(&exchange, Some(guard)).map_err(io)?;
                let quads = RdfParser::from_format(RdfFormat::NTriples)
                    .for_reader(body_reader(response, Some(guard.token.clone())))
                    .map(|q| q.map_err(|e| oxigraph::store::StorageError::Other(Box::new(BadAnswer(e.to_string())))));
                results::write_graph(quads, format, writer)
            }
            Some(target) => {
                // SELECT, not CONSTRUCT: an engine that cuts answers (Virtuoso)
                // says so for SELECT only, and `quads` then reads on page by page.
                let graph = target.as_ref().into_owned();
                let quads = self.quads(None, None, None, Some(&graph), guard).map_err(io)?;
                let quads = quads.map(|q| {
                    q.map(|q| Quad::new(q.subject, q.predicate, q.object, GraphName::DefaultGraph))
                        .map_err(|e| oxigraph::store::StorageError::Other(Box::new(e)))
                });
                results::write_graph(quads, format, writer)
            }
            None => {
                let quads = self.quads(None, None, None, None, guard).map_err(io)?;
                let quads = quads.map(|q| q.map_err(|e| oxigraph::store::StorageError::Other(Box::new(e))));
                results::write_dataset(quads, format, writer)
            }
        }
    }

    /// Replaces or merges into a graph: one update request, or one request to
    /// the engine's Graph Store with `--remote-store`. Returns whether the graph
    /// was created, and the subjects a replacement removes statements of, read
    /// just before the write (see [`Self::subjects_of`]: `None` means the whole
    /// graph); none for a merge.
    pub fn write_graph(
        &self,
        target: &GraphTarget,
        quads: &[Quad],
        how: GraphWrite,
        guard: &RunningGuard,
    ) -> Result<(bool, Option<Vec<NamedOrBlankNode>>), StoreError> {
        let replace = how == GraphWrite::Replace;
        let existed = self.graph_exists(target, Some(guard))?;
        let former = match (replace, existed) {
            (true, true) => self.subjects_of(target, guard)?,
            _ => Some(Vec::new()),
        };
        let graph = target.as_ref().into_owned();
        let mut text = String::new();
        if replace {
            match target {
                GraphTarget::Named(g) => writeln!(text, "DROP SILENT GRAPH {g} ;").expect("a String"),
                GraphTarget::Default => text.push_str("DROP SILENT DEFAULT ;\n"),
            }
        }
        let quads: Vec<Quad> = quads
            .iter()
            .map(|q| Quad::new(q.subject.clone(), q.predicate.clone(), q.object.clone(), graph.clone()))
            .collect();
        if let Some(store) = &self.config.store {
            let mut body = Vec::new();
            for q in &quads {
                writeln!(body, "{} {} {} .", q.subject, q.predicate, q.object)
                    .map_err(|e| StoreError::io("serializing", e))?;
            }
            let method = if replace { reqwest::Method::PUT } else { reqwest::Method::POST };
            let url = graph_store_url(store, target);
            let exchange =
                Exchange { url: &url, method, body: Body::Document(body, "application/n-triples"), accept: "*/*" };
            self.client.send(&exchange, Some(guard))?;
            self.bump_ledger(guard)?;
            return Ok((!existed, former));
        }
        text.push_str(&insert_data(&quads));
        self.run_update(&text, &ProtocolDataset::default(), Some(guard))?;
        Ok((!existed, former))
    }

    /// Adds the quads of a dataset in one update request.
    pub fn add_dataset(&self, quads: &[Quad], guard: &RunningGuard) -> Result<usize, StoreError> {
        self.run_update(&insert_data(quads), &ProtocolDataset::default(), Some(guard))?;
        Ok(quads.len())
    }

    /// Deletes a named graph (or empties the default graph); returns the
    /// subjects it held, when they could be listed ([`Self::subjects_of`]).
    pub fn delete_graph(
        &self,
        target: &GraphTarget,
        guard: &RunningGuard,
    ) -> Result<Option<Vec<NamedOrBlankNode>>, StoreError> {
        if !self.graph_exists(target, Some(guard))? {
            return Err(StoreError::GraphNotFound(target.label()));
        }
        let former = self.subjects_of(target, guard)?;
        if let Some(store) = &self.config.store {
            let url = graph_store_url(store, target);
            let exchange = Exchange { url: &url, method: reqwest::Method::DELETE, body: Body::None, accept: "*/*" };
            self.client.send(&exchange, Some(guard))?;
            self.bump_ledger(guard)?;
            return Ok(former);
        }
        let text = match target {
            GraphTarget::Default => "CLEAR SILENT DEFAULT".to_owned(),
            GraphTarget::Named(g) => format!("DROP SILENT GRAPH {g}"),
        };
        self.run_update(&text, &ProtocolDataset::default(), Some(guard))?;
        Ok(former)
    }

    /// The bookkeeping kept in the engine's ledger graph.
    pub fn read_ledger(&self) -> Result<Ledger, StoreError> {
        let text = format!("SELECT ?s ?p ?o WHERE {{ GRAPH <{}> {{ ?s ?p ?o }} }}", vocab::LEDGER_GRAPH);
        let mut ledger = Ledger::default();
        for solution in self.select(text, &ProtocolDataset::default(), None)? {
            let solution = solution.map_err(crate::store::error::from_query_error)?;
            let (Some(Term::NamedNode(s)), Some(Term::NamedNode(p)), Some(o)) =
                (solution.get("s"), solution.get("p"), solution.get("o"))
            else {
                continue;
            };
            let value = match o {
                Term::Literal(l) => l.value().to_owned(),
                Term::NamedNode(n) => n.as_str().to_owned(),
                _ => continue,
            };
            let record = || SourceRecord::default();
            match p.as_str() {
                vocab::SOURCE_FILE => ledger.sources.entry(s.as_str().to_owned()).or_insert_with(record).file = value,
                vocab::CONTENT_HASH => ledger.sources.entry(s.as_str().to_owned()).or_insert_with(record).hash = value,
                vocab::CONTAINS_GRAPH => {
                    ledger.sources.entry(s.as_str().to_owned()).or_insert_with(record).contains.push(value)
                }
                _ => {}
            }
        }
        Ok(ledger)
    }
}
