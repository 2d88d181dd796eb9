//! Content negotiation: pure, table-driven functions from an `Accept` header (and the
//! Fuseki-style `format=` parameter) to one of the formats we can write.
//!
//! This module owns the media-type tables of every format the server speaks. It does
//! no I/O and knows nothing of HTTP types beyond strings, so it is unit-tested here
//! case by case and fuzzable.
//!
//! Rules (RFC 9110 §12.5.1): each media range carries a weight `q` (default 1); the
//! most specific range that matches an offer gives that offer its weight; `q=0`
//! excludes an offer; among offers of equal weight the server's order wins (the
//! first offer is the default and also what a missing `Accept` gets).

use oxigraph::io::{JsonLdProfileSet, RdfFormat};
use oxigraph::sparql::results::QueryResultsFormat;

/// A format for SELECT and ASK results.
pub const RESULTS_FORMATS: &[(&str, QueryResultsFormat)] = &[
    ("application/sparql-results+json", QueryResultsFormat::Json),
    ("application/sparql-results+xml", QueryResultsFormat::Xml),
    ("text/csv", QueryResultsFormat::Csv),
    ("text/tab-separated-values", QueryResultsFormat::Tsv),
    ("application/json", QueryResultsFormat::Json),
    ("application/xml", QueryResultsFormat::Xml),
    ("text/xml", QueryResultsFormat::Xml),
];

/// The RDF formats we write, for graphs (CONSTRUCT, DESCRIBE, GSP GET, documents).
pub fn rdf_formats() -> Vec<(&'static str, RdfFormat)> {
    vec![
        ("text/turtle", RdfFormat::Turtle),
        ("application/n-triples", RdfFormat::NTriples),
        ("application/n-quads", RdfFormat::NQuads),
        ("application/trig", RdfFormat::TriG),
        ("application/rdf+xml", RdfFormat::RdfXml),
        ("application/ld+json", json_ld()),
        ("application/x-turtle", RdfFormat::Turtle),
        ("text/plain", RdfFormat::NTriples),
        ("application/xml", RdfFormat::RdfXml),
        ("text/xml", RdfFormat::RdfXml),
        ("application/json", json_ld()),
    ]
}

/// The RDF formats able to carry named graphs (dataset dumps).
pub fn quad_formats() -> Vec<(&'static str, RdfFormat)> {
    vec![
        ("application/n-quads", RdfFormat::NQuads),
        ("application/trig", RdfFormat::TriG),
        ("application/ld+json", json_ld()),
    ]
}

/// JSON-LD in its plain (non-streaming) profile.
pub fn json_ld() -> RdfFormat {
    RdfFormat::JsonLd { profile: JsonLdProfileSet::empty() }
}

/// One media range of an `Accept` header, borrowed from it (compared
/// ignoring case, never copied).
#[derive(Debug, Clone, PartialEq)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f32,
}

impl MediaRange<'_> {
    /// How specifically this range matches `media_type` (2 exact, 1 `type/*`, 0 `*/*`),
    /// or `None` when it does not match.
    fn specificity(&self, media_type: &str) -> Option<u8> {
        let (kind, subtype) = media_type.split_once('/')?;
        match (self.kind, self.subtype) {
            ("*", "*") => Some(0),
            (k, "*") if k.eq_ignore_ascii_case(kind) => Some(1),
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => Some(2),
            _ => None,
        }
    }
}

/// Parses an `Accept` header leniently: malformed ranges are skipped, not fatal
/// (browsers and old tools send odd headers; refusing them helps nobody).
fn parse_accept(header: &str) -> Vec<MediaRange<'_>> {
    header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim();
            let (kind, subtype) = media.split_once('/')?;
            let (kind, subtype) = (kind.trim(), subtype.trim());
            if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
                return None;
            }
            let mut q = 1.0f32;
            for param in pieces {
                if let Some((name, value)) = param.split_once('=') {
                    if name.trim().eq_ignore_ascii_case("q") {
                        q = value.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q))?;
                    }
                }
            }
            Some(MediaRange { kind, subtype, q })
        })
        .collect()
}

