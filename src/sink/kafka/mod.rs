//! The Kafka sink: encoded records → Kafka, one batch per Kafka transaction.
//!
//! ```text
//!   begin ─ send(record)* ─ commit(offset): offset record + rd_kafka_flush + commit_transaction
//!   └────────────────────── abort(): abort_transaction ───────────────────────┘
//! ```
//!
//! - A record is *accepted* when handed to the producer and *durable* when
//!   the batch holding it is committed: the Kafka transaction commits
//!   (exactly-once) or every delivery in it is acknowledged (at-least-once).
//!   Where batches end and what position each makes durable is decided
//!   above this module (`crate::delivery`, `crate::offsets::ledger`).
//! - Backpressure and bounded memory: at most `max_in_flight` records and
//!   `max_in_flight_bytes` payload bytes are unacknowledged; the next `send`
//!   waits for the oldest, which slows the source reading. A PostgreSQL
//!   transaction of any size streams through this window into the open Kafka
//!   transaction (records of an open Kafka transaction are acknowledged as
//!   they are written, before the commit): it is never buffered whole.
//! - Offsets: when configured, `commit` writes the batch's offset record
//!   (Debezium's layout, see [`crate::offsets`]) to the offsets topic inside
//!   the same Kafka transaction: the batch and its offset become visible
//!   together or not at all. At-least-once writes it without a transaction,
//!   after the batch's records; a crash before it is acknowledged resends
//!   the batch.
//! - Fencing: a second producer with the same `transactional.id` fences this
//!   one; the next produce or commit fails and the sink reports
//!   [`SinkError::Fenced`] (fatal: another instance owns the connector now).
//!   A fenced sink does not abort: the coordinator aborted its open
//!   transaction when the newer producer registered, and a fenced producer's
//!   abort can only fail (tansu drops it, so it would hang for [`TXN_TIMEOUT`]
//!   while this instance still holds the slot the newer one waits for).

pub(crate) mod topics;

pub use crate::kafka::partitioner;

use std::collections::VecDeque;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::kafka::client::KafkaContext;
use rdkafka::types::RDKafkaErrorCode;
use tokio::time::Instant;

use crate::config::connector::TopicCreation;
use crate::error::{Classify, ErrorClass};
use crate::kafka::classify as classify_kafka;
use crate::kafka::ClientSettings;
use crate::offsets::SourceOffset;
use crate::record::EncodedRecord;
use crate::sink::Sink;

use topics::TopicManager;

/// Default bound on unacknowledged records.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100_000;
/// Default bound on the key + value bytes of unacknowledged records.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 64 * 1024 * 1024;
/// librdkafka's `linger.ms` for at-least-once: its records are visible to
/// consumers as soon as they are written, so they should not wait long.
/// How often librdkafka reports the producer's statistics (`pgcdc_kafka_*` metrics);
/// `statistics.interval.ms` in `[kafka.options]` or a `producer.override` wins.
const PRODUCER_STATISTICS_INTERVAL_MS: &str = "10000";
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
pub use crate::kafka::TXN_TIMEOUT;

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

