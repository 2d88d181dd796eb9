//! Admission control by expected cost: which work may start now, which waits,
//! and which is refused with 503 before queues make everyone wait.
//!
//! Work is admitted into one of six lanes, each with its own slots and its own
//! bounded queue, so one kind of work cannot starve another:
//! - **fast**: reads whose last run of the same key took under `fast_below`
//!   (a point lookup, a cached-page refresh);
//! - **normal**: reads never seen before, or of middling cost;
//! - **heavy**: reads whose last run took `heavy_after` or more, and reads that
//!   have been running that long (they are moved here while they run; when the
//!   heavy lane is full they run on where they are, and are cancelled with 503
//!   only when a lighter request waits for their slot);
//! - **bulk**: dumps and whole-store reads, long by nature and few at a time;
//! - **write**: updates and Graph Store writes (authenticated);
//! - **background**: the server's own reads (the search index, the summaries'
//!   scans, the start-up count: work inside `exec::background`). At most four
//!   run at once by construction, so they never wait; their lane keeps them
//!   out of the slots visitors wait for, and they are never moved or shed.
//!
//! A client hammering an expensive query or page therefore only competes with
//! itself once its cost is known, and cheap requests keep a lane of their own.
//! A request that waited in the fast or normal lane while its key turned out
//! heavy goes on to wait in the heavy lane when its turn comes.
//! The cost of each key (a hash of the query text and dataset, a page's route,
//! a saved query and its bindings) is remembered in a bounded LRU.

use super::error::StoreError;
use crate::memo::lock;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What kind of work asks for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkClass {
    /// Queries, pages, saved queries: the lane follows the remembered cost.
    Read,
    /// Dumps and whole-store reads.
    Bulk,
    /// Updates and Graph Store writes.
    Write,
    /// The server's own reads, started inside `exec::background`.
    Background,
}

/// A lane of admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    Fast,
    Normal,
    Heavy,
    Bulk,
    Write,
    Background,
}

impl Lane {
    const ALL: [Lane; 6] = [Lane::Fast, Lane::Normal, Lane::Heavy, Lane::Bulk, Lane::Write, Lane::Background];

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Lane::Fast => "fast",
            Lane::Normal => "normal",
            Lane::Heavy => "heavy",
            Lane::Bulk => "bulk",
            Lane::Write => "write",
            Lane::Background => "background",
        }
    }
}

/// The sizes of the lanes and the cost thresholds.
#[derive(Debug, Clone)]
pub struct AdmissionOptions {
    /// Slots of the normal lane (`--max-concurrent-queries`); the fast lane has
    /// as many, the heavy lane half as many (at least one).
    pub max_concurrent: usize,
    /// Requests allowed to wait in each lane; more are refused at once.
    pub max_queued: usize,
    /// How long a request waits for a slot before it is refused.
    pub queue_timeout: Duration,
    /// A read whose last run took less than this is admitted to the fast lane.
    pub fast_below: Duration,
    /// A read that ran (or runs) this long belongs to the heavy lane.
    pub heavy_after: Duration,
}

struct LaneState {
    slots: Arc<Semaphore>,
    /// The keys of the requests waiting (`None`: work without a key).
    waiting: Mutex<Vec<Option<u64>>>,
}

/// The lanes, their queues and the remembered costs. Shared by the store.
pub struct Admission {
    lanes: Vec<LaneState>,
    options: AdmissionOptions,
    costs: Mutex<lru::LruCache<u64, Duration>>,
}

impl Admission {
    pub fn new(options: AdmissionOptions) -> Self {
        let normal = options.max_concurrent.max(1);
        let capacity = |lane: Lane| match lane {
            Lane::Fast | Lane::Normal => normal,
            Lane::Heavy => (normal / 2).max(1),
            Lane::Bulk | Lane::Write => 2,
            // Never waits: at most four run at once by construction (one gated
            // summary scan, the ontology's terms, one search build or update, the
            // start-up count), and waiting would be cut at the queue timeout.
            Lane::Background => 8,
        };
        Admission {
            lanes: Lane::ALL
                .iter()
                .map(|&lane| LaneState { slots: Arc::new(Semaphore::new(capacity(lane))), waiting: Mutex::default() })
                .collect(),
            options,
            costs: Mutex::new(lru::LruCache::new(NonZeroUsize::new(4096).expect("non-zero"))),
        }
    }

