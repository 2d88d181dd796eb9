//! A parsed query kept as a template: its absolute IRIs left open, so that
//! one parse serves every text that differs from it only in them.
//!
//! A script looping over entities, or a crawler, sends the same query again
//! and again with another IRI in it. Each such text is new, so a parse kept
//! by its text never serves it, and the parse was the largest share of a
//! small query's time that was not the engine's (BENCHMARKS.md, "The front
//! end's tax: a parse for every shape, not every text").
//!
//! How a template is made and used ([`super::parse`] keeps them):
//! - **Its key** is the text with the contents of its IRI slots
//!   ([`slots`]) taken out: every other byte of the text,
//!   prologue, variables, literals, keywords, spaces and comments, is the same
//!   in every text a template serves.
//! - **Its parse** is of the text with each slot holding a sentinel IRI of its
//!   own ([`Sentinels`]), which no text can hold: the prefix carries a random
//!   number drawn at start.
//! - **It is trusted** only once a real text proved it: the template filled
//!   with that text's IRIs must equal that text's own parse, up to the names
//!   the parser draws at random (blank nodes, aggregates' variables). Slots
//!   the algebra does not hold where [`fill`] looks (a datatype, a function's
//!   name) fail this test, and the key is then always parsed.
//! - **A filled slot** holds the IRI the parser would make of the text: the
//!   same resolution against the base, and an IRI the parser refuses makes the
//!   text go to the parser, for its error.
//!
//! Why a slot's contents cannot change the parse's shape: they are an
//! absolute IRI of the characters the grammar's IRI token allows, so where
//! the template's sentinel was read as an IRI, so is any other such IRI; and
//! where the grammar reads an IRI, no operator can start.

use super::depth::Scanner;
use oxigraph::model::NamedNode;
use spargebra::algebra::{
    AggregateExpression, Expression, GraphPattern, OrderExpression, PropertyPathExpression, QueryDataset,
};
use spargebra::term::{GroundTerm, NamedNodePattern, TermPattern, TriplePattern};
use spargebra::Query;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

/// The byte that stands for a slot in a key: never part of UTF-8 text.
const SLOT: u8 = 0xFF;

/// The key of `text` with its `slots` open (the text itself when it has none).
pub fn key<'a>(text: &'a str, slots: &[Range<usize>]) -> Cow<'a, [u8]> {
    if slots.is_empty() {
        return Cow::Borrowed(text.as_bytes());
    }
    let mut key = Vec::with_capacity(text.len());
    let mut from = 0;
    for slot in slots {
        key.extend_from_slice(&text.as_bytes()[from..slot.start]);
        key.push(SLOT);
        from = slot.end;
    }
    key.extend_from_slice(&text.as_bytes()[from..]);
    Cow::Owned(key)
}

/// Where the absolute IRIs written out in the body of a query are: the byte
/// ranges of their contents (between `<` and `>`), in order. These are what a
/// kept template leaves open ([`super::parse`]). Not included: IRIs of the
/// prologue (`BASE`, `PREFIX`), relative ones, datatypes and inverse paths
/// (after `^`), and function names (before `(`). None at all when the text
/// holds a `\u` or `\U` escape, which the parser decodes before it reads
/// anything: such a text is kept by its exact text.
pub fn slots(text: &str) -> Vec<Range<usize>> {
    let mut slots = Vec::new();
    if text.as_bytes().windows(2).any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'U')) {
        return slots;
    }
    let mut scanner = Scanner::new(text);
    let mut prologue = true;
    // The last byte that was not space, outside comments.
    let mut last = 0u8;
    while let Some(&b) = scanner.bytes.get(scanner.at) {
        match b {
            b'#' => scanner.skip_line(),
            b'"' | b'\'' => {
                scanner.skip_string(b);
                last = b;
            }
            b'<' => {
                let start = scanner.at;
                if !scanner.skip_iri() {
                    scanner.at += 1;
                    last = b;
                    continue;
                }
                let content = start + 1..scanner.at - 1;
                let called = scanner.bytes[scanner.at..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'(');
                if !prologue && last != b'^' && !called && absolute(&scanner.bytes[content.clone()]) {
                    slots.push(content);
                }
                last = b'>';
            }
            b'?' | b'$' => {
                scanner.at += 1;
                scanner.word();
                last = b;
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80 => {
                let word = scanner.word();
                let colon = word.contains(':');
                let declares = ["BASE", "PREFIX", "VERSION"].iter().any(|k| k.eq_ignore_ascii_case(word));
                if colon || scanner.peek(0) == Some(b':') {
                    scanner.skip_name();
                } else if prologue {
                    prologue = declares;
                }
                last = b'a';
            }
            b if b.is_ascii_whitespace() => scanner.at += 1,
            _ => {
                scanner.at += 1;
                last = b;
            }
        }
    }
    slots
}

