//! Shared computations, done once per data version: the first request starts
//! the computation in a task of its own (so it finishes even if that client goes
//! away), and every request for the same key and version awaits that one
//! computation instead of starting another (single flight). A failure is not
//! kept: the next request tries again.

use crate::error::AppError;
use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

type Flight<T> = Shared<BoxFuture<'static, Result<Arc<T>, AppError>>>;

/// Values of type `T` by key, each computed once per data version.
pub struct Memo<K, T> {
    entries: Mutex<HashMap<K, Entry<T>>>,
    /// Most keys kept; past it, entries of the current version are dropped too.
    capacity: usize,
}

impl<K, T> Default for Memo<K, T> {
    fn default() -> Self {
        Memo { entries: Mutex::default(), capacity: 256 }
    }
}

impl<K, T> Memo<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + Sync + 'static,
{
    /// A memo keeping at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Memo { entries: Mutex::default(), capacity: capacity.max(1) }
    }

    /// The value for `key` at data version `version` or newer, computing it
    /// (once, for all concurrent callers) when it is missing or older.
    ///
    /// At most one computation per key runs at a time: a caller asking for a
    /// newer version while an older one is still being computed waits for that
    /// one to end, and the next computation is for the newest version asked
    /// meanwhile, shared by all who asked. Without this, every version visited
    /// during a whole-store scan (a minute at 10M quads) queued another full
    /// scan behind it, one per write, however stale by its turn.
    pub async fn get<F, Fut>(&self, key: K, version: u64, compute: F) -> Result<Arc<T>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>> + Send + 'static,
    {
        let flight = loop {
            let (running, older) = {
                let mut entries = lock(&self.entries);
                match entries.get_mut(&key) {
                    Some(entry) if entry.version >= version => break entry.flight.clone(),
                    Some(entry) if entry.flight.peek().is_none() => {
                        entry.wanted = entry.wanted.max(version);
                        (entry.flight.clone(), entry.version)
                    }
                    found => {
                        let newest = found.map_or(version, |entry| entry.wanted.max(version));
                        // Only the current versions are kept, and the computations still running.
                        entries.retain(|_, entry| entry.version >= version || entry.flight.peek().is_none());
                        if entries.len() >= self.capacity {
                            entries.clear();
                        }
                        let task = tokio::spawn(compute());
                        let flight: Flight<T> = async move {
                            match task.await {
                                Ok(Ok(value)) => Ok(Arc::new(value)),
                                Ok(Err(e)) => Err(e),
                                Err(e) => Err(AppError::internal(
                                    anyhow::Error::new(e).context("a shared computation failed"),
                                )),
                            }
                        }
                        .boxed()
                        .shared();
                        entries.insert(key.clone(), Entry { version: newest, wanted: newest, flight: flight.clone() });
                        break flight;
                    }
                }
            };
            // An older version is being computed: once it ends, the next
            // computation is ours.
            let _ = (running.await, older);
        };
        let result = flight.await;
        if result.is_err() {
            let mut entries = lock(&self.entries);
            if entries.get(&key).is_some_and(|e| e.version >= version && e.flight.peek().is_some_and(Result::is_err)) {
                entries.remove(&key);
            }
        }
        result
    }
}

/// A computation of one key: the version it is for, the newest version asked
/// while it ran (the next computation is for that one), and its shared outcome.
struct Entry<T> {
    version: u64,
    wanted: u64,
    flight: Flight<T>,
}

/// Locks `mutex`, going on past a panic that poisoned it.
pub(crate) fn lock<V>(mutex: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_computation_per_version() {
        let memo: Arc<Memo<(), usize>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let call = |version: u64| {
            let (memo, runs) = (memo.clone(), runs.clone());
            async move {
                memo.get((), version, move || async move {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok(runs.fetch_add(1, Ordering::SeqCst))
                })
                .await
                .unwrap()
            }
        };
        let answers = futures::future::join_all((0..10).map(|_| call(1))).await;
        assert!(answers.iter().all(|a| **a == 0));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(*call(2).await, 1, "a new version computes again");
    }

    #[tokio::test]
    async fn one_computation_per_key_at_a_time_then_the_newest_version_asked() {
        use tokio::time::Duration;
        let memo: Arc<Memo<(), u64>> = Arc::default();
        let (running, most, runs) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // The data's version: a computation reads the data as it is when it starts.
        let data = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let call = |version: u64| {
            let (memo, running, most, runs) = (memo.clone(), running.clone(), most.clone(), runs.clone());
            let data = data.clone();
            data.fetch_max(version, Ordering::SeqCst);
            tokio::spawn(async move {
                memo.get((), version, move || async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    runs.fetch_add(1, Ordering::SeqCst);
                    let seen = data.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(seen)
                })
                .await
                .unwrap()
            })
        };
        let first = call(1);
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Three writes and three visits while version 1 is computed.
        let later: Vec<_> = (2..=4).map(call).collect();
        assert_eq!(*first.await.unwrap(), 1);
        for answer in later {
            assert_eq!(*answer.await.unwrap(), 4, "every later caller shares the computation for the newest version");
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two computations of one key at once");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "versions 2 and 3 were not computed: 4 covers them");
    }

    #[tokio::test]
    async fn failures_are_not_kept() {
        let memo: Memo<(), u8> = Memo::default();
        assert!(memo.get((), 1, || async { Err(AppError::BadRequest("no".into())) }).await.is_err());
        assert_eq!(*memo.get((), 1, || async { Ok(7) }).await.unwrap(), 7);
    }
}
