//! A mixed read/write load on the real binary over loopback: 64 connections
//! running queries, saved queries, pages and writes for a bounded time. Every
//! answer must be 2xx (the load is within capacity), no acknowledged write may be
//! lost, and the server's peak RSS is read. The CI variant runs 15 seconds; the
//! long one (`cargo test --test integration -- --ignored mixed_load_long`)
//! runs three minutes and its figures are in BENCHMARKS.md.

use crate::common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default, Debug)]
struct Report {
    by_status: BTreeMap<u16, u64>,
    acked_writes: Vec<u64>,
    errors: u64,
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

async fn mixed_load(duration: Duration, connections: usize) {
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--store".to_owned(),
        dir.path().join("store").display().to_string(),
        "--data".to_owned(),
        repo("ontology").display().to_string(),
        "--data".to_owned(),
        repo("data").display().to_string(),
        "--no-default-data".to_owned(),
        "--queries".to_owned(),
        repo("queries").display().to_string(),
    ];
    let served = spawn_server(&args, &[("TREATY_KG_WRITE_TOKEN", TOKEN)]);
    let pid = served.child.id();
    let base = served.base.clone();
    let report = Arc::new(Mutex::new(Report::default()));
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let reads = [
        "/sparql?query=SELECT%20%3Fs%20%3Fl%20WHERE%20%7B%20%3Fs%20%3Chttp%3A%2F%2Fwww.w3.org%2F2000%2F01%2Frdf-schema%23label%3E%20%3Fl%20%7D",
        "/sparql?query=SELECT%20(COUNT(*)%20AS%20%3Fn)%20WHERE%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D",
        "/queries/withdrawals",
        "/queries/parliamentary-approval",
        "/queries/search?text=latvia",
        "/page/state/latvia",
        "/data/person/evika-silina.ttl",
        "/fragments?predicate=http%3A%2F%2Fwww.w3.org%2F2000%2F01%2Frdf-schema%23label",
    ];
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (base, report, next) = (base.clone(), report.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
            let mut i = c;
            while Instant::now() < deadline {
                i += 1;
                // Raw: a failed request is counted in the report, not unwrapped.
                let (status, write) = if i % 7 == 0 {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let r = client
                        .post(format!("{base}/sparql"))
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/sparql-update")
                        .body(format!("INSERT DATA {{ GRAPH <urn:load> {{ <urn:load:{n}> <urn:p> {n} }} }}"))
                        .send()
                        .await;
                    (r.map(|r| r.status().as_u16()), Some(n))
                } else {
                    let r = client.get(format!("{base}{}", reads[i % reads.len()])).send().await;
                    let status = match r {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            let _ = r.bytes().await;
                            Ok(s)
                        }
                        Err(e) => Err(e),
                    };
                    (status, None)
                };
                let mut report = report.lock().unwrap();
                match status {
                    Ok(s) => {
                        *report.by_status.entry(s).or_default() += 1;
                        if let (true, Some(n)) = ((200..300).contains(&s), write) {
                            report.acked_writes.push(n);
                        }
                    }
                    Err(_) => report.errors += 1,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rss = peak_rss_kib(pid);
    let report = Arc::try_unwrap(report).unwrap().into_inner().unwrap();
    let stored =
        count_at(&base, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH <urn:load> { ?s ?p ?o } }").await as usize;
    let mut child = served.child;
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();
    let total: u64 = report.by_status.values().sum();
    println!(
        "load: {connections} connections for {:?}: {total} requests ({:.0}/s), statuses {:?}, transport errors {}, {} acknowledged writes, {stored} stored, peak RSS {} MiB",
        duration,
        total as f64 / duration.as_secs_f64(),
        report.by_status,
        report.errors,
        report.acked_writes.len(),
        rss / 1024
    );
    // A load within capacity is served in full: any answer that is not 2xx (a 503
    // included) fails the test.
    let bad: Vec<_> = report.by_status.iter().filter(|(s, _)| !(200..300).contains(*s)).collect();
    assert!(bad.is_empty(), "answers that are not 2xx: {bad:?}");
    assert_eq!(report.errors, 0, "transport errors");
    assert!(
        stored >= report.acked_writes.len(),
        "lost writes: {} acknowledged, {stored} stored",
        report.acked_writes.len()
    );
    assert!(total > 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_load_short() {
    mixed_load(Duration::from_secs(15), 64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "three minutes; run by hand, figures in BENCHMARKS.md"]
async fn mixed_load_long() {
    mixed_load(Duration::from_secs(180), 64).await;
}
