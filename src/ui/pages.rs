//! The pages of the web interface: a saved query's page (form, results,
//! downloads, permalink, curl line, source) and the SPARQL editor (the home
//! page is `home`'s).

use super::layout;
use crate::linked_data::iri::page_href;
use crate::queries::params::{compact, ParamType};
use crate::queries::SavedQuery;
use maud::{html, Markup};
use oxigraph::model::Term;
use std::collections::BTreeMap;

/// The rows of an answer to show in a table.
pub enum Answer {
    Table {
        variables: Vec<String>,
        rows: Vec<Vec<Option<Term>>>,
        truncated: bool,
    },
    Boolean(bool),
    Graph(String),
    Error(String),
    /// Required parameters are missing: show the form only.
    NotRun,
}

fn cell(term: &Option<Term>) -> Markup {
    match term {
        None => html! {},
        Some(Term::NamedNode(n)) => html! { a href=(page_href(n.as_str())) { (compact(n.as_str())) } },
        Some(Term::Literal(l)) => html! {
            span lang=[l.language()] { (l.value()) }
        },
        Some(other) => html! { (other.to_string()) },
    }
}

/// A results table whose IRIs link to their pages.
pub fn results_table(variables: &[String], rows: &[Vec<Option<Term>>]) -> Markup {
    html! {
        table.results {
            thead { tr { @for v in variables { th scope="col" { (v) } } } }
            tbody { @for row in rows { tr { @for c in row { td { (cell(c)) } } } } }
        }
    }
}

/// The most allowed values a parameter's drop-down lists; past it, a text field
/// with that many suggestions.
const MAX_SELECT_OPTIONS: usize = 500;

fn input(param: &crate::queries::params::Param, value: &str, options: Option<&Vec<String>>) -> Markup {
    let id = format!("param-{}", param.name);
    let required = param.required;
    html! {
        p {
            label for=(id) { (param.name) " " small.meta { "(" (param.kind.describe()) @if required { ", required" } ")" } }
            br;
            @if let Some(options) = options.filter(|o| o.len() <= MAX_SELECT_OPTIONS) {
                select id=(id) name=(param.name) required[required] {
                    @if !required { option value="" { "— any —" } }
                    @for o in options { option value=(o) selected[o == value] { (o) } }
                }
            } @else if let Some(options) = options {
                // Too many for a drop-down: a field with the first ones as
                // suggestions; the server accepts any allowed value.
                @let list = format!("{id}-values");
                input id=(id) name=(param.name) type="text" value=(value) required[required] size="60"
                    list=(list) placeholder=(param.kind.example());
                datalist id=(list) { @for o in options.iter().take(MAX_SELECT_OPTIONS) { option value=(o) {} } }
                br;
                small.meta { "More than " (MAX_SELECT_OPTIONS) " allowed values: type one (the first " (MAX_SELECT_OPTIONS) " are suggested)." }
            } @else {
                @let kind = match &param.kind {
                    ParamType::Iri { .. } => "url",
                    ParamType::Literal { datatype } => match datatype.as_str().rsplit('#').next().unwrap_or_default() {
                        "date" => "date",
                        "integer" | "decimal" | "double" => "number",
                        _ => "text",
                    },
                };
                input id=(id) name=(param.name) type=(kind) value=(value) required[required] size="60"
                    placeholder=(param.kind.example()) step=[(kind == "number").then_some("any")];
            }
            @if !param.description.is_empty() { br; small.meta { (param.description) } }
        }
    }
}

/// A saved query's page: its form, its answer, downloads and source.
pub fn saved_query(
    query: &SavedQuery,
    supplied: &[(String, String)],
    options: &BTreeMap<String, Vec<String>>,
    answer: &Answer,
    base: &str,
) -> Markup {
    let permalink = permalink(&query.name, supplied);
    layout(
        &query.summary,
        html! {},
        html! {
            p.meta { a href="/queries" { "Saved queries" } " › " (query.name) }
            h1 { (query.summary) }
            @if !query.description.is_empty() { p { (query.description) } }
            p.meta { @for t in &query.tags { span.tag { (t) } " " } }
            form method="get" action={ "/queries/" (query.name) } {
                @for param in &query.params {
                    @let value = supplied.iter().find(|(k, _)| *k == param.name).map(|(_, v)| v.clone())
                        .or_else(|| param.default.clone()).unwrap_or_default();
                    (input(param, &value, options.get(&param.name)))
                }
                p { button type="submit" { "Run" } }
            }
            section aria-live="polite" {
                h2 { "Answer" }
                (answer_view(&query.summary, answer))
            }
            (use_section(query, &permalink, base))
            section {
                h2 { "SPARQL" }
                p { a href={ "/queries/" (query.name) ".rq" } download { "source file (download)" } " · " a href={ "/editor?query=" (form_urlencoded::byte_serialize(query.source.as_bytes()).collect::<String>()) } { "open in the editor" } }
                pre { code { (query.source) } }
            }
        },
    )
}

