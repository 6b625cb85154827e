//! Reading the snapshot: connections importing the exported snapshot,
//! tables in order, block-range chunks in parallel, events downstream.
//!
//! ```text
//!   reader 1..N (own connection, same snapshot) ── COPY chunk ─▶ rows ─┐ bounded
//!                                                                      ├─▶ coordinator ─▶ Change(op r) … SnapshotMark
//!   chunks of the current table (shared queue) ◀───────────────────────┘
//! ```
//!
//! Memory stays bounded: readers hand over batches of [`ROW_BATCH`] rows
//! through a channel of [`BATCHES_IN_FLIGHT`] per reader, and the
//! coordinator waits on the (bounded) event channel.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use super::copy_text::{self, CopyTextError, RowSplitter};
use super::{chunks, marker, resume_point, Chunk};
use crate::config::connector::ConnectorConfig;
use crate::error::{Classify, ErrorClass};
use crate::event::{ChangeEvent, Op, Row, SnapshotMark, SourceEvent, SourceInfo, TableId, TableSchema};
use crate::lsn::Lsn;
use crate::progress::{SnapshotCompletion, SnapshotProgress};
use crate::source::postgres::catalog::{self, classify_pg, quote_ident, CatalogError};
use crate::source::postgres::columns::ColumnRules;
use crate::source::postgres::pgoutput::{RelationBody, RelationColumn, TupleData};
use crate::source::postgres::relation::{CachedRelation, RelationCache, RelationError};
use crate::source::postgres::value::ValueOptions;

/// Rows a reader hands over at once.
pub const ROW_BATCH: usize = 256;
/// Row batches a reader may have in flight.
const BATCHES_IN_FLIGHT: usize = 4;
/// Rows between two marks (commit points) within a table.
pub const ROWS_PER_MARK: u64 = 4096;

/// Errors of the snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot: {context} failed")]
    Query {
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("snapshot of {table}: {source}")]
    Copy {
        table: TableId,
        #[source]
        source: CopyTextError,
    },
    #[error("snapshot: cannot decode a row")]
    Row(#[source] Box<RelationError>),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("snapshot: the exported snapshot name {0:?} is not of PostgreSQL's form")]
    BadSnapshotName(String),
    #[error("snapshot: a reading task failed")]
    Reader(#[source] tokio::task::JoinError),
    #[error("snapshot: {0} was dropped, truncated or rewritten after the snapshot was taken; the tables not done are read again at a new snapshot")]
    Rewritten(TableId),
    #[error(transparent)]
    Connect(Box<crate::source::postgres::capture::SourceError>),
    #[error("snapshot: the WAL since an interrupted pass could not be decoded (lsn {lsn:?}); a restart tries again")]
    WindowLsn { lsn: String, #[source] source: crate::lsn::ParseLsnError },
    #[error("snapshot: the WAL since an interrupted pass could not be decoded")]
    WindowDecode(#[source] crate::source::postgres::pgoutput::DecodeError),
    #[error("snapshot: the WAL since an interrupted pass could not be decoded")]
    WindowChange(#[source] Box<crate::source::postgres::decoder::DecoderError<crate::source::postgres::capture::LookupError>>),
}

impl Classify for SnapshotError {
    fn class(&self) -> ErrorClass {
        match self {
            SnapshotError::Query { source, .. } => classify_pg(source),
            SnapshotError::Copy { .. } => ErrorClass::Fatal,
            SnapshotError::Row(e) => e.as_ref().class(),
            SnapshotError::Catalog(e) => e.class(),
            SnapshotError::BadSnapshotName(_) => ErrorClass::Fatal,
            SnapshotError::Reader(_) => ErrorClass::Fatal,
            SnapshotError::Rewritten(_) => ErrorClass::Transient,
            SnapshotError::Connect(e) => e.class(),
            SnapshotError::WindowLsn { .. } | SnapshotError::WindowDecode(_) => ErrorClass::Fatal,
            SnapshotError::WindowChange(e) => match e.as_ref() {
                crate::source::postgres::decoder::DecoderError::Lookup(l) => l.class(),
                _ => ErrorClass::Fatal,
            },
        }
    }
}

/// The planner's row estimate (`pg_class.reltuples`) of the tables this run
/// reads, for progress and ETA; a table never analyzed or vacuumed (-1)
/// counts 0. Best effort: 0 when the query fails.
async fn estimated_rows(client: &tokio_postgres::Client, tables: &[crate::event::TableId]) -> u64 {
    let names: Vec<String> = tables.iter().map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.table))).collect();
    let sql = "SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::bigint FROM pg_class c \
               WHERE c.oid = ANY(SELECT to_regclass(n) FROM unnest($1::text[]) AS n)";
    match client.query_one(sql, &[&names]).await {
        Ok(row) => u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the tables' row estimates");
            0
        }
    }
}

