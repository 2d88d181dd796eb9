//! Shared computations, done once per data version: the first request starts
//! the computation in a task of its own (so it finishes even if that client goes
//! away), and every request for the same key and version awaits that one
//! computation instead of starting another (single flight). A failure is not
//! kept: the next request tries again. [`Memo::get_or_previous`] may answer the
//! last value computed, for an older version, while a newer one is computed.

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
    /// The newest value [`Memo::get_or_previous`] obtained for each key, with its version.
    settled: Mutex<HashMap<K, (u64, Arc<T>)>>,
    /// The version of each key whose computation a caller of
    /// [`Memo::get_or_previous`] stopped waiting for.
    overdue: Mutex<HashMap<K, u64>>,
    /// Most keys kept; past it, entries of the current version are dropped too.
    capacity: usize,
}

impl<K, T> Default for Memo<K, T> {
    fn default() -> Self {
        Memo { entries: Mutex::default(), settled: Mutex::default(), overdue: Mutex::default(), capacity: 256 }
    }
}

impl<K, T> Memo<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Send + Sync + 'static,
{
    /// A memo keeping at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Memo {
            entries: Mutex::default(),
            settled: Mutex::default(),
            overdue: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// The value for `key` at `version` if it is ready by `deadline`; past it,
    /// the newest value of an older version (with that version) when there is
    /// one, while the computation goes on for the next caller. Once one caller
    /// has been answered the older value, the next ones get it at once until
    /// the computation ends: the patience is spent once per version, not by
    /// every visitor (at 10M quads each view of the timeline waited 3 s during
    /// its minute-long scan). Without an older value, waits like [`Memo::get`].
    /// Returns the value and its version.
    pub async fn get_or_previous<F, Fut>(
        &self,
        key: K,
        version: u64,
        deadline: tokio::time::Instant,
        compute: F,
    ) -> Result<(Arc<T>, u64), AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>> + Send + 'static,
    {
        self.get_or_older(key, version, deadline, compute, || async { Ok(None) }).await
    }

    /// Like [`Memo::get_or_previous`], where `key` has no older value yet (a
    /// VoID description for a host or format first asked after a write): past
    /// the deadline, `older` may make one from what older versions left
    /// elsewhere (their statistics), with its version; it is then kept as the
    /// key's older value.
    pub async fn get_or_older<F, Fut, O, OFut>(
        &self,
        key: K,
        version: u64,
        deadline: tokio::time::Instant,
        compute: F,
        older: O,
    ) -> Result<(Arc<T>, u64), AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>> + Send + 'static,
        O: FnOnce() -> OFut,
        OFut: Future<Output = Result<Option<(u64, T)>, AppError>>,
    {
        let previous = lock(&self.settled).get(&key).filter(|(at, _)| *at < version).cloned();
        let overdue = lock(&self.overdue).get(&key).is_some_and(|at| *at == version);
        let mut fresh = std::pin::pin!(self.get(key.clone(), version, compute));
        let previous = match previous {
            Some(previous) => Some(previous),
            None => match ready_by(deadline, fresh.as_mut()).await {
                Some(result) => return Ok((self.keep(key, version, result?), version)),
                None => match older().await? {
                    Some((at, value)) if at < version => Some((at, self.keep(key.clone(), at, Arc::new(value)))),
                    _ => None,
                },
            },
        };
        let value = match previous {
            None => fresh.await?,
            Some((at, value)) => {
                // Once a caller stopped waiting, the rest only look.
                let ready = if overdue { fresh.now_or_never() } else { ready_by(deadline, fresh).await };
                match ready {
                    Some(result) => result?,
                    None => {
                        {
                            let mut overdue = lock(&self.overdue);
                            if overdue.len() >= self.capacity {
                                overdue.clear();
                            }
                            overdue.insert(key.clone(), version);
                        }
                        // A computation that ended meanwhile may have left a newer one.
                        let newest = lock(&self.settled).get(&key).filter(|(kept, _)| *kept > at).cloned();
                        let (value, at) = newest.map_or((value, at), |(kept, newer)| (newer, kept));
                        return Ok((value, at));
                    }
                }
            }
        };
        Ok((self.keep(key, version, value), version))
    }

