//! The signal table on the stream: its rows are taken out of the source's
//! events, and the incremental snapshot they drive is run here — the I/O
//! half of `incremental` (which holds the state and its rules).
//!
//! ```text
//!   decoded events ──▶ Signals::intercept ──▶ events (signal rows only if the table is captured;
//!                         │  execute / stop / window open / close      a closed window's rows in place)
//!                         └▶ read_chunk: INSERT low watermark · COPY chunk · INSERT high watermark
//! ```

use std::sync::Arc;

use tokio_postgres::Client;

use super::catalog::{self, quote_ident};
use super::columns::ColumnRules;
use super::incremental::{self, parse_signal, Cursor, Incremental, Signal, Window};
use super::pgoutput::TupleValue;
use super::relation::RelationCache;
use super::snapshot::{self, CopyRows, Reading, SnapshotError};
use super::value::ValueOptions;
use crate::config::connector::{ConnectorConfig, TableFilter};
use crate::event::{ChangeEvent, Op, SourceEvent, TableId};

use super::capture::SourceError;

/// The signal table (`signal.data.collection`) and the incremental
/// snapshot it drives.
pub struct Signals {
    table: TableId,
    /// The signal table is captured too: its rows are emitted (watermarks never).
    emit: bool,
    /// Captured tables (for the collections an execute-snapshot names).
    filter: TableFilter,
    inc: Incremental,
    /// The shape of the table being read.
    reading: Option<Reading>,
    cache: RelationCache,
    chunk_size: usize,
    windows: u64,
    /// When this source started (ns since the epoch): part of window ids.
    started_ns: u128,
}

impl Signals {
    /// The signals of `table`, resuming the incremental snapshot whose
    /// progress the stored offset kept, if any.
    pub fn new(table: TableId, config: &ConnectorConfig, progress: Option<&crate::progress::IncrementalProgress>) -> Signals {
        let filter = config.table_filter();
        Signals {
            emit: filter.matches(&table),
            table,
            filter,
            inc: progress.and_then(Incremental::restore).unwrap_or_default(),
            reading: None,
            cache: RelationCache::with_rules(ColumnRules::new(&config.columns)),
            chunk_size: config.incremental_chunk_size,
            windows: 0,
            started_ns: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
        }
    }

    /// Goes on with an incremental snapshot restored from the offsets.
    pub async fn resume(&mut self, client: &Client, values: &ValueOptions) -> Result<(), SourceError> {
        if self.inc.cursor.is_some() || !self.inc.queue.is_empty() {
            let at = self.inc.cursor.as_ref().map(|c| (c.table.to_string(), c.last.clone()));
            tracing::info!(at = ?at, "resuming the incremental snapshot");
            self.read_chunk(client, values).await?;
        }
        Ok(())
    }

