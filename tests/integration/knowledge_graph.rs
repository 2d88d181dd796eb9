//! The knowledge graph itself: ontology and data parse, every term the data uses
//! is declared, every resource is labelled, the SHACL shapes conform (and catch a
//! broken file), and competency questions a researcher would ask, each answered
//! by SPARQL over HTTP against the loaded store with its exact expected answer.

use crate::common::*;
use oxigraph::model::{Graph, NamedNode};
use std::collections::BTreeSet;
use std::process::Command;
use treaty_kg::sources;

fn read_graph(roots: &[&str]) -> Graph {
    let roots: Vec<_> = roots.iter().map(|r| repo(r)).collect();
    let mut graph = Graph::new();
    for file in sources::discover(&roots).unwrap() {
        let bytes = std::fs::read(&file.path).unwrap();
        for quad in sources::parse(&file, &bytes).unwrap_or_else(|e| panic!("{e}")) {
            graph.insert(&oxigraph::model::Triple::new(quad.subject, quad.predicate, quad.object));
        }
    }
    graph
}

fn iri(s: &str) -> NamedNode {
    NamedNode::new(s).unwrap()
}

/// Every class and property of the ontology has a label and a comment; every
/// predicate and class the data uses is either ours (declared) or a reused term
/// the ontology lists with rdfs:isDefinedBy an imported vocabulary.
#[test]
fn every_term_the_data_uses_is_declared() {
    let ontology = read_graph(&["ontology/treaty-kg.ttl"]);
    let data = read_graph(&["data"]);
    let rdf_type = iri("http://www.w3.org/1999/02/22-rdf-syntax-ns#type");
    let label = iri("http://www.w3.org/2000/01/rdf-schema#label");
    let comment = iri("http://www.w3.org/2000/01/rdf-schema#comment");
    let defined_by = iri("http://www.w3.org/2000/01/rdf-schema#isDefinedBy");
    let imports = iri("http://www.w3.org/2002/07/owl#imports");
    let ours = "https://w3id.org/treaty-kg/ontology#";

    for kind in ["Class", "ObjectProperty", "DatatypeProperty"] {
        let kind = iri(&format!("http://www.w3.org/2002/07/owl#{kind}"));
        for term in ontology.subjects_for_predicate_object(&rdf_type, &kind) {
            assert!(ontology.object_for_subject_predicate(term, &label).is_some(), "{term} has no rdfs:label");
            assert!(ontology.object_for_subject_predicate(term, &comment).is_some(), "{term} has no rdfs:comment");
        }
    }
    let mut vocabularies: BTreeSet<String> = ontology
        .triples_for_predicate(&imports)
        .map(|t| t.object.to_string().trim_matches(['<', '>']).to_owned())
        .collect();
    vocabularies.insert("http://www.w3.org/2000/01/rdf-schema#".into());
    vocabularies.insert("http://www.w3.org/1999/02/22-rdf-syntax-ns#".into());

    let mut used: BTreeSet<NamedNode> = data.iter().map(|t| t.predicate.into_owned()).collect();
    for t in data.triples_for_predicate(&rdf_type) {
        if let oxigraph::model::TermRef::NamedNode(c) = t.object {
            used.insert(c.into_owned());
        }
    }
    let mut undeclared = Vec::new();
    for term in &used {
        let declared = if term.as_str().starts_with(ours) {
            ontology.object_for_subject_predicate(term, &label).is_some()
        } else {
            ontology
                .objects_for_subject_predicate(term, &defined_by)
                .any(|v| vocabularies.contains(v.to_string().trim_matches(['<', '>'])))
        };
        if !declared {
            undeclared.push(term.to_string());
        }
    }
    assert!(undeclared.is_empty(), "terms used in data/ but not declared in ontology/: {undeclared:?}");
}

