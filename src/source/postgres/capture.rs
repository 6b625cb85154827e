//! The source task: publication, slot, replication stream, decoding.
//!
//! ```text
//!   catalog client ──▶ tables, publication, slot state, Relation lookups
//!   replication    ──▶ XLogData ──pgoutput::decode──▶ ChangeDecoder ──▶ mpsc<SourceEvent>
//!                  ◀── flush = durable LSN (watch from the sink), never beyond it
//! ```
//!
//! - Resume point: the later of the stored offset (the last transaction in
//!   Kafka, see `crate::offsets`) and the slot's `confirmed_flush_lsn`.
//!   START_REPLICATION starts there and the decoder drops every transaction
//!   that ended at or before the stored offset — the slot lags Kafka when the
//!   process died between a Kafka commit and the next standby status.
//! - The flush position reported is only ever what the sink made durable.
//! - A slot still held by a previous instance (killed, or being fenced) is
//!   waited for up to [`SLOT_BUSY_WAIT`] before giving up; the walsender
//!   that streams is reported ([`PostgresSource::walsender`]) for the
//!   restart check of `super::ownership`.
//! - While the downstream channel is full the task still answers the server
//!   (standby status every status interval), so a slow or stopped broker does
//!   not trip `wal_sender_timeout`.
//! - A keepalive outside a transaction becomes `Idle { lsn: wal_end }`: the
//!   server has sent every commit before `wal_end`, so once they are durable
//!   the slot may advance there even when no captured table changed.
//! - Heartbeats (`heartbeat.interval.ms` > 0, see `crate::heartbeat`): at
//!   each interval `heartbeat.action.query` runs on the catalog connection,
//!   and outside a transaction the source sends `Idle { lsn: received }` —
//!   the highest position received, past every commit already forwarded —
//!   so the sink beats (heartbeat + offset) even when the server sends no
//!   keepalive because nothing happens.
//! - Protocol: the highest pgoutput `proto_version` the server speaks
//!   ([`negotiate`]: 1 before PostgreSQL 14, 2 on 14–15, 4 on 16+) and, with
//!   `pgcdc.streaming` on PostgreSQL 14+, `streaming 'on'`: stream blocks of
//!   in-progress transactions go to [`StreamSpool`] files and are replayed at
//!   Stream Commit through the same decoder, as one Begin … Commit, so the
//!   events do not change (see `spill`). While a replay runs, events are
//!   forwarded one message at a time (memory stays bounded). Between stream
//!   blocks the decoder is outside a transaction, so keepalives still confirm
//!   `wal_end`: an uncommitted streamed transaction is streamed again from
//!   its start after a restart (the slot's restart point stays before it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::connector::{ConnectorConfig, PgConnection, TableFilter};
use crate::error::{Classify, ErrorClass};
use crate::event::{Row, SourceEvent, TableId, TableSchema};
use crate::lsn::Lsn;
use crate::offsets::SourceOffset;

use super::catalog::{self, classify_pg, CatalogError};
use super::columns::ColumnRules;
use super::decoder::{ChangeDecoder, DecoderError, RelationLookup};
use super::pgoutput::{self, DecodeError, PgOutputMessage, RelationBody, TupleData};
use super::relation::{RelationCache, RelationError};
use super::replication::{
    BoxTransport, ReplicationClient, ReplicationConfig, ReplicationError, ReplicationMessage, ReplicationStream,
    SlotSnapshot, StartOptions, Streaming, DEFAULT_STATUS_INTERVAL,
};
use super::signals::Signals;
use super::snapshot::{self, ExportedSnapshot, SnapshotError, SnapshotJob};
use super::spill::{Replay, SpillError, StreamSpool};
use super::tls::{PgTls, TlsError};
use super::value::ValueOptions;
use super::wal_bound::{self, WalBoundError};

/// How long to wait for a slot another process still holds: longer than an
/// instance this one fenced may take to let go of it. A broker that drops a
/// fenced producer's requests instead of answering PRODUCER_FENCED (tansu)
/// leaves that instance waiting for its commit to time out
/// ([`TXN_TIMEOUT`](crate::kafka::TXN_TIMEOUT)); it releases the slot
/// right after (see `crate::pipeline`).
pub const SLOT_BUSY_WAIT: Duration = Duration::from_secs(crate::kafka::TXN_TIMEOUT.as_secs() + 30);
/// Pause between two attempts to start streaming from a busy slot.
const SLOT_BUSY_RETRY: Duration = Duration::from_millis(500);
/// SQLSTATE object_in_use: the slot is active for another process.
const OBJECT_IN_USE: &str = "55006";