    /// Keeps `value` as `key`'s value at `version` for [`Memo::get_or_previous`]
    /// (unless a newer one is kept), and returns it. Kept only for the callers
    /// that may need it (brought up to date by `get`): `get` alone keeps no
    /// older values alive (rendered pages of past versions are dropped).
    pub fn keep(&self, key: K, version: u64, value: Arc<T>) -> Arc<T> {
        let mut settled = lock(&self.settled);
        if settled.get(&key).is_none_or(|(at, _)| *at < version) {
            if settled.len() >= self.capacity {
                settled.clear();
            }
            settled.insert(key, (version, value.clone()));
        }
        value
    }

    /// The newest value kept for `key` (by [`Memo::get_or_previous`] or
    /// [`Memo::keep`]) of a version before `version`, with its version.
    pub fn kept_before(&self, key: &K, version: u64) -> Option<(u64, Arc<T>)> {
        lock(&self.settled).get(key).filter(|(at, _)| *at < version).cloned()
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
                                Err(e) => Err(AppError::internal(format!("a shared computation failed: {e}"))),
                            }
                        }
                        .boxed()
                        .shared();
                        entries.insert(key.clone(), Entry { version: newest, wanted: newest, flight: flight.clone() });
                        break flight;
                    }
                }
            };
            // An older version is being computed: its value is the newest
            // there is for now (a page that may answer an older version
            // answers this one); then the next computation is ours.
            if let Ok(value) = running.await {
                self.settle_if_kept(&key, older, value);
            }
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

    /// Records `value` as the newest older value of `key`, where one is kept
    /// (for the callers of [`Memo::get_or_previous`]) and this one is newer.
    fn settle_if_kept(&self, key: &K, version: u64, value: Arc<T>) {
        let mut settled = lock(&self.settled);
        if let Some(kept) = settled.get_mut(key).filter(|(at, _)| *at < version) {
            *kept = (version, value);
        }
    }
}

/// A computation of one key: the version it is for, the newest version asked
/// while it ran (the next computation is for that one), and its shared outcome.
struct Entry<T> {
    version: u64,
    wanted: u64,
    flight: Flight<T>,
}

