//! The SPARQL 1.1 Protocol boundary: request rules (`protocol`), result
//! serialization (`results`), the service description (`service_description`)
//! and binding values into parsed queries (`bind`).
//! Nothing here touches the store; `http::sparql` wires these to `store`.

pub mod bind;
pub mod checkpoints;
pub mod depth;
pub mod parse;
pub mod protocol;
pub mod results;
pub mod service_description;
