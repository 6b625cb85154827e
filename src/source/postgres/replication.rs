//! The streaming replication connection: startup, authentication,
//! replication commands, and the CopyBoth stream of `START_REPLICATION`.
//!
//! Built on `postgres-protocol`'s message builders and parser over any
//! `AsyncRead + AsyncWrite` stream: [`ReplicationClient::connect`] opens TCP
//! and negotiates TLS as `ReplicationConfig::tls` says (see [`super::tls`]);
//! [`ReplicationClient::connect_with_stream`] takes any ready stream. `tokio-postgres` is not
//! used: it has no CopyBoth support. Owning these ~600 lines instead of
//! depending on a replication crate keeps the feedback rules below in one
//! place we can test.
//!
//! ```text
//!  client                                    walsender
//!    │ StartupMessage(replication=database) ──▶ │
//!    │ ◀── Authentication* / ParameterStatus* / BackendKeyData / ReadyForQuery
//!    │ Query(IDENTIFY_SYSTEM | CREATE_/DROP_REPLICATION_SLOT) ──▶ │
//!    │ ◀── RowDescription / DataRow* / CommandComplete / ReadyForQuery
//!    │ Query(START_REPLICATION SLOT s LOGICAL lsn (...)) ──▶ │
//!    │ ◀── CopyBothResponse                                    │
//!    │ ◀── CopyData('w' XLogData | 'k' Keepalive) ...          │
//!    │ CopyData('r' StandbyStatusUpdate) ──▶ ...               │
//!    │ CopyDone ──▶  ◀── CopyDone / CommandComplete / ReadyForQuery
//!    │ Terminate ──▶                                           │
//! ```
//!
//! Protocol invariants this module relies on:
//!
//! - **Only `flush` moves the slot.** For a logical slot the server sets
//!   `confirmed_flush_lsn` from the `flush` field of a standby status update
//!   (0/0 is ignored). The stream never reports a flush position beyond what
//!   the caller declared durable with [`ReplicationStream::set_flushed`]; it
//!   starts at the `START_REPLICATION` position, which the caller vouches for
//!   by asking to resume there. `write` is informational: the stream reports
//!   the highest `wal_end` received (never below `flush`). `apply` = `flush`.
//! - **A keepalive's `wal_end` is the server's current end of WAL** (its sent
//!   pointer). When the caller has no transaction pending, confirming that
//!   position (set_flushed(wal_end)) lets the slot advance on an idle or
//!   filtered database, so WAL does not pile up.
//! - **In logical mode an XLogData's `wal_start` and `wal_end` are both the
//!   LSN of the decoded record**: a Begin carries the transaction's final
//!   LSN in its body, a Commit its commit and end LSN. Resume points come
//!   from the pgoutput messages, not from XLogData headers.
//! - **A keepalive with `reply_requested` must be answered promptly**, or the
//!   server drops the connection after `wal_sender_timeout`. The stream
//!   answers inside [`ReplicationStream::next`] before returning the keepalive,
//!   and sends an unsolicited status every `status_interval` even while data
//!   flows, so a caller that only loops over `next()` stays connected.
//! - **An exported snapshot lives until the next command on the connection**
//!   that created the slot: use it (`SET TRANSACTION SNAPSHOT`) from another
//!   connection before issuing `START_REPLICATION` on this one.
//! - Timestamps on the wire are microseconds since 2000-01-01; this API uses
//!   microseconds since the Unix epoch.

mod error;
mod stream;

pub use error::{sqlstate, ReplicationError, ServerError};
pub use stream::{ReplicationMessage, ReplicationStream};

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::Secret;
use crate::lsn::Lsn;

use super::tls::{self, PgTls};

/// How often a standby status update is sent when nothing else prompts one.
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(10);
/// How long establishing the TCP connection and the startup may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest backend message accepted (PostgreSQL's own limit is 1 GiB
/// per value; a message adds headers).
const MAX_BACKEND_MESSAGE_LEN: usize = (1 << 30) + (1 << 20);

