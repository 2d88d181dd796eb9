//! What the home page shows of the source files: the ledger's record of what
//! each brought in, or, where a ledger did not record it, one SPARQL count over
//! the file's graphs. (The rest of what pages show of the whole dataset is kept
//! by [`crate::summary`].)

use super::home::SourceSummary;
use super::map;
use crate::error::AppError;
use crate::linked_data::iri::page_href;
use crate::store::{KgStore, QueryJob};
use oxigraph::model::Term;

/// An IRI or a literal's value as text (`None` for blank nodes and unbound cells).
fn text(t: &Option<Term>) -> Option<String> {
    t.as_ref().filter(|t| !matches!(t, Term::BlankNode(_))).map(crate::queries::plain)
}

async fn rows(store: &KgStore, query: &str, label: &str) -> Result<Vec<Vec<Option<Term>>>, AppError> {
    Ok(store.select_rows(QueryJob::text(query, label), 10_000).await?)
}

/// The rows (at most `cap`) of the saved query `name` with the `supplied`
/// parameters, checked like a visitor's; `None` when the catalogue has no such query.
async fn saved_rows(
    store: &KgStore,
    catalogue: &crate::queries::Catalogue,
    name: &str,
    supplied: &[(String, String)],
    label: &str,
    cap: usize,
) -> Result<Option<Vec<Vec<Option<Term>>>>, AppError> {
    let Some(saved) = catalogue.get(name) else { return Ok(None) };
    let bindings = crate::queries::params::bind(&saved.params, supplied)?;
    let job = QueryJob { bindings, ..QueryJob::new(saved.query.clone(), label) };
    Ok(Some(store.select_rows(job, cap).await?))
}

/// Today's date (UTC), `YYYY-MM-DD`: the day pages answer for when none is asked.
pub fn today() -> String {
    oxsdatatypes::DateTime::now().to_string().chars().take(10).collect()
}

/// Graphs counted by one query (well inside the parser's nesting limit).
const GRAPHS_PER_COUNT: usize = 200;

/// The loaded source files (from the store's ledger), with the graphs and
/// statements each brought in: as the ledger recorded them at load, or (for
/// ledgers without the count) counted by SPARQL.
pub async fn sources(store: &KgStore) -> Result<Vec<SourceSummary>, AppError> {
    type Graphs = (Vec<String>, Option<u64>);
    let mut by_file: std::collections::BTreeMap<String, Graphs> = std::collections::BTreeMap::new();
    for (graph, record) in store.sources() {
        let (graphs, recorded) = by_file.entry(record.file.clone()).or_insert((Vec::new(), Some(0)));
        graphs.push(graph);
        graphs.extend(record.contains.iter().cloned());
        *recorded = recorded.zip(record.statements).map(|(a, b)| a + b);
    }
    let mut summaries = Vec::new();
    for (file, (graphs, recorded)) in by_file {
        // What the ledger recorded at load: no work per page.
        if let Some(n) = recorded {
            summaries.push(SourceSummary { file, graphs: graphs.len() as u64, triples: n });
            continue;
        }
        // Each graph named, so the engine reads those graphs alone (a `VALUES`
        // joined with `GRAPH ?g` read every graph of the store); a few hundred
        // to a query, as every `UNION` nests one level deeper.
        let mut n = 0;
        for chunk in graphs.chunks(GRAPHS_PER_COUNT) {
            let union: Vec<String> = chunk.iter().map(|g| format!("{{ GRAPH <{g}> {{ ?s ?p ?o }} }}")).collect();
            let query = format!("SELECT (COUNT(*) AS ?n) WHERE {{ {} }}", union.join(" UNION "));
            let count = rows(store, &query, "home page").await?.first().and_then(|r| text(&r[0]));
            n += count.as_deref().and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("the statements of {file} were not counted: {count:?}"))
            })?;
        }
        summaries.push(SourceSummary { file, graphs: graphs.len() as u64, triples: n });
    }
    Ok(summaries)
}

const GEO: &str = "PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX tkg: <https://w3id.org/treaty-kg/ontology#>";

