//! Where the log goes: lines are appended to a buffer in memory by the thread
//! that logs them, and written out in batches by one background thread.
//!
//! Writing each line from the request's thread (a `write(2)` per request) cost
//! more than a point lookup; handing each line to a writer thread through a
//! channel (`tracing_appender`'s non-blocking writer) woke that thread once per
//! request, 1.5 context switches per point lookup. Here the writer thread wakes
//! when the buffer stops being empty, waits [`INTERVAL`] for more lines, then
//! writes them all at once: at most a few wake-ups per interval, whatever the
//! request rate, and none when idle. Nothing is dropped: past [`MAX_PENDING`]
//! bytes waiting, the logging thread writes the batch itself (back-pressure).
//! Lines keep their order; the [`FlushGuard`] writes what is left on exit.

use crate::memo::lock;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How long the writer thread gathers lines before it writes them.
pub const INTERVAL: Duration = Duration::from_millis(50);

/// Most bytes waiting before the logging thread writes them itself.
pub const MAX_PENDING: usize = 4 << 20;

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// The destination; held while a batch is taken and written, so batches keep their order.
    out: Mutex<Box<dyn Write + Send>>,
    max_pending: usize,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
}

impl Shared {
    /// Writes everything waiting, in order.
    fn flush(&self) {
        let mut out = lock(&self.out);
        let batch = std::mem::take(&mut lock(&self.pending).bytes);
        if !batch.is_empty() {
            // A log that cannot be written has nowhere to say so.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
        }
    }
}

/// What the log subscriber writes to (`tracing_subscriber::fmt().with_writer`).
#[derive(Clone)]
pub struct BatchedWriter(Arc<Shared>);

/// Stops the writer thread and writes what is left when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A writer to `out`, batched every `interval`, and its guard.
pub fn batched(
    out: impl Write + Send + 'static,
    interval: Duration,
    max_pending: usize,
) -> (BatchedWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::default(),
        wake: Condvar::new(),
        out: Mutex::new(Box::new(out)),
        max_pending,
    });
    let background = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || loop {
            let mut pending = lock(&background.pending);
            while pending.bytes.is_empty() && !pending.closed {
                pending = background.wake.wait(pending).unwrap_or_else(PoisonError::into_inner);
            }
            let closed = pending.closed;
            drop(pending);
            if !closed {
                std::thread::sleep(interval);
            }
            background.flush();
            if closed {
                return;
            }
        })
        .ok();
    (BatchedWriter(shared.clone()), FlushGuard { shared, thread })
}

impl Write for BatchedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl BatchedWriter {
    /// Appends `buf` to the batch (what `write` does, through a shared reference).
    pub fn append(&self, buf: &[u8]) {
        let mut pending = lock(&self.0.pending);
        let was_empty = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(buf);
        let full = pending.bytes.len() >= self.0.max_pending;
        drop(pending);
        if full {
            self.0.flush();
        } else if was_empty {
            self.0.wake.notify_one();
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter {
    type Writer = BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        lock(&self.shared.pending).closed = true;
        self.shared.wake.notify_one();
        match self.thread.take() {
            Some(thread) => {
                let _ = thread.join();
            }
            None => self.shared.flush(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A destination the test can read back (the log's format's tests too).
    #[derive(Clone, Default)]
    pub(crate) struct Sink(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    pub(crate) fn text(sink: &Sink) -> String {
        String::from_utf8(lock(&sink.0).clone()).unwrap()
    }

    #[test]
    fn lines_from_many_threads_are_all_written_in_batches_and_on_exit() {
        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone(), Duration::from_millis(20), 1 << 20);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || (0..500).for_each(|i| w.write_all(format!("{t} {i}\n").as_bytes()).unwrap()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(text(&sink).lines().count(), 2000, "written by the background thread within its interval");
        for t in 0..4 {
            let mine: Vec<usize> = text(&sink)
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")).map(|i| i.parse().unwrap()))
                .collect();
            assert_eq!(mine, (0..500).collect::<Vec<_>>(), "each thread's lines in order");
        }
        writer.clone().write_all(b"last\n").unwrap();
        drop(guard);
        assert!(text(&sink).ends_with("last\n"), "the guard writes what is left");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_logging_thread() {
        let sink = Sink::default();
        let (mut writer, _guard) = batched(sink.clone(), Duration::from_secs(3600), 10);
        writer.write_all(b"0123456789abc\n").unwrap();
        assert_eq!(text(&sink), "0123456789abc\n", "past the limit, written at once");
    }
}