    /// The lane for work of `class` identified by `key`.
    pub fn lane_for(&self, class: WorkClass, key: Option<u64>) -> Lane {
        let remembered = match class {
            WorkClass::Read => key.and_then(|k| self.remembered(k)),
            _ => None,
        };
        self.lane_by_cost(class, remembered)
    }

    /// The lane for work of `class` whose last run took `remembered` (looked
    /// up once by the caller, which needs it too).
    pub fn lane_by_cost(&self, class: WorkClass, remembered: Option<Duration>) -> Lane {
        match class {
            WorkClass::Bulk => Lane::Bulk,
            WorkClass::Write => Lane::Write,
            WorkClass::Background => Lane::Background,
            WorkClass::Read => match remembered {
                Some(cost) if cost < self.options.fast_below => Lane::Fast,
                Some(cost) if cost >= self.options.heavy_after => Lane::Heavy,
                _ => Lane::Normal,
            },
        }
    }

    /// Waits for a slot in `lane`: at once when one is free, otherwise in the
    /// lane's bounded queue for at most `queue_timeout`; refused past either.
    /// A read that waited in the fast or normal lane while its key became known
    /// as heavy waits on in the heavy lane instead.
    pub async fn admit(self: &Arc<Self>, lane: Lane, key: Option<u64>) -> Result<Ticket, StoreError> {
        let mut lane = lane;
        let permit = loop {
            let state = &self.lanes[lane.index()];
            if let Ok(permit) = state.slots.clone().try_acquire_owned() {
                break permit;
            }
            let permit = self.wait(state, key).await?;
            if matches!(lane, Lane::Fast | Lane::Normal) && self.lane_for(WorkClass::Read, key) == Lane::Heavy {
                lane = Lane::Heavy;
                continue;
            }
            break permit;
        };
        Ok(Ticket { admission: self.clone(), lane, permit: Some(permit), key, started: Instant::now() })
    }

    /// Waits in `state`'s queue, counted (with its key) however the wait ends,
    /// including when the request's future is dropped (the client went away).
    async fn wait(&self, state: &LaneState, key: Option<u64>) -> Result<OwnedSemaphorePermit, StoreError> {
        struct Waiting<'a>(&'a LaneState, Option<u64>);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                let mut keys = lock(&self.0.waiting);
                if let Some(at) = keys.iter().position(|k| *k == self.1) {
                    keys.swap_remove(at);
                }
            }
        }
        let queued = {
            let mut keys = lock(&state.waiting);
            keys.push(key);
            keys.len() - 1
        };
        let _waiting = Waiting(state, key);
        if queued >= self.options.max_queued {
            return Err(StoreError::overloaded("too many requests are waiting; retry in a moment"));
        }
        match tokio::time::timeout(self.options.queue_timeout, state.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(StoreError::overloaded("no evaluation slot came free in time; retry in a moment")),
        }
    }

    /// How many requests wait in `lane` that are not known to be heavy: the
    /// ones long work in that lane must make room for.
    fn lighter_waiting(&self, lane: Lane) -> usize {
        let keys = lock(&self.lanes[lane.index()].waiting).clone();
        keys.into_iter().filter(|key| self.lane_for(WorkClass::Read, *key) != Lane::Heavy).count()
    }

    /// The cost remembered for `key`: how long its last run took.
    pub fn remembered(&self, key: u64) -> Option<Duration> {
        lock(&self.costs).get(&key).copied()
    }

    fn remember(&self, key: u64, cost: Duration) {
        lock(&self.costs).put(key, cost);
    }
}

/// The right to run: a slot in a lane, held by the work itself until it ends
/// (dropping the ticket frees the slot and remembers the cost).
pub struct Ticket {
    admission: Arc<Admission>,
    lane: Lane,
    permit: Option<OwnedSemaphorePermit>,
    key: Option<u64>,
    started: Instant,
}

impl Ticket {
    pub fn lane(&self) -> Lane {
        self.lane
    }

    /// When this ticket's work must move to the heavy lane, if it is in a lane
    /// that moves.
    pub fn heavy_at(&self) -> Option<Instant> {
        matches!(self.lane, Lane::Fast | Lane::Normal).then(|| self.started + self.admission.options.heavy_after)
    }

    /// Remembers the cost so far now, not only when the work ends: work that
    /// outlives its cancellation must not look cheap meanwhile.
    pub fn remember_elapsed(&self) {
        if let Some(key) = self.key {
            self.admission.remember(key, self.started.elapsed());
        }
    }

