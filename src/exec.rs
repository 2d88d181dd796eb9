//! Where recursive work runs: a pool of threads whose stacks are large enough
//! for the deepest text the depth limit accepts.
//!
//! Oxigraph's SPARQL parser, optimizer and evaluator are synchronous and recurse
//! once per level of the query's structure. On a runtime worker (2 MiB of stack)
//! 500 nested groups abort the whole process. So every parse and evaluation of
//! SPARQL runs here: a dedicated blocking pool (tokio's, from a runtime of our
//! own) whose threads get [`STACK_BYTES`] of stack. The stack is reserved
//! address space; only the pages a deep query really touches are ever used.
//!
//! The pre-scan in [`crate::sparql::depth`] refuses text deeper than
//! [`crate::sparql::depth::DEFAULT_MAX_DEPTH`]; the tests parse and evaluate text
//! at exactly that depth on this pool (debug build, the largest frames), which
//! is what ties the two numbers together.

use std::sync::OnceLock;

/// Stack of each pool thread: enough for the accepted depth in a debug build,
/// with room to spare (measured in `tests/integration/hardening.rs`).
pub const STACK_BYTES: usize = 256 * 1024 * 1024;

/// Most threads the pool starts; admission control keeps the busy count far lower.
const MAX_THREADS: usize = 512;

fn pool() -> &'static tokio::runtime::Runtime {
    static POOL: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    POOL.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(MAX_THREADS)
            .thread_stack_size(STACK_BYTES)
            .thread_name("treaty-kg-eval")
            .enable_all()
            .build()
            .expect("the evaluation thread pool starts")
    })
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
/// caller's runtime. The current tracing span (the request's) goes along, so
/// what the work logs carries the request id.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, TaskFailed> {
    let span = tracing::Span::current();
    pool().spawn_blocking(move || span.in_scope(work)).await.map_err(|e| TaskFailed(e.to_string()))
}

/// Starts `work` on the deep-stack pool without waiting for it (streamed answers).
pub fn spawn(work: impl FnOnce() + Send + 'static) {
    let span = tracing::Span::current();
    drop(pool().spawn_blocking(move || span.in_scope(work)));
}

/// Runs `work` on the deep-stack pool from synchronous code (start-up, the
/// command line, the saved-query reloader) and waits for it. Never call it
/// from an async task: it blocks the calling thread.
pub fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, TaskFailed> {
    let (tx, rx) = std::sync::mpsc::channel();
    let span = tracing::Span::current();
    drop(pool().spawn_blocking(move || {
        let _ = tx.send(span.in_scope(work));
    }));
    rx.recv().map_err(|_| TaskFailed("the task ended without an answer (it panicked)".into()))
}
