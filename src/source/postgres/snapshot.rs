//! The initial snapshot: every captured row as an `op: r` event, consistent
//! with the replication slot, before streaming starts.
//!
//! ```text
//!   CREATE_REPLICATION_SLOT … (SNAPSHOT 'export') ──▶ consistent point L, snapshot name S
//!        │ (the replication connection stays idle: S lives until its next command)
//!        ├──▶ conn 1..N: BEGIN REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT S
//!        │        per table: catalog (as of S) ─▶ COPY … TO STDOUT (whole, or block ranges
//!        │        read in parallel) ─▶ copy_text ─▶ the streaming path's row decoder
//!        │    ──▶ Change(op r)* ─ SnapshotMark(offset: tables done) ─ … ─ SnapshotMark(completed)
//!        └──▶ START_REPLICATION at L: every transaction that committed after S
//! ```
//!
//! Invariants relied on:
//! - A slot's exported snapshot sees exactly the transactions whose commit
//!   record lies before the slot's consistent point, and the slot decodes
//!   exactly the others; so streaming from the consistent point, dropping
//!   transactions that ended at or before it, leaves no gap and no duplicate.
//! - When the connector's slot already exists (a snapshot resumed after a
//!   restart, `always`, `when_needed`, or `initial` on an existing slot), a
//!   temporary slot exports the snapshot instead; its consistent point L'
//!   becomes that snapshot's position. Tables read at L' get a *floor*:
//!   streaming (from the earliest table's position) drops their changes in
//!   transactions that committed before L'. The floors travel in the offsets
//!   until the stream has passed them.
//! - Progress is stored at every mark (the tables done, each with the LSN it
//!   was read at), inside the Kafka transaction of the records before it: a
//!   restart resumes with the tables not yet done. The rows of the table that
//!   was being read are read again (at the new snapshot), so they may appear
//!   twice (both `op: r`, older first; per key the order stays right).
//! - Rows come in arrival order; Debezium's `source.snapshot` markers
//!   (`first`, `first_in_data_collection`, `true`, `last_in_data_collection`,
//!   `last`) need one row of lookahead per table.

mod copy_text;
mod run;
pub mod window;
mod window_scan;

use std::collections::BTreeMap;

use crate::config::connector::SnapshotMode;
use crate::event::{SnapshotMarker, TableId};
use crate::lsn::Lsn;
use crate::offsets::SourceOffset;

pub(crate) use run::{describe, CopyRows, Reading};
pub use run::{run, ExportedSnapshot, SnapshotError, SnapshotJob};

/// What the connector does at start, from `snapshot.mode` and the stored offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotDecision {
    /// Take a snapshot now.
    pub take: bool,
    /// Tables an interrupted snapshot already completed (`schema.table` →
    /// the LSN each was read at); only the others are read.
    pub done: BTreeMap<String, u64>,
    /// The table an interrupted snapshot was reading, with the snapshot
    /// points of its passes (see [`window`]).
    pub reading: BTreeMap<String, Vec<u64>>,
    /// Stream changes (after the snapshot, if any). False for `initial_only`.
    pub stream: bool,
}

/// Decides whether to snapshot. `wal_kept`: the slot still holds the WAL
/// after the stored offset (it existed and has not moved past it).
pub fn decide(mode: SnapshotMode, stored: Option<&SourceOffset>, wal_kept: bool) -> SnapshotDecision {
    let in_progress = stored.is_some_and(SourceOffset::snapshot_in_progress);
    let (done, reading) = match stored {
        Some(o) if in_progress => {
            (o.snapshot_done.clone().unwrap_or_default(), o.snapshot_reading.clone().unwrap_or_default())
        }
        _ => (BTreeMap::new(), BTreeMap::new()),
    };
    let needed = stored.is_none() || in_progress;
    let (take, stream) = match mode {
        SnapshotMode::NoData => (false, true),
        SnapshotMode::Initial | SnapshotMode::ConfigurationBased | SnapshotMode::Custom => (needed, true),
        SnapshotMode::InitialOnly => (needed, false),
        SnapshotMode::Always => (true, true),
        SnapshotMode::WhenNeeded => (needed || !wal_kept, true),
    };
    if !take {
        return SnapshotDecision { take, done: BTreeMap::new(), reading: BTreeMap::new(), stream };
    }
    SnapshotDecision { take, done, reading, stream }
}

