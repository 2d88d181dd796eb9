//! URL paths map only to IRIs under …/id/, never outside the served tree.
#![no_main]
use libfuzzer_sys::fuzz_target;
use treaty_kg::linked_data::iri;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    if let Some(node) = iri::resource_iri(path) {
        let s = node.as_str();
        assert!(s.starts_with("https://w3id.org/treaty-kg/id/"));
        assert!(!s.contains("/../") && !s.contains("/./") && !s.ends_with("/.."));
        assert_eq!(iri::local_path(s), Some(path));
    }
    let _ = iri::split_extension(path);
    let _ = iri::page_href(path);
});
