//! pgoutput: bytes of an XLogData payload → typed messages. Pure, no I/O.
//!
//! Message layouts follow PostgreSQL's "Logical Replication Message Formats"
//! (protocol versions 1–4). Inside a streamed block (between Stream Start and
//! Stream Stop) the DML, Relation, Type and Message messages carry the
//! top-level xid first; the caller says whether it is inside one.
//!
//! Timestamps are microseconds since 2000-01-01 (PostgreSQL's epoch); the
//! decoder converts them to microseconds since the Unix epoch.
//!
//! ```text
//!  XLogData payload ──decode_bytes(in_stream)──▶ PgOutputMessage
//!     'S' StreamStart ─┐  in_stream = true: R Y I U D T M carry an xid first
//!     'E' StreamStop  ◀┘  in_stream = false again
//! ```
//!
//! Invariants the decoder enforces (and relies on):
//! - every count read from the wire (columns, relations) is checked against
//!   the bytes that remain before anything is allocated for it, so a hostile
//!   or corrupt payload cannot make the decoder allocate more than it holds;
//! - a message must be consumed exactly: trailing bytes are an error, except
//!   Stream Abort, whose `abort_lsn`/`abort_ts` only exist on protocol 4 with
//!   parallel streaming and are decoded when present;
//! - two-phase messages (`b`, `P`, `K`, `r`, `p`) are never requested (no
//!   `two_phase` option), so they are reported as unknown tags.

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

/// Decodes one pgoutput message from a byte slice (copies it once).
///
/// `in_stream` is true between a Stream Start and the next Stream Stop.
pub fn decode(buf: &[u8], in_stream: bool) -> Result<PgOutputMessage, DecodeError> {
    decode_bytes(&Bytes::copy_from_slice(buf), in_stream)
}

/// Decodes one pgoutput message; tuple values share `buf`'s storage.
pub fn decode_bytes(buf: &Bytes, in_stream: bool) -> Result<PgOutputMessage, DecodeError> {
    let mut r = Reader { buf, pos: 0 };
    let tag = r.u8()?;
    let msg = match tag {
        b'B' => PgOutputMessage::Begin { final_lsn: r.lsn()?, commit_ts_us: r.timestamp()?, xid: r.u32()? },
        b'C' => PgOutputMessage::Commit {
            flags: r.u8()?,
            commit_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            commit_ts_us: r.timestamp()?,
        },
        b'O' => PgOutputMessage::Origin { commit_lsn: r.lsn()?, name: r.string()? },
        b'R' => {
            let xid = r.stream_xid(in_stream)?;
            let relation_id = r.u32()?;
            let namespace = r.string()?;
            let name = r.string()?;
            let replica_identity = r.u8()?;
            let ncols = r.count16(MIN_COLUMN_LEN)?;
            let mut columns = Vec::with_capacity(ncols);
            for _ in 0..ncols {
                let flags = r.u8()?;
                columns.push(RelationColumn {
                    is_key: flags & 1 == 1,
                    name: r.string()?,
                    type_oid: r.u32()?,
                    type_modifier: r.i32()?,
                });
            }
            PgOutputMessage::Relation(RelationBody { xid, relation_id, namespace, name, replica_identity, columns })
        }
        b'Y' => PgOutputMessage::Type {
            xid: r.stream_xid(in_stream)?,
            type_oid: r.u32()?,
            namespace: r.string()?,
            name: r.string()?,
        },
        b'I' => {
            let xid = r.stream_xid(in_stream)?;
            let relation_id = r.u32()?;
            if r.u8()? != b'N' {
                return Err(DecodeError::Invalid("insert without new tuple"));
            }
            PgOutputMessage::Insert { xid, relation_id, new: r.tuple()? }
        }
        b'U' => {
            let xid = r.stream_xid(in_stream)?;
            let relation_id = r.u32()?;
            let (old, new) = match r.u8()? {
                b'N' => (None, r.tuple()?),
                kind @ (b'K' | b'O') => {
                    let old = old_tuple(kind, r.tuple()?);
                    if r.u8()? != b'N' {
                        return Err(DecodeError::Invalid("update without new tuple"));
                    }
                    (Some(old), r.tuple()?)
                }
                _ => return Err(DecodeError::Invalid("update tuple marker is not K, O or N")),
            };
            PgOutputMessage::Update { xid, relation_id, old, new }
        }
        b'D' => {
            let xid = r.stream_xid(in_stream)?;
            let relation_id = r.u32()?;
            let old = match r.u8()? {
                kind @ (b'K' | b'O') => old_tuple(kind, r.tuple()?),
                _ => return Err(DecodeError::Invalid("delete tuple marker is not K or O")),
            };
            PgOutputMessage::Delete { xid, relation_id, old }
        }
        b'T' => {
            let xid = r.stream_xid(in_stream)?;
            let declared = r.u32()?;
            let options = r.u8()?;
            // Each relation id takes 4 bytes: refuse counts the payload cannot hold.
            let n = usize::try_from(declared).map_err(|_| DecodeError::Invalid("relation count"))?;
            if n > r.remaining() / 4 {
                return Err(r.truncated(n.saturating_mul(4)));
            }
            let mut relation_ids = Vec::with_capacity(n);
            for _ in 0..n {
                relation_ids.push(r.u32()?);
            }
            PgOutputMessage::Truncate { xid, options, relation_ids }
        }
        b'M' => {
            let xid = r.stream_xid(in_stream)?;
            let flags = r.u8()?;
            let lsn = r.lsn()?;
            let prefix = r.string()?;
            let len = r.len32()?;
            PgOutputMessage::Message { xid, transactional: flags & 1 == 1, lsn, prefix, content: r.take(len)? }
        }
        b'S' => {
            let xid = r.u32()?;
            let first = r.u8()?;
            PgOutputMessage::StreamStart { xid, first_segment: first == 1 }
        }
        b'E' => PgOutputMessage::StreamStop,
        b'c' => PgOutputMessage::StreamCommit {
            xid: r.u32()?,
            flags: r.u8()?,
            commit_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            commit_ts_us: r.timestamp()?,
        },
        b'A' => {
            let xid = r.u32()?;
            let subxid = r.u32()?;
            let (abort_lsn, abort_ts_us) =
                if r.remaining() == 0 { (None, None) } else { (Some(r.lsn()?), Some(r.timestamp()?)) };
            PgOutputMessage::StreamAbort { xid, subxid, abort_lsn, abort_ts_us }
        }
        other => return Err(DecodeError::UnknownTag(other)),
    };
    if r.remaining() != 0 {
        return Err(DecodeError::Invalid("trailing bytes after message"));
    }
    Ok(msg)
}

