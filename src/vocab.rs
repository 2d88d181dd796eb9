//! IRI constants: our permanent base, the namespaces we use, and the IRIs the
//! server mints for its own bookkeeping. Every IRI the server writes comes from here.

/// The permanent base under which every resource, graph and ontology term is minted.
pub const BASE_IRI: &str = "https://w3id.org/treaty-kg/";

/// The ontology namespace (`…/ontology#Treaty`).
pub const ONTOLOGY_NS: &str = "https://w3id.org/treaty-kg/ontology#";

/// The named graph where stores written by earlier versions kept the server's
/// bookkeeping; it is read once and dropped (the ledger file replaces it).
pub const SYSTEM_GRAPH: &str = "https://w3id.org/treaty-kg/graph/system";

/// The named graph of a remote engine where treaty-kg keeps its bookkeeping
/// (the last write's id, the source files): engines have nowhere else, and every
/// treaty-kg in front of the engine must see the same ledger.
pub const LEDGER_GRAPH: &str = "https://w3id.org/treaty-kg/graph/ledger";

/// `tkg:lastWrite`: the id of the last write made through treaty-kg (remote engines).
pub const LAST_WRITE: &str = "https://w3id.org/treaty-kg/ontology#lastWrite";

/// `tkg:sourceFile`: the path of the file a source graph was loaded from.
pub const SOURCE_FILE: &str = "https://w3id.org/treaty-kg/ontology#sourceFile";
/// `tkg:contentHash`: the SHA-256 (hex) of that file's bytes when it was loaded.
pub const CONTENT_HASH: &str = "https://w3id.org/treaty-kg/ontology#contentHash";
/// `tkg:containsGraph`: a named graph that a quad file (TriG, N-Quads) brought in.
pub const CONTAINS_GRAPH: &str = "https://w3id.org/treaty-kg/ontology#containsGraph";

/// `tkg:writeCount`: how many writes (updates, Graph Store writes, loads) the
/// store has committed; part of the data version.
pub const WRITE_COUNT: &str = "https://w3id.org/treaty-kg/ontology#writeCount";

/// `tkg:assertedIn`: derived by the validator, never stored: the named graph a
/// statement about the subject is asserted in.
pub const ASSERTED_IN: &str = "https://w3id.org/treaty-kg/ontology#assertedIn";

pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
pub const SD: &str = "http://www.w3.org/ns/sparql-service-description#";
pub const FORMATS: &str = "http://www.w3.org/ns/formats/";

/// The IRI of the named graph that holds a source file, from its path relative to
/// the directory it was found in (`data/ottawa.ttl` → `…/graph/data/ottawa`).
pub fn source_graph_iri(relative_path: &str) -> String {
    let mut path = relative_path.trim_start_matches("./").replace('\\', "/");
    if let Some(stripped) = path.strip_suffix(".gz") {
        path = stripped.to_owned();
    }
    if let Some((stem, _ext)) = path.rsplit_once('.') {
        if !stem.is_empty() && !stem.ends_with('/') {
            path = stem.to_owned();
        }
    }
    let encoded: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-._~/".contains(c) { c.to_string() } else { "_".to_owned() })
        .collect();
    format!("{BASE_IRI}graph/{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_iris_are_readable_and_safe() {
        assert_eq!(source_graph_iri("data/ottawa.ttl"), "https://w3id.org/treaty-kg/graph/data/ottawa");
        assert_eq!(source_graph_iri("./ontology/core.ttl.gz"), "https://w3id.org/treaty-kg/graph/ontology/core");
        assert_eq!(source_graph_iri("data/a b<c>.nt"), "https://w3id.org/treaty-kg/graph/data/a_b_c_");
    }
}
