//! TPF query strings parse or fail with a 400, and a parsed selector's URL parses back to it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use treaty_kg::linked_data::fragments::Selector;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    match Selector::parse(Some(query)) {
        Ok(selector) => {
            let url = selector.url("http://h", selector.page);
            let again = Selector::parse(url.split_once('?').map(|(_, q)| q)).expect("our own URL parses");
            assert_eq!(again, selector);
        }
        Err(e) => assert_eq!(e.status().as_u16(), 400),
    }
});
