//! The home page: the withdrawals' map on a day, featured resources, the saved
//! queries by tag, the timeline, and what the dataset holds.

use super::layout;
use super::svg::{self, Event};
use crate::linked_data::iri::page_href;
use crate::linked_data::void::Statistics;
use crate::queries::params::compact;
use crate::queries::SavedQuery;
use maud::{html, Markup};
use std::collections::BTreeMap;

/// A featured resource on the home page.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Featured {
    pub kind: String,
    /// The class of its kind (for the count, and the link to all of them).
    pub class: String,
    pub href: String,
    pub label: String,
}

/// A source file and the graphs it brought in.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SourceSummary {
    pub file: String,
    pub graphs: u64,
    pub triples: u64,
}

/// Every resource of `class`, as Triple Pattern Fragments (paged, in HTML).
fn all_of_class(class: &str) -> String {
    let selector = crate::linked_data::fragments::Selector {
        predicate: Some(oxigraph::model::vocab::rdf::TYPE.into_owned()),
        object: Some(oxigraph::model::NamedNode::new_unchecked(class).into()),
        ..Default::default()
    };
    selector.url("", 1)
}

/// The home page's map: the day it shows, and the map when there is one.
pub struct HomeMap {
    pub day: String,
    pub map: Option<Markup>,
}

/// What the home page shows.
pub struct Home<'a> {
    pub stats: &'a Statistics,
    pub sources: &'a [SourceSummary],
    pub featured: &'a [Featured],
    pub queries: &'a [std::sync::Arc<SavedQuery>],
    pub events: &'a [Event],
    /// The summaries describe an older data version than the store's.
    pub stale: bool,
    pub map: &'a HomeMap,
}

/// The home page.
pub fn home(page: &Home<'_>) -> Markup {
    let stats = page.stats;
    layout(
        "Home",
        html! {},
        html! {
            h1 { "treaty-kg" }
            p.lead {
                "A knowledge graph of states, treaties, officials, threats and military alliances — "
                (stats.triples) " statements, every one traceable to the sentence or source it comes from."
            }
            @if page.stale { (super::stale_note()) }
            @if let Some(picture) = &page.map.map { (map_section(&page.map.day, picture)) }
            div.cards {
                (featured_section(stats, page.featured))
                (questions_section(page.queries))
            }
            (timeline_section(page.events))
            (dataset_section(stats, page.sources))
        },
    )
}

fn map_section(day: &str, picture: &Markup) -> Markup {
    html! {
        section {
            h2 { "Where the withdrawals stood" }
            form method="get" action="/" {
                p {
                    label for="map-date" { "On the day " }
                    input type="date" id="map-date" name="date" value=(day);
                    " " button type="submit" { "Show" }
                    " · " a href={ "/queries/withdrawal-status?date=" (day) } { "the same as a table" }
                }
            }
            (picture)
        }
    }
}

/// The featured resources by kind, each kind with a link to all of its class.
fn featured_section(stats: &Statistics, featured: &[Featured]) -> Markup {
    let mut kinds: BTreeMap<&str, Vec<&Featured>> = BTreeMap::new();
    for f in featured {
        kinds.entry(f.kind.as_str()).or_default().push(f);
    }
    html! {
        section {
            h2 { "Featured" }
            @for (kind, items) in &kinds {
                h3 { (kind) }
                ul { @for f in items { li { a href=(f.href) { (f.label) } } } }
                @let class = items.first().map(|f| f.class.as_str()).unwrap_or_default();
                @let all = stats.classes.iter().find(|(c, _)| c.as_str() == class).map_or(0, |(_, n)| *n);
                @if all > items.len() as u64 {
                    p.meta { a href=(all_of_class(class)) { "All " (all) " →" } }
                }
            }
        }
    }
}

/// The saved queries by tag (those without a tag under "other").
fn questions_section(queries: &[std::sync::Arc<SavedQuery>]) -> Markup {
    let mut by_tag: BTreeMap<&str, Vec<&SavedQuery>> = BTreeMap::new();
    for q in queries {
        if q.tags.is_empty() {
            by_tag.entry("other").or_default().push(q);
        }
        for tag in &q.tags {
            by_tag.entry(tag.as_str()).or_default().push(q);
        }
    }
    html! {
        section {
            h2 { "Ask a question" }
            p { "Saved queries answer common questions without SPARQL:" }
            @for (tag, items) in &by_tag {
                h3 { (tag) }
                ul { @for q in items { li { a href={ "/queries/" (q.name) } { (q.summary) } } } }
            }
            p { "Or write your own in the " a href="/editor" { "SPARQL editor" } "." }
        }
    }
}

fn timeline_section(events: &[Event]) -> Markup {
    html! {
        section {
            h2 { "Timeline" }
            (svg::timeline(events, false))
            details {
                summary { "The events as a list" }
                ol { @for e in events { li { a href=(e.href) { (e.label) } " — " (e.when()) } } }
            }
        }
    }
}

/// The ontology's classes with their instances, the source files, and the
/// ways to take the whole dataset.
fn dataset_section(stats: &Statistics, sources: &[SourceSummary]) -> Markup {
    let ours: Vec<(&oxigraph::model::NamedNode, &u64)> =
        stats.classes.iter().filter(|(c, _)| c.as_str().starts_with(crate::vocab::ONTOLOGY_NS)).collect();
    html! {
        section {
            h2 { "What is in the dataset" }
            table {
                caption { "Classes of the treaty-kg ontology with their number of instances" }
                thead { tr { th scope="col" { "Class" } th scope="col" { "Instances" } } }
                tbody { @for (class, n) in ours { tr { td { a href=(page_href(class.as_str())) { (compact(class.as_str())) } } td { (n) } } } }
            }
            table {
                caption { "Source files and the named graphs they were loaded into" }
                thead { tr { th scope="col" { "Source" } th scope="col" { "Graphs" } th scope="col" { "Statements loaded" } } }
                tbody { @for s in sources { tr { td { code { (s.file) } } td { (s.graphs) } td { (s.triples) } } } }
            }
            p {
                (stats.graph_count) " named graphs in all · "
                a href="/.well-known/void" { "VoID description" } " · "
                a href="/dump" { "download everything (N-Quads)" } " · "
                a href="/ontology" { "ontology documentation" } " · "
                a href="/sparql" { "SPARQL endpoint" } " · "
                a href="/fragments" { "Triple Pattern Fragments" }
            }
        }
    }
}
