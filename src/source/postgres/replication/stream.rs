//! The CopyBoth phase: XLogData and keepalives in, standby status updates out.
//!
//! The feedback rules this file implements are the ones written down in the
//! parent module's docs; in short: flush never passes what the caller called
//! durable, a keepalive asking for a reply is answered before it is returned,
//! and a status goes out at least every `status_interval`.

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
    XLogData {
        wal_start: Lsn,
        wal_end: Lsn,
        server_time_us: i64,
        data: Bytes,
    },
    /// The server's heartbeat; `wal_end` is its current end of WAL.
    /// A reply, if requested, has already been sent.
    Keepalive {
        wal_end: Lsn,
        server_time_us: i64,
        reply_requested: bool,
    },
}

/// A replication connection streaming changes.
pub struct ReplicationStream<S> {
    conn: Conn<S>,
    status_interval: Duration,
    /// Highest `wal_end` received: the reported write position.
    received: Lsn,
    /// What the caller declared durable: the reported flush and apply position.
    flushed: Lsn,
    next_status: Instant,
    /// The server sent CopyDone.
    server_done: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReplicationStream<S> {
    pub(super) fn new(conn: Conn<S>, start: Lsn, status_interval: Duration) -> Self {
        ReplicationStream {
            conn,
            status_interval,
            received: start,
            flushed: start,
            next_status: Instant::now() + status_interval,
            server_done: false,
        }
    }

    /// Records that everything up to `lsn` is durable downstream. Only moves
    /// forward. Reported with the next status update (periodic, on request,
    /// or [`send_feedback`](Self::send_feedback)).
    pub fn set_flushed(&mut self, lsn: Lsn) {
        self.flushed = self.flushed.max(lsn);
    }

    /// The flush position reported to the server.
    pub fn flushed(&self) -> Lsn {
        self.flushed
    }

    /// The highest WAL end position received.
    pub fn received(&self) -> Lsn {
        self.received
    }

    /// The next message; `None` once the server ended the copy (CopyDone).
    ///
    /// Also answers keepalives that request a reply and sends the periodic
    /// status update, so a caller that only loops over `next()` stays alive.
    /// Cancel-safe: dropping the future loses no message.
    pub async fn next(&mut self) -> Result<Option<ReplicationMessage>, ReplicationError> {
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

    async fn on_backend(
        &mut self,
        backend: Backend,
    ) -> Result<Option<ReplicationMessage>, ReplicationError> {
        let Backend::Message(message) = backend else {
            return Err(ReplicationError::Protocol(
                "CopyBothResponse while streaming",
            ));
        };
        match self.conn.handle_async(message)? {
            None => Ok(None),
            Some(Message::CopyData(body)) => self.on_copy_data(body.into_bytes()).await.map(Some),
            Some(Message::CopyDone) => {
                tracing::info!(received = %self.received, "server ended the replication stream");
                self.server_done = true;
                Ok(None)
            }
            Some(_) => Err(ReplicationError::Protocol(
                "unexpected message while streaming",
            )),
        }
    }

    async fn on_copy_data(&mut self, data: Bytes) -> Result<ReplicationMessage, ReplicationError> {
        match data.first() {
            Some(b'w') if data.len() >= XLOG_DATA_HEADER_LEN => {
                let wal_start = Lsn(be_u64(&data[1..9]));
                let wal_end = Lsn(be_u64(&data[9..17]));
                let server_time_us = pg_to_unix(be_u64(&data[17..25]));
                self.received = self.received.max(wal_end);
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
                if reply_requested {
                    self.send_feedback(false).await?;
                }
                Ok(ReplicationMessage::Keepalive {
                    wal_end,
                    server_time_us,
                    reply_requested,
                })
            }
            Some(b'w' | b'k') => Err(ReplicationError::Protocol("short XLogData or keepalive")),
            _ => Err(ReplicationError::Protocol(
                "unknown CopyData message in replication stream",
            )),
        }
    }

    /// Sends a status update with the recorded positions: write = highest
    /// received (at least flush), flush = apply = what the caller declared
    /// durable.
    pub async fn send_feedback(&mut self, reply_requested: bool) -> Result<(), ReplicationError> {
        let flush = self.flushed;
        let write = self.received.max(flush);
        self.write_status(write, flush, flush, reply_requested)
            .await
    }

    /// Sends a status update with explicit positions. `flush` counts as a
    /// declaration of durability (as [`set_flushed`](Self::set_flushed));
    /// positions below what was already reported are raised to it.
    pub async fn send_status(
        &mut self,
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
        reply_requested: bool,
    ) -> Result<(), ReplicationError> {
        self.set_flushed(flush);
        let flush = self.flushed;
        self.write_status(write.max(flush), flush, apply.min(flush), reply_requested)
            .await
    }

    async fn write_status(
        &mut self,
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
        reply: bool,
    ) -> Result<(), ReplicationError> {
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
        Ok(ReplicationClient {
            conn: self.conn,
            status_interval: self.status_interval,
        })
    }

    /// Clean shutdown: [`finish`](Self::finish), then Terminate. Terminate is
    /// sent even if the server does not end the copy cleanly; that error is
    /// returned afterwards.
    pub async fn shutdown(mut self) -> Result<(), ReplicationError> {
        let ended = self.end_copy().await;
        if let Err(ReplicationError::Io(_)) = ended {
            return ended;
        }
        let client = ReplicationClient {
            conn: self.conn,
            status_interval: self.status_interval,
        };
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
                    return Err(ReplicationError::Protocol(
                        "CopyBothResponse while finishing",
                    ));
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

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn pg_to_unix(pg_us: u64) -> i64 {
    (pg_us as i64).saturating_add(PG_EPOCH_OFFSET_US)
}

fn unix_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
