//! The knowledge graph over time (issue 41): every status and standing is read
//! from dated events, never from an undated triple. Poland's withdrawal step by
//! step, Finland's and Ukraine's, how each state became a party, the saved
//! queries withdrawal-status and treaties-of-state agreeing on every day between
//! two steps, the grouping's members derived by a rule, dated quotations and
//! posts, citations that lead to the item or the original publisher, and SHACL
//! shapes that refuse an undated change of status.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};

const DERIVED: &str = "https://w3id.org/treaty-kg/graph/derived/grouping-members";

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// withdrawal-status on `date`: state label → (status, since, step).
async fn withdrawal_status(server: &TestServer, date: &str) -> BTreeMap<String, (String, String, String)> {
    server
        .rows_at(&format!("/queries/withdrawal-status?date={date}"))
        .await
        .into_iter()
        .map(|r| (r[1].clone(), (r[3].clone(), r[4].clone(), r[5].clone())))
        .collect()
}

/// treaties-of-state for the state `slug` on `date`: its row for the Ottawa
/// Convention, if it had a standing towards it that day.
async fn ottawa_standing(server: &TestServer, slug: &str, date: &str) -> Option<Vec<String>> {
    let state = format!("{ID}state/{slug}");
    let rows = server.rows_at(&format!("/queries/treaties-of-state?state={}&date={date}", enc(&state))).await;
    assert!(rows.len() <= 1, "one treaty in the graph, one row at most: {rows:?}");
    rows.into_iter().next()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` day of the proleptic Gregorian
/// calendar (Howard Hinnant's `days_from_civil`).
fn days(date: &str) -> i64 {
    let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (y, m, d) = (if parts[1] <= 2 { parts[0] - 1 } else { parts[0] }, parts[1], parts[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `YYYY-MM-DD` day `n` days after 1970-01-01 (`civil_from_days`).
fn day(n: i64) -> String {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn day_arithmetic_round_trips() {
    for d in ["1970-01-01", "1997-12-03", "2000-02-29", "2024-12-31", "2025-03-01", "2026-02-20"] {
        assert_eq!(day(days(d)), d);
    }
    assert_eq!(days("2025-03-01") - days("2025-02-28"), 1);
    assert_eq!(day(days("2025-12-31") + 1), "2026-01-01");
}

// ------------------------------------------------------------------ Poland --

/// Poland's withdrawal as it happened: the Sejm, the Senate, the President's
/// signature of the law ("a week later": dated to that week, and a signature
/// changes no status), the denunciation, the notification, taking effect; each
/// with the body that acted and the source that says so.
#[tokio::test]
async fn polands_withdrawal_step_by_step() {
    let server = knowledge_graph_server().await;
    let steps = server
        .table(&q("SELECT ?date ?status ?body ?source { { ?e tkg:stepOf wd:poland-ottawa-convention } UNION { ?e tkg:announces wd:poland-ottawa-convention } GRAPH ?g { ?e tkg:date ?date } ?g prov:wasDerivedFrom ?source . OPTIONAL { ?e tkg:resultingStatus/rdfs:label ?status } OPTIONAL { ?e tkg:actingBody/rdfs:label ?body } }"))
        .await;
    let delfi = "https://www.delfi.lt/en/politics/baltics-poland-announce-plans-to-leave-mine-ban-treaty-120094655";
    let sejm = "https://glob-news.com/en/the-polish-sejm-supported-the-country-s-withdrawal-from-the-anti-personnel-mine-ban-convention.html";
    let zbrojna = "https://www.polska-zbrojna.pl/home/articleshow/45761?t=Polska-poza-konwencja-ottawska";
    let gazette = "https://dziennikustaw.gov.pl/DU/2025/1514";
    assert_eq!(
        steps,
        rows(&[
            &["2025-03-18", "announced", "", delfi],
            &["2025-06-25", "passed by the lower house", "Sejm", sejm],
            &["2025-07-17", "approved by parliament", "Senate of Poland", zbrojna],
            &["2025-07-24", "", "President of the Republic of Poland", zbrojna],
            &["2025-08-05", "denounced", "President of the Republic of Poland", gazette],
            &["2025-08-20", "notified", "Poland", gazette],
            &["2026-02-20", "in effect", "", zbrojna],
        ])
    );
    // Only the Sejm had voted by 1 July 2025: parliament had not approved yet.
    let july = withdrawal_status(&server, "2025-07-01").await;
    assert_eq!(july["Poland"].0, "passed by the lower house");
    // The gazette's graph holds what its label says, and only that.
    let held = server
        .table(&q("SELECT ?class { GRAPH src:dziennik-ustaw-2025-1514 { ?e a ?class ; tkg:stepOf wd:poland-ottawa-convention } ?class rdfs:label ?l }"))
        .await;
    assert_eq!(
        held,
        rows(&[
            &["https://w3id.org/treaty-kg/ontology#Denunciation"],
            &["https://w3id.org/treaty-kg/ontology#WithdrawalNotification"]
        ])
    );
    let label = server.table(&q("SELECT ?label { src:dziennik-ustaw-2025-1514 rdfs:label ?label }")).await;
    assert_eq!(label.len(), 1, "{label:?}");
    assert!(label[0][0].contains("denunciation") && label[0][0].contains("notification"), "{label:?}");
    assert!(!label[0][0].contains("law"), "the law's date is not in the gazette's graph: {label:?}");
}

// ------------------------------------------------- statuses on every day --

/// A state, a day, and its withdrawal's status that day with the day of the
/// step that brought it (`None`: no step yet).
type Expected = (&'static str, &'static str, Option<(&'static str, &'static str)>);

/// withdrawal-status on a day between each pair of steps, for every withdrawing
/// state: (state, day, status, day of the step that brought it). `None`: no
/// step had happened yet.
const EXPECTED_STATUSES: &[Expected] = &[
    ("Poland", "2025-03-17", None),
    ("Poland", "2025-04-01", Some(("announced", "2025-03-18"))),
    ("Poland", "2025-07-01", Some(("passed by the lower house", "2025-06-25"))),
    ("Poland", "2025-07-20", Some(("approved by parliament", "2025-07-17"))),
    ("Poland", "2025-07-31", Some(("approved by parliament", "2025-07-17"))),
    ("Poland", "2025-08-10", Some(("denounced", "2025-08-05"))),
    ("Poland", "2025-09-01", Some(("notified", "2025-08-20"))),
    ("Poland", "2026-03-01", Some(("in effect", "2026-02-20"))),
    ("Lithuania", "2025-04-01", Some(("announced", "2025-03-18"))),
    ("Lithuania", "2025-06-01", Some(("approved by parliament", "2025-05-08"))),
    ("Lithuania", "2025-07-01", Some(("notified", "2025-06-27"))),
    ("Lithuania", "2026-01-01", Some(("in effect", "2025-12-27"))),
    ("Latvia", "2025-04-01", Some(("announced", "2025-03-18"))),
    ("Latvia", "2025-05-01", Some(("approved by parliament", "2025-04-16"))),
    ("Latvia", "2025-07-01", Some(("notified", "2025-06-27"))),
    ("Latvia", "2026-01-01", Some(("in effect", "2025-12-27"))),
    ("Estonia", "2025-04-01", Some(("announced", "2025-03-18"))),
    ("Estonia", "2025-06-10", Some(("approved by parliament", "2025-06-04"))),
    ("Estonia", "2025-06-20", Some(("approved by parliament", "2025-06-04"))),
    ("Estonia", "2025-07-01", Some(("notified", "2025-06-27"))),
    ("Estonia", "2026-01-01", Some(("in effect", "2025-12-27"))),
    ("Finland", "2025-03-20", None),
    ("Finland", "2025-05-01", Some(("announced", "2025-04-01"))),
    ("Finland", "2025-07-01", Some(("approved by parliament", "2025-06-19"))),
    ("Finland", "2025-12-01", Some(("notified", "2025-07-10"))),
    ("Finland", "2026-02-01", Some(("in effect", "2026-01-10"))),
    ("Ukraine", "2025-06-01", None),
    ("Ukraine", "2025-07-01", Some(("decided by the executive", "2025-06-29"))),
    ("Ukraine", "2025-07-16", Some(("approved by parliament", "2025-07-15"))),
    ("Ukraine", "2026-06-01", Some(("suspension notified", "2025-07-18"))),
];

#[tokio::test]
async fn withdrawal_status_between_every_pair_of_steps() {
    let server = knowledge_graph_server().await;
    let mut by_day: BTreeMap<&str, BTreeMap<String, (String, String, String)>> = BTreeMap::new();
    for (state, date, expected) in EXPECTED_STATUSES {
        if !by_day.contains_key(date) {
            by_day.insert(*date, withdrawal_status(&server, date).await);
        }
        let got = by_day[date].get(*state).map(|(status, since, _)| (status.as_str(), since.as_str()));
        assert_eq!(got, *expected, "{state} on {date}");
    }
    // Every withdrawing state of the graph is in the table above.
    let states: BTreeSet<&str> = EXPECTED_STATUSES.iter().map(|(s, _, _)| *s).collect();
    let withdrawing =
        server.table(&q("SELECT DISTINCT ?l { ?w a tkg:TreatyWithdrawal ; tkg:withdrawingState/rdfs:label ?l }")).await;
    assert_eq!(
        withdrawing.into_iter().map(|r| r[0].clone()).collect::<BTreeSet<String>>(),
        states.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<String>>()
    );
}

/// treaties-of-state answers from dated events, and on every day (each step's
/// own day, one between each pair of steps, one before the first and one after
/// the last) it gives each withdrawing state the status withdrawal-status gives,
/// and no state whose withdrawal took effect is still a party.
#[tokio::test]
async fn treaties_of_state_agrees_with_withdrawal_status_on_every_day() {
    let server = knowledge_graph_server().await;
    let states = server
        .table(&q("SELECT DISTINCT ?state ?label { ?w a tkg:TreatyWithdrawal ; tkg:withdrawingState ?state . ?state rdfs:label ?label }"))
        .await;
    assert!(states.len() >= 6, "{states:?}");
    let mut probes_run = 0;
    for row in &states {
        let (state, label) = (&row[0], &row[1]);
        let slug = state.rsplit('/').next().unwrap();
        let dates = server
            .table(&q(&format!("SELECT DISTINCT ?d {{ {{ ?e tkg:forState <{state}> }} UNION {{ ?e tkg:stepOf ?w . ?w tkg:withdrawingState <{state}> }} UNION {{ ?e tkg:announces ?w . ?w tkg:withdrawingState <{state}> }} {{ ?e tkg:resultingStatus ?x }} UNION {{ ?e tkg:resultingStanding ?x }} ?e tkg:date ?d FILTER(DATATYPE(?d) = xsd:date) }}")))
            .await;
        let mut dates: Vec<i64> = dates.iter().map(|r| days(&r[0])).collect();
        dates.sort_unstable();
        let mut probes: BTreeSet<i64> = dates.iter().copied().collect();
        probes.insert(dates[0] - 1);
        probes.insert(dates[dates.len() - 1] + 1);
        for pair in dates.windows(2) {
            probes.insert(pair[0] + (pair[1] - pair[0]) / 2);
        }
        for probe in probes {
            let date = day(probe);
            let status = withdrawal_status(&server, &date).await.remove(label.as_str());
            let standing = ottawa_standing(&server, slug, &date).await;
            let from_status = status.as_ref().map(|(s, since, _)| (s.clone(), since.clone()));
            let from_standing = standing.as_ref().filter(|r| !r[7].is_empty()).map(|r| (r[7].clone(), r[8].clone()));
            assert_eq!(from_standing, from_status, "{label} on {date}: {standing:?}");
            // No longer a party exactly when the withdrawal is in effect.
            if let Some(r) = &standing {
                assert_eq!(r[4] == "no longer a party", r[7] == "in effect", "{label} on {date}: {r:?}");
            }
            probes_run += 1;
        }
    }
    assert!(probes_run > 50, "{probes_run} days probed");
    // Poland's standing over the years, from its signature to its withdrawal.
    let mut poland: Vec<(String, Option<(String, String)>)> = Vec::new();
    for date in ["1997-12-01", "2000-01-01", "2013-01-01", "2013-06-01", "2025-07-01", "2026-03-01"] {
        let r = ottawa_standing(&server, "poland", date).await;
        poland.push((date.to_owned(), r.map(|r| (r[4].clone(), r[5].clone()))));
    }
    let own = |s: &str, d: &str| Some((s.to_owned(), d.to_owned()));
    assert_eq!(
        poland,
        vec![
            ("1997-12-01".to_owned(), None),
            ("2000-01-01".to_owned(), own("signatory", "1997-12-04")),
            ("2013-01-01".to_owned(), own("ratified or acceded, not yet in force", "2012-12-27")),
            ("2013-06-01".to_owned(), own("party", "2013-06-01")),
            ("2025-07-01".to_owned(), own("party", "2013-06-01")),
            ("2026-03-01".to_owned(), own("no longer a party", "2026-02-20")),
        ]
    );
    // Russia never joined: no standing on any day.
    assert_eq!(ottawa_standing(&server, "russia", "2026-01-01").await, None);
}

// -------------------------------------------------- Finland and Ukraine --

/// Finland's and Ukraine's steps, each with its source; Ukraine's last step is
/// a notified suspension (not a withdrawal under Article 20), and a notified
/// withdrawal held back by Article 20(3) has a status of its own that both saved
/// queries show, the state remaining a party.
#[tokio::test]
async fn finland_and_ukraine_step_by_step() {
    let server = knowledge_graph_server().await;
    let steps = |slug: &str| {
        q(&format!("SELECT ?date ?status ?source {{ {{ ?e tkg:stepOf wd:{slug}-ottawa-convention }} UNION {{ ?e tkg:announces wd:{slug}-ottawa-convention }} GRAPH ?g {{ ?e tkg:date ?date }} ?g prov:wasDerivedFrom ?source . ?e tkg:resultingStatus/rdfs:label ?status }}"))
    };
    assert_eq!(
        server.table(&steps("finland")).await,
        rows(&[
            &["2025-04-01", "announced", "https://valtioneuvosto.fi/en/-/government-proposal-to-withdraw-from-the-ottawa-convention-sent-out-for-comments"],
            &["2025-06-19", "approved by parliament", "https://www.thestar.com.my/news/world/2025/06/19/finnish-parliament-votes-to-exit-landmines-treaty-due-to-russia-threat"],
            &["2025-07-10", "notified", "https://caliber.az/en/post/finland-to-withdraw-from-anti-personnel-landmine-treaty"],
            &["2026-01-10", "in effect", "https://news.liga.net/en/politics/news/finland-finally-withdraws-from-the-convention-banning-anti-personnel-mines"],
        ])
    );
    assert_eq!(
        server.table(&steps("ukraine")).await,
        rows(&[
            &["2025-06-29", "decided by the executive", "https://nv.ua/ukraine/politics/zelenskiy-pidpisav-ukaz-pro-vihid-ukrajini-z-konvenciji-pro-zaboronu-protipihotnih-min-50525906.html"],
            &["2025-07-15", "approved by parliament", "https://nv.ua/ukraine/politics/rada-pidtrimala-vihid-ukrajini-z-konvenciji-pro-zaboronu-protipihotnih-min-50529951.html"],
            &["2025-07-18", "suspension notified", "https://www.hrw.org/news/2025/07/24/ukraine-suspends-vital-mine-ban-treaty"],
        ])
    );
    assert!(
        server
            .ask(&q("ASK { evt:ukraine-ottawa-convention-withdrawal-decision dcterms:identifier \"441/2025\" ; tkg:actingBody body:president-of-ukraine }"))
            .await
    );
    // The vocabulary has the status of a withdrawal held back by Article 20(3).
    let held_back = server
        .table(&q("SELECT ?label { concept:held-back-by-armed-conflict skos:inScheme <https://w3id.org/treaty-kg/id/scheme/statuses> ; skos:prefLabel ?label ; skos:definition ?d FILTER(CONTAINS(?d, 'Article 20(3)')) }"))
        .await;
    assert_eq!(held_back, rows(&[&["notified; effect suspended by Article 20(3)"]]));
    // A (hypothetical) step bringing it: withdrawal-status shows it as such, and
    // treaties-of-state agrees and keeps the state a party.
    let insert = q("INSERT DATA { GRAPH <http://example.org/hypothetical> { <http://example.org/held-back> a tkg:WithdrawalHeldBack ; rdfs:label \"A hypothetical withdrawal held back by an armed conflict\"@en ; tkg:stepOf wd:ukraine-ottawa-convention ; tkg:resultingStatus concept:held-back-by-armed-conflict ; tkg:date \"2026-01-18\"^^xsd:date ; tkg:datePrecision concept:day } }");
    assert_eq!(server.update(&insert).await.status(), 204);
    let status = withdrawal_status(&server, "2026-02-01").await;
    assert_eq!(status["Ukraine"].0, "notified; effect suspended by Article 20(3)");
    let standing = ottawa_standing(&server, "ukraine", "2026-02-01").await.unwrap();
    assert_eq!(
        (standing[4].as_str(), standing[7].as_str(), standing[8].as_str()),
        ("party", "notified; effect suspended by Article 20(3)", "2026-01-18")
    );
}

// --------------------------------------- how each state became a party --

/// Signature, ratification or accession, and entry into force for every state
/// of the graph that is a party, each from the Landmine Monitor's profile of
/// that state; the Convention's opening for signature in Ottawa.
#[tokio::test]
async fn how_each_state_became_a_party() {
    let server = knowledge_graph_server().await;
    let events = server
        .table(&q("SELECT ?state ?kind ?date { GRAPH ?g { ?e tkg:forState ?s ; tkg:concernsTreaty treaty:ottawa-convention ; tkg:date ?date ; a ?class } ?s rdfs:label ?state . ?class rdfs:label ?kind . ?g prov:wasDerivedFrom ?source FILTER(CONTAINS(STR(?source), 'the-monitor.org')) }"))
        .await;
    let (sig, rat, acc, eif) = ("treaty signature", "ratification", "accession", "entry into force for a state");
    assert_eq!(
        events,
        rows(&[
            &["Belarus", acc, "2003-09-03"],
            &["Belarus", eif, "2004-03-01"],
            &["Estonia", acc, "2004-05-12"],
            &["Estonia", eif, "2004-11-01"],
            &["Finland", acc, "2012-01-09"],
            &["Finland", eif, "2012-07-01"],
            &["Latvia", acc, "2005-07-01"],
            &["Latvia", eif, "2006-01-01"],
            &["Lithuania", sig, "1999-02-22"],
            &["Lithuania", rat, "2003-05-12"],
            &["Lithuania", eif, "2003-11-01"],
            &["Norway", sig, "1997-12-03"],
            &["Norway", rat, "1998-07-09"],
            &["Norway", eif, "1999-03-01"],
            &["Poland", sig, "1997-12-04"],
            &["Poland", rat, "2012-12-27"],
            &["Poland", eif, "2013-06-01"],
            &["Sweden", sig, "1997-12-03"],
            &["Sweden", rat, "1998-11-25"],
            &["Sweden", eif, "1999-05-01"],
            &["Ukraine", sig, "1999-02-24"],
            &["Ukraine", rat, "2005-12-27"],
            &["Ukraine", eif, "2006-06-01"],
        ])
    );
    // Every state of the graph but Russia (never a party) became one.
    let never = server
        .table(&q("SELECT ?state { ?s a tkg:SovereignState ; rdfs:label ?state FILTER NOT EXISTS { ?e a tkg:EntryIntoForceForState ; tkg:forState ?s } }"))
        .await;
    assert_eq!(never, rows(&[&["Russia"]]));
    let opening = server
        .table(&q("SELECT ?date ?source { GRAPH ?g { ?e a tkg:OpeningForSignature ; tkg:adoptedTreaty treaty:ottawa-convention ; tkg:date ?date } ?g prov:wasDerivedFrom ?source }"))
        .await;
    assert_eq!(
        opening,
        rows(&[&[
            "1997-12-03",
            "https://disarmament.unoda.org/anti-personnel-landmines-convention/joining-the-mine-ban-convention"
        ]])
    );
}

// ----------------------------------------------------- derived by a rule --

/// The members of "NATO member states bordering Russia and Belarus" come from
/// the rule queries/rules/grouping-members.rq over NATO membership and borders,
/// Finland and Norway included; no file lists them by hand.
#[tokio::test]
async fn the_grouping_is_derived_by_its_rule() {
    let server = knowledge_graph_server().await;
    let rule = std::fs::read_to_string(repo("queries/rules/grouping-members.rq")).unwrap();
    let response = server.query(&rule, "application/n-triples").await;
    assert_eq!(response.status(), 200);
    let derived = graph(&response.bytes().await.unwrap(), oxigraph::io::RdfFormat::NTriples);
    let members: BTreeSet<String> = derived
        .iter()
        .map(|t| {
            assert_eq!(t.predicate.as_str(), "http://www.w3.org/ns/org#hasMember");
            assert_eq!(
                t.subject.to_string(),
                format!("<{ID}grouping/nato-member-states-bordering-russia-and-belarus>")
            );
            t.object.to_string()
        })
        .collect();
    let expected: BTreeSet<String> = ["estonia", "finland", "latvia", "lithuania", "norway", "poland"]
        .iter()
        .map(|s| format!("<{ID}state/{s}>"))
        .collect();
    assert_eq!(members, expected);
    // Nothing states a membership of the grouping but the rule's own graph.
    assert!(!server.ask(&q(&format!("ASK {{ GRAPH ?g {{ ?x org:hasMember ?m }} FILTER(?g != <{DERIVED}>) }}"))).await);
    // Finland's and Norway's membership and borders, each from a source.
    for fact in [
        "st:finland org:memberOf body:nato",
        "st:norway org:memberOf body:nato",
        "st:finland tkg:borders st:russia",
        "st:norway tkg:borders st:russia",
    ] {
        assert!(
            server
                .ask(&q(&format!(
                    "ASK {{ GRAPH ?g {{ {fact} }} ?g prov:wasDerivedFrom ?source ; tkg:accessed ?read }}"
                )))
                .await,
            "{fact} has no source"
        );
    }
    // The derived graph says what it comes from.
    assert!(server.ask(&q(&format!("ASK {{ <{DERIVED}> prov:wasDerivedFrom src:factbook-finland ; dcterms:source \"queries/rules/grouping-members.rq\" }}"))).await);
}

/// Once the server runs the rule (like the inferred graph), its graph holds
/// exactly the rule's result.
#[tokio::test]
async fn the_server_keeps_the_rules_result_in_the_derived_graph() {
    let server = knowledge_graph_server().await;
    let members = server
        .table(&q(&format!("SELECT ?m {{ GRAPH <{DERIVED}> {{ ?g org:hasMember ?m }} }}")))
        .await
        .into_iter()
        .map(|r| r[0].rsplit('/').next().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(members, ["estonia", "finland", "latvia", "lithuania", "norway", "poland"]);
}

// --------------------------------------------------- quotations and posts --

/// Each quotation is dated (its source's day, or the article's own week when
/// nothing dates it more closely) and cited to every sentence it spans; each
/// post-holding says from when; the article mentions whom it names.
#[tokio::test]
async fn quotations_and_posts_are_dated_and_cited() {
    let server = knowledge_graph_server().await;
    let dated = server
        .table(&q("SELECT ?quote ?date ?precision { ?quote a schema:Quotation ; dcterms:date ?date ; tkg:datePrecision/rdfs:label ?precision }"))
        .await;
    assert_eq!(
        dated,
        rows(&[
            &[&format!("{ID}quotation/joint-statement-on-threats-and-deterrence"), "2025-03-18", "day"],
            &[&format!("{ID}quotation/silina-additional-capabilities"), "2025-03-18", "week of the given day"],
            &[&format!("{ID}quotation/vaiksnoras-explosives-at-home"), "2025-03-18", "week of the given day"],
        ])
    );
    let undated = server
        .table(&q("SELECT ?quote { ?quote a schema:Quotation FILTER NOT EXISTS { ?quote dcterms:date ?d } }"))
        .await;
    assert!(undated.is_empty(), "{undated:?}");
    let cited = server
        .table(&q("SELECT DISTINCT ?n { GRAPH ?g { quote:joint-statement-on-threats-and-deterrence schema:text ?text } ?g prov:wasDerivedFrom ?s . ?s schema:position ?n }"))
        .await;
    assert_eq!(cited, rows(&[&["4"], &["5"]]));
    let officials = server.rows_at("/queries/officials").await;
    let since: Vec<(String, String)> = officials.into_iter().map(|r| (r[2].clone(), r[5].clone())).collect();
    assert_eq!(
        since,
        vec![
            ("Evika Siliņa".to_owned(), "2023-09-15".to_owned()),
            ("Raimundas Vaikšnoras".to_owned(), "2024-07-24".to_owned())
        ]
    );
    let mentions = server.table(&q("SELECT ?m { art:ab8ee8623a11ff01 schema:mentions ?m }")).await;
    for named in
        ["state/belarus", "state/ukraine", "organization/nato", "person/evika-silina", "person/raimundas-vaiksnoras"]
    {
        assert!(mentions.contains(&vec![format!("{ID}{named}")]), "the article mentions {named}: {mentions:?}");
    }
}

// ------------------------------------------------------ no undated status --

/// No statement about a state's relation to a treaty is undated: no
/// tkg:partyTo, no tkg:status on a withdrawal, and every event that changes a
/// status or a standing has a day.
#[tokio::test]
async fn every_status_is_read_from_a_dated_event() {
    let server = knowledge_graph_server().await;
    assert!(!server.ask(&q("ASK { ?s tkg:partyTo ?t }")).await, "an undated tkg:partyTo");
    assert!(!server.ask(&q("ASK { ?w a tkg:TreatyWithdrawal ; tkg:status ?s }")).await, "an undated withdrawal status");
    let undated = server
        .table(&q("SELECT ?e { { ?e tkg:resultingStatus ?x } UNION { ?e tkg:resultingStanding ?x } FILTER NOT EXISTS { ?e tkg:date ?d FILTER(DATATYPE(?d) = xsd:date) } }"))
        .await;
    assert!(undated.is_empty(), "status changes without a day: {undated:?}");
    // The saved query answers for the day it is given, not for one fixed moment.
    let early = ottawa_standing(&server, "poland", "2025-07-01").await.unwrap();
    let late = ottawa_standing(&server, "poland", "2026-03-01").await.unwrap();
    assert_eq!((early[4].as_str(), late[4].as_str()), ("party", "no longer a party"));
}

/// The SHACL shapes refuse an event that changes a status or a standing without
/// a day, a withdrawal with an undated status, and an undated tkg:partyTo; the
/// repository's data conforms.
#[test]
fn shapes_require_a_day_on_every_status_change() {
    let shapes = repo("ontology/shapes.ttl");
    let clean = treaty_kg::validate::validate(&[repo("ontology"), repo("data")], &shapes).unwrap();
    assert!(clean.is_empty(), "{}", clean.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("undated.ttl");
    std::fs::write(
        &file,
        r#"@prefix tkg: <https://w3id.org/treaty-kg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix id: <https://w3id.org/treaty-kg/id/> .
<https://w3id.org/treaty-kg/id/event/undated-vote> a tkg:ChamberVote ;
    rdfs:label "A chamber's vote with no day"@en ;
    tkg:stepOf <https://w3id.org/treaty-kg/id/withdrawal/poland-ottawa-convention> ;
    tkg:resultingStatus <https://w3id.org/treaty-kg/id/concept/approved-by-parliament> .
<https://w3id.org/treaty-kg/id/event/yearly-ratification> a tkg:Ratification ;
    rdfs:label "A ratification dated to the year only"@en ;
    tkg:forState <https://w3id.org/treaty-kg/id/state/norway> ;
    tkg:concernsTreaty <https://w3id.org/treaty-kg/id/treaty/ottawa-convention> ;
    tkg:resultingStanding <https://w3id.org/treaty-kg/id/concept/bound-from-a-later-day> ;
    tkg:date "1998"^^xsd:gYear ; tkg:datePrecision <https://w3id.org/treaty-kg/id/concept/year> .
<https://w3id.org/treaty-kg/id/withdrawal/poland-ottawa-convention> tkg:status <https://w3id.org/treaty-kg/id/concept/announced> .
<https://w3id.org/treaty-kg/id/state/poland> tkg:partyTo <https://w3id.org/treaty-kg/id/treaty/ottawa-convention> .
"#,
    )
    .unwrap();
    let report = treaty_kg::validate::validate(&[repo("ontology"), repo("data"), file], &shapes)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for expected in [
        "focus https://w3id.org/treaty-kg/id/event/undated-vote, path https://w3id.org/treaty-kg/ontology#date",
        "focus https://w3id.org/treaty-kg/id/event/yearly-ratification, path https://w3id.org/treaty-kg/ontology#date",
        "focus https://w3id.org/treaty-kg/id/event/yearly-ratification, path https://w3id.org/treaty-kg/ontology#datePrecision",
        "focus https://w3id.org/treaty-kg/id/withdrawal/poland-ottawa-convention, path https://w3id.org/treaty-kg/ontology#status",
        "focus https://w3id.org/treaty-kg/id/state/poland, path https://w3id.org/treaty-kg/ontology#partyTo",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
}

// ------------------------------------------------------------- citations --

/// Wikidata links cite the item itself; no fact cites a mirror or a
/// translation service where the original publisher's page is cited instead.
#[tokio::test]
async fn citations_lead_to_the_item_and_the_original_publisher() {
    let server = knowledge_graph_server().await;
    let links = server
        .table(&q("SELECT ?item ?page { GRAPH ?g { ?x owl:sameAs ?item FILTER(STRSTARTS(STR(?item), 'http://www.wikidata.org/entity/Q')) } ?g prov:wasDerivedFrom ?page }"))
        .await;
    assert_eq!(links.len(), 11, "{links:?}");
    for link in &links {
        assert_eq!(
            link[1],
            link[0].replace("http://www.wikidata.org/entity/", "https://www.wikidata.org/wiki/"),
            "{link:?}"
        );
    }
    assert!(!server.ask(&q("ASK { ?g prov:wasDerivedFrom <https://www.wikidata.org/> }")).await);
    let sources = server
        .table(&q("SELECT ?source { ?g prov:wasDerivedFrom ?source FILTER(STRSTARTS(STR(?g), 'https://w3id.org/treaty-kg/graph/source/')) }"))
        .await;
    for mirror in ["mil-osi.com", "pages.dev", "infor.pl"] {
        let hits: Vec<_> = sources.iter().filter(|r| r[0].contains(mirror)).collect();
        assert!(hits.is_empty(), "cites a mirror or translation service: {hits:?}");
    }
    for original in ["https://news.err.ee/", "https://dziennikustaw.gov.pl/", "https://www.maginternational.org/"] {
        assert!(sources.iter().any(|r| r[0].starts_with(original)), "{original} is cited");
    }
}
