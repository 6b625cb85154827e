//! Batches of whole PostgreSQL transactions, each made durable with its
//! offset in one sink commit; the durable position published after it.
//!
//! ```text
//!   send(record) …  end_transaction(end_lsn)  send …  end_transaction(end_lsn')   flush()
//!   └──────────── one batch: whole PostgreSQL transactions ───────────────────┘       │
//!        sink.commit(ledger.batch_offset())  ──▶  durable LSN := end_lsn'  ◀─────────┘
//! ```
//!
//! - A batch only ever ends at a PostgreSQL transaction boundary (or a
//!   snapshot mark), so the durable LSN published on the watch channel is
//!   always a commit's `end_lsn`, an idle position past every commit, or a
//!   snapshot's resume point, and it only moves forward (the ledger).
//!   The replication stream reports it as the slot's flush position.
//! - A batch closes at a transaction boundary once it holds
//!   `max_records` records or `max_bytes` bytes, or `linger` after its first
//!   record (the caller flushes at [`Batcher::deadline`]).
//! - Heartbeats (see [`crate::heartbeat`]): once `heartbeat.interval.ms` has
//!   passed since the last beat, the next transaction boundary adds a
//!   heartbeat record to the batch, and the next idle position opens a batch
//!   of its own (heartbeat + offset at the idle position) and commits it.
//! - A failed send or commit leaves the batch open; the caller aborts it,
//!   and nothing of it counts (the source resumes after the last durable
//!   position).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::encode::EncodeError;
use crate::error::{Classify, ErrorClass};
use crate::event::{SnapshotMark, TxCommit};
use crate::heartbeat::{now_ms, Heartbeat};
use crate::lsn::Lsn;
use crate::offsets::ledger::OffsetLedger;
use crate::progress::IncrementalProgress;
use crate::record::EncodedRecord;
use crate::sink::Sink;

/// Default upper bound of records per batch.
pub const DEFAULT_BATCH_MAX_RECORDS: usize = 50_000;
/// Default upper bound of payload bytes per batch.
pub const DEFAULT_BATCH_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Default time a batch may stay open after its first record.
pub const DEFAULT_BATCH_LINGER: Duration = Duration::from_millis(20);

/// When to close a batch (checked at transaction boundaries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    pub max_records: usize,
    pub max_bytes: usize,
    pub linger: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max_records: DEFAULT_BATCH_MAX_RECORDS,
            max_bytes: DEFAULT_BATCH_MAX_BYTES,
            linger: DEFAULT_BATCH_LINGER,
        }
    }
}

/// Errors of batching: the sink's, or a heartbeat that cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum BatchError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Sink(E),
    #[error("cannot encode a heartbeat record")]
    Heartbeat(#[source] EncodeError),
}

impl<E: std::error::Error + Classify + 'static> Classify for BatchError<E> {
    fn class(&self) -> ErrorClass {
        match self {
            BatchError::Sink(e) => e.class(),
            BatchError::Heartbeat(_) => ErrorClass::Fatal,
        }
    }
}

/// The open batch.
#[derive(Debug)]
struct Open {
    records: usize,
    bytes: usize,
    opened_at: Option<Instant>,
}

/// Batches records into a [`Sink`], with the offset ledger.
pub struct Batcher<S: Sink> {
    sink: S,
    ledger: OffsetLedger,
    durable: watch::Sender<Lsn>,
    policy: BatchPolicy,
    heartbeat: Option<Heartbeat>,
    /// When the last heartbeat record was sent (or the batcher started).
    last_beat: Instant,
    open: Option<Open>,
    /// `pgcdc_sink_batches_total` and `pgcdc_sink_commit_seconds` (none in tests that do not look).
    metrics: Option<std::sync::Arc<crate::metrics::ConnectorMetrics>>,
}

