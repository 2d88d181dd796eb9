//! Unit tests of the façade over the embedded backend.

use super::*;

/// Bulk loads and transactional writes each change the data version, which
/// survives a restart and never shows in the data (no bookkeeping graph).
#[tokio::test]
async fn bulk_loads_and_writes_both_advance_the_write_counter() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.nt");
    std::fs::write(&file, "<http://example.org/s> <http://example.org/p> \"o\" .\n").unwrap();
    let store = KgStore::open(&StoreLocation::Directory(dir.path().join("store")), StoreOptions::default()).unwrap();
    let mut versions = vec![store.data_version()];

    store.bulk_load(&file, None, |_| {}, &mut |_| {}).unwrap();
    versions.push(store.data_version());
    store.bulk_load(&file, None, |_| {}, &mut |_| {}).unwrap();
    versions.push(store.data_version());

    let update = UpdateJob {
        text: "INSERT DATA { <http://example.org/s> <http://example.org/p> \"x\" }".into(),
        base: None,
        dataset: ProtocolDataset::default(),
    };
    store.update(update).await.unwrap();
    versions.push(store.data_version());
    let backend::Backend::Embedded(embedded) = &store.inner.backend else { panic!("embedded") };
    assert_eq!(embedded.raw().len().unwrap(), 2, "only the data is in the store");
    let last = store.data_version();
    drop(store);
    let reopened = KgStore::open(&StoreLocation::Directory(dir.path().join("store")), StoreOptions::default()).unwrap();
    assert_eq!(reopened.data_version(), last, "the version survives a restart");

    let mut distinct = versions.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), versions.len(), "every write changes the data version: {versions:?}");
}

/// Text nested beyond the limit is refused before it is parsed; text at the
/// limit parses and evaluates on the deep-stack pool (a debug build has the
/// largest stack frames, so this is the case that sizes the pool's stacks).
#[tokio::test]
async fn text_at_the_depth_limit_evaluates_and_deeper_text_is_refused() {
    let options = StoreOptions::default();
    let limit = options.max_depth;
    let store = KgStore::open(&StoreLocation::Memory, options).unwrap();
    let select = |levels: usize| format!("SELECT * WHERE {}{}", "{".repeat(levels), "}".repeat(levels));
    let format = OutputFormat::Results(oxigraph::sparql::results::QueryResultsFormat::Json);
    // The top level and `*` count, then each group.
    let job = QueryJob::text(select(limit - 2), "deep");
    let answer = store.query_capped(job, format.clone(), 10).await.unwrap();
    assert!(!answer.body.is_empty());
    let refused = store.query_capped(QueryJob::text(select(limit), "too deep"), format.clone(), 10).await;
    assert!(matches!(refused, Err(StoreError::TooDeep(_))), "{refused:?}");
    let chain = format!("ASK {{ FILTER({}) }}", vec!["true"; limit - 4].join(" || "));
    let answer = store.query_capped(QueryJob::text(chain, "chain"), format.clone(), 10).await.unwrap();
    assert!(String::from_utf8_lossy(&answer.body).contains("true"));
    let update = UpdateJob {
        text: format!("INSERT {{ <http://a> <http://b> 1 }} WHERE {}{}", "{".repeat(limit - 2), "}".repeat(limit - 2)),
        base: None,
        dataset: ProtocolDataset::default(),
    };
    store.update(update).await.unwrap();
}

/// An in-memory store holding 300 values of `<http://example.org/v>`: a join
/// of four of its patterns (300^4 rows) never ends by itself.
async fn three_hundred_rows(options: StoreOptions) -> KgStore {
    let store = KgStore::open(&StoreLocation::Memory, options).unwrap();
    let rows: String = (0..300).map(|i| format!("<http://example.org/n{i}> <http://example.org/v> {i} .")).collect();
    let update =
        UpdateJob { text: format!("INSERT DATA {{ {rows} }}"), base: None, dataset: ProtocolDataset::default() };
    store.update(update).await.unwrap();
    store
}

/// Default options with a query deadline and a transfer deadline, in seconds.
fn deadlines(query: u64, transfer: u64) -> StoreOptions {
    StoreOptions {
        timeout: std::time::Duration::from_secs(query),
        transfer_timeout: std::time::Duration::from_secs(transfer),
        ..StoreOptions::default()
    }
}

/// The join of four patterns over `three_hundred_rows`: never ends by itself.
const ENDLESS: &str = "SELECT (COUNT(*) AS ?c) WHERE { ?a <http://example.org/v> ?x . ?b <http://example.org/v> ?y . ?c <http://example.org/v> ?z . ?d <http://example.org/v> ?w }";

