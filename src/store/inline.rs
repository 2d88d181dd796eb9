//! Small queries evaluated on the thread that read the request.
//!
//! Handing a query to the evaluation pool and its answer back costs two thread
//! wake-ups and cold caches on both sides: for a point lookup that is a large
//! share of the request (BENCHMARKS.md, "The front end's tax"). So the embedded
//! store first tries a query on the runtime worker itself, within a budget:
//! [`TIME`] of evaluation and [`BYTES`] of answer. A query that finishes within
//! both is answered at once; one that does not is stopped and evaluated again
//! on the pool, as every query was before (reads are repeatable; what the
//! attempt did is lost, at most the budget).
//!
//! What keeps the four promises of the evaluation pool:
//! - **Stacks.** The runtime's workers get the pool's stack
//!   ([`crate::exec::STACK_BYTES`]); a thread that is not marked deep
//!   ([`crate::exec::on_deep_stack`]) never tries.
//! - **No waiting behind a long query.** The attempt's own token is cancelled
//!   by a watchdog when its time is up; the engine checks it at every store
//!   read, the checkpoints at every joined or filtered row, and the answer's
//!   writer at every write. A worker is held for about [`TIME`]. A query whose
//!   last run took longer is not tried, nor one that calls `SERVICE`
//!   ([`may_try`]).
//! - **Deadlines and cancellation** still come from the guard: the attempt
//!   stops when its token is cancelled, and the pool then answers with the
//!   cancellation's reason.
//! - **Streaming.** An answer longer than [`BYTES`] is never kept: the pool
//!   streams it.

use oxigraph::sparql::CancellationToken;
use spargebra::algebra::GraphPattern;
use spargebra::Query;
use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an attempt may evaluate.
pub const TIME: Duration = Duration::from_millis(2);
/// How much answer an attempt may write (the pool's first chunk).
pub const BYTES: usize = 64 * 1024;

/// Attempts since start: answered within the budget, and given way to the pool.
static ANSWERED: AtomicU64 = AtomicU64::new(0);
static GAVE_WAY: AtomicU64 = AtomicU64::new(0);

/// How many attempts were answered on the request's thread, and how many gave
/// way to the pool, since start (the whole process: `/metrics`).
pub fn counts() -> (u64, u64) {
    (ANSWERED.load(Ordering::Relaxed), GAVE_WAY.load(Ordering::Relaxed))
}

/// Counts an attempt's outcome.
pub fn record(answered: bool) {
    let counter = if answered { &ANSWERED } else { &GAVE_WAY };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// How many checks of an attempt pass between two readings of the clock.
///
/// The watchdog cancels an attempt's token when its time is up, so a check is
/// an atomic load. The clock is read as well, but only this seldom, for the
/// case where the watchdog could not start: it was every check, and on a point
/// lookup, whose JSON writer makes a check at every small write, reading the
/// clock was 12 % of the request (BENCHMARKS.md, "Where a small query's time
/// went, found by a bare server").
const CHECKS_PER_CLOCK: u32 = 256;

/// An attempt running on a thread: its token, when its time is up, and the
/// checks made since the clock was last read.
struct Attempt {
    token: CancellationToken,
    until: Instant,
    checks: u32,
}

thread_local! {
    /// The attempt running on this thread.
    static ATTEMPT: RefCell<Option<Attempt>> = const { RefCell::new(None) };
}

/// The token of the attempt on this thread, if one runs.
pub fn token() -> Option<CancellationToken> {
    ATTEMPT.with(|a| a.borrow().as_ref().map(|a| a.token.clone()))
}

/// Whether an attempt runs on this thread and its time is up (or it was cancelled).
pub fn spent() -> bool {
    ATTEMPT.with(|a| {
        a.borrow_mut().as_mut().is_some_and(|a| {
            if a.token.is_cancelled() {
                return true;
            }
            a.checks += 1;
            if a.checks < CHECKS_PER_CLOCK {
                return false;
            }
            a.checks = 0;
            Instant::now() >= a.until
        })
    })
}

/// Whether an attempt runs on this thread.
pub fn attempting() -> bool {
    ATTEMPT.with(|a| a.borrow().is_some())
}

/// Runs `work` as an attempt whose token is cancelled when `outer` is or when
/// [`TIME`] is up.
pub fn attempt<T>(outer: &CancellationToken, work: impl FnOnce() -> T) -> T {
    let token = CancellationToken::new();
    let until = Instant::now() + TIME;
    watchdog().watch(until, token.clone(), outer.clone());
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            ATTEMPT.with(|a| {
                if let Some(attempt) = a.borrow_mut().take() {
                    // Done: the watchdog forgets it at its next look.
                    attempt.token.cancel();
                }
            });
        }
    }
    ATTEMPT.with(|a| *a.borrow_mut() = Some(Attempt { token, until, checks: 0 }));
    let _clear = Clear;
    work()
}

