//! `errors.retry.timeout` in the delivery loop, against the in-memory sink
//! and a paused clock: a transient failure of a conversion or of a send the
//! batch survived is retried in place with backoff; once the time is up the
//! task fails (to be restarted by `errors.max.retries`), and nothing ever
//! reaches the dead letter queue for it.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::tests::payloads;
use super::tolerance_tests::{count, deliver, history};
use super::{run, Batcher, Convert, ErrorHandler};
use crate::config::connector::RetryPolicy;
use crate::config::errors::{ErrorPolicy, Tolerance};
use crate::error::{Classify, ErrorClass};
use crate::event::SourceEvent;
use crate::lsn::Lsn;
use crate::offsets::ledger::OffsetLedger;
use crate::record::EncodedRecord;
use crate::sink::memory::{Fault, MemorySink};

#[derive(Debug, thiserror::Error)]
#[error("schema registry unavailable")]
struct Unavailable;

impl Classify for Unavailable {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

/// One record per message; the conversion of `poison` fails transiently
/// `failures` times, then works.
struct Flaky {
    poison: &'static str,
    failures: usize,
    calls: usize,
}

impl Flaky {
    fn new(poison: &'static str, failures: usize) -> Self {
        Flaky { poison, failures, calls: 0 }
    }
}

impl Convert for Flaky {
    type Error = Unavailable;

