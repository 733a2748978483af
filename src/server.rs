//! The HTTP server loop: no client can hold the server's memory or sockets for free. Connections
//! are bounded in number (further ones wait in the kernel's listen backlog, not in our memory), a
//! client must finish its headers within the header read timeout (which also ends idle keep-alive
//! connections: hyper starts that timer whenever it waits for a request), an answer the client
//! stops reading is dropped after the write timeout, and shutdown drains requests in flight up to
//! a grace period.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The bounds every connection of a listener lives under.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once; the accept loop waits for one to close before accepting more.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, and to start its next request on a
    /// keep-alive connection.
    pub header_read_timeout: Duration,
    /// Longest a write may make no progress before the connection is dropped.
    pub write_timeout: Duration,
    /// On shutdown, how long requests in flight may take before their connections are closed.
    pub shutdown_grace: Duration,
}

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and lets requests
/// in flight finish for up to [`ConnectionLimits::shutdown_grace`]. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Each connection watches this to finish its current request and close.
    let (draining, drain_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow with the process's lifetime.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = accept_within(&listener, &slots) => match accepted {
                Ok((slot, stream, peer)) => {
                    let app = app.clone();
                    let drain_signal = drain_signal.clone();
                    connections.spawn(serve_connection(stream, peer, app, limits, drain_signal, slot));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
        }
    }
    drop(listener);
    let _ = draining.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "shutdown grace elapsed; closing connections with requests still in flight"
        );
        connections.shutdown().await;
    }
}

/// Waits for a free connection slot, then accepts: beyond the bound, clients wait in the backlog.
async fn accept_within(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(OwnedSemaphorePermit, TcpStream, SocketAddr)> {
    let slot = slots.clone().acquire_owned().await.map_err(io::Error::other)?;
    let (stream, peer) = listener.accept().await?;
    Ok((slot, stream, peer))
}

/// Serves HTTP/1.1 on one connection until it closes, times out or is drained.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut drain_signal: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    // Small answers must not wait for Nagle's algorithm; failure only costs latency.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteTimeout::new(stream, limits.write_timeout));
    let app = app.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut connection = pin!(builder.serve_connection(io, TowerToHyperService::new(app)));
    let drained = async move {
        // The guard `wait_for` returns must not live across the awaits below.
        let _ = drain_signal.wait_for(|draining| *draining).await;
    };
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        () = drained => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = outcome {
        // Timeouts and clients going away are routine: nothing an operator must act on.
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}

/// A stream whose writes fail with `TimedOut` once they have made no progress for `limit`
/// (a client that stops reading its answer). Reads are untouched: the header read and request
/// timeouts bound them.
pub struct WriteTimeout<S> {
    inner: S,
    limit: Duration,
    /// Armed while a write is stalled; allocated on the first stall, reused after.
    stalled_since: Option<Pin<Box<Sleep>>>,
    stalled: bool,
}

impl<S> WriteTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limit: Duration) -> Self {
        WriteTimeout {
            inner,
            limit,
            stalled_since: None,
            stalled: false,
        }
    }

    /// Records that a write made no progress: arms the timer on the first such write, and
    /// fails once it has run out.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = Instant::now() + self.limit;
        let timer = match &mut self.stalled_since {
            Some(timer) => {
                if !self.stalled {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => self
                .stalled_since
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.stalled = true;
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading its answer",
        ))
    }

    /// Passes a write's outcome through, watching for stalls.
    fn watch<T>(&mut self, cx: &mut Context<'_>, outcome: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match outcome {
            Poll::Pending => self.poll_stall(cx).map(Err),
            ready => {
                self.stalled = false;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_limit() {
        let (near, _far) = tokio::io::duplex(16);
        let mut stream = WriteTimeout::new(near, Duration::from_millis(50));
        let outcome = tokio::time::timeout(Duration::from_secs(10), stream.write_all(&[0; 64])).await;
        let error = outcome.expect("the write gives up on its own").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_slow_but_steady_reader_is_not_cut_off() {
        let (near, mut far) = tokio::io::duplex(16);
        let mut stream = WriteTimeout::new(near, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut chunk = [0; 8];
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match far.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
            got.len()
        });
        // Far more than the limit in total, but every write makes progress well within it.
        stream
            .write_all(&[7; 256])
            .await
            .expect("progress resets the timer");
        stream.shutdown().await.expect("shutdown");
        drop(stream);
        assert_eq!(reader.await.expect("reader"), 256);
    }
}