/// One thread that cancels attempts whose time is up, or whose request was
/// cancelled. While attempts come it looks every millisecond (at most); once
/// none has come for [`LINGER`] it sleeps until one does. A wake-up per
/// attempt (a futex call, two context switches) was most of what a one-client
/// loop of `ASK {}` spent in the kernel beyond `oxigraph serve`.
struct Watchdog {
    watched: Mutex<Watched>,
    changed: Condvar,
}

#[derive(Default)]
struct Watched {
    /// Each attempt's end of time, its own token and its request's.
    attempts: Vec<(Instant, CancellationToken, CancellationToken)>,
    /// The watchdog waits to be told of an attempt.
    asleep: bool,
}

/// How long the watchdog goes on looking after the last attempt ended.
const LINGER: Duration = Duration::from_millis(20);

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let dog: &'static Watchdog =
            Box::leak(Box::new(Watchdog { watched: Mutex::new(Watched::default()), changed: Condvar::new() }));
        let started = std::thread::Builder::new().name("treaty-kg-inline-watchdog".into()).spawn(move || dog.run());
        if let Err(e) = started {
            // Without it, attempts still stop at their own checks of the time.
            tracing::error!(error = %e, "the inline watchdog did not start");
        }
        dog
    })
}

impl Watchdog {
    fn watch(&self, until: Instant, token: CancellationToken, outer: CancellationToken) {
        let mut watched = crate::memo::lock(&self.watched);
        watched.attempts.push((until, token, outer));
        let wake = std::mem::take(&mut watched.asleep);
        drop(watched);
        if wake {
            self.changed.notify_one();
        }
    }

    fn run(&self) {
        let mut watched = crate::memo::lock(&self.watched);
        let mut last_seen = Instant::now();
        loop {
            let now = Instant::now();
            watched.attempts.retain(|(until, token, outer)| {
                if token.is_cancelled() {
                    return false;
                }
                if *until <= now || outer.is_cancelled() {
                    token.cancel();
                    return false;
                }
                true
            });
            if !watched.attempts.is_empty() {
                last_seen = now;
            } else if now.duration_since(last_seen) >= LINGER {
                watched.asleep = true;
                watched =
                    self.changed.wait_while(watched, |w| w.asleep).unwrap_or_else(std::sync::PoisonError::into_inner);
                last_seen = Instant::now();
                continue;
            }
            // An outer cancellation is seen within a millisecond.
            let wait = watched.attempts.iter().map(|(until, _, _)| until.saturating_duration_since(now)).min();
            let wait = wait.map_or(Duration::from_millis(1), |w| w.min(Duration::from_millis(1)));
            watched = self.changed.wait_timeout(watched, wait).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
    }
}

/// Collects an attempt's answer, refusing to grow past [`BYTES`] or to go on
/// once the attempt's time is up (looked at once per [`CHECK_BYTES`] written:
/// the JSON writer writes each token on its own, and a look at every write was
/// 5 % of a point lookup).
pub struct BudgetWriter {
    pub bytes: Vec<u8>,
}

/// How much answer is written between two looks at the attempt's time.
const CHECK_BYTES: usize = 1024;
// The block test in `write_all` compares the bits above it.
const _: () = assert!(CHECK_BYTES.is_power_of_two());

impl Default for BudgetWriter {
    fn default() -> Self {
        // Most small answers fit: one allocation instead of a doubling series.
        BudgetWriter { bytes: Vec::with_capacity(4096) }
    }
}

impl BudgetWriter {
    /// The answer, in an allocation of its own size (an answer cache keeps it).
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.bytes.shrink_to_fit();
        self.bytes
    }

    /// A write that reaches the budget or crosses a [`CHECK_BYTES`] mark: the
    /// slow path, kept out of line so that the JSON writer's many small writes
    /// inline to a copy (a call per write was 3 % of a point lookup).
    #[cold]
    #[inline(never)]
    fn write_checked(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.bytes.len() + buf.len() > BYTES || spent() {
            return Err(io::Error::other("past the inline budget"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(())
    }
}

impl io::Write for BudgetWriter {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let before = self.bytes.len();
        let after = before + buf.len();
        // Past the budget, or into the next CHECK_BYTES block (the bits above
        // the block size differ).
        if after > BYTES || (before ^ after) >= CHECK_BYTES {
            return self.write_checked(buf);
        }
        self.bytes.extend_from_slice(buf);
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether `query` may be tried on the request's thread: anything but
/// `SERVICE`, which waits on another server. Everything else reads the store,
/// where the engine checks the attempt's token, or passes a checkpoint between
/// rows; what is computed in memory after the token is cancelled (a sort, a
/// grouping) is of the rows read before, within the budget.
pub fn may_try(query: &Query) -> bool {
    let pattern = match query {
        Query::Select { pattern, .. } | Query::Ask { pattern, .. } => pattern,
        Query::Construct { pattern, .. } | Query::Describe { pattern, .. } => pattern,
    };
    let mut service = false;
    crate::sparql::visit(pattern, &mut |p| service |= matches!(p, GraphPattern::Service { .. }));
    !service
}
