//! pgoutput: bytes of an XLogData payload → typed messages. Pure, no I/O.
//!
//! Message layouts follow PostgreSQL's "Logical Replication Message Formats"
//! (protocol versions 1–4). Inside a streamed block (between Stream Start and
//! Stream Stop) the DML, Relation, Type and Message messages carry the
//! top-level xid first; the caller says whether it is inside one.
//!
//! Timestamps are microseconds since 2000-01-01 (PostgreSQL's epoch); the
//! decoder converts them to microseconds since the Unix epoch.

use bytes::Bytes;

use crate::lsn::Lsn;

/// Microseconds between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// One column value of a tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TupleValue {
    /// `n`
    Null,
    /// `u`: an unchanged TOASTed value that the server did not send.
    UnchangedToast,
    /// `t`: the value in its text output format.
    Text(Bytes),
    /// `b`: the value in its binary format (only with `binary 'true'`).
    Binary(Bytes),
}

/// `TupleData`: one value per column of the relation, in order.
pub type TupleData = Vec<TupleValue>;

/// One column of a Relation message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity key (flag bit 1).
    pub is_key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationBody {
    pub xid: Option<u32>,
    pub relation_id: u32,
    pub namespace: String,
    pub name: String,
    /// `pg_class.relreplident`: `d`, `n`, `f` or `i`.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// The old row of an Update or Delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OldTuple {
    /// `K`: only the replica identity key columns are set (others Null).
    Key(TupleData),
    /// `O`: the whole old row (REPLICA IDENTITY FULL).
    Full(TupleData),
}

/// A decoded pgoutput message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgOutputMessage {
    Begin { final_lsn: Lsn, commit_ts_us: i64, xid: u32 },
    Commit { flags: u8, commit_lsn: Lsn, end_lsn: Lsn, commit_ts_us: i64 },
    Origin { commit_lsn: Lsn, name: String },
    Relation(RelationBody),
    Type { xid: Option<u32>, type_oid: u32, namespace: String, name: String },
    Insert { xid: Option<u32>, relation_id: u32, new: TupleData },
    Update { xid: Option<u32>, relation_id: u32, old: Option<OldTuple>, new: TupleData },
    Delete { xid: Option<u32>, relation_id: u32, old: OldTuple },
    Truncate { xid: Option<u32>, options: u8, relation_ids: Vec<u32> },
    Message { xid: Option<u32>, transactional: bool, lsn: Lsn, prefix: String, content: Bytes },
    StreamStart { xid: u32, first_segment: bool },
    StreamStop,
    StreamCommit { xid: u32, flags: u8, commit_lsn: Lsn, end_lsn: Lsn, commit_ts_us: i64 },
    StreamAbort { xid: u32, subxid: u32, abort_lsn: Option<Lsn>, abort_ts_us: Option<i64> },
}

/// The payload was not a valid pgoutput message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("pgoutput message truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("unknown pgoutput message tag {0:#04x}")]
    UnknownTag(u8),
    #[error("unknown tuple value kind {0:#04x}")]
    UnknownTupleKind(u8),
    #[error("string in pgoutput message is not NUL-terminated UTF-8")]
    BadString,
    #[error("invalid pgoutput message: {0}")]
    Invalid(&'static str),
}
