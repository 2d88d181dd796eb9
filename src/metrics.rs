//! Prometheus metrics: requests by route, method and status; latency by route;
//! timeouts; the store's size. Rendered in the text exposition format at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicI64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    /// A standard method's name, or `other`: a stranger's made-up methods
    /// must not grow the metrics without bound.
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SavedQueryLabels {
    pub query: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryNameLabels {
    pub query: String,
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    timeouts: Counter,
    renders: Counter,
    store_quads: Gauge<i64, AtomicI64>,
    saved_calls: Family<SavedQueryLabels, Counter>,
    saved_latency: Family<QueryNameLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("treaty_kg");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        let timeouts = Counter::default();
        let renders = Counter::default();
        let store_quads = Gauge::<i64, AtomicI64>::default();
        registry.register("http_requests", "HTTP requests by route, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "Time to the response head, by route", latency.clone());
        registry.register("query_timeouts", "Queries and updates cancelled at their deadline", timeouts.clone());
        registry.register("store_quads", "Quads in the store", store_quads.clone());
        registry.register(
            "linked_data_renders",
            "Linked-data responses rendered (pages, documents, fragments, VoID, ontology); repeat views of one data version are served from memory",
            renders.clone(),
        );
        let saved_calls = Family::<SavedQueryLabels, Counter>::default();
        let saved_latency = Family::<QueryNameLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 20))
        });
        registry.register(
            "saved_query_calls",
            "Saved-query calls by query and outcome (ok, cached, not_modified, truncated, timeout, error)",
            saved_calls.clone(),
        );
        registry.register("saved_query_duration_seconds", "Saved-query latency by query", saved_latency.clone());
        Metrics { registry, requests, latency, timeouts, renders, store_quads, saved_calls, saved_latency }
    }
}

impl Metrics {
    pub fn record(&self, route: &str, method: &axum::http::Method, status: u16, seconds: f64, timed_out: bool) {
        self.requests
            .get_or_create(&RequestLabels { route: route.to_owned(), method: method_label(method), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_owned() }).observe(seconds);
        if timed_out {
            self.timeouts.inc();
        }
    }

    /// A linked-data response was rendered (not served from the memo).
    pub fn record_render(&self) {
        self.renders.inc();
    }

    pub fn record_saved_query(&self, query: &str, outcome: SavedOutcome, seconds: f64) {
        self.saved_calls
            .get_or_create(&SavedQueryLabels { query: query.to_owned(), outcome: outcome.label().to_owned() })
            .inc();
        self.saved_latency.get_or_create(&QueryNameLabels { query: query.to_owned() }).observe(seconds);
    }

    /// The quads in the store, as the dataset summaries count them.
    pub fn set_quads(&self, quads: u64) {
        self.store_quads.set(i64::try_from(quads).unwrap_or(i64::MAX));
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The label of a request's method: its name when it is one of HTTP's own,
/// `other` for an extension method.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "other",
    }
}

/// One counter family appended to a rendered exposition (before its `# EOF`):
/// its name (without `_total`), help, and (labels, value) samples.
fn with_counter(rendered: String, name: &str, help: &str, samples: &[(&str, String)]) -> String {
    let mut out = rendered.strip_suffix("# EOF\n").unwrap_or(&rendered).to_owned();
    out.push_str(&format!("# HELP treaty_kg_{name} {help}\n# TYPE treaty_kg_{name} counter\n"));
    for (labels, value) in samples {
        out.push_str(&format!("treaty_kg_{name}_total{labels} {value}\n"));
    }
    out.push_str("# EOF\n");
    out
}

/// Adds the remote engine's figures to a rendered exposition:
/// requests sent, requests that failed (502/504), and the time spent waiting.
pub fn with_engine_stats(rendered: String, stats: &crate::store::EngineStats) -> String {
    use std::sync::atomic::Ordering;
    let text = with_counter(
        rendered,
        "engine_requests",
        "Requests sent to the remote SPARQL engine.",
        &[("", stats.requests.load(Ordering::Relaxed).to_string())],
    );
    let text = with_counter(
        text,
        "engine_errors",
        "Requests to the engine that failed (unreachable, failing, past the deadline).",
        &[("", stats.errors.load(Ordering::Relaxed).to_string())],
    );
    with_counter(
        text,
        "engine_request_seconds",
        "Time spent waiting for the engine's answers.",
        &[("", format!("{:.6}", stats.micros.load(Ordering::Relaxed) as f64 / 1e6))],
    )
}

/// Adds the queries tried on the request's own thread since start: answered
/// there, or given way to the evaluation pool (`store::inline`).
pub fn with_inline_attempts(rendered: String, answered: u64, gave_way: u64) -> String {
    with_counter(
        rendered,
        "inline_attempts",
        "Queries tried on the thread that read the request: answered there, or given way to the evaluation pool.",
        &[("{outcome=\"answered\"}", answered.to_string()), ("{outcome=\"gave_way\"}", gave_way.to_string())],
    )
}

/// Adds the inferred graph's runs since start, by kind: brought up to date for
/// the subjects writes named, or regenerated whole.
pub fn with_inference_runs(rendered: String, refreshes: u64, regenerations: u64) -> String {
    with_counter(
        rendered,
        "inference_runs",
        "Runs keeping the inferred graph current: for the subjects writes named (refresh), or whole (regeneration).",
        &[("{how=\"refresh\"}", refreshes.to_string()), ("{how=\"regeneration\"}", regenerations.to_string())],
    )
}

/// How a saved query's call ended (the `outcome` label of its calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SavedOutcome {
    /// The client's copy is current (304).
    NotModified,
    /// Answered from the answer cache.
    Cached,
    /// Evaluated, whole.
    Evaluated,
    /// Evaluated, cut at the query's row cap.
    Truncated,
    Timeout,
    Error,
}

impl SavedOutcome {
    pub fn label(self) -> &'static str {
        match self {
            SavedOutcome::NotModified => "not_modified",
            SavedOutcome::Cached => "cached",
            SavedOutcome::Evaluated => "ok",
            SavedOutcome::Truncated => "truncated",
            SavedOutcome::Timeout => "timeout",
            SavedOutcome::Error => "error",
        }
    }
}
