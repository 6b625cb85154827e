//! The Kafka sink: encoded records → Kafka, with one durability contract.
//!
//! ```text
//!   send(record) …  end_transaction(end_lsn)  send …  end_transaction(end_lsn')   flush()
//!   └──────────── one batch: whole PostgreSQL transactions ───────────────────┘       │
//!                                                             durable LSN := end_lsn' ◀┘
//! ```
//!
//! - A record is *accepted* when handed to the producer and *durable* when
//!   the batch holding it is committed: the Kafka transaction commits
//!   (exactly-once) or every delivery in it is acknowledged (at-least-once).
//! - A batch only ever ends at a PostgreSQL transaction boundary, so the
//!   durable LSN published on the watch channel is always a commit's
//!   `end_lsn` (or an idle position past every commit) and only moves forward.
//!   The replication stream reports it as the slot's flush position.
//! - Backpressure and bounded memory: at most `max_in_flight` records and
//!   `max_in_flight_bytes` payload bytes are unacknowledged; the next `send`
//!   waits for the oldest, which slows the source reading. A PostgreSQL
//!   transaction of any size streams through this window into the open Kafka
//!   transaction (records of an open Kafka transaction are acknowledged as
//!   they are written, before the commit): it is never buffered whole.
//! - Offsets: when configured, each batch ends with one more record, the
//!   connector's offset (Debezium's layout, see [`crate::offsets`]) carrying
//!   the last commit of the batch, written to the offsets topic inside the
//!   same Kafka transaction: the batch and its offset become visible together
//!   or not at all. At-least-once writes it without a transaction, after the
//!   batch's records; a crash before it is acknowledged resends the batch.
//! - Idle positions: a batch that ends with an idle position (a keepalive
//!   past every commit) writes its offset at that position.
//! - Heartbeats (see [`crate::heartbeat`]): once `heartbeat.interval.ms` has
//!   passed since the last beat, the next transaction boundary adds a
//!   heartbeat record to the batch, and the next idle position opens a batch
//!   of its own (heartbeat + offset at the idle position) and commits it.
//! - Fencing: a second producer with the same `transactional.id` fences this
//!   one; the next produce or commit fails and the sink reports
//!   [`SinkError::Fenced`] (fatal: another instance owns the connector now).

pub(crate) mod topics;

pub use crate::kafka::partitioner;

use std::collections::VecDeque;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::connector::TopicCreation;
use crate::encode::EncodeError;
use crate::error::{Classify, ErrorClass};
use crate::event::{SnapshotMark, TxCommit};
use crate::heartbeat::{now_ms, Heartbeat};
use crate::kafka::classify as classify_kafka;
use crate::kafka::ClientSettings;
use crate::lsn::Lsn;
use crate::offsets::SourceOffset;
use crate::record::EncodedRecord;

use topics::TopicManager;

/// Default upper bound of records per batch.
pub const DEFAULT_BATCH_MAX_RECORDS: usize = 50_000;
/// Default upper bound of payload bytes per batch.
pub const DEFAULT_BATCH_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Default time a batch may stay open after its first record.
pub const DEFAULT_BATCH_LINGER: Duration = Duration::from_millis(20);
/// Default bound on unacknowledged records.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100_000;
/// Default bound on the key + value bytes of unacknowledged records.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 64 * 1024 * 1024;
/// librdkafka's `linger.ms` for at-least-once: its records are visible to
/// consumers as soon as they are written, so they should not wait long.
const PRODUCER_LINGER_MS: &str = "5";
/// librdkafka's `linger.ms` for exactly-once: consumers see nothing before
/// the commit, and a batch ends with [`flush_now`], which sends whatever
/// lingers at once, so a long linger costs no latency; it makes fewer,
/// fuller produce requests and bounds a CPU cost measured in
/// bench/README.md: librdkafka's broker thread polls its socket with
/// millisecond timeouts, so the last sub-millisecond of every linger period
/// is a busy loop (≈ 10 % of a core at 5 ms).
const PRODUCER_LINGER_MS_EXACTLY_ONCE: &str = "50";
/// How long a Kafka transaction may stay open: one PostgreSQL transaction
/// of millions of rows is one Kafka transaction.
const TRANSACTION_TIMEOUT_MS: &str = "600000";
/// How long a transaction commit or abort may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);