/// Where and how to open a replication connection.
#[derive(Clone, Debug)]
pub struct ReplicationConfig {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Role with the REPLICATION attribute.
    pub user: String,
    /// Password, if the server asks for one.
    pub password: Option<Secret>,
    /// Database whose changes are decoded.
    pub dbname: String,
    /// Shown in `pg_stat_replication.application_name`.
    pub application_name: String,
    /// Limit for TCP connect plus startup and authentication.
    pub connect_timeout: Duration,
    /// Interval of unsolicited standby status updates while streaming.
    pub status_interval: Duration,
    /// TLS (`sslmode` and certificates); plain by default.
    pub tls: PgTls,
}

impl ReplicationConfig {
    /// A configuration with default timeouts and `application_name = pgcdc`.
    pub fn new(host: impl Into<String>, port: u16, user: impl Into<String>, dbname: impl Into<String>) -> Self {
        ReplicationConfig {
            host: host.into(),
            port,
            user: user.into(),
            password: None,
            dbname: dbname.into(),
            application_name: "pgcdc".into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            status_interval: DEFAULT_STATUS_INTERVAL,
            tls: PgTls::disabled(),
        }
    }
}

/// The byte stream under a connection: TCP, or TLS over TCP.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// A boxed transport, so plain and TLS connections share one type.
pub type BoxTransport = Box<dyn Transport>;

/// The answer to `IDENTIFY_SYSTEM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifySystem {
    /// The cluster's system identifier.
    pub systemid: String,
    /// The current timeline.
    pub timeline: u32,
    /// The current WAL flush position.
    pub xlogpos: Lsn,
    /// The connected database (`None` on a physical connection).
    pub dbname: Option<String>,
}

/// What `CREATE_REPLICATION_SLOT` does with the slot's snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotSnapshot {
    /// Export it for `SET TRANSACTION SNAPSHOT` (the initial snapshot's source).
    Export,
    /// Do not export a snapshot.
    NoExport,
}

/// The answer to `CREATE_REPLICATION_SLOT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedSlot {
    pub slot_name: String,
    /// The first LSN whose changes the slot will decode.
    pub consistent_point: Lsn,
    /// The exported snapshot; valid until the next command on this connection.
    pub snapshot_name: Option<String>,
}

/// pgoutput's `streaming` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streaming {
    /// Large transactions are spilled by the server and sent at commit.
    Off,
    /// In-progress transactions are streamed (protocol ≥ 2, PG ≥ 14).
    On,
    /// As `On`, plus abort LSN/time in Stream Abort (protocol 4, PG ≥ 16).
    Parallel,
}

/// Options of `START_REPLICATION ... LOGICAL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartOptions {
    /// pgoutput `proto_version` (1–4).
    pub proto_version: u32,
    /// Publications to decode.
    pub publication_names: Vec<String>,
    /// Send logical decoding messages (`pg_logical_emit_message`).
    pub messages: bool,
    /// Stream in-progress transactions.
    pub streaming: Streaming,
    /// Send values in binary format where possible.
    pub binary: bool,
    /// `slot.stream.params`: further options, as (name, value).
    pub extra: Vec<(String, String)>,
}

impl StartOptions {
    /// Protocol 1, no messages, no streaming, text values.
    pub fn new(publication_names: Vec<String>) -> Self {
        StartOptions {
            proto_version: 1,
            publication_names,
            messages: false,
            streaming: Streaming::Off,
            binary: false,
            extra: Vec::new(),
        }
    }

    /// The parenthesized option list of the command.
    fn render(&self) -> String {
        let pubs: Vec<String> = self.publication_names.iter().map(|p| quote_ident(p)).collect();
        let mut opts = vec![
            format!("proto_version '{}'", self.proto_version),
            format!("publication_names {}", quote_literal(&pubs.join(","))),
        ];
        if self.messages {
            opts.push("messages 'true'".into());
        }
        if self.binary {
            opts.push("binary 'true'".into());
        }
        match self.streaming {
            Streaming::Off => {}
            Streaming::On => opts.push("streaming 'on'".into()),
            Streaming::Parallel => opts.push("streaming 'parallel'".into()),
        }
        for (name, value) in &self.extra {
            opts.push(format!("{} {}", quote_ident(name), quote_literal(value)));
        }
        opts.join(", ")
    }
}

