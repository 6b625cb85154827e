//! The CopyBoth phase: XLogData and keepalives in, standby status updates out.
//!
//! The feedback rules this file implements are the ones written down in the
//! parent module's docs; in short: flush never passes what the caller called
//! durable, a keepalive asking for a reply is answered before it is returned,
//! and a status goes out at least every `status_interval`.
//!
//! Flush (and apply, and write) also never pass what the server has sent on
//! this stream: the highest keepalive or XLogData `wal_end`, or Commit /
//! Stream Commit `end_lsn`. The server takes a logical slot's
//! `confirmed_flush_lsn` from the flush field without checking it against
//! its own WAL, so a durable position beyond the server's WAL (a bogus
//! stored offset) would otherwise move the slot past every future change.
//! Nothing is confirmed before the server has sent something (0/0, which
//! the server ignores).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::{Backend, Conn, ReplicationClient, ReplicationError};
use crate::lsn::Lsn;
use crate::source::postgres::pgoutput::PG_EPOCH_OFFSET_US;

/// How long a clean shutdown waits for the server to finish the copy.
const SHUTDOWN_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// `w` + start LSN + end LSN + send time.
const XLOG_DATA_HEADER_LEN: usize = 1 + 8 + 8 + 8;
/// `k` + end LSN + send time + reply flag.
const KEEPALIVE_LEN: usize = 1 + 8 + 8 + 1;

/// One message of the replication stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicationMessage {
    /// A pgoutput message (decode `data` with
    /// [`pgoutput::decode_bytes`](crate::source::postgres::pgoutput::decode_bytes)).
    XLogData { wal_start: Lsn, wal_end: Lsn, server_time_us: i64, data: Bytes },
    /// The server's heartbeat; `wal_end` is its current end of WAL.
    /// A reply, if requested, has already been sent.
    Keepalive { wal_end: Lsn, server_time_us: i64, reply_requested: bool },
}

