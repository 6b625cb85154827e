//! The delivery loop: source events → records → the batcher, batch by batch.
//!
//! ```text
//!   mpsc<SourceEvent> ──▶ Begin/Change/Message/Commit ──convert──▶ EncodedRecord* ──▶ batcher.send
//!                         Commit{end_lsn}  ─(after its records)──────────▶ batcher.end_transaction
//!                         Idle{lsn}        ──────────────────────────────▶ batcher.idle
//!                         SnapshotMark     ──────────────────────────────▶ batcher.end_snapshot_chunk
//!                         linger deadline  ──────────────────────────────▶ batcher.flush
//! ```
//!
//! The batcher ([`batcher`]) owns the batching policy and the offset ledger
//! and writes through any [`Sink`]; the rules are unit-tested against the
//! in-memory sink (`tests.rs`).
//!
//! On shutdown the open batch is committed if it ends at a transaction
//! boundary and aborted otherwise; the source resumes after the last durable
//! commit either way. On an error the open batch is left to the caller,
//! which aborts it once the source has let go of the slot (`crate::pipeline`).

use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use crate::error::{Classify, ErrorClass};
use crate::metrics::ConnectorMetrics;
use crate::event::SourceEvent;
use crate::record::EncodedRecord;
use crate::sink::Sink;

pub mod batcher;
pub mod errors;
pub mod retry;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod retry_tests;
#[cfg(test)]
mod tolerance_tests;

pub use batcher::{BatchError, BatchPolicy, Batcher};
pub use errors::ErrorHandler;
use errors::{Refused, Stage};

/// Turns one source event into encoded records (envelope, transforms, encoder).
/// Asynchronous because a converter may have to register a new schema with a
/// schema registry; once known, conversion never waits.
pub trait Convert: Send {
    type Error: std::error::Error + Classify + Send + Sync + 'static;

