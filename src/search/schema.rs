//! The index's fields and text analyzers.
//!
//! One document per resource per graph that speaks of it (the run of quads
//! with one subject in one graph): its labels, alternative labels and other
//! texts (quotations, sentences, comments), its types, and the graph. What the
//! graph was derived from is not stored: a hit's source is read from the store
//! when the hit is shown, so it is always the store's (a sentence's text
//! edited, a derivation changed), whatever the write touched. A resource
//! described in several graphs has several documents; searches collapse them
//! by the resource's key.

use super::{IndexLocation, SearchError};
use crate::store::StoreError;
use std::path::Path;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::Index;

/// Words folded to ASCII and lower case, then stemmed (English): "Siliņa"
/// is `silina`, "productions" is `product`.
pub const STEMMED: &str = "treaty_kg_stemmed";
/// Words folded to ASCII and lower case, not stemmed: for prefixes.
pub const FOLDED: &str = "treaty_kg_folded";

/// The fields of the index.
#[derive(Clone, Copy)]
pub struct Fields {
    /// The resource's IRI (exact; stored).
    pub iri: Field,
    /// A 64-bit hash of the IRI (fast): how hits are collapsed by resource.
    pub key: Field,
    pub label: Field,
    pub alt: Field,
    pub text: Field,
    /// Labels, alternative labels and texts again, unstemmed: prefix queries.
    pub plain: Field,
    /// Labels and alternative labels, unstemmed: suggestions as one types.
    pub suggest: Field,
    /// `rdf:type` IRIs (exact; stored).
    pub types: Field,
    /// The graph the document comes from (stored).
    pub graph: Field,
}

fn text(analyzer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(analyzer).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// The schema and its fields.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        iri: b.add_text_field("iri", STRING | STORED),
        key: b.add_u64_field("key", INDEXED | FAST),
        label: b.add_text_field("label", text(STEMMED, true)),
        alt: b.add_text_field("alt", text(STEMMED, true)),
        text: b.add_text_field("text", text(STEMMED, true)),
        plain: b.add_text_field("plain", text(FOLDED, false)),
        suggest: b.add_text_field("suggest", text(FOLDED, false)),
        types: b.add_text_field("types", STRING | STORED),
        graph: b.add_text_field("graph", STRING | STORED),
    };
    (b.build(), fields)
}

fn folded() -> tantivy::tokenizer::TextAnalyzerBuilder<impl tantivy::tokenizer::Tokenizer> {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
}

/// Registers the analyzers with an index (needed at every open).
pub fn register(index: &tantivy::Index) {
    index.tokenizers().register(FOLDED, folded().build());
    index.tokenizers().register(STEMMED, folded().filter(Stemmer::new(Language::English)).build());
}

/// The key documents of one resource share (FNV-1a: stable across runs and builds).
pub fn key(iri: &str) -> u64 {
    iri.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

pub(super) fn open_index(location: &IndexLocation) -> Result<Index, SearchError> {
    let (schema, _) = schema();
    let index = match location {
        IndexLocation::Memory => Index::create_in_ram(schema),
        IndexLocation::Directory(dir) => open_dir(dir, schema)?,
    };
    register(&index);
    Ok(index)
}

/// Opens the index in `dir`, or creates it there; an index of another schema
/// (an older treaty-kg) is replaced.
fn open_dir(dir: &Path, schema: tantivy::schema::Schema) -> Result<Index, SearchError> {
    let io = |e: std::io::Error| SearchError::Store(StoreError::io(format!("{}: the search index", dir.display()), e));
    if dir.join("meta.json").exists() {
        let index = Index::open_in_dir(dir)?;
        if index.schema() == schema {
            return Ok(index);
        }
        tracing::info!(dir = %dir.display(), "the search index has another schema; rebuilding it");
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    Ok(Index::create_in_dir(dir, schema)?)
}
