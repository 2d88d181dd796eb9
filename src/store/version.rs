//! Versioning: the store generation (bumped after every committed write, in
//! memory), the data version (a digest of the ledger, stable across restarts)
//! and when the data last changed. Caches, ETags and `Last-Modified` key on these.
//!
//! The ledger is the server's own bookkeeping, kept beside the data and never in
//! it (so no query, dump or page ever shows it): the write counter, and for each
//! source file its path, content hash and the graphs it brought in. It lives in
//! `treaty-kg-ledger.json` in the store directory (in memory for `--memory`).
//!
//! A write reserves the next counter value and saves it **before** its
//! transaction commits, and the in-memory data version changes only **after**
//! the commit. So a crash between the two can change the data version without a
//! change of data (caches miss once), never the reverse, and no cached answer
//! computed before a write can be served under the version after it.

use super::error::StoreError;
use crate::memo::lock;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

/// The ledger's file name inside the store directory.
pub const LEDGER_FILE: &str = "treaty-kg-ledger.json";

/// Beside it, the directory of data derived from the store ([`Versioning::keepsake_dir`]).
pub const KEEPSAKE_DIR: &str = "treaty-kg-kept";

/// What one source file brought into the store.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceRecord {
    /// The path shown to people.
    pub file: String,
    /// SHA-256 of the file's bytes when it was loaded.
    pub hash: String,
    /// Named graphs the file (TriG, N-Quads) contained besides its own.
    pub contains: Vec<String>,
    /// The statements it added when it was loaded (absent in ledgers written
    /// before it was recorded, and over a remote engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statements: Option<u64>,
}

/// The persisted bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    /// The highest write number reserved (every write, bulk load and source sync takes one).
    pub writes: u64,
    /// Source files by the IRI of their graph.
    pub sources: BTreeMap<String, SourceRecord>,
    /// The server's notes about derived data (which data version the inferred
    /// graph was regenerated at): not part of the data version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

impl Ledger {
    fn digest(&self) -> String {
        let counted = Ledger { notes: BTreeMap::new(), ..self.clone() };
        let text = serde_json::to_string(&counted).unwrap_or_default();
        crate::sources::content_hash(text.as_bytes())[..16].to_owned()
    }
}

/// How many past versions' stamps are kept (a page rendered from a summary of
/// an older version carries that version's validators).
const PAST_STAMPS: usize = 1024;

/// What names one version of the data to caches: its generation, its data
/// version and when it was made (`ETag`, `X-Data-Version`, `Last-Modified`).
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    pub generation: u64,
    pub data_version: String,
    pub last_modified: SystemTime,
}

/// The versions of the data a server holds.
pub struct Versioning {
    generation: AtomicU64,
    data_version: RwLock<String>,
    last_modified: RwLock<SystemTime>,
    /// The ledger as committed (what the data version is a digest of)…
    committed: Mutex<Ledger>,
    /// …and the highest write number reserved (saved before its commit).
    reserved: AtomicU64,
    /// Where the ledger is saved (`None`: in memory).
    path: Option<PathBuf>,
    /// The store is open read-only: nothing is saved.
    read_only: bool,
    /// One save at a time (they share the temporary file).
    saving: Mutex<()>,
    /// The stamps of the last [`PAST_STAMPS`] versions before the current one,
    /// oldest first; its lock also makes each change of version one step.
    past: Mutex<VecDeque<Stamp>>,
}