fn q(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> SnapshotError {
    move |source| SnapshotError::Query { context, source }
}

/// A snapshot exported by a replication slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedSnapshot {
    /// For `SET TRANSACTION SNAPSHOT`.
    pub name: String,
    /// The exporting slot's consistent point.
    pub lsn: Lsn,
}

/// What to read.
#[derive(Clone, Debug)]
pub struct SnapshotJob {
    pub exported: ExportedSnapshot,
    /// The tables to read, in order (captured, selected for the snapshot,
    /// not done yet).
    pub tables: Vec<TableId>,
    /// Tables done by an earlier, interrupted attempt.
    pub done: BTreeMap<String, u64>,
    /// The table an earlier attempt was reading when it was interrupted,
    /// with the snapshot points of the passes that read it.
    pub reading: BTreeMap<String, Vec<u64>>,
    /// `server_version_num`.
    pub server_version: u32,
}

/// Where streaming goes on after the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotOutcome {
    /// Transactions that ended at or before it are in the snapshot.
    pub resume: Lsn,
    /// Tables read later than `resume` (see the module docs).
    pub floors: HashMap<TableId, Lsn>,
}

/// Reads the snapshot and sends its events; `None` when shut down first.
pub async fn run(
    config: &ConnectorConfig,
    job: SnapshotJob,
    events: &mpsc::Sender<SourceEvent>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<SnapshotOutcome>, SnapshotError> {
    let name = &job.exported.name;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(SnapshotError::BadSnapshotName(name.clone()));
    }
    let threads = config.snapshot_max_threads.max(1);
    let mut conns = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (client, _) = crate::source::postgres::capture::catalog_client(&config.connection)
            .await
            .map_err(|e| SnapshotError::Connect(Box::new(e)))?;
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{name}'"
            ))
            .await
            .map_err(q("importing the exported snapshot"))?;
        conns.push(Arc::new(client));
    }
    let main = Arc::clone(&conns[0]);
    // Lock every table now, not when its turn comes: TRUNCATE and rewriting
    // ALTER TABLEs are not MVCC-safe (an older snapshot would see the table
    // empty). A rewrite between the export and these locks is caught per
    // table (`describe`).
    for table in &job.tables {
        let lock = format!("LOCK TABLE ONLY {}.{} IN ACCESS SHARE MODE", quote_ident(&table.schema), quote_ident(&table.table));
        match main.batch_execute(&lock).await {
            Ok(()) => {}
            // Dropped since it was listed: the restart lists the tables again.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                return Err(SnapshotError::Rewritten(table.clone()))
            }
            Err(e) => return Err(SnapshotError::Query { context: "locking the snapshot's tables", source: e }),
        }
    }
    let tx_id: i64 = main.query_one("SELECT txid_current()", &[]).await.map_err(q("reading txid_current()"))?.get(0);
    let mut progress =
        SnapshotProgress { lsn: job.exported.lsn, tx_id, ts_us: now_us(), done: job.done.clone(), reading: BTreeMap::new() };
    tracing::info!(tables = job.tables.len(), done = job.done.len(), threads, lsn = %job.exported.lsn,
        "snapshot started");
    let mut cache = RelationCache::with_rules(ColumnRules::new(&config.columns));
    let metrics = crate::metrics::Registry::global().connector(&config.name);
    let set = crate::metrics::ConnectorMetrics::set;
    set(&metrics.snapshot_running, 1);
    let _running = Running(Arc::clone(&metrics));
    set(&metrics.snapshot_completed, 0);
    set(&metrics.snapshot_tables, (job.tables.len() + job.done.len()) as u64);
    set(&metrics.snapshot_tables_done, job.done.len() as u64);
    set(&metrics.snapshot_rows_read, 0);
    set(&metrics.snapshot_rows_estimated, estimated_rows(&main, &job.tables).await);
    let mut emitter = Emitter { events, shutdown, metrics: Arc::clone(&metrics) };
    let count = job.tables.len();
    for (i, table) in job.tables.iter().enumerate() {
        let first_table = i == 0 && job.done.is_empty();
        let last_table = i + 1 == count;
        let Some(rel) = describe(&main, table, &mut cache, &config.values, true).await? else {
            tracing::info!(table = %table, "no rows of its own (partitioned) or gone since listed: not in the snapshot");
            progress.done.insert(super::table_key(table), job.exported.lsn.as_u64());
            continue;
        };
        // Every record of this table goes out after an offset that names
        // the passes reading it, so a restart knows whose records may be in
        // Kafka; the deletes earlier passes' records would outlive go first.
        let key = super::table_key(table);
        let earlier: Vec<u64> = job.reading.get(&key).cloned().unwrap_or_default();
        let mut passes = earlier.clone();
        passes.push(job.exported.lsn.as_u64());
        tracing::info!(table = %table, pass = passes.len(), "table snapshot pass started");
        progress.reading = BTreeMap::from([(key.clone(), passes)]);
        if !emitter.mark(&progress, None).await {
            return Ok(None);
        }
        if !earlier.is_empty() {
            let earlier: Vec<Lsn> = earlier.into_iter().map(Lsn).collect();
            for event in super::window_scan::window_events(config, table, &earlier, job.exported.lsn).await? {
                if !emitter.send(SourceEvent::Change(event)).await {
                    return Ok(None);
                }
            }
        }
        let rows = read_table(
            &conns,
            &rel,
            &config.values,
            (job.server_version, config.snapshot_chunk_blocks),
            (first_table, last_table),
            &progress,
            &mut emitter,
        )
        .await?;
        let Some(rows) = rows else { return Ok(None) };
        tracing::info!(table = %table, rows, "table snapshot read");
        progress.reading.clear();
        progress.done.insert(key, job.exported.lsn.as_u64());
        crate::metrics::ConnectorMetrics::add(&metrics.snapshot_tables_done, 1);
        if !last_table && !emitter.mark(&progress, None).await {
            return Ok(None);
        }
    }
    for conn in &conns {
        // Read-only: ending the transaction can only release its snapshot and locks.
        if let Err(err) = conn.batch_execute("COMMIT").await {
            tracing::debug!(error = %err, "ending a snapshot transaction");
        }
    }
    let (resume, floors) = resume_point(&progress.done, job.exported.lsn);
    let completion = SnapshotCompletion { resume, floors: floors.clone() };
    if !emitter.mark(&progress, Some(completion)).await {
        return Ok(None);
    }
    set(&metrics.snapshot_running, 0);
    set(&metrics.snapshot_completed, 1);
    tracing::info!(resume = %resume, floors = floors.len(), "snapshot completed");
    let floors = floors
        .into_iter()
        .filter_map(|(t, l)| super::parse_table_key(&t).map(|id| (id, Lsn(l))))
        .collect();
    Ok(Some(SnapshotOutcome { resume, floors }))
}

