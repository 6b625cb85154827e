//! The connection limits against real sockets: half-open connections are
//! closed, the cap holds, a stalled body is closed, shutdown stays graceful.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/echo", post(|b: axum::body::Bytes| async move { b.len().to_string() }))
}

/// Serves [`app`] with `limits`; the sender stops it.
async fn start(limits: ServerLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), ServeError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, app(), limits, async move {
        let _ = rx.await;
    }));
    (addr, tx, server)
}

/// A connection that sent part of a request head and nothing more.
async fn half_open(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    s
}

/// Reads until the server closes; how long that took (None: still open after `within`).
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(tokio::time::Instant::from_std(started + within), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// GET /health on a fresh connection; the answer's status line and how long it took.
async fn health(addr: SocketAddr) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    (text.lines().next().unwrap_or_default().to_owned(), started.elapsed())
}

fn limits(header_ms: u64, idle_ms: u64, max: usize) -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        max_connections: max,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_and_health_still_answers() {
    let (addr, stop, server) = start(limits(800, 30_000, 64)).await;
    let mut conns = Vec::new();
    for _ in 0..40 {
        conns.push(half_open(addr).await);
    }
    // While they are open, the health check answers at once.
    let (line, took) = health(addr).await;
    assert_eq!(line, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_millis(500), "health took {took:?}");
    // Each is closed by the header read timeout.
    for c in &mut conns {
        let closed = closed_within(c, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "a half-open connection was still open 5 s later (header timeout 800 ms)");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_above_the_cap_wait_for_a_free_slot() {
    let (addr, stop, server) = start(limits(1_000, 30_000, 4)).await;
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(half_open(addr).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A fifth connection is served only once the header timeout frees a slot.
    let (line, took) = health(addr).await;
    assert_eq!(line, "HTTP/1.1 200 OK");
    assert!(took >= Duration::from_millis(700), "served above the cap after {took:?}");
    assert!(took < Duration::from_secs(4), "health took {took:?}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_is_closed_after_the_idle_timeout() {
    let (addr, stop, server) = start(limits(30_000, 600, 8)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":").await.unwrap();
    let closed = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(closed.is_some_and(|t| t >= Duration::from_millis(400)), "closed after {closed:?} (idle timeout 600 ms)");
    // A body that keeps coming in is not idle.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 6\r\n\r\n").await.unwrap();
    for b in b"abcdef" {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(&[*b]).await.unwrap();
    }
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await.unwrap().unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 200 OK") && out.ends_with("\r\n6"), "{out}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_connections_and_returns() {
    let (addr, stop, server) = start(limits(30_000, 30_000, 8)).await;
    // An idle keep-alive connection after one request, and a half-open one.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    let mut half = half_open(addr).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server).await.expect("serve_on returned").unwrap().unwrap();
    assert!(started.elapsed() < DRAIN_TIMEOUT + Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(closed_within(&mut idle, Duration::from_secs(1)).await.is_some(), "the keep-alive connection was closed");
    let _ = closed_within(&mut half, Duration::from_secs(1)).await;
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}
