//! Hostile input against the real binary: text nested or chained to crash the
//! parsers, bodies that are big or deep, requests in the wrong order of checks,
//! and an anonymous flood of expensive work. Each test ends by showing the
//! server still answers.

use crate::common::*;
use std::io::{Read, Write};
use std::time::Duration;

/// The structural depth the server accepts by default (`sparql::depth`).
const LIMIT: usize = 1_000;

fn start(extra: &[&str]) -> KillOnDrop {
    let mut args: Vec<String> = vec!["--memory".into(), "--no-default-data".into()];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    KillOnDrop(spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// The server is up and answers a query.
async fn assert_alive(server: &mut KillOnDrop) {
    assert!(server.0.is_running(), "the server process died:\n{}", server.0.log().join("\n"));
    let r = call(client().get(format!("{}/sparql", server.0.base)).query(&[("query", "ASK {}")])).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// POSTs a query; returns status, error code and body.
async fn post_query(base: &str, text: &str) -> (u16, String, String) {
    let request = client().post(format!("{base}/sparql")).header("content-type", "application/sparql-query");
    let r = call(request.body(text.to_owned())).await;
    (r.status, r.header("x-error-code").to_owned(), r.text())
}

/// `numbered_rows` in a Turtle file of `dir`, for `--data`.
fn rows_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("rows.ttl");
    std::fs::write(&path, numbered_rows()).unwrap();
    path
}

fn nested_select(levels: usize) -> String {
    format!("SELECT * WHERE {}{}", "{".repeat(levels), "}".repeat(levels))
}

/// 500, 5,000 and 100,000 nested groups (the first crashed the server, Oxigraph's
/// own server dies at the second) get 400 with the position and the limit, by
/// GET and by POST; text at the limit is answered.
#[tokio::test]
async fn nested_groups_get_400_with_the_position_and_the_server_stays_up() {
    let mut server = start(&[]);
    let base = server.0.base.clone();
    // `SELECT *` uses two levels: 998 groups reach the limit exactly.
    let (status, _, body) = post_query(&base, &nested_select(LIMIT - 2)).await;
    assert_eq!(status, 200, "{body}");
    for levels in [LIMIT - 1, 5_000, 100_000] {
        let (status, code, body) = post_query(&base, &nested_select(levels)).await;
        assert_eq!((status, code.as_str()), (400, "too_deep"), "{levels} levels: {body}");
        assert!(body.contains("line 1, column") && body.contains(&format!("at most {LIMIT}")), "{body}");
    }
    for levels in [500, 5_000] {
        let r = call(client().get(format!("{base}/sparql")).query(&[("query", nested_select(levels))])).await;
        assert_eq!(r.status, if levels > LIMIT { 400 } else { 200 }, "GET with {levels} levels");
    }
    assert_alive(&mut server).await;
}

/// Deep parentheses in a FILTER, long operator chains (flat text, deep algebra),
/// nested triple terms and a deep property path are refused the same way.
#[tokio::test]
async fn deep_expressions_and_chains_get_400() {
    let mut server = start(&[]);
    let base = server.0.base.clone();
    let hostile = [
        format!("ASK {{ FILTER({}true{}) }}", "(".repeat(50_000), ")".repeat(50_000)),
        format!("ASK {{ FILTER({}) }}", vec!["true"; 50_000].join(" || ")),
        format!("ASK {{ FILTER({}) }}", vec!["1"; 50_000].join("+")),
        format!("ASK {{ {} }}", vec!["{}"; 50_000].join(" UNION ")),
        format!("ASK {{ {} }}", vec!["OPTIONAL {}"; 50_000].join(" ")),
        format!("ASK {{ ?s {} ?o }}", vec!["<http://p>"; 50_000].join("/")),
        format!(
            "ASK {{ {} <http://s> <http://p> <http://o> {} <http://p> ?o }}",
            "<< ".repeat(50_000),
            ">> ".repeat(50_000)
        ),
    ];
    for text in &hostile {
        let (status, code, body) = post_query(&base, text).await;
        assert_eq!((status, code.as_str()), (400, "too_deep"), "{}…: {body}", &text[..40]);
    }
    assert_alive(&mut server).await;
}

/// An update nested 2,000 deep: 401 without the token (nothing parsed), 400
/// with it; the store is unchanged.
#[tokio::test]
async fn deep_updates_are_refused_after_the_token() {
    let mut server = start(&[]);
    let base = server.0.base.clone();
    let text = format!("INSERT {{ <http://a> <http://b> 1 }} WHERE {}{}", "{".repeat(2_000), "}".repeat(2_000));
    let send = |token: bool| {
        let mut r = client().post(format!("{base}/sparql")).header("content-type", "application/sparql-update");
        if token {
            r = r.bearer_auth(TOKEN);
        }
        call(r.body(text.clone()))
    };
    assert_eq!(send(false).await.status, 401);
    let r = send(true).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-error-code"), "too_deep");
    assert_eq!(count_at(&base, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").await, 0);
    assert_alive(&mut server).await;
}

/// RDF bodies nested 100,000 deep (Turtle blank nodes and lists, JSON-LD
/// objects, RDF/XML elements) never crash the server: their parsers do not
/// recurse, so they are stored or refused as malformed.
#[tokio::test]
async fn deep_rdf_bodies_do_not_crash_the_server() {
    let mut server = start(&[]);
    let base = server.0.base.clone();
    let n = 100_000;
    let bodies = [
        ("text/turtle", format!("<http://s> <http://p> {}<http://o>{} .", "[ <http://p> ".repeat(n), " ]".repeat(n))),
        ("text/turtle", format!("<http://s> <http://p> {}1{} .", "( ".repeat(n), " )".repeat(n))),
        ("application/ld+json", format!("{}\"x\"{}", "{\"http://p\": ".repeat(n), "}".repeat(n))),
        (
            "application/rdf+xml",
            format!(
                "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:e=\"http://e/\"><rdf:Description rdf:about=\"http://s\">{}x{}</rdf:Description></rdf:RDF>",
                "<e:p rdf:parseType=\"Resource\"><e:q>".repeat(n / 10),
                "</e:q></e:p>".repeat(n / 10)
            ),
        ),
    ];
    for (i, (media, body)) in bodies.into_iter().enumerate() {
        let put = client().put(format!("{base}/store?graph=http%3A%2F%2Fdeep%2F{i}")).bearer_auth(TOKEN);
        let r = call(put.header("content-type", media).body(body)).await;
        assert!([201, 204, 400].contains(&r.status), "{media}: {}", r.status);
        assert_alive(&mut server).await;
    }
}

/// A JSON body nested 100,000 deep for a saved query's parameters gets 400 (the
/// JSON parser stops at its own depth limit), and so does a parameter value made
/// of 100,000 brackets.
#[tokio::test]
async fn deep_json_and_parameter_values_get_400() {
    let mut server = KillOnDrop(spawn_server(
        &[
            "--memory".into(),
            "--no-default-data".into(),
            "--queries".into(),
            repo("queries").display().to_string(),
            "--data".into(),
            repo("ontology").display().to_string(),
            "--data".into(),
            repo("data").display().to_string(),
        ],
        &[],
    ));
    let base = server.0.base.clone();
    let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = call(
        client().post(format!("{base}/queries/withdrawals")).header("content-type", "application/json").body(json),
    )
    .await;
    assert_eq!(r.status, 400);
    let form = format!("state={}", "%28".repeat(100_000));
    let post = client().post(format!("{base}/queries/state-profile"));
    let r = call(post.header("content-type", "application/x-www-form-urlencoded").body(form)).await;
    assert_eq!(r.status, 400);
    assert_alive(&mut server).await;
}

/// A saved query nested beyond the limit, or with a deeply nested YAML header,
/// stops the server at start with the file and the reason, instead of crashing.
#[test]
fn deep_saved_queries_stop_the_start_with_a_reason() {
    for (name, text) in [
        ("deep-sparql", format!("#+ summary: deep\n{}", nested_select(5_000))),
        ("deep-yaml", format!("#+ summary: {}x{}\nASK {{}}", "[".repeat(100_000), "]".repeat(100_000))),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{name}.rq")), text).unwrap();
        let output = std::process::Command::new(BIN)
            .args(["serve", "--memory", "--no-default-data", "--bind", "127.0.0.1:0", "--queries"])
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name}.rq")) && stderr.contains("nest"), "{name}: {stderr}");
    }
}

/// A `--queries` path that is not a folder is an error at start, not a server
/// without saved queries.
#[test]
fn a_queries_path_that_is_not_a_folder_stops_the_start() {
    let output = std::process::Command::new(BIN)
        .args(["serve", "--memory", "--no-default-data", "--bind", "127.0.0.1:0", "--queries", "no/such/folder"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--queries must name a folder"));
}

/// Sends raw request headers (no body) and reads what the server answers.
fn raw_head_only(base: &str, head: &str) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// Method and size first, then the token, then parsing: an update or a Graph
/// Store write without the token is answered 401 from its headers, before its
/// body is sent; too large is 413 before the token; a malformed form update
/// without the token is 401, not 400.
#[tokio::test]
async fn checks_come_in_order_method_size_token_parse() {
    let mut server = start(&["--max-body-bytes", "100000000"]);
    let base = server.0.base.clone();
    let host = base.trim_start_matches("http://");
    for head in [
        format!("POST /sparql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/sparql-update\r\nContent-Length: 62000000\r\n\r\n"),
        format!("PUT /store?graph=http%3A%2F%2Fg HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/turtle\r\nContent-Length: 62000000\r\n\r\n"),
        format!("DELETE /store?graph=http%3A%2F%2Fg HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"),
    ] {
        let answer = raw_head_only(&base, &head);
        assert!(answer.starts_with("HTTP/1.1 401"), "{head}\n→ {answer}");
    }
    let answer = raw_head_only(
        &base,
        &format!("POST /sparql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/sparql-update\r\nContent-Length: 200000000\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "size before the token: {answer}");
    let r = call(client().delete(format!("{base}/sparql"))).await;
    assert_eq!(r.status, 405);
    let post = client().post(format!("{base}/sparql")).header("content-type", "application/x-www-form-urlencoded");
    let r = call(post.body(format!("update={}", "INSERT%20DATA%20%7B%20".repeat(200_000)))).await;
    assert_eq!(r.status, 401, "the token is checked before the update is parsed");
    assert_alive(&mut server).await;
}

/// A 5xx carries the request id, which the log lines of that request carry too.
#[tokio::test]
async fn server_errors_carry_the_request_id_found_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = rows_file(&dir);
    let mut server = start(&["--timeout", "1", "--data", data.to_str().unwrap()]);
    let base = server.0.base.clone();
    let r = call(client().get(format!("{base}/sparql")).query(&[("query", endless_join(None))])).await;
    assert_eq!(r.status, 503);
    let id = r.headers["x-request-id"].to_str().unwrap().to_owned();
    let body = r.text();
    assert!(body.contains(&format!("request id {id}")), "{body}");
    assert!(server.0.logged(|line| line.contains(&id) && line.contains("status=503")).await, "no log line with {id}");
    assert_alive(&mut server).await;
}

/// Under an anonymous flood (16 connections repeating a query that never ends,
/// 16 more hammering the home page, VoID and the ontology page), a cheap query
/// keeps being answered: its remembered cost admits it to the fast lane, the
/// flood's to the normal and heavy lanes, whose overflow is refused with 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cheap_query_keeps_being_answered_under_an_anonymous_flood() {
    let dir = tempfile::tempdir().unwrap();
    let data = rows_file(&dir);
    let mut server = start(&["--timeout", "5", "--data", data.to_str().unwrap()]);
    let base = server.0.base.clone();
    let cheap = "ASK { <http://example.org/n1> <http://example.org/v> 1 }";
    let ask = |base: String| async move {
        call(client().get(format!("{base}/sparql")).query(&[("query", cheap)])).await.status
    };
    assert_eq!(ask(base.clone()).await, 200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    let heavy = endless_join(None);
    for i in 0..32 {
        let (base, stop, heavy) = (base.clone(), stop.clone(), heavy.clone());
        flood.push(tokio::spawn(async move {
            let client = client();
            let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let request = if i < 16 {
                    client.get(format!("{base}/sparql")).query(&[("query", &heavy)])
                } else {
                    let (path, accept) =
                        [("/", "text/html"), ("/.well-known/void", "text/turtle"), ("/ontology", "text/html")][i % 3];
                    client.get(format!("{base}{path}")).header("accept", accept)
                };
                // Raw: under the flood a send may fail or a body be cut, and is counted, not unwrapped.
                if let Ok(r) = request.send().await {
                    *statuses.entry(r.status().as_u16()).or_default() += 1;
                    let _ = r.bytes().await;
                }
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut answered = 0;
    for _ in 0..30 {
        assert_eq!(ask(base.clone()).await, 200, "the cheap query was not answered during the flood");
        answered += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut totals = std::collections::BTreeMap::<u16, u32>::new();
    for task in flood {
        for (status, n) in task.await.unwrap() {
            *totals.entry(status).or_default() += n;
        }
    }
    println!("flood: cheap query answered {answered}/30; flood statuses {totals:?}");
    assert!(totals.keys().all(|s| [200, 503].contains(s)), "{totals:?}");
    assert_alive(&mut server).await;
}
