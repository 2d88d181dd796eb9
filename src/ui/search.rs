//! The search page: the box, how many resources match, and each hit with its
//! type, label, highlighted snippet and the sentence (or source) it comes from.

use super::layout;
use crate::linked_data::iri::page_href;
use crate::queries::params::compact;
use crate::search::Answer;
use maud::{html, Markup, PreEscaped};

/// The href of a page of hits.
pub fn page_link(q: &str, page: usize) -> String {
    format!("/search?q={}&page={page}", form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>())
}

/// The search page; `answer` is `None` before anything was asked.
pub fn page(q: &str, answer: Option<&Answer>, page: usize, per_page: usize) -> Markup {
    let title = if q.is_empty() { "Search".to_owned() } else { format!("Search: {q}") };
    layout(
        &title,
        html! {},
        html! {
            h1 { "Search" }
            form.search-page role="search" method="get" action="/search" {
                label for="search-page-q" { "Names, words or \"a phrase\"; end a word with * to match its beginning " }
                input #search-page-q.search-input type="search" name="q" value=(q) autocomplete="off" maxlength=(crate::search::MAX_TEXT);
                " " button type="submit" { "Search" }
            }
            @if let Some(answer) = answer {
                p.meta role="status" {
                    (answer.total) " resource" @if answer.total != 1 { "s" } " match " "“" (q) "”"
                    @if answer.stale { " (the index is being updated after a change; these hits may be slightly behind)" }
                }
                ol.hits start=((page - 1) * per_page + 1) {
                    @for hit in &answer.hits {
                        li.hit {
                            a.hit-label href=(page_href(&hit.iri)) { (hit.label) }
                            @for t in hit.types.iter().take(2) { " " span.tag { (compact(t)) } }
                            p.snippet { (PreEscaped(&hit.snippet.html)) }
                            @if let Some((source, text)) = &hit.source {
                                p.meta.hit-source {
                                    "From: "
                                    a href=(page_href(source)) { @if text.is_empty() { (source) } @else { (text) } }
                                }
                            }
                        }
                    }
                }
                nav.pager aria-label="pages of hits" {
                    @if page > 1 { a rel="prev" href=(page_link(q, page - 1)) { "← previous" } " " }
                    @if page * per_page < answer.total { a rel="next" href=(page_link(q, page + 1)) { "next →" } }
                }
            }
        },
    )
}