/// Whether an IRI reference starts with a scheme (`http:`, `urn:`): absolute.
fn absolute(iri: &[u8]) -> bool {
    let scheme = iri.iter().take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')).count();
    scheme > 0 && iri[0].is_ascii_alphabetic() && iri.get(scheme) == Some(&b':')
}

/// The sentinel IRIs: a prefix no text can guess, then the slot's number.
pub struct Sentinels(String);

pub fn sentinels() -> &'static Sentinels {
    static SENTINELS: OnceLock<Sentinels> = OnceLock::new();
    SENTINELS.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // A random number from the standard library's per-process hash keys.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        Sentinels(format!("urn:x-treaty-kg-slot:{:016x}:", hasher.finish()))
    })
}

impl Sentinels {
    /// `text` with each slot holding its sentinel.
    pub fn text(&self, text: &str, slots: &[Range<usize>]) -> String {
        let mut filled = String::with_capacity(text.len() + slots.len() * (self.0.len() + 4));
        let mut from = 0;
        for (i, slot) in slots.iter().enumerate() {
            filled.push_str(&text[from..slot.start]);
            filled.push_str(&self.0);
            filled.push_str(&i.to_string());
            from = slot.end;
        }
        filled.push_str(&text[from..]);
        filled
    }

    /// The slot whose sentinel `node` is.
    fn slot(&self, node: &NamedNode) -> Option<usize> {
        node.as_str().strip_prefix(self.0.as_str())?.parse().ok()
    }
}

/// Puts `iris[i]` wherever slot `i`'s sentinel is in `query`: triple and path
/// patterns, `GRAPH`, `SERVICE`, expressions, `VALUES`, the dataset and the
/// `CONSTRUCT` template. Not in literals' datatypes or functions' names, which
/// slots never are.
pub fn fill(query: &mut Query, iris: &[NamedNode]) {
    let fill = Fill { sentinels: sentinels(), iris };
    match query {
        Query::Select { dataset, pattern, .. }
        | Query::Describe { dataset, pattern, .. }
        | Query::Ask { dataset, pattern, .. } => {
            fill.dataset(dataset);
            fill.pattern(pattern);
        }
        Query::Construct { template, dataset, pattern, .. } => {
            template.iter_mut().for_each(|t| fill.triple(t));
            fill.dataset(dataset);
            fill.pattern(pattern);
        }
    }
}

struct Fill<'a> {
    sentinels: &'a Sentinels,
    iris: &'a [NamedNode],
}