/// Errors of the PostgreSQL source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot connect to PostgreSQL at {host}:{port} for catalog queries")]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error("cannot decode a pgoutput message")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Decoder(#[from] DecoderError<LookupError>),
    #[error("slot {slot:?} belongs to database {found:?} or plugin {plugin:?}, not {expected:?} with pgoutput: use another slot.name")]
    ForeignSlot { slot: String, expected: String, found: String, plugin: String },
    #[error("the replication stream ended")]
    StreamEnded,
    #[error("heartbeat.action.query failed: fix the statement or its permissions")]
    HeartbeatQuery(#[source] tokio_postgres::Error),
    #[error("database.initial.statements: {statement:?} failed: fix the statement or its permissions")]
    InitialStatement {
        statement: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("reporting LSN {lsn} as flushed took longer than lsn.flush.timeout.ms={timeout_ms} (lsn.flush.timeout.action=fail; warn or ignore would go on)")]
    LsnFlushTimeout { lsn: Lsn, timeout_ms: u64 },
    #[error(transparent)]
    Spill(#[from] SpillError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    WalBound(#[from] WalBoundError),
    #[error("{message}")]
    Hosts { message: String },
    #[error("none of the hosts in database.hostname ({hosts}) is a read-write primary ({tried}): retrying, a standby may be being promoted; if none ever is, list the primary in database.hostname")]
    NoPrimary {
        hosts: String,
        tried: String,
        #[source]
        last: Option<Box<SourceError>>,
    },
    #[error(
        "replication slot {slot:?} does not exist on {server}, but connector {connector} has a stored offset (lsn {stored}): \
         the changes after {stored} are lost (the slot was dropped, or {server} is a promoted standby the slot was not \
         synchronized to: set slot.failover=true on PostgreSQL 17+ with sync_replication_slots=on on the standbys). \
         Not creating the slot again, which would skip them silently. Fix: set snapshot.mode=when_needed to re-read \
         the tables, or PUT /connectors/{connector}/stop, DELETE /connectors/{connector}/offsets, PUT /connectors/{connector}/resume \
         to start over from a new snapshot"
    )]
    SlotMissing { connector: String, slot: String, server: String, stored: Lsn },
    #[error(
        "replication slot {slot:?} was invalidated by the server (invalidation_reason={reason}, wal_status={wal_status}): \
         the WAL it needed is gone (max_slot_wal_keep_size exceeded while the connector was behind or stopped, or a \
         conflict on a standby), so changes were lost. Fix: raise max_slot_wal_keep_size (or -1), drop the slot \
         (SELECT pg_drop_replication_slot('{slot}')) and restart the connector with snapshot.mode=when_needed to re-read the tables"
    )]
    SlotInvalidated { slot: String, reason: String, wal_status: String },
    #[error("slot.failover=true needs PostgreSQL 17 or later (failover slots); this server is {version}: set slot.failover=false, or upgrade (on 16, a connector can decode from a standby instead)")]
    FailoverUnsupported { version: String },
    #[error("this instance was fenced: replication slot {slot:?} was taken over by another process (PID {pid}) while this task restarted, most likely a newer instance of this connector; not taking it back (stop the other consumer, see pg_stat_replication, then restart this connector)")]
    Replaced { slot: String, pid: i32 },
}

impl Classify for SourceError {
    fn class(&self) -> ErrorClass {
        match self {
            SourceError::Connect { source, .. } => classify_pg(source),
            SourceError::Tls(e) => e.class(),
            SourceError::ForeignSlot { .. } => ErrorClass::Fatal,
            SourceError::Catalog(e) => e.class(),
            SourceError::Replication(e) => e.class(),
            SourceError::Decode(_) => ErrorClass::Fatal,
            SourceError::Decoder(DecoderError::Lookup(e)) => e.class(),
            SourceError::Decoder(_) => ErrorClass::Fatal,
            SourceError::StreamEnded => ErrorClass::Transient,
            SourceError::HeartbeatQuery(e) => classify_pg(e),
            SourceError::InitialStatement { source, .. } => classify_pg(source),
            SourceError::LsnFlushTimeout { .. } => ErrorClass::Fatal,
            // A directory others could tamper with stays so until an operator acts.
            SourceError::Spill(SpillError::UnsafeDir(_)) => ErrorClass::Fatal,
            // Disk trouble or a protocol violation: a restart starts the stream over.
            SourceError::Spill(_) => ErrorClass::Transient,
            SourceError::Snapshot(e) => e.class(),
            SourceError::WalBound(e) => e.class(),
            // Retrying would fence the new owner.
            SourceError::Replaced { .. } => ErrorClass::Fatal,
            SourceError::Hosts { .. } => ErrorClass::Fatal,
            // A standby being promoted, or hosts restarting.
            SourceError::NoPrimary { .. } => ErrorClass::Transient,
            // Retrying cannot bring the changes back: an operator decides.
            SourceError::SlotMissing { .. } | SourceError::SlotInvalidated { .. } => ErrorClass::Fatal,
            SourceError::FailoverUnsupported { .. } => ErrorClass::Fatal,
        }
    }
}

