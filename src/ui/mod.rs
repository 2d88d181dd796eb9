//! The web interface: one layout and stylesheet for every page, the home page,
//! saved-query pages with forms, the SPARQL editor, and server-drawn SVG pictures
//! (a timeline of events, a resource's neighbourhood).
//!
//! Pages are rendered on the server (maud, every value escaped) and readable
//! without JavaScript; the editor's script is a static file (`/assets/editor.js`),
//! so the Content-Security-Policy allows no inline script.

pub mod data;
pub mod graph_view;
pub mod home;
pub mod map;
pub mod pages;
pub mod search;
pub mod svg;

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The id of every page's `<main>` (the skip link's target).
const MAIN_ID: &str = "main";

/// What the home page says when its summaries describe an older data version
/// (over a remote engine, for the seconds after a write).
pub fn stale_note() -> Markup {
    html! {
        p.warning role="status" {
            "The data changed a moment ago: these figures and lists are from the version before, "
            "and are being brought up to date. Queries, searches and resource pages already answer from the new data."
        }
    }
}

/// The shared page layout.
pub fn layout(title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — treaty-kg" }
                link rel="stylesheet" href="/assets/style.css";
                link rel="icon" href="data:,";
                script src="/assets/search.js" defer {}
                (head)
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="site" {
                        a href="/" { "treaty-kg" }
                        " · " a href="/queries" { "saved queries" }
                        " · " a href="/editor" { "SPARQL editor" }
                        " · " a href="/ontology" { "ontology" }
                        " · " a href="/.well-known/void" { "dataset (VoID)" }
                        " · " a href="/fragments" { "fragments" }
                    }
                    form.site-search role="search" method="get" action="/search" {
                        label.visually-hidden for="site-search" { "Search the graph" }
                        input #site-search.search-input type="search" name="q" placeholder="Search names and quotations…" autocomplete="off" maxlength=(crate::search::MAX_TEXT);
                        " " button type="submit" { "Search" }
                    }
                }
                main id=(MAIN_ID) { (body) }
                footer { p.meta { "treaty-kg · " a href="/dump" { "download the data" } " · " a href="/openapi.json" { "API" } } }
            }
        }
    }
}

/// Text safe inside `<script type="application/ld+json">`: `<`, `>` and `&` are
/// escaped as JSON unicode escapes, so no `</script>` can end the block.
pub fn script_json(json: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(json.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026"))
}
