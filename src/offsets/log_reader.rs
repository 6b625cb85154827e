//! A read_committed reader of one Kafka partition that applies the
//! transaction markers itself, over raw protocol requests (`kafka-protocol`).
//!
//! ```text
//!   ApiVersions ─▶ Metadata(topic) ─▶ leader ─▶ Fetch(isolation=read_uncommitted, offset…)*
//!                                                   │ record batches (data + control)
//!                                                   ▼
//!                                   TxnFilter: per producer id, open txn ─ COMMIT ▶ visible
//!                                                                        └ ABORT  ▶ dropped
//! ```
//!
//! Why not a normal consumer: some Kafka-compatible brokers (tansu) show the
//! records of aborted transactions to read_committed consumers and send no
//! aborted-transaction list. The control markers in the log are the truth on
//! every broker, so the reader decides visibility from them alone:
//! - a non-transactional record is visible at once;
//! - a transactional record is visible when a COMMIT marker of its producer
//!   (same producer id, epoch ≥ the record's) follows it, and dropped when an
//!   ABORT marker does, or when the same producer id starts writing with a
//!   higher epoch first (a fenced or re-initialised producer's open
//!   transaction is aborted by the coordinator);
//! - a transaction still open at the end of the read is not visible (yet).
//!
//! On Apache Kafka the broker also returns the aborted records with an
//! aborted-transaction list; applying the markers gives the same answer.
//! Records come back in log order.
//!
//! The fetches ask for read_uncommitted (everything up to the high
//! watermark): visibility is decided from the markers anyway, and tansu was
//! seen to stop serving read_committed fetches on every partition at once
//! (its last stable offset stuck at 0) while read_uncommitted still showed
//! every record.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::{ApiKey, BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

use crate::error::{Classify, ErrorClass};
use crate::kafka::protocol::{Connection, Profile, ProtocolError};
use crate::kafka::ClientSettings;

/// Highest Metadata version used (later ones change nothing we read).
const MAX_METADATA_VERSION: i16 = 12;
/// Highest Fetch version used: v13 replaces topic names by topic ids.
const MAX_FETCH_VERSION: i16 = 12;
/// Bytes asked for per fetch.
const FETCH_MAX_BYTES: i32 = 8 * 1024 * 1024;
/// How long the broker may hold a fetch that has nothing to return.
const FETCH_MAX_WAIT_MS: i32 = 100;
/// Timeout of connecting and of one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The log reader's connections.
const PROFILE: Profile =
    Profile { client_id: "pgcdc-log-reader", connect_timeout: REQUEST_TIMEOUT, max_response_bytes: 256 * 1024 * 1024 };
/// Kafka error code: OFFSET_OUT_OF_RANGE.
const OFFSET_OUT_OF_RANGE: i16 = 1;
/// Kafka error code: UNKNOWN_TOPIC_OR_PARTITION.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// Control record type of an ABORT marker.
const CONTROL_ABORT: i16 = 0;
/// Control record type of a COMMIT marker.
const CONTROL_COMMIT: i16 = 1;

/// Errors of the log reader.
#[derive(Debug, thiserror::Error)]
pub enum LogReaderError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("the Kafka broker answered {api} with error code {code} for {topic}")]
    Broker { api: &'static str, code: i16, topic: String },
    #[error("partition {partition} of {topic} has no leader")]
    NoLeader { topic: String, partition: i32 },
    #[error("the fetch made no progress at offset {offset} of {topic}")]
    NoProgress { topic: String, offset: i64 },
}

impl Classify for LogReaderError {
    fn class(&self) -> ErrorClass {
        match self {
            LogReaderError::Protocol(e) => e.class(),
            LogReaderError::NoLeader { .. } | LogReaderError::NoProgress { .. } | LogReaderError::Broker { .. } => {
                ErrorClass::Transient
            }
        }
    }
}

/// One committed record of the partition.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    pub offset: i64,
    pub key: Option<Bytes>,
    /// `None` for a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// What one fetched batch entry is, for the filter.
