//! The deletes an interrupted snapshot pass would otherwise lose.
//!
//! A table whose snapshot was interrupted (kill -9, lost connection) has
//! `op: r` records of the rows that pass had read, at its snapshot point
//! P1, already committed in Kafka. The table is read again at a new
//! snapshot S, and streaming drops its changes committed before S (the
//! floor). A row present at P1 and deleted before S therefore has a stale
//! `r` and no later record: a ghost. Updates heal (the second pass has a
//! newer `r`); deletes do not.
//!
//! ```text
//!   pass 1 at P1 (interrupted)   pass 2 at P2 (interrupted)   pass 3 at S (completes)
//!   ──────┼──────────────────────────────┼────────────────────────────┼──────────▶ WAL
//!         │◀──────────── the window: commits in [P1, S) ────────────▶│ floor
//!           the slot still holds this WAL (it is confirmed only after the snapshot)
//! ```
//!
//! Before the table is read at S, the window is decoded (a temporary copy
//! of the connector's slot, `pg_logical_slot_get_binary_changes` up to S)
//! and [`WindowTracker`] follows every key of the table through it:
//!
//! - A key that exists at S gets its `r` at S: its window changes are
//!   dropped, as the floor drops them.
//! - A key that is absent at S but existed at some interrupted pass point
//!   may have a stale `r` from that pass: its window changes since the
//!   latest pass point at which it existed are sent (they end with its
//!   delete), so the consumer's state ends without it.
//! - A key that never existed at a pass point had no `r`: nothing is sent.
//! - A TRUNCATE in the window is sent first (it removes every earlier
//!   `r`); keys are followed afresh after it.
//!
//! With one interrupted pass (one crash) each key's records are exact: its
//! `r` at P1 (if the pass reached it) followed by exactly its changes after
//! P1. With several interrupted passes, a key's changes are sent from the
//! latest pass point at which it existed; if that pass had not reached the
//! key, the consumer's `r` is from an earlier pass and the changes between
//! the two points are not repeated (the final state is still right).
//!
//! Keys are the primary-key (replica identity) columns; a table without one
//! (REPLICA IDENTITY FULL) is keyed by the whole row. An update that changes
//! the key is a delete of the old key and an insert of the new one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{ChangeEvent, Op, Row};
use crate::lsn::Lsn;

/// A key's course through the window.
#[derive(Debug)]
struct KeyState {
    /// The row exists after the last change seen.
    exists: bool,
    /// Commit LSN of the last change seen.
    last_commit: Lsn,
    /// The row existed at some interrupted pass point: that pass may have
    /// an `r` of it in Kafka.
    seen: bool,
    /// Its changes since the latest pass point at which it existed (or
    /// since the window opened).
    pending: Vec<ChangeEvent>,
}

/// Follows one table's keys through the window `[passes[0], end)`; see the
/// module docs. Pure: the caller feeds it the decoded changes in commit order.
#[derive(Debug)]
pub struct WindowTracker {
    /// The snapshot points of the interrupted passes, ascending.
    passes: Vec<Lsn>,
    /// The snapshot point of the pass about to read the table.
    end: Lsn,
    keys: HashMap<String, KeyState>,
    /// The last TRUNCATE of the table in the window.
    truncate: Option<ChangeEvent>,
}

impl WindowTracker {
    /// A tracker for the interrupted passes at `passes` and the new pass at
    /// `end`; passes at or after `end` are ignored.
    pub fn new(passes: &[Lsn], end: Lsn) -> Self {
        let mut passes: Vec<Lsn> = passes.iter().copied().filter(|p| *p < end).collect();
        passes.sort_unstable();
        passes.dedup();
        WindowTracker { passes, end, keys: HashMap::new(), truncate: None }
    }

    /// Where the window starts: the first interrupted pass point (`None`
    /// when there is nothing to follow).
    pub fn start(&self) -> Option<Lsn> {
        self.passes.first().copied()
    }

    /// A change of the table in a transaction that committed at `commit`
    /// (its Begin's final LSN); changes outside the window are ignored.
    pub fn observe(&mut self, commit: Lsn, event: ChangeEvent) {
        let Some(start) = self.start() else { return };
        if commit < start || commit >= self.end {
            return;
        }
        match event.op {
            Op::Truncate => {
                self.keys.clear();
                self.truncate = Some(event);
            }
            Op::Create | Op::Read => {
                if let Some(key) = event.after.as_ref().map(|r| key_of(&event, r)) {
                    self.apply(key, commit, event, true);
                }
            }
            Op::Delete => {
                if let Some(key) = event.before.as_ref().map(|r| key_of(&event, r)) {
                    self.apply(key, commit, event, false);
                }
            }
            Op::Update => {
                let Some(after) = event.after.as_ref() else { return };
                let new_key = key_of(&event, after);
                let old_key = event.before.as_ref().map(|r| key_of(&event, r)).filter(|k| *k != new_key);
                match old_key {
                    None => self.apply(new_key, commit, event, true),
                    Some(old_key) => {
                        // The key changed: a delete of the old key, an insert of the new.
                        let delete = ChangeEvent { op: Op::Delete, after: None, ..event.clone() };
                        let insert = ChangeEvent { op: Op::Create, before: None, ..event };
                        self.apply(old_key, commit, delete, false);
                        self.apply(new_key, commit, insert, true);
                    }
                }
            }
            Op::Message => {}
        }
    }

    fn apply(&mut self, key: String, commit: Lsn, event: ChangeEvent, exists_after: bool) {
        let first_pass = self.passes[0];
        let state = self.keys.entry(key).or_insert_with(|| {
            // First change of the key in the window: an insert means it
            // did not exist before; anything else means it existed since
            // before the window (unless a TRUNCATE emptied the table), so
            // at the first pass point.
            let existed = event.op != Op::Create && self.truncate.is_none();
            KeyState { exists: existed, last_commit: first_pass, seen: existed, pending: Vec::new() }
        });
        // A pass point between the key's previous change and this one saw
        // the row as it was: that pass's `r` covers everything before.
        let crossed = state.exists
            && self.passes.iter().any(|p| state.last_commit < *p && *p <= commit);
        if crossed {
            state.seen = true;
            state.pending.clear();
        }
        state.pending.push(event);
        state.exists = exists_after;
        state.last_commit = commit;
    }

    /// The events to send before the table is read at `end`: the window's
    /// last TRUNCATE, then the changes of every key absent at `end` that
    /// existed at an interrupted pass point, in WAL order.
    pub fn finish(self) -> Vec<ChangeEvent> {
        let mut out: Vec<ChangeEvent> = self
            .keys
            .into_values()
            .filter(|s| s.seen && !s.exists)
            .flat_map(|s| s.pending)
            .collect();
        out.sort_by_key(|e| e.source.lsn);
        if let Some(truncate) = self.truncate {
            out.insert(0, truncate);
        }
        out
    }

    /// Keys followed so far (memory grows with the keys changed in the window).
    pub fn keys(&self) -> usize {
        self.keys.len()
    }
}

/// A row's identity: its key columns, or the whole row for a table without
/// a key. Compared within one table only.
fn key_of(event: &ChangeEvent, row: &Row) -> String {
    let table: &Arc<crate::event::TableSchema> = &event.table;
    if table.has_key() {
        let values: Vec<_> = table.key_columns().filter_map(|(i, _)| row.get(i)).collect();
        format!("{values:?}")
    } else {
        format!("{row:?}")
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
