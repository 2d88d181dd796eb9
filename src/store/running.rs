//! The work being done now, for listing and cancelling, and the one watcher
//! thread that enforces deadlines and moves long work to the heavy lane.
//!
//! Every evaluation, page read, dump and write is registered here for as long
//! as it runs: its [`RunningGuard`] lives inside the blocking task and owns the
//! admission [`Ticket`], so the slot is held by the work itself, until its last
//! byte is written, and not by the request's future (which a timeout or a
//! client hang-up drops while the work goes on).
//!
//! Deadlines are kept by one watcher thread rather than a timer task per query:
//! it sleeps until the earliest instant it must act on and is woken only when
//! work with an earlier one arrives.

use super::admission::{Lane, Ticket};
use super::error::StoreError;
use oxigraph::sparql::CancellationToken;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

const NOT_CANCELLED: u8 = 0;
const TIMED_OUT: u8 = 1;
const BY_OPERATOR: u8 = 2;
const SHED: u8 = 3;

/// The registry of running work.
pub struct RunningQueries {
    next_id: AtomicU64,
    shared: Arc<(Mutex<Registry>, Condvar)>,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<u64, RunningEntry>,
    /// When the watcher will next look (`None`: it waits for work).
    next_wake: Option<Instant>,
    /// The registry is gone: the watcher ends.
    closed: bool,
}

struct RunningEntry {
    kind: &'static str,
    label: String,
    started_at: SystemTime,
    started: Instant,
    deadline: Instant,
    token: CancellationToken,
    reason: Arc<AtomicU8>,
    ticket: Ticket,
}

impl RunningEntry {
    /// The next instant the watcher must act on for this entry.
    fn next_instant(&self) -> Instant {
        match self.ticket.heavy_at() {
            Some(heavy) if heavy < self.deadline => heavy,
            _ => self.deadline,
        }
    }
}

/// A snapshot of one running piece of work, for the operations API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunningInfo {
    pub id: u64,
    pub kind: &'static str,
    pub lane: &'static str,
    pub query: String,
    pub started_unix_ms: u128,
    pub elapsed_ms: u128,
}

impl Default for RunningQueries {
    fn default() -> Self {
        let shared = Arc::new((Mutex::new(Registry::default()), Condvar::new()));
        let watched = shared.clone();
        std::thread::Builder::new()
            .name("query-deadlines".into())
            .spawn(move || watch(&watched))
            .expect("the deadline watcher thread starts");
        RunningQueries { next_id: AtomicU64::new(0), shared }
    }
}

impl Drop for RunningQueries {
    fn drop(&mut self) {
        let (registry, wake) = &*self.shared;
        if let Ok(mut registry) = registry.lock() {
            registry.closed = true;
        }
        wake.notify_one();
    }
}

/// How often work that ran long but found the heavy lane full is looked at
/// again: moved when a heavy slot is free, shed when a lighter request waits.
const OVERDUE_RECHECK: Duration = Duration::from_millis(50);

/// Cancels work past its deadline, moves work running long to the heavy lane,
/// then sleeps until the next instant. Long work that finds the heavy lane full
/// runs on in its lane, and is cancelled (503) only when lighter requests wait
/// for that lane's slots: as many as wait, the most recently started first (the
/// least work lost). Shedding it at once threw away seconds of work whenever a
/// few clients asked the same long query together, with nobody waiting for it.
fn watch(shared: &(Mutex<Registry>, Condvar)) {
    let (registry, wake) = shared;
    let Ok(mut guard) = registry.lock() else { return };
    loop {
        if guard.closed {
            return;
        }
        let now = Instant::now();
        let mut pass = Pass::default();
        for (id, entry) in guard.entries.iter_mut() {
            pass.look_at(*id, entry, now);
        }
        pass.shed(&guard);
        let next = pass.next;
        guard.next_wake = next;
        guard = match next {
            Some(at) => match wake.wait_timeout(guard, at.saturating_duration_since(now)) {
                Ok((guard, _)) => guard,
                Err(_) => return,
            },
            None => match wake.wait(guard) {
                Ok(guard) => guard,
                Err(_) => return,
            },
        };
    }
}

/// One look at the running work.
#[derive(Default)]
struct Pass {
    /// When to look again.
    next: Option<Instant>,
    /// Work due to move that could not: (started, id, lane).
    overdue: Vec<(Instant, u64, Lane)>,
    /// Slots being given up, by lane: cancelled work holds its slot until it
    /// stops, and already makes room for one waiter.
    freeing: HashMap<Lane, usize>,
    /// Lighter waiters, counted once per lane per pass.
    lighter: HashMap<Lane, usize>,
}

impl Pass {
    /// Cancels `entry` past its deadline, moves it to the heavy lane when it
    /// is due to, or notes it overdue when that lane is full.
    fn look_at(&mut self, id: u64, entry: &mut RunningEntry, now: Instant) {
        if entry.reason.load(Ordering::SeqCst) != NOT_CANCELLED {
            *self.freeing.entry(entry.ticket.lane()).or_default() += 1;
            return;
        }
        if entry.deadline <= now {
            entry.ticket.remember_elapsed();
            cancel(entry, TIMED_OUT);
            *self.freeing.entry(entry.ticket.lane()).or_default() += 1;
            return;
        }
        let due = entry.ticket.heavy_at().is_some_and(|at| at <= now);
        if due {
            entry.ticket.remember_elapsed();
        }
        let at = if due && !entry.ticket.move_to_heavy() {
            let lane = entry.ticket.lane();
            self.lighter.entry(lane).or_insert_with(|| entry.ticket.lighter_waiting());
            self.overdue.push((entry.started, id, lane));
            (now + OVERDUE_RECHECK).min(entry.deadline)
        } else {
            entry.next_instant()
        };
        self.next = Some(self.next.map_or(at, |n| n.min(at)));
    }

