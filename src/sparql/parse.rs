//! Parsing SPARQL text: the depth pre-scan first, then Oxigraph's parser, with
//! relative IRIs resolved against a base when one is given.
//!
//! The parser recurses, so these functions must run on the deep-stack pool
//! ([`crate::exec`]); the pre-scan guarantees the recursion fits its stack.
//!
//! A query *shape* asked a second time is kept, parsed, for the times after
//! ([`KEPT`] shapes of texts of at most [`KEPT_TEXT`] bytes, least recently
//! asked first out). A shape is the text with the absolute IRIs of its body
//! left open ([`super::template`]): a script or a crawler looping over
//! entities with one query, a query the answer cache cannot keep (it calls
//! `NOW()` or `RAND()`), or any query while the cache is off, is not scanned
//! and parsed again; its IRIs are filled into the kept parse. A text with no
//! such IRI is its own shape. A shape asked once only leaves its hash behind,
//! so it pays no copy of its parse. For a point lookup the parse was a sixth
//! of the server's own work (BENCHMARKS.md, "The front end's tax, again"), and
//! for an ASK of one IRI 15 µs ("a parse for every shape, not every text").

use super::depth::{self, TooDeep};
use super::template;
use oxigraph::model::NamedNode;
use oxiri::Iri;
use spargebra::{Query, SparqlParser, SparqlSyntaxError, Update};
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::ops::Range;
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
    let slots = template::slots(text);
    let asked = Asked { key: template::key(text, &slots), base, max_depth };
    let hash = hash(&asked);
    match kept().find(hash, &asked) {
        // An IRI the parser would refuse goes to the parser, for its error.
        Some(Some(template)) => return template.fill(text, &slots).map_or_else(parse, Ok),
        Some(None) => return parse(),
        None => {}
    }
    let query = parse()?;
    kept().keep(hash, &asked, text, &slots, &query);
    Ok(query)
}

/// Parses an update whose structure is at most `max_depth` deep.
pub fn update(text: &str, base: Option<&str>, max_depth: usize) -> Result<Update, ParseError> {
    depth::scan(text, max_depth)?;
    Ok(parser(base)?.parse_update(text)?)
}

/// What a parse depends on: the text's key (the text itself, or the text
/// with its IRI slots open), the base and the depth allowed.
#[derive(Hash, PartialEq)]
struct Asked<'a> {
    key: Cow<'a, [u8]>,
    base: Option<&'a str>,
    max_depth: usize,
}

/// A parse kept: what was asked, owned, and its template (`None`: the key
/// proved not to be one, and is always parsed).
struct Kept {
    key: Box<[u8]>,
    base: Option<Box<str>>,
    max_depth: usize,
    template: Option<Arc<Template>>,
}

impl Kept {
    fn answers(&self, asked: &Asked<'_>) -> bool {
        *self.key == *asked.key && self.base.as_deref() == asked.base && self.max_depth == asked.max_depth
    }
}

/// A parsed query with its IRI slots holding sentinels (none, for a text
/// kept as it is), and the base its slots resolve against.
struct Template {
    query: Query,
    base: Option<Iri<String>>,
}

impl Template {
    /// The query of `text`, whose key this template has; `None` when one of its
    /// IRIs is one the parser would refuse.
    fn fill(&self, text: &str, slots: &[Range<usize>]) -> Option<Query> {
        let mut query = self.query.clone();
        if !slots.is_empty() {
            let iris = slots.iter().map(|slot| self.resolve(&text[slot.clone()])).collect::<Option<Vec<_>>>()?;
            template::fill(&mut query, &iris);
        }
        Some(query)
    }

    /// The IRI the parser makes of `iri`: resolved against the base, if any.
    fn resolve(&self, iri: &str) -> Option<NamedNode> {
        let iri = match &self.base {
            Some(base) => base.resolve(iri),
            None => Iri::parse(iri.to_owned()),
        };
        iri.ok().map(NamedNode::from)
    }

    /// The template of `text`'s key, when `query` (the text's own parse) proves it.
    fn proven(text: &str, slots: &[Range<usize>], base: Option<&str>, query: &Query) -> Option<Template> {
        let open = parser(base).ok()?.parse_query(&template::sentinels().text(text, slots)).ok()?;
        let base = base.map(|b| Iri::parse(b.to_owned())).transpose().ok()?;
        let template = Template { query: open, base };
        let filled = template.fill(text, slots)?;
        template::same_up_to_names(&filled, query).then_some(template)
    }
}

