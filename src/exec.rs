//! Where recursive work runs: a pool of threads whose stacks are large enough
//! for the deepest text the depth limit accepts.
//!
//! Oxigraph's SPARQL parser, optimizer and evaluator are synchronous and recurse
//! once per level of the query's structure. On a runtime worker (2 MiB of stack)
//! 500 nested groups abort the whole process. So every parse and evaluation of
//! SPARQL runs on a thread with [`STACK_BYTES`] of stack: the server's runtime
//! workers ([`server_runtime`], for the small queries `store::inline` tries
//! there) and a pool of our own, which hands work to the most recently idle
//! thread. The stack is reserved address space; only the pages a deep query
//! really touches are ever used.
//!
//! Work the server gives itself (the search index's build, the dataset
//! summaries' whole-store scans, the start-up count) runs on a second pool of
//! the same kind whose threads run at a lower OS priority ([`BACKGROUND_NICE`]):
//! on a busy machine visitors' requests get the cores first, and the
//! background work still gets a share when it is alone. Work is sent there
//! when it is started inside [`background`].
//!
//! The pre-scan in [`crate::sparql::depth`] refuses text deeper than
//! [`crate::sparql::depth::DEFAULT_MAX_DEPTH`]; the tests parse and evaluate text
//! at exactly that depth on this pool (debug build, the largest frames), which
//! is what ties the two numbers together.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Stack of each pool thread: enough for the accepted depth in a debug build,
/// with room to spare (measured in `tests/integration/hardening.rs`).
pub const STACK_BYTES: usize = 256 * 1024 * 1024;

/// Most threads the pool starts; admission control keeps the busy count far lower.
const MAX_THREADS: usize = 512;

/// How much lower the background pool's threads run than the process (`nice`
/// steps: 0 is the default, 19 the lowest). At 10, a visitor's busy thread
/// sharing a core with a background one gets about nine times its CPU time:
/// background work slows down under load but is not starved.
pub const BACKGROUND_NICE: i32 = 10;

/// How long an idle thread waits for work before it ends.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

/// The threads. Work goes to the thread that became idle last: it is the one
/// whose caches (its stack, its allocator arena, RocksDB's per-thread state)
/// are still warm. tokio's blocking pool wakes the longest-idle thread instead,
/// so every request of a steady load ran on a different, cold thread.
struct Pool {
    state: Mutex<State>,
    /// The runtime whose context the threads enter: the remote backend drives
    /// its HTTP futures with its handle and timers.
    runtime: tokio::runtime::Runtime,
    keep_alive: Duration,
    /// The threads' name, and the `nice` each sets for itself when it starts.
    name: &'static str,
    nice: i32,
}

#[derive(Default)]
struct State {
    /// Idle threads, the most recently idle last.
    idle: Vec<Arc<Slot>>,
    /// Work waiting for a thread (only when `MAX_THREADS` are busy).
    queue: VecDeque<Job>,
    threads: usize,
}

/// Where an idle thread waits for its next job.
#[derive(Default)]
struct Slot {
    job: Mutex<Option<Job>>,
    ready: Condvar,
}

thread_local! {
    /// Set on threads whose stack is [`STACK_BYTES`]: the pool's, and the
    /// server's runtime workers ([`mark_deep_stack`]).
    static DEEP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread as one whose stack is [`STACK_BYTES`] deep (call
/// it where such a thread starts: `on_thread_start` of a runtime built with
/// that `thread_stack_size`).
pub fn mark_deep_stack() {
    DEEP.with(|d| d.set(true));
}

/// Whether the calling thread's stack is [`STACK_BYTES`] deep.
pub fn on_deep_stack() -> bool {
    DEEP.with(std::cell::Cell::get)
}

/// The runtime the server runs on: its workers get [`STACK_BYTES`] of stack
/// and are marked deep, so that a small query may be evaluated on the worker
/// that read it (`store::inline`). `workers`: how many (default: the cores).
pub fn server_runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder.enable_all().thread_stack_size(STACK_BYTES).on_thread_start(mark_deep_stack).build()
}

tokio::task_local! {
    /// Set while a future runs inside [`background`].
    static BACKGROUND: ();
}

/// Runs `work` so that the evaluations it starts go to the background pool
/// (lower OS priority). Tasks it spawns do not inherit this: wrap them too.
pub async fn background<F: std::future::Future>(work: F) -> F::Output {
    BACKGROUND.scope((), work).await
}

/// Whether the calling task runs inside [`background`].
pub fn in_background() -> bool {
    BACKGROUND.try_with(|_| ()).is_ok()
}

/// The pool for work started here: the background one inside [`background`].
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    static BACKGROUND_POOL: OnceLock<Pool> = OnceLock::new();
    if in_background() {
        BACKGROUND_POOL.get_or_init(|| Pool::new(KEEP_ALIVE, "treaty-kg-bg", BACKGROUND_NICE))
    } else {
        POOL.get_or_init(|| Pool::new(KEEP_ALIVE, "treaty-kg-eval", 0))
    }
}