/// Picks the best of `offers` (in server preference order) for an `Accept` header.
/// Returns the chosen media type and value, or `None` when nothing acceptable is offered.
pub fn negotiate<T: Clone>(accept: Option<&str>, offers: &[(&'static str, T)]) -> Option<(&'static str, T)> {
    let accept = accept.map(str::trim).filter(|a| !a.is_empty());
    let Some(accept) = accept else {
        return offers.first().cloned();
    };
    // The usual header of a script or client library: one media type, no
    // parameters, offered as it is. Only that type matches, with weight 1,
    // so its first offer wins; anything else takes the general way.
    if !accept.contains([',', ';', '*']) {
        if let Some(offer) = offers.iter().find(|(media_type, _)| media_type.eq_ignore_ascii_case(accept)) {
            return Some(offer.clone());
        }
    }
    by_ranges(accept, offers)
}

/// [`negotiate`]'s general way: every range parsed and weighed.
fn by_ranges<T: Clone>(accept: &str, offers: &[(&'static str, T)]) -> Option<(&'static str, T)> {
    let ranges = parse_accept(accept);
    if ranges.is_empty() {
        // Nothing parseable: behave as if no preference was given.
        return offers.first().cloned();
    }
    let mut best: Option<(f32, usize)> = None;
    for (index, (media_type, _)) in offers.iter().enumerate() {
        let weight = ranges
            .iter()
            .filter_map(|r| r.specificity(media_type).map(|s| (s, r.q)))
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .map(|(_, q)| q);
        if let Some(q) = weight.filter(|q| *q > 0.0) {
            if best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, index));
            }
        }
    }
    best.map(|(_, index)| offers[index].clone())
}

/// Resolves a `format=` parameter (a short name or a media type) against `offers`.
pub fn from_format_param<T: Clone>(param: &str, offers: &[(&'static str, T)]) -> Option<(&'static str, T)> {
    let param = param.trim().to_ascii_lowercase();
    let media_type = match param.as_str() {
        "json" | "srj" => "application/sparql-results+json",
        "xml" | "srx" => "application/sparql-results+xml",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "ttl" | "turtle" => "text/turtle",
        "nt" | "ntriples" | "n-triples" => "application/n-triples",
        "nq" | "nquads" | "n-quads" => "application/n-quads",
        "trig" => "application/trig",
        "rdf" | "rdfxml" | "rdf/xml" | "rdf+xml" => "application/rdf+xml",
        "jsonld" | "json-ld" => "application/ld+json",
        other => other,
    };
    if let Some(found) = offers.iter().find(|(m, _)| *m == media_type) {
        return Some(found.clone());
    }
    // `format=json` for a CONSTRUCT means JSON-LD, `format=xml` means RDF/XML.
    let fallback = match param.as_str() {
        "json" => "application/ld+json",
        "xml" => "application/rdf+xml",
        _ => return None,
    };
    offers.iter().find(|(m, _)| *m == fallback).cloned()
}

/// The media types of `offers`, without duplicates of the same value, for 406 messages.
pub fn offered<T>(offers: &[(&'static str, T)]) -> Vec<&'static str> {
    offers.iter().map(|(m, _)| *m).collect()
}

/// The RDF format of a request body from its `Content-Type` (parameters ignored).
pub fn rdf_format_of_content_type(content_type: &str) -> Option<RdfFormat> {
    let media_type = content_type.split(';').next()?.trim().to_ascii_lowercase();
    rdf_formats()
        .into_iter()
        .chain(quad_formats())
        .find(|(m, _)| *m == media_type)
        .map(|(_, f)| f)
        .or_else(|| RdfFormat::from_media_type(&media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(accept: Option<&str>) -> Option<&'static str> {
        negotiate(accept, RESULTS_FORMATS).map(|(m, _)| m)
    }

    #[test]
    fn missing_or_empty_accept_gets_the_default() {
        assert_eq!(results(None), Some("application/sparql-results+json"));
        assert_eq!(results(Some("  ")), Some("application/sparql-results+json"));
        assert_eq!(results(Some("*/*")), Some("application/sparql-results+json"));
    }

    #[test]
    fn exact_type_wins() {
        assert_eq!(results(Some("text/csv")), Some("text/csv"));
        assert_eq!(results(Some("application/sparql-results+xml")), Some("application/sparql-results+xml"));
    }

    #[test]
    fn one_plain_type_takes_the_short_way_to_the_same_choice() {
        let rdf = rdf_formats();
        let mut headers: Vec<&str> = RESULTS_FORMATS.iter().map(|(m, _)| *m).collect();
        headers.extend(rdf.iter().map(|(m, _)| *m));
        headers.extend(["TEXT/CSV", "Application/Sparql-Results+JSON", "image/png", "text/csvx", "text"]);
        for header in headers {
            let results = negotiate(Some(header), RESULTS_FORMATS).map(|(m, _)| m);
            assert_eq!(results, by_ranges(header, RESULTS_FORMATS).map(|(m, _)| m), "{header}");
            let graphs = negotiate(Some(header), &rdf).map(|(m, _)| m);
            assert_eq!(graphs, by_ranges(header, &rdf).map(|(m, _)| m), "{header}");
        }
    }

    #[test]
    fn q_values_order_the_choice() {
        assert_eq!(results(Some("text/csv;q=0.5, text/tab-separated-values")), Some("text/tab-separated-values"));
        assert_eq!(results(Some("text/csv;q=0.9, application/sparql-results+xml;q=0.8")), Some("text/csv"));
    }

    #[test]
    fn q_zero_excludes_and_specific_range_overrides_wildcard() {
        assert_eq!(results(Some("*/*, application/sparql-results+json;q=0")), Some("application/sparql-results+xml"));
        assert_eq!(results(Some("text/*")), Some("text/csv"));
    }

    #[test]
    fn nothing_acceptable_is_none() {
        assert_eq!(results(Some("image/png")), None);
        assert_eq!(results(Some("text/turtle")), None);
    }

    #[test]
    fn malformed_ranges_are_skipped() {
        assert_eq!(results(Some("garbage, text/csv")), Some("text/csv"));
        assert_eq!(results(Some("text/csv;q=7, text/tab-separated-values")), Some("text/tab-separated-values"));
        assert_eq!(results(Some(";;;,,,")), Some("application/sparql-results+json"));
    }

    #[test]
    fn browser_accept_prefers_the_first_offer_it_allows() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(results(Some(browser)), Some("application/xml"));
        let rdf = rdf_formats();
        assert_eq!(negotiate(Some(browser), &rdf).map(|x| x.0), Some("application/xml"));
    }

    #[test]
    fn rdf_negotiation() {
        let rdf = rdf_formats();
        assert_eq!(negotiate(None, &rdf).map(|x| x.0), Some("text/turtle"));
        assert_eq!(negotiate(Some("application/ld+json"), &rdf).map(|x| x.0), Some("application/ld+json"));
        assert_eq!(
            negotiate(Some("application/rdf+xml;q=1, text/turtle;q=0.1"), &rdf).map(|x| x.0),
            Some("application/rdf+xml")
        );
    }

    #[test]
    fn format_parameter() {
        assert_eq!(from_format_param("csv", RESULTS_FORMATS).map(|x| x.0), Some("text/csv"));
        assert_eq!(from_format_param("json", RESULTS_FORMATS).map(|x| x.0), Some("application/sparql-results+json"));
        let rdf = rdf_formats();
        assert_eq!(from_format_param("json", &rdf).map(|x| x.0), Some("application/ld+json"));
        assert_eq!(from_format_param("ttl", &rdf).map(|x| x.0), Some("text/turtle"));
        assert_eq!(from_format_param("text/turtle", &rdf).map(|x| x.0), Some("text/turtle"));
        assert_eq!(from_format_param("bogus", &rdf), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(rdf_format_of_content_type("text/turtle; charset=utf-8"), Some(RdfFormat::Turtle));
        assert_eq!(rdf_format_of_content_type("application/n-quads"), Some(RdfFormat::NQuads));
        assert_eq!(rdf_format_of_content_type("application/x-www-form-urlencoded"), None);
    }
}
