//! The change model every stage after the source consumes.
//!
//! The source turns pgoutput messages into a stream of [`SourceEvent`]s:
//!
//! ```text
//!   Begin(xid) ─ Change ─ Change ─ … ─ Commit(xid, commit_lsn)   Idle(lsn)   Begin …
//! ```
//!
//! Invariants the later stages rely on:
//! - a `Commit` is delivered only after every `Change` of its transaction, and
//!   transactions never interleave (pgoutput sends a transaction at its commit;
//!   streamed in-progress transactions are reassembled by the source);
//! - `Commit::end_lsn` increases strictly from one transaction to the next;
//! - `Idle { lsn }` means the server has nothing more for us before `lsn`: once
//!   every earlier commit is durable, the slot may be confirmed up to `lsn`.
//! - The initial snapshot comes first: `Change`s with `Op::Read` outside any
//!   transaction, cut by `SnapshotMark`s (commit points carrying the offset
//!   that records the snapshot's progress); the last mark is `completed`.

use std::sync::Arc;

use crate::lsn::Lsn;
use crate::progress::{IncrementalProgress, SnapshotCompletion, SnapshotProgress};
use crate::schema::{Schema, Value};

pub(crate) mod mapper;

pub use mapper::ColumnMapper;

/// Debezium's operation codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `r`: a row read by the snapshot.
    Read,
    /// `c`
    Create,
    /// `u`
    Update,
    /// `d`
    Delete,
    /// `t`
    Truncate,
    /// `m`: a logical decoding message.
    Message,
}

impl Op {
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
            Op::Message => "m",
        }
    }

    pub fn from_code(code: &str) -> Option<Op> {
        Some(match code {
            "r" => Op::Read,
            "c" => Op::Create,
            "u" => Op::Update,
            "d" => Op::Delete,
            "t" => Op::Truncate,
            "m" => Op::Message,
            _ => return None,
        })
    }
}

/// A table's identity as `schema.table`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    pub schema: String,
    pub table: String,
}

impl TableId {
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        TableId { schema: schema.into(), table: table.into() }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// `pg_class.relreplident`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: the primary key.
    Default,
    /// `n`
    Nothing,
    /// `f`: the whole old row.
    Full,
    /// `i`: a unique index.
    Index,
}

impl ReplicaIdentity {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            _ => return None,
        })
    }
}

/// One column as the later stages see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub type_oid: u32,
    /// `atttypmod`; -1 when none.
    pub type_modifier: i32,
    /// `pg_type.typname`, e.g. `int4`, `numeric`, `_text`.
    pub type_name: String,
    pub nullable: bool,
    /// Part of the primary key, which Debezium uses as the record key.
    pub is_key: bool,
    /// 0-based position within the primary key (`pg_index.indkey` order),
    /// `Some` exactly when `is_key`. Debezium orders the record key's fields
    /// by it, not by column order: `PRIMARY KEY (b, a)` gives a key `{b, a}`.
    pub key_position: Option<u16>,
    /// The Connect schema of this column's values (optional = nullable;
    /// `default` = the column default as Debezium parses it, if any).
    pub schema: Arc<Schema>,
    /// A key column's value mapper (`column.mask.*`, `column.truncate.*`):
    /// Debezium builds the record key without the mappers, so the row holds
    /// the raw value, the key keeps it, and the envelope maps it only in
    /// `before`/`after`. `None` for every other column (their rows hold the
    /// mapped value already).
    pub key_mapping: Option<KeyMapping>,
    /// What Debezium's value converter writes for this column when it is
    /// required but has no value (a delete's `before` under REPLICA IDENTITY
    /// DEFAULT), where that is not the schema's zero (set by the source,
    /// which knows the PostgreSQL type).
    pub required_fallback: Option<crate::schema::Value>,
}

/// How a mapped key column differs between the record key and the row.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMapping {
    /// Applied to the value in `before`/`after`.
    pub mapper: ColumnMapper,
    /// The column's schema in the key: without the mapper's schema parameter.
    pub key_schema: Arc<Schema>,
}

/// A captured table's shape at one point of the stream. A new `Arc` (with a
/// higher `version`) replaces it whenever a Relation message changes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// The relation OID pgoutput refers to it by.
    pub relation_id: u32,
    pub id: TableId,
    pub columns: Vec<ColumnSchema>,
    pub replica_identity: ReplicaIdentity,
    /// Increases on every change of this table's shape.
    pub version: u64,
}

impl TableSchema {
    /// The primary-key columns with their index in `columns`, in key order
    /// (the record key's field order). Ties, and key columns without a
    /// position, keep column order.
    pub fn key_columns(&self) -> impl Iterator<Item = (usize, &ColumnSchema)> {
        let mut keys: Vec<(usize, &ColumnSchema)> = self.columns.iter().enumerate().filter(|(_, c)| c.is_key).collect();
        keys.sort_by_key(|(i, c)| (c.key_position.unwrap_or(u16::MAX), *i));
        keys.into_iter()
    }