/// The shape of `iri` and of the states it borders, for its page's map: none
/// when it has no shape.
pub async fn neighbour_map(
    store: &KgStore,
    iri: &oxigraph::model::NamedNode,
) -> Result<Option<maud::Markup>, AppError> {
    let query = format!(
        "{GEO}
SELECT ?n (SAMPLE(?l) AS ?label) (SAMPLE(?w) AS ?wkt) (MAX(?f) AS ?focus) WHERE {{
  {{ BIND({iri} AS ?n) BIND(1 AS ?f) }} UNION {{ {iri} tkg:borders ?n BIND(0 AS ?f) }} UNION {{ ?n tkg:borders {iri} BIND(0 AS ?f) }}
  ?n geo:hasGeometry/geo:asWKT ?w .
  OPTIONAL {{ ?n rdfs:label ?l FILTER(LANG(?l) = \"en\" || LANG(?l) = \"\") }}
}} GROUP BY ?n"
    );
    let rows = rows(store, &query, "resource map").await?;
    let shapes: Vec<map::Shape> = rows
        .iter()
        .filter_map(|r| {
            let focus = text(&r[3]).as_deref() == Some("1");
            Some(map::Shape {
                label: text(&r[1]).unwrap_or_default(),
                href: text(&r[0]).filter(|_| !focus).map(|iri| page_href(&iri)),
                wkt: text(&r[2])?,
                class: usize::from(!focus),
                focus,
            })
        })
        .collect();
    let Some(name) = shapes.iter().find(|s| s.focus).map(|s| s.label.clone()) else { return Ok(None) };
    let legend = [
        map::Key { label: name.clone(), colour: map::PALETTE[0] },
        map::Key { label: "shares a land border (tkg:borders)".into(), colour: map::NEIGHBOUR },
    ];
    Ok(Some(map::map(&format!("{name} and the states it borders"), &shapes, &legend)))
}

/// The order in which a withdrawal's statuses come, for the legend.
const PROGRESSION: &[&str] = &[
    "announced",
    "decided by the executive",
    "passed by the lower house",
    "approved by parliament",
    "denounced",
    "notified",
    "suspension notified",
    "in effect",
];

/// The home page's map: each withdrawing state coloured by its withdrawal's
/// status on `date`, as the saved query `withdrawal-status` answers it, among
/// the other states with a shape. `None` without that query or any shape.
pub async fn withdrawal_map(
    store: &KgStore,
    catalogue: &crate::queries::Catalogue,
    date: &str,
) -> Result<Option<maud::Markup>, AppError> {
    let supplied = [("date".to_owned(), date.to_owned())];
    // ?date ?stateLabel ?treatyLabel ?status ?since ?step ?state
    let Some(statuses) = saved_rows(store, catalogue, "withdrawal-status", &supplied, "home map", 1_000).await? else {
        return Ok(None);
    };
    let by_state: std::collections::BTreeMap<String, (String, String)> = statuses
        .iter()
        .filter_map(|r| Some((text(r.get(6)?)?, (text(r.get(3)?)?, text(r.get(2)?).unwrap_or_default()))))
        .collect();
    let mut seen: Vec<&str> = by_state.values().map(|(s, _)| s.as_str()).collect();
    seen.sort_by_key(|s| (PROGRESSION.iter().position(|p| p == s).unwrap_or(PROGRESSION.len()), *s));
    seen.dedup();
    let mut legend: Vec<map::Key> = seen
        .iter()
        .zip(map::PALETTE.iter().cycle())
        .map(|(s, c)| map::Key { label: (*s).to_owned(), colour: c })
        .collect();
    legend.push(map::Key { label: "not withdrawing, or not yet".into(), colour: map::CONTEXT });
    let query = format!(
        "{GEO}
SELECT ?s (SAMPLE(?l) AS ?label) (SAMPLE(?w) AS ?wkt) WHERE {{
  ?s a tkg:SovereignState ; geo:hasGeometry/geo:asWKT ?w .
  OPTIONAL {{ ?s rdfs:label ?l FILTER(LANG(?l) = \"en\" || LANG(?l) = \"\") }}
}} GROUP BY ?s"
    );
    let shapes: Vec<map::Shape> = rows(store, &query, "home map")
        .await?
        .iter()
        .filter_map(|r| {
            let iri = text(&r[0])?;
            let status = by_state.get(&iri).map(|(s, _)| s.as_str());
            Some(map::Shape {
                label: text(&r[1]).unwrap_or_default(),
                href: Some(page_href(&iri)),
                wkt: text(&r[2])?,
                class: status.and_then(|s| seen.iter().position(|x| *x == s)).unwrap_or(usize::MAX),
                focus: status.is_some(),
            })
        })
        .collect();
    if shapes.is_empty() {
        return Ok(None);
    }
    let treaties: std::collections::BTreeSet<&str> = by_state.values().map(|(_, t)| t.as_str()).collect();
    let title = match treaties.iter().next() {
        Some(treaty) if treaties.len() == 1 => format!("Withdrawals from the {treaty} on {date}"),
        _ => format!("Treaty withdrawals on {date}"),
    };
    Ok(Some(map::map(&title, &shapes, &legend)))
}

const HAS_GEOMETRY: &str = "http://www.opengis.net/ont/geosparql#hasGeometry";
const SOVEREIGN_STATE: &str = "https://w3id.org/treaty-kg/ontology#SovereignState";

/// The sections a resource's page adds for what it is: for a resource with a
/// shape, its map; for a state, its treaties on `day` (today by default).
pub async fn state_sections(
    store: &KgStore,
    catalogue: &crate::queries::Catalogue,
    doc: &crate::linked_data::document::ResourceDoc,
    day: Option<String>,
) -> Result<Vec<(String, maud::Markup)>, AppError> {
    let subject: oxigraph::model::NamedOrBlankNode = doc.iri.clone().into();
    let about: Vec<&oxigraph::model::Quad> = doc.statements.iter().filter(|q| q.subject == subject).collect();
    let mut sections = Vec::new();
    if about.iter().any(|q| q.predicate.as_str() == HAS_GEOMETRY) {
        if let Some(map) = neighbour_map(store, &doc.iri).await? {
            sections.push(("Map".to_owned(), map));
        }
    }
    let is_state = about.iter().any(|q| {
        q.predicate.as_str() == crate::vocab::RDF_TYPE
            && matches!(&q.object, Term::NamedNode(c) if c.as_str() == SOVEREIGN_STATE)
    });
    if is_state {
        if let Some(treaties) = treaties_on(store, catalogue, &doc.iri, day).await? {
            sections.push(("Treaties on a day".to_owned(), treaties));
        }
    }
    Ok(sections)
}

/// A state's standing towards each treaty on `day`, as the saved query
/// `treaties-of-state` answers it (read from dated events only), with a form
/// to pick another day. `None` without that query.
async fn treaties_on(
    store: &KgStore,
    catalogue: &crate::queries::Catalogue,
    state: &oxigraph::model::NamedNode,
    day: Option<String>,
) -> Result<Option<maud::Markup>, AppError> {
    let day = day.unwrap_or_else(today);
    let supplied = [("state".to_owned(), state.as_str().to_owned()), ("date".to_owned(), day.clone())];
    // ?state ?date ?treaty ?treatyLabel ?standing ?standingSince ?withdrawal ?status ?statusSince
    let Some(rows) = saved_rows(store, catalogue, "treaties-of-state", &supplied, "state page", 100).await? else {
        return Ok(None);
    };
    let full: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&supplied).finish();
    Ok(Some(maud::html! {
        form method="get" {
            p {
                label for="treaty-date" { "On the day " }
                input type="date" id="treaty-date" name="date" value=(day);
                " " button type="submit" { "Show" }
                " · " a href={ "/queries/treaties-of-state?" (full) } { "as a saved query" }
            }
        }
        @if rows.is_empty() {
            p { "No standing towards any treaty on " (day) ", as far as dated events say." }
        } @else {
            table {
                caption { "Standing on " (day) ", read from dated events (signature, ratification or accession, entry into force, withdrawal)" }
                thead { tr { th scope="col" { "Treaty" } th scope="col" { "Standing" } th scope="col" { "Since" } th scope="col" { "Withdrawal" } th scope="col" { "Since" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { @if let Some(t) = text(&r[2]) { a href=(page_href(&t)) { (text(&r[3]).unwrap_or(t)) } } }
                            td { (text(&r[4]).unwrap_or_default()) }
                            td { (text(&r[5]).unwrap_or_default()) }
                            td { (text(&r[7]).unwrap_or_else(|| "—".into())) }
                            td { (text(&r[8]).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }))
}