/// Framing and buffers shared by the command phase and the stream.
pub(crate) struct Conn<S> {
    io: S,
    read_buf: BytesMut,
    write_buf: BytesMut,
    params: HashMap<String, String>,
}

/// One backend message, plus the CopyBothResponse `postgres-protocol` lacks.
pub(crate) enum Backend {
    Message(Message),
    CopyBothResponse,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Writes and flushes what the frontend builders put in `write_buf`.
    ///
    /// Cancel-safe: `write_all_buf` advances the buffer by what was written,
    /// so a cancelled write leaves only the unsent tail, sent by the next call.
    async fn flush(&mut self) -> Result<(), ReplicationError> {
        self.io.write_all_buf(&mut self.write_buf).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Parses one complete message from the read buffer, if there is one.
    fn parse_buffered(&mut self) -> Result<Option<Backend>, ReplicationError> {
        let Some(header) = self.read_buf.get(..5) else {
            return Ok(None);
        };
        let tag = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if !(4..=MAX_BACKEND_MESSAGE_LEN).contains(&len) {
            return Err(ReplicationError::Protocol("backend message length out of range"));
        }
        if self.read_buf.len() < len + 1 {
            self.read_buf.reserve(len + 1 - self.read_buf.len());
            return Ok(None);
        }
        if tag == b'W' {
            // CopyBothResponse: format byte, column count, column formats; nothing we need.
            self.read_buf.advance(len + 1);
            return Ok(Some(Backend::CopyBothResponse));
        }
        match Message::parse(&mut self.read_buf).map_err(ReplicationError::Malformed)? {
            Some(message) => Ok(Some(Backend::Message(message))),
            None => Err(ReplicationError::Protocol("complete backend message did not parse")),
        }
    }

    /// Reads until one message is complete. Cancel-safe: bytes read stay buffered.
    async fn read_backend(&mut self) -> Result<Backend, ReplicationError> {
        loop {
            if let Some(b) = self.parse_buffered()? {
                return Ok(b);
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes; the end of the stream is an error here.
    async fn fill(&mut self) -> Result<(), ReplicationError> {
        if self.io.read_buf(&mut self.read_buf).await? == 0 {
            return Err(ReplicationError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(())
    }

    /// Handles the asynchronous messages that may arrive at any time.
    /// Returns the message back if it is not one of them.
    fn handle_async(&mut self, message: Message) -> Result<Option<Message>, ReplicationError> {
        match message {
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(ReplicationError::Malformed)?;
                let value = body.value().map_err(ReplicationError::Malformed)?;
                self.params.insert(name.to_owned(), value.to_owned());
                Ok(None)
            }
            Message::NoticeResponse(body) => {
                let notice = ServerError::from_fields(body.fields()).map_err(ReplicationError::Malformed)?;
                tracing::info!(code = %notice.code, message = %notice.message, "postgres notice");
                Ok(None)
            }
            Message::NotificationResponse(_) => Ok(None),
            Message::ErrorResponse(body) => {
                Err(ServerError::from_fields(body.fields()).map_err(ReplicationError::Malformed)?.into())
            }
            other => Ok(Some(other)),
        }
    }
}

/// A replication connection in its command phase.
pub struct ReplicationClient<S = BoxTransport> {
    conn: Conn<S>,
    status_interval: Duration,
    /// The walsender's process id (BackendKeyData), as `pg_replication_slots.active_pid` shows it.
    backend_pid: Option<i32>,
}

impl ReplicationClient<BoxTransport> {
    /// Opens a TCP connection, negotiates TLS as `config.tls` says (SSLRequest,
    /// handshake), then starts up and authenticates, all within
    /// `config.connect_timeout`.
    pub async fn connect(config: &ReplicationConfig) -> Result<Self, ReplicationError> {
        let work = async {
            let io = tls::connect(&config.host, config.port, &config.tls, config.connect_timeout).await?;
            Self::startup(io, config).await
        };
        tokio::time::timeout(config.connect_timeout, work).await.map_err(|_| ReplicationError::ConnectTimeout)?
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReplicationClient<S> {
    /// Starts up and authenticates over an already open stream (e.g. TLS),
    /// within `config.connect_timeout`.
    pub async fn connect_with_stream(io: S, config: &ReplicationConfig) -> Result<Self, ReplicationError> {
        tokio::time::timeout(config.connect_timeout, Self::startup(io, config))
            .await
            .map_err(|_| ReplicationError::ConnectTimeout)?
    }

    async fn startup(io: S, config: &ReplicationConfig) -> Result<Self, ReplicationError> {
        let mut conn =
            Conn { io, read_buf: BytesMut::with_capacity(8192), write_buf: BytesMut::new(), params: HashMap::new() };
        let params = [
            ("user", config.user.as_str()),
            ("database", config.dbname.as_str()),
            ("application_name", application_name(&config.application_name)),
            ("replication", "database"),
            ("client_encoding", "UTF8"),
        ];
        frontend::startup_message(params.iter().copied(), &mut conn.write_buf)?;
        conn.flush().await?;
        authenticate(&mut conn, config).await?;
        let mut backend_pid = None;
        loop {
            let Backend::Message(message) = conn.read_backend().await? else {
                return Err(ReplicationError::Protocol("CopyBothResponse during startup"));
            };
            match conn.handle_async(message)? {
                None => {}
                Some(Message::BackendKeyData(key)) => backend_pid = Some(key.process_id()),
                Some(Message::ReadyForQuery(_)) => break,
                Some(_) => return Err(ReplicationError::Protocol("unexpected message during startup")),
            }
        }
        tracing::debug!(host = %config.host, port = config.port, server_version = ?conn.params.get("server_version"), "replication connection ready");
        Ok(ReplicationClient { conn, status_interval: config.status_interval, backend_pid })
    }

    /// The walsender's process id, when the server sent it (it always does).
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_pid
    }

    /// The server's version as `server_version_num` (e.g. 150008 for 15.8),
    /// from the `server_version` ParameterStatus; 0 if it was not reported.
    pub fn server_version(&self) -> u32 {
        self.conn.params.get("server_version").map_or(0, |v| parse_server_version(v))
    }

    /// A ParameterStatus value the server reported (`server_version`, `TimeZone`, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.conn.params.get(name).map(String::as_str)
    }

    /// Runs a simple query and returns the text rows of all its result sets.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, ReplicationError> {
        frontend::query(sql, &mut self.conn.write_buf)?;
        self.conn.flush().await?;
        let mut rows = Vec::new();
        let mut failure = None;
        loop {
            let Backend::Message(message) = self.conn.read_backend().await? else {
                // Only START_REPLICATION enters CopyBoth; nothing here can leave it.
                return Err(ReplicationError::Protocol("CopyBothResponse to a simple query"));
            };
            let message = match self.conn.handle_async(message) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                // An ErrorResponse ends the query; ReadyForQuery still follows.
                Err(e @ ReplicationError::Server(_)) => {
                    failure.get_or_insert(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match message {
                Message::DataRow(body) => rows.push(data_row(&body)?),
                Message::RowDescription(_) | Message::CommandComplete(_) | Message::EmptyQueryResponse => {}
                Message::ReadyForQuery(_) => break,
                Message::CopyOutResponse(_) | Message::CopyInResponse(_) => {
                    return Err(ReplicationError::Protocol("COPY is not supported by simple_query"))
                }
                _ => return Err(ReplicationError::Protocol("unexpected message in simple query response")),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    /// `IDENTIFY_SYSTEM`.
    pub async fn identify_system(&mut self) -> Result<IdentifySystem, ReplicationError> {
        let rows = self.simple_query("IDENTIFY_SYSTEM").await?;
        let row = single_row(&rows, 4)?;
        let text = |i: usize| row[i].clone().ok_or(ReplicationError::Protocol("null column in IDENTIFY_SYSTEM"));
        Ok(IdentifySystem {
            systemid: text(0)?,
            timeline: text(1)?.parse().map_err(|_| ReplicationError::Protocol("IDENTIFY_SYSTEM timeline"))?,
            xlogpos: text(2)?.parse().map_err(|_| ReplicationError::Protocol("IDENTIFY_SYSTEM xlogpos"))?,
            dbname: row[3].clone(),
        })
    }

    /// `CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput ...`, in
    /// the PostgreSQL 15 option syntax, or the older keyword syntax before 15.
    pub async fn create_logical_slot(
        &mut self,
        name: &str,
        temporary: bool,
        snapshot: SlotSnapshot,
    ) -> Result<CreatedSlot, ReplicationError> {
        self.create_logical_slot_with(name, temporary, snapshot, false).await
    }

    /// [`create_logical_slot`](Self::create_logical_slot), with `FAILOVER`
    /// when `failover` (PostgreSQL 17+: standbys with
    /// `sync_replication_slots` keep a copy of the slot).
    pub async fn create_logical_slot_with(
        &mut self,
        name: &str,
        temporary: bool,
        snapshot: SlotSnapshot,
        failover: bool,
    ) -> Result<CreatedSlot, ReplicationError> {
        check_slot_name(name)?;
        let sql = create_slot_command(name, temporary, snapshot, failover, self.server_version());
        let rows = self.simple_query(&sql).await?;
        let row = single_row(&rows, 4)?;
        let consistent_point = row[1]
            .as_deref()
            .ok_or(ReplicationError::Protocol("null consistent_point"))?
            .parse()
            .map_err(|_| ReplicationError::Protocol("CREATE_REPLICATION_SLOT consistent_point"))?;
        Ok(CreatedSlot {
            slot_name: row[0].clone().ok_or(ReplicationError::Protocol("null slot_name"))?,
            consistent_point,
            snapshot_name: row[2].clone(),
        })
    }

    /// `ALTER_REPLICATION_SLOT name (FAILOVER b)` (PostgreSQL 17+), on a
    /// slot no process streams from.
    pub async fn alter_slot_failover(&mut self, name: &str, failover: bool) -> Result<(), ReplicationError> {
        check_slot_name(name)?;
        self.simple_query(&format!("ALTER_REPLICATION_SLOT {name} (FAILOVER {failover})")).await.map(drop)
    }

    /// `DROP_REPLICATION_SLOT name [WAIT]`; WAIT blocks while another process holds it.
    pub async fn drop_slot(&mut self, name: &str, wait: bool) -> Result<(), ReplicationError> {
        check_slot_name(name)?;
        let wait = if wait { " WAIT" } else { "" };
        self.simple_query(&format!("DROP_REPLICATION_SLOT {name}{wait}")).await.map(drop)
    }

    /// `START_REPLICATION SLOT slot LOGICAL start (options)`: enters CopyBoth.
    ///
    /// `start` = 0/0 resumes at the slot's `confirmed_flush_lsn`. The stream's
    /// flush position starts at `start` (see the module docs).
    pub async fn start_replication(
        mut self,
        slot: &str,
        start: Lsn,
        options: &StartOptions,
    ) -> Result<ReplicationStream<S>, ReplicationError> {
        check_slot_name(slot)?;
        let sql = format!("START_REPLICATION SLOT {slot} LOGICAL {start} ({})", options.render());
        frontend::query(&sql, &mut self.conn.write_buf)?;
        self.conn.flush().await?;
        let mut failure = None;
        loop {
            let message = match self.conn.read_backend().await? {
                Backend::CopyBothResponse if failure.is_none() => break,
                Backend::CopyBothResponse => return Err(ReplicationError::Protocol("CopyBothResponse after error")),
                Backend::Message(m) => m,
            };
            match self.conn.handle_async(message) {
                Ok(None) => {}
                Ok(Some(Message::ReadyForQuery(_))) => {
                    return Err(failure.unwrap_or(ReplicationError::Protocol("START_REPLICATION returned no stream")))
                }
                Ok(Some(_)) => return Err(ReplicationError::Protocol("unexpected reply to START_REPLICATION")),
                Err(e @ ReplicationError::Server(_)) => failure = Some(e),
                Err(e) => return Err(e),
            }
        }
        tracing::info!(slot, start = %start, "replication started");
        Ok(ReplicationStream::new(self.conn, start, self.status_interval).with_backend_pid(self.backend_pid))
    }

    /// Sends Terminate and closes the connection.
    pub async fn close(mut self) -> Result<(), ReplicationError> {
        frontend::terminate(&mut self.conn.write_buf);
        self.conn.flush().await?;
        self.conn.io.shutdown().await?;
        Ok(())
    }
}

/// The `CREATE_REPLICATION_SLOT` command for a server of `server_version`:
/// the option list from PostgreSQL 15 (`FAILOVER` is 17's), the keywords before.
fn create_slot_command(name: &str, temporary: bool, snapshot: SlotSnapshot, failover: bool, server_version: u32) -> String {
    let temp = if temporary { " TEMPORARY" } else { "" };
    let snap = if server_version >= 150_000 {
        let mode = match snapshot {
            SlotSnapshot::Export => "'export'",
            SlotSnapshot::NoExport => "'nothing'",
        };
        let failover = if failover { ", FAILOVER true" } else { "" };
        format!(" (SNAPSHOT {mode}{failover})")
    } else {
        match snapshot {
            SlotSnapshot::Export => " EXPORT_SNAPSHOT".to_owned(),
            SlotSnapshot::NoExport => " NOEXPORT_SNAPSHOT".to_owned(),
        }
    };
    format!("CREATE_REPLICATION_SLOT {name}{temp} LOGICAL pgoutput{snap}")
}

/// Answers the server's authentication requests until AuthenticationOk.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &ReplicationConfig,
) -> Result<(), ReplicationError> {
    let password = || {
        config.password.as_ref().map(|p| p.expose().as_bytes()).ok_or(ReplicationError::Auth {
            reason: "the server asks for a password but none is configured",
            source: None,
        })
    };
    let scram_err = |source| ReplicationError::Auth { reason: "SCRAM-SHA-256 exchange failed", source: Some(source) };
    let mut scram: Option<ScramSha256> = None;
    loop {
        let Backend::Message(message) = conn.read_backend().await? else {
            return Err(ReplicationError::Protocol("CopyBothResponse during authentication"));
        };
        let Some(message) = conn.handle_async(message)? else {
            continue;
        };
        match message {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(password()?, &mut conn.write_buf)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(config.user.as_bytes(), password()?, body.salt());
                frontend::password_message(hash.as_bytes(), &mut conn.write_buf)?;
            }
            Message::AuthenticationSasl(body) => {
                let mut mechanisms = body.mechanisms();
                let mut offered = false;
                while let Some(m) = mechanisms.next().map_err(ReplicationError::Malformed)? {
                    offered |= m == SCRAM_SHA_256;
                }
                if !offered {
                    return Err(ReplicationError::Auth {
                        reason: "the server offers no SASL mechanism we support",
                        source: None,
                    });
                }
                // No channel binding (tls-server-end-point is not implemented):
                // the server accepts that unless the client demands binding.
                let client = ScramSha256::new(password()?, ChannelBinding::unsupported());
                frontend::sasl_initial_response(SCRAM_SHA_256, client.message(), &mut conn.write_buf)?;
                scram = Some(client);
            }
            Message::AuthenticationSaslContinue(body) => {
                let client = scram.as_mut().ok_or(ReplicationError::Protocol("SASL continue without SASL start"))?;
                client.update(body.data()).map_err(scram_err)?;
                frontend::sasl_response(client.message(), &mut conn.write_buf)?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let client = scram.as_mut().ok_or(ReplicationError::Protocol("SASL final without SASL start"))?;
                client.finish(body.data()).map_err(scram_err)?;
                continue;
            }
            Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential
            | Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationSspi => {
                return Err(ReplicationError::Auth {
                    reason: "unsupported authentication method requested",
                    source: None,
                })
            }
            _ => return Err(ReplicationError::Protocol("unexpected message during authentication")),
        }
        conn.flush().await?;
    }
}

fn data_row(body: &postgres_protocol::message::backend::DataRowBody) -> Result<Vec<Option<String>>, ReplicationError> {
    let buf = body.buffer();
    let mut ranges = body.ranges();
    let mut row = Vec::new();
    while let Some(range) = ranges.next().map_err(ReplicationError::Malformed)? {
        row.push(match range {
            None => None,
            Some(r) => Some(
                std::str::from_utf8(&buf[r])
                    .map_err(|_| ReplicationError::Protocol("non-UTF-8 text in a data row"))?
                    .to_owned(),
            ),
        });
    }
    Ok(row)
}

fn single_row(rows: &[Vec<Option<String>>], min_columns: usize) -> Result<&Vec<Option<String>>, ReplicationError> {
    match rows {
        [row] if row.len() >= min_columns => Ok(row),
        _ => Err(ReplicationError::Protocol("expected one row with the documented columns")),
    }
}

/// Slot names: 1–63 of `[a-z0-9_]` (PostgreSQL's own rule), so they need no quoting.
fn check_slot_name(name: &str) -> Result<(), ReplicationError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ReplicationError::InvalidArgument {
            what: "replication slot name",
            value: name.to_owned(),
            constraint: "use 1-63 lower-case letters, digits or underscores",
        })
    }
}

/// `name` cut to PostgreSQL's 63 bytes (NAMEDATALEN - 1) at a character
/// boundary: the server keeps no more, and a long value makes the startup
/// packet exceed its limit (the server then drops the connection).
fn application_name(name: &str) -> &str {
    const MAX: usize = 63;
    if name.len() <= MAX {
        return name;
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// `"ident"` with embedded quotes doubled.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `'literal'` with embedded quotes doubled.
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `15.8 (Debian 15.8-1)` → 150008, `9.6.24` → 90624, `16beta2` → 160000.
fn parse_server_version(v: &str) -> u32 {
    let numeric: String = v.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let mut parts = numeric.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let second = parts.next().unwrap_or(0);
    if major >= 10 {
        major.saturating_mul(10_000).saturating_add(second)
    } else {
        let third = parts.next().unwrap_or(0);
        major.saturating_mul(10_000).saturating_add(second.saturating_mul(100)).saturating_add(third)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_parse_like_server_version_num() {
        assert_eq!(parse_server_version("15.8 (Debian 15.8-0+deb12u1)"), 150008);
        assert_eq!(parse_server_version("14.2"), 140002);
        assert_eq!(parse_server_version("16beta2"), 160000);
        assert_eq!(parse_server_version("9.6.24"), 90624);
        assert_eq!(parse_server_version("garbage"), 0);
    }

    #[test]
    fn start_options_render_quoted() {
        let mut o = StartOptions::new(vec!["pub".into(), "we\"ird'one".into()]);
        assert_eq!(o.render(), r#"proto_version '1', publication_names '"pub","we""ird''one"'"#);
        o.proto_version = 2;
        o.messages = true;
        o.streaming = Streaming::On;
        assert_eq!(
            o.render(),
            r#"proto_version '2', publication_names '"pub","we""ird''one"', messages 'true', streaming 'on'"#
        );
    }

    #[test]
    fn application_name_is_cut_to_63_bytes_at_a_char_boundary() {
        assert_eq!(application_name("pgcdc-c"), "pgcdc-c");
        let long = format!("pgcdc-{}", "x".repeat(10_000));
        assert_eq!(application_name(&long).len(), 63);
        // 'é' is 2 bytes: 6 + 28 * 2 = 62, the next one would end at byte 64.
        let accents = format!("pgcdc-{}", "é".repeat(40));
        assert_eq!(application_name(&accents), format!("pgcdc-{}", "é".repeat(28)));
    }

    #[test]
    fn create_slot_command_follows_the_server_version() {
        let cmd = |failover, version| create_slot_command("s", false, SlotSnapshot::Export, failover, version);
        assert_eq!(cmd(false, 170_000), "CREATE_REPLICATION_SLOT s LOGICAL pgoutput (SNAPSHOT 'export')");
        assert_eq!(cmd(true, 170_000), "CREATE_REPLICATION_SLOT s LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)");
        assert_eq!(cmd(false, 140_000), "CREATE_REPLICATION_SLOT s LOGICAL pgoutput EXPORT_SNAPSHOT");
        assert_eq!(
            create_slot_command("t", true, SlotSnapshot::NoExport, false, 160_000),
            "CREATE_REPLICATION_SLOT t TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing')"
        );
    }

    #[test]
    fn slot_names_are_checked() {
        assert!(check_slot_name("pgcdc_slot_1").is_ok());
        for bad in ["", "Upper", "semi;colon", "a b", &"x".repeat(64)] {
            assert!(check_slot_name(bad).is_err(), "{bad:?}");
        }
    }
}
