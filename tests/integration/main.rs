//! One integration test binary (fewer link steps): every module starts real
//! servers on ephemeral loopback ports and talks HTTP to them.

mod common;

mod auth_limits;
mod backends;
mod bench_smoke;
mod browser;
mod engine_limits;
mod formats;
mod geo;
mod graph_store;
mod hardening;
mod kg_dates;
mod knowledge_graph;
mod lifecycle;
mod linked_data;
mod load;
mod operations;
mod pages_for_browsers;
mod reliability;
mod saved_queries;
mod search;
mod sparql_protocol;
mod w3c;