    /// Takes the signal table's rows out of `out` (keeping them only when
    /// that table is captured), opens and closes chunk windows, drops window
    /// rows whose keys changed, puts a closed window's rows in their place,
    /// and reads the next chunk.
    pub async fn intercept(
        &mut self,
        client: &Client,
        values: &ValueOptions,
        out: &mut Vec<SourceEvent>,
    ) -> Result<(), SourceError> {
        if out.is_empty() {
            return Ok(());
        }
        let mut read_next = false;
        let mut kept = Vec::with_capacity(out.len());
        for event in out.drain(..) {
            let SourceEvent::Change(change) = &event else {
                kept.push(event);
                continue;
            };
            if change.table.id != self.table {
                self.inc.observe(change);
                kept.push(event);
                continue;
            }
            let signal = match (change.op, change.after.as_deref()) {
                (Op::Create, Some(row)) => Some(parse_signal(row)),
                _ => None,
            };
            match signal {
                Some(Ok(Signal::WindowOpen(id))) => {
                    self.inc.open(&id);
                    continue;
                }
                Some(Ok(Signal::WindowClose(id))) => {
                    if let Some(window) = self.inc.close(&id) {
                        let mut source = change.source.clone();
                        source.snapshot = incremental::MARKER;
                        for (_, row) in window.rows {
                            kept.push(SourceEvent::Change(ChangeEvent {
                                op: Op::Read,
                                table: Arc::clone(&window.table),
                                before: None,
                                after: Some(row),
                                source: source.clone(),
                            }));
                        }
                        kept.push(SourceEvent::IncrementalProgress(self.inc.progress()));
                        read_next = true;
                    }
                    continue;
                }
                Some(Ok(Signal::Execute(collections))) => {
                    let patterns = collection_patterns(&collections);
                    let filter = &self.filter;
                    let tables = catalog::list_tables(client, &|t: &TableId| filter.matches(t)).await?;
                    let chosen: Vec<TableId> =
                        tables.into_iter().filter(|t| patterns.iter().any(|p| p.is_match(&t.to_string()))).collect();
                    tracing::info!(tables = chosen.len(), collections = ?collections, "incremental snapshot requested");
                    self.inc.enqueue(chosen);
                    kept.push(SourceEvent::IncrementalProgress(self.inc.progress()));
                    read_next |= !self.inc.busy();
                }
                Some(Ok(Signal::Stop(collections))) => {
                    let patterns = collection_patterns(&collections);
                    tracing::info!(collections = ?collections, "incremental snapshot stopped");
                    self.inc.stop(|t| patterns.is_empty() || patterns.iter().any(|p| p.is_match(&t.to_string())));
                    if self.inc.cursor.is_none() {
                        self.reading = None;
                    }
                    kept.push(SourceEvent::IncrementalProgress(self.inc.progress()));
                    // The stopped table's window is gone: go on with the queue.
                    read_next |= !self.inc.busy();
                }
                Some(Ok(Signal::Other(kind))) => tracing::info!(signal = %kind, "signal not run by pgcdc; ignored"),
                Some(Err(err)) => tracing::warn!(error = %err, "signal ignored"),
                None => {}
            }
            if self.emit {
                kept.push(event);
            }
        }
        *out = kept;
        if read_next {
            self.read_chunk(client, values).await?;
        }
        Ok(())
    }

