//! The one place where our permanent IRIs and this server's URLs meet.
//!
//! `https://w3id.org/treaty-kg/id/{path}` (a thing) is served at `/id/{path}`,
//! which answers 303 See Other to `/page/{path}` (HTML, for people) or
//! `/data/{path}.{ext}` (RDF). `https://w3id.org/treaty-kg/ontology#Term` is
//! served by `/ontology`. Links in pages are root-relative, so they work on
//! whatever host and port the server runs at.

use crate::vocab::BASE_IRI;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;

/// The file extensions of RDF documents, with their formats and media types.
pub fn extensions() -> Vec<(&'static str, &'static str, RdfFormat)> {
    vec![
        ("ttl", "text/turtle", RdfFormat::Turtle),
        ("nt", "application/n-triples", RdfFormat::NTriples),
        ("rdf", "application/rdf+xml", RdfFormat::RdfXml),
        ("jsonld", "application/ld+json", crate::conneg::json_ld()),
        ("trig", "application/trig", RdfFormat::TriG),
        ("nq", "application/n-quads", RdfFormat::NQuads),
    ]
}

/// The IRI of the thing at `/id/{path}`, if `path` is a well-formed local path
/// (segments of unreserved characters; no `..`, no empty segment).
pub fn resource_iri(path: &str) -> Option<NamedNode> {
    let ok = !path.is_empty()
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        });
    if !ok {
        return None;
    }
    NamedNode::new(format!("{BASE_IRI}id/{path}")).ok()
}

/// The local path of one of our resource IRIs (`…/id/state/latvia` → `state/latvia`).
pub fn local_path(iri: &str) -> Option<&str> {
    iri.strip_prefix(BASE_IRI)?.strip_prefix("id/").filter(|p| !p.is_empty())
}

/// Splits a `/data/…` path into the resource path and an explicit extension.
pub fn split_extension(path: &str) -> (&str, Option<&str>) {
    match path.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.contains('/') => (stem, Some(ext)),
        _ => (path, None),
    }
}

/// Where a person should go for `iri`: our resources to their page, our
/// ontology terms to the ontology page (with their anchor), anything else as is.
pub fn page_href(iri: &str) -> String {
    if let Some(path) = local_path(iri) {
        return format!("/page/{path}");
    }
    if let Some(term) = iri.strip_prefix(crate::vocab::ONTOLOGY_NS) {
        return format!("/ontology#{term}");
    }
    iri.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_round_trips_and_refuses_escapes() {
        let iri = resource_iri("state/latvia").unwrap();
        assert_eq!(iri.as_str(), "https://w3id.org/treaty-kg/id/state/latvia");
        assert_eq!(local_path(iri.as_str()), Some("state/latvia"));
        assert_eq!(page_href(iri.as_str()), "/page/state/latvia");
        assert_eq!(page_href("https://w3id.org/treaty-kg/ontology#Treaty"), "/ontology#Treaty");
        assert_eq!(page_href("http://example.org/x"), "http://example.org/x");
        for bad in ["", "../etc/passwd", "state//latvia", "state/./x", "state/lat via", "state/<x>", "a/%2e%2e"] {
            assert!(resource_iri(bad).is_none(), "{bad}");
        }
        assert_eq!(split_extension("state/latvia.ttl"), ("state/latvia", Some("ttl")));
        assert_eq!(split_extension("state/latvia"), ("state/latvia", None));
    }
}