#[derive(Clone, Debug, PartialEq)]
pub enum LogEntry {
    /// A data record; `transactional` when written inside a transaction.
    Data { record: LogRecord, transactional: bool },
    /// A COMMIT (`commit = true`) or ABORT marker of a producer.
    Marker { producer_id: i64, producer_epoch: i16, commit: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxnState {
    Open,
    Committed,
    Aborted,
}

/// Applies read_committed to a partition's entries in log order.
#[derive(Default)]
pub struct TxnFilter {
    /// Data records with the index of their transaction (`None`: not transactional).
    records: Vec<(LogRecord, Option<usize>)>,
    txns: Vec<TxnState>,
    /// Open transaction of each producer id: (txn index, epoch).
    open: HashMap<i64, (usize, i16)>,
}

impl TxnFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next entry of the log.
    pub fn push(&mut self, entry: LogEntry) {
        match entry {
            LogEntry::Data { record, transactional: false } => self.records.push((record, None)),
            LogEntry::Data { record, transactional: true } => {
                let pid = record.producer_id;
                let epoch = record.producer_epoch;
                let txn = match self.open.get(&pid).copied() {
                    Some((txn, open_epoch)) if open_epoch >= epoch => txn,
                    Some((txn, _)) => {
                        // A newer epoch writes before any marker: the older
                        // producer was fenced and its transaction aborted.
                        self.txns[txn] = TxnState::Aborted;
                        self.begin(pid, epoch)
                    }
                    None => self.begin(pid, epoch),
                };
                self.records.push((record, Some(txn)));
            }
            LogEntry::Marker { producer_id, producer_epoch, commit } => {
                if let Some((txn, epoch)) = self.open.remove(&producer_id) {
                    self.txns[txn] =
                        if commit && epoch <= producer_epoch { TxnState::Committed } else { TxnState::Aborted };
                }
            }
        }
    }

    fn begin(&mut self, pid: i64, epoch: i16) -> usize {
        self.txns.push(TxnState::Open);
        let txn = self.txns.len() - 1;
        self.open.insert(pid, (txn, epoch));
        txn
    }

    /// The visible records, in log order.
    pub fn finish(self) -> Vec<LogRecord> {
        let txns = self.txns;
        self.records
            .into_iter()
            .filter(|(_, txn)| txn.is_none_or(|t| txns[t] == TxnState::Committed))
            .map(|(r, _)| r)
            .collect()
    }
}

/// Reads every committed record of `topic`/`partition` from the start to the
/// current end. A missing topic reads as empty.
pub async fn read_committed(
    settings: &ClientSettings,
    topic: &str,
    partition: i32,
) -> Result<Vec<LogRecord>, LogReaderError> {
    Ok(read_partitions(settings, topic).await?.1.remove(&partition).unwrap_or_default())
}

/// The number of partitions of `topic` (0 when it does not exist).
pub async fn partition_count(settings: &ClientSettings, topic: &str) -> Result<usize, LogReaderError> {
    let mut conn = Connection::open_any(settings, PROFILE).await?;
    Ok(metadata(&mut conn, topic).await?.map_or(0, |m| m.partitions.len()))
}

/// Reads every committed record of every partition of `topic`; returns the
/// partition count and the records per partition.
pub async fn read_partitions(
    settings: &ClientSettings,
    topic: &str,
) -> Result<(usize, HashMap<i32, Vec<LogRecord>>), LogReaderError> {
    let mut conn = Connection::open_any(settings, PROFILE).await?;
    let Some(meta) = metadata(&mut conn, topic).await? else {
        return Ok((0, HashMap::new()));
    };
    let mut out = HashMap::new();
    let mut leaders: HashMap<i32, Connection> = HashMap::new();
    for (partition, leader) in &meta.partitions {
        let addr = meta
            .brokers
            .get(leader)
            .cloned()
            .ok_or_else(|| LogReaderError::NoLeader { topic: topic.to_owned(), partition: *partition })?;
        let conn = match leaders.remove(leader) {
            Some(c) => c,
            None => Connection::open(settings, &addr, PROFILE).await?,
        };
        let mut conn = conn;
        let records = fetch_all(&mut conn, topic, *partition).await?;
        leaders.insert(*leader, conn);
        out.insert(*partition, records);
    }
    Ok((meta.partitions.len(), out))
}

struct TopicMeta {
    /// partition → leader broker id
    partitions: Vec<(i32, i32)>,
    /// broker id → host:port
    brokers: HashMap<i32, String>,
}

async fn metadata(conn: &mut Connection, topic: &str) -> Result<Option<TopicMeta>, LogReaderError> {
    let version = conn.version(ApiKey::Metadata, "Metadata", 1, MAX_METADATA_VERSION)?;
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(topic.to_owned()))))
        ]))
        .with_allow_auto_topic_creation(false);
    let response: MetadataResponse = conn.request(ApiKey::Metadata, "Metadata", version, &request, REQUEST_TIMEOUT).await?;
    let brokers = response.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
    let Some(t) = response.topics.iter().find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic)) else {
        return Ok(None);
    };
    match t.error_code {
        0 => {}
        UNKNOWN_TOPIC_OR_PARTITION => return Ok(None),
        code => return Err(LogReaderError::Broker { api: "Metadata", code, topic: topic.to_owned() }),
    }
    let mut partitions: Vec<(i32, i32)> = t.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect();
    partitions.sort_unstable();
    Ok(Some(TopicMeta { partitions, brokers }))
}

