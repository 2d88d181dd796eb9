//! The summaries kept on disk beside the ledger, under the data version they
//! describe, so a restart on unchanged data does not compute them again. A
//! file that does not read back (a crash mid-write, another release's shape)
//! or that another revision of the computations kept ([`REVISION`]) is
//! ignored. Over a remote engine they are kept in the `--remote-state`
//! directory; in memory, and over an engine without it, nothing is kept.

use super::{Snapshot, Views};
use crate::store::KgStore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How the summaries are computed, bumped whenever a computation changes, so
/// that a file kept by another revision is computed again, not served.
const REVISION: u32 = 4;

const FILE: &str = "summaries.json";

#[derive(Serialize, Deserialize)]
struct Kept<V> {
    data_version: String,
    revision: u32,
    views: V,
}

fn path(store: &KgStore) -> Option<PathBuf> {
    store.keepsake_dir().map(|dir| dir.join(FILE))
}

/// The views kept for the store's current data version, if any.
pub fn read(store: &KgStore) -> Option<Views> {
    let bytes = std::fs::read(path(store)?).ok()?;
    let kept: Kept<Views> = serde_json::from_slice(&bytes).ok()?;
    (kept.data_version == store.data_version() && kept.revision == REVISION).then_some(kept.views)
}

/// Keeps `snapshot` (a failure is logged: the next start computes again).
pub fn write(store: &KgStore, snapshot: &Snapshot) {
    let Some(path) = path(store) else { return };
    let kept = Kept { data_version: snapshot.stamp.data_version.clone(), revision: REVISION, views: &snapshot.views };
    let written = serde_json::to_vec(&kept).map_err(std::io::Error::other).and_then(|bytes| replace(&path, &bytes));
    if let Err(e) = written {
        tracing::warn!(error = %e, path = %path.display(), "the dataset summaries could not be kept on disk");
    }
}

/// Writes `bytes` to `path` whole or not at all (a temporary file, renamed).
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = path.with_extension(format!("json.{}.{n}.new", std::process::id()));
    std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