/// Errors of relation lookups (catalog + cache).
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Relation(#[from] RelationError),
}

impl Classify for LookupError {
    fn class(&self) -> ErrorClass {
        match self {
            LookupError::Catalog(e) => e.class(),
            LookupError::Relation(e) => e.class(),
        }
    }
}

/// The pgoutput `proto_version` and streaming mode for a server of
/// `server_version_num` (0 when unknown): protocol 2 (streaming) from
/// PostgreSQL 14, 4 from 16 (3 only adds two-phase, which is not used);
/// streaming only when `streaming` is asked for and the protocol has it.
pub fn negotiate(server_version: u32, streaming: bool) -> (u32, Streaming) {
    let proto = match server_version {
        v if v >= 160_000 => 4,
        v if v >= 140_000 => 2,
        _ => 1,
    };
    (proto, if streaming && proto >= 2 { Streaming::On } else { Streaming::Off })
}

/// The relation cache, filled from the catalog on Relation messages.
pub(crate) struct CatalogLookup {
    client: tokio_postgres::Client,
    cache: RelationCache,
    values: ValueOptions,
}

impl CatalogLookup {
    /// A lookup over `client` with the connector's column rules and value options.
    pub(crate) fn new(client: tokio_postgres::Client, config: &ConnectorConfig) -> Self {
        CatalogLookup {
            client,
            cache: RelationCache::with_rules(ColumnRules::new(&config.columns)),
            values: config.values.clone(),
        }
    }
}

impl RelationLookup for CatalogLookup {
    type Error = LookupError;

    async fn relation(&mut self, body: &RelationBody) -> Result<Arc<TableSchema>, LookupError> {
        let mut table = catalog::load_table(&self.client, body.relation_id).await?;
        let columns = body.columns.iter().map(|c| (c.name.clone(), c.type_oid)).collect();
        catalog::resolve_message_types(&self.client, &mut table, columns).await?;
        Ok(self.cache.apply(body, &table, &self.values)?)
    }

    fn table(&self, relation_id: u32) -> Option<Arc<TableSchema>> {
        self.cache.get(relation_id).map(|c| c.table.clone())
    }

    fn row(&self, table: &TableSchema, tuple: &TupleData) -> Result<Row, LookupError> {
        Ok(self.cache.require(table.relation_id)?.decode_row(tuple, &self.values)?)
    }
}

/// A regular (catalog) connection to the connector's database, with TLS as
/// `database.sslmode` says; also returns the TLS settings for the
/// replication connection. The connection task runs in the background. With
/// several hosts in `database.hostname`, the read-write one (see `failover`).
pub async fn catalog_client(conn: &PgConnection) -> Result<(tokio_postgres::Client, PgTls), SourceError> {
    failover::connect_primary(conn).await.map(|(client, tls, _)| (client, tls))
}

/// A connected source: publication and slot ready, the initial snapshot
/// (if one is due) exported; [`run`](Self::run) reads the snapshot, then
/// streams from the slot.
pub struct PostgresSource {
    config: ConnectorConfig,
    client: tokio_postgres::Client,
    repl: ReplicationClient<BoxTransport>,
    repl_config: ReplicationConfig,
    /// The slot's confirmed position when connecting (or its creation point).
    slot_lsn: Lsn,
    /// Transactions that ended at or before it are already in Kafka.
    stored: Option<Lsn>,
    /// The stored `lsn_commit` (the first half of the next event's `sequence`).
    last_commit: Option<Lsn>,
    /// Per-table floors (see `snapshot`).
    floors: HashMap<TableId, Lsn>,
    snapshot: Option<PendingSnapshot>,
    /// Stream after the snapshot (false for `snapshot.mode=initial_only`).
    stream: bool,
    /// The stored progress of an incremental snapshot to resume.
    incremental: Option<crate::progress::IncrementalProgress>,
    /// Where streamed transactions are spilled (`worker.spill_dir`, default `$TMPDIR`).
    spill_dir: std::path::PathBuf,
    /// The walsender process streaming from the slot, once it streams.
    walsender: watch::Sender<Option<i32>>,
}