    /// Reads the next chunk of the incremental snapshot between two
    /// watermarks written to the signal table (nothing when idle or busy).
    async fn read_chunk(&mut self, client: &Client, values: &ValueOptions) -> Result<(), SourceError> {
        let pg = |context: &'static str| move |source| SourceError::Snapshot(SnapshotError::Query { context, source });
        while !self.inc.busy() {
            if self.inc.cursor.is_none() {
                let Some(table) = self.inc.queue.pop_front() else {
                    tracing::info!("incremental snapshot completed");
                    return Ok(());
                };
                let Some(reading) = describe_keyed(client, &table, &mut self.cache, values).await? else { continue };
                let keys = key_columns(&reading);
                let max_sql = format!(
                    "SELECT {} FROM ONLY {}.{} ORDER BY {} LIMIT 1",
                    // Aliased: ORDER BY must see the columns, not their text.
                    keys.iter().enumerate().map(|(i, k)| format!("{k}::text AS pgcdc_k{i}")).collect::<Vec<_>>().join(", "),
                    quote_ident(&table.schema),
                    quote_ident(&table.table),
                    keys.iter().map(|k| format!("{k} DESC")).collect::<Vec<_>>().join(", "),
                );
                let Some(max) = client.query_opt(&max_sql, &[]).await.map_err(pg("reading the largest key"))? else {
                    tracing::info!(table = %table, "incremental snapshot: table empty");
                    continue;
                };
                let max: Vec<String> = (0..keys.len()).map(|i| max.get::<_, Option<String>>(i).unwrap_or_default()).collect();
                tracing::info!(table = %table, "incremental snapshot of table started");
                self.inc.cursor = Some(Cursor { table, last: None, max });
                self.reading = Some(reading);
            }
            if let (Some(cursor), None) = (&self.inc.cursor, &self.reading) {
                // Resumed from the offsets: the table's shape is read again.
                let table = cursor.table.clone();
                match describe_keyed(client, &table, &mut self.cache, values).await? {
                    Some(reading) => self.reading = Some(reading),
                    None => {
                        self.inc.cursor = None;
                        continue;
                    }
                }
            }
            let (Some(cursor), Some(reading)) = (self.inc.cursor.clone(), self.reading.as_ref()) else { return Ok(()) };
            self.windows += 1;
            // Unique across restarts (an old watermark replayed from the WAL
            // after a restart must not close a new window).
            let id = format!("pgcdc-{:x}-{:x}", self.started_ns, self.windows);
            let insert = format!("INSERT INTO {}.{} VALUES ($1, $2, $3)", quote_ident(&self.table.schema), quote_ident(&self.table.table));
            client
                .execute(&insert, &[&format!("{id}-open"), &incremental::WINDOW_OPEN, &"{}"])
                .await
                .map_err(pg("writing the low watermark to signal.data.collection"))?;
            let keys = key_columns(reading);
            let positions: Vec<usize> = reading
                .schema
                .key_columns()
                .filter_map(|(_, c)| reading.columns.iter().position(|n| *n == c.name))
                .collect();
            let sql = format!(
                "COPY ({}) TO STDOUT",
                incremental::chunk_select(&reading.select, &keys, cursor.last.as_deref(), &cursor.max, self.chunk_size)
            );
            let mut copy = CopyRows::open(client, &sql, &cursor.table, reading.ncols).await?;
            let (mut tuples, mut rows, mut last_key) = (Vec::new(), Vec::new(), None);
            while copy.next(&mut tuples).await? {
                for tuple in tuples.drain(..) {
                    let row = reading.relation.decode_snapshot_row(&tuple, values).map_err(|e| SnapshotError::Row(Box::new(e)))?;
                    last_key = Some(positions.iter().map(|p| tuple_text(&tuple, *p)).collect());
                    rows.push((incremental::key_of(&reading.schema, &row), row));
                }
            }
            client
                .execute(&insert, &[&format!("{id}-close"), &incremental::WINDOW_CLOSE, &"{}"])
                .await
                .map_err(pg("writing the high watermark to signal.data.collection"))?;
            let last = rows.len() < self.chunk_size;
            tracing::debug!(table = %cursor.table, rows = rows.len(), last, window = %id, "incremental snapshot chunk read");
            self.inc.window = Some(Window { id, table: Arc::clone(&reading.schema), rows, open: false, last, last_key });
        }
        Ok(())
    }
}

/// A table's shape for an incremental snapshot, which needs a key of NOT
/// NULL columns to page by; `None` (with a warning) for a table gone or
/// without one.
async fn describe_keyed(
    client: &Client,
    table: &TableId,
    cache: &mut RelationCache,
    values: &ValueOptions,
) -> Result<Option<Reading>, SourceError> {
    let Some(reading) = snapshot::describe(client, table, cache, values, false).await? else {
        tracing::warn!(table = %table, "table of the incremental snapshot is gone; skipped");
        return Ok(None);
    };
    if !reading.schema.has_key() || reading.schema.key_columns().any(|(_, c)| c.nullable) {
        tracing::warn!(table = %table, "incremental snapshot needs a primary key (or message.key.columns of NOT NULL columns); table skipped");
        return Ok(None);
    }
    Ok(Some(reading))
}

/// The record key's columns of a table being read, quoted, in key order.
fn key_columns(reading: &Reading) -> Vec<String> {
    reading.schema.key_columns().map(|(_, c)| quote_ident(&c.name)).collect()
}

/// A COPY field's text (`NULL` never appears in a key).
fn tuple_text(tuple: &[TupleValue], i: usize) -> String {
    match tuple.get(i) {
        Some(TupleValue::Text(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// The anchored, case-insensitive patterns of a signal's `data-collections`
/// (invalid ones are left out with a warning).
fn collection_patterns(collections: &[String]) -> Vec<regex::Regex> {
    collections
        .iter()
        .filter_map(|c| match regex::RegexBuilder::new(&format!("^(?:{c})$")).case_insensitive(true).build() {
            Ok(r) => Some(r),
            Err(err) => {
                tracing::warn!(collection = %c, error = %err, "signal names an invalid pattern; ignored");
                None
            }
        })
        .collect()
}
