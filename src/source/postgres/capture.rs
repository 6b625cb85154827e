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
use tokio_postgres::NoTls;

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
use super::tls::{self, PgTls, TlsError, TlsOptions};
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
        let table = catalog::load_table(&self.client, body.relation_id).await?;
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
/// replication connection. The connection task runs in the background.
pub async fn catalog_client(conn: &PgConnection) -> Result<(tokio_postgres::Client, PgTls), SourceError> {
    // TLS is negotiated by `tls` for both connections; tokio-postgres gets
    // the ready stream (its own TLS handling stays off).
    let tls = PgTls::new(&TlsOptions::from_connection(conn))?;
    let mut pg = tokio_postgres::Config::new();
    pg.user(&conn.user)
        .dbname(&conn.dbname)
        .application_name("pgcdc")
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    if let Some(p) = &conn.password {
        pg.password(p.expose());
    }
    let io = tls::connect(&conn.host, conn.port, &tls, Duration::from_secs(10)).await?;
    let (client, connection) = pg.connect_raw(io, NoTls).await.map_err(|source| SourceError::Connect {
        host: conn.host.clone(),
        port: conn.port,
        source,
    })?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "catalog connection ended");
        }
    });
    // Literals built here (incremental snapshot keys) double quotes only.
    client
        .batch_execute("SET standard_conforming_strings = on")
        .await
        .map_err(|source| SourceError::Connect { host: conn.host.clone(), port: conn.port, source })?;
    // `database.initial.statements`, in order, as Debezium runs them on
    // its JDBC connections (never on the replication connection).
    for statement in &conn.initial_statements {
        client
            .batch_execute(statement)
            .await
            .map_err(|source| SourceError::InitialStatement { statement: statement.clone(), source })?;
    }
    Ok((client, tls))
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
        let (client, tls) = catalog_client(conn).await?;

        let filter: TableFilter = config.table_filter();
        let tables = catalog::list_tables(&client, &|t: &TableId| filter.matches(t)).await?;
        tracing::info!(tables = tables.len(), "captured tables found");
        catalog::ensure_publication(&client, &config.publication_name, config.publication_autocreate_mode, &tables)
            .await?;

        let mut repl_config = ReplicationConfig::new(&conn.host, conn.port, &conn.user, &conn.dbname);
        repl_config.password = conn.password.clone();
        repl_config.tls = tls;
        repl_config.application_name = format!("pgcdc-{}", config.name);
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
        if stored_lsn.is_some() && !wal_kept {
            tracing::warn!(slot = %config.slot_name, "the slot no longer holds the WAL after the stored offset: \
                changes in between are lost unless a snapshot is taken (snapshot.mode=when_needed)");
        }
        let decision = snapshot::decide(config.snapshot_mode, stored, wal_kept);
        let (slot_lsn, mut exported, mut exporter) = match confirmed.or(slot.as_ref().map(|_| Lsn::ZERO)) {
            Some(lsn) => (lsn, None, None),
            // initial_only never streams: no slot to pin WAL, only the
            // temporary one that exports the snapshot.
            None if !decision.stream => (Lsn::ZERO, None, None),
            None => {
                let mode = if decision.take { SlotSnapshot::Export } else { SlotSnapshot::NoExport };
                let created = repl.create_logical_slot(&config.slot_name, false, mode).await?;
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

/// Where streaming starts.
struct Position {
    /// The slot's confirmed position.
    slot_lsn: Lsn,
    /// Transactions that ended at or before it are in Kafka.
    stored: Option<Lsn>,
    /// `lsn_commit` of the stored offset.
    last_commit: Option<Lsn>,
    floors: HashMap<TableId, Lsn>,
    /// The stored progress of an incremental snapshot.
    incremental: Option<crate::progress::IncrementalProgress>,
    /// The parent of the spill directory.
    spill_dir: std::path::PathBuf,
}

/// The source while streaming from its slot.
struct Streamer {
    stream: ReplicationStream<BoxTransport>,
    decoder: ChangeDecoder,
    lookup: CatalogLookup,
    status_interval: Duration,
    /// `heartbeat.interval.ms` when heartbeats are on.
    heartbeat_interval: Option<Duration>,
    /// `heartbeat.action.query`.
    heartbeat_query: Option<String>,
    /// Files of streamed in-progress transactions (streaming on only).
    spool: Option<StreamSpool>,
    /// `signal.data.collection`: signals and incremental snapshots.
    signals: Option<Signals>,
    /// `flush.lsn.source`, `lsn.flush.timeout.*`.
    slot: crate::config::slot::SlotSettings,
}

impl Streamer {
    /// START_REPLICATION after `stored` (transactions that ended at or
    /// before it are dropped) or the slot's position, whichever is later.
    /// Returns the streamer and its walsender's process id; `None` when
    /// stopped while waiting for a busy slot.
    async fn start(
        config: &ConnectorConfig,
        client: tokio_postgres::Client,
        mut repl: ReplicationClient<BoxTransport>,
        repl_config: &ReplicationConfig,
        position: Position,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<(Self, Option<i32>)>, SourceError> {
        let Position { slot_lsn, stored, last_commit, floors, incremental, spill_dir } = position;
        let status_interval = repl_config.status_interval;
        let start_lsn = stored.map_or(slot_lsn, |s| s.max(slot_lsn));
        let mut options = StartOptions::new(vec![config.publication_name.clone()]);
        options.messages = true;
        options.extra = config.slot.stream_params.clone();
        (options.proto_version, options.streaming) = negotiate(repl.server_version(), config.streaming);
        let spool = match options.streaming {
            Streaming::Off => None,
            _ => Some(StreamSpool::new(&spill_dir, &config.slot_name)?),
        };
        tracing::info!(server_version = repl.server_version(), proto_version = options.proto_version, streaming = ?options.streaming, "pgoutput options");
        let waited_since = tokio::time::Instant::now();
        let (stream, pid) = loop {
            let pid = repl.backend_pid();
            match repl.start_replication(&config.slot_name, start_lsn, &options).await {
                Ok(stream) => break (stream, pid),
                Err(ReplicationError::Server(e))
                    if e.code == OBJECT_IN_USE && waited_since.elapsed() < SLOT_BUSY_WAIT =>
                {
                    if waited_since.elapsed() < SLOT_BUSY_RETRY {
                        tracing::info!(slot = %config.slot_name, error = %e, "slot still in use by another process; waiting");
                    } else {
                        tracing::debug!(slot = %config.slot_name, "slot still in use; waiting");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(SLOT_BUSY_RETRY) => {}
                        _ = crate::shutdown::stopped(shutdown) => return Ok(None),
                    }
                    repl = ReplicationClient::connect(repl_config).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        tracing::info!(slot = %config.slot_name, lsn = %start_lsn, slot_lsn = %slot_lsn, stored = ?stored.map(|l| l.to_string()), floors = floors.len(), "streaming started");

        let filter = config.table_filter();
        let signal_table = config.signal_table.clone();
        let signals = signal_table.clone().map(|table| Signals::new(table, config, incremental.as_ref()));
        let include = Box::new(move |t: &TableId| filter.matches(t) || signal_table.as_ref() == Some(t));
        let mut decoder = ChangeDecoder::new(include, last_commit).with_floors(floors);
        if let Some(stored) = stored {
            decoder = decoder.resume_after(stored);
        }
        let mut stream = stream;
        // flush.lsn.source=false: every status update reports flush 0/0,
        // which PostgreSQL takes as "nothing confirmed".
        stream.set_confirm(config.slot.flush_lsn_source);
        let streamer = Streamer {
            stream,
            decoder,
            lookup: CatalogLookup::new(client, config),
            status_interval: if status_interval.is_zero() { DEFAULT_STATUS_INTERVAL } else { status_interval },
            heartbeat_interval: config.heartbeat.enabled().then_some(config.heartbeat.interval),
            heartbeat_query: config.heartbeat.action_query.clone(),
            spool,
            signals,
            slot: config.slot.clone(),
        };
        Ok(Some((streamer, pid)))
    }

    /// Signals: see [`Signals::intercept`].
    async fn intercept_signals(&mut self, out: &mut Vec<SourceEvent>) -> Result<(), SourceError> {
        match self.signals.as_mut() {
            Some(sig) => sig.intercept(&self.lookup.client, &self.lookup.values, out).await,
            None => Ok(()),
        }
    }

    /// Stream until `shutdown` or an error. `durable` carries the position
    /// the sink made durable; it is reported to the server as flushed.
    async fn run(
        mut self,
        events: mpsc::Sender<SourceEvent>,
        mut durable: watch::Receiver<Lsn>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        if let Some(sig) = self.signals.as_mut() {
            sig.resume(&self.lookup.client, &self.lookup.values).await?;
        }
        let mut out = Vec::new();
        let mut heartbeat = self.heartbeat_interval.map(|every| {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        });
        let result = loop {
            let message = tokio::select! {
                biased;
                _ = crate::shutdown::stopped(&mut shutdown) => break Ok(()),
                _ = tick(&mut heartbeat) => {
                    match self.on_heartbeat().await {
                        Ok(Some(idle)) => {
                            if !self.forward(&events, idle, &mut durable, &mut shutdown).await? {
                                return Ok(());
                            }
                        }
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                    continue;
                }
                changed = durable.changed() => {
                    if changed.is_ok() {
                        let lsn = *durable.borrow_and_update();
                        self.stream.set_flushed(lsn);
                        if let Err(e) = self.report_flushed(lsn).await {
                            break Err(e);
                        }
                    }
                    continue;
                }
                message = self.stream.next() => message,
            };
            let message = match message {
                Ok(Some(m)) => m,
                Ok(None) => break Err(SourceError::StreamEnded),
                Err(e) => break Err(e.into()),
            };
            let replay = match self.handle(message, &mut out).await {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            if let Err(e) = self.intercept_signals(&mut out).await {
                break Err(e);
            }
            for event in out.drain(..) {
                if !self.forward(&events, event, &mut durable, &mut shutdown).await? {
                    return Ok(());
                }
            }
            if let Some(replay) = replay {
                match self.replay(replay, &mut out, &events, &mut durable, &mut shutdown).await {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    Err(e) => break Err(e),
                }
            }
        };
        match &result {
            Ok(()) => {
                self.stream.set_flushed(*durable.borrow());
                if let Err(err) = self.stream.shutdown().await {
                    tracing::debug!(error = %err, "replication shutdown");
                }
            }
            Err(_) => self.stream.abort().await,
        }
        result
    }

    /// Reports a new durable position to the server at once (as Debezium
    /// flushes the LSN at each offset commit), within `lsn.flush.timeout.ms`;
    /// past it, `lsn.flush.timeout.action` decides. Nothing is reported
    /// with `flush.lsn.source=false`.
    async fn report_flushed(&mut self, lsn: Lsn) -> Result<(), SourceError> {
        if !self.slot.flush_lsn_source {
            return Ok(());
        }
        let timeout = self.slot.lsn_flush_timeout;
        match flush_within(timeout, self.slot.lsn_flush_timeout_action, lsn, self.stream.send_feedback(false)).await? {
            Some(result) => result.map_err(SourceError::from),
            // Whatever of the update was written stays buffered and goes out first next time.
            None => Ok(()),
        }
    }

    /// One replication message; a Stream Commit returns the replay to run.
    async fn handle(
        &mut self,
        message: ReplicationMessage,
        out: &mut Vec<SourceEvent>,
    ) -> Result<Option<PendingReplay>, SourceError> {
        match message {
            ReplicationMessage::XLogData { wal_start, data, .. } => {
                let in_stream = self.spool.as_ref().is_some_and(|s| s.in_stream());
                let message = pgoutput::decode_bytes(&data, in_stream)?;
                let Some(spool) = self.spool.as_mut() else {
                    self.decoder.on_message(wal_start, message, &mut self.lookup, out).await?;
                    return Ok(None);
                };
                match message {
                    PgOutputMessage::StreamStart { xid, first_segment } => spool.start(xid, first_segment)?,
                    PgOutputMessage::StreamStop => spool.stop()?,
                    PgOutputMessage::StreamAbort { xid, subxid, .. } => {
                        tracing::debug!(xid, subxid, "streamed transaction aborted");
                        spool.abort(xid, subxid);
                    }
                    PgOutputMessage::StreamCommit { xid, flags, commit_lsn, end_lsn, commit_ts_us } => {
                        let replay = spool.commit(xid)?;
                        let commit = PgOutputMessage::Commit { flags, commit_lsn, end_lsn, commit_ts_us };
                        let begin = PgOutputMessage::Begin { final_lsn: commit_lsn, commit_ts_us, xid };
                        return Ok(Some(PendingReplay { replay, begin, commit, commit_wal_start: wal_start }));
                    }
                    m if in_stream => spool.append(wal_start, &data, &m)?,
                    m => self.decoder.on_message(wal_start, m, &mut self.lookup, out).await?,
                }
            }
            ReplicationMessage::Keepalive { wal_end, .. } => {
                if !self.decoder.in_transaction() {
                    out.push(SourceEvent::Idle { lsn: wal_end });
                }
            }
        }
        Ok(None)
    }

    /// Replays a committed streamed transaction through the decoder as
    /// Begin · its messages · Commit, forwarding the events of each message
    /// before reading the next. An empty one (every change in an aborted
    /// subtransaction, or none captured) only updates the relation cache, as
    /// the server sends no Begin/Commit for an empty non-streamed transaction.
    /// Returns false when shut down while forwarding.
    async fn replay(
        &mut self,
        pending: PendingReplay,
        out: &mut Vec<SourceEvent>,
        events: &mpsc::Sender<SourceEvent>,
        durable: &mut watch::Receiver<Lsn>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, SourceError> {
        let PendingReplay { mut replay, begin, commit, commit_wal_start } = pending;
        let whole = replay.has_changes();
        let mut begun = false;
        // The socket is not read while replaying: answer the server on time
        // anyway, or a long replay would trip its wal_sender_timeout.
        let mut last_status = tokio::time::Instant::now();
        while let Some((wal_start, raw)) = replay.next(!whole)? {
            if last_status.elapsed() >= self.status_interval {
                self.stream.set_flushed(*durable.borrow_and_update());
                self.stream.send_feedback(false).await?;
                last_status = tokio::time::Instant::now();
            }
            if whole && !begun {
                self.decoder.on_message(wal_start, begin.clone(), &mut self.lookup, out).await?;
                begun = true;
            }
            let message = pgoutput::decode_bytes(&raw, true)?;
            self.decoder.on_message(wal_start, message, &mut self.lookup, out).await?;
            self.intercept_signals(out).await?;
            for event in out.drain(..) {
                if !self.forward(events, event, durable, shutdown).await? {
                    return Ok(false);
                }
            }
        }
        if begun {
            self.decoder.on_message(commit_wal_start, commit, &mut self.lookup, out).await?;
        }
        for event in out.drain(..) {
            if !self.forward(events, event, durable, shutdown).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A heartbeat interval passed: run `heartbeat.action.query`, and outside
    /// a transaction return the idle position to confirm.
    async fn on_heartbeat(&mut self) -> Result<Option<SourceEvent>, SourceError> {
        if let Some(query) = &self.heartbeat_query {
            self.lookup.client.batch_execute(query).await.map_err(SourceError::HeartbeatQuery)?;
        }
        let lsn = self.stream.received();
        Ok((!self.decoder.in_transaction() && lsn > Lsn::ZERO).then_some(SourceEvent::Idle { lsn }))
    }

    /// Hand one event downstream, answering the server while waiting.
    /// Returns false when shut down while waiting.
    async fn forward(
        &mut self,
        events: &mpsc::Sender<SourceEvent>,
        event: SourceEvent,
        durable: &mut watch::Receiver<Lsn>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, SourceError> {
        let reserve = events.reserve();
        tokio::pin!(reserve);
        loop {
            tokio::select! {
                permit = &mut reserve => {
                    return match permit {
                        Ok(p) => { p.send(event); Ok(true) }
                        // The delivery side is gone: it reports its own error.
                        Err(_) => Ok(false),
                    };
                }
                _ = crate::shutdown::stopped(shutdown) => return Ok(false),
                _ = tokio::time::sleep(self.status_interval) => {
                    self.stream.set_flushed(*durable.borrow_and_update());
                    self.stream.send_feedback(false).await?;
                }
            }
        }
    }
}

/// A committed streamed transaction waiting to be replayed.
struct PendingReplay {
    replay: Replay,
    /// The Begin the server would have sent had it not streamed.
    begin: PgOutputMessage,
    commit: PgOutputMessage,
    /// The Stream Commit's `wal_start` (the commit's end LSN, as a Commit's).
    commit_wal_start: Lsn,
}

/// The next tick of an optional interval; never, without one.
async fn tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

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

/// Runs `flush` within `timeout`; past it, `action` decides: an error
/// (`fail`), a warning, or nothing (`ignore`). The flush's own result is
/// returned as it is.
async fn flush_within<T>(
    timeout: Duration,
    action: crate::config::slot::LsnFlushTimeoutAction,
    lsn: Lsn,
    flush: impl std::future::Future<Output = T>,
) -> Result<Option<T>, SourceError> {
    use crate::config::slot::LsnFlushTimeoutAction as A;
    match tokio::time::timeout(timeout, flush).await {
        Ok(result) => Ok(Some(result)),
        Err(_) => {
            let timeout_ms = timeout.as_millis() as u64;
            match action {
                A::Fail => Err(SourceError::LsnFlushTimeout { lsn, timeout_ms }),
                A::Warn => {
                    tracing::warn!(lsn = %lsn, timeout_ms, "reporting the flushed position timed out; going on (lsn.flush.timeout.action=warn)");
                    Ok(None)
                }
                A::Ignore => {
                    tracing::debug!(lsn = %lsn, timeout_ms, "reporting the flushed position timed out; going on (lsn.flush.timeout.action=ignore)");
                    Ok(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod flush_timeout_tests {
    use super::*;
    use crate::config::slot::LsnFlushTimeoutAction;

    #[tokio::test(start_paused = true)]
    async fn a_flush_past_the_timeout_fails_or_goes_on_as_the_action_says() {
        let t = Duration::from_millis(30_000);
        let hang = || std::future::pending::<()>();
        let failed = flush_within(t, LsnFlushTimeoutAction::Fail, Lsn(42), hang()).await;
        assert!(matches!(failed, Err(SourceError::LsnFlushTimeout { lsn: Lsn(42), timeout_ms: 30_000 })));
        assert!(failed.unwrap_err().to_string().contains("lsn.flush.timeout.ms=30000"));
        assert!(matches!(flush_within(t, LsnFlushTimeoutAction::Warn, Lsn(42), hang()).await, Ok(None)));
        assert!(matches!(flush_within(t, LsnFlushTimeoutAction::Ignore, Lsn(42), hang()).await, Ok(None)));
        assert!(matches!(flush_within(t, LsnFlushTimeoutAction::Fail, Lsn(42), async { 7 }).await, Ok(Some(7))));
    }
}