/// The smallest encoding of one Relation column: flags, "", type oid, typmod.
const MIN_COLUMN_LEN: usize = 1 + 1 + 4 + 4;
/// The smallest encoding of one tuple value: its kind byte.
const MIN_TUPLE_VALUE_LEN: usize = 1;

fn old_tuple(kind: u8, data: TupleData) -> OldTuple {
    if kind == b'K' {
        OldTuple::Key(data)
    } else {
        OldTuple::Full(data)
    }
}

/// A cursor over one message; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn truncated(&self, needed: usize) -> DecodeError {
        DecodeError::Truncated { offset: self.pos, needed: needed.saturating_sub(self.remaining()) }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos.checked_add(N).filter(|&e| e <= self.buf.len()).ok_or_else(|| self.truncated(N))?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn lsn(&mut self) -> Result<Lsn, DecodeError> {
        Ok(Lsn(u64::from_be_bytes(self.array()?)))
    }

    /// A PostgreSQL-epoch timestamp, returned in Unix-epoch microseconds.
    fn timestamp(&mut self) -> Result<i64, DecodeError> {
        self.i64()?.checked_add(PG_EPOCH_OFFSET_US).ok_or(DecodeError::Invalid("timestamp out of range"))
    }

    fn stream_xid(&mut self, in_stream: bool) -> Result<Option<u32>, DecodeError> {
        if in_stream {
            Ok(Some(self.u32()?))
        } else {
            Ok(None)
        }
    }

    /// An Int16 element count, checked against what the remaining bytes can hold.
    fn count16(&mut self, min_element_len: usize) -> Result<usize, DecodeError> {
        let n = u16::from_be_bytes(self.array()?);
        let n = usize::from(n);
        if n > self.remaining() / min_element_len {
            return Err(self.truncated(n.saturating_mul(min_element_len)));
        }
        Ok(n)
    }

    /// An Int32 byte length; negative lengths are invalid.
    fn len32(&mut self) -> Result<usize, DecodeError> {
        let len = self.i32()?;
        usize::try_from(len).map_err(|_| DecodeError::Invalid("negative length"))
    }

    fn take(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len()).ok_or_else(|| self.truncated(len))?;
        let out = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    /// A NUL-terminated UTF-8 string.
    fn string(&mut self) -> Result<String, DecodeError> {
        let rest = &self.buf[self.pos..];
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(|| self.truncated(rest.len() + 1))?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| DecodeError::BadString)?.to_owned();
        self.pos += nul + 1;
        Ok(s)
    }

    fn tuple(&mut self) -> Result<TupleData, DecodeError> {
        let n = self.count16(MIN_TUPLE_VALUE_LEN)?;
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            let value = match self.u8()? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::UnchangedToast,
                b't' => {
                    let len = self.len32()?;
                    TupleValue::Text(self.take(len)?)
                }
                b'b' => {
                    let len = self.len32()?;
                    TupleValue::Binary(self.take(len)?)
                }
                other => return Err(DecodeError::UnknownTupleKind(other)),
            };
            values.push(value);
        }
        Ok(values)
    }
}

