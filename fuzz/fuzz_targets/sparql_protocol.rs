//! SPARQL Protocol requests never panic; errors are 4xx.
#![no_main]
use libfuzzer_sys::fuzz_target;
use treaty_kg::sparql::protocol;

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len() / 2);
    let Ok(query_string) = std::str::from_utf8(head) else { return };
    for result in [
        protocol::from_get(Some(query_string)),
        protocol::from_post(Some(query_string), Some("application/x-www-form-urlencoded"), body),
        protocol::from_post(None, Some("application/sparql-query"), body),
        protocol::from_post(None, Some("application/sparql-update"), body),
    ] {
        if let Err(e) = result {
            assert!(e.status().is_client_error(), "{e}");
        }
    }
});