/// How records become durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// Each batch is one Kafka transaction with this `transactional.id`; a
    /// second instance with the same id fences this one.
    ExactlyOnce { transactional_id: String },
    /// Idempotent producer; a batch is durable when every record is acked.
    /// After a crash, the last batch may be delivered again.
    AtLeastOnce,
}

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

/// Everything the sink needs.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub bootstrap_servers: String,
    /// Raw librdkafka properties from the worker configuration; they win.
    pub options: Vec<(String, String)>,
    pub delivery: DeliveryGuarantee,
    pub batch: BatchPolicy,
    pub max_in_flight: usize,
    /// Bound on the key + value bytes of unacknowledged records.
    pub max_in_flight_bytes: usize,
    pub topic_creation: TopicCreation,
    /// Where each batch's offset record goes; `None` writes no offsets.
    pub offsets: Option<OffsetTarget>,
    /// Heartbeat records, when `heartbeat.interval.ms` > 0.
    pub heartbeat: Option<Heartbeat>,
}

/// The connector's offset record: topic and key.
#[derive(Clone, Debug)]
pub struct OffsetTarget {
    /// The offsets topic (created compacted if missing).
    pub topic: String,
    /// Partitions of the offsets topic when the sink creates it.
    pub partitions: i32,
    /// `["<connector>",{"server":"<prefix>"}]`
    pub key: Vec<u8>,
}