/// The page's own address with the values supplied (empty ones left out).
fn permalink(name: &str, supplied: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in supplied.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    match s.finish() {
        q if q.is_empty() => format!("/queries/{name}"),
        q => format!("/queries/{name}?{q}"),
    }
}

/// The answer: a table (with a map beside it when it holds shapes), a
/// boolean, a graph as Turtle, or why there is none.
fn answer_view(title: &str, answer: &Answer) -> Markup {
    html! {
        @match answer {
            Answer::Table { variables, rows, truncated } => {
                p.meta { (rows.len()) " row(s)" @if *truncated { " — cut at the query's row cap" } }
                @if let Some(picture) = super::map::from_rows(title, rows) {
                    div.answer-views { (results_table(variables, rows)) (picture) }
                } @else {
                    (results_table(variables, rows))
                }
            }
            Answer::Boolean(b) => p.boolean { (if *b { "Yes (true)" } else { "No (false)" }) },
            Answer::Graph(turtle) => pre { code { (turtle) } },
            Answer::Error(message) => p.error role="alert" { (message) },
            Answer::NotRun => p { "Fill in the required parameters and press Run." },
        }
    }
}

/// Downloads in each format, the permalink and the same answer as a command.
fn use_section(query: &SavedQuery, permalink: &str, base: &str) -> Markup {
    let separator = if permalink.contains('?') { '&' } else { '?' };
    let formats: &[(&str, &str)] = if query.is_graph() {
        &[("ttl", "Turtle"), ("jsonld", "JSON-LD"), ("nt", "N-Triples")]
    } else {
        &[("csv", "CSV"), ("json", "JSON"), ("tsv", "TSV"), ("xml", "XML")]
    };
    let curl_accept = if query.is_graph() { "text/turtle" } else { "text/csv" };
    html! {
        section {
            h2 { "Use this answer" }
            p {
                "Download: "
                @for (i, (f, name)) in formats.iter().enumerate() { @if i > 0 { " · " } a href={ (permalink) (separator) "format=" (f) } download { (name) } }
                " · " a href=(permalink) { "permalink" }
            }
            p { label for="curl" { "As a command:" } }
            input.curl id="curl" readonly value={ "curl -H 'Accept: " (curl_accept) "' '" (base) (permalink) "'" } size="80";
            p.meta { "Query version " code { (query.version) } " · cite it with the answer's X-Data-Version header." }
        }
    }
}

/// The catalogue as a page.
pub fn catalogue(queries: &[std::sync::Arc<SavedQuery>]) -> Markup {
    layout(
        "Saved queries",
        html! {},
        html! {
            h1 { "Saved queries" }
            p { "Named, documented queries over the knowledge graph. Each one is also an API operation (" a href="/openapi.json" { "OpenAPI" } ")." }
            table {
                thead { tr { th scope="col" { "Query" } th scope="col" { "Parameters" } th scope="col" { "Tags" } } }
                tbody {
                    @for q in queries {
                        tr {
                            td { a href={ "/queries/" (q.name) } { (q.summary) } }
                            td { @for (i, p) in q.params.iter().enumerate() { @if i > 0 { ", " } (p.name) } }
                            td { @for t in &q.tags { span.tag { (t) } " " } }
                        }
                    }
                }
            }
        },
    )
}

/// The prefixes pre-filled in the editor.
pub fn editor_prefixes() -> String {
    crate::sparql::results::PREFIXES
        .iter()
        .filter(|(p, _)| ["rdf", "rdfs", "xsd", "skos", "prov", "org", "schema", "tkg", "dcterms"].contains(p))
        .map(|(p, ns)| format!("PREFIX {p}: <{ns}>\n"))
        .collect()
}

/// The SPARQL editor.
pub fn editor(initial: &str, examples: &[std::sync::Arc<SavedQuery>]) -> Markup {
    layout(
        "SPARQL editor",
        html! { script src="/assets/editor.js" defer {} script src="/assets/completion.js" defer {} },
        html! {
            h1 { "SPARQL editor" }
            p.meta { "Completions as you type: prefixes, the classes and properties of the data after " code { "prefix:" } ", and resources by name for any other word (Ctrl+Space asks). The endpoint's " a href="/service-description" { "service description" } " says what it offers." }
            form #editor-form method="get" action="/sparql" {
                p { label for="query" { "Query " small.meta { "(Ctrl+Enter or ⌘+Enter runs it)" } } }
                div.editor {
                    pre #highlight aria-hidden="true" {}
                    textarea #query name="query" rows="16" spellcheck="false" autocapitalize="off" { (initial) }
                }
                p {
                    button type="submit" { "Run" } " "
                    button #explain type="button" title="Run the query to its end and show the engine's plan, with each step's rows and time" { "Explain" } " "
                    span #status.meta role="status" {}
                }
            }
            div #error.error role="alert" hidden {}
            section #results aria-live="polite" {}
            section {
                h2 { "Examples" }
                ul {
                    @for q in examples {
                        li { a href={ "/editor?query=" (form_urlencoded::byte_serialize(q.source.as_bytes()).collect::<String>()) } { (q.summary) } }
                    }
                }
            }
        },
    )
}
