//! SPARQL text through our own protocol entry point: the request rules, the
//! depth pre-scan, then (when the scan accepts it) parsing and evaluation on the
//! deep-stack pool against an empty store. The dictionary biases the input
//! toward nesting and chains. Nothing may panic or overflow a stack: text the
//! scan accepts must parse and evaluate within the pool's stacks, text it
//! refuses must be refused as too deep, and protocol errors must be 4xx.
#![no_main]
use libfuzzer_sys::fuzz_target;
use treaty_kg::sparql::{depth, parse, protocol};

fuzz_target!(|data: &[u8]| {
    let request = match protocol::from_post(None, Some("application/sparql-query"), data) {
        Ok(protocol::SparqlRequest::Query { text, .. }) => text,
        Ok(_) => return,
        Err(e) => {
            assert!(e.status().is_client_error(), "{e}");
            return;
        }
    };
    let limit = depth::DEFAULT_MAX_DEPTH;
    let scanned = depth::scan(&request, limit);
    let _ = depth::form(&request);
    let outcome = treaty_kg::exec::run_blocking(move || match parse::query(&request, Some("http://example.org/"), limit) {
        Ok(query) => {
            let store = oxigraph::store::Store::new().unwrap();
            let results = oxigraph::sparql::SparqlEvaluator::new().for_query(query).on_store(&store).execute();
            if let Ok(oxigraph::sparql::QueryResults::Solutions(solutions)) = results {
                for _ in solutions.take(10) {}
            }
            true
        }
        Err(parse::ParseError::TooDeep(_)) => false,
        Err(_) => true,
    })
    .expect("the pool answers");
    assert_eq!(scanned.is_ok(), outcome, "the scan and the parser disagree on the depth");
});
