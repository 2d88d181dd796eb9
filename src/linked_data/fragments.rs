//! Triple Pattern Fragments (Linked Data Fragments, TPF 1.0): parsing the
//! selector, reading one page of matching triples over the union of all graphs
//! (each triple once), and the metadata and controls (hydra) a TPF client needs.

use crate::error::AppError;
use crate::store::{QuadReader, StoreError};
use oxigraph::model::{BlankNode, Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use std::str::FromStr;

/// One page of a fragment: its triples, the count of matches (exact, or at
/// least this many when `exact` is false).
pub use crate::store::TriplePage as Page;

/// Reads the page of `selector` starting at `offset` over the union of all
/// graphs, each triple once, counting matches up to `count_cap` and for at most
/// `count_budget` once the page is known: past either, the count is a lower
/// bound (TPF counts are estimates). See [`QuadReader::triple_page`].
pub fn read(
    reader: &QuadReader<'_>,
    selector: &Selector,
    offset: usize,
    limit: usize,
    count_cap: usize,
    count_budget: std::time::Duration,
) -> Result<Page, StoreError> {
    let pattern = (selector.subject.as_ref(), selector.predicate.as_ref(), selector.object.as_ref());
    reader.triple_page(pattern, offset, limit, count_cap, count_budget)
}

pub const PAGE_SIZE: usize = 100;
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const VOID: &str = "http://rdfs.org/ns/void#";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// A parsed fragment request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    pub subject: Option<NamedOrBlankNode>,
    pub predicate: Option<NamedNode>,
    pub object: Option<Term>,
    pub page: usize,
}

/// A value in TPF's explicit representation: an IRI as is, a literal quoted
/// (`"v"`, `"v"@en`, `"v"^^<dt>` or `"v"^^dt`), empty or `?var` for any.
fn term(name: &str, value: &str) -> Result<Option<Term>, AppError> {
    let value = value.trim();
    if value.is_empty() || value.starts_with('?') {
        return Ok(None);
    }
    let bad = |e: String| AppError::BadRequest(format!("`{name}`: {value:?} is not an IRI or a quoted literal: {e}"));
    if value.starts_with('"') {
        let end = value.rfind('"').filter(|&i| i > 0).ok_or_else(|| bad("unterminated literal".into()))?;
        let lexical = &value[1..end];
        let rest = &value[end + 1..];
        let literal = if let Some(lang) = rest.strip_prefix('@') {
            Literal::new_language_tagged_literal(lexical, lang).map_err(|e| bad(e.to_string()))?
        } else if let Some(dt) = rest.strip_prefix("^^") {
            let dt = dt.trim_start_matches('<').trim_end_matches('>');
            Literal::new_typed_literal(lexical, NamedNode::new(dt).map_err(|e| bad(e.to_string()))?)
        } else if rest.is_empty() {
            Literal::new_simple_literal(lexical)
        } else {
            return Err(bad(format!("unexpected {rest:?} after the literal")));
        };
        return Ok(Some(literal.into()));
    }
    if let Some(id) = value.strip_prefix("_:") {
        return BlankNode::new(id).map(|b| Some(b.into())).map_err(|e| bad(e.to_string()));
    }
    let iri = value.trim_start_matches('<').trim_end_matches('>');
    NamedNode::new(iri).map(|n| Some(n.into())).map_err(|e| bad(e.to_string()))
}

impl Selector {
    pub fn parse(query: Option<&str>) -> Result<Self, AppError> {
        let mut selector = Selector { page: 1, ..Selector::default() };
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "subject" => {
                    selector.subject = match term("subject", &value)? {
                        None => None,
                        Some(Term::NamedNode(n)) => Some(n.into()),
                        Some(Term::BlankNode(b)) => Some(b.into()),
                        Some(_) => return Err(AppError::BadRequest("`subject` cannot be a literal".into())),
                    }
                }
                "predicate" => {
                    selector.predicate = match term("predicate", &value)? {
                        None => None,
                        Some(Term::NamedNode(n)) => Some(n),
                        Some(_) => return Err(AppError::BadRequest("`predicate` must be an IRI".into())),
                    }
                }
                "object" => selector.object = term("object", &value)?,
                "page" => {
                    selector.page = usize::from_str(&value).ok().filter(|p| *p >= 1).ok_or_else(|| {
                        AppError::BadRequest(format!("`page` must be a whole number from 1, got {value:?}"))
                    })?
                }
                _ => {}
            }
        }
        Ok(selector)
    }

    fn explicit(term: &Term) -> String {
        match term {
            Term::NamedNode(n) => n.as_str().to_owned(),
            other => other.to_string(),
        }
    }

    /// The URL of this selector at `page` (`/fragments?…&page=N`).
    pub fn url(&self, base: &str, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &self.subject {
            query.append_pair("subject", &Self::explicit(&s.clone().into()));
        }
        if let Some(p) = &self.predicate {
            query.append_pair("predicate", p.as_str());
        }
        if let Some(o) = &self.object {
            query.append_pair("object", &Self::explicit(o));
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            format!("{base}/fragments")
        } else {
            format!("{base}/fragments?{query}")
        }
    }
}

