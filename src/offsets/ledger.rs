//! The offset ledger: the one place that owns a connector's position.
//!
//! ```text
//!   stored offset ──from_stored──▶ OffsetLedger ◀── record_sent / transaction_ended / idle
//!                                      │             snapshot_mark / set_incremental
//!                  batch_offset() ◀────┤  the offset record committed with the open batch
//!                  batch_durable() ────┘  the batch committed: the position to confirm
//! ```
//!
//! Rules (each has a unit test below, and the delivery tests check them
//! end to end against the in-memory sink):
//! - The durable position starts at the stored offset's resume LSN and only
//!   moves forward; it moves when a batch commits (to its last transaction's
//!   end, or its idle position when that is later), or at once for a
//!   position that needs no record (`advance`).
//! - A batch's offset is, in order of precedence: the snapshot's last mark
//!   in the batch (its progress; at completion the resume point and the
//!   floors); the batch's idle position when it lies past its last commit;
//!   its last commit. A batch with none of them writes no offset.
//! - Per-table floors and the incremental snapshot's progress travel in
//!   every offset; a floor is dropped once the offset's resume point passes it.
//! - An aborted batch leaves the durable position and the state built
//!   before it as they were.
//!
//! I/O-free: the caller writes the records and the offset and says when
//! they are durable.

use std::collections::BTreeMap;

use super::SourceOffset;
use crate::event::{SnapshotMark, TxCommit};
use crate::lsn::Lsn;
use crate::progress::{IncrementalProgress, SnapshotCompletion, SnapshotProgress};

/// What the open batch has reached so far.
#[derive(Clone, Debug, Default)]
struct Pending {
    /// `end_lsn` of the last complete PostgreSQL transaction in the batch
    /// (or the resume point of a completed snapshot).
    last_end_lsn: Option<Lsn>,
    /// The last complete PostgreSQL transaction that put records in the batch.
    last_commit: Option<TxCommit>,
    /// An idle position to confirm once the batch is durable.
    idle_lsn: Option<Lsn>,
    /// The snapshot's last mark in the batch.
    snapshot: Option<(SnapshotProgress, Option<SnapshotCompletion>)>,
    /// Records of a PostgreSQL transaction whose end has not been seen.
    partial: bool,
}

impl Pending {
    /// Where the batch leaves the durable position once it commits.
    fn position(&self) -> Option<Lsn> {
        self.last_end_lsn.max(self.idle_lsn)
    }
}

/// A connector's position: durable, and as of the open batch.
#[derive(Clone, Debug, Default)]
pub struct OffsetLedger {
    durable: Lsn,
    /// The last complete PostgreSQL transaction made durable (the
    /// transaction id and time of an idle offset).
    last_durable_commit: Option<TxCommit>,
    /// Tables whose changes before an LSN came with a later snapshot.
    table_floors: BTreeMap<String, Lsn>,
    /// The incremental snapshot's progress as of the last record sent.
    incremental: Option<IncrementalProgress>,
    pending: Pending,
}

impl OffsetLedger {
    /// The ledger of a connector that resumes from `stored` (or starts afresh).
    pub fn from_stored(stored: Option<&SourceOffset>) -> Self {
        OffsetLedger {
            durable: stored.and_then(SourceOffset::resume_lsn).unwrap_or(Lsn::ZERO),
            table_floors: stored.map(SourceOffset::floors).unwrap_or_default(),
            incremental: stored.and_then(|o| o.incremental.clone()),
            ..OffsetLedger::default()
        }
    }

    /// Everything at or below it is durable.
    pub fn durable(&self) -> Lsn {
        self.durable
    }

    /// Records of the current PostgreSQL transaction are in the batch: it
    /// cannot be committed before that transaction ends.
    pub fn record_sent(&mut self) {
        self.pending.partial = true;
    }

    /// The batch ends inside a PostgreSQL transaction.
    pub fn mid_transaction(&self) -> bool {
        self.pending.partial
    }