/// A snapshot to read before streaming.
struct PendingSnapshot {
    job: SnapshotJob,
    /// The connection of the temporary slot that exported the snapshot
    /// (when the connector's slot existed already): the snapshot lives as
    /// long as it is open and idle.
    _exporter: Option<ReplicationClient<BoxTransport>>,
}

impl PostgresSource {
    /// Connect, make sure publication and slot exist; with no stored offset.
    pub async fn connect(config: &ConnectorConfig) -> Result<Self, SourceError> {
        Self::connect_resuming(config, None).await
    }

    /// Connect with the connector's stored offset: it says where streaming
    /// resumes (transactions ending at or before it are dropped) and,
    /// with `snapshot.mode`, whether a snapshot is due (see
    /// [`snapshot::decide`]). A due snapshot is exported now: by the slot
    /// when it is created here, else by a temporary slot.
    pub async fn connect_resuming(config: &ConnectorConfig, stored: Option<&SourceOffset>) -> Result<Self, SourceError> {
        let conn = &config.connection;
        let (client, tls, server) = failover::connect_primary(conn).await?;

        let filter: TableFilter = config.table_filter();
        let tables = catalog::list_tables(&client, &|t: &TableId| filter.matches(t)).await?;
        tracing::info!(tables = tables.len(), "captured tables found");
        catalog::ensure_publication(&client, &config.publication_name, config.publication_autocreate_mode, &tables)
            .await?;

        let mut repl_config = ReplicationConfig::new(&server.0, server.1, &conn.user, &conn.dbname);
        repl_config.password = conn.password.clone();
        repl_config.tls = tls;
        repl_config.application_name = format!("pgcdc-{}", config.name);
        repl_config.status_interval = config.slot.status_update_interval;
        let mut repl = ReplicationClient::connect(&repl_config).await?;

        let stored_lsn = stored.and_then(SourceOffset::resume_lsn);
        let slot = catalog::slot_info(&client, &config.slot_name).await?;
        if let Some(slot) = &slot {
            let plugin = slot.plugin.clone().unwrap_or_default();
            let database = slot.database.clone().unwrap_or_default();
            if plugin != "pgoutput" || database != conn.dbname {
                return Err(SourceError::ForeignSlot {
                    slot: config.slot_name.clone(),
                    expected: conn.dbname.clone(),
                    found: database,
                    plugin,
                });
            }
        }
        let confirmed = slot.as_ref().and_then(|s| s.confirmed_flush_lsn);
        wal_bound::check(&client, &config.name, &config.slot_name, stored_lsn, confirmed).await?;
        // The slot may be ahead of the stored offset (it is confirmed past
        // idle stretches without an offset record): only a missing slot has
        // lost the WAL after the stored offset.
        let wal_kept = slot.is_some();
        let decision = snapshot::decide(config.snapshot_mode, stored, wal_kept);
        failover::check_slot(config, &server, slot.as_ref(), stored_lsn, decision.stream)?;
        if stored_lsn.is_some() && !wal_kept {
            tracing::warn!(slot = %config.slot_name, "the slot no longer holds the WAL after the stored offset: \
                changes in between are lost unless a snapshot is taken (snapshot.mode=when_needed)");
        }
        if decision.stream {
            failover::ensure_failover(config, &mut repl, slot.as_ref()).await?;
        }
        let (slot_lsn, mut exported, mut exporter) = match confirmed.or(slot.as_ref().map(|_| Lsn::ZERO)) {
            Some(lsn) => (lsn, None, None),
            // initial_only never streams: no slot to pin WAL, only the
            // temporary one that exports the snapshot.
            None if !decision.stream => (Lsn::ZERO, None, None),
            None => {
                let mode = if decision.take { SlotSnapshot::Export } else { SlotSnapshot::NoExport };
                let created =
                    repl.create_logical_slot_with(&config.slot_name, false, mode, config.slot.failover).await?;
                tracing::info!(slot = %config.slot_name, lsn = %created.consistent_point, "created replication slot");
                let exported = created
                    .snapshot_name
                    .map(|name| ExportedSnapshot { name, lsn: created.consistent_point });
                (created.consistent_point, exported, None)
            }
        };
        if decision.take && exported.is_none() {
            // The slot exists: a temporary slot exports a snapshot of its own.
            let mut temp = ReplicationClient::connect(&repl_config).await?;
            let name = temporary_slot_name(&config.slot_name);
            let created = temp.create_logical_slot(&name, true, SlotSnapshot::Export).await?;
            tracing::info!(slot = %name, lsn = %created.consistent_point, "temporary slot exported a snapshot");
            exported = created.snapshot_name.map(|n| ExportedSnapshot { name: n, lsn: created.consistent_point });
            exporter = Some(temp);
        }
        let snapshot = match (decision.take, exported) {
            (true, Some(exported)) => {
                let selected = config.snapshot_filter();
                let tables = tables
                    .into_iter()
                    .filter(|t| {
                        let name = t.to_string();
                        !decision.done.contains_key(&snapshot::table_key(t))
                            && (selected.is_empty() || selected.iter().any(|r| r.is_match(&name)))
                    })
                    .collect();
                let job = SnapshotJob {
                    exported,
                    tables,
                    done: decision.done,
                    reading: decision.reading,
                    server_version: repl.server_version(),
                };
                Some(PendingSnapshot { job, _exporter: exporter })
            }
            (true, None) => return Err(SourceError::Replication(ReplicationError::Protocol("no exported snapshot"))),
            (false, _) => None,
        };
        let floors = stored
            .map(SourceOffset::floors)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(t, l)| snapshot::parse_table_key(&t).map(|id| (id, l)))
            .collect();
        Ok(PostgresSource {
            config: config.clone(),
            client,
            repl,
            repl_config,
            slot_lsn,
            stored: stored_lsn,
            // Debezium's loader: lsn_commit, else lsn_proc; an offset written
            // by a snapshot has no last commit.
            last_commit: stored
                .and_then(|o| if o.snapshot.is_some() { o.lsn_commit } else { o.lsn_commit.or(o.lsn_proc) })
                .map(Lsn),
            floors,
            snapshot,
            stream: decision.stream,
            incremental: stored.and_then(|o| o.incremental.clone()),
            spill_dir: std::env::temp_dir(),
            walsender: watch::Sender::new(None),
        })
    }

    /// Spill streamed transactions under `dir` instead of `$TMPDIR`.
    pub fn set_spill_dir(&mut self, dir: std::path::PathBuf) {
        self.spill_dir = dir;
    }

    /// The process id of the walsender streaming from the slot, set once
    /// streaming started.
    pub fn walsender(&self) -> watch::Receiver<Option<i32>> {
        self.walsender.subscribe()
    }

    /// Whether an initial snapshot runs before streaming.
    pub fn snapshot_pending(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Reads the snapshot (if due), then streams until `shutdown` or an
    /// error. `durable` carries the position the sink made durable; it is
    /// reported to the server as flushed.
    pub async fn run(
        self,
        events: mpsc::Sender<SourceEvent>,
        durable: watch::Receiver<Lsn>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        let PostgresSource {
            config,
            client,
            repl,
            repl_config,
            slot_lsn,
            mut stored,
            mut last_commit,
            mut floors,
            snapshot,
            stream,
            incremental,
            spill_dir,
            walsender,
        } = self;
        if let Some(pending) = snapshot {
            match snapshot::run(&config, pending.job, &events, &mut shutdown).await? {
                Some(outcome) => {
                    stored = Some(outcome.resume);
                    // Debezium streams on after a snapshot without a last commit.
                    last_commit = None;
                    floors = outcome.floors;
                }
                None => return Ok(()),
            }
        }
        if !stream {
            tracing::info!("snapshot.mode=initial_only: not streaming");
            crate::shutdown::stopped(&mut shutdown).await;
            return Ok(());
        }
        let position = Position { slot_lsn, stored, last_commit, floors, incremental, spill_dir };
        let started = Streamer::start(&config, client, repl, &repl_config, position, &mut shutdown).await?;
        let Some((streamer, pid)) = started else { return Ok(()) };
        walsender.send_replace(pid);
        streamer.run(events, durable, shutdown).await
    }
}

/// The temporary slot exporting a snapshot for `slot`: `<slot>_snap`
/// (within PostgreSQL's 63 characters).
fn temporary_slot_name(slot: &str) -> String {
    let mut base: String = slot.chars().take(63 - "_snap".len()).collect();
    base.push_str("_snap");
    base
}

mod failover;
mod streamer;

use streamer::{Position, Streamer};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_follows_the_server_version() {
        assert_eq!(negotiate(130_012, true), (1, Streaming::Off), "no streaming before 14");
        assert_eq!(negotiate(140_000, true), (2, Streaming::On));
        assert_eq!(negotiate(150_008, false), (2, Streaming::Off), "pgcdc.streaming=false");
        assert_eq!(negotiate(160_002, true), (4, Streaming::On));
        assert_eq!(negotiate(170_000, true), (4, Streaming::On));
        assert_eq!(negotiate(0, true), (1, Streaming::Off), "unknown version: the oldest protocol");
    }
}