    /// How many lighter requests wait for a slot of this ticket's lane.
    pub fn lighter_waiting(&self) -> usize {
        self.admission.lighter_waiting(self.lane)
    }

    /// Moves running work to the heavy lane, freeing its slot for cheaper work.
    /// Fails when the heavy lane is full: the work then runs on where it is
    /// until a lighter request waits for its slot (see `running`).
    pub fn move_to_heavy(&mut self) -> bool {
        if !matches!(self.lane, Lane::Fast | Lane::Normal) {
            return true;
        }
        match self.admission.lanes[Lane::Heavy.index()].slots.clone().try_acquire_owned() {
            Ok(permit) => {
                self.permit = Some(permit);
                self.lane = Lane::Heavy;
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.permit.take();
        if let Some(key) = self.key {
            self.admission.remember(key, self.started.elapsed());
        }
    }
}

/// A stable key for remembered costs: a hash of what identifies the work.
pub fn cost_key(parts: impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(slots: usize) -> Arc<Admission> {
        Arc::new(Admission::new(AdmissionOptions {
            max_concurrent: slots,
            max_queued: 1,
            queue_timeout: Duration::from_millis(50),
            fast_below: Duration::from_millis(50),
            heavy_after: Duration::from_secs(1),
        }))
    }

    #[tokio::test]
    async fn costs_choose_the_lane() {
        let admission = admission(2);
        assert_eq!(admission.lane_for(WorkClass::Read, Some(1)), Lane::Normal);
        admission.remember(1, Duration::from_millis(1));
        admission.remember(2, Duration::from_secs(5));
        assert_eq!(admission.lane_for(WorkClass::Read, Some(1)), Lane::Fast);
        assert_eq!(admission.lane_for(WorkClass::Read, Some(2)), Lane::Heavy);
        assert_eq!(admission.lane_for(WorkClass::Bulk, Some(1)), Lane::Bulk);
    }

    #[tokio::test]
    async fn a_full_lane_queues_then_refuses_and_others_still_admit() {
        let admission = admission(1);
        let held = admission.admit(Lane::Normal, None).await.unwrap();
        // One may wait (and times out), the next is refused at once.
        let waiter = admission.admit(Lane::Normal, None);
        let refused = admission.admit(Lane::Normal, None);
        let (waited, refused) = tokio::join!(waiter, refused);
        assert!(matches!(waited, Err(StoreError::Overloaded { .. })));
        assert!(matches!(refused, Err(StoreError::Overloaded { .. })));
        assert!(admission.admit(Lane::Fast, None).await.is_ok(), "the fast lane is not blocked by the normal one");
        drop(held);
        assert!(admission.admit(Lane::Normal, None).await.is_ok());
    }

    #[tokio::test]
    async fn moving_to_the_heavy_lane_frees_the_slot_until_the_heavy_lane_is_full() {
        let admission = admission(2); // heavy lane: 1 slot
        let mut first = admission.admit(Lane::Normal, None).await.unwrap();
        let mut second = admission.admit(Lane::Normal, None).await.unwrap();
        assert!(first.move_to_heavy());
        assert_eq!(first.lane(), Lane::Heavy);
        assert!(!second.move_to_heavy(), "the heavy lane is full");
        assert!(admission.admit(Lane::Normal, None).await.is_ok(), "the moved ticket freed its normal slot");
    }

    #[tokio::test]
    async fn a_waiter_whose_key_turns_heavy_waits_on_in_the_heavy_lane() {
        let admission = Arc::new(Admission::new(AdmissionOptions {
            max_queued: 4,
            queue_timeout: Duration::from_secs(5),
            ..admission(2).options.clone()
        }));
        let first = admission.admit(Lane::Normal, Some(1)).await.unwrap();
        let _second = admission.admit(Lane::Normal, Some(2)).await.unwrap();
        let queued = admission.clone();
        let waiter = tokio::spawn(async move { queued.admit(Lane::Normal, Some(7)).await });
        while admission.lighter_waiting(Lane::Normal) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        admission.remember(7, Duration::from_secs(5));
        assert_eq!(admission.lighter_waiting(Lane::Normal), 0, "a waiter known as heavy is not lighter");
        drop(first);
        let ticket = waiter.await.unwrap().unwrap();
        assert_eq!(ticket.lane(), Lane::Heavy, "it took the heavy lane's slot, not the normal one it waited for");
        assert!(admission.admit(Lane::Normal, Some(3)).await.is_ok(), "the normal slot it waited for is free");
    }
}
