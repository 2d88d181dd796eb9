//! Parameter values of every type either become one term or a clear error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use treaty_kg::queries::params::ParamType;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in ["iri", "xsd:string", "xsd:integer", "xsd:decimal", "xsd:double", "xsd:boolean", "xsd:date", "xsd:dateTime", "xsd:gYear"] {
        let t = ParamType::parse(kind, None).unwrap();
        if let Ok(term) = t.term(text) {
            if kind == "xsd:string" {
                assert_eq!(term, oxigraph::model::Literal::new_simple_literal(text).into());
            }
        }
    }
});
