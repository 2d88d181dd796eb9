//! Pages of distinct triples over the union of all graphs, read from the
//! embedded store's index (Triple Pattern Fragments, resource pages).
//!
//! A triple stated in several graphs counts once, where the scan (in index
//! order, the same for every page of one data version) first meets it.
//! Triples already met are known by a 128-bit fingerprint, so memory is bounded
//! by the count cap (16 bytes a match), and no triple costs a second lookup.

use super::{QuadReader, StoreError};
use oxigraph::model::{NamedNode, NamedOrBlankNode, Term, Triple};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// One page of triples: the count of matches is exact, or at least `total`
/// when `exact` is false.
pub struct TriplePage {
    pub triples: Vec<Triple>,
    pub total: usize,
    pub exact: bool,
}

/// Scans the matches of `pattern` for the page at `offset`, counting on up
/// to `count_cap` matches and for `count_budget` once the page (and whether
/// another follows) is known.
pub(super) fn scan(
    reader: &QuadReader<'_>,
    (subject, predicate, object): (Option<&NamedOrBlankNode>, Option<&NamedNode>, Option<&Term>),
    offset: usize,
    limit: usize,
    count_cap: usize,
    count_budget: Duration,
) -> Result<TriplePage, StoreError> {
    let started = Instant::now();
    let mut seen: HashSet<u128> = HashSet::new();
    let mut triples = Vec::new();
    let mut index = 0usize;
    let matches =
        reader.quads(subject.map(|s| s.as_ref()), predicate.map(|p| p.as_ref()), object.map(|o| o.as_ref()), None);
    for quad in matches {
        let quad = quad?;
        let triple = Triple::new(quad.subject, quad.predicate, quad.object);
        if !seen.insert(fingerprint(&triple)) {
            continue;
        }
        if index >= offset && triples.len() < limit {
            triples.push(triple);
        }
        index += 1;
        // One match past the page says whether a next page exists.
        let page_known = index > offset + limit;
        let out_of_time = index.is_multiple_of(1024) && started.elapsed() >= count_budget;
        if page_known && (index >= count_cap || out_of_time) {
            return Ok(TriplePage { triples, total: index, exact: false });
        }
    }
    Ok(TriplePage { triples, total: index, exact: true })
}

/// A triple's 128-bit fingerprint (two independent 64-bit hashes).
fn fingerprint(triple: &Triple) -> u128 {
    let half = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        salt.hash(&mut hasher);
        triple.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}