async fn fetch_all(conn: &mut Connection, topic: &str, partition: i32) -> Result<Vec<LogRecord>, LogReaderError> {
    let version = conn.version(ApiKey::Fetch, "Fetch", 4, MAX_FETCH_VERSION)?;
    let mut filter = TxnFilter::new();
    let mut offset = 0i64;
    let mut idle_rounds = 0;
    loop {
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(FETCH_MAX_WAIT_MS)
            .with_min_bytes(1)
            .with_max_bytes(FETCH_MAX_BYTES)
            // read_uncommitted: the markers decide (see the module docs).
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(FETCH_MAX_BYTES)])]);
        let response: FetchResponse = conn.request(ApiKey::Fetch, "Fetch", version, &request, REQUEST_TIMEOUT).await?;
        if response.error_code != 0 {
            return Err(LogReaderError::Broker { api: "Fetch", code: response.error_code, topic: topic.to_owned() });
        }
        let Some(data) =
            response.responses.iter().flat_map(|t| t.partitions.iter()).find(|p| p.partition_index == partition)
        else {
            return Err(LogReaderError::NoProgress { topic: topic.to_owned(), offset });
        };
        match data.error_code {
            0 => {}
            OFFSET_OUT_OF_RANGE if data.log_start_offset > offset => {
                offset = data.log_start_offset;
                continue;
            }
            UNKNOWN_TOPIC_OR_PARTITION => return Ok(Vec::new()),
            code => return Err(LogReaderError::Broker { api: "Fetch", code, topic: topic.to_owned() }),
        }
        let end = if data.last_stable_offset >= 0 { data.last_stable_offset } else { data.high_watermark };
        let before = offset;
        if let Some(records) = &data.records {
            offset = decode_batches(records.clone(), offset, &mut filter)?;
        }
        if offset == before {
            // Nothing new. Stop once at the reported end; a broker may
            // under-report its end, so only an empty fetch ends the read.
            if offset >= end || idle_rounds >= 3 {
                if offset < end {
                    return Err(LogReaderError::NoProgress { topic: topic.to_owned(), offset });
                }
                break;
            }
            idle_rounds += 1;
        } else {
            idle_rounds = 0;
        }
    }
    Ok(filter.finish())
}

/// Size of a batch's fixed header up to and including the record count.
const BATCH_HEADER_LEN: usize = 61;