impl Fill<'_> {
    fn node(&self, node: &mut NamedNode) {
        if let Some(iri) = self.sentinels.slot(node).and_then(|i| self.iris.get(i)) {
            *node = iri.clone();
        }
    }

    fn dataset(&self, dataset: &mut Option<QueryDataset>) {
        if let Some(dataset) = dataset {
            dataset.default.iter_mut().for_each(|n| self.node(n));
            dataset.named.iter_mut().flatten().for_each(|n| self.node(n));
        }
    }

    fn pattern(&self, pattern: &mut GraphPattern) {
        match pattern {
            GraphPattern::Bgp { patterns } => patterns.iter_mut().for_each(|t| self.triple(t)),
            GraphPattern::Path { subject, path, object } => {
                self.term(subject);
                self.path(path);
                self.term(object);
            }
            GraphPattern::Join { left, right }
            | GraphPattern::Union { left, right }
            | GraphPattern::Minus { left, right }
            | GraphPattern::Lateral { left, right } => {
                self.pattern(left);
                self.pattern(right);
            }
            GraphPattern::LeftJoin { left, right, expression } => {
                self.pattern(left);
                self.pattern(right);
                expression.iter_mut().for_each(|e| self.expression(e));
            }
            GraphPattern::Filter { expr, inner } => {
                self.expression(expr);
                self.pattern(inner);
            }
            GraphPattern::Graph { name, inner } | GraphPattern::Service { name, inner, .. } => {
                self.named(name);
                self.pattern(inner);
            }
            GraphPattern::Extend { inner, expression, .. } => {
                self.pattern(inner);
                self.expression(expression);
            }
            GraphPattern::Values { bindings, .. } => {
                bindings.iter_mut().flatten().flatten().for_each(|g| self.ground(g))
            }
            GraphPattern::OrderBy { inner, expression } => {
                self.pattern(inner);
                for order in expression {
                    match order {
                        OrderExpression::Asc(e) | OrderExpression::Desc(e) => self.expression(e),
                    }
                }
            }
            GraphPattern::Group { inner, aggregates, .. } => {
                self.pattern(inner);
                for (_, aggregate) in aggregates {
                    if let AggregateExpression::FunctionCall { expr, .. } = aggregate {
                        self.expression(expr);
                    }
                }
            }
            GraphPattern::Project { inner, .. }
            | GraphPattern::Distinct { inner }
            | GraphPattern::Reduced { inner }
            | GraphPattern::Slice { inner, .. } => self.pattern(inner),
        }
    }

    fn triple(&self, triple: &mut TriplePattern) {
        self.term(&mut triple.subject);
        self.named(&mut triple.predicate);
        self.term(&mut triple.object);
    }

    fn term(&self, term: &mut TermPattern) {
        match term {
            TermPattern::NamedNode(n) => self.node(n),
            TermPattern::Triple(t) => self.triple(t),
            TermPattern::BlankNode(_) | TermPattern::Literal(_) | TermPattern::Variable(_) => {}
        }
    }

    fn named(&self, name: &mut NamedNodePattern) {
        if let NamedNodePattern::NamedNode(n) = name {
            self.node(n);
        }
    }

    fn path(&self, path: &mut PropertyPathExpression) {
        match path {
            PropertyPathExpression::NamedNode(n) => self.node(n),
            PropertyPathExpression::NegatedPropertySet(nodes) => nodes.iter_mut().for_each(|n| self.node(n)),
            PropertyPathExpression::Reverse(p)
            | PropertyPathExpression::ZeroOrMore(p)
            | PropertyPathExpression::OneOrMore(p)
            | PropertyPathExpression::ZeroOrOne(p) => self.path(p),
            PropertyPathExpression::Sequence(a, b) | PropertyPathExpression::Alternative(a, b) => {
                self.path(a);
                self.path(b);
            }
        }
    }

    fn ground(&self, term: &mut GroundTerm) {
        match term {
            GroundTerm::NamedNode(n) => self.node(n),
            GroundTerm::Triple(t) => {
                self.node(&mut t.subject);
                self.node(&mut t.predicate);
                self.ground(&mut t.object);
            }
            GroundTerm::Literal(_) => {}
        }
    }

    fn expression(&self, expression: &mut Expression) {
        match expression {
            Expression::NamedNode(n) => self.node(n),
            Expression::Literal(_) | Expression::Variable(_) | Expression::Bound(_) => {}
            Expression::Or(a, b)
            | Expression::And(a, b)
            | Expression::Equal(a, b)
            | Expression::SameTerm(a, b)
            | Expression::Greater(a, b)
            | Expression::GreaterOrEqual(a, b)
            | Expression::Less(a, b)
            | Expression::LessOrEqual(a, b)
            | Expression::Add(a, b)
            | Expression::Subtract(a, b)
            | Expression::Multiply(a, b)
            | Expression::Divide(a, b) => {
                self.expression(a);
                self.expression(b);
            }
            Expression::In(a, list) => {
                self.expression(a);
                list.iter_mut().for_each(|e| self.expression(e));
            }
            Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => self.expression(a),
            Expression::Exists(p) => self.pattern(p),
            Expression::If(a, b, c) => {
                self.expression(a);
                self.expression(b);
                self.expression(c);
            }
            Expression::Coalesce(list) | Expression::FunctionCall(_, list) => {
                list.iter_mut().for_each(|e| self.expression(e));
            }
        }
    }
}