/// A table's shape as of the snapshot, through the streaming path's
/// relation cache (so its events carry the same schemas); `None` when it
/// no longer exists.
pub(crate) async fn describe(
    client: &tokio_postgres::Client,
    table: &TableId,
    cache: &mut RelationCache,
    values: &ValueOptions,
    lock: bool,
) -> Result<Option<Reading>, SnapshotError> {
    let row = client
        .query_opt(
            "SELECT c.oid, pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.relkind::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&table.schema, &table.table],
        )
        .await
        .map_err(q("reading pg_class"))?;
    let Some(row) = row else { return Ok(None) };
    let relkind: String = row.get(2);
    if relkind != "r" {
        // A partitioned table has no rows of its own: its partitions are
        // captured (and read) as the tables they are.
        return Ok(None);
    }
    let oid: u32 = row.get(0);
    let blocks: i64 = row.get(1);
    // Held to the end of the snapshot transaction: no DDL on the table
    // while it is read (COPY reads with the current table definition).
    if lock {
        // Rewritten (TRUNCATE, ALTER TABLE … TYPE) after the snapshot was
        // taken: the snapshot would read it as empty. Transient: the restart
        // reads the tables not done at a new snapshot.
        let rewritten: bool = client
            .query_one("SELECT relfilenode <> pg_relation_filenode(oid) FROM pg_class WHERE oid = $1", &[&oid])
            .await
            .map_err(q("checking the table was not rewritten"))?
            .get(0);
        if rewritten {
            return Err(SnapshotError::Rewritten(table.clone()));
        }
    }
    let catalog = catalog::load_table(client, oid).await?;
    // pgoutput leaves generated columns out; so does the snapshot.
    let generated: Vec<String> = client
        .query("SELECT attname::text FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND attgenerated <> ''", &[&oid])
        .await
        .map_err(q("reading generated columns"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let columns: Vec<RelationColumn> = catalog
        .columns
        .iter()
        .filter(|c| !generated.contains(&c.name))
        .map(|c| RelationColumn {
            is_key: c.primary_key_position.is_some(),
            name: c.name.clone(),
            type_oid: c.column_type.oid,
            type_modifier: c.column_type.type_modifier,
        })
        .collect();
    let body = RelationBody {
        xid: None,
        relation_id: oid,
        namespace: table.schema.clone(),
        name: table.table.clone(),
        replica_identity: match catalog.replica_identity {
            crate::event::ReplicaIdentity::Default => b'd',
            crate::event::ReplicaIdentity::Nothing => b'n',
            crate::event::ReplicaIdentity::Full => b'f',
            crate::event::ReplicaIdentity::Index => b'i',
        },
        columns,
    };
    let row_err = |e| SnapshotError::Row(Box::new(e));
    let schema = cache.apply(&body, &catalog, values).map_err(row_err)?;
    let relation = cache.get(oid).cloned().ok_or(RelationError::UnknownRelation(oid)).map_err(row_err)?;
    let column_list = body.columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    let name = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.table));
    Ok(Some(Reading {
        id: table.clone(),
        schema,
        relation: Arc::new(relation),
        ncols: body.columns.len(),
        select: format!("SELECT {column_list} FROM ONLY {name}"),
        blocks: u64::try_from(blocks).unwrap_or(0),
        columns: body.columns.iter().map(|c| c.name.clone()).collect(),
    }))
}

