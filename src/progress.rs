//! How far a connector got, as typed values: the model the offset ledger
//! (`crate::offsets::ledger`) keeps and the offsets record serialises.
//! Part of the model: it imports nothing above `lsn`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::lsn::Lsn;

/// Where a running initial snapshot stands: what its offsets record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// The snapshot's position (its slot's consistent point).
    pub lsn: Lsn,
    /// Transaction id of the snapshot transaction.
    pub tx_id: i64,
    /// When the snapshot started, µs since the epoch.
    pub ts_us: i64,
    /// Tables completed so far (by this and earlier attempts), with the
    /// LSN each was read at.
    pub done: BTreeMap<String, u64>,
    /// The table being read, with the snapshot points of every pass that
    /// read it (earlier, interrupted ones and this one): its records of
    /// those passes may be in Kafka (see `snapshot::window`).
    pub reading: BTreeMap<String, Vec<u64>>,
}

/// The end of the initial snapshot: streaming resumes after `resume`, and
/// the tables read later than it keep a floor (see `source::postgres::snapshot`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotCompletion {
    /// Transactions that ended at or before it are in the snapshot.
    pub resume: Lsn,
    /// `"schema"."table"` → the LSN of the snapshot it was read at.
    pub floors: BTreeMap<String, u64>,
}

/// What the offsets keep of an incremental snapshot (`pgcdc_incremental`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementalProgress {
    /// Tables waiting, as `[schema, table]`.
    pub queue: Vec<[String; 2]>,
    /// The table being read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<[String; 2]>,
    /// Its next chunk starts after this key (key columns' text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Vec<String>>,
    /// Key columns' text of the largest key when the table's reading began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Vec<String>>,
}

impl IncrementalProgress {
    /// Reads a stored value leniently: progress that cannot be read (an
    /// older or foreign layout) starts no incremental snapshot rather than
    /// making the whole offset unreadable.
    pub fn deserialize_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        let value = Option::<serde_json::Value>::deserialize(d)?;
        Ok(value.and_then(|v| serde_json::from_value(v).ok()))
    }
}