/// The server's own scans of the whole store (the dataset summaries) are
/// bounded by the transfer deadline, like a dump, not by a visitor's query
/// deadline: at 10M quads a summary's scan runs close to 30 s.
#[tokio::test]
async fn whole_store_scans_have_the_transfer_deadline() {
    let store = three_hundred_rows(deadlines(1, 3)).await;
    let started = std::time::Instant::now();
    let visitor = store.select_rows(QueryJob::text(ENDLESS, "visitor"), 1).await;
    assert!(matches!(visitor, Err(StoreError::Timeout(1))), "{visitor:?}");
    let started_scan = std::time::Instant::now();
    let scan = store.select_rows(QueryJob::text(ENDLESS, "summary").scanning_the_whole_store(), 1).await;
    assert!(matches!(scan, Err(StoreError::Timeout(3))), "{scan:?}");
    assert!(started_scan.elapsed() >= std::time::Duration::from_millis(2900), "ran to the transfer deadline");
    assert!(started_scan - started < std::time::Duration::from_millis(2900), "the visitor's query stopped at its own");
}

/// The server's own whole-store work (inside `exec::background`) runs in the
/// background lane and is not cut at the transfer deadline: it runs at a lower
/// priority, so on a busy machine it may take longer than a visitor's dump, and
/// cutting it would leave the search index or a summary missing. It stays
/// registered and cancellable.
#[tokio::test]
async fn the_server_s_own_whole_store_work_outlives_the_transfer_deadline() {
    let store = three_hundred_rows(deadlines(1, 1)).await;
    let scanning = store.clone();
    let scan = tokio::spawn(crate::exec::background(async move {
        scanning.select_rows(QueryJob::text(ENDLESS, "summary").scanning_the_whole_store(), 1).await
    }));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let running = store.running().list();
    assert_eq!(running.len(), 1, "still running past the transfer deadline: {running:?}");
    assert_eq!(running[0].lane, "background", "in its own lane, not in the slots visitors wait for");
    assert!(!scan.is_finished());
    assert!(store.running().cancel(running[0].id));
    let cancelled = scan.await.unwrap();
    assert!(matches!(cancelled, Err(StoreError::Cancelled)), "{cancelled:?}");
}

/// Long work that finds the heavy lane full runs on in its own lane while
/// nobody lighter waits for the slot (clients asking long queries together get
/// answers, not 503s), and the most recently started is shed (503) once a
/// request of unknown cost waits; the others run on to their deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_work_is_shed_only_for_lighter_work_that_waits() {
    let options = StoreOptions {
        timeout: std::time::Duration::from_secs(3),
        max_concurrent: 2, // two normal slots, one heavy
        heavy_after: std::time::Duration::from_millis(100),
        queue_timeout: std::time::Duration::from_secs(5),
        ..StoreOptions::default()
    };
    let store = three_hundred_rows(options).await;
    // 300^4 rows each: never ends by itself. Three texts, three cost keys.
    let endless = |n: usize| {
        let text = format!("SELECT (COUNT(*) AS ?c{n}) WHERE {{ ?a <http://example.org/v> ?x . ?b <http://example.org/v> ?y . ?c <http://example.org/v> ?z . ?d <http://example.org/v> ?w }}");
        let store = store.clone();
        tokio::spawn(async move { store.select_rows(QueryJob::text(text, "endless"), 1).await })
    };
    let lanes = || {
        let mut lanes: Vec<&str> = store.running().list().iter().map(|q| q.lane).collect();
        lanes.sort();
        lanes
    };
    let (first, second) = (endless(1), endless(2));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(lanes(), ["heavy", "normal"], "one moved to the heavy lane, the other runs on where it was");
    let third = endless(3);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(lanes(), ["heavy", "normal", "normal"], "nobody waits: nothing is shed");
    let started = std::time::Instant::now();
    let cheap = store.select_rows(QueryJob::text("SELECT ?s WHERE { ?s ?p 7 }", "cheap"), 10).await.unwrap();
    assert_eq!(cheap.len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "answered long before the deadline");
    let shed = third.await.unwrap();
    assert!(matches!(shed, Err(StoreError::Overloaded { .. })), "the latest long one made room: {shed:?}");
    for (name, task) in [("first", first), ("second", second)] {
        let outcome = task.await.unwrap();
        assert!(matches!(outcome, Err(StoreError::Timeout(3))), "{name} ran to its deadline: {outcome:?}");
    }
}
