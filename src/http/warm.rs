//! Warming at start: the dataset summaries (the home page's statistics,
//! sources, featured resources and events, and the ontology's terms) are
//! computed once in the background as soon as the server listens, so the first
//! visitor finds them ready, or joins their computation part-way, instead of
//! starting whole-store scans (at 10M quads, a minute) on a store with nothing
//! kept. Each goes through the same memo as a page's, so nothing is computed
//! twice; kept summaries read back in milliseconds. `--no-warm-summaries`
//! switches it off.

use super::AppState;
use crate::error::AppError;
use std::time::{Duration, Instant};

/// Computes the summaries of the current data version, logging how long it took.
pub async fn warm_summaries(state: AppState) {
    let started = Instant::now();
    let generation = state.store.generation();
    let outcome = async {
        // No deadline: a page's own call would wait for these same flights.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
        super::ui::home_summaries(&state, generation, deadline).await?;
        super::linked_data::ontology_terms(&state).await?;
        Ok::<_, AppError>(())
    };
    match outcome.await {
        Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, generation, "dataset summaries ready"),
        Err(e) => tracing::warn!(error = %e, "warming the dataset summaries failed; the first visitor computes them"),
    }
}