/// Parsed queries by a hash of what was asked (a hash shared by two keys
/// only costs a parse: the key is compared).
struct KeptParses(Mutex<lru::LruCache<u64, Kept>>);

fn kept() -> &'static KeptParses {
    static KEPT_PARSES: OnceLock<KeptParses> = OnceLock::new();
    KEPT_PARSES.get_or_init(|| KeptParses(Mutex::new(lru::LruCache::new(NonZeroUsize::new(KEPT).expect("non-zero")))))
}

/// How many hashes of keys asked once are remembered.
const SEEN_SLOTS: usize = 4 * KEPT;

/// The hash of a key asked once, in the slot its hash picks: a key whose
/// hash is found in its slot was asked before. A slot taken over by another
/// key costs the first one more parse, no more. Atomics, not a second LRU
/// under the lock: a crawler's lookups of distinct shapes each put a new hash.
static SEEN: [AtomicU64; SEEN_SLOTS] = [const { AtomicU64::new(0) }; SEEN_SLOTS];

/// Notes that the key of `hash` was asked; says whether it had been before.
fn seen_before(hash: u64) -> bool {
    let slot = usize::try_from(hash % SEEN_SLOTS as u64).unwrap_or_default();
    SEEN[slot].swap(hash, Ordering::Relaxed) == hash
}

fn hash(asked: &Asked<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    asked.hash(&mut hasher);
    hasher.finish()
}

impl KeptParses {
    /// The template kept for what was asked: `Some(None)` when its key is
    /// known not to be one.
    fn find(&self, hash: u64, asked: &Asked<'_>) -> Option<Option<Arc<Template>>> {
        crate::memo::lock(&self.0).get(&hash).filter(|k| k.answers(asked)).map(|k| k.template.clone())
    }

