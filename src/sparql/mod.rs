//! The SPARQL 1.1 Protocol boundary: request rules (`protocol`), result
//! serialization (`results`) and the service description (`service_description`).
//! Nothing here touches the store; `http::sparql` wires these to `store`.

pub mod protocol;
pub mod results;
pub mod service_description;