/// Decodes the complete batches in `buf` into `filter`; returns the next offset to fetch.
fn decode_batches(mut buf: Bytes, mut next: i64, filter: &mut TxnFilter) -> Result<i64, LogReaderError> {
    let decode_err = |e: anyhow::Error| ProtocolError::Decode { api: "Fetch", source: e.into() };
    while buf.len() >= BATCH_HEADER_LEN {
        let base_offset = (&buf[0..8]).get_i64();
        let batch_len = (&buf[8..12]).get_i32();
        let Some(total) = usize::try_from(batch_len).ok().map(|l| l + 12) else {
            return Err(ProtocolError::Decode { api: "Fetch", source: "negative batch length".into() }.into());
        };
        if buf.len() < total {
            break; // a partial batch at the end of the response
        }
        let mut batch = buf.split_to(total);
        let magic = batch[16] as i8;
        if magic != 2 {
            return Err(ProtocolError::Decode { api: "Fetch", source: format!("record batch v{magic}").into() }.into());
        }
        let last_offset_delta = (&batch[23..27]).get_i32();
        let set = RecordBatchDecoder::decode(&mut batch).map_err(decode_err)?;
        for r in set.records {
            if r.offset < next {
                continue;
            }
            if r.control {
                let kind = r.key.as_ref().filter(|k| k.len() >= 4).map(|k| (&k[2..4]).get_i16());
                let commit = match kind {
                    Some(CONTROL_COMMIT) => true,
                    Some(CONTROL_ABORT) => false,
                    _ => continue,
                };
                filter.push(LogEntry::Marker { producer_id: r.producer_id, producer_epoch: r.producer_epoch, commit });
            } else {
                let record = LogRecord {
                    offset: r.offset,
                    key: r.key,
                    value: r.value,
                    headers: r.headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    timestamp_ms: r.timestamp,
                    producer_id: r.producer_id,
                    producer_epoch: r.producer_epoch,
                };
                filter.push(LogEntry::Data { record, transactional: r.transactional });
            }
        }
        next = next.max(base_offset + i64::from(last_offset_delta) + 1);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: i64, pid: i64, epoch: i16) -> LogRecord {
        LogRecord {
            offset,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: None,
            headers: Vec::new(),
            timestamp_ms: 0,
            producer_id: pid,
            producer_epoch: epoch,
        }
    }

    fn data(offset: i64, pid: i64, epoch: i16, transactional: bool) -> LogEntry {
        LogEntry::Data { record: rec(offset, pid, epoch), transactional }
    }

    fn offsets(f: TxnFilter) -> Vec<i64> {
        f.finish().iter().map(|r| r.offset).collect()
    }

    #[test]
    fn committed_visible_aborted_dropped_in_log_order() {
        let mut f = TxnFilter::new();
        f.push(data(0, 1, 0, true));
        f.push(data(1, 2, 0, true));
        f.push(data(2, 3, 0, false));
        f.push(data(3, 1, 0, true));
        f.push(LogEntry::Marker { producer_id: 2, producer_epoch: 0, commit: false });
        f.push(LogEntry::Marker { producer_id: 1, producer_epoch: 0, commit: true });
        assert_eq!(offsets(f), vec![0, 2, 3]);
    }

    #[test]
    fn open_transaction_is_not_visible() {
        let mut f = TxnFilter::new();
        f.push(data(0, 1, 0, true));
        f.push(LogEntry::Marker { producer_id: 1, producer_epoch: 0, commit: true });
        f.push(data(2, 1, 0, true));
        assert_eq!(offsets(f), vec![0]);
    }

    #[test]
    fn newer_epoch_without_marker_aborts_the_fenced_transaction() {
        // tansu: the fenced producer's open transaction gets no marker.
        let mut f = TxnFilter::new();
        f.push(data(0, 1, 0, true));
        f.push(data(1, 1, 1, true));
        f.push(LogEntry::Marker { producer_id: 1, producer_epoch: 1, commit: true });
        assert_eq!(offsets(f), vec![1]);
    }

    #[test]
    fn commit_marker_with_bumped_epoch_commits() {
        // KIP-890: the marker carries the epoch after the bump.
        let mut f = TxnFilter::new();
        f.push(data(0, 1, 4, true));
        f.push(LogEntry::Marker { producer_id: 1, producer_epoch: 5, commit: true });
        f.push(data(2, 1, 5, true));
        f.push(LogEntry::Marker { producer_id: 1, producer_epoch: 6, commit: false });
        assert_eq!(offsets(f), vec![0]);
    }

    #[test]
    fn marker_without_open_transaction_is_ignored() {
        let mut f = TxnFilter::new();
        f.push(LogEntry::Marker { producer_id: 9, producer_epoch: 0, commit: true });
        f.push(data(1, 9, 0, false));
        assert_eq!(offsets(f), vec![1]);
    }

    #[test]
    fn partial_trailing_batch_is_left_for_the_next_fetch() {
        let mut f = TxnFilter::new();
        let next = decode_batches(Bytes::from_static(&[0u8; 30]), 7, &mut f).unwrap();
        assert_eq!(next, 7);
        assert!(f.finish().is_empty());
    }
}