/// One table being read.
pub(crate) struct Reading {
    pub id: TableId,
    pub schema: Arc<TableSchema>,
    pub relation: Arc<CachedRelation>,
    pub ncols: usize,
    /// `SELECT <columns> FROM ONLY <table>`.
    pub select: String,
    pub blocks: u64,
    /// The selected columns, in order.
    pub columns: Vec<String>,
}

/// The COPY statement reading `chunk` of `select` (`SELECT <columns> FROM ONLY <table>`).
fn copy_sql(select: &str, chunk: Chunk) -> String {
    match chunk {
        Chunk { start: 0, end: None } => format!("COPY ({select}) TO STDOUT"),
        Chunk { start, end: None } => format!("COPY ({select} WHERE ctid >= '({start},0)'::tid) TO STDOUT"),
        Chunk { start, end: Some(end) } => {
            format!("COPY ({select} WHERE ctid >= '({start},0)'::tid AND ctid < '({end},0)'::tid) TO STDOUT")
        }
    }
}

type Batch = Result<Vec<Row>, SnapshotError>;

/// Reads one table with every connection; `None` when shut down.
async fn read_table(
    conns: &[Arc<tokio_postgres::Client>],
    table: &Reading,
    values: &ValueOptions,
    (server_version, chunk_blocks): (u32, u64),
    (first_table, last_table): (bool, bool),
    progress: &SnapshotProgress,
    emitter: &mut Emitter<'_>,
) -> Result<Option<u64>, SnapshotError> {
    let chunks = chunks(table.blocks, conns.len(), chunk_blocks, server_version);
    let readers = conns.len().min(chunks.len());
    tracing::debug!(table = %table.id, blocks = table.blocks, chunks = chunks.len(), readers, "reading table");
    let queue: Arc<Mutex<VecDeque<Chunk>>> = Arc::new(Mutex::new(chunks.into()));
    let (tx, mut rx) = mpsc::channel::<Batch>(BATCHES_IN_FLIGHT * readers);
    let mut tasks = Vec::with_capacity(readers);
    for conn in conns.iter().take(readers) {
        let (conn, queue, tx) = (Arc::clone(conn), Arc::clone(&queue), tx.clone());
        let (relation, values) = (Arc::clone(&table.relation), values.clone());
        let (id, ncols, select) = (table.id.clone(), table.ncols, table.select.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(chunk) = next else { break };
                let result = read_chunk(&conn, &copy_sql(&select, chunk), &id, ncols, &relation, &values, &tx).await;
                if let Err(e) = result {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
        }));
    }
    drop(tx);
    let base = RowSource {
        table: Arc::clone(&table.schema),
        info: SourceInfo {
            commit_ts_us: progress.ts_us,
            snapshot: crate::event::SnapshotMarker::True,
            tx_id: Some(progress.tx_id),
            lsn: Some(progress.lsn),
            last_commit_lsn: None,
            xmin: None,
            origin: None,
        },
    };
    let mut held: Option<Row> = None;
    let mut rows = 0u64;
    let mut failed = None;
    while let Some(batch) = rx.recv().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        for row in batch {
            if let Some(prev) = held.replace(row) {
                let m = marker(first_table, last_table, rows == 0, false);
                rows += 1;
                if !emitter.row(&base, prev, m).await {
                    abort(&tasks);
                    return Ok(None);
                }
                if rows % ROWS_PER_MARK == 0
                    && !emitter.mark(progress, None).await
                {
                    abort(&tasks);
                    return Ok(None);
                }
            }
        }
    }
    abort(&tasks);
    for task in tasks {
        match task.await {
            Ok(()) => {}
            Err(e) if e.is_cancelled() => {}
            Err(e) => return Err(SnapshotError::Reader(e)),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(last) = held {
        let m = marker(first_table, last_table, rows == 0, true);
        rows += 1;
        if !emitter.row(&base, last, m).await {
            return Ok(None);
        }
    }
    Ok(Some(rows))
}

fn abort(tasks: &[tokio::task::JoinHandle<()>]) {
    for t in tasks {
        t.abort();
    }
}

/// COPYs one chunk, decoding its rows into batches.
async fn read_chunk(
    client: &tokio_postgres::Client,
    sql: &str,
    table: &TableId,
    ncols: usize,
    relation: &CachedRelation,
    values: &ValueOptions,
    tx: &mpsc::Sender<Batch>,
) -> Result<(), SnapshotError> {
    let mut rows = CopyRows::open(client, sql, table, ncols).await?;
    let mut tuples = Vec::new();
    let mut batch: Vec<Row> = Vec::with_capacity(ROW_BATCH);
    while rows.next(&mut tuples).await? {
        for tuple in tuples.drain(..) {
            batch.push(relation.decode_snapshot_row(&tuple, values).map_err(|e| SnapshotError::Row(Box::new(e)))?);
        }
        if batch.len() >= ROW_BATCH && tx.send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(ROW_BATCH)))).await.is_err() {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch)).await;
    }
    Ok(())
}

