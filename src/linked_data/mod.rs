//! Linked data: every IRI we mint dereferences (303 to an RDF document or an
//! HTML page), the ontology documents itself, and the dataset is described
//! (VoID), dumped, and served as Triple Pattern Fragments.
//!
//! - `iri` — the IRI ↔ URL mapping (the one place it lives);
//! - `describe` — which statements describe a resource (over the store's quad reader);
//! - `document` — a resource's statements, context and provenance;
//! - `jsonld` — compacted JSON-LD;
//! - `html` — the pages (maud, escaped);
//! - `ontology`, `void`, `fragments` — the ontology page, VoID, TPF.

pub mod describe;
pub mod document;
pub mod fragments;
pub mod html;
pub mod iri;
pub mod jsonld;
pub mod ontology;
pub mod void;