/// Everything the sink needs.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub bootstrap_servers: String,
    /// Raw librdkafka properties from the worker configuration; they win.
    pub options: Vec<(String, String)>,
    /// The connector's `producer.override.*` (names without the prefix):
    /// applied to the producer after `options`, translated with them.
    pub producer_overrides: crate::config::overrides::ProducerOverrides,
    pub delivery: DeliveryGuarantee,
    pub max_in_flight: usize,
    /// Bound on the key + value bytes of unacknowledged records.
    pub max_in_flight_bytes: usize,
    pub topic_creation: TopicCreation,
    /// Where each batch's offset record goes; `None` writes no offsets.
    pub offsets: Option<OffsetTarget>,
    /// The dead letter queue topic and its replication factor
    /// (`errors.deadletterqueue.topic.*`), created at connect.
    pub dead_letter: Option<(String, i16)>,
    /// The connector's metrics: librdkafka's statistics of the producer go there.
    pub metrics: Option<std::sync::Arc<crate::metrics::ConnectorMetrics>>,
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
    /// The worker's `[kafka.options]` and the connector's
    /// `producer.override.*` cannot be honoured together (checked at
    /// registration; met here only when the worker's options changed since).
    #[error("the connector's producer.override.* settings cannot be used with this worker's [kafka.options]")]
    Overrides(#[source] crate::kafka::security::SettingError),
    /// pgcdc's own connection to a broker (TLS and SASL as configured)
    /// failed before any producer was created: a certificate or password
    /// problem is fatal and named here, not retried by librdkafka forever.
    #[error("cannot connect to the Kafka brokers{with}")]
    Connect {
        class: ErrorClass,
        /// Empty, or which `producer.override.*` settings the connection used.
        with: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot create topic {topic}")]
    TopicCreation {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot hand a record for {topic} to the producer{hint}")]
    Enqueue {
        topic: String,
        /// What to do about it, when known.
        hint: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("delivery to {topic} failed{hint}")]
    Delivery {
        topic: String,
        /// What to do about it, when known.
        hint: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("cannot create the dead letter queue topic {topic} with replication factor {replication_factor} (errors.deadletterqueue.topic.replication.factor){hint}")]
    DeadLetterTopic {
        topic: String,
        replication_factor: i16,
        /// What to do when the broker refused the factor.
        hint: &'static str,
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
    #[error("this producer was fenced: another instance started with transactional.id {transactional_id:?} and owns the connector now; stop this instance (its open batch was aborted)")]
    Fenced {
        transactional_id: String,
        #[source]
        source: KafkaError,
    },
}

/// A record the producer refuses itself (librdkafka's `message.max.bytes`):
/// this record only, the transaction goes on.
const TOO_LARGE_FOR_THE_PRODUCER: &str = ": the record is larger than the producer's message.max.bytes \
     (1000000 unless [kafka.options] sets it); raise it there (and the topic's max.message.bytes, \
     topic.creation.default.max.message.bytes for new topics), or set errors.tolerance=all \
     (with errors.deadletterqueue.topic.name) to skip such records";
/// A record the broker refused after the producer accepted it: the Kafka
/// transaction holding it cannot commit, and which record it was is known
/// only by its topic.
const REFUSED_BY_THE_BROKER: &str = ": the broker refused a record it had been sent, most likely larger than \
     the topic's max.message.bytes or the broker's message.max.bytes; raise those \
     (topic.creation.default.max.message.bytes for new topics), or lower the producer's \
     message.max.bytes in [kafka.options] to at most them so that pgcdc refuses such records \
     itself and errors.tolerance applies. The transaction was not committed: nothing is lost, \
     the slot did not advance";

impl SinkError {
    fn enqueue(topic: String, source: KafkaError) -> Self {
        let too_large = source.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge);
        SinkError::Enqueue { topic, hint: if too_large { TOO_LARGE_FOR_THE_PRODUCER } else { "" }, source }
    }

    fn delivery(topic: String, source: KafkaError) -> Self {
        let refused = classify_kafka(&source) == ErrorClass::Data;
        SinkError::Delivery { topic, hint: if refused { REFUSED_BY_THE_BROKER } else { "" }, source }
    }
}

impl Classify for SinkError {
    fn class(&self) -> ErrorClass {
        match self {
            // Not the record being sent but an earlier one of the open
            // transaction, which cannot commit: no record to skip, and a
            // restart would meet it again.
            SinkError::Delivery { source: e, .. } if classify_kafka(e) == ErrorClass::Data => ErrorClass::Fatal,
            SinkError::Client(e)
            | SinkError::TopicCreation { source: e, .. }
            | SinkError::Enqueue { source: e, .. }
            | SinkError::Delivery { source: e, .. }
            | SinkError::Transaction { source: e, .. } => classify_kafka(e),
            SinkError::Connect { class, .. } => *class,
            // No retry changes what the broker thinks of the factor.
            SinkError::DeadLetterTopic { source, .. } if topics::refuses_replication_factor(source) => ErrorClass::Fatal,
            SinkError::DeadLetterTopic { source, .. } => classify_kafka(source),
            SinkError::Canceled => ErrorClass::Transient,
            SinkError::Overrides(_) => ErrorClass::Fatal,
            SinkError::Fenced { .. } => ErrorClass::Fatal,
        }
    }
}

/// `" with the connector's producer.override.a, producer.override.b over
/// [kafka.options]"`, or empty without overrides: a connection error then
/// points at the connector's settings as well as the worker's.
fn overrides_note(overrides: &[(String, String)]) -> String {
    if overrides.is_empty() {
        return String::new();
    }
    let names: Vec<String> = overrides.iter().map(|(k, _)| format!("{}{k}", crate::config::overrides::PRODUCER_PREFIX)).collect();
    format!(" with the connector's {} over [kafka.options]", names.join(", "))
}

/// The Kafka sink. Owned by the pipeline's delivery task.
pub struct KafkaSink {
    producer: FutureProducer<KafkaContext>,
    topics: TopicManager,
    delivery: DeliveryGuarantee,
    max_in_flight: usize,
    max_in_flight_bytes: usize,
    /// Unacknowledged records: delivery, topic, key + value bytes.
    in_flight: VecDeque<(DeliveryFuture, String, usize)>,
    in_flight_bytes: usize,
    offsets: Option<OffsetTarget>,
    /// The Kafka transaction is open (exactly-once).
    in_txn: bool,
    /// A step reported [`SinkError::Fenced`]: the producer is done.
    fenced: bool,
}

impl KafkaSink {
    /// Connect, and for exactly-once register the transactional id (which
    /// fences any earlier producer with the same id).
    pub async fn connect(config: SinkConfig) -> Result<Self, SinkError> {
        // Topics are created with the worker's settings; the producer (records
        // and offset record) with the connector's overrides on top.
        let client = ClientSettings::new(config.bootstrap_servers.clone(), config.options.clone());
        let producer_client = ClientSettings::new(
            config.bootstrap_servers.clone(),
            config.options.iter().chain(&config.producer_overrides.0).cloned(),
        );
        producer_client.check().map_err(SinkError::Overrides)?;
        crate::kafka::protocol::check_reachable(&producer_client)
            .await
            .map_err(|e| SinkError::Connect {
                class: crate::error::Classify::class(&e),
                with: overrides_note(&config.producer_overrides.0),
                source: Box::new(e),
            })?;
        let cc = producer_client.with_defaults(|cc| {
            crate::kafka::client::idempotent(cc)
                .set("partitioner", "murmur2_random")
                .set("linger.ms", PRODUCER_LINGER_MS)
                .set("compression.type", "none")
                .set("queue.buffering.max.messages", (config.max_in_flight * 2).max(1000).to_string())
                .set("queue.buffering.max.kbytes", "1048576")
                .set("statistics.interval.ms", PRODUCER_STATISTICS_INTERVAL_MS);
            if let DeliveryGuarantee::ExactlyOnce { transactional_id } = &config.delivery {
                crate::kafka::client::transactional(cc, transactional_id, TRANSACTION_TIMEOUT_MS)
                    .set("linger.ms", PRODUCER_LINGER_MS_EXACTLY_ONCE);
            }
        });
        let producer: FutureProducer<KafkaContext> = match &config.metrics {
            Some(m) => producer_client.create_with_stats(&cc, m.clone()),
            None => producer_client.create(&cc),
        }
        .map_err(SinkError::Client)?;
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
        if let Some((topic, replication_factor)) = &config.dead_letter {
            topics.ensure_dead_letter_queue(topic, *replication_factor).await?;
        }
        Ok(KafkaSink {
            producer,
            topics,
            delivery: config.delivery,
            max_in_flight: config.max_in_flight.max(1),
            max_in_flight_bytes: config.max_in_flight_bytes.max(1),
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            offsets: config.offsets,
            in_txn: false,
            fenced: false,
        })
    }

    fn exactly_once(&self) -> bool {
        matches!(self.delivery, DeliveryGuarantee::ExactlyOnce { .. })
    }

    /// The error to report: [`SinkError::Fenced`] when the producer was
    /// fenced, whatever step noticed it first.
    fn fenced_or(&mut self, err: SinkError) -> SinkError {
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
            let transactional_id = transactional_id.clone();
            self.fenced = true;
            return SinkError::Fenced { transactional_id, source };
        }
        err
    }

    /// Hand a record to the producer.
    async fn enqueue(&mut self, record: &EncodedRecord) -> Result<(), SinkError> {
        self.topics.ensure(&record.topic).await?;
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
            .map_err(|(source, _)| SinkError::enqueue(record.topic.clone(), source))?;
        self.in_flight.push_back((future, record.topic.clone(), size));
        self.in_flight_bytes += size;
        Ok(())
    }

    /// Add the batch's offset record to the batch.
    fn send_offset(&mut self, offset: &SourceOffset) -> Result<(), SinkError> {
        let Some(target) = &self.offsets else { return Ok(()) };
        let value = offset.to_json();
        let fr: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&target.topic).key(target.key.as_slice()).payload(value.as_slice());
        let future = self
            .producer
            .send_result(fr)
            .map_err(|(source, _)| SinkError::enqueue(target.topic.clone(), source))?;
        self.in_flight.push_back((future, target.topic.clone(), value.len()));
        self.in_flight_bytes += value.len();
        Ok(())
    }

    async fn commit_inner(&mut self, offset: Option<SourceOffset>) -> Result<(), SinkError> {
        let started = Instant::now();
        if let Some(offset) = &offset {
            self.send_offset(offset)?;
        }
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
        if self.exactly_once() && self.in_txn {
            let p = self.producer.clone();
            blocking(move || p.commit_transaction(TXN_TIMEOUT))
                .await
                .map_err(|source| SinkError::Transaction { step: "commit", source })?;
        }
        self.in_txn = false;
        tracing::debug!(acked_ms = acked.as_millis() as u64, flush_ms = started.elapsed().as_millis() as u64, "kafka batch committed");
        Ok(())
    }

    /// The first delivery of the open batch already known to have failed,
    /// a more precise cause than the flush that it made fail.
    fn failed_delivery(&mut self) -> Option<SinkError> {
        use futures::FutureExt as _;
        for (future, topic, _) in self.in_flight.iter_mut() {
            match (&mut *future).now_or_never() {
                Some(Ok(Err((source, _)))) => return Some(SinkError::delivery(topic.clone(), source)),
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
            Ok(Err((source, _))) => Err(SinkError::delivery(topic, source)),
            Err(_) => Err(SinkError::Canceled),
        }
    }
}

impl Sink for KafkaSink {
    type Error = SinkError;

    fn begin(&mut self) -> Result<(), SinkError> {
        if self.exactly_once() && !self.in_txn {
            if let Err(source) = self.producer.begin_transaction() {
                return Err(self.fenced_or(SinkError::Transaction { step: "begin", source }));
            }
        }
        self.in_txn = true;
        Ok(())
    }

    async fn send(&mut self, record: &EncodedRecord) -> Result<(), SinkError> {
        let result = self.enqueue(record).await;
        result.map_err(|e| self.fenced_or(e))
    }

    async fn commit(&mut self, offset: Option<SourceOffset>) -> Result<(), SinkError> {
        let result = self.commit_inner(offset).await;
        result.map_err(|e| self.fenced_or(e))
    }

    async fn abort(&mut self) {
        self.in_flight.clear();
        self.in_flight_bytes = 0;
        if self.in_txn && self.fenced {
            tracing::debug!("fenced: the open kafka transaction was aborted by the coordinator");
        } else if self.in_txn && self.exactly_once() {
            let p = self.producer.clone();
            if let Err(err) = blocking(move || p.abort_transaction(TXN_TIMEOUT)).await {
                tracing::warn!(error = %err, "kafka transaction abort failed");
            }
        }
        self.in_txn = false;
    }

    /// A full local queue or a topic that could not be created yet leaves
    /// the transaction as it was; a failed delivery (an earlier record) or a
    /// producer in an error state does not.
    fn send_retriable(&self, err: &SinkError) -> bool {
        !self.fenced
            && match err {
                SinkError::Enqueue { source, .. } => source.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull),
                SinkError::TopicCreation { .. } => err.class() == ErrorClass::Transient,
                _ => false,
            }
    }

    fn stores_offsets(&self) -> bool {
        self.offsets.is_some()
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
fn flush_now(producer: &FutureProducer<KafkaContext>, timeout: Duration) -> Result<(), KafkaError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    #[test]
    fn a_record_too_large_is_this_records_data_error_and_a_broker_refusal_fails_naming_the_setting() {
        let too_large = || KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        // Refused by the producer before it was sent: this record only.
        let local = SinkError::enqueue("t".into(), too_large());
        assert_eq!(local.class(), ErrorClass::Data);
        assert!(chain(&local).contains("message.max.bytes") && chain(&local).contains("errors.tolerance=all"), "{}", chain(&local));
        // Refused by the broker after it was accepted: the transaction cannot commit.
        let broker = SinkError::delivery("t".into(), too_large());
        assert_eq!(broker.class(), ErrorClass::Fatal, "never tolerated as if it were the record being sent");
        for part in ["max.message.bytes", "topic.creation.default.max.message.bytes", "[kafka.options]", "slot did not advance"] {
            assert!(chain(&broker).contains(part), "{part} missing from: {}", chain(&broker));
        }
        let lost = SinkError::delivery("t".into(), KafkaError::MessageProduction(RDKafkaErrorCode::RequestTimedOut));
        assert_eq!(lost.class(), ErrorClass::Transient);
        assert_eq!(chain(&lost), "delivery to t failed: Message production error: RequestTimedOut (Broker: Request timed out)");
    }
}
