//! The error policy in the delivery loop, against the in-memory sink: a
//! converter that fails on chosen events, data errors through
//! `errors.tolerance` / the DLQ / `event.processing.failure.handling.mode`,
//! transient errors never skipped.

use tokio::sync::{mpsc, watch};

use super::tests::{payloads, policy, tx};
use super::{run, Batcher, Convert, ErrorHandler};
use crate::config::errors::{ErrorPolicy, FailureMode, Tolerance};
use crate::error::{Classify, ErrorClass};
use crate::event::SourceEvent;
use crate::lsn::Lsn;
use crate::metrics::ConnectorMetrics;
use crate::offsets::ledger::OffsetLedger;
use crate::record::EncodedRecord;
use crate::sink::memory::{Fault, MemorySink};

#[derive(Debug, thiserror::Error)]
#[error("cannot convert {0}")]
struct Poison(String, ErrorClass);

impl Classify for Poison {
    fn class(&self) -> ErrorClass {
        self.1
    }
}

/// One record per message; fails on the messages listed, with `class`.
struct Picky {
    fail_on: Vec<&'static str>,
    class: ErrorClass,
}

impl Convert for Picky {
    type Error = Poison;

    async fn convert(&mut self, event: &SourceEvent, out: &mut Vec<EncodedRecord>) -> Result<(), Poison> {
        if let SourceEvent::Message(m) = event {
            let content = String::from_utf8_lossy(&m.content).into_owned();
            if self.fail_on.contains(&content.as_str()) {
                return Err(Poison(content, self.class));
            }
            out.push(EncodedRecord {
                topic: "t".into(),
                key: Some(content.clone().into_bytes()),
                payload: Some(m.content.clone()),
                headers: Vec::new(),
                timestamp_ms: None,
            });
        }
        Ok(())
    }
}

/// Three transactions of 2 changes: "1:0","1:1" | "2:0","2:1" | "3:0","3:1".
pub(super) fn history() -> Vec<SourceEvent> {
    (1..=3).flat_map(|i| tx(i, u64::from(i) * 100, 2)).collect()
}

fn handler(tolerance: Tolerance, dlq: Option<&str>, mode: FailureMode) -> ErrorHandler {
    let policy = ErrorPolicy {
        tolerance,
        failure_mode: mode,
        dlq_topic: dlq.map(str::to_owned),
        dlq_context_headers: true,
        ..ErrorPolicy::default()
    };
    ErrorHandler::new(policy, &crate::config::connector::RetryPolicy::default(), "orders")
}

pub(super) async fn deliver<C: Convert>(
    sink: MemorySink,
    converter: C,
    errors: &ErrorHandler,
    metrics: &str,
) -> (MemorySink, Result<(), ErrorClass>, std::sync::Arc<ConnectorMetrics>) {
    let (sink, result, metrics) = deliver_traced(sink, converter, errors, metrics).await;
    (sink, result.map_err(|(class, _)| class), metrics)
}

/// [`deliver`], with the failure's trace.
async fn deliver_traced<C: Convert>(
    sink: MemorySink,
    converter: C,
    errors: &ErrorHandler,
    metrics: &str,
) -> (MemorySink, Result<(), (ErrorClass, String)>, std::sync::Arc<ConnectorMetrics>) {
    let (durable_tx, _durable_rx) = watch::channel(Lsn::ZERO);
    // Batches of 3 records: the poison's transaction shares a batch with others.
    let mut batcher = Batcher::new(sink, OffsetLedger::from_stored(None), durable_tx, policy(3), None);
    let (tx, rx) = mpsc::channel(64);
    for e in history() {
        tx.send(e).await.unwrap();
    }
    drop(tx);
    let (_stop, shutdown) = watch::channel(false);
    let metrics = crate::metrics::Registry::global().connector(metrics);
    let result = run(rx, converter, &mut batcher, shutdown, &metrics, errors).await.map_err(|e| (e.class(), crate::error::chain(&e)));
    if result.is_err() {
        batcher.abort().await;
    }
    (batcher.into_sink(), result, metrics)
}

pub(super) fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

fn header<'a>(r: &'a EncodedRecord, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref()).and_then(|v| std::str::from_utf8(v).ok())
}

#[tokio::test(start_paused = true)]
async fn tolerance_none_fails_and_nothing_after_the_poison_is_committed() {
    // GIVEN errors.tolerance=none (the default) and a poison change in transaction 2
    let errors = handler(Tolerance::None, Some("dlq"), FailureMode::Fail);
    let picky = Picky { fail_on: vec!["2:1"], class: ErrorClass::Data };
    let (sink, result, _) = deliver(MemorySink::default(), picky, &errors, "tol-none").await;
    // THEN the connector fails with the data error, only transaction 1 is durable
    assert_eq!(result, Err(ErrorClass::Data));
    assert!(payloads(&sink).iter().all(|p| p.starts_with("1:")), "{:?}", payloads(&sink));
    assert!(sink.records().all(|r| r.topic != "dlq"));
    let last = sink.last_offset().and_then(|o| o.resume_lsn());
    assert!(last.is_none_or(|l| l <= Lsn(100)), "the offset passed the poison: {last:?}");
}