    /// Sheds overdue work, the most recently started first, as long as more
    /// lighter requests wait in its lane than slots are being freed.
    fn shed(&mut self, registry: &Registry) {
        self.overdue.sort_by_key(|o| std::cmp::Reverse(o.0));
        for (_, id, lane) in std::mem::take(&mut self.overdue) {
            let freed = self.freeing.entry(lane).or_default();
            if *freed < self.lighter[&lane] {
                *freed += 1;
                if let Some(entry) = registry.entries.get(&id) {
                    tracing::warn!(
                        kind = entry.kind,
                        "long-running work shed: the heavy lane is full and lighter work waits"
                    );
                    cancel(entry, SHED);
                }
            }
        }
    }
}

fn cancel(entry: &RunningEntry, why: u8) {
    if entry.reason.compare_exchange(NOT_CANCELLED, why, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
        entry.token.cancel();
    }
}

impl RunningQueries {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.shared.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers work holding `ticket`, with a deadline `timeout` from now.
    pub fn start(
        self: &Arc<Self>,
        kind: &'static str,
        mut label: String,
        timeout: Duration,
        ticket: Ticket,
    ) -> RunningGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let token = CancellationToken::new();
        let reason = Arc::new(AtomicU8::new(NOT_CANCELLED));
        let started = Instant::now();
        // Cut in place: the label is the query's own copy.
        label.truncate(first_chars(&label, 2000).len());
        let entry = RunningEntry {
            kind,
            label,
            started_at: SystemTime::now(),
            started,
            deadline: started + timeout,
            token: token.clone(),
            reason: reason.clone(),
            ticket,
        };
        let at = entry.next_instant();
        let mut registry = self.registry();
        registry.entries.insert(id, entry);
        if registry.next_wake.is_none_or(|wake| at < wake) {
            registry.next_wake = Some(at);
            self.shared.1.notify_one();
        }
        drop(registry);
        RunningGuard { id, registry: self.clone(), token, reason, timeout, engine_row_cap: Arc::default() }
    }

    /// The running work, oldest first.
    pub fn list(&self) -> Vec<RunningInfo> {
        let registry = self.registry();
        let mut list: Vec<RunningInfo> = registry
            .entries
            .iter()
            .map(|(id, e)| RunningInfo {
                id: *id,
                kind: e.kind,
                lane: e.ticket.lane().name(),
                query: e.label.clone(),
                started_unix_ms: e.started_at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis()),
                elapsed_ms: e.started.elapsed().as_millis(),
            })
            .collect();
        list.sort_by_key(|i| i.id);
        list
    }

    /// Cancels running work; false when nothing has this id.
    pub fn cancel(&self, id: u64) -> bool {
        match self.registry().entries.get(&id) {
            Some(entry) => {
                cancel(entry, BY_OPERATOR);
                true
            }
            None => false,
        }
    }

    /// How many pieces of work are registered now.
    pub fn len(&self) -> usize {
        self.registry().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The registration of one piece of running work; dropping it unregisters the
/// work and frees its admission slot.
pub struct RunningGuard {
    id: u64,
    registry: Arc<RunningQueries>,
    pub(crate) token: CancellationToken,
    reason: Arc<AtomicU8>,
    timeout: Duration,
    /// The row limit a remote engine applied to this work's answer, when it
    /// said it cut the answer there (Virtuoso's `X-SPARQL-MaxRows`); 0 if none.
    pub(crate) engine_row_cap: Arc<std::sync::atomic::AtomicUsize>,
}

impl RunningGuard {
    /// Why the work was cancelled, if it was.
    pub fn cancel_reason(&self) -> Option<StoreError> {
        match self.reason.load(Ordering::SeqCst) {
            TIMED_OUT => Some(StoreError::Timeout(self.timeout.as_secs())),
            BY_OPERATOR => Some(StoreError::Cancelled),
            SHED => Some(StoreError::overloaded("too many long-running evaluations; retry later")),
            _ => None,
        }
    }

    /// Fails with the cancellation's reason once the work is cancelled: loops
    /// that read the store call it every few items.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.token.is_cancelled() {
            return Err(self.cancel_reason().unwrap_or(StoreError::Cancelled));
        }
        Ok(())
    }

    /// An error the engine reported, with `Cancelled` resolved to its reason.
    pub fn resolve(&self, error: StoreError) -> StoreError {
        match error {
            StoreError::Cancelled => self.cancel_reason().unwrap_or(StoreError::Cancelled),
            other => self.cancel_reason().filter(|_| self.token.is_cancelled()).unwrap_or(other),
        }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        // The entry (and its ticket) is dropped outside the lock.
        let entry = self.registry.registry().entries.remove(&self.id);
        drop(entry);
    }
}

/// The first `n` characters of `text` (a slice: no character-by-character copy).
fn first_chars(text: &str, n: usize) -> &str {
    if text.len() <= n {
        // Never more characters than bytes.
        return text;
    }
    text.char_indices().nth(n).map_or(text, |(at, _)| &text[..at])
}

#[cfg(test)]
mod tests {
    use super::first_chars;

    #[test]
    fn first_chars_counts_characters_not_bytes() {
        assert_eq!(first_chars("abc", 2), "ab");
        assert_eq!(first_chars("abc", 3), "abc");
        assert_eq!(first_chars("Siliņa", 5), "Siliņ");
        assert_eq!(first_chars("ņņņ", 2), "ņņ");
        assert_eq!(first_chars("", 2), "");
    }
}
