//! Sinks: where encoded records go, behind one small seam.
//!
//! ```text
//!   delivery::Batcher ──begin──▶ Sink ──send(record)*──▶ … ──commit(offset)──▶ durable
//!        (policy, ledger)          └──────────── abort() drops the open batch ─────┘
//! ```
//!
//! A sink knows nothing of PostgreSQL or of positions: the delivery layer
//! (`crate::delivery::Batcher`, with the offset ledger) decides where batches
//! end and which offset record goes with each; the sink writes records and
//! makes a batch durable together with its offset record, atomically when
//! it can (Kafka transactions).

pub mod kafka;
#[cfg(test)]
pub mod memory;

use std::future::Future;

use crate::error::Classify;
use crate::offsets::SourceOffset;
use crate::record::EncodedRecord;

/// A destination of encoded records, written in batches.
pub trait Sink: Send {
    type Error: std::error::Error + Classify + Send + Sync + 'static;

    /// Opens a batch (a Kafka transaction under exactly-once).
    fn begin(&mut self) -> Result<(), Self::Error>;

    /// Hands one record to the destination inside the open batch; waits
    /// while too much is unacknowledged (the back-pressure on the source).
    /// Borrowed: after a failure the caller may send it again or to the
    /// dead letter queue.
    fn send(&mut self, record: &EncodedRecord) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Makes the open batch durable with `offset` (written with it, visible
    /// with it or not at all where the destination has transactions).
    fn commit(&mut self, offset: Option<SourceOffset>) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Drops the open batch: none of it becomes visible (exactly-once).
    fn abort(&mut self) -> impl Future<Output = ()> + Send;

    /// Whether the open batch is as it was after `send` failed with `err`,
    /// so that the same record may be sent again (`errors.retry.timeout`).
    /// Otherwise the batch must be aborted and the task restarted.
    fn send_retriable(&self, err: &Self::Error) -> bool {
        let _ = err;
        false
    }

    /// Whether offsets are written with the batches (otherwise a batch of
    /// nothing but an offset is never worth committing).
    fn stores_offsets(&self) -> bool;
}
