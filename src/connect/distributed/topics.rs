//! The config and status topics: created compacted with one partition
//! (one partition keeps every record of a connector in order), written with
//! the idempotent producer (plain writes, no transactions), and tailed from
//! the beginning by every worker with an assigned (group-less) consumer.
//!
//! ```text
//!   write(key, value) ──produce──▶ topic ──tail──▶ on_record(offset, key, value) ──▶ position = offset + 1
//!         └── returns the record's offset: wait_for(position > offset) = read-your-writes
//! ```

use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};

use crate::error::{Classify, ErrorClass};
use crate::kafka::admin::{Admin, AdminError};
use crate::kafka::client::{assigned_consumer, idempotent, KafkaContext};
use crate::kafka::ClientSettings;

/// Timeout of produce acknowledgements and watermark queries.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);
/// Records read ahead of the one being applied.
const TAIL_CHANNEL_CAPACITY: usize = 256;

/// Why a config or status topic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("cannot create the Kafka client for {topic}")]
    Client {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot create the internal topic {topic}; create it with cleanup.policy=compact and 1 partition")]
    Create {
        topic: String,
        #[source]
        source: Box<AdminError>,
    },
    #[error("cannot write to {topic}")]
    Write {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot read the end offset of {topic}")]
    Watermarks {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("this worker did not read its own write to {topic} back within {timeout:?}")]
    ReadBack { topic: String, timeout: Duration },
    #[error("cannot connect to the Kafka brokers")]
    Brokers(#[source] crate::kafka::protocol::ProtocolError),
}

impl Classify for TopicError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

/// One record read from a tailed topic.
#[derive(Debug)]
pub struct TailRecord {
    pub offset: i64,
    pub key: Vec<u8>,
    /// `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

/// Makes sure `topic` exists, compacted with one partition.
pub async fn ensure_compacted(settings: &ClientSettings, topic: &str) -> Result<(), TopicError> {
    let err = |source| TopicError::Create { topic: topic.to_owned(), source: Box::new(source) };
    Admin::new(settings).map_err(err)?.ensure_compacted(topic, 1, 1).await.map_err(err)
}

/// The idempotent producer of the internal topics.
#[derive(Clone)]
pub struct Writer {
    producer: FutureProducer<KafkaContext>,
}

impl Writer {
    pub fn new(settings: &ClientSettings) -> Result<Writer, TopicError> {
        let producer = settings
            .create(idempotent(&mut settings.client_config()).set("linger.ms", "0"))
            .map_err(|source| TopicError::Client { topic: "internal topics".to_owned(), source })?;
        Ok(Writer { producer })
    }

    /// Writes one record (`None` value: tombstone); returns its offset once acknowledged.
    pub async fn write(&self, topic: &str, key: &str, value: Option<&[u8]>) -> Result<i64, TopicError> {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).key(key).partition(0);
        if let Some(v) = value {
            record = record.payload(v);
        }
        let delivery = self
            .producer
            .send(record, Timeout::After(KAFKA_TIMEOUT))
            .await
            .map_err(|(source, _)| TopicError::Write { topic: topic.to_owned(), source })?;
        Ok(delivery.offset)
    }

    /// The offset the next record of `topic` will get (its high watermark).
    pub async fn end_offset(&self, topic: &str) -> Result<i64, TopicError> {
        let producer = self.producer.clone();
        let name = topic.to_owned();
        let result = tokio::task::spawn_blocking(move || {
            producer.client().fetch_watermarks(&name, 0, Timeout::After(KAFKA_TIMEOUT))
        })
        .await;
        match result {
            Ok(Ok((_, high))) => Ok(high),
            Ok(Err(source)) => Err(TopicError::Watermarks { topic: topic.to_owned(), source }),
            Err(_) => Err(TopicError::Watermarks { topic: topic.to_owned(), source: KafkaError::Canceled }),
        }
    }
}

/// Starts reading `topic` from its beginning; records arrive on the
/// returned channel in log order until the receiver is dropped.
pub fn tail(settings: &ClientSettings, topic: &str, group_id: &str) -> Result<mpsc::Receiver<TailRecord>, TopicError> {
    let err = |source| TopicError::Client { topic: topic.to_owned(), source };
    let consumer: StreamConsumer<KafkaContext> = settings
        .create(
            assigned_consumer(&mut settings.client_config(), &format!("{group_id}-tail"))
                .set("auto.offset.reset", "earliest")
                .set("fetch.wait.max.ms", "50"),
        )
        .map_err(err)?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning).map_err(err)?;
    consumer.assign(&tpl).map_err(err)?;
    let (tx, rx) = mpsc::channel(TAIL_CHANNEL_CAPACITY);
    let topic = topic.to_owned();
    tokio::spawn(async move {
        loop {
            let record = match consumer.recv().await {
                Ok(m) => TailRecord {
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec).unwrap_or_default(),
                    value: m.payload().map(<[u8]>::to_vec),
                },
                Err(e) => {
                    // librdkafka reconnects by itself; the error is only reported.
                    tracing::warn!(topic = %topic, error = %e, "reading internal topic");
                    continue;
                }
            };
            if tx.send(record).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// How far a tailed topic has been applied: the offset of the next record.
#[derive(Clone)]
pub struct Position {
    rx: watch::Receiver<i64>,
}

impl Position {
    pub fn new() -> (watch::Sender<i64>, Position) {
        let (tx, rx) = watch::channel(0);
        (tx, Position { rx })
    }

    /// The next offset to apply.
    pub fn get(&self) -> i64 {
        *self.rx.borrow()
    }

    /// Waits until every record before `offset` has been applied.
    pub async fn reach(&self, topic: &str, offset: i64, timeout: Duration) -> Result<(), TopicError> {
        let mut rx = self.rx.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= offset)).await.is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            Err(TopicError::ReadBack { topic: topic.to_owned(), timeout })
        }
    }
}
