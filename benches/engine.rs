//! The engine limit: the benchmark query mix evaluated in-process (store +
//! serialization, no HTTP) on generated data, so BENCHMARKS.md can show what the
//! HTTP layer costs. Run with `cargo bench --bench engine` (TREATY_KG_BENCH_TRIPLES
//! sets the size; default 100,000).

use criterion::{criterion_group, criterion_main, Criterion};
use oxigraph::sparql::results::QueryResultsFormat;
use treaty_kg::sparql::results::OutputFormat;
use treaty_kg::sparql::{depth, parse};
use treaty_kg::store::{KgStore, QueryJob, StoreLocation, StoreOptions};

fn engine(c: &mut Criterion) {
    let size: u64 = std::env::var("TREATY_KG_BENCH_TRIPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.nq");
    treaty_kg::generate::generate(size, 42, std::fs::File::create(&data).unwrap()).unwrap();
    let store = KgStore::open(&StoreLocation::Directory(dir.path().join("store")), StoreOptions::default()).unwrap();
    store.bulk_load(&data, None, |_| {}, &mut |_| {}).unwrap();
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/queries");
    let mut files: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut group = c.benchmark_group(format!("engine-{size}"));
    group.sample_size(20);
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let query = parse::query(&text, None, depth::DEFAULT_MAX_DEPTH).unwrap();
        let format = if text.contains("CONSTRUCT") {
            OutputFormat::Rdf(oxigraph::io::RdfFormat::NTriples)
        } else {
            OutputFormat::Results(QueryResultsFormat::Json)
        };
        group.bench_function(&name, |b| {
            b.iter(|| {
                runtime
                    .block_on(store.query_capped(QueryJob::new(query.clone(), &name), format.clone(), usize::MAX))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