/// A replication connection streaming changes.
pub struct ReplicationStream<S> {
    conn: Conn<S>,
    status_interval: Duration,
    /// Highest `wal_end` received, at least the start position (for callers).
    received: Lsn,
    /// Highest position the server has sent on this stream (see the module
    /// docs); the reported positions never pass it.
    sent: Lsn,
    /// What the caller declared durable: the reported flush and apply position.
    flushed: Lsn,
    next_status: Instant,
    /// The server sent CopyDone.
    server_done: bool,
    /// The walsender's process id, handed back with the connection.
    backend_pid: Option<i32>,
    /// Report the flush position (`flush.lsn.source`); when false every
    /// status update reports 0/0, which confirms nothing to the slot.
    confirm: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReplicationStream<S> {
    pub(super) fn new(conn: Conn<S>, start: Lsn, status_interval: Duration) -> Self {
        ReplicationStream {
            conn,
            status_interval,
            received: start,
            sent: Lsn::ZERO,
            flushed: start,
            next_status: Instant::now() + status_interval,
            server_done: false,
            backend_pid: None,
            confirm: true,
        }
    }

    pub(super) fn with_backend_pid(mut self, pid: Option<i32>) -> Self {
        self.backend_pid = pid;
        self
    }

    /// Records that everything up to `lsn` is durable downstream. Only moves
    /// forward. Reported with the next status update (periodic, on request,
    /// or [`send_feedback`](Self::send_feedback)).
    pub fn set_flushed(&mut self, lsn: Lsn) {
        self.flushed = self.flushed.max(lsn);
    }

    /// The flush position declared durable (what is reported is at most
    /// [`confirmable`](Self::confirmable)).
    pub fn flushed(&self) -> Lsn {
        self.flushed
    }

    /// The flush position a status update reports: what the caller declared
    /// durable, capped at what the server has sent.
    pub fn confirmable(&self) -> Lsn {
        if !self.confirm {
            return Lsn::ZERO;
        }
        self.flushed.min(self.sent)
    }

    /// Whether status updates confirm the flush position (`flush.lsn.source`).
    pub fn set_confirm(&mut self, confirm: bool) {
        self.confirm = confirm;
    }

    /// The highest WAL end position received.
    pub fn received(&self) -> Lsn {
        self.received
    }

    /// The next message; `None` once the server ended the copy (CopyDone).
    ///
    /// Also answers keepalives that request a reply and sends the periodic
    /// status update, so a caller that only loops over `next()` stays alive.
    /// Cancel-safe for data: dropping the future never loses an XLogData
    /// (a keepalive whose reply was being written may be lost, harmlessly);
    /// a status update cut short is completed by the next call.
    pub async fn next(&mut self) -> Result<Option<ReplicationMessage>, ReplicationError> {
        if !self.conn.write_buf.is_empty() {
            self.conn.flush().await?;
        }
        loop {
            if self.server_done {
                return Ok(None);
            }
            if Instant::now() >= self.next_status {
                self.send_feedback(false).await?;
            }
            if let Some(backend) = self.conn.parse_buffered()? {
                if let Some(message) = self.on_backend(backend).await? {
                    return Ok(Some(message));
                }
                continue;
            }
            let deadline = self.next_status;
            tokio::select! {
                biased;
                read = self.conn.fill() => read?,
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    async fn on_backend(&mut self, backend: Backend) -> Result<Option<ReplicationMessage>, ReplicationError> {
        let Backend::Message(message) = backend else {
            return Err(ReplicationError::Protocol("CopyBothResponse while streaming"));
        };
        match self.conn.handle_async(message)? {
            None => Ok(None),
            Some(Message::CopyData(body)) => self.on_copy_data(body.into_bytes()).await.map(Some),
            Some(Message::CopyDone) => {
                tracing::info!(received = %self.received, "server ended the replication stream");
                self.server_done = true;
                Ok(None)
            }
            // A walsender that shuts down (fast or smart shutdown of the
            // server) waits until the client confirmed everything it sent,
            // then sends CommandComplete without a CopyDone and exits.
            Some(Message::CommandComplete(_)) => {
                tracing::info!(received = %self.received, "server shut the replication stream down");
                self.server_done = true;
                Ok(None)
            }
            Some(_) => Err(ReplicationError::Protocol("unexpected message while streaming")),
        }
    }

    async fn on_copy_data(&mut self, data: Bytes) -> Result<ReplicationMessage, ReplicationError> {
        match data.first() {
            Some(b'w') if data.len() >= XLOG_DATA_HEADER_LEN => {
                let wal_start = Lsn(be_u64(&data[1..9]));
                let wal_end = Lsn(be_u64(&data[9..17]));
                let server_time_us = pg_to_unix(be_u64(&data[17..25]));
                self.received = self.received.max(wal_end);
                self.sent = self.sent.max(wal_end).max(commit_end(&data[XLOG_DATA_HEADER_LEN..]).unwrap_or(Lsn::ZERO));
                Ok(ReplicationMessage::XLogData {
                    wal_start,
                    wal_end,
                    server_time_us,
                    data: data.slice(XLOG_DATA_HEADER_LEN..),
                })
            }
            Some(b'k') if data.len() == KEEPALIVE_LEN => {
                let wal_end = Lsn(be_u64(&data[1..9]));
                let server_time_us = pg_to_unix(be_u64(&data[9..17]));
                let reply_requested = data[17] != 0;
                self.received = self.received.max(wal_end);
                self.sent = self.sent.max(wal_end);
                if reply_requested {
                    self.send_feedback(false).await?;
                }
                Ok(ReplicationMessage::Keepalive { wal_end, server_time_us, reply_requested })
            }
            Some(b'w' | b'k') => Err(ReplicationError::Protocol("short XLogData or keepalive")),
            _ => Err(ReplicationError::Protocol("unknown CopyData message in replication stream")),
        }
    }

    /// Sends a status update with the recorded positions: write = highest
    /// sent by the server, flush = apply = what the caller declared durable,
    /// capped at it.
    pub async fn send_feedback(&mut self, reply_requested: bool) -> Result<(), ReplicationError> {
        let flush = self.confirmable();
        self.write_status(self.sent, flush, flush, reply_requested).await
    }

    /// Sends a status update with explicit positions. `flush` counts as a
    /// declaration of durability (as [`set_flushed`](Self::set_flushed));
    /// positions below what was already declared are raised to it; none
    /// passes what the server has sent.
    pub async fn send_status(
        &mut self,
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
        reply_requested: bool,
    ) -> Result<(), ReplicationError> {
        self.set_flushed(flush);
        let flush = self.confirmable();
        self.write_status(write.max(flush).min(self.sent), flush, apply.min(flush), reply_requested).await
    }

    async fn write_status(&mut self, write: Lsn, flush: Lsn, apply: Lsn, reply: bool) -> Result<(), ReplicationError> {
        let mut body = BytesMut::with_capacity(34);
        body.put_u8(b'r');
        body.put_u64(write.0);
        body.put_u64(flush.0);
        body.put_u64(apply.0);
        body.put_i64(unix_now_us() - PG_EPOCH_OFFSET_US);
        body.put_u8(u8::from(reply));
        frontend::CopyData::new(body.freeze())?.write(&mut self.conn.write_buf);
        self.conn.flush().await?;
        tracing::debug!(write = %write, flush = %flush, "sent standby status update");
        self.next_status = Instant::now() + self.status_interval;
        Ok(())
    }

    /// Ends the copy: a final status update, CopyDone, then waits (bounded)
    /// for the server to finish. Returns the connection in its command phase.
    pub async fn finish(mut self) -> Result<ReplicationClient<S>, ReplicationError> {
        self.end_copy().await?;
        Ok(ReplicationClient { conn: self.conn, status_interval: self.status_interval, backend_pid: self.backend_pid })
    }

    /// Clean shutdown: [`finish`](Self::finish), then Terminate. Terminate is
    /// sent even if the server does not end the copy cleanly; that error is
    /// returned afterwards.
    pub async fn shutdown(mut self) -> Result<(), ReplicationError> {
        let ended = self.end_copy().await;
        if let Err(ReplicationError::Io(_)) = ended {
            return ended;
        }
        let client = ReplicationClient { conn: self.conn, status_interval: self.status_interval, backend_pid: self.backend_pid };
        let closed = client.close().await;
        ended.and(closed)
    }

    async fn end_copy(&mut self) -> Result<(), ReplicationError> {
        self.send_feedback(false).await?;
        frontend::copy_done(&mut self.conn.write_buf);
        self.conn.flush().await?;
        let conn = &mut self.conn;
        let drain = async {
            loop {
                let Backend::Message(message) = conn.read_backend().await? else {
                    return Err(ReplicationError::Protocol("CopyBothResponse while finishing"));
                };
                // In-flight data, the server's CopyDone and CommandComplete are skipped.
                if let Some(Message::ReadyForQuery(_)) = conn.handle_async(message)? {
                    return Ok(());
                }
            }
        };
        tokio::time::timeout(SHUTDOWN_DRAIN_TIMEOUT, drain)
            .await
            .map_err(|_| ReplicationError::Protocol("server did not finish the copy in time"))?
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReplicationStream<S> {
    /// Drops the connection without the CopyDone handshake (for fault tests
    /// and for a connection already known to be broken).
    pub async fn abort(mut self) {
        let _ = self.conn.io.shutdown().await;
    }
}

/// The end LSN of a pgoutput Commit (`C`, flags, commit LSN, end LSN, …) or
/// Stream Commit (`c`, xid, flags, commit LSN, end LSN, …): WAL the server has
/// sent, though the XLogData header only carries the commit's start.
fn commit_end(payload: &[u8]) -> Option<Lsn> {
    let at = match payload.first()? {
        b'C' => 1 + 1 + 8,
        b'c' => 1 + 4 + 1 + 8,
        _ => return None,
    };
    payload.get(at..at + 8).map(|b| Lsn(be_u64(b)))
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn pg_to_unix(pg_us: u64) -> i64 {
    (pg_us as i64).saturating_add(PG_EPOCH_OFFSET_US)
}

fn unix_now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;

    fn stream(start: Lsn, interval: Duration) -> (ReplicationStream<DuplexStream>, DuplexStream) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let conn = Conn { io: client, read_buf: BytesMut::new(), write_buf: BytesMut::new(), params: HashMap::new() };
        (ReplicationStream::new(conn, start, interval), server)
    }

    fn copy_data(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![b'd'];
        out.extend_from_slice(&(payload.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn keepalive(wal_end: u64, reply: bool) -> Vec<u8> {
        let mut p = vec![b'k'];
        p.extend_from_slice(&wal_end.to_be_bytes());
        p.extend_from_slice(&0i64.to_be_bytes());
        p.push(u8::from(reply));
        copy_data(&p)
    }

    /// Reads one standby status update: (write, flush, apply, reply).
    async fn read_status(server: &mut DuplexStream) -> (u64, u64, u64, bool) {
        let mut frame = [0u8; 1 + 4 + 34];
        server.read_exact(&mut frame).await.unwrap();
        assert_eq!((frame[0], &frame[1..5], frame[5]), (b'd', &38u32.to_be_bytes()[..], b'r'));
        let at = |i: usize| be_u64(&frame[i..i + 8]);
        (at(6), at(14), at(22), frame[38] != 0)
    }

    #[tokio::test]
    async fn keepalive_requesting_a_reply_is_answered_with_the_flushed_position() {
        let (mut s, mut server) = stream(Lsn(0x100), Duration::from_secs(600));
        s.set_flushed(Lsn(0x180));
        s.set_flushed(Lsn(0x150)); // never backwards
        server.write_all(&keepalive(0x200, true)).await.unwrap();
        let msg = s.next().await.unwrap().unwrap();
        assert_eq!(
            msg,
            ReplicationMessage::Keepalive {
                wal_end: Lsn(0x200),
                server_time_us: PG_EPOCH_OFFSET_US,
                reply_requested: true
            }
        );
        assert_eq!(read_status(&mut server).await, (0x200, 0x180, 0x180, false));
    }

    #[tokio::test]
    async fn xlog_data_is_split_without_reply() {
        let (mut s, mut server) = stream(Lsn(0x100), Duration::from_secs(600));
        let mut p = vec![b'w'];
        p.extend_from_slice(&0x300u64.to_be_bytes());
        p.extend_from_slice(&0x300u64.to_be_bytes());
        p.extend_from_slice(&1_000_000i64.to_be_bytes());
        p.extend_from_slice(b"E");
        let mut wire = copy_data(&p);
        wire.extend_from_slice(&keepalive(0x400, false));
        wire.extend_from_slice(&[b'c', 0, 0, 0, 4]); // CopyDone
        server.write_all(&wire).await.unwrap();
        let msg = s.next().await.unwrap().unwrap();
        assert_eq!(
            msg,
            ReplicationMessage::XLogData {
                wal_start: Lsn(0x300),
                wal_end: Lsn(0x300),
                server_time_us: PG_EPOCH_OFFSET_US + 1_000_000,
                data: Bytes::from_static(b"E"),
            }
        );
        assert!(matches!(s.next().await.unwrap(), Some(ReplicationMessage::Keepalive { reply_requested: false, .. })));
        assert_eq!(s.next().await.unwrap(), None);
        assert_eq!(s.received(), Lsn(0x400));
        // Nothing was sent: no reply was requested and the interval is long.
        drop(s);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "unexpected bytes {rest:?}");
    }

    #[tokio::test]
    async fn command_complete_of_a_shutting_down_walsender_ends_the_stream() {
        let (mut s, mut server) = stream(Lsn(0x100), Duration::from_secs(600));
        // What a walsender sends when the server shuts down: CommandComplete("COPY 0"), no CopyDone.
        let mut wire = vec![b'C'];
        wire.extend_from_slice(&(4 + 7u32).to_be_bytes());
        wire.extend_from_slice(b"COPY 0\0");
        server.write_all(&wire).await.unwrap();
        assert_eq!(s.next().await.unwrap(), None);
        assert_eq!(s.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn status_is_sent_every_interval_while_waiting() {
        let (mut s, mut server) = stream(Lsn(0x100), Duration::from_millis(100));
        server.write_all(&keepalive(0x200, false)).await.unwrap();
        assert!(s.next().await.unwrap().is_some());
        s.set_flushed(Lsn(0x120));
        let pending = tokio::time::timeout(Duration::from_millis(250), s.next()).await;
        assert!(pending.is_err(), "no message was sent");
        assert_eq!(read_status(&mut server).await, (0x200, 0x120, 0x120, false));
        assert_eq!(read_status(&mut server).await, (0x200, 0x120, 0x120, false));
    }

    #[tokio::test]
    async fn malformed_copy_data_is_a_protocol_error() {
        let (mut s, mut server) = stream(Lsn(0), Duration::from_secs(600));
        server.write_all(&copy_data(b"k\0\0")).await.unwrap();
        assert!(matches!(s.next().await, Err(ReplicationError::Protocol(_))));
        let (mut s, mut server) = stream(Lsn(0), Duration::from_secs(600));
        server.write_all(&copy_data(b"?")).await.unwrap();
        assert!(matches!(s.next().await, Err(ReplicationError::Protocol(_))));
        let (mut s, mut server) = stream(Lsn(0), Duration::from_secs(600));
        server.write_all(&[b'd', 0xff, 0xff, 0xff, 0xff]).await.unwrap();
        assert!(matches!(s.next().await, Err(ReplicationError::Protocol(_))));
    }

    #[tokio::test]
    async fn status_is_sent_while_data_keeps_flowing() {
        let (mut s, mut server) = stream(Lsn(0x100), Duration::from_millis(50));
        server.write_all(&keepalive(0x200, false)).await.unwrap();
        assert!(s.next().await.unwrap().is_some());
        let mut p = vec![b'w'];
        p.extend_from_slice(&[0u8; 24]);
        for _ in 0..3 {
            server.write_all(&copy_data(&p)).await.unwrap();
        }
        s.set_flushed(Lsn(0x110));
        tokio::time::sleep(Duration::from_millis(80)).await;
        // Every message is already buffered, yet the overdue status goes out first.
        assert!(matches!(s.next().await.unwrap(), Some(ReplicationMessage::XLogData { .. })));
        assert_eq!(read_status(&mut server).await, (0x200, 0x110, 0x110, false));
    }

    fn xlog_data(wal: u64, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![b'w'];
        p.extend_from_slice(&wal.to_be_bytes());
        p.extend_from_slice(&wal.to_be_bytes());
        p.extend_from_slice(&0i64.to_be_bytes());
        p.extend_from_slice(payload);
        copy_data(&p)
    }

    #[tokio::test]
    async fn nothing_beyond_what_the_server_sent_is_confirmed() {
        // GIVEN a stream started at, and declared durable up to, a position
        // far beyond the server's WAL (a bogus stored offset)
        let (mut s, mut server) = stream(Lsn(u64::MAX), Duration::from_secs(600));
        s.set_flushed(Lsn(u64::MAX));
        // WHEN a status goes out before the server sent anything
        s.send_feedback(false).await.unwrap();
        // THEN it confirms nothing (0/0 is ignored by the server)
        assert_eq!(read_status(&mut server).await, (0, 0, 0, false));
        // AND after a keepalive it confirms at most the server's end of WAL
        server.write_all(&keepalive(0x200, true)).await.unwrap();
        assert!(s.next().await.unwrap().is_some());
        assert_eq!(read_status(&mut server).await, (0x200, 0x200, 0x200, false));
        s.send_status(Lsn(u64::MAX), Lsn(u64::MAX), Lsn(u64::MAX), false).await.unwrap();
        assert_eq!(read_status(&mut server).await, (0x200, 0x200, 0x200, false));
        assert_eq!(s.confirmable(), Lsn(0x200));
    }

    #[tokio::test]
    async fn a_commit_end_counts_as_sent() {
        let (mut s, mut server) = stream(Lsn(0x100), Duration::from_secs(600));
        // Commit at 0x300 ending at 0x340; Stream Commit of xid 7 at 0x400 ending at 0x440.
        let mut commit = vec![b'C', 0];
        commit.extend_from_slice(&0x300u64.to_be_bytes());
        commit.extend_from_slice(&0x340u64.to_be_bytes());
        commit.extend_from_slice(&0i64.to_be_bytes());
        server.write_all(&xlog_data(0x300, &commit)).await.unwrap();
        assert!(s.next().await.unwrap().is_some());
        s.set_flushed(Lsn(0x340));
        assert_eq!(s.confirmable(), Lsn(0x340));
        let mut stream_commit = vec![b'c'];
        stream_commit.extend_from_slice(&7u32.to_be_bytes());
        stream_commit.push(0);
        stream_commit.extend_from_slice(&0x400u64.to_be_bytes());
        stream_commit.extend_from_slice(&0x440u64.to_be_bytes());
        stream_commit.extend_from_slice(&0i64.to_be_bytes());
        server.write_all(&xlog_data(0x400, &stream_commit)).await.unwrap();
        assert!(s.next().await.unwrap().is_some());
        s.set_flushed(Lsn(0x1000));
        assert_eq!(s.confirmable(), Lsn(0x440));
    }
}