/// Lowers the calling thread's OS priority by `by` steps of `nice` (at most to
/// 19), from whatever it inherited: a server started under `nice 5` gets its
/// background threads at 15. Linux only; elsewhere nothing. Only the calling
/// thread changes: Linux keeps a `nice` per thread, and threads it starts
/// later (tantivy's indexer) inherit it.
fn lower_priority(by: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id. `getpriority`
        // may return -1 as a value, so errno is cleared first and read after.
        let failed = unsafe {
            let tid = libc::gettid() as libc::id_t;
            *libc::__errno_location() = 0;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            *libc::__errno_location() != 0 || libc::setpriority(libc::PRIO_PROCESS, tid, (now + by).min(19)) != 0
        };
        if failed {
            tracing::warn!(error = %std::io::Error::last_os_error(), "a background thread keeps the normal priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = by;
}

impl Pool {
    fn new(keep_alive: Duration, name: &'static str, nice: i32) -> Self {
        Pool {
            state: Mutex::new(State::default()),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(format!("{name}-io"))
                .enable_all()
                .build()
                .expect("the evaluation pool's runtime starts"),
            keep_alive,
            name,
            nice,
        }
    }

    /// Hands `job` to the last idle thread, else to a new one, else queues it.
    fn submit(&'static self, job: Job) {
        let mut state = crate::memo::lock(&self.state);
        if let Some(slot) = state.idle.pop() {
            drop(state);
            *crate::memo::lock(&slot.job) = Some(job);
            slot.ready.notify_one();
        } else if state.threads < MAX_THREADS {
            state.threads += 1;
            drop(state);
            let started = std::thread::Builder::new()
                .name(self.name.into())
                .stack_size(STACK_BYTES)
                .spawn(move || self.work(job));
            if let Err(e) = started {
                // The job is dropped with the closure: its caller sees it lost.
                tracing::error!(error = %e, "an evaluation thread did not start");
                crate::memo::lock(&self.state).threads -= 1;
            }
        } else {
            state.queue.push_back(job);
        }
    }

    /// A thread's life: its first job, then queued work or jobs handed to it,
    /// until it has been idle for its keep-alive ([`KEEP_ALIVE`]).
    fn work(&'static self, first: Job) {
        mark_deep_stack();
        if self.nice != 0 {
            lower_priority(self.nice);
        }
        let _context = self.runtime.enter();
        let slot = Arc::new(Slot::default());
        let mut next = Some(first);
        while let Some(job) = next.take() {
            // A panic is the job's own failure (its caller sees its answer lost);
            // the thread goes on.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            next = self.next_job(&slot);
        }
    }

    fn next_job(&self, slot: &Arc<Slot>) -> Option<Job> {
        let mut state = crate::memo::lock(&self.state);
        if let Some(job) = state.queue.pop_front() {
            return Some(job);
        }
        state.idle.push(slot.clone());
        drop(state);
        let mut job = crate::memo::lock(&slot.job);
        loop {
            if let Some(job) = job.take() {
                return Some(job);
            }
            let (guard, waited) =
                slot.ready.wait_timeout(job, self.keep_alive).unwrap_or_else(std::sync::PoisonError::into_inner);
            job = guard;
            if waited.timed_out() && job.is_none() {
                let mut state = crate::memo::lock(&self.state);
                if let Some(at) = state.idle.iter().position(|s| Arc::ptr_eq(s, slot)) {
                    state.idle.remove(at);
                    state.threads -= 1;
                    return None;
                }
                // Taken off the idle list just now: its job is on the way.
            }
        }
    }
}

/// The work panicked or was lost: a bug, reported as such.
#[derive(Debug, thiserror::Error)]
#[error("a background task failed: {0}")]
pub struct TaskFailed(String);

impl TaskFailed {
    /// The task ended without sending its answer.
    pub fn lost() -> Self {
        TaskFailed("the task ended without an answer (it panicked)".into())
    }
}

/// Runs `work` on the deep-stack pool and waits for it without blocking the
/// caller's runtime. The request it works for goes along
/// ([`crate::log_line::current`]), so what the work logs carries the request id.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, TaskFailed> {
    let request = crate::log_line::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool().submit(Box::new(move || {
        let _ = tx.send(crate::log_line::on_thread(request, work));
    }));
    rx.await.map_err(|_| TaskFailed::lost())
}

/// Starts `work` on the deep-stack pool without waiting for it (streamed answers).
pub fn spawn(work: impl FnOnce() + Send + 'static) {
    let request = crate::log_line::current();
    pool().submit(Box::new(move || crate::log_line::on_thread(request, work)));
}

/// Runs `work` on the deep-stack pool from synchronous code (start-up, the
/// command line, the saved-query reloader) and waits for it. Never call it
/// from an async task: it blocks the calling thread.
pub fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, TaskFailed> {
    let (tx, rx) = std::sync::mpsc::channel();
    let request = crate::log_line::current();
    pool().submit(Box::new(move || {
        let _ = tx.send(crate::log_line::on_thread(request, work));
    }));
    rx.recv().map_err(|_| TaskFailed::lost())
}

/// Hands the memory the allocator holds free back to the system, after work
/// that allocated much and freed it (the first computations at start, a
/// search index build, a large write). glibc otherwise keeps it, and a first
/// start's resident memory was more than a third free memory (BENCHMARKS.md,
/// "Where the memory went").
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread::ThreadId;

    fn test_pool(keep_alive: Duration) -> &'static Pool {
        Box::leak(Box::new(Pool::new(keep_alive, "treaty-kg-test", 0)))
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < until, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn idle(pool: &Pool) -> usize {
        crate::memo::lock(&pool.state).idle.len()
    }

    /// Runs on `pool` a job that reports its thread, then waits until the returned
    /// sender sends (or is dropped).
    fn held(pool: &'static Pool) -> (mpsc::Receiver<ThreadId>, mpsc::Sender<()>) {
        let (id_tx, id_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        pool.submit(Box::new(move || {
            id_tx.send(std::thread::current().id()).unwrap();
            let _ = go_rx.recv();
        }));
        (id_rx, go_tx)
    }

    #[test]
    fn work_goes_to_the_thread_idle_the_shortest() {
        let pool = test_pool(Duration::from_secs(60));
        let jobs: Vec<_> = (0..3).map(|_| held(pool)).collect();
        let ids: Vec<ThreadId> = jobs.iter().map(|(ids, _)| ids.recv().unwrap()).collect();
        assert_eq!(crate::memo::lock(&pool.state).threads, 3);
        // Finish them in order: the last one finished is the warmest.
        for (n, (_, go)) in jobs.iter().enumerate() {
            go.send(()).unwrap();
            wait_until("the thread is idle", || idle(pool) == n + 1);
        }
        let (next, go) = held(pool);
        assert_eq!(next.recv().unwrap(), ids[2], "the most recently idle thread takes the next job");
        go.send(()).unwrap();
        wait_until("the thread is idle again", || idle(pool) == 3);
        assert_eq!(crate::memo::lock(&pool.state).threads, 3, "no thread was started for it");
    }

    #[test]
    fn idle_threads_end_after_their_keep_alive() {
        let pool = test_pool(Duration::from_millis(50));
        let (ids, go) = held(pool);
        ids.recv().unwrap();
        go.send(()).unwrap();
        wait_until("the thread ends", || crate::memo::lock(&pool.state).threads == 0);
        assert_eq!(idle(pool), 0);
        // And the pool starts a new one for the next job.
        let (ids, go) = held(pool);
        ids.recv().unwrap();
        go.send(()).unwrap();
    }

    #[test]
    fn a_panic_is_the_job_s_failure_and_the_pool_goes_on() {
        let failed = run_blocking(|| -> u8 { panic!("a job's own bug") });
        assert!(failed.is_err());
        assert_eq!(run_blocking(|| 7).unwrap(), 7);
    }

    /// The pool a job ran on, by its thread's name, and its `nice`.
    #[cfg(target_os = "linux")]
    fn where_it_runs() -> (String, i32) {
        // SAFETY: reads the calling thread's own priority.
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        (std::thread::current().name().unwrap_or_default().to_owned(), nice)
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn work_started_in_the_background_runs_at_a_lower_priority() {
        let own = where_it_runs().1;
        let background = background(async { run(where_it_runs).await.unwrap() }).await;
        assert_eq!(background, ("treaty-kg-bg".to_owned(), (own + BACKGROUND_NICE).min(19)));
        // Spawned streams too, and nothing leaks out of the scope.
        let (tx, rx) = tokio::sync::oneshot::channel();
        super::background(async move { spawn(move || tx.send(where_it_runs()).unwrap()) }).await;
        assert_eq!(rx.await.unwrap().0, "treaty-kg-bg");
        assert_eq!(run(where_it_runs).await.unwrap(), ("treaty-kg-eval".to_owned(), own));
    }

    #[tokio::test]
    async fn threads_can_use_the_pool_s_runtime() {
        // The remote backend drives HTTP futures from pool threads with the current handle.
        let slept = run(|| {
            tokio::runtime::Handle::current().block_on(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                "woke"
            })
        })
        .await
        .unwrap();
        assert_eq!(slept, "woke");
    }
}