/// Every resource minted under …/id/ has a label somewhere in ontology/ or data/.
#[test]
fn every_resource_has_a_label() {
    let all = read_graph(&["ontology", "data"]);
    let label = iri("http://www.w3.org/2000/01/rdf-schema#label");
    let mut unlabelled = BTreeSet::new();
    for t in all.iter() {
        let mut candidates = vec![];
        if let oxigraph::model::NamedOrBlankNodeRef::NamedNode(s) = t.subject {
            candidates.push(s.into_owned());
        }
        if let oxigraph::model::TermRef::NamedNode(o) = t.object {
            candidates.push(o.into_owned());
        }
        for c in candidates {
            if c.as_str().starts_with(ID) && all.object_for_subject_predicate(&c, &label).is_none() {
                unlabelled.insert(c.to_string());
            }
        }
    }
    assert!(unlabelled.is_empty(), "resources without rdfs:label: {unlabelled:?}");
}

/// The data conforms to the SHACL shapes (rudof's engine).
#[test]
fn shapes_conform() {
    let violations =
        treaty_kg::validate::validate(&[repo("ontology"), repo("data")], &repo("ontology/shapes.ttl")).unwrap();
    assert!(violations.is_empty(), "{}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
}

/// `treaty-kg validate` passes on the repository and fails, naming each problem,
/// on a deliberately broken file.
#[test]
fn validate_command_catches_a_broken_file() {
    let bin = env!("CARGO_BIN_EXE_treaty-kg");
    let ok = Command::new(bin).current_dir(repo("")).arg("validate").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stderr).contains("conforms"));

    let bad = Command::new(bin)
        .current_dir(repo(""))
        .args(["validate", "ontology", "data", "tests/fixtures/broken.ttl"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8_lossy(&bad.stdout);
    for expected in [
        "focus https://w3id.org/treaty-kg/id/state/atlantis, path https://w3id.org/treaty-kg/ontology#iso3166Alpha2",
        "focus https://w3id.org/treaty-kg/id/quotation/anonymous, path https://schema.org/creator",
        "focus https://w3id.org/treaty-kg/id/post/vacant, path http://www.w3.org/ns/org#heldBy",
        "focus https://w3id.org/treaty-kg/graph/broken, path https://w3id.org/treaty-kg/ontology#assertedIn",
        "focus https://w3id.org/treaty-kg/id/event/undated-notification, path https://w3id.org/treaty-kg/ontology#date",
        "focus https://w3id.org/treaty-kg/id/plan/vague, path https://w3id.org/treaty-kg/ontology#activity",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
    assert!(report.contains("MinCount(1) not satisfied"));
}

/// Every sentence of the source article is in the graph, verbatim and in order.
#[tokio::test]
async fn every_sentence_of_the_article_is_in_the_graph() {
    let server = knowledge_graph_server().await;
    let sentences = server
        .table(&q("SELECT ?n ?text { ?s a tkg:Sentence ; schema:position ?n ; schema:text ?text } ORDER BY ?n"))
        .await;
    assert_eq!(sentences.len(), 14);
    // Each sentence graph has statements.
    let graphs = server
        .table(&q("SELECT ?g (COUNT(*) AS ?n) { ?g prov:wasDerivedFrom ?s . ?s a tkg:Sentence . GRAPH ?g { ?a ?b ?c } } GROUP BY ?g"))
        .await;
    assert_eq!(graphs.len(), 14);
}

/// The article's sentences, in order, are the seed article word for word. The
/// seed sits beside the repository, not in it, so this runs where it exists:
/// `cargo test --test integration -- --ignored the_sentences_are_the_seed_article`.
#[tokio::test]
#[ignore = "reads ../shared/seed/, which is outside the repository"]
async fn the_sentences_are_the_seed_article_word_for_word() {
    let article = std::fs::read_to_string(repo("../shared/seed/000_ab8ee8623a11ff01.txt")).unwrap();
    let server = knowledge_graph_server().await;
    let sentences = server
        .table(&q("SELECT ?n ?text { ?s a tkg:Sentence ; schema:position ?n ; schema:text ?text } ORDER BY ?n"))
        .await;
    let mut ordered = sentences.clone();
    ordered.sort_by_key(|r| r[0].parse::<u32>().unwrap());
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let joined: String = ordered.iter().map(|r| r[1].as_str()).collect::<Vec<_>>().join(" ");
    assert_eq!(words(&joined), words(&article));
}

// ------------------------------------------------------ competency questions --

/// A competency question: in words, the query that answers it (its body, for
/// `q`), and its exact answer, row by row (compared sorted, as `table` gives it).
struct Question {
    asked: &'static str,
    query: &'static str,
    answer: &'static [&'static [&'static str]],
}

/// The questions that one query answers with an exact table. Those that need
/// more (several queries, counts, provenance) are tests of their own below.
const QUESTIONS: &[Question] = &[
    // The four of the article, and Finland (background: its announcement of 1 April 2025).
    Question {
        asked: "Which states announced their withdrawal from the Ottawa Convention?",
        query: "SELECT ?state { ?a a tkg:Announcement ; tkg:announces ?w . ?w tkg:withdrawingState ?state ; tkg:fromTreaty treaty:ottawa-convention }",
        answer: &[
            &["https://w3id.org/treaty-kg/id/state/estonia"],
            &["https://w3id.org/treaty-kg/id/state/finland"],
            &["https://w3id.org/treaty-kg/id/state/latvia"],
            &["https://w3id.org/treaty-kg/id/state/lithuania"],
            &["https://w3id.org/treaty-kg/id/state/poland"],
        ],
    },
    Question {
        asked: "What does the Ottawa Convention prohibit?",
        query: "SELECT ?activity ?weapon { treaty:ottawa-convention tkg:prohibits ?p . ?p tkg:prohibitedActivity/rdfs:label ?activity ; tkg:concernsWeapon/rdfs:label ?weapon }",
        answer: &[
            &["production", "anti-personnel mine"],
            &["stockpiling", "anti-personnel mine"],
            &["transfer", "anti-personnel mine"],
            &["use", "anti-personnel mine"],
        ],
    },
    Question {
        asked: "What is the purpose of the Ottawa Convention?",
        query: "SELECT ?purpose { treaty:ottawa-convention tkg:purpose/rdfs:label ?purpose }",
        answer: &[&["prevent civilian casualties"]],
    },
    Question {
        asked: "Whose withdrawal needs parliamentary approval, and from which body?",
        query: "SELECT ?state ?body { ?w tkg:withdrawingState/rdfs:label ?state ; tkg:requires/tkg:approvingBody/rdfs:label ?body }",
        answer: &[
            &["Estonia", "Parliament of Estonia"],
            &["Lithuania", "Parliament of Lithuania"],
            &["Poland", "Parliament of Poland"],
        ],
    },
    Question {
        asked: "Where does the parliamentary approval claim come from?",
        query: "SELECT DISTINCT ?text { GRAPH ?g { wd:poland-ottawa-convention tkg:requires ?r } ?g prov:wasDerivedFrom ?s . ?s schema:text ?text }",
        answer: &[&["Withdrawal to the treaty requires parliamentary approval in Poland, Lithuania, and Estonia."]],
    },
    Question {
        asked: "Which officials hold which posts?",
        query: "SELECT ?person ?post ?state { ?p a org:Post ; org:heldBy/rdfs:label ?person ; rdfs:label ?post ; org:postIn/org:subOrganizationOf/rdfs:label ?state }",
        answer: &[
            &["Evika Siliņa", "Prime Minister of Latvia", "Latvia"],
            &["Raimundas Vaikšnoras", "Chief of Defence of Lithuania", "Lithuania"],
        ],
    },
    Question {
        asked: "Do names keep their diacritics, with the article's spelling as an alternative?",
        query: "SELECT ?label ?alt { ?p a tkg:Official ; rdfs:label ?label ; skos:altLabel ?alt }",
        answer: &[&["Evika Siliņa", "Evika Silina"], &["Raimundas Vaikšnoras", "Raimundas Vaiksnoras"]],
    },
    Question {
        asked: "What did Evika Siliņa say?",
        query: "SELECT ?text { ?quote a schema:Quotation ; schema:creator person:evika-silina ; schema:text ?text }",
        answer: &[&[
            "This decision will give our National Armed Forces additional capabilities, when they can buy and what",
        ]],
    },
    Question {
        asked: "Which threats were cited, and who poses them?",
        query: "SELECT DISTINCT ?threat ?by { ?x tkg:citesThreat ?t . ?t rdfs:label ?threat . OPTIONAL { ?t tkg:posedBy/rdfs:label ?by } }",
        answer: &[
            &["Russia's aggression and its ongoing threat to the Euro-Atlantic community", "Russia"],
            &["growing security threats from Russia", "Russia"],
            &["military threats to NATO member states bordering Russia and Belarus", ""],
        ],
    },
    Question {
        asked: "What reasons justify the withdrawals?",
        query: "SELECT DISTINCT ?reason { ?w a tkg:TreatyWithdrawal ; tkg:justifiedBy/rdfs:label ?reason }",
        answer: &[&["proximity to Russian military activities"], &["the current security environment"]],
    },
    Question {
        asked: "Which withdrawing states border Russia, and which border Belarus?",
        query: "SELECT ?state ?neighbour { ?w tkg:withdrawingState ?s . ?s rdfs:label ?state ; tkg:borders ?n . VALUES ?n { st:russia st:belarus } ?n rdfs:label ?neighbour }",
        answer: &[
            &["Estonia", "Russia"],
            &["Finland", "Russia"],
            &["Latvia", "Belarus"],
            &["Latvia", "Russia"],
            &["Lithuania", "Belarus"],
            &["Lithuania", "Russia"],
            &["Poland", "Belarus"],
            &["Poland", "Russia"],
            &["Ukraine", "Belarus"],
            &["Ukraine", "Russia"],
        ],
    },
    Question {
        asked: "When did the withdrawing states join NATO?",
        query: "SELECT ?state ?date { ?m a org:Membership ; org:member/rdfs:label ?state ; org:organization body:nato ; org:memberDuring/time:hasBeginning/time:inXSDDate ?date }",
        answer: &[
            &["Estonia", "2004-03-29"],
            &["Finland", "2023-04-04"],
            &["Latvia", "2004-03-29"],
            &["Lithuania", "2004-03-29"],
            &["Poland", "1999-03-12"],
        ],
    },
    Question {
        asked: "Which state is considering domestic landmine production, and who revealed it?",
        query: "SELECT ?state ?by { ?p a tkg:Plan ; tkg:concernsWeapon concept:landmine ; tkg:status concept:under-consideration ; tkg:plannedBy/rdfs:label ?state ; tkg:revealedBy/rdfs:label ?by }",
        answer: &[&["Latvia", "Evika Siliņa"]],
    },
    Question {
        asked: "Which state plans more explosives manufacturing, and which chief of defence spoke of it?",
        query: "SELECT ?state ?speaker { ?p tkg:concernsWeapon concept:explosives ; tkg:trend concept:increasing ; tkg:plannedBy/rdfs:label ?state . ?quote tkg:about ?p ; schema:creator/rdfs:label ?speaker }",
        answer: &[&["Lithuania", "Raimundas Vaikšnoras"]],
    },
    Question {
        asked: "What have the four states increased since Russia's invasion of Ukraine?",
        query: "SELECT ?plan { ?p tkg:since evt:russian-invasion-of-ukraine ; tkg:trend concept:increasing ; tkg:plannedBy st:poland , st:lithuania , st:latvia , st:estonia ; rdfs:label ?plan }",
        answer: &[&["increased defence spending"], &["increased military aid to Ukraine"]],
    },
    Question {
        asked: "What commitments did the four states reaffirm?",
        query: "SELECT DISTINCT ?principle { st:latvia tkg:reaffirms/tkg:committedTo/rdfs:label ?principle }",
        answer: &[&["international humanitarian law"], &["protection of civilians"]],
    },
    Question {
        asked: "What goes to Latvia's parliament next week?",
        query: "SELECT ?proposal ?when ?confirmedBy { ?e a tkg:ParliamentarySubmission ; tkg:submits/rdfs:label ?proposal ; tkg:submittedTo body:parliament-of-latvia ; tkg:dateAsStated ?when ; tkg:confirmedBy/rdfs:label ?confirmedBy }",
        answer: &[&["Latvia's draft proposal to withdraw from the Ottawa Convention", "next week", "Evika Siliņa"]],
    },
    Question {
        asked: "Which region do the states want to strengthen?",
        query: "SELECT DISTINCT ?region ?of { ?state tkg:pursues ?o . ?o tkg:strengthens ?r . ?r rdfs:label ?region ; tkg:regionOf/rdfs:label ?of }",
        answer: &[&["NATO's Eastern Flank", "NATO"]],
    },
];

/// Every question of `QUESTIONS`, asked of one server, has exactly its answer;
/// a failure names every question that went wrong, its query, and both tables.
#[tokio::test]
async fn competency_questions_have_their_exact_answers() {
    let server = knowledge_graph_server().await;
    let mut wrong = Vec::new();
    for Question { asked, query, answer } in QUESTIONS {
        let reply = Reply::read(server.query(&q(query), "application/sparql-results+json").await).await;
        let expected = rows(answer);
        let got = (reply.status == 200).then(|| results_table(&reply.body));
        if got.as_ref() != Some(&expected) {
            let got = match got {
                Some(got) => format!("{got:?}"),
                None => format!("status {}: {}", reply.status, reply.text()),
            };
            wrong.push(format!("{asked}\n  query:    {query}\n  expected: {expected:?}\n  got:      {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} questions answered wrongly:\n\n{}",
        wrong.len(),
        QUESTIONS.len(),
        wrong.join("\n\n")
    );
}

/// One date per event, with its precision, and which source gave which: the
/// article words it ("Tuesday"), a background source dates it.
#[tokio::test]
async fn how_does_each_source_date_the_announcement() {
    let server = knowledge_graph_server().await;
    let stated = server
        .table(&q("SELECT ?stated { GRAPH ?g { evt:ottawa-convention-withdrawal-announcement tkg:dateAsStated ?stated } ?g prov:wasDerivedFrom ?sentence . ?sentence a tkg:Sentence }"))
        .await;
    assert_eq!(stated, rows(&[&["Tuesday"]]));
    let dated = server
        .table(&q("SELECT ?date ?precision ?source { GRAPH ?g { evt:ottawa-convention-withdrawal-announcement tkg:date ?date ; tkg:datePrecision ?p } ?p rdfs:label ?precision . ?g prov:wasDerivedFrom ?source }"))
        .await;
    assert_eq!(
        dated,
        rows(&[&[
            "2025-03-18",
            "day",
            "https://www.delfi.lt/en/politics/baltics-poland-announce-plans-to-leave-mine-ban-treaty-120094655"
        ]])
    );
    let every_event = server
        .table(&q("SELECT ?e (COUNT(DISTINCT ?d) AS ?dates) (COUNT(DISTINCT ?p) AS ?precisions) { ?e tkg:date ?d ; tkg:datePrecision ?p } GROUP BY ?e HAVING (COUNT(DISTINCT ?d) > 1 || COUNT(DISTINCT ?p) > 1)"))
        .await;
    assert!(every_event.is_empty(), "events with two dates or precisions: {every_event:?}");
}

#[tokio::test]
async fn background_knowledge_is_kept_apart_from_the_article() {
    let server = knowledge_graph_server().await;
    let iso = "https://w3id.org/treaty-kg/graph/source/iso-3166-1";
    assert!(server.ask(&q(&format!("ASK {{ GRAPH <{iso}> {{ st:latvia tkg:iso3166Alpha2 \"LV\" }} }}"))).await);
    assert!(
        !server
            .ask(&q("ASK { GRAPH ?g { ?s tkg:iso3166Alpha2 ?code } ?g prov:wasDerivedFrom ?sentence . ?sentence a tkg:Sentence }"))
            .await,
        "ISO codes are not in the article"
    );
    let answer = server
        .table(&q("SELECT ?date ?source { GRAPH ?g { ?e tkg:adoptedTreaty treaty:ottawa-convention ; a tkg:TreatyAdoption ; tkg:date ?date } ?g prov:wasDerivedFrom ?source FILTER(CONTAINS(STR(?source), 'treaties.un.org')) }"))
        .await;
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0][0], "1997-09-18");
}

/// Every named graph holding statements about a resource of the article says
/// where it comes from.
#[tokio::test]
async fn every_statement_graph_has_provenance() {
    let server = knowledge_graph_server().await;
    let unsourced = server
        .table(&q(&format!("SELECT DISTINCT ?g {{ GRAPH ?g {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), '{ID}')) }} FILTER NOT EXISTS {{ ?g prov:wasDerivedFrom ?source }} FILTER(!STRSTARTS(STR(?g), 'https://w3id.org/treaty-kg/graph/ontology/')) FILTER(!STRSTARTS(STR(?g), 'https://w3id.org/treaty-kg/graph/data/articles/')) }}")))
        .await;
    assert!(unsourced.is_empty(), "graphs without provenance: {unsourced:?}");
}

/// Background facts: one named graph per source, each with exactly one source,
/// and that source's title, publisher and the day it was read.
#[tokio::test]
async fn each_background_graph_cites_exactly_its_source() {
    let server = knowledge_graph_server().await;
    let graphs = server
        .table(&q("SELECT ?g (COUNT(DISTINCT ?source) AS ?sources) (SAMPLE(?title) AS ?t) (SAMPLE(?publisher) AS ?p) (SAMPLE(?read) AS ?r) { GRAPH ?g { ?s ?p0 ?o } FILTER(STRSTARTS(STR(?g), 'https://w3id.org/treaty-kg/graph/source/')) ?g prov:wasDerivedFrom ?source ; tkg:accessed ?read . ?source rdfs:label ?title ; dcterms:publisher ?publisher } GROUP BY ?g"))
        .await;
    assert!(graphs.len() >= 20, "{graphs:?}");
    for row in &graphs {
        assert_eq!(row[1], "1", "{} cites one source", row[0]);
        assert!(!row[2].is_empty() && !row[3].is_empty() && row[4].starts_with("20"), "{row:?}");
    }
    // The facts that had no source are gone: the old catch-all graph and
    // the unsourced alternative names.
    assert!(
        !server.ask(&q("ASK { GRAPH <https://w3id.org/treaty-kg/graph/data/background> { st:latvia ?p ?o } }")).await
    );
    assert!(!server.ask(&q("ASK { st:latvia skos:altLabel \"Latvija\"@lv }")).await);
    // Each border comes from a source that lists it.
    let borders = server
        .table(&q("SELECT ?source { GRAPH ?g { st:latvia tkg:borders st:belarus } ?g prov:wasDerivedFrom ?source }"))
        .await;
    assert_eq!(borders, rows(&[&["https://indexmundi.com/factbook/compare/latvia.belarus/geography"]]));
}

/// The sentence graphs hold what the article says, nothing more: names as it
/// spells them, no targets the sentence does not name, each alternative label in
/// its own sentence, no dating the quote does not give, and the war apart from
/// the invasion.
#[tokio::test]
async fn the_article_graphs_say_no_more_than_the_article() {
    let server = knowledge_graph_server().await;
    let in_sentences = |pattern: &str| {
        format!(
            "GRAPH ?g {{ {pattern} }} ?g prov:wasDerivedFrom ?sentence . ?sentence a tkg:Sentence ; schema:text ?text"
        )
    };
    // Every alternative label in a sentence graph is in that sentence (apostrophes aside).
    let stray = server
        .table(&q(&format!(
            "SELECT ?label ?text {{ {} FILTER(!CONTAINS(LCASE(REPLACE(?text, '’', \"'\")), LCASE(STR(?label)))) }}",
            in_sentences("?x skos:altLabel ?label")
        )))
        .await;
    assert!(stray.is_empty(), "labels not in their sentence: {stray:?}");
    // No name with diacritics the article does not use.
    let spelled = server
        .table(&q(&format!(
            "SELECT ?name {{ {} FILTER(REGEX(STR(?name), '[ņš]')) }}",
            in_sentences("?person a tkg:Official ; ?p ?name")
        )))
        .await;
    assert!(spelled.is_empty(), "{spelled:?}");
    // Sentence 1 names no target of the threat it cites.
    assert!(
        !server
            .ask(&q(&format!("ASK {{ {} }}", in_sentences("threat:security-threats-from-russia tkg:threatens ?x"))))
            .await
    );
    // "the Alliance" is in sentence 6, not 4.
    let alliance = server
        .table(&q(&format!("SELECT ?sentence {{ {} }}", in_sentences("body:nato skos:altLabel \"the Alliance\"@en"))))
        .await;
    assert_eq!(alliance, rows(&[&[&format!("{ID}sentence/ab8ee8623a11ff01-06")]]));
    // The quote dates the talks, not the plan.
    assert!(!server.ask(&q("ASK { plan:lithuania-increased-explosives-manufacturing tkg:since ?e }")).await);
    assert!(server.ask(&q("ASK { ?talks a tkg:Discussion ; tkg:about plan:lithuania-increased-explosives-manufacturing ; tkg:since evt:full-scale-war-in-ukraine }")).await);
    // The full-scale war is not the invasion.
    assert!(
        !server.ask(&q("ASK { evt:russian-invasion-of-ukraine skos:altLabel ?l FILTER(CONTAINS(?l, 'war')) }")).await
    );
}

/// Structure instead of labels: the grouping's organisation and neighbours,
/// its members derived by its rule (queries/rules/grouping-members.rq, not
/// listed), Belarus in the article's claims, plans' activities as concepts, and
/// the states and NATO linked to Wikidata.
#[tokio::test]
async fn meaning_lives_in_structure_and_links_out() {
    let server = knowledge_graph_server().await;
    let grouping = server
        .table(&q("SELECT ?org ?neighbour { grp:nato-member-states-bordering-russia-and-belarus tkg:drawnFrom/rdfs:label ?org ; tkg:bordering/rdfs:label ?neighbour }"))
        .await;
    assert_eq!(grouping, rows(&[&["NATO", "Belarus"], &["NATO", "Russia"]]));
    // Its members, derived by the rule from NATO membership and the borders
    // (Finland and Norway included), and every one a NATO member bordering
    // Russia or Belarus by those sources.
    let rule = std::fs::read_to_string(repo("queries/rules/grouping-members.rq")).unwrap();
    let select = rule.replace("CONSTRUCT { ?grouping org:hasMember ?member }", "SELECT DISTINCT ?grouping ?member");
    let members = server
        .table(&select)
        .await
        .into_iter()
        .map(|r| (r[0].clone(), r[1].rsplit('/').next().unwrap().to_owned()))
        .collect::<Vec<_>>();
    let grouping_iri = format!("{ID}grouping/nato-member-states-bordering-russia-and-belarus");
    assert_eq!(
        members,
        ["estonia", "finland", "latvia", "lithuania", "norway", "poland"].map(|m| (grouping_iri.clone(), m.to_owned()))
    );
    for (_, member) in &members {
        assert!(
            server
                .ask(&q(&format!("ASK {{ st:{member} org:memberOf body:nato ; tkg:borders ?n VALUES ?n {{ st:russia st:belarus }} }}")))
                .await,
            "{member}"
        );
    }
    let activities = server.table(&q("SELECT DISTINCT ?a { ?plan a tkg:Plan ; tkg:activity/rdfs:label ?a }")).await;
    assert_eq!(activities, rows(&[&["defence spending"], &["manufacturing"], &["military aid"], &["production"]]));
    let links = server
        .table(&q(
            "SELECT ?x ?wd { ?x owl:sameAs ?wd FILTER(STRSTARTS(STR(?wd), 'http://www.wikidata.org/entity/Q')) }",
        ))
        .await;
    assert_eq!(links.len(), 11, "{links:?}");
    assert!(links.contains(&vec![format!("{ID}organization/nato"), "http://www.wikidata.org/entity/Q7184".to_owned()]));
    let page = server.get_text("/page/state/latvia", "text/html").await;
    assert!(page.contains("http://www.wikidata.org/entity/Q211"), "the page shows the link");
}

/// What happened next, step by step on the timeline: approval, notification,
/// taking effect, each with its day.
#[tokio::test]
async fn the_timeline_shows_what_happened_after_the_article() {
    let server = knowledge_graph_server().await;
    let svg = server.get_text("/timeline.svg", "image/svg+xml").await;
    for step in [
        "2025-03-18: Announcement by Poland, Lithuania, Latvia and Estonia",
        "2025-04-16: Latvia's parliament approves the withdrawal from the Ottawa Convention",
        "2025-06-27: Lithuania notifies the UN Secretary-General of its withdrawal from the Ottawa Convention",
        "2025-12-27: Estonia's withdrawal from the Ottawa Convention takes effect",
        "2026-02-20: Poland's withdrawal from the Ottawa Convention takes effect",
        // Known to the week only: said so, not printed as a day.
        "week of 2025-07-24: The President of Poland signs the law on withdrawing from the Ottawa Convention",
    ] {
        assert!(svg.contains(step), "missing {step:?}");
    }
    let (shown, as_week) = (svg.matches("2025-07-24").count(), svg.matches("week of 2025-07-24").count());
    assert_eq!(shown, as_week, "a date known to the week printed as a day");
}

/// Standard classes answer: the RDFS subclass and subproperty closure is in
/// the inferred graph (never repeating a stated fact), follows writes, says so
/// in the service description, and is off with `--no-inference`.
#[tokio::test]
async fn standard_classes_answer_through_the_inferred_graph() {
    let server = knowledge_graph_server().await;
    let people = server.table(&q("SELECT ?name { ?p a schema:Person ; rdfs:label ?name }")).await;
    assert_eq!(people, rows(&[&["Evika Siliņa"], &["Raimundas Vaikšnoras"]]));
    assert!(server.ask(&q("ASK { st:latvia a schema:Country , org:Organization }")).await);
    assert!(server.ask(&q("ASK { GRAPH <https://w3id.org/treaty-kg/graph/inferred> { evt:ottawa-convention-withdrawal-announcement a prov:Activity } }")).await);
    let doubled =
        server.table(&q("SELECT ?x ?c (COUNT(*) AS ?n) { ?x a ?c } GROUP BY ?x ?c HAVING (COUNT(*) > 1)")).await;
    assert!(doubled.is_empty(), "a type stated and inferred counts twice: {doubled:?}");
    // Every declared external superclass now has instances.
    let empty = server
        .table(&q("SELECT DISTINCT ?super { GRAPH <https://w3id.org/treaty-kg/graph/ontology/treaty-kg> { ?c rdfs:subClassOf ?super } FILTER(!STRSTARTS(STR(?super), 'https://w3id.org/treaty-kg/')) FILTER NOT EXISTS { ?x a ?super } }"))
        .await;
    assert!(empty.len() <= 2, "superclasses without instances: {empty:?}");
    // A write is followed: a new official is a schema:Person soon after.
    let insert = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/o> a <https://w3id.org/treaty-kg/ontology#Official> ; <http://www.w3.org/2000/01/rdf-schema#label> \"O\" } }";
    assert_eq!(server.update(insert).await.status(), 204);
    assert!(
        server.eventually("ASK { <http://example.org/o> a <https://schema.org/Person> }", true).await,
        "the inferred graph follows writes"
    );
    let sd = server.get_text("/sparql", "text/turtle").await;
    assert!(sd.contains("rules rdfs9 and rdfs7") && sd.contains("graph/inferred"), "{sd}");

    let plain = TestServer::with(Options {
        sources: vec![repo("ontology"), repo("data")],
        inference: false,
        ..Options::default()
    })
    .await;
    assert!(!plain.ask(&q("ASK { ?p a schema:Person }")).await);
    let sd = plain.get_text("/sparql", "text/turtle").await;
    assert!(sd.contains("nothing is inferred"), "{sd}");
}
