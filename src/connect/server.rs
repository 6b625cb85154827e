//! The HTTP server under the REST API: one hyper HTTP/1 connection per
//! accepted socket, with the limits a port reachable before authentication
//! needs.
//!
//! ```text
//!   accept loop ──(a permit of max_connections)──▶ spawn connection
//!      │                                             ├─ hyper http1: header_read_timeout (whole head, and
//!      │ accept error (EMFILE...): back off           │  the wait for the next request on keep-alive)
//!      │                                             ├─ idle watchdog: no byte in or out for idle_timeout
//!      ▼                                             │  while the server waits on the client → closed
//!   shutdown: stop accepting, graceful_shutdown      └─ permit released when the socket closes
//!   of every connection, wait for them (bounded)
//! ```
//!
//! Above the cap, new connections wait in the kernel's listen backlog (no
//! descriptor is used for them) until a permit is free, so half-open
//! connections can never take the process's descriptors away from the
//! connectors. A connection is "waiting on the client" when no request is
//! being handled, or when the handler waits for request body bytes; while a
//! handler works (e.g. a forwarded request) the idle watchdog does not fire.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http_body::{Body as HttpBody, Frame};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower_service::Service;

use crate::config::worker::{
    RestConfig, DEFAULT_REST_HEADER_READ_TIMEOUT_MS, DEFAULT_REST_IDLE_TIMEOUT_MS, DEFAULT_REST_MAX_CONNECTIONS,
};

/// How long shutdown waits for open connections to finish their request.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// First and longest wait after an accept error (e.g. EMFILE) before accepting again.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The connection limits of `[rest]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// The whole request head must arrive within this long (also the keep-alive wait).
    pub header_read_timeout: Duration,
    /// No byte in or out for this long while waiting on the client closes the connection.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl ServerLimits {
    pub fn from_config(rest: &RestConfig) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_millis(rest.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(rest.idle_timeout_ms),
            max_connections: rest.max_connections,
        }
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_millis(DEFAULT_REST_HEADER_READ_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(DEFAULT_REST_IDLE_TIMEOUT_MS),
            max_connections: DEFAULT_REST_MAX_CONNECTIONS,
        }
    }
}

/// Why the REST server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("rest server failed")]
    Serve(#[source] std::io::Error),
}

/// Binds `listen` and serves `router` until `shutdown` resolves.
pub async fn serve(
    listen: SocketAddr,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(listen).await.map_err(|source| ServeError::Bind { addr: listen, source })?;
    serve_on(listener, router, limits, shutdown).await
}

/// Serves `router` on an already bound listener until `shutdown` resolves,
/// then lets open connections finish their request (at most [`DRAIN_TIMEOUT`]).
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            listen = %addr,
            max_connections = limits.max_connections,
            header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
            idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
            "rest api listening"
        );
    }
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (close, closing) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, router.clone(), limits, closing.clone(), permit));
            }
            // The peer gave up before we accepted: nothing to wait for.
            Err(err) if is_peer_error(&err) => {}
            Err(err) => {
                // Out of descriptors or memory: wait for some to be released
                // instead of spinning; the server keeps running.
                tracing::warn!(error = %err, backoff_ms = backoff.as_millis() as u64, "rest accept error; backing off");
                drop(permit);
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
    drop(listener);
    let _ = close.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, permits.acquire_many(all)).await.is_err() {
        tracing::warn!("rest connections still open at shutdown; closing them");
    }
    Ok(())
}

fn is_peer_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset)
}

/// Serves one connection until it ends, is idle for too long, or shutdown
/// asks it to finish; `_permit` is released when it returns.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: ServerLimits,
    mut closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut router = router.clone();
            let activity = activity.clone();
            async move {
                let _busy = Busy::start(&activity);
                let req = req.map(|body| Body::new(TrackedBody { inner: body, activity: activity.clone() }));
                router.call(req).await
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(err) = r {
                    tracing::debug!(error = %err, "rest connection closed");
                }
                return;
            }
            _ = closing.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = activity.idle_for(limits.idle_timeout) => {
                tracing::debug!(idle_timeout_ms = limits.idle_timeout.as_millis() as u64, "rest connection idle; closing it");
                return;
            }
        }
    }
}

/// When a connection last moved a byte, and whether it waits on its client.
struct Activity {
    base: Instant,
    /// Milliseconds after `base` of the last byte read or written.
    last_ms: AtomicU64,
    /// Requests being handled.
    busy: AtomicUsize,
    /// A handler waits for request body bytes.
    body_pending: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity { base: Instant::now(), last_ms: AtomicU64::new(0), busy: AtomicUsize::new(0), body_pending: AtomicBool::new(false) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn waits_on_client(&self) -> bool {
        self.busy.load(Ordering::Relaxed) == 0 || self.body_pending.load(Ordering::Relaxed)
    }

    /// Resolves once the connection has waited on its client with no byte moving for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let deadline = self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle;
            if Instant::now() >= deadline {
                if self.waits_on_client() {
                    return;
                }
                // The server is working on a request: that is not idleness.
                self.touch();
                continue;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// Counts a request as being handled while alive.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.body_pending.store(false, Ordering::Relaxed);
        self.0.touch();
    }
}

/// The socket, recording every byte moved.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The request body, marking when a handler waits for the client's bytes.
struct TrackedBody {
    inner: Incoming,
    activity: Arc<Activity>,
}

impl HttpBody for TrackedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        self.activity.body_pending.store(r.is_pending(), Ordering::Relaxed);
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
