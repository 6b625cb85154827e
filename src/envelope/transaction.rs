//! Transaction metadata (`provide.transaction.metadata=true`), as Debezium's
//! `TransactionMonitor` and `TransactionContext` produce it.
//!
//! ```text
//!   Begin ─ change ─ change ─ message ─ Commit
//!           │                             │
//!           ├▶ BEGIN record (lazily, at the first event that yields a record)
//!           ├▶ every event record gets transaction{id, total_order, data_collection_order}
//!           └──────────────────────────── └▶ END record {event_count, data_collections}
//! ```
//!
//! Facts from Debezium 3.6.3's real output (tests/debezium/golden/identity/txmeta.jsonl):
//! - topic `<prefix>.transaction`, key `TransactionMetadataKey{id}`, no headers;
//! - ids are `"<txId>:<lsn>"`: BEGIN uses the first event's LSN, each event its
//!   own LSN, END the commit's end LSN;
//! - an event is one record with a value (a tombstone is not one); a key
//!   change's delete and create are two events;
//! - a data collection is `schema.table`; each transactional logical message
//!   is a data collection of its own, named after a Java object's identity
//!   (`…LogicalDecodingMessageMonitor$LogicalDecodingMessageId@<hash>`);
//! - END lists the data collections in the iteration order of the Java
//!   `HashMap<String, Long>` that counts them (reproduced by
//!   [`java_hash_map_order`]);
//! - a transaction without events (all filtered or skipped) writes nothing;
//!   non-transactional messages get `transaction: null`.

use std::sync::Arc;

use super::debezium::TxBlock;
use crate::event::{TxBegin, TxCommit};
use crate::lsn::Lsn;
use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};

/// The name Debezium gives a logical message's data collection, minus the hash.
const MESSAGE_COLLECTION: &str = "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@";

/// What one source event contributes to its transaction.
#[derive(Clone, Copy, Debug)]
pub struct TxEvent<'a> {
    /// `source.txId`.
    pub xid: i64,
    /// `source.lsn`.
    pub lsn: Lsn,
    /// Commit time of the transaction.
    pub commit_ts_us: i64,
    /// `schema.table` of a row change; `None` for a transactional logical
    /// message (a data collection of its own).
    pub collection: Option<&'a str>,
}

/// Counters of the open transaction.
#[derive(Debug)]
struct OpenTx {
    xid: i64,
    total: i64,
    /// Per data collection, in first-seen order.
    collections: Vec<(String, i64)>,
    commit_ts_ms: i64,
}

/// Tracks the open transaction and writes BEGIN/END records.
#[derive(Debug)]
pub struct TransactionMonitor {
    topic: String,
    key_schema: Arc<Schema>,
    value_schema: Arc<Schema>,
    open: Option<OpenTx>,
    /// State of the pseudo identity hashes of message data collections.
    hash_state: u64,
}

