//! Where a connector's resume position lives: a compacted Kafka topic, laid
//! out as Kafka Connect lays out source offsets, with the value Debezium's
//! PostgreSQL connector writes.
//!
//! ```text
//!   key   ["<connector>",{"server":"<topic.prefix>"}]
//!   value {"lsn_proc":N,"lsn_commit":N,"lsn":N,"txId":N,"ts_usec":N,"messageType":"COMMIT"}
//!
//!   sink batch (one Kafka transaction):  data records …  + offset record(last end_lsn)  ── commit
//!   start:  read_latest() ─ read_committed(offsets topic) ─▶ last value of our key ─▶ resume LSN
//! ```
//!
//! - The offset record is written by the sink inside the Kafka transaction of
//!   its batch, so it is visible exactly when the batch's records are.
//! - Reading applies the transaction markers itself ([`log_reader`]): an
//!   offset record of an aborted or fenced transaction never moves the resume
//!   point, even on a broker that shows aborted records to read_committed
//!   consumers.
//! - The resume LSN is `lsn_commit` (Debezium's lastCommitLsn, falling back to
//!   `lsn_proc` as Debezium's loader does): every transaction whose end LSN
//!   is at or below it is already in Kafka.

pub mod ledger;
pub mod log_reader;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Classify, ErrorClass};
use crate::kafka::admin::{Admin, AdminError};
use crate::kafka::partitioner::partition_for_key;
use crate::kafka::ClientSettings;
use crate::lsn::Lsn;

use log_reader::LogReaderError;

/// Default name of the offsets topic (`[worker] offset_storage_topic`).
pub const DEFAULT_OFFSET_STORAGE_TOPIC: &str = "pgcdc-offsets";
/// Default partition count of the offsets topic when the worker creates it.
pub const DEFAULT_OFFSET_STORAGE_PARTITIONS: i32 = 1;
/// `messageType` of an offset written after a transaction's commit.
pub const MESSAGE_TYPE_COMMIT: &str = "COMMIT";
/// `snapshot` of an offset written by the initial snapshot (Debezium 3.x).
pub const SNAPSHOT_KIND_INITIAL: &str = "INITIAL";

pub use crate::progress::{IncrementalProgress, SnapshotCompletion, SnapshotProgress};

/// Debezium's `snapshot` offset entry: a boolean in old versions, the
/// snapshot kind (e.g. `"INITIAL"`) in 3.x.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SnapshotFlag {
    Bool(bool),
    Kind(String),
}

/// The value of an offset record, as Debezium's `PostgresOffsetContext`
/// writes it (absent entries are left out, as Debezium does). LSNs are the
/// 64-bit WAL positions as plain numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOffset {
    /// Commit time of the last transaction, µs since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_usec: Option<i64>,
    /// Transaction id of the last transaction.
    #[serde(rename = "txId", skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<i64>,
    /// Position of the last event (`source.lsn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xmin: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_snapshot_record: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_completed: Option<bool>,
    /// Last completely processed LSN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsn_proc: Option<u64>,
    /// End LSN of the last committed transaction (Debezium's lastCommitLsn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsn_commit: Option<u64>,
    /// Kind of the last message (`COMMIT` after a whole transaction).
    #[serde(rename = "messageType", skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// Open transaction of `provide.transaction.metadata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// pgcdc's own: the tables the running initial snapshot has completed,
    /// each with the LSN of the snapshot it was read at (`"schema"."table"`
    /// → LSN, see `snapshot::table_key`). A restart resumes the snapshot with the other tables.
    #[serde(rename = "pgcdc_snapshot_done", skip_serializing_if = "Option::is_none")]
    pub snapshot_done: Option<BTreeMap<String, u64>>,
    /// pgcdc's own: the table the running initial snapshot is reading, with
    /// the snapshot points of the passes that read it so far (`"schema"."table"`
    /// → LSNs). A restart reads it again and first sends the deletes those
    /// passes' records would otherwise outlive (see `snapshot::window`).
    #[serde(rename = "pgcdc_snapshot_reading", skip_serializing_if = "Option::is_none")]
    pub snapshot_reading: Option<BTreeMap<String, Vec<u64>>>,
    /// pgcdc's own: tables read by a later snapshot than the resume point
    /// (a snapshot resumed after a restart): their changes in transactions
    /// that committed before the LSN are in the snapshot already and are
    /// skipped. Kept while the stream is behind them.
    #[serde(rename = "pgcdc_table_lsn", skip_serializing_if = "Option::is_none")]
    pub table_floors: Option<BTreeMap<String, u64>>,
    /// pgcdc's own: the running incremental snapshot (tables queued, the
    /// table being read and the key its next chunk starts after).
    #[serde(
        rename = "pgcdc_incremental",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "IncrementalProgress::deserialize_lenient"
    )]
    pub incremental: Option<IncrementalProgress>,
}