/// The hydra/VoID metadata and controls of a fragment page.
pub fn metadata(selector: &Selector, base: &str, total: usize, has_next: bool) -> Vec<Triple> {
    let n = |ns: &str, local: &str| NamedNode::new_unchecked(format!("{ns}{local}"));
    let dataset: NamedOrBlankNode = NamedNode::new_unchecked(format!("{base}/fragments#dataset")).into();
    let fragment: NamedOrBlankNode = NamedNode::new_unchecked(selector.url(base, 1)).into();
    let page: NamedOrBlankNode = NamedNode::new_unchecked(selector.url(base, selector.page)).into();
    let mut t = Vec::new();
    let mut add = |s: &NamedOrBlankNode, p: NamedNode, o: Term| t.push(Triple::new(s.clone(), p, o));
    add(&dataset, n(RDF, "type"), n(VOID, "Dataset").into());
    add(&dataset, n(RDF, "type"), n(HYDRA, "Collection").into());
    add(&dataset, n(VOID, "subset"), page.clone().into());
    add(
        &dataset,
        n(VOID, "uriLookupEndpoint"),
        Literal::new_simple_literal(format!("{base}/fragments{{?subject,predicate,object}}")).into(),
    );
    let search: NamedOrBlankNode = BlankNode::default().into();
    add(&dataset, n(HYDRA, "search"), search.clone().into());
    add(
        &search,
        n(HYDRA, "template"),
        Literal::new_simple_literal(format!("{base}/fragments{{?subject,predicate,object}}")).into(),
    );
    add(&search, n(HYDRA, "variableRepresentation"), n(HYDRA, "ExplicitRepresentation").into());
    for (variable, property) in [("subject", "subject"), ("predicate", "predicate"), ("object", "object")] {
        let mapping: NamedOrBlankNode = BlankNode::default().into();
        add(&search, n(HYDRA, "mapping"), mapping.clone().into());
        add(&mapping, n(HYDRA, "variable"), Literal::new_simple_literal(variable).into());
        add(&mapping, n(HYDRA, "property"), n(RDF, property).into());
    }
    add(&page, n(RDF, "type"), n(HYDRA, "PartialCollectionView").into());
    add(&page, n(VOID, "subset"), fragment.clone().into());
    add(&page, n(HYDRA, "totalItems"), Literal::from(total as i64).into());
    add(&page, n(VOID, "triples"), Literal::from(total as i64).into());
    add(&page, n(HYDRA, "itemsPerPage"), Literal::from(PAGE_SIZE as i64).into());
    add(&page, n(HYDRA, "first"), NamedNode::new_unchecked(selector.url(base, 1)).into());
    if selector.page > 1 {
        add(&page, n(HYDRA, "previous"), NamedNode::new_unchecked(selector.url(base, selector.page - 1)).into());
    }
    if has_next {
        add(&page, n(HYDRA, "next"), NamedNode::new_unchecked(selector.url(base, selector.page + 1)).into());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KgStore, StoreLocation, StoreOptions, UpdateJob};
    use std::time::Duration;

    /// Counts are exact up to the cap while there is time; past the time budget
    /// they are a lower bound, and the page and its next link are still right.
    #[tokio::test]
    async fn counts_stop_at_the_cap_or_the_time_budget_once_the_page_is_known() {
        let store = KgStore::open(&StoreLocation::Memory, StoreOptions::default()).unwrap();
        let triples: String = (0..3000).map(|i| format!("<http://a> <http://p> {i} . ")).collect();
        let text = format!("INSERT DATA {{ GRAPH <http://g> {{ {triples} }} }}");
        store.update(UpdateJob { text, base: None, dataset: Default::default() }).await.unwrap();
        let read = |page: usize, cap: usize, budget: Duration| {
            let store = store.clone();
            async move {
                let selector = Selector::parse(Some(&format!("subject=http%3A%2F%2Fa&page={page}"))).unwrap();
                store
                    .read("test", "test", move |r| read(r, &selector, (page - 1) * PAGE_SIZE, PAGE_SIZE, cap, budget))
                    .await
                    .unwrap()
            }
        };
        let whole = read(1, 100_000, Duration::from_secs(60)).await;
        assert_eq!((whole.triples.len(), whole.total, whole.exact), (PAGE_SIZE, 3000, true));
        let capped = read(1, 500, Duration::from_secs(60)).await;
        assert_eq!((capped.total, capped.exact), (500, false));
        let hurried = read(1, 100_000, Duration::ZERO).await;
        assert_eq!((hurried.triples.len(), hurried.total, hurried.exact), (PAGE_SIZE, 1024, false));
        let deep = read(29, 500, Duration::ZERO).await;
        assert_eq!(deep.triples, read(29, 100_000, Duration::from_secs(60)).await.triples);
        assert!(deep.total > 29 * PAGE_SIZE, "a page past the cap still knows a next one follows");
        assert_eq!(read(30, 500, Duration::ZERO).await.total, 3000, "the last page counts to the end");
    }

    #[test]
    fn selectors_parse_explicit_representation() {
        let s = Selector::parse(Some("subject=http%3A%2F%2Fa&object=%22x%22%40en&page=2")).unwrap();
        assert_eq!(s.subject.unwrap().to_string(), "<http://a>");
        assert_eq!(s.object.unwrap().to_string(), "\"x\"@en");
        assert_eq!(s.page, 2);
        let s = Selector::parse(Some(
            "object=%221%22%5E%5Ehttp%3A%2F%2Fwww.w3.org%2F2001%2FXMLSchema%23integer&predicate=%3Fp",
        ))
        .unwrap();
        assert_eq!(s.object.unwrap().to_string(), "\"1\"^^<http://www.w3.org/2001/XMLSchema#integer>");
        assert!(s.predicate.is_none());
        for bad in
            ["subject=not%20an%20iri", "predicate=%22x%22", "object=%22x", "page=0", "page=x", "subject=%22lit%22"]
        {
            assert_eq!(Selector::parse(Some(bad)).unwrap_err().status().as_u16(), 400, "{bad}");
        }
    }
}
