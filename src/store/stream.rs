//! Streaming answers: serializers write into a [`ChunkWriter`] on the blocking
//! thread, which sends 64 KiB chunks into a bounded channel that is the
//! response body. A slow client blocks the writer (back-pressure), so a large
//! answer is never held in memory, and a dropped body stops the work.

use super::error::StoreError;
use bytes::Bytes;
use oxigraph::sparql::CancellationToken;
use std::io::{self, Write};
use tokio::sync::{mpsc, oneshot};

/// Body chunks of a streamed answer. Dropping it stops the work.
pub type ByteReceiver = mpsc::Receiver<io::Result<Bytes>>;

/// A query's answer: whole (a small one, answered on the request's thread),
/// or streamed chunk by chunk. A whole answer needs no channel: making one
/// (and its first block of slots) for every small answer was an allocation
/// and a zeroing of about a kilobyte per request.
pub enum Answer {
    Whole(Bytes),
    Streamed(ByteReceiver),
}

impl Answer {
    /// The next chunk, in order, and `None` after the last.
    pub async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        match self {
            Answer::Whole(bytes) if bytes.is_empty() => None,
            Answer::Whole(bytes) => Some(Ok(std::mem::take(bytes))),
            Answer::Streamed(rx) => rx.recv().await,
        }
    }
}

/// Says that the answer has started (`Ok`) or failed before its first byte.
pub type HeadSender = oneshot::Sender<Result<(), StoreError>>;

const CHUNK: usize = 64 * 1024;

/// A `Write` that collects bytes into 64 KiB chunks and sends each into a
/// bounded channel, blocking the (evaluation pool's) thread when the client reads
/// slowly. Serializers write a few bytes at a time, so `write_all` only appends;
/// the cancellation check and the channel send happen once per chunk.
pub struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
    /// Stops the serialization once the work is cancelled (deadline or operator).
    token: Option<CancellationToken>,
    /// Told once the first chunk is in the channel (or the whole answer is): the
    /// response head waits for it.
    head: Option<HeadSender>,
}

impl ChunkWriter {
    /// Sends the buffered bytes as one chunk (after checking for cancellation).
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.token.as_ref().is_some_and(CancellationToken::is_cancelled) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the work was cancelled while its answer was being sent",
            ));
        }
        if !self.buffer.is_empty() {
            // The next buffer is allocated on the next write, so the last chunk leaves none behind.
            let chunk = Bytes::from(std::mem::take(&mut self.buffer));
            self.tx.blocking_send(Ok(chunk)).map_err(|_| gone())?;
        }
        Ok(())
    }

    /// Sends a full chunk mid-answer; the first one also releases the response head
    /// (the chunk is already in the channel, so the woken handler finds it there).
    fn send_chunk(&mut self) -> io::Result<()> {
        self.send_buffer()?;
        match self.head.take() {
            Some(head) => head.send(Ok(())).map_err(|_| gone()),
            None => Ok(()),
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
}

impl Write for ChunkWriter {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    #[inline]
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.buffer.is_empty() && self.buffer.len() + data.len() > CHUNK {
            self.send_chunk()?;
        }
        if self.buffer.capacity() == 0 {
            // Small answers are the common case: start small, grow up to a chunk.
            self.buffer.reserve(if self.head.is_some() { 8 * 1024 } else { CHUNK });
        }
        self.buffer.extend_from_slice(data);
        Ok(())
    }

    /// Chunks leave at 64 KiB and at the end of the answer, not when a serializer flushes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `write` against a channel-backed writer. A failure before the first chunk
/// left goes to `head` (mapped by `to_error`), so the client gets a proper status;
/// a failure mid-stream is sent as an error chunk, which aborts the response (the
/// status line is already out).
pub fn stream_into(
    tx: mpsc::Sender<io::Result<Bytes>>,
    token: Option<CancellationToken>,
    head: Option<HeadSender>,
    to_error: impl FnOnce(io::Error) -> StoreError,
    write: impl FnOnce(&mut ChunkWriter) -> io::Result<()>,
) {
    let mut writer = ChunkWriter { tx: tx.clone(), buffer: Vec::new(), token, head };
    let result = write(&mut writer).and_then(|()| writer.send_buffer());
    let head = writer.head.take();
    drop(writer);
    match (result, head) {
        // Complete before the first chunk left: the channel is closed before the
        // head is released, so the handler sees the whole answer in one wake-up.
        (Ok(()), Some(head)) => {
            drop(tx);
            let _ = head.send(Ok(()));
        }
        (Ok(()), None) => {}
        (Err(e), Some(head)) => {
            let _ = head.send(Err(to_error(e)));
        }
        (Err(e), None) => {
            if e.kind() != io::ErrorKind::BrokenPipe {
                tracing::warn!(error = %e, "answer stream failed after the response started");
                let _ = tx.blocking_send(Err(e));
            }
        }
    }
}
