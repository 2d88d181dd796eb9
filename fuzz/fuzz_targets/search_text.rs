//! Search texts never panic: splitting into words, phrases and prefixes, the
//! query built from them, and snippets of any text (byte offsets of folded,
//! multi-byte words), whose HTML holds no markup but the `<b>` marks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use treaty_kg::search::{query, schema, snippet};

fn index() -> &'static (tantivy::Index, schema::Fields) {
    static INDEX: OnceLock<(tantivy::Index, schema::Fields)> = OnceLock::new();
    INDEX.get_or_init(|| {
        let (s, fields) = schema::schema();
        let index = tantivy::Index::create_in_ram(s);
        schema::register(&index);
        (index, fields)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (index, fields) = index();
    let Ok(units) = query::units(text) else { return };
    assert!(units.len() <= query::MAX_UNITS);
    let highlight = query::build(index, fields, &units).map(|(_, h)| h).unwrap_or_default();
    let s = snippet::snippet(index, text, &highlight, 200);
    assert!(!s.html.replace("<b>", "").replace("</b>", "").contains('<'), "{:?}", s.html);
});