/// The rows of one `COPY … TO STDOUT` as tuples, one CopyData message at a
/// time (the initial snapshot's chunks and the incremental snapshot's).
pub(crate) struct CopyRows {
    stream: std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
    splitter: RowSplitter,
    table: TableId,
    ncols: usize,
}

impl CopyRows {
    pub(crate) async fn open(
        client: &tokio_postgres::Client,
        sql: &str,
        table: &TableId,
        ncols: usize,
    ) -> Result<CopyRows, SnapshotError> {
        let stream = client.copy_out(sql).await.map_err(q("COPY of a table"))?;
        Ok(CopyRows { stream: Box::pin(stream), splitter: RowSplitter::new(), table: table.clone(), ncols })
    }

    /// Appends the rows of the next message to `out`; false once the
    /// output ended (and ended on a row boundary).
    pub(crate) async fn next(&mut self, out: &mut Vec<TupleData>) -> Result<bool, SnapshotError> {
        let CopyRows { stream, splitter, table, ncols } = self;
        let copy_err = |source| SnapshotError::Copy { table: table.clone(), source };
        match stream.next().await {
            Some(data) => {
                let data = data.map_err(q("COPY of a table"))?;
                splitter.push(&data, |line| {
                    out.push(copy_text::parse_row(line, *ncols).map_err(copy_err)?);
                    Ok::<_, SnapshotError>(())
                })?;
                Ok(true)
            }
            None => {
                splitter.finish().map_err(copy_err)?;
                Ok(false)
            }
        }
    }
}