impl SourceOffset {
    /// The offset after the transaction `xid` committed, ending at `end_lsn`.
    pub fn after_commit(end_lsn: Lsn, xid: u32, commit_ts_us: i64) -> Self {
        SourceOffset {
            ts_usec: Some(commit_ts_us),
            tx_id: Some(i64::from(xid)),
            lsn: Some(end_lsn.as_u64()),
            lsn_proc: Some(end_lsn.as_u64()),
            lsn_commit: Some(end_lsn.as_u64()),
            message_type: Some(MESSAGE_TYPE_COMMIT.to_owned()),
            ..SourceOffset::default()
        }
    }

    /// The offset at an idle position `lsn`: the server has sent every
    /// transaction that ends at or before it, and they are all in Kafka (a
    /// keepalive or heartbeat on a connector whose tables did not change).
    /// `last` is the transaction id and commit time of the last transaction
    /// delivered, when known.
    pub fn at_idle(lsn: Lsn, last: Option<(u32, i64)>) -> Self {
        SourceOffset {
            ts_usec: last.map(|(_, ts)| ts),
            tx_id: last.map(|(xid, _)| i64::from(xid)),
            lsn: Some(lsn.as_u64()),
            lsn_proc: Some(lsn.as_u64()),
            lsn_commit: Some(lsn.as_u64()),
            ..SourceOffset::default()
        }
    }

    /// An offset written while the snapshot runs (`snapshot` set, neither
    /// its last record nor its completion recorded).
    pub fn snapshot_in_progress(&self) -> bool {
        let flagged = match &self.snapshot {
            Some(SnapshotFlag::Bool(b)) => *b,
            Some(SnapshotFlag::Kind(_)) => true,
            None => false,
        };
        flagged && self.last_snapshot_record != Some(true) && self.snapshot_completed != Some(true)
    }

    /// An offset written during the initial snapshot at `lsn` by the
    /// snapshot transaction `tx_id` started at `ts_us`, with the tables done
    /// so far. `completed`: the last snapshot record is in the batch;
    /// `resume` is then where streaming starts (`lsn_proc`) and `floors` the
    /// tables read by a later snapshot.
    pub fn during_snapshot(progress: &SnapshotProgress, completed: Option<&SnapshotCompletion>) -> Self {
        let (resume, floors) = match completed {
            Some(c) => (Some(c.resume.as_u64()), (!c.floors.is_empty()).then(|| c.floors.clone())),
            None => (None, None),
        };
        SourceOffset {
            ts_usec: Some(progress.ts_us),
            tx_id: Some(progress.tx_id),
            lsn: Some(progress.lsn.as_u64()),
            snapshot: Some(SnapshotFlag::Kind(SNAPSHOT_KIND_INITIAL.to_owned())),
            last_snapshot_record: Some(resume.is_some()),
            snapshot_completed: Some(resume.is_some()),
            // As Debezium: no lsn_commit after a snapshot, so the first
            // streamed event's `sequence` starts with null.
            lsn_proc: resume,
            snapshot_done: resume.is_none().then(|| progress.done.clone()),
            snapshot_reading: (resume.is_none() && !progress.reading.is_empty()).then(|| progress.reading.clone()),
            table_floors: floors,
            ..SourceOffset::default()
        }
    }

    /// Everything at or below this LSN is in Kafka: `lsn_commit`, else
    /// `lsn_proc` (as Debezium's loader), else — for an offset written at the
    /// end of a snapshot by Debezium — the snapshot's `lsn`.
    pub fn resume_lsn(&self) -> Option<Lsn> {
        let after_snapshot = self.snapshot.is_some() && !self.snapshot_in_progress();
        self.lsn_commit.or(self.lsn_proc).or(self.lsn.filter(|_| after_snapshot)).map(Lsn)
    }

    /// The per-table floors (see [`table_floors`](Self::table_floors)).
    pub fn floors(&self) -> BTreeMap<String, Lsn> {
        self.table_floors.iter().flatten().map(|(t, l)| (t.clone(), Lsn(*l))).collect()
    }

    /// The JSON value bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain integers, strings and booleans cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The key of a connector's offset record: `["<connector>",{"server":"<prefix>"}]`.
pub fn offset_key(connector: &str, server: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([connector, { "server": server }])).unwrap_or_default()
}