impl TransactionMonitor {
    pub fn new(topic_prefix: &str) -> Self {
        let s = |k| Arc::new(Schema::new(k));
        let o = |k| Arc::new(Schema::new(k).optional());
        let key_schema = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("io.debezium.connector.common.TransactionMetadataKey")
                .with_version(1)
                .with_field("id", s(SchemaType::String)),
        );
        let collection_schema = Arc::new(
            Schema::new(SchemaType::Struct)
                .optional()
                .named("event.collection")
                .with_version(1)
                .with_field("data_collection", s(SchemaType::String))
                .with_field("event_count", s(SchemaType::Int64)),
        );
        let mut collections = Schema::new(SchemaType::Array).optional();
        collections.items = Some(collection_schema);
        let value_schema = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("io.debezium.connector.common.TransactionMetadataValue")
                .with_version(1)
                .with_field("status", s(SchemaType::String))
                .with_field("id", s(SchemaType::String))
                .with_field("event_count", o(SchemaType::Int64))
                .with_field("data_collections", Arc::new(collections))
                .with_field("ts_ms", s(SchemaType::Int64)),
        );
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        TransactionMonitor {
            topic: format!("{topic_prefix}.transaction"),
            key_schema,
            value_schema,
            open: None,
            hash_state: seed | 1,
        }
    }

    /// A transaction starts: forget any unfinished one.
    pub fn begin(&mut self, _begin: &TxBegin) {
        self.open = None;
    }

    /// Fill in the `transaction` block of every record from `start` on that
    /// has a value with such a field (one event each), inserting the BEGIN
    /// record before them when this is the transaction's first event.
    pub fn annotate(&mut self, event: TxEvent<'_>, records: &mut Vec<Record>, start: usize) {
        let TxEvent { xid, lsn, commit_ts_us, collection } = event;
        let commit_ts_ms = commit_ts_us.div_euclid(1000);
        let id = format!("{xid}:{}", lsn.as_u64());
        let mut begin = None;
        for record in records.iter_mut().skip(start) {
            let Some(value) = record.value.as_mut() else { continue };
            let Some(slot) = transaction_field(value) else { continue };
            if self.open.as_ref().is_none_or(|t| t.xid != xid) {
                self.open = Some(OpenTx { xid, total: 0, collections: Vec::new(), commit_ts_ms });
                begin = Some(self.status_record("BEGIN", &id, None, commit_ts_ms));
            }
            let collection = match collection {
                Some(c) => c.to_owned(),
                None => format!("{MESSAGE_COLLECTION}{:x}", self.next_identity_hash()),
            };
            let Some(tx) = self.open.as_mut() else { continue };
            tx.total += 1;
            let order = match tx.collections.iter_mut().find(|(c, _)| *c == collection) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    tx.collections.push((collection, 1));
                    1
                }
            };
            *slot = tx_value(&TxBlock { id: id.clone(), total_order: tx.total, data_collection_order: order });
        }
        if let Some(b) = begin {
            records.insert(start, b);
        }
    }

    /// The transaction committed: its END record, if it had events.
    pub fn commit(&mut self, commit: &TxCommit, out: &mut Vec<Record>) {
        let Some(tx) = self.open.take() else { return };
        let id = format!("{}:{}", tx.xid, commit.end_lsn.as_u64());
        let counts: Vec<Value> = java_hash_map_order(&tx.collections)
            .into_iter()
            .map(|(c, n)| Value::Struct(vec![Value::String(c.clone()), Value::Int64(n)]))
            .collect();
        out.push(self.status_record("END", &id, Some((tx.total, counts)), tx.commit_ts_ms));
    }

    fn status_record(&self, status: &str, id: &str, end: Option<(i64, Vec<Value>)>, ts_ms: i64) -> Record {
        let (count, collections) = match end {
            Some((n, c)) => (Value::Int64(n), Value::Array(c)),
            None => (Value::Null, Value::Null),
        };
        let key = Value::Struct(vec![Value::String(id.to_owned())]);
        let value = Value::Struct(vec![
            Value::String(status.to_owned()),
            Value::String(id.to_owned()),
            count,
            collections,
            Value::Int64(ts_ms),
        ]);
        Record {
            topic: self.topic.clone(),
            key: Some(SchemaAndValue::new(Arc::clone(&self.key_schema), key)),
            value: Some(SchemaAndValue::new(Arc::clone(&self.value_schema), value)),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// A positive 31-bit pseudo-random number, like Java's identity hashes.
    fn next_identity_hash(&mut self) -> u32 {
        // xorshift64*
        let mut x = self.hash_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.hash_state = x;
        let h = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as u32;
        h.max(1)
    }
}

/// The `transaction` field of an envelope or message value, if it has one.
fn transaction_field(value: &mut SchemaAndValue) -> Option<&mut Value> {
    let index = value.schema.fields.iter().position(|f| f.name == "transaction")?;
    match &mut value.value {
        Value::Struct(fields) => fields.get_mut(index),
        _ => None,
    }
}

fn tx_value(t: &TxBlock) -> Value {
    Value::Struct(vec![
        Value::String(t.id.clone()),
        Value::Int64(t.total_order),
        Value::Int64(t.data_collection_order),
    ])
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The iteration order of a `java.util.HashMap` (default capacity 16, load
/// factor 0.75) into which `entries` were put in this order: by bucket of the
/// final table, then insertion order within a bucket (resizes keep it).
pub fn java_hash_map_order(entries: &[(String, i64)]) -> Vec<(&String, i64)> {
    let mut capacity = 16usize;
    while entries.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut ordered: Vec<(usize, &String, i64)> = entries.iter().map(|(k, n)| (bucket(k), k, *n)).collect();
    ordered.sort_by_key(|(b, _, _)| *b);
    ordered.into_iter().map(|(_, k, n)| (k, n)).collect()
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