    pub fn has_key(&self) -> bool {
        self.columns.iter().any(|c| c.is_key)
    }
}

/// A row: one Connect value per column of its [`TableSchema`], in order.
/// An unchanged TOASTed column already holds the configured placeholder.
pub type Row = Vec<Value>;

/// Debezium's `source.snapshot` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMarker {
    False,
    True,
    First,
    FirstInDataCollection,
    LastInDataCollection,
    Last,
    Incremental,
}

impl SnapshotMarker {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Last => "last",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// Where and when a change happened: the facts behind Debezium's `source` block.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Commit time of the transaction, microseconds since the Unix epoch.
    pub commit_ts_us: i64,
    pub snapshot: SnapshotMarker,
    /// Transaction id (`txId`).
    pub tx_id: Option<i64>,
    /// LSN of this change (`lsn`).
    pub lsn: Option<Lsn>,
    /// Commit LSN of the previous transaction (first half of `sequence`).
    pub last_commit_lsn: Option<Lsn>,
    pub xmin: Option<i64>,
    /// The replication origin the transaction was replayed under
    /// (pgoutput's Origin message): `source.origin` / `origin_lsn`.
    pub origin: Option<Arc<TxOrigin>>,
}

/// A transaction's replication origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOrigin {
    pub name: String,
    /// The commit LSN on the origin server.
    pub commit_lsn: Lsn,
}

/// One row change (or truncate / message) of a committed transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeEvent {
    pub op: Op,
    pub table: Arc<TableSchema>,
    pub before: Option<Row>,
    pub after: Option<Row>,
    pub source: SourceInfo,
}

/// A logical decoding message (`pg_logical_emit_message`).
#[derive(Clone, Debug, PartialEq)]
pub struct LogicalMessage {
    pub transactional: bool,
    pub prefix: String,
    pub content: Vec<u8>,
    pub source: SourceInfo,
}

/// Start of a committed transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct TxBegin {
    pub xid: u32,
    /// LSN of the commit record.
    pub final_lsn: Lsn,
    pub commit_ts_us: i64,
}

/// End of a committed transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct TxCommit {
    pub xid: u32,
    pub commit_lsn: Lsn,
    /// Position just past the commit record: where a restart resumes.
    pub end_lsn: Lsn,
    pub commit_ts_us: i64,
}

/// What the source hands downstream, in stream order.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceEvent {
    Begin(TxBegin),
    Change(ChangeEvent),
    Message(LogicalMessage),
    Commit(TxCommit),
    /// Nothing more before `lsn` (a keepalive with no pending transaction).
    Idle { lsn: Lsn },
    /// A point of the initial snapshot where the records so far may be
    /// committed, with the offset that records how far it got.
    SnapshotMark(SnapshotMark),
    /// Where the incremental snapshot stands after the events before it
    /// (`None`: none runs): kept in the offsets from the next commit on.
    IncrementalProgress(Option<IncrementalProgress>),
}

/// A commit point of the initial snapshot (see `source::postgres::snapshot`).
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotMark {
    /// How far the snapshot got with the records before this mark.
    pub progress: SnapshotProgress,
    /// The snapshot is complete: commit now, and streaming resumes at
    /// `completed.resume` (published as durable once committed).
    pub completed: Option<SnapshotCompletion>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaType;

    fn col(name: &str, key_position: Option<u16>) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            type_oid: 23,
            type_modifier: -1,
            type_name: "int4".into(),
            nullable: key_position.is_none(),
            is_key: key_position.is_some(),
            key_position,
            schema: Arc::new(Schema::new(SchemaType::Int32)),
            key_mapping: None,
            required_fallback: None,
        }
    }

    #[test]
    fn key_columns_follow_primary_key_order() {
        // CREATE TABLE t (a int, b int, c int, d int, PRIMARY KEY (c, a))
        let t = TableSchema {
            relation_id: 1,
            id: TableId::new("public", "t"),
            columns: vec![col("a", Some(1)), col("b", None), col("c", Some(0)), col("d", None)],
            replica_identity: ReplicaIdentity::Default,
            version: 1,
        };
        let keys: Vec<_> = t.key_columns().map(|(i, c)| (i, c.name.as_str())).collect();
        assert_eq!(keys, [(2, "c"), (0, "a")]);
        assert!(t.has_key());
        let none = TableSchema { columns: vec![col("b", None)], ..t };
        assert_eq!(none.key_columns().count(), 0);
        assert!(!none.has_key());
    }
}
