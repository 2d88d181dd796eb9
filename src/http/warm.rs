//! Warming at start: the dataset summaries (the home page's statistics,
//! sources, featured resources and events, and the ontology's terms) are
//! computed once in the background as soon as the server listens, so the first
//! visitor finds them ready, or joins their computation part-way, instead of
//! starting whole-store scans (at 10M quads, a minute) on a store with nothing
//! kept; then the pages built on them (timeline, ontology page, VoID in Turtle
//! and HTML for the configured base) are rendered once, so each has a rendering
//! to answer after a write while its new one is computed. Everything goes
//! through the same memos as a visitor's view, so nothing is computed twice;
//! kept summaries read back in milliseconds. `--no-warm-summaries` switches it off.

use super::AppState;
use crate::error::AppError;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
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
        // The other pages summarising the whole dataset, rendered once: after a
        // write they answer an older rendering while the new one is computed,
        // but one never rendered waits for its scan (82 s at 10M quads).
        let accepting = |media: &'static str| HeaderMap::from_iter([(header::ACCEPT, HeaderValue::from_static(media))]);
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