/// `computation`'s outcome if it is ready by `deadline`. A deadline already
/// past polls it exactly once: a value ready now is taken. (A timer set in
/// the past fires only at the timer's next tick, up to a millisecond on, and a
/// quick computation could win that race.)
async fn ready_by<Fut: Future>(deadline: tokio::time::Instant, computation: Fut) -> Option<Fut::Output> {
    if deadline <= tokio::time::Instant::now() {
        computation.now_or_never()
    } else {
        tokio::time::timeout_at(deadline, computation).await.ok()
    }
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

    /// No patience (`--summary-patience-ms 0`) means the previous value unless
    /// the new one is ready at the first look, however quickly it follows: a
    /// timer set in the past let a computation of a few microseconds win (the
    /// timeline test failed so, now and then, on a loaded machine).
    #[tokio::test]
    async fn a_deadline_already_past_answers_the_previous_value_even_when_the_new_one_is_quick() {
        let memo: Memo<(), u64> = Memo::default();
        let now = tokio::time::Instant::now;
        assert_eq!(memo.get_or_previous((), 1, now(), || async { Ok(10) }).await.unwrap(), (Arc::new(10), 1));
        for _ in 0..3 {
            let answer = memo.get_or_previous((), 2, now(), || async { Ok(20) }).await.unwrap();
            assert_eq!(answer, (Arc::new(10), 1), "no patience: the previous value");
        }
        let never = || async { Err(AppError::internal("computed twice")) };
        assert_eq!(*memo.get((), 2, never).await.unwrap(), 20, "the new value was computed meanwhile, once");
    }

    /// A key first asked after a write (VoID for a new host) has no older
    /// value of its own: past the deadline it is made from what is older
    /// elsewhere, kept for the next callers, and the new value still follows.
    #[tokio::test]
    async fn a_key_with_nothing_older_is_made_from_older_inputs_past_the_deadline() {
        use tokio::time::{Duration, Instant};
        let memo: Memo<&str, u64> = Memo::default();
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(20)
        };
        let from_version_1 = || async { Ok(Some((1, 10))) };
        let answer = memo.get_or_older("new host", 2, Instant::now(), slow, from_version_1).await.unwrap();
        assert_eq!(answer, (Arc::new(10), 1), "past the deadline, made from version 1's inputs");
        let never = || async { Err(AppError::internal("computed twice")) };
        let not_again = || async { Err(AppError::internal("made twice")) };
        let later = Instant::now() + Duration::from_secs(5);
        let answer = memo.get_or_older("new host", 2, later, never, not_again).await.unwrap();
        assert_eq!(answer, (Arc::new(10), 1), "the next caller gets it at once");
        // Past the computation's end (a sleep of the same length may wake first).
        tokio::time::sleep(Duration::from_millis(450)).await;
        let answer = memo.get_or_older("new host", 2, later, never, not_again).await.unwrap();
        assert_eq!(answer, (Arc::new(20), 2), "the new value was computed meanwhile, once");
        let nothing = || async { Ok(None) };
        let answer = memo.get_or_older("other host", 3, Instant::now(), slow, nothing).await.unwrap();
        assert_eq!(answer, (Arc::new(20), 3), "nothing older anywhere: waits");
        assert_eq!(memo.kept_before(&"other host", 4), Some((3, Arc::new(20))));
    }

    #[tokio::test]
    async fn a_slow_new_version_answers_the_previous_one_meanwhile() {
        use tokio::time::{Duration, Instant};
        let memo: Memo<(), u64> = Memo::default();
        let soon = || Instant::now() + Duration::from_millis(50);
        assert_eq!(memo.get_or_previous((), 1, soon(), || async { Ok(10) }).await.unwrap(), (Arc::new(10), 1));
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(20)
        };
        assert_eq!(
            memo.get_or_previous((), 2, soon(), slow).await.unwrap(),
            (Arc::new(10), 1),
            "past the deadline, the value of version 1"
        );
        let later = Instant::now() + Duration::from_secs(5);
        let never = || async { Err(AppError::internal("computed twice")) };
        let asked = Instant::now();
        assert_eq!(
            memo.get_or_previous((), 2, later, never).await.unwrap(),
            (Arc::new(10), 1),
            "one caller stopped waiting: the next gets the older value at once"
        );
        assert!(asked.elapsed() < Duration::from_millis(100), "waited {:?}", asked.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            memo.get_or_previous((), 2, later, never).await.unwrap(),
            (Arc::new(20), 2),
            "the computation went on, once"
        );
        let fresh: Memo<(), u64> = Memo::default();
        assert_eq!(
            fresh.get_or_previous((), 3, soon(), slow).await.unwrap(),
            (Arc::new(20), 3),
            "nothing older: waits"
        );
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
    async fn an_older_value_computed_meanwhile_is_the_one_answered() {
        use tokio::time::{Duration, Instant};
        let memo: Arc<Memo<(), u64>> = Arc::default();
        let soon = || Instant::now() + Duration::from_millis(30);
        memo.get_or_previous((), 1, soon(), || async { Ok(10) }).await.unwrap();
        let slow = |value: u64| {
            move || async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(value)
            }
        };
        // Version 2 is computed in the background; nobody waits for its end.
        assert_eq!(memo.get_or_previous((), 2, soon(), slow(20)).await.unwrap(), (Arc::new(10), 1));
        // Version 3 is asked while 2 still runs: it waits for 2, then computes 3.
        let answer = memo.get_or_previous((), 3, Instant::now() + Duration::from_millis(150), slow(30)).await.unwrap();
        assert_eq!(answer, (Arc::new(20), 2), "past the patience, the newest older value: version 2's");
    }

    #[tokio::test]
    async fn failures_are_not_kept() {
        let memo: Memo<(), u8> = Memo::default();
        assert!(memo.get((), 1, || async { Err(AppError::BadRequest("no".into())) }).await.is_err());
        assert_eq!(*memo.get((), 1, || async { Ok(7) }).await.unwrap(), 7);
    }
}