impl Versioning {
    /// Reads the ledger of the store at `dir` (a missing file is an empty ledger).
    pub fn open(dir: Option<&Path>, read_only: bool) -> Result<Self, StoreError> {
        let path = dir.map(|d| d.join(LEDGER_FILE));
        let ledger = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| StoreError::io(format!("{}: cannot read the ledger", p.display()), e))?;
                serde_json::from_str(&text).map_err(|e| {
                    StoreError::io(format!("{}: the ledger is not valid", p.display()), std::io::Error::other(e))
                })?
            }
            _ => Ledger::default(),
        };
        Ok(Versioning {
            generation: AtomicU64::new(0),
            data_version: RwLock::new(ledger.digest()),
            last_modified: RwLock::new(SystemTime::now()),
            reserved: AtomicU64::new(ledger.writes),
            committed: Mutex::new(ledger),
            path,
            read_only,
            saving: Mutex::new(()),
            past: Mutex::new(VecDeque::new()),
        })
    }

    /// A counter bumped after every committed write: caches key on it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The citable version of the data.
    pub fn data_version(&self) -> String {
        self.data_version.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// When the data last changed (for `Last-Modified`).
    pub fn last_modified(&self) -> SystemTime {
        *self.last_modified.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        lock(&self.committed)
    }

    /// The record of the source file loaded into `graph`, if any.
    pub fn source(&self, graph: &str) -> Option<SourceRecord> {
        self.ledger().sources.get(graph).cloned()
    }

    /// Every source file's record, by graph IRI.
    pub fn sources(&self) -> BTreeMap<String, SourceRecord> {
        self.ledger().sources.clone()
    }

    /// A directory beside the ledger for data derived from the store (`None`
    /// in memory, over a remote engine without `--remote-state`, or when the
    /// store is read-only).
    pub fn keepsake_dir(&self) -> Option<PathBuf> {
        let path = self.path.as_ref().filter(|_| !self.read_only)?;
        Some(path.with_file_name(KEEPSAKE_DIR))
    }

    /// A note of the server's (see [`Ledger::notes`]).
    pub fn note(&self, key: &str) -> Option<String> {
        self.ledger().notes.get(key).cloned()
    }

    /// Sets a note and saves it; the data version does not change.
    pub fn set_note(&self, key: &str, value: String) -> Result<(), StoreError> {
        let ledger = {
            let mut ledger = self.ledger();
            ledger.notes.insert(key.to_owned(), value);
            ledger.clone()
        };
        self.save(&ledger)
    }

    /// Reserves the next write number and saves it, before the write commits.
    pub fn reserve(&self) -> Result<u64, StoreError> {
        let number = self.reserved.fetch_add(1, Ordering::SeqCst) + 1;
        let mut ledger = self.ledger().clone();
        ledger.writes = ledger.writes.max(number);
        self.save(&ledger)?;
        Ok(number)
    }

    /// Records the committed write `number` (and the source file it loaded, if
    /// any): the data version changes now. The write stands whatever happens to
    /// the save that follows (the number was saved before the commit; a lost
    /// source record only reloads that file at the next start), so a failed save
    /// is logged, not returned.
    pub fn committed(&self, number: u64, source: Option<(String, SourceRecord)>) {
        let ledger = {
            let mut ledger = self.ledger();
            ledger.writes = ledger.writes.max(number);
            if let Some((graph, record)) = source {
                ledger.sources.insert(graph, record);
            }
            ledger.clone()
        };
        self.advance(ledger.digest(), false);
        if let Err(e) = self.save(&ledger) {
            tracing::error!(error = %e.chain(), "the ledger could not be saved after a committed write");
        }
    }

    /// Saves the ledger with its write number at least the reserved one (a new
    /// file then a rename, so a crash leaves the old or the new ledger whole).
    fn save(&self, ledger: &Ledger) -> Result<(), StoreError> {
        let (Some(path), false) = (&self.path, self.read_only) else { return Ok(()) };
        let _one_at_a_time = self.saving.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ledger = ledger.clone();
        ledger.writes = ledger.writes.max(self.reserved.load(Ordering::SeqCst));
        let text = serde_json::to_string_pretty(&ledger).expect("a ledger serializes");
        let temporary = path.with_extension("json.new");
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| StoreError::io(format!("{}: cannot save the ledger", path.display()), e))
    }

    /// Sets the data version read from elsewhere (a remote engine): when it
    /// differs from the current one, the generation is bumped and caches miss.
    pub fn observe(&self, version: String) {
        self.advance(version, true);
    }

    /// Moves to the next generation with `data_version`, made now (when
    /// `if_changed`, only if that differs from the current one), keeping the
    /// stamp of the version left.
    fn advance(&self, data_version: String, if_changed: bool) {
        let mut past = lock(&self.past);
        let left = self.current_stamp();
        if if_changed && left.data_version == data_version {
            return;
        }
        *self.last_modified.write().unwrap_or_else(std::sync::PoisonError::into_inner) = SystemTime::now();
        *self.data_version.write().unwrap_or_else(std::sync::PoisonError::into_inner) = data_version;
        self.generation.fetch_add(1, Ordering::SeqCst);
        if past.len() >= PAST_STAMPS {
            past.pop_front();
        }
        past.push_back(left);
    }

    fn current_stamp(&self) -> Stamp {
        Stamp { generation: self.generation(), data_version: self.data_version(), last_modified: self.last_modified() }
    }

    /// The stamp of `generation`: the current one's, or one of the last
    /// [`PAST_STAMPS`] before it (`None` when older, or not reached yet).
    pub fn stamp(&self, generation: u64) -> Option<Stamp> {
        let past = lock(&self.past);
        let current = self.current_stamp();
        if current.generation == generation {
            return Some(current);
        }
        past.iter().rev().find(|s| s.generation == generation).cloned()
    }

    /// Takes over bookkeeping found elsewhere (an older store's system graph, a
    /// remote engine's ledger).
    pub fn adopt(&self, mut ledger: Ledger) -> Result<(), StoreError> {
        self.reserved.fetch_max(ledger.writes, Ordering::SeqCst);
        // The server's own notes stay (a remote engine's ledger carries none).
        let notes = self.ledger().notes.clone();
        for (key, value) in notes {
            ledger.notes.entry(key).or_insert(value);
        }
        *self.ledger() = ledger.clone();
        *self.data_version.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ledger.digest();
        self.save(&ledger)
    }

    /// Copies the ledger into a backup directory.
    pub fn copy_to(&self, dir: &Path) -> Result<(), StoreError> {
        let ledger = self.ledger().clone();
        let text = serde_json::to_string_pretty(&ledger).expect("a ledger serializes");
        let path = dir.join(LEDGER_FILE);
        std::fs::write(&path, text)
            .map_err(|e| StoreError::io(format!("{}: cannot write the ledger", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_changes_after_the_commit_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let versioning = Versioning::open(Some(dir.path()), false).unwrap();
        let before = versioning.data_version();
        let n = versioning.reserve().unwrap();
        assert_eq!(versioning.data_version(), before, "a reservation alone changes nothing served");
        versioning.committed(n, Some(("http://g".into(), SourceRecord { file: "a.ttl".into(), ..Default::default() })));
        let after = versioning.data_version();
        assert_ne!(after, before);
        let reopened = Versioning::open(Some(dir.path()), false).unwrap();
        assert_eq!(reopened.data_version(), after);
        assert_eq!(reopened.source("http://g").unwrap().file, "a.ttl");
    }

    #[test]
    fn each_version_keeps_its_stamp_after_the_next_write() {
        let versioning = Versioning::open(None, false).unwrap();
        let first = versioning.stamp(0).expect("the current version's stamp");
        assert_eq!(first.data_version, versioning.data_version());
        versioning.committed(versioning.reserve().unwrap(), None);
        assert_eq!(versioning.stamp(0), Some(first.clone()), "the version left keeps its stamp");
        let second = versioning.stamp(1).expect("the new version's");
        assert_ne!(second.data_version, first.data_version);
        assert!(versioning.stamp(2).is_none(), "no stamp for a version not reached");
        versioning.observe(second.data_version.clone());
        assert_eq!(versioning.generation(), 1, "an unchanged data version observed is no new version");
        for _ in 0..PAST_STAMPS {
            versioning.committed(versioning.reserve().unwrap(), None);
        }
        assert!(versioning.stamp(0).is_none(), "only the last {PAST_STAMPS} are kept");
        assert_eq!(versioning.stamp(1), Some(second));
    }

    #[test]
    fn notes_are_kept_but_do_not_change_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let versioning = Versioning::open(Some(dir.path()), false).unwrap();
        let before = versioning.data_version();
        versioning.set_note("inferred-at", before.clone()).unwrap();
        assert_eq!(versioning.data_version(), before);
        let reopened = Versioning::open(Some(dir.path()), false).unwrap();
        assert_eq!(reopened.data_version(), before);
        assert_eq!(reopened.note("inferred-at"), Some(before));
    }

    #[test]
    fn a_crash_between_reservation_and_commit_changes_the_version_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let versioning = Versioning::open(Some(dir.path()), false).unwrap();
        let before = versioning.data_version();
        versioning.reserve().unwrap();
        drop(versioning);
        assert_ne!(Versioning::open(Some(dir.path()), false).unwrap().data_version(), before);
    }
}
