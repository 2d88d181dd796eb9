//! The dataset summaries (statistics, sources, featured resources, events, the
//! ontology's terms) kept on disk beside the ledger, each under the data
//! version it was computed at. A restart on unchanged data reads them back
//! instead of scanning the whole store again (at 10M quads the home page's
//! first view took 74 s). Every write changes the data version, so a kept
//! summary is never taken for other data; a file that does not read back (a
//! crash mid-write, another release's shape) or that another revision of the
//! computations kept (`REVISION`) is computed again. Over a remote
//! engine they are kept in the `--remote-state` directory, under the engine's
//! data version; in memory, over an engine without it, and on a read-only store
//! nothing is kept.
//!
//! What is not read back is scanned through the [`ScanGate`]: one whole-store
//! scan at a time, each counted by summary (`treaty_kg_summary_scans_total`).

use super::AppState;
use crate::error::AppError;
use crate::store::KgStore;
use futures::future::{BoxFuture, FutureExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The summaries scanned through the gate, by the name they are kept and counted under.
const SCANNED: [&str; 4] = ["statistics", "sources", "featured", "events"];

/// Lets one dataset-wide scan run at a time; the others wait their turn. After
/// a write the summary pages answer the previous version and start every
/// summary's scan, and at 10M quads four such scans together filled the heavy
/// lane, so a visitor's own long read was shed with 503.
pub struct ScanGate {
    turn: tokio::sync::Semaphore,
    /// Scans started, by summary: what anonymous visits cost the store.
    started: Mutex<BTreeMap<&'static str, u64>>,
}

impl Default for ScanGate {
    fn default() -> Self {
        let started = SCANNED.iter().map(|name| (*name, 0)).collect();
        ScanGate { turn: tokio::sync::Semaphore::new(1), started: Mutex::new(started) }
    }
}

impl ScanGate {
    /// Runs the scan of `summary` once no other scan runs, and counts it. It
    /// runs as background work: visitors' requests get the cores first.
    pub async fn run<T>(&self, summary: &'static str, scan: impl Future<Output = T>) -> T {
        // The semaphore is never closed, so acquiring cannot fail.
        let _turn = self.turn.acquire().await.ok();
        *crate::memo::lock(&self.started).entry(summary).or_default() += 1;
        crate::exec::background(scan).await
    }

    /// Scans started since the server started, by summary.
    pub fn started(&self) -> Vec<(&'static str, u64)> {
        crate::memo::lock(&self.started).iter().map(|(name, n)| (*name, *n)).collect()
    }
}

/// The computation of the summary `name` over the current data, as a memo runs
/// it: read back from disk when kept at this data version, else `scan`ned
/// through the gate and kept.
pub fn summary_job<T, Fut>(
    state: &AppState,
    name: &'static str,
    scan: impl FnOnce(KgStore) -> Fut + Send + 'static,
) -> impl FnOnce() -> BoxFuture<'static, Result<T, AppError>>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send + 'static,
{
    let (store, memos) = (state.store.clone(), state.memos.clone());
    move || async move { kept_or(&store, name, memos.scans.run(name, scan(store.clone()))).await }.boxed()
}

/// How the summaries are computed, bumped whenever one's computation changes
/// (1: VoID counts the graphs past an engine's row limit; 2: VoID's subsets
/// add up to the dataset, the graphs no other covers in a rest). A value kept by
/// another revision is computed again, not served: at the same data version
/// it may still say what the old computation got wrong.
const REVISION: u32 = 2;

/// One kept summary, the data version it describes and the revision that computed it.
#[derive(Serialize, Deserialize)]
struct Kept<V> {
    data_version: String,
    /// Absent (0) in the files of releases before revisions were counted.
    #[serde(default)]
    revision: u32,
    value: V,
}

/// The summary `name` of the current data: read from its file when that was
/// computed at the current data version, else `compute`d and kept (when no
/// write landed meanwhile).
pub async fn kept_or<T, Fut>(store: &KgStore, name: &'static str, compute: Fut) -> Result<T, AppError>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    Fut: Future<Output = Result<T, AppError>>,
{
    let Some(path) = store.keepsake_dir().map(|dir| dir.join(format!("{name}.json"))) else {
        return compute.await;
    };
    let version = store.data_version();
    let (reading, wanted) = (path.clone(), version.clone());
    if let Ok(Some(value)) = tokio::task::spawn_blocking(move || read::<T>(&reading, &wanted)).await {
        tracing::info!(summary = name, data_version = %version, "summary read from disk");
        return Ok(value);
    }
    let value = compute.await?;
    if store.data_version() == version {
        match serde_json::to_vec(&Kept { data_version: version, revision: REVISION, value: &value }) {
            Ok(bytes) => {
                let written = tokio::task::spawn_blocking(move || write(&path, &bytes)).await;
                if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
                    tracing::warn!(summary = name, error = %e, "the summary could not be kept on disk");
                }
            }
            Err(e) => tracing::warn!(summary = name, error = %e, "the summary could not be serialized"),
        }
    }
    Ok(value)
}

/// The value kept at `path` when it was computed at `version` by this revision.
fn read<T: DeserializeOwned>(path: &Path, version: &str) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    let kept: Kept<T> = serde_json::from_slice(&bytes).ok()?;
    (kept.data_version == version && kept.revision == REVISION).then_some(kept.value)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file, renamed);
/// two writers of one summary (computations of two versions) never mix.
fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary: PathBuf =
        path.with_extension(format!("json.{}.{}.new", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_value_reads_back_only_at_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept").join("x.json");
        let bytes =
            serde_json::to_vec(&Kept { data_version: "v1".into(), revision: REVISION, value: vec![1u64, 2] }).unwrap();
        write(&path, &bytes).unwrap();
        assert_eq!(read::<Vec<u64>>(&path, "v1"), Some(vec![1, 2]));
        assert_eq!(read::<Vec<u64>>(&path, "v2"), None, "another data version");
        assert_eq!(read::<String>(&path, "v1"), None, "another shape");
        // A file from before revisions were counted, and one from another revision.
        std::fs::write(&path, b"{\"data_version\":\"v1\",\"value\":[1,2]}").unwrap();
        assert_eq!(read::<Vec<u64>>(&path, "v1"), None, "kept by a release before revisions");
        let other = serde_json::to_vec(&Kept { data_version: "v1".into(), revision: REVISION + 1, value: vec![1u64] });
        std::fs::write(&path, other.unwrap()).unwrap();
        assert_eq!(read::<Vec<u64>>(&path, "v1"), None, "kept by another revision");
        std::fs::write(&path, b"{\"data_version\":\"v1\",\"val").unwrap();
        assert_eq!(read::<Vec<u64>>(&path, "v1"), None, "a torn file");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }
}