    /// A PostgreSQL transaction ended (its records, if any, are in the batch).
    pub fn transaction_ended(&mut self, commit: &TxCommit) {
        self.pending.last_end_lsn = Some(commit.end_lsn);
        if self.pending.partial {
            self.pending.last_commit = Some(commit.clone());
        }
        self.pending.partial = false;
    }

    /// The server has nothing before `lsn`: confirm it with the open batch.
    pub fn idle(&mut self, lsn: Lsn) {
        self.pending.idle_lsn = Some(lsn.max(self.durable));
    }

    /// A commit point of the initial snapshot.
    pub fn snapshot_mark(&mut self, mark: &SnapshotMark) {
        self.pending.partial = false;
        if let Some(done) = &mark.completed {
            self.table_floors = done.floors.iter().map(|(t, l)| (t.clone(), Lsn(*l))).collect();
            self.pending.last_end_lsn = Some(done.resume);
        }
        self.pending.snapshot = Some((mark.progress.clone(), mark.completed.clone()));
    }

    /// The incremental snapshot's progress after the records sent so far.
    pub fn set_incremental(&mut self, progress: Option<IncrementalProgress>) {
        self.incremental = progress;
    }

    /// The batch's position when it commits: its last transaction's end, or
    /// its idle position when later (`None`: it moves nothing).
    #[cfg(test)]
    pub fn batch_position(&self) -> Option<Lsn> {
        self.pending.position()
    }

    /// Moves the durable position to `lsn` (when later) without a batch: a
    /// transaction without captured changes, an idle position with no batch
    /// open. Returns the new durable position when it moved.
    pub fn advance(&mut self, lsn: Lsn) -> Option<Lsn> {
        (lsn > self.durable).then(|| {
            self.durable = lsn;
            lsn
        })
    }

    /// Forgets the batch's last transaction end (it was made durable at once).
    pub fn clear_batch_position(&mut self) {
        self.pending.last_end_lsn = None;
    }

    /// The offset record to commit with the open batch (see the module docs).
    pub fn batch_offset(&mut self) -> Option<SourceOffset> {
        let pending = &self.pending;
        let commit_end = pending.last_commit.as_ref().map(|c| c.end_lsn);
        let mut offset = match (&pending.snapshot, pending.idle_lsn, &pending.last_commit) {
            (Some((progress, completed)), _, _) => SourceOffset::during_snapshot(progress, completed.as_ref()),
            (None, Some(idle), _) if commit_end.is_none_or(|end| idle > end) => {
                let last = pending.last_commit.as_ref().or(self.last_durable_commit.as_ref());
                SourceOffset::at_idle(idle, last.map(|c| (c.xid, c.commit_ts_us)))
            }
            (None, _, Some(commit)) => SourceOffset::after_commit(commit.end_lsn, commit.xid, commit.commit_ts_us),
            (None, _, None) => return None,
        };
        if offset.incremental.is_none() {
            offset.incremental = self.incremental.clone();
        }
        if offset.table_floors.is_none() && !self.table_floors.is_empty() {
            // Floors the stream has passed no longer matter.
            let at = offset.resume_lsn().unwrap_or(Lsn::ZERO);
            self.table_floors.retain(|_, floor| *floor > at);
            if !self.table_floors.is_empty() {
                offset.table_floors =
                    Some(self.table_floors.iter().map(|(t, l)| (t.clone(), l.as_u64())).collect());
            }
        }
        Some(offset)
    }

    /// The batch committed: returns the new durable position when it moved.
    pub fn batch_durable(&mut self) -> Option<Lsn> {
        let pending = std::mem::take(&mut self.pending);
        if pending.last_commit.is_some() {
            self.last_durable_commit = pending.last_commit.clone();
        }
        self.advance(pending.position()?)
    }

    /// The batch was aborted: nothing of it counts.
    pub fn batch_aborted(&mut self) {
        self.pending = Pending::default();
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
