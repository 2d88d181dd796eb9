//! Warming at start: the pages summarising the whole dataset (home, timeline,
//! ontology page, VoID in Turtle and HTML for the configured base) are
//! rendered once in the background as soon as the server listens. The
//! summaries behind them (statistics, sources, featured resources, events, the
//! ontology's terms) are thereby computed, so the first visitor finds them
//! ready, or joins their computation part-way, instead of starting whole-store
//! scans (at 10M quads, a minute) on a store with nothing kept; and each page
//! has a rendering to answer after a write while its new one is computed.
//! The handlers are called as they are, through the same memos as a visitor's
//! view, so nothing is computed twice; kept summaries read back in
//! milliseconds. `--no-warm-summaries` switches it off.

use super::AppState;
use crate::error::AppError;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use std::time::Instant;

/// Computes the summaries of the current data version, logging how long it took.
pub async fn warm_summaries(state: AppState) {
    let started = Instant::now();
    let generation = state.store.generation();
    let outcome = async {
        // Each page once, as a visitor's first view would render it: at start
        // nothing older is kept in memory, so each waits for its summaries.
        let accepting = |media: &'static str| HeaderMap::from_iter([(header::ACCEPT, HeaderValue::from_static(media))]);
        super::ui::home(State(state.clone())).await?;
        super::ui::timeline(State(state.clone()), HeaderMap::new()).await?;
        super::linked_data::ontology_document(State(state.clone()), accepting("text/html")).await?;
        for media in ["text/turtle", "text/html"] {
            super::linked_data::void_description(State(state.clone()), accepting(media), RawQuery(None)).await?;
        }
        Ok::<_, AppError>(())
    };
    match outcome.await {
        Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, generation, "dataset summaries ready"),
        Err(e) => tracing::warn!(error = %e, "warming the dataset summaries failed; the first visitor computes them"),
    }
}
