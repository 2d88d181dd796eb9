//! Searching: the visitor's text becomes a tantivy query (words, "phrases",
//! prefixes with `*`), hits are collapsed by resource (its best document
//! wins), and each hit is described from all of its documents.
//!
//! Ranking: BM25 with a resource's labels weighing three times its texts and
//! alternative labels twice, so a resource named by the words comes before the
//! ones that only mention them. Every word must match somewhere (AND).

use super::schema::{Fields, FOLDED, STEMMED};
use std::collections::HashMap;
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, Index, Score, Searcher, TantivyDocument, Term};

/// The most words, phrases and prefixes one search may hold.
pub const MAX_UNITS: usize = 16;
/// How many dictionary terms one prefix may stand for.
const MAX_EXPANSIONS: u32 = 64;

/// One part of the visitor's text.
#[derive(Debug, PartialEq)]
pub struct Unit {
    pub text: String,
    /// Quoted: the words in this order.
    pub phrase: bool,
    /// Ends with `*`: the last word is a prefix.
    pub prefix: bool,
}

/// Splits a search text into words, "quoted phrases" and prefixes (`word*`,
/// `"phrase pre"*`). Refuses more than [`MAX_UNITS`].
pub fn units(text: &str) -> Result<Vec<Unit>, String> {
    let mut units = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let phrase = c == '"';
        let mut word = String::new();
        if phrase {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' || c == '*' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        let prefix = chars.peek() == Some(&'*');
        while chars.peek() == Some(&'*') {
            chars.next();
        }
        if !word.trim().is_empty() {
            units.push(Unit { text: word, phrase, prefix });
        }
    }
    if units.len() > MAX_UNITS {
        return Err(format!("the search has {} words or phrases; the limit is {MAX_UNITS}", units.len()));
    }
    Ok(units)
}

/// The tokens `analyzer` makes of `text`.
pub fn tokens(index: &Index, analyzer: &str, text: &str) -> Vec<String> {
    let Some(mut analyzer) = index.tokenizers().get(analyzer) else { return Vec::new() };
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

fn words(field: Field, tokens: &[String]) -> Box<dyn Query> {
    let terms: Vec<Term> = tokens.iter().map(|t| Term::from_field_text(field, t)).collect();
    if terms.len() == 1 {
        Box::new(TermQuery::new(terms.into_iter().next().expect("one"), IndexRecordOption::WithFreqs))
    } else {
        Box::new(PhraseQuery::new(terms))
    }
}

fn prefix(field: Field, tokens: &[String]) -> Box<dyn Query> {
    let mut query = PhrasePrefixQuery::new(tokens.iter().map(|t| Term::from_field_text(field, t)).collect());
    query.set_max_expansions(MAX_EXPANSIONS);
    Box::new(query)
}

fn boosted(clauses: Vec<(Box<dyn Query>, Score)>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        clauses
            .into_iter()
            .map(|(q, boost)| (Occur::Should, Box::new(BoostQuery::new(q, boost)) as Box<dyn Query>))
            .collect(),
    ))
}

/// The query for `units`, and the terms to highlight (stemmed words, prefixes);
/// `None` when no unit holds a word.
pub fn build(index: &Index, f: &Fields, units: &[Unit]) -> Option<(Box<dyn Query>, Highlight)> {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut highlight = Highlight::default();
    for unit in units {
        if unit.prefix {
            let folded = tokens(index, FOLDED, &unit.text);
            if folded.is_empty() {
                continue;
            }
            highlight.prefixes.push(folded.last().cloned().unwrap_or_default());
            let stems = tokens(index, STEMMED, &folded[..folded.len() - 1].join(" "));
            highlight.stems.extend(stems);
            must.push((Occur::Must, boosted(vec![(prefix(f.suggest, &folded), 3.0), (prefix(f.plain, &folded), 1.0)])));
        } else {
            let stems = tokens(index, STEMMED, &unit.text);
            if stems.is_empty() {
                continue;
            }
            highlight.stems.extend(stems.iter().cloned());
            must.push((
                Occur::Must,
                boosted(vec![(words(f.label, &stems), 3.0), (words(f.alt, &stems), 2.0), (words(f.text, &stems), 1.0)]),
            ));
        }
    }
    if must.is_empty() {
        return None;
    }
    Some((Box::new(BooleanQuery::new(must)), highlight))
}

/// What a snippet marks: words whose stem is one of `stems`, or that start with one of `prefixes`.
#[derive(Default, Debug)]
pub struct Highlight {
    pub stems: Vec<String>,
    pub prefixes: Vec<String>,
}

/// The best document of every matching resource, by the resource's key.
pub struct Collapse {
    pub key: &'static str,
}

pub struct CollapseSegment {
    keys: tantivy::columnar::Column<u64>,
    segment: u32,
    best: HashMap<u64, (Score, DocAddress)>,
}

impl Collector for Collapse {
    type Fruit = HashMap<u64, (Score, DocAddress)>;
    type Child = CollapseSegment;

    fn for_segment(&self, segment: u32, reader: &tantivy::SegmentReader) -> tantivy::Result<CollapseSegment> {
        Ok(CollapseSegment { keys: reader.fast_fields().u64(self.key)?, segment, best: HashMap::new() })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut merged: Self::Fruit = HashMap::new();
        for fruit in fruits {
            for (key, hit) in fruit {
                keep_best(&mut merged, key, hit);
            }
        }
        Ok(merged)
    }
}

fn keep_best(best: &mut HashMap<u64, (Score, DocAddress)>, key: u64, hit: (Score, DocAddress)) {
    let entry = best.entry(key).or_insert(hit);
    if hit.0 > entry.0 {
        *entry = hit;
    }
}

impl SegmentCollector for CollapseSegment {
    type Fruit = HashMap<u64, (Score, DocAddress)>;

    fn collect(&mut self, doc: u32, score: Score) {
        if let Some(key) = self.keys.first(doc) {
            keep_best(&mut self.best, key, (score, DocAddress::new(self.segment, doc)));
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.best
    }
}

/// The resources matching `query`, best first: (score, best document), and how many there are.
pub fn ranked(
    searcher: &Searcher,
    query: &dyn Query,
    offset: usize,
    limit: usize,
) -> tantivy::Result<(usize, Vec<(Score, DocAddress)>)> {
    let best = searcher.search(query, &Collapse { key: "key" })?;
    let total = best.len();
    let mut hits: Vec<(Score, DocAddress)> = best.into_values().collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok((total, hits.into_iter().skip(offset).take(limit).collect()))
}

/// Every document of the resource `iri` (at most 64), its best one first.
pub fn documents_of(
    searcher: &Searcher,
    f: &Fields,
    iri: &str,
    best: DocAddress,
) -> tantivy::Result<Vec<TantivyDocument>> {
    let query = TermQuery::new(Term::from_field_text(f.iri, iri), IndexRecordOption::Basic);
    let mut addresses = vec![best];
    for (_, address) in searcher.search(&query, &TopDocs::with_limit(64).order_by_score())? {
        if address != best {
            addresses.push(address);
        }
    }
    addresses.into_iter().map(|a| searcher.doc(a)).collect()
}

/// The string values of `field` in `doc`.
pub fn values(doc: &TantivyDocument, field: Field) -> impl Iterator<Item = &str> {
    doc.get_all(field).filter_map(|v| v.as_str())
}
