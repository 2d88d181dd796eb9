//! Saved-query files (header and SPARQL) never panic the parser; errors name the file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = treaty_kg::queries::header::parse("fuzz", "queries/fuzz.rq", text) {
        assert!(e.starts_with("queries/fuzz.rq"), "{e}");
    }
});