/// Debezium's `source.snapshot` of a snapshot record
/// (`RelationalSnapshotChangeEventSource.setSnapshotMarker`).
pub fn marker(first_table: bool, last_table: bool, first_in_table: bool, last_in_table: bool) -> SnapshotMarker {
    if last_in_table && last_table {
        SnapshotMarker::Last
    } else if first_in_table && first_table {
        SnapshotMarker::First
    } else if last_in_table {
        SnapshotMarker::LastInDataCollection
    } else if first_in_table {
        SnapshotMarker::FirstInDataCollection
    } else {
        SnapshotMarker::True
    }
}

/// Chunks per reading connection, so a slow chunk does not leave the others idle.
const CHUNKS_PER_THREAD: u64 = 4;

/// A block range of a table: `ctid >= (start,0) AND ctid < (end,0)`; no end
/// for the last one (rows on blocks added since the size was read are
/// invisible to the snapshot anyway, but the range stays open to be sure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub start: u64,
    pub end: Option<u64>,
}

impl Chunk {
    pub const WHOLE: Chunk = Chunk { start: 0, end: None };
}

/// Splits a table of `blocks` blocks for `threads` connections, in chunks
/// of at least `min_blocks`. Block-range scans (TID Range Scan) exist from
/// PostgreSQL 14; before, and for small tables or one thread, the table is
/// read whole.
pub fn chunks(blocks: u64, threads: usize, min_blocks: u64, server_version: u32) -> Vec<Chunk> {
    let threads = threads as u64;
    let min_blocks = min_blocks.max(1);
    if threads <= 1 || server_version < 140_000 || blocks < 2 * min_blocks {
        return vec![Chunk::WHOLE];
    }
    let size = blocks.div_ceil(threads * CHUNKS_PER_THREAD).max(min_blocks);
    let mut out = Vec::new();
    let mut start = 0;
    while start + size < blocks {
        out.push(Chunk { start, end: Some(start + size) });
        start += size;
    }
    out.push(Chunk { start, end: None });
    out
}

/// A table's key in the offsets' table maps: `"schema"."table"`, quoted as
/// SQL identifiers so that names with dots or quotes stay unambiguous.
pub fn table_key(table: &TableId) -> String {
    format!("{}.{}", crate::source::postgres::catalog::quote_ident(&table.schema), crate::source::postgres::catalog::quote_ident(&table.table))
}

/// The table a [`table_key`] names.
pub fn parse_table_key(key: &str) -> Option<TableId> {
    fn ident(s: &str) -> Option<(String, &str)> {
        let mut rest = s.strip_prefix('"')?;
        let mut out = String::new();
        loop {
            let i = rest.find('"')?;
            out.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            match rest.strip_prefix('"') {
                Some(after) => {
                    out.push('"');
                    rest = after;
                }
                None => return Some((out, rest)),
            }
        }
    }
    let (schema, rest) = ident(key)?;
    let (table, rest) = ident(rest.strip_prefix('.')?)?;
    rest.is_empty().then(|| TableId::new(schema, table))
}