/// The table and source block shared by a table's snapshot events.
struct RowSource {
    table: Arc<TableSchema>,
    info: SourceInfo,
}

/// Sends events downstream, giving up when shut down.
struct Emitter<'a> {
    events: &'a mpsc::Sender<SourceEvent>,
    shutdown: &'a mut watch::Receiver<bool>,
    metrics: Arc<crate::metrics::ConnectorMetrics>,
}

impl Emitter<'_> {
    pub(super) async fn send(&mut self, event: SourceEvent) -> bool {
        tokio::select! {
            biased;
            _ = crate::shutdown::stopped(self.shutdown) => false,
            sent = self.events.send(event) => sent.is_ok(),
        }
    }

    async fn row(&mut self, source: &RowSource, row: Row, snapshot: crate::event::SnapshotMarker) -> bool {
        crate::metrics::ConnectorMetrics::add(&self.metrics.snapshot_rows, 1);
        crate::metrics::ConnectorMetrics::add(&self.metrics.snapshot_rows_read, 1);
        let mut info = source.info.clone();
        info.snapshot = snapshot;
        let event = ChangeEvent { op: Op::Read, table: Arc::clone(&source.table), before: None, after: Some(row), source: info };
        self.send(SourceEvent::Change(event)).await
    }

    async fn mark(&mut self, progress: &SnapshotProgress, completed: Option<SnapshotCompletion>) -> bool {
        self.send(SourceEvent::SnapshotMark(SnapshotMark { progress: progress.clone(), completed })).await
    }
}

/// Clears `snapshot_running` however the snapshot ends.
struct Running(Arc<crate::metrics::ConnectorMetrics>);

impl Drop for Running {
    fn drop(&mut self) {
        crate::metrics::ConnectorMetrics::set(&self.0.snapshot_running, 0);
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_statements_by_chunk() {
        let sql = |c| copy_sql("SELECT \"a\" FROM ONLY \"s\".\"t\"", c);
        assert_eq!(sql(Chunk::WHOLE), "COPY (SELECT \"a\" FROM ONLY \"s\".\"t\") TO STDOUT");
        assert_eq!(
            sql(Chunk { start: 10, end: Some(20) }),
            "COPY (SELECT \"a\" FROM ONLY \"s\".\"t\" WHERE ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid) TO STDOUT"
        );
        assert_eq!(
            sql(Chunk { start: 20, end: None }),
            "COPY (SELECT \"a\" FROM ONLY \"s\".\"t\" WHERE ctid >= '(20,0)'::tid) TO STDOUT"
        );
    }

}
