//! Who owns a connector: the slot decides, across restarts of its task.
//!
//! ```text
//!   newer instance:  init_transactions (fences the older) ─▶ wait for the slot ─▶ stream
//!   older instance:  fenced ─▶ fails, lets the slot go
//!                    or, not told so (its broker drops the fenced producer's
//!                    requests): commit times out ─▶ transient ─▶ restart:
//!                    slot held by another process? ─▶ yes: fail as fenced
//! ```
//!
//! A newer instance of a connector (same `transactional.id`) takes over as
//! Kafka Connect's do: its `init_transactions` fences the running one, then it
//! waits for the slot the running one still holds
//! ([`SLOT_BUSY_WAIT`](super::capture::SLOT_BUSY_WAIT)). The fenced instance
//! must then fail, never come back: a restart runs `init_transactions` again
//! and would fence the newer instance in turn, and the two would trade places
//! at every commit. A broker that drops a fenced producer's requests instead
//! of answering PRODUCER_FENCED (tansu) leaves the fenced instance with a
//! commit timeout, which is transient. So a task that has streamed from the
//! slot ([`SlotTenure`]) checks it before its next start, before anything that
//! would fence:
//!
//! - slot inactive, missing, or active for the task's own last walsender (not
//!   exited yet): start as usual;
//! - active for any other process: someone took the slot over while the task
//!   was down, most likely a newer instance that fenced this one →
//!   [`SourceError::Replaced`], fatal.
//!
//! A task's first start (registration, worker start, `POST …/restart`) does
//! not check: it is the newer instance.

use crate::config::connector::ConnectorConfig;

use super::capture::{catalog_client, SourceError};
use super::catalog;

/// The walsender a task last streamed from its slot with (kept across the
/// restarts of one task).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotTenure {
    walsender: Option<i32>,
}

impl SlotTenure {
    /// The task streamed from the slot with walsender `pid`.
    pub fn streamed_as(&mut self, pid: i32) {
        self.walsender = Some(pid);
    }

    /// The walsender the task last streamed with, if it ever streamed.
    pub fn walsender(&self) -> Option<i32> {
        self.walsender
    }

    /// The process that took the slot over from this task, given the slot's
    /// `active_pid`: `None` when the task never streamed, the slot is free,
    /// or its holder is the task's own last walsender.
    pub fn taken_over_by(&self, active_pid: Option<i32>) -> Option<i32> {
        let ours = self.walsender?;
        active_pid.filter(|&pid| pid != ours)
    }
}

/// Fails with [`SourceError::Replaced`] when another process took the slot
/// over from this task (see the module docs); does nothing for a task that
/// never streamed.
pub async fn check_not_replaced(config: &ConnectorConfig, tenure: SlotTenure) -> Result<(), SourceError> {
    if tenure.walsender().is_none() {
        return Ok(());
    }
    let (client, _tls) = catalog_client(&config.connection).await?;
    let slot = catalog::slot_info(&client, &config.slot_name).await?;
    match tenure.taken_over_by(slot.and_then(|s| s.active_pid)) {
        Some(pid) => Err(SourceError::Replaced { slot: config.slot_name.clone(), pid }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Classify, ErrorClass};

    #[test]
    fn first_start_never_counts_as_replaced() {
        let fresh = SlotTenure::default();
        assert_eq!(fresh.taken_over_by(Some(4242)), None, "a new instance waits for the slot, it is not replaced");
        assert_eq!(fresh.taken_over_by(None), None);
    }

    #[test]
    fn another_holder_after_streaming_is_a_takeover() {
        let mut tenure = SlotTenure::default();
        tenure.streamed_as(100);
        assert_eq!(tenure.taken_over_by(None), None, "free slot: restart as usual");
        assert_eq!(tenure.taken_over_by(Some(100)), None, "our own walsender is still exiting");
        assert_eq!(tenure.taken_over_by(Some(200)), Some(200));
        tenure.streamed_as(200);
        assert_eq!(tenure.taken_over_by(Some(200)), None, "the latest walsender counts");
        assert_eq!(tenure.taken_over_by(Some(100)), Some(100));
    }

    #[test]
    fn replaced_is_fatal_and_says_fenced() {
        let e = SourceError::Replaced { slot: "s".into(), pid: 7 };
        assert_eq!(e.class(), ErrorClass::Fatal, "retrying would fence the new owner");
        assert!(e.to_string().contains("fenced"), "{e}");
    }
}