/// Where streaming resumes after a snapshot whose tables were read at the
/// positions in `done`: the earliest, with a floor for each later table.
pub fn resume_point(done: &BTreeMap<String, u64>, fallback: Lsn) -> (Lsn, BTreeMap<String, u64>) {
    let resume = done.values().min().map_or(fallback, |l| Lsn(*l));
    let floors = done.iter().filter(|(_, l)| **l > resume.as_u64()).map(|(t, l)| (t.clone(), *l)).collect();
    (resume, floors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::{SnapshotFlag, SnapshotProgress};

    fn streaming_offset() -> SourceOffset {
        SourceOffset::after_commit(Lsn(900), 7, 1)
    }

    fn interrupted() -> SourceOffset {
        let progress = SnapshotProgress {
            lsn: Lsn(500),
            tx_id: 1,
            ts_us: 1,
            done: BTreeMap::from([("public.a".to_owned(), 500)]),
            reading: BTreeMap::from([("public.b".to_owned(), vec![300, 500])]),
        };
        SourceOffset::during_snapshot(&progress, None)
    }

    #[test]
    fn modes_decide_as_debezium() {
        use SnapshotMode::*;
        let fresh = decide(Initial, None, false);
        assert!(fresh.take && fresh.stream && fresh.done.is_empty());
        assert!(!decide(Initial, Some(&streaming_offset()), true).take, "initial: only once");
        assert!(!decide(NoData, None, false).take);
        assert!(decide(NoData, None, false).stream);
        let only = decide(InitialOnly, None, false);
        assert!(only.take && !only.stream);
        assert!(!decide(InitialOnly, Some(&streaming_offset()), true).take);
        assert!(decide(Always, Some(&streaming_offset()), true).take);
        assert!(!decide(WhenNeeded, Some(&streaming_offset()), true).take, "WAL still there");
        assert!(decide(WhenNeeded, Some(&streaming_offset()), false).take, "the slot lost the position");
        assert!(decide(WhenNeeded, None, true).take);
    }

    #[test]
    fn an_interrupted_snapshot_resumes_with_the_tables_not_done() {
        let d = decide(SnapshotMode::Initial, Some(&interrupted()), true);
        assert!(d.take);
        assert_eq!(d.done.keys().collect::<Vec<_>>(), ["public.a"]);
        assert_eq!(d.reading, BTreeMap::from([("public.b".to_owned(), vec![300, 500])]), "the interrupted table's passes");
        assert!(decide(SnapshotMode::Initial, Some(&streaming_offset()), true).reading.is_empty());
        // Debezium's own in-progress offset (no pgcdc progress): everything again.
        let dbz = SourceOffset {
            lsn: Some(1),
            snapshot: Some(SnapshotFlag::Kind("INITIAL".into())),
            last_snapshot_record: Some(false),
            ..SourceOffset::default()
        };
        let d = decide(SnapshotMode::Initial, Some(&dbz), true);
        assert!(d.take && d.done.is_empty());
        assert!(!decide(SnapshotMode::NoData, Some(&interrupted()), true).take);
    }

    #[test]
    fn markers_follow_debezium() {
        use SnapshotMarker::*;
        // Three tables of 3, 2 and 1 rows (as the skeleton capture: product, sale, stock).
        let tables = [3usize, 2, 1];
        let mut got = Vec::new();
        for (t, rows) in tables.iter().enumerate() {
            for r in 0..*rows {
                got.push(marker(t == 0, t == tables.len() - 1, r == 0, r == rows - 1));
            }
        }
        assert_eq!(got, [First, True, LastInDataCollection, FirstInDataCollection, LastInDataCollection, Last]);
        assert_eq!(marker(true, true, true, true), Last, "a lone row is the last");
        assert_eq!(marker(false, false, true, true), LastInDataCollection);
    }

    #[test]
    fn chunking() {
        const MIN: u64 = 1024;
        assert_eq!(chunks(1_000_000, 1, MIN, 150_000), vec![Chunk::WHOLE], "one thread reads whole tables");
        assert_eq!(chunks(1_000_000, 4, MIN, 130_000), vec![Chunk::WHOLE], "no TID range scans before 14");
        assert_eq!(chunks(2 * MIN - 1, 4, MIN, 150_000), vec![Chunk::WHOLE]);
        let c = chunks(100_000, 2, MIN, 150_000);
        assert_eq!(c.len(), 8);
        assert_eq!(c[0], Chunk { start: 0, end: Some(12_500) });
        assert_eq!(c[7], Chunk { start: 87_500, end: None });
        for w in c.windows(2) {
            assert_eq!(w[0].end, Some(w[1].start), "ranges tile the table");
        }
        let small = chunks(3 * MIN, 8, MIN, 160_000);
        assert_eq!(small.len(), 3, "never below the minimum chunk: {small:?}");
    }

    #[test]
    fn table_keys_round_trip_any_name() {
        for (schema, table) in [("public", "t"), ("public", "weird.name"), ("my.schema", "a\"b"), ("S", "")] {
            let id = TableId::new(schema, table);
            assert_eq!(parse_table_key(&table_key(&id)), Some(id.clone()), "{}", table_key(&id));
        }
        assert_eq!(table_key(&TableId::new("public", "t")), "\"public\".\"t\"");
        assert_eq!(parse_table_key("public.t"), None);
        assert_eq!(parse_table_key("\"a\".\"b\"x"), None);
    }

    #[test]
    fn resume_at_the_earliest_table_with_floors_for_later_ones() {
        let done = BTreeMap::from([("public.a".to_owned(), 500_u64), ("public.b".to_owned(), 700)]);
        let (resume, floors) = resume_point(&done, Lsn(1));
        assert_eq!(resume, Lsn(500));
        assert_eq!(floors, BTreeMap::from([("public.b".to_owned(), 700)]));
        assert_eq!(resume_point(&BTreeMap::new(), Lsn(42)), (Lsn(42), BTreeMap::new()));
    }
}
