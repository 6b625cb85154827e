//! The delivery loop: source events → records → the sink, batch by batch.
//!
//! ```text
//!   mpsc<SourceEvent> ──▶ Begin/Change/Message/Commit ──convert──▶ EncodedRecord* ──mpsc<SinkOp>──▶ sink.send
//!                         Commit{end_lsn}  ─(after its records)──────────▶ sink.end_transaction
//!                         Idle{lsn}        ──────────────────────────────▶ sink.idle
//!                         SnapshotMark     ──────────────────────────────▶ sink.end_snapshot_chunk
//!                         linger deadline  ──────────────────────────────▶ sink.flush
//! ```
//!
//! On shutdown the open batch is committed if it ends at a transaction
//! boundary and aborted otherwise; the source resumes after the last durable
//! commit either way.

use tokio::sync::{mpsc, watch};

use crate::error::{Classify, ErrorClass};
use crate::metrics::ConnectorMetrics;
use crate::event::{SnapshotMark, SourceEvent, TxCommit};
use crate::lsn::Lsn;
use crate::record::EncodedRecord;
use crate::sink::kafka::{KafkaSink, SinkError};

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

/// Errors of the delivery loop.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError<E: std::error::Error + 'static> {
    #[error("cannot convert a change event")]
    Convert(#[source] E),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl<E: std::error::Error + Classify + 'static> Classify for DeliveryError<E> {
    fn class(&self) -> ErrorClass {
        match self {
            DeliveryError::Convert(e) => e.class(),
            DeliveryError::Sink(e) => e.class(),
        }
    }
}

/// Converted operations waiting for the sink (records of ≈ 3 KB each with
/// JsonConverter's schemas: a few MB at most).
pub const SINK_OPS_IN_FLIGHT: usize = 1024;

/// What the sink is asked to do, in stream order.
enum SinkOp {
    Send(EncodedRecord),
    /// A PostgreSQL transaction ended (after its records).
    EndTransaction(TxCommit),
    Idle(Lsn),
    SnapshotMark(SnapshotMark),
    Incremental(Option<serde_json::Value>),
}

/// Run until the source closes the channel or `shutdown` turns true.
///
/// Conversion and the sink run concurrently (one task, two futures joined,
/// a bounded channel of [`SinkOp`]s between them): while the sink waits for
/// Kafka to acknowledge and commit a batch, the next events are converted.
/// Order is kept, so batches still end only at transaction boundaries.
pub async fn run<C: Convert>(
    events: mpsc::Receiver<SourceEvent>,
    converter: C,
    sink: &mut KafkaSink,
    shutdown: watch::Receiver<bool>,
    metrics: &ConnectorMetrics,
) -> Result<(), DeliveryError<C::Error>> {
    let (ops_tx, ops_rx) = mpsc::channel(SINK_OPS_IN_FLIGHT);
    let (converted, delivered) = tokio::join!(
        convert_all(events, converter, ops_tx, shutdown.clone(), metrics),
        deliver_all(ops_rx, sink, shutdown, metrics),
    );
    match (converted, delivered) {
        (Ok(()), Ok(())) => {
            // The source ended or we were shut down: commit the open batch
            // if it ends at a transaction boundary, abort what is left.
            sink.flush().await?;
            sink.abort().await;
            Ok(())
        }
        (_, Err(e)) => {
            sink.abort().await;
            Err(e.into())
        }
        (Err(e), Ok(())) => {
            sink.abort().await;
            Err(DeliveryError::Convert(e))
        }
    }
}

/// Converts events into sink operations until the source ends, `shutdown`,
/// the sink stops taking them, or a conversion fails.
async fn convert_all<C: Convert>(
    mut events: mpsc::Receiver<SourceEvent>,
    mut converter: C,
    ops: mpsc::Sender<SinkOp>,
    mut shutdown: watch::Receiver<bool>,
    metrics: &ConnectorMetrics,
) -> Result<(), C::Error> {
    let mut records = Vec::new();
    loop {
        let event = tokio::select! {
            biased;
            _ = crate::shutdown::stopped(&mut shutdown) => return Ok(()),
            event = events.recv() => event,
        };
        let Some(event) = event else { return Ok(()) };
        match &event {
            SourceEvent::Change(_) | SourceEvent::Message(_) => ConnectorMetrics::add(&metrics.source_events, 1),
            SourceEvent::Commit(c) => {
                ConnectorMetrics::add(&metrics.source_transactions, 1);
                ConnectorMetrics::set(&metrics.durable_commit_ts_us, u64::try_from(c.commit_ts_us).unwrap_or(0));
            }
            _ => {}
        }
        let mut sent = true;
        match event {
            // A Commit's records (transaction metadata END) belong to its transaction.
            SourceEvent::Begin(_) | SourceEvent::Change(_) | SourceEvent::Message(_) | SourceEvent::Commit(_) => {
                converter.convert(&event, &mut records).await?;
                for record in records.drain(..) {
                    sent &= ops.send(SinkOp::Send(record)).await.is_ok();
                }
                if let SourceEvent::Commit(commit) = event {
                    sent &= ops.send(SinkOp::EndTransaction(commit)).await.is_ok();
                }
            }
            SourceEvent::Idle { lsn } => sent = ops.send(SinkOp::Idle(lsn)).await.is_ok(),
            SourceEvent::SnapshotMark(mark) => sent = ops.send(SinkOp::SnapshotMark(mark)).await.is_ok(),
            SourceEvent::IncrementalProgress(p) => sent = ops.send(SinkOp::Incremental(p)).await.is_ok(),
        }
        if !sent {
            // The sink stopped (it failed, or was shut down): it reports why.
            return Ok(());
        }
    }
}

/// Applies sink operations in order, flushing open batches at their linger
/// deadline, until the converter is done, `shutdown`, or the sink fails.
async fn deliver_all(
    mut ops: mpsc::Receiver<SinkOp>,
    sink: &mut KafkaSink,
    mut shutdown: watch::Receiver<bool>,
    metrics: &ConnectorMetrics,
) -> Result<(), SinkError> {
    loop {
        let deadline = sink.deadline();
        let op = tokio::select! {
            biased;
            _ = crate::shutdown::stopped(&mut shutdown) => return Ok(()),
            _ = sleep_until(deadline), if deadline.is_some() => {
                sink.flush().await?;
                ConnectorMetrics::raise(&metrics.durable_lsn, sink.durable_lsn().as_u64());
                continue;
            }
            op = ops.recv() => op,
        };
        let Some(op) = op else { return Ok(()) };
        match op {
            SinkOp::Send(record) => {
                let bytes = record.key.as_ref().map_or(0, Vec::len) + record.payload.as_ref().map_or(0, Vec::len);
                sink.send(record).await?;
                ConnectorMetrics::add(&metrics.sink_records, 1);
                ConnectorMetrics::add(&metrics.sink_bytes, bytes as u64);
            }
            SinkOp::EndTransaction(commit) => sink.end_transaction(&commit).await?,
            SinkOp::Idle(lsn) => sink.idle(lsn).await?,
            SinkOp::SnapshotMark(mark) => sink.end_snapshot_chunk(&mark).await?,
            SinkOp::Incremental(progress) => sink.set_incremental(progress),
        }
        ConnectorMetrics::raise(&metrics.durable_lsn, sink.durable_lsn().as_u64());
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