    /// Keeps the template of `text`'s key if the key was asked before;
    /// otherwise notes that it was. `query` is the text's own parse.
    fn keep(&self, hash: u64, asked: &Asked<'_>, text: &str, slots: &[Range<usize>], query: &Query) {
        if !seen_before(hash) {
            return;
        }
        let template = if slots.is_empty() {
            Some(Template { query: query.clone(), base: None })
        } else {
            Template::proven(text, slots, asked.base, query)
        };
        let kept = Kept {
            key: asked.key.as_ref().into(),
            base: asked.base.map(Into::into),
            max_depth: asked.max_depth,
            template: template.map(Arc::new),
        };
        crate::memo::lock(&self.0).put(hash, kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked<'a>(text: &'a str, base: Option<&'a str>, max_depth: usize) -> (u64, Asked<'a>) {
        let slots = template::slots(text);
        let asked = Asked { key: template::key(text, &slots), base, max_depth };
        (hash(&asked), asked)
    }

    fn kept_template(text: &str, base: Option<&str>) -> Option<Option<Arc<Template>>> {
        let (hash, asked) = asked(text, base, 100);
        kept().find(hash, &asked)
    }

    #[test]
    fn a_text_asked_again_is_the_same_query_and_a_different_base_is_not() {
        let text = "SELECT ?s WHERE { ?s <p> ?o } LIMIT 3";
        let base = Some("http://a.example/");
        let first = query(text, base, 100).unwrap();
        assert!(kept_template(text, base).is_none(), "asked once: only its hash is noted");
        let again = query(text, base, 100).unwrap();
        let kept = kept_template(text, base).flatten().map(|t| t.query.clone());
        assert_eq!(kept, Some(first.clone()), "asked twice: kept");
        let third = query(text, base, 100).unwrap();
        assert_eq!(first, again);
        assert_eq!(first, third);
        let elsewhere = query(text, Some("http://b.example/"), 100).unwrap();
        assert_ne!(first, elsewhere, "the base resolves <p> differently");
        assert!(query("SELECT * WHERE { { { ?s ?p ?o } } }", None, 2).is_err(), "too deep, kept or not");
        assert!(query("SELECT * WHERE { { { ?s ?p ?o } } }", None, 10).is_ok());
        assert!(query("SELECT * WHERE { { { ?s ?p ?o } } }", None, 2).is_err(), "kept at 10 deep, still too deep at 2");
    }

    /// Query shapes with IRI slots `{a}` and `{b}`, and whether a template serves them.
    const SHAPES: &[(&str, bool)] = &[
        ("SELECT ?p ?o WHERE { <{a}> ?p ?o }", true),
        ("PREFIX tkg: <https://w3id.org/treaty-kg/ontology#> ASK { <{a}> a tkg:Treaty }", true),
        ("PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> SELECT ?x WHERE { <{a}> <{b}>/rdf:type ?x }", true),
        ("SELECT (COUNT(*) AS ?n) WHERE { <{a}> ?p ?o }", true),
        ("SELECT * WHERE { ?s <{a}>|^<{b}> ?o }", true),
        ("SELECT * WHERE { ?s !(<{a}>|^<{b}>) ?o }", true),
        ("SELECT * FROM <{a}> FROM NAMED <{b}> WHERE { GRAPH <{b}> { ?s ?p ?o } }", true),
        ("SELECT * WHERE { ?s ?p ?o FILTER(?o = <{a}> || ?o IN (<{b}>, <{a}>)) }", true),
        ("SELECT * WHERE { VALUES ?x { <{a}> <{b}> } ?x ?p \"1\"^^<http://www.w3.org/2001/XMLSchema#integer> }", true),
        ("CONSTRUCT { <{a}> <{b}> ?o } WHERE { <{a}> ?p ?o OPTIONAL { ?o <{b}> [] } }", true),
        ("DESCRIBE <{a}>", true),
        ("SELECT ?s WHERE { ?s ?p ?o BIND(IRI(<{a}>) AS ?i) FILTER EXISTS { ?s <{b}> ?o } MINUS { ?s <{a}> ?z } } ORDER BY DESC(?s) LIMIT 5", true),
        ("SELECT * WHERE { SERVICE SILENT <{a}> { ?s ?p ?o } }", true),
        ("SELECT ?s (<{a}> AS ?k) (SAMPLE(?o) AS ?x) WHERE { ?s ?p ?o } GROUP BY ?s HAVING (COUNT(?o) > 1)", true),
        ("SELECT * WHERE { ?s ?p ?o FILTER(<http://www.w3.org/2001/XMLSchema#string>(?o) = \"x\") ?s <{a}> ?o }", true),
        ("BASE <http://base.example/dir/> SELECT * WHERE { <rel> ?p <{a}> . <../up> <{b}> ?o }", true),
        ("SELECT * WHERE { ?s ?p \"<{a}>\" . # <{b}>\n ?s ?q <{b}> }", true),
        ("SELECT * WHERE { ?s ?p ?o FILTER(?o<?p && ?p>?o) ?s <{a}> ?o }", true),
    ];

    const IRIS: &[(&str, &str)] = &[
        ("http://ex.org/one", "https://ex.org/two#x"),
        ("http://ex.org/a/../b?q=1&r=%20", "urn:x:y"),
        ("https://w3id.org/treaty-kg/id/treaty/t42", "http://ex.org/é"),
    ];

    #[test]
    fn a_template_gives_each_text_its_own_parse() {
        for (shape, templated) in SHAPES {
            let texts: Vec<String> = IRIS.iter().map(|(a, b)| shape.replace("{a}", a).replace("{b}", b)).collect();
            for base in [None, Some("http://endpoint.example/sparql")] {
                // The first text twice makes the template; the others are filled from it.
                for text in texts.iter().take(1).chain(&texts) {
                    let direct = parser(base).unwrap().parse_query(text).unwrap();
                    let parsed = query(text, base, 100).unwrap_or_else(|e| panic!("{text}: {e}"));
                    assert!(template::same_up_to_names(&parsed, &direct), "{text}:\n{parsed}\n{direct}");
                }
                let kept = kept_template(&texts[0], base);
                assert_eq!(kept.is_some_and(|t| t.is_some()), *templated, "{shape} {base:?}");
            }
        }
    }

    #[test]
    fn a_filled_iri_the_parser_refuses_gets_the_parser_error() {
        let shape = "SELECT * WHERE { <{a}> ?p ?o }";
        for iri in ["http://ex.org/one", "http://ex.org/two"] {
            query(&shape.replace("{a}", iri), None, 100).unwrap();
        }
        assert!(kept_template(&shape.replace("{a}", "http://ex.org/x"), None).is_some_and(|t| t.is_some()));
        let bad = shape.replace("{a}", "http://ex.org:port/");
        assert!(parser(None).unwrap().parse_query(&bad).is_err());
        assert!(matches!(query(&bad, None, 100), Err(ParseError::Syntax(_))), "the parser's own error");
    }
}
