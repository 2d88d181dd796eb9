//! The connections the server answers on: TCP with `TCP_NODELAY`, whose
//! writes hyper gathers into one buffer before it sends them.
//!
//! Hyper sends a response's head and body with one `writev(2)` when the
//! connection says it takes vectored writes, as a tokio `TcpStream` does. For
//! the small answers most requests get, copying the body behind the head and
//! sending one buffer took 1–5 µs less system time per request and was 2–4 %
//! faster (BENCHMARKS.md, "The front end's tax: a parse for every shape, not
//! every text"). So the stream is wrapped in [`Flat`], which does not say it
//! takes vectored writes, and hyper copies. Large answers stream in chunks of at most 64 KiB, so the
//! copy stays small beside their serialization.

use axum::serve::Listener;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A listener whose connections are [`Flat`], with `TCP_NODELAY` set: a
/// streamed answer is written as a head and body chunks, and Nagle's algorithm
/// would hold the small writes for tens of milliseconds.
pub struct FlatListener<L>(pub L);

impl<L: Listener<Io = TcpStream>> Listener for FlatListener<L> {
    type Io = Flat;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Flat, L::Addr) {
        // The inner listener logs and retries failed accepts.
        let (tcp, addr) = self.0.accept().await;
        let _ = tcp.set_nodelay(true);
        (Flat(tcp), addr)
    }

    fn local_addr(&self) -> io::Result<L::Addr> {
        self.0.local_addr()
    }
}

/// A TCP connection that takes no vectored writes (see the module docs).
pub struct Flat(TcpStream);

impl AsyncRead for Flat {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Flat {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}