/// Errors of the offset store.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    #[error("cannot read the offsets topic {topic}")]
    Read {
        topic: String,
        #[source]
        source: LogReaderError,
    },
    #[error("the offset stored for connector {connector} in {topic} at offset {offset} is not Debezium offset JSON: fix or delete it")]
    Malformed {
        topic: String,
        connector: String,
        offset: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot create the offsets topic {topic}")]
    CreateTopic {
        topic: String,
        #[source]
        source: AdminError,
    },
    #[error("cannot create the Kafka producer of the offsets topic {topic} (check [kafka] options)")]
    Producer {
        topic: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot write to the offsets topic {topic}")]
    Write {
        topic: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

impl Classify for OffsetError {
    fn class(&self) -> ErrorClass {
        match self {
            OffsetError::Read { source, .. } => source.class(),
            OffsetError::CreateTopic { source, .. } => source.class(),
            OffsetError::Producer { source, .. } | OffsetError::Write { source, .. } => crate::kafka::classify(source),
            OffsetError::Malformed { .. } => ErrorClass::Fatal,
        }
    }
}

/// The offsets topic of a worker.
#[derive(Clone, Debug)]
pub struct OffsetStore {
    pub client: ClientSettings,
    pub topic: String,
}

impl OffsetStore {
    /// The store at `topic` of the brokers at `bootstrap_servers`, without `[kafka.options]`.
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Self {
        OffsetStore::with_client(ClientSettings::new(bootstrap_servers, Vec::new()), topic)
    }

    pub fn with_client(client: ClientSettings, topic: impl Into<String>) -> Self {
        OffsetStore { client, topic: topic.into() }
    }

    /// The last committed offset of `connector` for `server` (its topic
    /// prefix), or `None` when there is none (or it was deleted with a
    /// tombstone). The key's partition is chosen as the Java producer does.
    pub async fn read_latest(&self, connector: &str, server: &str) -> Result<Option<SourceOffset>, OffsetError> {
        let read_err = |source| OffsetError::Read { topic: self.topic.clone(), source };
        let key = offset_key(connector, server);
        let partitions = log_reader::partition_count(&self.client, &self.topic).await.map_err(read_err)?;
        let Ok(count) = i32::try_from(partitions) else { return Ok(None) };
        if count == 0 {
            return Ok(None);
        }
        let partition = partition_for_key(&key, count);
        let records =
            log_reader::read_committed(&self.client, &self.topic, partition).await.map_err(read_err)?;
        let Some(last) = records.iter().rev().find(|r| r.key.as_deref() == Some(key.as_slice())) else {
            return Ok(None);
        };
        let Some(value) = last.value.as_deref() else { return Ok(None) };
        SourceOffset::from_json(value).map(Some).map_err(|source| OffsetError::Malformed {
            topic: self.topic.clone(),
            connector: connector.to_owned(),
            offset: last.offset,
            source,
        })
    }
}

impl OffsetStore {
    /// Store `offset` for `connector`/`server` outside any connector task
    /// (KIP-875 `PATCH`/`DELETE /connectors/{name}/offsets` on a stopped
    /// connector); `None` writes a tombstone, so the connector resumes from
    /// its slot as if it never stored an offset. Uses an idempotent producer
    /// and waits for the acknowledgement.
    pub async fn write(
        &self,
        connector: &str,
        server: &str,
        offset: Option<&SourceOffset>,
        partitions: i32,
    ) -> Result<(), OffsetError> {
        use rdkafka::producer::{FutureProducer, FutureRecord};
        use rdkafka::util::Timeout;

        let mut admin =
            Admin::new(&self.client).map_err(|source| OffsetError::CreateTopic { topic: self.topic.clone(), source })?;
        admin
            .ensure_compacted(&self.topic, partitions, 1)
            .await
            .map_err(|source| OffsetError::CreateTopic { topic: self.topic.clone(), source })?;
        let producer: FutureProducer<crate::kafka::client::KafkaContext> = self
            .client
            .create(crate::kafka::client::idempotent(&mut self.client.client_config()))
            .map_err(|source| OffsetError::Producer { topic: self.topic.clone(), source })?;
        let count = log_reader::partition_count(&self.client, &self.topic)
            .await
            .map_err(|source| OffsetError::Read { topic: self.topic.clone(), source })?;
        let key = offset_key(connector, server);
        let partition = partition_for_key(&key, i32::try_from(count).unwrap_or(1).max(1));
        let value = offset.map(SourceOffset::to_json);
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).key(key.as_slice()).partition(partition);
        if let Some(v) = value.as_deref() {
            record = record.payload(v);
        }
        producer
            .send(record, Timeout::After(std::time::Duration::from_secs(30)))
            .await
            .map_err(|(source, _)| OffsetError::Write { topic: self.topic.clone(), source })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_kafka_connects_layout() {
        assert_eq!(
            String::from_utf8(offset_key("inventory", "dbserver1")).unwrap(),
            r#"["inventory",{"server":"dbserver1"}]"#
        );
    }

    #[test]
    fn value_after_commit_has_debeziums_names_and_types() {
        let o = SourceOffset::after_commit(Lsn(0x1_0000_0010), 755, 1_700_000_000_123_456);
        let v: serde_json::Value = serde_json::from_slice(&o.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "ts_usec": 1_700_000_000_123_456_i64, "txId": 755, "lsn": 0x1_0000_0010_u64,
                "lsn_proc": 0x1_0000_0010_u64, "lsn_commit": 0x1_0000_0010_u64, "messageType": "COMMIT"
            })
        );
        assert_eq!(o.resume_lsn(), Some(Lsn(0x1_0000_0010)));
    }

    #[test]
    fn reads_what_debezium_wrote() {
        // As Debezium 3.6.3 stores it (HashMap order, transaction metadata on).
        let text = r#"{"transaction_id":null,"lsn_proc":37094192,"messageType":"UPDATE","lsn":37094192,"txId":749,"ts_usec":1687355432826478}"#;
        let o = SourceOffset::from_json(text.as_bytes()).unwrap();
        assert_eq!(o.lsn_commit, None);
        assert_eq!(o.resume_lsn(), Some(Lsn(37094192)), "falls back to lsn_proc like Debezium's loader");
        assert_eq!(o.tx_id, Some(749));
        let snap = r#"{"lsn":1,"snapshot":"INITIAL","last_snapshot_record":false,"snapshot_completed":false}"#;
        let o = SourceOffset::from_json(snap.as_bytes()).unwrap();
        assert_eq!(o.snapshot, Some(SnapshotFlag::Kind("INITIAL".into())));
        assert!(o.snapshot_in_progress());
        assert_eq!(o.resume_lsn(), None, "a snapshot in progress has no streaming position");
        let old = r#"{"lsn":1,"snapshot":true,"last_snapshot_record":true}"#;
        let o = SourceOffset::from_json(old.as_bytes()).unwrap();
        assert_eq!(o.snapshot, Some(SnapshotFlag::Bool(true)));
        assert!(!o.snapshot_in_progress());
        assert_eq!(o.resume_lsn(), Some(Lsn(1)), "Debezium resumes after a completed snapshot at its lsn");
    }

    #[test]
    fn snapshot_offsets_record_progress_then_the_resume_point() {
        let mut progress = SnapshotProgress { lsn: Lsn(500), tx_id: 768, ts_us: 1_000, done: BTreeMap::new(), reading: BTreeMap::new() };
        progress.done.insert("public.a".into(), 400);
        let running = SourceOffset::during_snapshot(&progress, None);
        let v: serde_json::Value = serde_json::from_slice(&running.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ts_usec": 1000, "txId": 768, "lsn": 500, "snapshot": "INITIAL",
                "last_snapshot_record": false, "snapshot_completed": false, "pgcdc_snapshot_done": {"public.a": 400}})
        );
        let back = SourceOffset::from_json(&running.to_json()).unwrap();
        assert!(back.snapshot_in_progress());
        assert_eq!(back.snapshot_done.as_ref().map(BTreeMap::len), Some(1));
        progress.reading.insert("public.b".into(), vec![300, 500]);
        let reading: serde_json::Value =
            serde_json::from_slice(&SourceOffset::during_snapshot(&progress, None).to_json()).unwrap();
        assert_eq!(reading["pgcdc_snapshot_reading"], serde_json::json!({"public.b": [300, 500]}));

        let floors = BTreeMap::from([("public.b".to_owned(), 500_u64)]);
        let done = SourceOffset::during_snapshot(&progress, Some(&SnapshotCompletion { resume: Lsn(400), floors }));
        assert!(!done.snapshot_in_progress());
        assert_eq!(done.resume_lsn(), Some(Lsn(400)));
        assert_eq!(done.floors().get("public.b"), Some(&Lsn(500)));
        assert_eq!(done.snapshot_done, None);
        assert_eq!(done.snapshot_reading, None, "nothing is being read once the snapshot completed");
        let plain = SourceOffset::during_snapshot(&progress, Some(&SnapshotCompletion { resume: Lsn(500), floors: BTreeMap::new() }));
        assert_eq!(plain.table_floors, None, "no floors when every table was read at the resume point");
    }
}