impl<S: Sink> Batcher<S> {
    /// Counts durable batches and their commit time in `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::ConnectorMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Publishes the ledger's durable position (the stored offset's) at once.
    pub fn new(
        sink: S,
        ledger: OffsetLedger,
        durable: watch::Sender<Lsn>,
        policy: BatchPolicy,
        heartbeat: Option<Heartbeat>,
    ) -> Self {
        let batcher =
            Batcher { sink, ledger, durable, policy, heartbeat, last_beat: Instant::now(), open: None, metrics: None };
        batcher.publish(batcher.ledger.durable());
        batcher
    }

    /// The sink (tests look at what it holds).
    #[cfg(test)]
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink back (tests run it again after a simulated restart).
    #[cfg(test)]
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// The position made durable so far.
    pub fn durable_lsn(&self) -> Lsn {
        self.ledger.durable()
    }

    /// Accept one record of the current PostgreSQL transaction (or snapshot).
    pub async fn send(&mut self, record: &EncodedRecord) -> Result<(), BatchError<S::Error>> {
        self.enqueue(record).await?;
        self.ledger.record_sent();
        if let Some(open) = &mut self.open {
            open.opened_at.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Whether `send` may be called again with the same record after it
    /// failed with `err` (the open batch is as it was).
    pub fn send_retriable(&self, err: &BatchError<S::Error>) -> bool {
        match err {
            BatchError::Sink(e) => self.sink.send_retriable(e),
            BatchError::Heartbeat(_) => false,
        }
    }

    async fn enqueue(&mut self, record: &EncodedRecord) -> Result<(), BatchError<S::Error>> {
        self.open_batch()?;
        let size = record.key.as_ref().map_or(0, Vec::len) + record.payload.as_ref().map_or(0, Vec::len);
        self.sink.send(record).await.map_err(BatchError::Sink)?;
        if let Some(open) = &mut self.open {
            open.records += 1;
            open.bytes += size;
        }
        Ok(())
    }

    fn open_batch(&mut self) -> Result<(), BatchError<S::Error>> {
        if self.open.is_none() {
            self.sink.begin().map_err(BatchError::Sink)?;
            self.open = Some(Open { records: 0, bytes: 0, opened_at: None });
        }
        Ok(())
    }

    fn records(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.records)
    }

    fn full(&self) -> bool {
        self.open.as_ref().is_some_and(|o| o.records >= self.policy.max_records || o.bytes >= self.policy.max_bytes)
            || self.deadline().is_some_and(|d| d <= Instant::now())
    }

    fn heartbeat_due(&self) -> bool {
        self.heartbeat.as_ref().is_some_and(|h| self.last_beat.elapsed() >= h.interval())
    }

    /// Add a heartbeat record to the batch (opening it).
    async fn beat(&mut self) -> Result<(), BatchError<S::Error>> {
        let Some(heartbeat) = &self.heartbeat else { return Ok(()) };
        let record = heartbeat.record(now_ms()).map_err(BatchError::Heartbeat)?;
        self.last_beat = Instant::now();
        tracing::debug!(topic = %record.topic, "heartbeat");
        self.enqueue(&record).await
    }

    /// A PostgreSQL transaction ended; close the batch if it is full.
    pub async fn end_transaction(&mut self, commit: &TxCommit) -> Result<(), BatchError<S::Error>> {
        self.ledger.transaction_ended(commit);
        if self.open.is_some() && self.heartbeat_due() {
            self.beat().await?;
        }
        if self.records() == 0 {
            // Nothing of this transaction was captured: it is durable already
            // as soon as everything before it is.
            if self.open.is_none() {
                if let Some(lsn) = self.ledger.advance(commit.end_lsn) {
                    self.publish(lsn);
                }
                self.ledger.clear_batch_position();
            }
            return Ok(());
        }
        if self.full() {
            self.flush().await?;
        }
        Ok(())
    }

    /// The server has nothing for us before `lsn`.
    pub async fn idle(&mut self, lsn: Lsn) -> Result<(), BatchError<S::Error>> {
        let was_open = self.open.is_some();
        if self.heartbeat_due() {
            self.ledger.idle(lsn);
            self.beat().await?;
            // A heartbeat on its own is committed now; one that joined an
            // open batch is committed with it at the batch's deadline.
            return if was_open { Ok(()) } else { self.flush().await };
        }
        if was_open {
            // The walsender sends a keepalive after every transaction it
            // has caught up with: committing here would make one batch per
            // PostgreSQL transaction. The linger deadline commits the
            // batch, and the idle position with it.
            self.ledger.idle(lsn);
        } else if let Some(lsn) = self.ledger.advance(lsn) {
            self.publish(lsn);
        }
        Ok(())
    }

    /// A commit point of the initial snapshot: the records so far may be
    /// committed with its progress. The last mark commits at once and
    /// publishes the position streaming resumes from.
    pub async fn end_snapshot_chunk(&mut self, mark: &SnapshotMark) -> Result<(), BatchError<S::Error>> {
        self.ledger.snapshot_mark(mark);
        if !self.sink.stores_offsets() && self.records() == 0 {
            if let Some(lsn) = mark.completed.as_ref().and_then(|c| self.ledger.advance(c.resume)) {
                self.publish(lsn);
            }
            return Ok(());
        }
        if self.open.is_none() {
            // A mark without records (an empty table ended): its offset
            // alone is worth a batch when it records progress.
            self.open_batch()?;
        }
        if let Some(open) = &mut self.open {
            open.opened_at.get_or_insert_with(Instant::now);
        }
        if mark.completed.is_some() || self.full() {
            self.flush().await?;
        }
        Ok(())
    }

    /// The incremental snapshot's progress after the records sent so far.
    pub fn set_incremental(&mut self, progress: Option<IncrementalProgress>) {
        self.ledger.set_incremental(progress);
    }

    /// When the open batch must be flushed by, if one is open and can be
    /// flushed (it ends at a transaction boundary).
    pub fn deadline(&self) -> Option<Instant> {
        if self.ledger.mid_transaction() {
            return None;
        }
        self.open.as_ref().and_then(|o| o.opened_at).map(|t| t + self.policy.linger)
    }

    /// Make the open batch durable and publish its position. A batch that
    /// ends inside a PostgreSQL transaction is left open: only whole
    /// transactions are ever committed (the caller aborts on shutdown).
    pub async fn flush(&mut self) -> Result<(), BatchError<S::Error>> {
        if self.open.is_none() || self.ledger.mid_transaction() {
            return Ok(());
        }
        let started = Instant::now();
        let offset = if self.sink.stores_offsets() { self.ledger.batch_offset() } else { None };
        // The table the snapshot was reading, as the offset records it.
        let reading: String = offset
            .as_ref()
            .and_then(|o| o.snapshot_reading.as_ref())
            .map(|r| r.keys().cloned().collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        self.sink.commit(offset).await.map_err(BatchError::Sink)?;
        if let Some(m) = &self.metrics {
            crate::metrics::ConnectorMetrics::add(&m.sink_batches, 1);
            m.commit_seconds.observe(started.elapsed());
        }
        if let Some(open) = self.open.take() {
            tracing::debug!(
                records = open.records,
                snapshot_reading = %reading,
                bytes = open.bytes,
                open_ms = open.opened_at.map_or(0, |t| t.elapsed().as_millis() as u64),
                commit_ms = started.elapsed().as_millis() as u64,
                "batch durable"
            );
        }
        if let Some(lsn) = self.ledger.batch_durable() {
            self.publish(lsn);
        }
        Ok(())
    }

    /// Abort the open batch after an error; nothing in it becomes visible
    /// (exactly-once) and nothing of it counts.
    pub async fn abort(&mut self) {
        self.sink.abort().await;
        self.ledger.batch_aborted();
        self.open = None;
    }

    fn publish(&self, lsn: Lsn) {
        self.durable.send_if_modified(|current| {
            if lsn > *current {
                *current = lsn;
                true
            } else {
                false
            }
        });
    }
}
