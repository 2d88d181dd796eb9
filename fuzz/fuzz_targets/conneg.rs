//! Accept headers and format= values never panic, and a choice is always an offer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use treaty_kg::conneg;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let offers = conneg::rdf_formats();
    if let Some((media, _)) = conneg::negotiate(Some(text), &offers) {
        assert!(offers.iter().any(|(m, _)| *m == media));
    }
    let _ = conneg::negotiate(Some(text), conneg::RESULTS_FORMATS);
    let _ = conneg::from_format_param(text, conneg::RESULTS_FORMATS);
    let _ = conneg::rdf_format_of_content_type(text);
});