/// Encodes a message the way pgoutput does: the inverse of [`decode`].
///
/// For tests, fuzzing and tools. `in_stream` must match what the decoder
/// will be told; a missing xid inside a stream is written as 0.
pub fn encode(msg: &PgOutputMessage, in_stream: bool) -> Vec<u8> {
    let mut w = Writer { out: Vec::new(), in_stream };
    match msg {
        PgOutputMessage::Begin { final_lsn, commit_ts_us, xid } => {
            w.u8(b'B');
            w.lsn(*final_lsn);
            w.ts(*commit_ts_us);
            w.u32(*xid);
        }
        PgOutputMessage::Commit { flags, commit_lsn, end_lsn, commit_ts_us } => {
            w.u8(b'C');
            w.u8(*flags);
            w.lsn(*commit_lsn);
            w.lsn(*end_lsn);
            w.ts(*commit_ts_us);
        }
        PgOutputMessage::Origin { commit_lsn, name } => {
            w.u8(b'O');
            w.lsn(*commit_lsn);
            w.string(name);
        }
        PgOutputMessage::Relation(rel) => {
            w.u8(b'R');
            w.xid(rel.xid);
            w.u32(rel.relation_id);
            w.string(&rel.namespace);
            w.string(&rel.name);
            w.u8(rel.replica_identity);
            w.u16_len(rel.columns.len());
            for c in &rel.columns {
                w.u8(u8::from(c.is_key));
                w.string(&c.name);
                w.u32(c.type_oid);
                w.out.extend_from_slice(&c.type_modifier.to_be_bytes());
            }
        }
        PgOutputMessage::Type { xid, type_oid, namespace, name } => {
            w.u8(b'Y');
            w.xid(*xid);
            w.u32(*type_oid);
            w.string(namespace);
            w.string(name);
        }
        PgOutputMessage::Insert { xid, relation_id, new } => {
            w.u8(b'I');
            w.xid(*xid);
            w.u32(*relation_id);
            w.u8(b'N');
            w.tuple(new);
        }
        PgOutputMessage::Update { xid, relation_id, old, new } => {
            w.u8(b'U');
            w.xid(*xid);
            w.u32(*relation_id);
            if let Some(old) = old {
                w.old(old);
            }
            w.u8(b'N');
            w.tuple(new);
        }
        PgOutputMessage::Delete { xid, relation_id, old } => {
            w.u8(b'D');
            w.xid(*xid);
            w.u32(*relation_id);
            w.old(old);
        }
        PgOutputMessage::Truncate { xid, options, relation_ids } => {
            w.u8(b'T');
            w.xid(*xid);
            w.u32(u32::try_from(relation_ids.len()).unwrap_or(u32::MAX));
            w.u8(*options);
            for id in relation_ids {
                w.u32(*id);
            }
        }
        PgOutputMessage::Message { xid, transactional, lsn, prefix, content } => {
            w.u8(b'M');
            w.xid(*xid);
            w.u8(u8::from(*transactional));
            w.lsn(*lsn);
            w.string(prefix);
            w.bytes(content);
        }
        PgOutputMessage::StreamStart { xid, first_segment } => {
            w.u8(b'S');
            w.u32(*xid);
            w.u8(u8::from(*first_segment));
        }
        PgOutputMessage::StreamStop => w.u8(b'E'),
        PgOutputMessage::StreamCommit { xid, flags, commit_lsn, end_lsn, commit_ts_us } => {
            w.u8(b'c');
            w.u32(*xid);
            w.u8(*flags);
            w.lsn(*commit_lsn);
            w.lsn(*end_lsn);
            w.ts(*commit_ts_us);
        }
        PgOutputMessage::StreamAbort { xid, subxid, abort_lsn, abort_ts_us } => {
            w.u8(b'A');
            w.u32(*xid);
            w.u32(*subxid);
            if let Some(lsn) = abort_lsn {
                w.lsn(*lsn);
                w.ts(abort_ts_us.unwrap_or(PG_EPOCH_OFFSET_US));
            }
        }
    }
    w.out
}

struct Writer {
    out: Vec<u8>,
    in_stream: bool,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn u16_len(&mut self, n: usize) {
        self.out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
    }
    fn lsn(&mut self, v: Lsn) {
        self.out.extend_from_slice(&v.0.to_be_bytes());
    }
    fn ts(&mut self, unix_us: i64) {
        self.out.extend_from_slice(&unix_us.wrapping_sub(PG_EPOCH_OFFSET_US).to_be_bytes());
    }
    fn xid(&mut self, xid: Option<u32>) {
        if self.in_stream {
            self.u32(xid.unwrap_or(0));
        }
    }
    fn string(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(0);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(&i32::try_from(b.len()).unwrap_or(i32::MAX).to_be_bytes());
        self.out.extend_from_slice(b);
    }
    fn old(&mut self, old: &OldTuple) {
        match old {
            OldTuple::Key(t) => {
                self.u8(b'K');
                self.tuple(t);
            }
            OldTuple::Full(t) => {
                self.u8(b'O');
                self.tuple(t);
            }
        }
    }
    fn tuple(&mut self, t: &TupleData) {
        self.u16_len(t.len());
        for v in t {
            match v {
                TupleValue::Null => self.u8(b'n'),
                TupleValue::UnchangedToast => self.u8(b'u'),
                TupleValue::Text(b) => {
                    self.u8(b't');
                    self.bytes(b);
                }
                TupleValue::Binary(b) => {
                    self.u8(b'b');
                    self.bytes(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