    fn convert(
        &mut self,
        event: &SourceEvent,
        out: &mut Vec<EncodedRecord>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send;
}

/// What a FAILED trace says after a data error that was not tolerated.
const NOT_TOLERATED: &str = "errors.tolerance=none fails the connector on such a record: fix the cause \
     below and restart the connector, or set errors.tolerance=all to skip such records \
     (to errors.deadletterqueue.topic.name when set)";

/// Errors of the delivery loop.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError<E: std::error::Error + 'static, S: std::error::Error + 'static> {
    #[error("cannot convert a change event")]
    Convert(#[source] E),
    /// A data error of one record, not tolerated: where it is and what to do.
    #[error("cannot convert the change of {at}; {}", NOT_TOLERATED)]
    ConvertRecord {
        at: String,
        #[source]
        source: E,
    },
    #[error("cannot write the record of {at}; {}", NOT_TOLERATED)]
    WriteRecord {
        at: String,
        #[source]
        source: BatchError<S>,
    },
    #[error(transparent)]
    Batch(#[from] BatchError<S>),
}

impl<E: std::error::Error + Classify + 'static, S: std::error::Error + Classify + 'static> Classify for DeliveryError<E, S> {
    fn class(&self) -> ErrorClass {
        match self {
            DeliveryError::Convert(e) | DeliveryError::ConvertRecord { source: e, .. } => e.class(),
            DeliveryError::Batch(e) | DeliveryError::WriteRecord { source: e, .. } => e.class(),
        }
    }
}

/// Run until the source closes the channel or `shutdown` turns true.
pub async fn run<C: Convert, S: Sink>(
    mut events: mpsc::Receiver<SourceEvent>,
    mut converter: C,
    sink: &mut Batcher<S>,
    mut shutdown: watch::Receiver<bool>,
    metrics: &ConnectorMetrics,
    errors: &ErrorHandler,
) -> Result<(), DeliveryError<C::Error, S::Error>> {
    let mut records = Vec::new();
    let mut tally = Tally::default();
    let result = loop {
        let deadline = sink.deadline();
        let event = tokio::select! {
            biased;
            _ = crate::shutdown::stopped(&mut shutdown) => break Ok(()),
            _ = sleep_until(deadline), if deadline.is_some() => {
                if let Err(e) = sink.flush().await {
                    break Err(e.into());
                }
                ConnectorMetrics::raise(&metrics.durable_lsn, sink.durable_lsn().as_u64());
                continue;
            }
            event = events.recv() => event,
        };
        let Some(event) = event else { break Ok(()) };
        tally.count(&event, metrics);
        if let Err(e) = handle(event, &mut converter, sink, &mut records, metrics, errors, &mut shutdown).await {
            break Err(e);
        }
        ConnectorMetrics::raise(&metrics.durable_lsn, sink.durable_lsn().as_u64());
    };
    result?;
    sink.flush().await?;
    sink.abort().await;
    Ok(())
}

/// The source-side counters of the events as they arrive; keeps the counters of the
/// table of the last change, so a run of changes to one table takes no lock.
#[derive(Default)]
struct Tally {
    last_table: Option<(Arc<crate::event::TableSchema>, Arc<crate::metrics::TableCounters>)>,
}

impl Tally {
    fn count(&mut self, event: &SourceEvent, metrics: &ConnectorMetrics) {
        match event {
            SourceEvent::Change(change) => {
                ConnectorMetrics::add(&metrics.source_events, 1);
                let counters = match &self.last_table {
                    Some((table, counters)) if Arc::ptr_eq(table, &change.table) => counters,
                    _ => {
                        let name = format!("{}.{}", change.table.id.schema, change.table.id.table);
                        &self.last_table.insert((Arc::clone(&change.table), metrics.table(&name))).1
                    }
                };
                counters.count(change.op.code());
            }
            SourceEvent::Message(_) => ConnectorMetrics::add(&metrics.source_events, 1),
            SourceEvent::Commit(c) => {
                ConnectorMetrics::add(&metrics.source_transactions, 1);
                ConnectorMetrics::set(&metrics.durable_commit_ts_us, u64::try_from(c.commit_ts_us).unwrap_or(0));
            }
            _ => {}
        }
    }
}

async fn handle<C: Convert, S: Sink>(
    event: SourceEvent,
    converter: &mut C,
    sink: &mut Batcher<S>,
    records: &mut Vec<EncodedRecord>,
    metrics: &ConnectorMetrics,
    errors: &ErrorHandler,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), DeliveryError<C::Error, S::Error>> {
    match &event {
        // A Commit's records (transaction metadata END) belong to its transaction.
        SourceEvent::Begin(_) | SourceEvent::Change(_) | SourceEvent::Message(_) | SourceEvent::Commit(_) => {
            if let Err(e) = convert(&event, converter, records, metrics, errors, shutdown).await {
                // A data error goes through the policy; the event's records
                // so far go with it. Transient and fatal errors never do.
                records.clear();
                if e.class() != ErrorClass::Data {
                    return Err(DeliveryError::Convert(e));
                }
                if !errors.tolerates() {
                    errors.failed(metrics);
                    return Err(DeliveryError::ConvertRecord { at: errors::describe(&event), source: e });
                }
                if let Some(dlq) = errors.tolerate(&event, &e, Stage::Convert, None, metrics) {
                    send(sink, &dlq, metrics, errors, shutdown).await?;
                }
            }
            let converted = std::mem::take(records);
            for record in &converted {
                let bytes = record.key.as_ref().map_or(0, Vec::len) + record.payload.as_ref().map_or(0, Vec::len);
                match send(sink, record, metrics, errors, shutdown).await {
                    Ok(()) => {
                        ConnectorMetrics::add(&metrics.sink_records, 1);
                        ConnectorMetrics::add(&metrics.sink_bytes, bytes as u64);
                    }
                    // A record the broker refuses (too large): the same policy.
                    Err(BatchError::Sink(e)) if e.class() == ErrorClass::Data && errors.tolerates() => {
                        let refused = Refused { topic: record.topic.clone(), key: record.key.clone() };
                        if let Some(dlq) = errors.tolerate(&event, &e, Stage::Produce, Some(refused), metrics) {
                            send(sink, &dlq, metrics, errors, shutdown).await?;
                                }
                    }
                    Err(e) if e.class() == ErrorClass::Data => {
                        errors.failed(metrics);
                        return Err(DeliveryError::WriteRecord { at: errors::describe(&event), source: e });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // The buffer is kept for the next event.
            *records = converted;
            records.clear();
            if let SourceEvent::Commit(commit) = &event {
                sink.end_transaction(commit).await?;
            }
        }
        SourceEvent::Idle { lsn } => sink.idle(*lsn).await?,
        SourceEvent::SnapshotMark(mark) => sink.end_snapshot_chunk(mark).await?,
        SourceEvent::IncrementalProgress(progress) => sink.set_incremental(progress.clone()),
    }
    Ok(())
}

/// Converts `event`, retrying a transient failure in place for
/// `errors.retry.timeout` (see [`retry`]).
async fn convert<C: Convert>(
    event: &SourceEvent,
    converter: &mut C,
    records: &mut Vec<EncodedRecord>,
    metrics: &ConnectorMetrics,
    errors: &ErrorHandler,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), C::Error> {
    let mut attempts = None;
    loop {
        let err = match converter.convert(event, records).await {
            Ok(()) => return Ok(()),
            Err(e) if e.class() == ErrorClass::Transient => e,
            Err(e) => return Err(e),
        };
        records.clear();
        let delay = attempts.get_or_insert_with(|| errors.retry.start()).next_delay();
        let Some(delay) = delay else { return Err(err) };
        ConnectorMetrics::add(&metrics.retries, 1);
        metrics.error_now();
        tracing::warn!(error = %crate::error::chain(&err), delay_ms = delay.as_millis() as u64, "conversion failed; retrying (errors.retry.timeout)");
        if !retry::wait(delay, shutdown).await {
            return Err(err);
        }
    }
}

/// Sends `record`, retrying a transient failure that left the batch as it
/// was for `errors.retry.timeout` (see [`retry`]).
async fn send<S: Sink>(
    sink: &mut Batcher<S>,
    record: &EncodedRecord,
    metrics: &ConnectorMetrics,
    errors: &ErrorHandler,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), BatchError<S::Error>> {
    let mut attempts = None;
    loop {
        let err = match sink.send(record).await {
            Ok(()) => return Ok(()),
            Err(e) if e.class() == ErrorClass::Transient && sink.send_retriable(&e) => e,
            Err(e) => return Err(e),
        };
        let delay = attempts.get_or_insert_with(|| errors.retry.start()).next_delay();
        let Some(delay) = delay else { return Err(err) };
        ConnectorMetrics::add(&metrics.retries, 1);
        metrics.error_now();
        tracing::warn!(error = %crate::error::chain(&err), topic = %record.topic, delay_ms = delay.as_millis() as u64, "send failed; retrying (errors.retry.timeout)");
        if !retry::wait(delay, shutdown).await {
            return Err(err);
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