    async fn convert(&mut self, event: &SourceEvent, out: &mut Vec<EncodedRecord>) -> Result<(), Unavailable> {
        if let SourceEvent::Message(m) = event {
            // A partial conversion must not leak into the retry.
            out.push(EncodedRecord { topic: "t".into(), key: None, payload: Some(m.content.clone()), headers: Vec::new(), timestamp_ms: None });
            if m.content == self.poison.as_bytes() {
                self.calls += 1;
                if self.calls <= self.failures {
                    return Err(Unavailable);
                }
            }
        }
        Ok(())
    }
}

/// `errors.retry.timeout` (ms, -1 forever) with 300 ms doubling to 2 s, and
/// `errors.tolerance=all` with a DLQ (which a transient failure must never reach).
fn handler(timeout_ms: i64) -> ErrorHandler {
    let policy = ErrorPolicy {
        tolerance: Tolerance::All,
        dlq_topic: Some("dlq".into()),
        retry_timeout: u64::try_from(timeout_ms).ok().map(Duration::from_millis),
        ..ErrorPolicy::default()
    };
    let delays = RetryPolicy {
        delay_initial: Duration::from_millis(300),
        delay_max: Duration::from_millis(2_000),
        ..RetryPolicy::default()
    };
    ErrorHandler::new(policy, &delays, "retrying")
}

const ALL: [&str; 6] = ["1:0", "1:1", "2:0", "2:1", "3:0", "3:1"];

#[tokio::test(start_paused = true)]
async fn a_transient_conversion_failure_is_retried_in_place_with_backoff() {
    // GIVEN errors.retry.timeout=10 s and a conversion that fails 4 times (registry down)
    let started = Instant::now();
    let (sink, result, metrics) = deliver(MemorySink::default(), Flaky::new("2:1", 4), &handler(10_000), "retry-convert").await;
    // THEN the run goes on without failing: every change once, in order, none in the DLQ
    assert_eq!(result, Ok(()));
    assert_eq!(payloads(&sink), ALL);
    assert_eq!(count(&metrics.retries), 4);
    assert_eq!(count(&metrics.records_failed), 0);
    // AND the waits were 300 + 600 + 1200 + 2000 (capped) ms
    assert_eq!(started.elapsed(), Duration::from_millis(4_100));
}

#[tokio::test(start_paused = true)]
async fn when_the_retry_timeout_is_up_the_task_fails_and_nothing_is_dead_lettered() {
    // GIVEN errors.retry.timeout=7 s and a registry that stays down
    let started = Instant::now();
    let (sink, result, metrics) = deliver(MemorySink::default(), Flaky::new("2:1", usize::MAX), &handler(7_000), "retry-up").await;
    // THEN after 300, 600, 1200, 2000, 2000 and the 900 ms left, the task fails (transient: restarted)
    assert_eq!(result, Err(ErrorClass::Transient));
    assert_eq!(started.elapsed(), Duration::from_millis(7_000));
    assert_eq!(count(&metrics.retries), 6);
    // AND nothing of the failed transaction is durable, nothing is in the DLQ
    assert!(payloads(&sink).iter().all(|p| p.starts_with("1:")), "{:?}", payloads(&sink));
    assert!(sink.records().all(|r| r.topic != "dlq"));
    assert_eq!(count(&metrics.records_dlq), 0);
}

#[tokio::test(start_paused = true)]
async fn zero_fails_at_once_and_minus_one_retries_until_it_works() {
    let started = Instant::now();
    let (_, result, metrics) = deliver(MemorySink::default(), Flaky::new("2:1", 1), &handler(0), "retry-zero").await;
    assert_eq!(result, Err(ErrorClass::Transient), "errors.retry.timeout=0: no retry");
    assert_eq!((count(&metrics.retries), started.elapsed()), (0, Duration::ZERO));

    let (sink, result, metrics) = deliver(MemorySink::default(), Flaky::new("2:1", 40), &handler(-1), "retry-forever").await;
    assert_eq!(result, Ok(()), "errors.retry.timeout=-1: until it works");
    assert_eq!(payloads(&sink), ALL);
    assert_eq!(count(&metrics.retries), 40);
}

#[tokio::test(start_paused = true)]
async fn a_send_the_batch_survived_is_retried_and_the_record_written_once() {
    // GIVEN the 4th, 5th and 6th send attempts fail transiently, leaving the batch as it was
    let sink = MemorySink::with_faults([Fault::FailSend(4), Fault::FailSend(5), Fault::FailSend(6)]);
    let (sink, result, metrics) = deliver(sink, Flaky::new("none", 0), &handler(10_000), "retry-send").await;
    // THEN the 7th attempt writes "2:1" once, in its place
    assert_eq!(result, Ok(()));
    assert_eq!(payloads(&sink), ALL);
    assert_eq!(count(&metrics.retries), 3);
    assert_eq!(sink.aborted, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_commit_is_left_to_the_task_restart() {
    // GIVEN retries forever, WHEN a commit fails (the batch is gone)
    let sink = MemorySink::with_faults([Fault::FailCommit]);
    let (sink, result, metrics) = deliver(sink, Flaky::new("none", 0), &handler(-1), "retry-commit").await;
    // THEN the task fails at once: the restart resumes from the durable position
    assert_eq!(result, Err(ErrorClass::Transient));
    assert_eq!(count(&metrics.retries), 0);
    assert!(sink.committed.is_empty());
}

#[tokio::test(start_paused = true)]
async fn stopping_the_connector_ends_a_retry_that_would_last_forever() {
    let errors = handler(-1);
    let (durable_tx, _durable_rx) = watch::channel(Lsn::ZERO);
    let mut batcher = Batcher::new(MemorySink::default(), OffsetLedger::from_stored(None), durable_tx, super::tests::policy(3), None);
    let (tx, rx) = mpsc::channel(64);
    for e in history() {
        tx.send(e).await.unwrap();
    }
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        stop.send(true).unwrap();
    });
    let metrics = crate::metrics::Registry::global().connector("retry-stop");
    let started = Instant::now();
    let result = run(rx, Flaky::new("2:1", usize::MAX), &mut batcher, shutdown, &metrics, &errors).await;
    assert!(result.is_err(), "the retried conversion is not done");
    assert_eq!(started.elapsed(), Duration::from_secs(30), "the wait ends with the stop");
    drop(tx);
}