#[tokio::test(start_paused = true)]
async fn tolerance_all_with_a_dlq_writes_the_poison_in_the_same_batch_and_everything_after_flows() {
    // GIVEN errors.tolerance=all with a dead letter queue and a poison change in transaction 2
    let errors = handler(Tolerance::All, Some("dlq"), FailureMode::Fail);
    let picky = Picky { fail_on: vec!["2:1"], class: ErrorClass::Data };
    let (sink, result, metrics) = deliver(MemorySink::default(), picky, &errors, "tol-dlq").await;
    // THEN the run completes, every other change is published
    assert_eq!(result, Ok(()));
    assert_eq!(payloads(&sink).iter().filter(|p| !p.starts_with('{')).count(), 5);
    // AND the DLQ record sits in the batch that holds transaction 2 and the offset passing it
    let batch = sink.committed.iter().find(|b| b.records.iter().any(|r| r.topic == "dlq")).expect("a DLQ record");
    assert!(batch.records.iter().any(|r| r.payload.as_deref() == Some(b"2:0".as_slice())), "same batch as its transaction");
    assert!(batch.offset.as_ref().and_then(|o| o.resume_lsn()).is_some_and(|l| l >= Lsn(200)));
    let dlq = batch.records.iter().find(|r| r.topic == "dlq").unwrap();
    let row: serde_json::Value = serde_json::from_slice(dlq.payload.as_deref().unwrap()).unwrap();
    assert_eq!(row["txId"], 2, "{row}");
    assert_eq!(row["op"], "m");
    assert_eq!(header(dlq, "__connect.errors.connector.name"), Some("orders"));
    assert_eq!(header(dlq, "__connect.errors.stage"), Some("VALUE_CONVERTER"));
    assert_eq!(header(dlq, "__connect.errors.exception.message"), Some("cannot convert 2:1"));
    assert_eq!(header(dlq, "__connect.errors.offset"), Some("184"), "the LSN of the change");
    // AND the counts add up: published + DLQ = changes
    assert_eq!(count(&metrics.records_failed), 1);
    assert_eq!(count(&metrics.records_dlq), 1);
    assert_eq!(count(&metrics.records_skipped), 0);
    assert_eq!(sink.records().count(), 6);
}

#[tokio::test(start_paused = true)]
async fn skip_and_warn_drop_the_poison_and_count_it() {
    for (name, errors) in [
        ("tol-skip", handler(Tolerance::None, None, FailureMode::Skip)),
        ("tol-warn", handler(Tolerance::None, None, FailureMode::Warn)),
        ("tol-all-no-dlq", handler(Tolerance::All, None, FailureMode::Fail)),
    ] {
        let picky = Picky { fail_on: vec!["1:0", "3:1"], class: ErrorClass::Data };
        let (sink, result, metrics) = deliver(MemorySink::default(), picky, &errors, name).await;
        assert_eq!(result, Ok(()), "{name}");
        assert_eq!(payloads(&sink), ["1:1", "2:0", "2:1", "3:0"], "{name}");
        assert_eq!((count(&metrics.records_failed), count(&metrics.records_skipped)), (2, 2), "{name}");
        assert_eq!(sink.last_offset().and_then(|o| o.resume_lsn()), Some(Lsn(300)), "{name}: the offset passes the skipped ones");
    }
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_never_dead_lettered() {
    let errors = handler(Tolerance::All, Some("dlq"), FailureMode::Skip);
    let picky = Picky { fail_on: vec!["2:0"], class: ErrorClass::Transient };
    let (sink, result, metrics) = deliver(MemorySink::default(), picky, &errors, "tol-transient").await;
    assert_eq!(result, Err(ErrorClass::Transient));
    assert!(sink.records().all(|r| r.topic != "dlq"));
    assert!(payloads(&sink).iter().all(|p| p.starts_with("1:")));
    assert_eq!(count(&metrics.records_failed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_record_the_broker_refuses_goes_to_the_dlq_with_its_key() {
    // GIVEN the 4th record ("2:1") is too large for the broker
    let errors = handler(Tolerance::All, Some("dlq"), FailureMode::Fail);
    let picky = Picky { fail_on: vec![], class: ErrorClass::Data };
    let (sink, result, _) = deliver(MemorySink::with_faults([Fault::RefuseSend(4)]), picky, &errors, "tol-refused").await;
    assert_eq!(result, Ok(()));
    let dlq: Vec<&EncodedRecord> = sink.records().filter(|r| r.topic == "dlq").collect();
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].key.as_deref(), Some(b"2:1".as_slice()), "the original key");
    assert_eq!(header(dlq[0], "__connect.errors.topic"), Some("t"));
    assert_eq!(header(dlq[0], "__connect.errors.stage"), Some("KAFKA_PRODUCE"));
    assert_eq!(payloads(&sink).iter().filter(|p| !p.starts_with('{')).count(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_data_error_not_tolerated_fails_with_a_trace_naming_where_the_cause_and_the_setting() {
    for (name, picky, sink) in [
        ("trace-convert", Picky { fail_on: vec!["2:1"], class: ErrorClass::Data }, MemorySink::default()),
        ("trace-refused", Picky { fail_on: vec![], class: ErrorClass::Data }, MemorySink::with_faults([Fault::RefuseSend(4)])),
    ] {
        let errors = handler(Tolerance::None, None, FailureMode::Fail);
        let (_, result, metrics) = deliver_traced(sink, picky, &errors, name).await;
        let (class, trace) = result.expect_err(name);
        assert_eq!(class, ErrorClass::Data, "{name}");
        // The change "2:1" of transaction 2 is at LSN 184 (0/B8).
        for part in ["message:", "at LSN 0/B8", "(txId 2)", "errors.tolerance=all", "errors.deadletterqueue.topic.name"] {
            assert!(trace.contains(part), "{name}: {part} missing from: {trace}");
        }
        let cause = if name == "trace-convert" { "cannot convert 2:1" } else { "record too large for the broker" };
        assert!(trace.contains(cause), "{name}: the cause is in the trace: {trace}");
        assert_eq!(count(&metrics.records_failed), 1, "{name}");
        assert!(count(&metrics.last_error_ms) > 0, "{name}: the last error's time is set");
    }
}