/// Errors of the Kafka sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot create the Kafka client (check [kafka] options)")]
    Client(#[source] KafkaError),
    #[error("cannot create topic {topic}")]
    TopicCreation {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot hand a record for {topic} to the producer")]
    Enqueue {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("delivery to {topic} failed")]
    Delivery {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("kafka transaction {step} failed")]
    Transaction {
        step: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("the producer went away before reporting a delivery")]
    Canceled,
    #[error("cannot encode a heartbeat record")]
    Heartbeat(#[source] EncodeError),
    #[error("this producer was fenced: another instance started with transactional.id {transactional_id:?} and owns the connector now; stop this instance (its open batch was aborted)")]
    Fenced {
        transactional_id: String,
        #[source]
        source: KafkaError,
    },
}

impl Classify for SinkError {
    fn class(&self) -> ErrorClass {
        match self {
            SinkError::Client(e)
            | SinkError::TopicCreation { source: e, .. }
            | SinkError::Enqueue { source: e, .. }
            | SinkError::Delivery { source: e, .. }
            | SinkError::Transaction { source: e, .. } => classify_kafka(e),
            SinkError::Canceled => ErrorClass::Transient,
            SinkError::Heartbeat(_) => ErrorClass::Fatal,
            SinkError::Fenced { .. } => ErrorClass::Fatal,
        }
    }
}

/// The open batch.
#[derive(Default)]
struct Batch {
    records: usize,
    bytes: usize,
    opened_at: Option<Instant>,
    /// `end_lsn` of the last complete PostgreSQL transaction in the batch.
    last_end_lsn: Option<Lsn>,
    /// The last complete PostgreSQL transaction that put records in the batch.
    last_commit: Option<TxCommit>,
    /// An idle position to confirm once the batch is durable.
    idle_lsn: Option<Lsn>,
    /// The offset of the snapshot's last mark in the batch (snapshot phase).
    snapshot_offset: Option<SourceOffset>,
    /// The Kafka transaction is open.
    in_txn: bool,
    /// Records of a PostgreSQL transaction whose end has not been seen yet
    /// are in the batch: it must not be committed now.
    partial: bool,
}

/// The sink. Owned by the pipeline's processing task.
pub struct KafkaSink {
    producer: FutureProducer,
    topics: TopicManager,
    delivery: DeliveryGuarantee,
    policy: BatchPolicy,
    max_in_flight: usize,
    max_in_flight_bytes: usize,
    /// Unacknowledged records: delivery, topic, key + value bytes.
    in_flight: VecDeque<(DeliveryFuture, String, usize)>,
    in_flight_bytes: usize,
    batch: Batch,
    durable: watch::Sender<Lsn>,
    offsets: Option<OffsetTarget>,
    heartbeat: Option<Heartbeat>,
    /// When the last heartbeat record was sent (or the sink started).
    last_beat: Instant,
    /// The last complete PostgreSQL transaction made durable (for the
    /// transaction id and time of an idle offset).
    last_durable_commit: Option<TxCommit>,
    /// Tables whose changes before an LSN came with a later snapshot (see
    /// `SourceOffset::table_floors`): carried in every offset while the
    /// stream is behind them, so a restart still skips those changes.
    table_floors: std::collections::BTreeMap<String, Lsn>,
    /// The incremental snapshot's progress as of the last record sent: the
    /// offsets carry it so a restart resumes the snapshot.
    incremental: Option<serde_json::Value>,
}

impl KafkaSink {
    /// Connect, and for exactly-once register the transactional id (which
    /// fences any earlier producer with the same id).
    pub async fn connect(config: SinkConfig, durable: watch::Sender<Lsn>) -> Result<Self, SinkError> {
        let client = ClientSettings::new(config.bootstrap_servers.clone(), config.options.clone());
        let cc = client.with_defaults(|cc| {
            crate::kafka::client::idempotent(cc)
                .set("partitioner", "murmur2_random")
                .set("linger.ms", PRODUCER_LINGER_MS)
                .set("compression.type", "none")
                .set("queue.buffering.max.messages", (config.max_in_flight * 2).max(1000).to_string())
                .set("queue.buffering.max.kbytes", "1048576");
            if let DeliveryGuarantee::ExactlyOnce { transactional_id } = &config.delivery {
                crate::kafka::client::transactional(cc, transactional_id, TRANSACTION_TIMEOUT_MS)
                    .set("linger.ms", PRODUCER_LINGER_MS_EXACTLY_ONCE);
            }
        });
        let producer: FutureProducer = cc.create().map_err(SinkError::Client)?;
        if matches!(config.delivery, DeliveryGuarantee::ExactlyOnce { .. }) {
            let p = producer.clone();
            blocking(move || p.init_transactions(TXN_TIMEOUT))
                .await
                .map_err(|source| SinkError::Transaction { step: "init", source })?;
        }
        let mut topics = TopicManager::new(&client, config.topic_creation.clone())?;
        if let Some(target) = &config.offsets {
            topics.ensure_compacted(&target.topic, target.partitions).await?;
        }
        Ok(KafkaSink {
            producer,
            topics,
            delivery: config.delivery,
            policy: config.batch,
            max_in_flight: config.max_in_flight.max(1),
            max_in_flight_bytes: config.max_in_flight_bytes.max(1),
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            batch: Batch::default(),
            durable,
            offsets: config.offsets,
            heartbeat: config.heartbeat,
            last_beat: Instant::now(),
            last_durable_commit: None,
            table_floors: Default::default(),
            incremental: None,
        })
    }

    /// Everything at or below `lsn` is known to be durable already (the
    /// stored offset at start): publish it as the starting durable position.
    pub fn set_durable_floor(&self, lsn: Lsn) {
        self.publish(lsn);
    }

    /// Per-table floors to keep in the offsets while the stream is behind
    /// them (from the stored offset or the snapshot's last mark).
    pub fn set_table_floors(&mut self, floors: std::collections::BTreeMap<String, Lsn>) {
        self.table_floors = floors;
    }

    /// The incremental snapshot's progress after the records sent so far
    /// (from the stored offset at start, then from the source).
    pub fn set_incremental(&mut self, progress: Option<serde_json::Value>) {
        self.incremental = progress;
    }

    /// A commit point of the initial snapshot: the records so far may be
    /// committed with `mark.offset`. The last mark commits at once and
    /// publishes the position streaming resumes from.
    pub async fn end_snapshot_chunk(&mut self, mark: &SnapshotMark) -> Result<(), SinkError> {
        let result = self.end_snapshot_chunk_inner(mark).await;
        result.map_err(|e| self.fenced_or(e))
    }

    async fn end_snapshot_chunk_inner(&mut self, mark: &SnapshotMark) -> Result<(), SinkError> {
        self.batch.partial = false;
        self.batch.snapshot_offset = Some(mark.offset.clone());
        if let Some(resume) = mark.completed {
            self.table_floors = mark.offset.floors();
            self.batch.last_end_lsn = Some(resume);
        }
        if self.offsets.is_none() && self.batch.records == 0 {
            if let Some(resume) = mark.completed {
                self.publish(resume);
            }
            return Ok(());
        }
        if !self.batch.in_txn {
            // A mark without records (an empty table ended): its offset
            // alone is worth a transaction when it records progress.
            self.open_batch()?;
            self.batch.opened_at.get_or_insert_with(Instant::now);
        }
        if mark.completed.is_some()
            || self.batch.records >= self.policy.max_records
            || self.batch.bytes >= self.policy.max_bytes
            || self.deadline().is_some_and(|d| d <= Instant::now())
        {
            self.flush_inner().await?;
        }
        Ok(())
    }

    /// The error to report: [`SinkError::Fenced`] when the producer was
    /// fenced, whatever step noticed it first.
    fn fenced_or(&self, err: SinkError) -> SinkError {
        let DeliveryGuarantee::ExactlyOnce { transactional_id } = &self.delivery else { return err };
        let fatal = self.producer.client().fatal_error();
        let code = match (&fatal, &err) {
            (Some((code, _)), _) => Some(*code),
            (
                None,
                SinkError::Transaction { source, .. }
                | SinkError::Delivery { source, .. }
                | SinkError::Enqueue { source, .. },
            ) => source.rdkafka_error_code(),
            _ => None,
        };
        if matches!(
            code,
            Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::Fenced | RDKafkaErrorCode::InvalidProducerEpoch)
        ) {
            let source = match err {
                SinkError::Transaction { source, .. }
                | SinkError::Delivery { source, .. }
                | SinkError::Enqueue { source, .. } => source,
                _ => KafkaError::Global(RDKafkaErrorCode::ProducerFenced),
            };
            return SinkError::Fenced { transactional_id: transactional_id.clone(), source };
        }
        err
    }

    /// Accept one record into the open batch.
    pub async fn send(&mut self, record: EncodedRecord) -> Result<(), SinkError> {
        let result = self.send_inner(record).await;
        result.map_err(|e| self.fenced_or(e))
    }

    async fn send_inner(&mut self, record: EncodedRecord) -> Result<(), SinkError> {
        self.enqueue(record).await?;
        self.batch.partial = true;
        if self.batch.opened_at.is_none() {
            self.batch.opened_at = Some(Instant::now());
        }
        Ok(())
    }

    /// Hand a record to the producer inside the open batch (opening it).
    async fn enqueue(&mut self, record: EncodedRecord) -> Result<(), SinkError> {
        self.topics.ensure(&record.topic).await?;
        self.open_batch()?;
        let size = record.key.as_ref().map_or(0, Vec::len) + record.payload.as_ref().map_or(0, Vec::len);
        while self.in_flight.len() >= self.max_in_flight
            || (!self.in_flight.is_empty() && self.in_flight_bytes + size > self.max_in_flight_bytes)
        {
            self.await_oldest().await?;
        }
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header { key, value: value.as_deref() });
        }
        let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic).headers(headers);
        if let Some(k) = record.key.as_deref() {
            fr = fr.key(k);
        }
        if let Some(p) = record.payload.as_deref() {
            fr = fr.payload(p);
        }
        if let Some(ts) = record.timestamp_ms {
            fr = fr.timestamp(ts);
        }
        let future = self
            .producer
            .send_result(fr)
            .map_err(|(source, _)| SinkError::Enqueue { topic: record.topic.clone(), source })?;
        self.in_flight.push_back((future, record.topic, size));
        self.in_flight_bytes += size;
        self.batch.records += 1;
        self.batch.bytes += size;
        Ok(())
    }

    /// Opens the batch (its Kafka transaction, exactly-once) if none is open.
    fn open_batch(&mut self) -> Result<(), SinkError> {
        if !self.batch.in_txn {
            if matches!(self.delivery, DeliveryGuarantee::ExactlyOnce { .. }) {
                self.producer.begin_transaction().map_err(|source| SinkError::Transaction { step: "begin", source })?;
            }
            self.batch.in_txn = true;
        }
        Ok(())
    }

    /// Whether a heartbeat is due.
    fn heartbeat_due(&self) -> bool {
        self.heartbeat.as_ref().is_some_and(|h| self.last_beat.elapsed() >= h.interval())
    }

    /// Add a heartbeat record to the batch (opening it).
    async fn beat(&mut self) -> Result<(), SinkError> {
        let Some(heartbeat) = &self.heartbeat else { return Ok(()) };
        let record = heartbeat.record(now_ms()).map_err(SinkError::Heartbeat)?;
        self.last_beat = Instant::now();
        tracing::debug!(topic = %record.topic, "heartbeat");
        self.enqueue(record).await
    }

    /// A PostgreSQL transaction ended (at `commit.end_lsn`); close the batch if it is full.
    pub async fn end_transaction(&mut self, commit: &TxCommit) -> Result<(), SinkError> {
        let end_lsn = commit.end_lsn;
        self.batch.last_end_lsn = Some(end_lsn);
        if self.batch.partial {
            self.batch.last_commit = Some(commit.clone());
        }
        self.batch.partial = false;
        if self.batch.in_txn && self.heartbeat_due() {
            self.beat().await.map_err(|e| self.fenced_or(e))?;
        }
        if self.batch.records == 0 {
            // Nothing of this transaction was captured: it is durable already
            // as soon as everything before it is.
            if !self.batch.in_txn {
                self.publish(end_lsn);
                self.batch.last_end_lsn = None;
            }
            return Ok(());
        }
        if self.batch.records >= self.policy.max_records
            || self.batch.bytes >= self.policy.max_bytes
            || self.deadline().is_some_and(|d| d <= Instant::now())
        {
            self.flush().await?;
        }
        Ok(())
    }

    /// The server has nothing for us before `lsn`.
    pub async fn idle(&mut self, lsn: Lsn) -> Result<(), SinkError> {
        let lsn = lsn.max(*self.durable.borrow());
        let was_open = self.batch.in_txn;
        if self.heartbeat_due() {
            self.batch.idle_lsn = Some(lsn);
            if let Err(e) = self.beat().await {
                return Err(self.fenced_or(e));
            }
            // A heartbeat on its own is committed now; one that joined an
            // open batch is committed with it at the batch's deadline.
            return if was_open { Ok(()) } else { self.flush().await };
        }
        if was_open {
            // The walsender sends a keepalive after every transaction it
            // has caught up with: committing here would make one Kafka
            // transaction per PostgreSQL transaction. The linger deadline
            // commits the batch, and the idle position with it.
            self.batch.idle_lsn = Some(lsn);
            Ok(())
        } else {
            self.publish(lsn);
            Ok(())
        }
    }

    /// When the open batch must be flushed by, if one is open and can be
    /// flushed (it ends at a transaction boundary).
    pub fn deadline(&self) -> Option<Instant> {
        if self.batch.partial {
            return None;
        }
        self.batch.opened_at.map(|t| t + self.policy.linger)
    }

    /// Make the open batch durable and publish its position. A batch that
    /// ends inside a PostgreSQL transaction is left open: only whole
    /// transactions are ever committed (the caller aborts on shutdown).
    pub async fn flush(&mut self) -> Result<(), SinkError> {
        let result = self.flush_inner().await;
        result.map_err(|e| self.fenced_or(e))
    }

    async fn flush_inner(&mut self) -> Result<(), SinkError> {
        if !self.batch.in_txn || self.batch.partial {
            return Ok(());
        }
        let started = Instant::now();
        self.send_offset()?;
        // Send what lingers now instead of after `linger.ms`, then collect
        // the (by then settled) deliveries.
        let p = self.producer.clone();
        if let Err(source) = blocking(move || flush_now(&p, TXN_TIMEOUT)).await {
            return Err(self.failed_delivery().unwrap_or(SinkError::Transaction { step: "flush", source }));
        }
        while !self.in_flight.is_empty() {
            self.await_oldest().await?;
        }
        let acked = started.elapsed();
        if matches!(self.delivery, DeliveryGuarantee::ExactlyOnce { .. }) {
            let p = self.producer.clone();
            blocking(move || p.commit_transaction(TXN_TIMEOUT))
                .await
                .map_err(|source| SinkError::Transaction { step: "commit", source })?;
        }
        let batch = std::mem::take(&mut self.batch);
        tracing::debug!(
            records = batch.records,
            bytes = batch.bytes,
            open_ms = batch.opened_at.map_or(0, |t| t.elapsed().as_millis() as u64),
            acked_ms = acked.as_millis() as u64,
            flush_ms = started.elapsed().as_millis() as u64,
            "batch durable"
        );
        if batch.last_commit.is_some() {
            self.last_durable_commit = batch.last_commit.clone();
        }
        if let Some(lsn) = batch.last_end_lsn {
            self.publish(lsn);
        }
        if let Some(lsn) = batch.idle_lsn {
            self.publish(lsn);
        }
        Ok(())
    }

    /// Abort the open batch (exactly-once) after an error; nothing in it
    /// becomes visible to read_committed consumers.
    pub async fn abort(&mut self) {
        self.in_flight.clear();
        self.in_flight_bytes = 0;
        if self.batch.in_txn && matches!(self.delivery, DeliveryGuarantee::ExactlyOnce { .. }) {
            let p = self.producer.clone();
            if let Err(err) = blocking(move || p.abort_transaction(TXN_TIMEOUT)).await {
                tracing::warn!(error = %err, "kafka transaction abort failed");
            }
        }
        self.batch = Batch::default();
    }

    /// Add the batch's offset record to the batch: its idle position when
    /// that is past its last commit, else its last commit.
    fn send_offset(&mut self) -> Result<(), SinkError> {
        let Some(target) = &self.offsets else { return Ok(()) };
        let commit_end = self.batch.last_commit.as_ref().map(|c| c.end_lsn);
        let mut offset = match (self.batch.snapshot_offset.take(), self.batch.idle_lsn, &self.batch.last_commit) {
            (Some(snapshot), _, _) => snapshot,
            (None, Some(idle), _) if commit_end.is_none_or(|end| idle > end) => {
                let last = self.batch.last_commit.as_ref().or(self.last_durable_commit.as_ref());
                SourceOffset::at_idle(idle, last.map(|c| (c.xid, c.commit_ts_us)))
            }
            (None, _, Some(commit)) => SourceOffset::after_commit(commit.end_lsn, commit.xid, commit.commit_ts_us),
            (None, _, None) => return Ok(()),
        };
        if offset.incremental.is_none() {
            offset.incremental = self.incremental.clone();
        }
        if offset.table_floors.is_none() && !self.table_floors.is_empty() {
            // Floors the stream has passed no longer matter.
            let at = offset.resume_lsn().unwrap_or(Lsn::ZERO);
            self.table_floors.retain(|_, floor| *floor > at);
            if !self.table_floors.is_empty() {
                offset.table_floors =
                    Some(self.table_floors.iter().map(|(t, l)| (t.clone(), l.as_u64())).collect());
            }
        }
        let value = offset.to_json();
        let fr: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&target.topic).key(target.key.as_slice()).payload(value.as_slice());
        let future = self
            .producer
            .send_result(fr)
            .map_err(|(source, _)| SinkError::Enqueue { topic: target.topic.clone(), source })?;
        self.in_flight.push_back((future, target.topic.clone(), value.len()));
        self.in_flight_bytes += value.len();
        Ok(())
    }

    /// The first delivery of the open batch already known to have failed,
    /// a more precise cause than the flush that it made fail.
    fn failed_delivery(&mut self) -> Option<SinkError> {
        use futures::FutureExt as _;
        for (future, topic, _) in self.in_flight.iter_mut() {
            match (&mut *future).now_or_never() {
                Some(Ok(Err((source, _)))) => return Some(SinkError::Delivery { topic: topic.clone(), source }),
                Some(Err(_)) => return Some(SinkError::Canceled),
                _ => {}
            }
        }
        None
    }

    async fn await_oldest(&mut self) -> Result<(), SinkError> {
        let Some((future, topic, size)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        self.in_flight_bytes -= size;
        match future.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((source, _))) => Err(SinkError::Delivery { topic, source }),
            Err(_) => Err(SinkError::Canceled),
        }
    }

    /// The position made durable so far.
    pub fn durable_lsn(&self) -> Lsn {
        *self.durable.borrow()
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

/// librdkafka's `rd_kafka_flush`: every queued record is sent at once,
/// ignoring `linger.ms` for as long as the call waits, and the call returns
/// when every delivery has been reported (or at `timeout`).
///
/// rust-rdkafka's `Producer::flush` calls it with a zero timeout in a loop,
/// so librdkafka's "flushing" state lasts microseconds and the broker thread
/// usually wakes after it ended and waits out the linger anyway; hence the
/// direct call. Blocking: run it with [`blocking`].
fn flush_now(producer: &FutureProducer, timeout: Duration) -> Result<(), KafkaError> {
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: the pointer is the live client handle owned by `producer`,
    // which the caller keeps alive for the duration of the call;
    // `rd_kafka_flush` is thread-safe.
    let err = unsafe { rdkafka::bindings::rd_kafka_flush(producer.client().native_ptr(), ms) };
    match RDKafkaErrorCode::from(err) {
        RDKafkaErrorCode::NoError => Ok(()),
        code => Err(KafkaError::Flush(code)),
    }
}

/// Run one of librdkafka's blocking calls off the async threads.
async fn blocking<F>(f: F) -> Result<(), KafkaError>
where
    F: FnOnce() -> Result<(), KafkaError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(_) => Err(KafkaError::Canceled),
    }
}
