//! Parsing SPARQL text: the depth pre-scan first, then Oxigraph's parser, with
//! relative IRIs resolved against a base when one is given.
//!
//! The parser recurses, so these functions must run on the deep-stack pool
//! ([`crate::exec`]); the pre-scan guarantees the recursion fits its stack.
//!
//! A query text asked a second time is kept, parsed, for the times after
//! ([`KEPT`] texts of at most [`KEPT_TEXT`] bytes, least recently asked first
//! out): a script looping over the same query, or a query the answer cache
//! cannot keep (it calls `NOW()` or `RAND()`, or the cache is off), is not
//! scanned and parsed again. A text asked once (a crawler's lookups of
//! distinct IRIs) only leaves its hash behind, so it pays no copy of its
//! parse. For a point lookup the parse was a sixth of the server's own work
//! (BENCHMARKS.md, "The front end's tax, again").

use super::depth::{self, TooDeep};
use spargebra::{Query, SparqlParser, SparqlSyntaxError, Update};
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Why SPARQL text was refused.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    TooDeep(#[from] TooDeep),
    #[error(transparent)]
    Syntax(#[from] SparqlSyntaxError),
    #[error("{0}")]
    Base(String),
}

/// How many parsed query texts are kept.
pub const KEPT: usize = 1024;
/// The longest text kept parsed, in bytes: a long text's parse is a small
/// share of its evaluation.
pub const KEPT_TEXT: usize = 4096;

fn parser(base: Option<&str>) -> Result<SparqlParser, ParseError> {
    let parser = SparqlParser::new();
    match base {
        Some(base) => parser.with_base_iri(base).map_err(|e| ParseError::Base(format!("bad base IRI {base}: {e}"))),
        None => Ok(parser),
    }
}

/// Parses a query whose structure is at most `max_depth` deep.
pub fn query(text: &str, base: Option<&str>, max_depth: usize) -> Result<Query, ParseError> {
    let parse = || -> Result<Query, ParseError> {
        depth::scan(text, max_depth)?;
        Ok(parser(base)?.parse_query(text)?)
    };
    // A long text is never kept: not even hashed.
    if text.len() > KEPT_TEXT {
        return parse();
    }
    let asked = Asked { text, base, max_depth };
    let key = key(&asked);
    if let Some(query) = kept().find(key, &asked) {
        return Ok(query);
    }
    let query = parse()?;
    kept().keep(key, &asked, &query);
    Ok(query)
}

/// Parses an update whose structure is at most `max_depth` deep.
pub fn update(text: &str, base: Option<&str>, max_depth: usize) -> Result<Update, ParseError> {
    depth::scan(text, max_depth)?;
    Ok(parser(base)?.parse_update(text)?)
}

/// What a parse depends on.
#[derive(Hash, PartialEq)]
struct Asked<'a> {
    text: &'a str,
    base: Option<&'a str>,
    max_depth: usize,
}

/// A parse kept: what was asked, owned, and its query.
struct Kept {
    text: Box<str>,
    base: Option<Box<str>>,
    max_depth: usize,
    query: Arc<Query>,
}

impl Kept {
    fn answers(&self, asked: &Asked<'_>) -> bool {
        *self.text == *asked.text && self.base.as_deref() == asked.base && self.max_depth == asked.max_depth
    }
}

/// Parsed queries by a hash of what was asked (a hash shared by two texts
/// only costs a parse: the text is compared).
struct KeptParses(Mutex<lru::LruCache<u64, Kept>>);

fn kept() -> &'static KeptParses {
    static KEPT_PARSES: OnceLock<KeptParses> = OnceLock::new();
    KEPT_PARSES.get_or_init(|| KeptParses(Mutex::new(lru::LruCache::new(NonZeroUsize::new(KEPT).expect("non-zero")))))
}

/// How many hashes of texts asked once are remembered.
const SEEN_SLOTS: usize = 4 * KEPT;

/// The hash of a text asked once, in the slot its hash picks: a text whose
/// hash is found in its slot was asked before. A slot taken over by another
/// text costs the first one more parse, no more. Atomics, not a second LRU
/// under the lock: a crawler's lookups of distinct IRIs each put a new hash.
static SEEN: [AtomicU64; SEEN_SLOTS] = [const { AtomicU64::new(0) }; SEEN_SLOTS];

/// Notes that the text of `key` was asked; says whether it had been before.
fn seen_before(key: u64) -> bool {
    let slot = usize::try_from(key % SEEN_SLOTS as u64).unwrap_or_default();
    SEEN[slot].swap(key, Ordering::Relaxed) == key
}

fn key(asked: &Asked<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    asked.hash(&mut hasher);
    hasher.finish()
}

impl KeptParses {
    fn find(&self, key: u64, asked: &Asked<'_>) -> Option<Query> {
        let found = crate::memo::lock(&self.0).get(&key).filter(|k| k.answers(asked)).map(|k| k.query.clone());
        // Cloned outside the lock.
        found.map(|query| (*query).clone())
    }

    /// Keeps `query` if its text was asked before; otherwise notes that it was.
    fn keep(&self, key: u64, asked: &Asked<'_>, query: &Query) {
        if !seen_before(key) {
            return;
        }
        let kept = Kept {
            text: asked.text.into(),
            base: asked.base.map(Into::into),
            max_depth: asked.max_depth,
            query: Arc::new(query.clone()),
        };
        crate::memo::lock(&self.0).put(key, kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_asked_again_is_the_same_query_and_a_different_base_is_not() {
        let text = "SELECT ?s WHERE { ?s <p> ?o } LIMIT 3";
        let asked = Asked { text, base: Some("http://a.example/"), max_depth: 100 };
        let first = query(text, Some("http://a.example/"), 100).unwrap();
        assert!(kept().find(key(&asked), &asked).is_none(), "asked once: only its hash is noted");
        let again = query(text, Some("http://a.example/"), 100).unwrap();
        assert_eq!(kept().find(key(&asked), &asked), Some(first.clone()), "asked twice: kept");
        let third = query(text, Some("http://a.example/"), 100).unwrap();
        assert_eq!(first, again);
        assert_eq!(first, third);
        let elsewhere = query(text, Some("http://b.example/"), 100).unwrap();
        assert_ne!(first, elsewhere, "the base resolves <p> differently");
        assert!(query("SELECT * WHERE { { { ?s ?p ?o } } }", None, 2).is_err(), "too deep, kept or not");
        assert!(query("SELECT * WHERE { { { ?s ?p ?o } } }", None, 10).is_ok());
        assert!(query("SELECT * WHERE { { { ?s ?p ?o } } }", None, 2).is_err(), "kept at 10 deep, still too deep at 2");
    }
}