/// Whether two queries are the same up to the names of their variables and
/// blank nodes (renamed in order of first appearance in their SPARQL form):
/// the parser draws the names of blank nodes and aggregates' variables at random.
pub fn same_up_to_names(a: &Query, b: &Query) -> bool {
    canonical_names(&a.to_string()) == canonical_names(&b.to_string())
}

/// `text` with every `?name`, `$name` and `_:name` renamed by its order of first appearance.
fn canonical_names(text: &str) -> String {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['?', '$', '_']) {
        let sigil = match rest.as_bytes()[at] {
            b'_' if rest[at..].starts_with("_:") => 2,
            b'_' => {
                out.push_str(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
            _ => 1,
        };
        out.push_str(&rest[..at + sigil]);
        rest = &rest[at + sigil..];
        let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len > 0 {
            let next = names.len();
            let n = *names.entry(&rest[..len]).or_insert(next);
            out.push_str(&n.to_string());
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slotted(text: &str) -> Vec<&str> {
        slots(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn slots_are_the_absolute_iris_of_the_body() {
        let text = "BASE <http://b/> PREFIX a: <http://a/> SELECT * FROM <http://g> WHERE { <http://s> a:p <rel> ; \
                    <http://p> \"x\"^^<http://dt> ; ^<http://inv> ?o FILTER(<http://f>(?o) && ?o != <urn:x:y>) }";
        assert_eq!(slotted(text), ["http://g", "http://s", "http://p", "urn:x:y"]);
        assert_eq!(slotted("ASK { ?s ?p \"<http://x>\" } # <http://y>\n"), Vec::<&str>::new());
        assert_eq!(slotted("ASK { ?s ?p ?o FILTER(?o<?p && ?p>?o) }"), Vec::<&str>::new());
        assert_eq!(slotted("ask { <<( <http://s> <http://p> ?o )>> ?q ?r }"), ["http://s", "http://p"]);
        assert!(slots("ASK { <http://a\\u0041> ?p ?o }").is_empty(), "\\u escapes are decoded before parsing");
    }

    #[test]
    fn keys_differ_where_the_text_does_and_not_in_slots() {
        let key_of = |t: &str| key(t, &slots(t)).into_owned();
        assert_eq!(key_of("ASK { <http://a> ?p ?o }"), key_of("ASK { <urn:b> ?p ?o }"));
        assert_ne!(key_of("ASK { <http://a> ?p ?o }"), key_of("ASK { <http://a> ?p ?q }"));
        // A relative `<>` is text, not a slot.
        assert_ne!(key_of("ASK { <> ?p <http://a> }"), key_of("ASK { <http://a> ?p <> }"));
    }

    #[test]
    fn names_drawn_at_random_do_not_make_two_parses_differ() {
        let parse = |t: &str| spargebra::SparqlParser::new().parse_query(t).unwrap();
        let text = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p [] }";
        assert_ne!(parse(text), parse(text), "the parser draws names");
        assert!(same_up_to_names(&parse(text), &parse(text)));
        assert!(!same_up_to_names(&parse(text), &parse("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")));
    }
}
