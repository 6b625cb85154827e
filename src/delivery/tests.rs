//! The delivery rules against the in-memory sink: no broker, milliseconds.
//! Each rule of the README's "Delivery and resume" section has a test here;
//! the last one replays random histories through random faults and
//! restarts and requires exactly-once.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{run, BatchPolicy, Batcher, Convert};
use crate::error::{Classify, ErrorClass};
use crate::event::{LogicalMessage, SnapshotMark, SnapshotMarker, SourceEvent, SourceInfo, TxBegin, TxCommit};
use crate::lsn::Lsn;
use crate::testing::Rng;
use crate::offsets::ledger::OffsetLedger;
use crate::offsets::SourceOffset;
use crate::progress::{IncrementalProgress, SnapshotCompletion, SnapshotProgress};
use crate::record::EncodedRecord;
use crate::sink::memory::{Fault, MemorySink};

/// Turns each (transactional) message into one record whose payload is its content.
struct Records;

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Classify for Never {
    fn class(&self) -> ErrorClass {
        ErrorClass::Fatal
    }
}

impl Convert for Records {
    type Error = Never;

    async fn convert(&mut self, event: &SourceEvent, out: &mut Vec<EncodedRecord>) -> Result<(), Never> {
        if let SourceEvent::Message(m) = event {
            out.push(EncodedRecord {
                topic: "t".into(),
                key: None,
                payload: Some(m.content.clone()),
                headers: Vec::new(),
                timestamp_ms: None,
            });
        }
        Ok(())
    }
}

/// A PostgreSQL transaction `xid` of `n` changes ending at `end`.
pub(super) fn tx(xid: u32, end: u64, n: usize) -> Vec<SourceEvent> {
    let mut events = vec![SourceEvent::Begin(TxBegin { xid, final_lsn: Lsn(end - 8), commit_ts_us: i64::from(xid) })];
    for i in 0..n {
        events.push(SourceEvent::Message(LogicalMessage {
            transactional: true,
            prefix: "p".into(),
            content: format!("{xid}:{i}").into_bytes(),
            source: SourceInfo {
                commit_ts_us: 0,
                snapshot: SnapshotMarker::False,
                tx_id: Some(i64::from(xid)),
                lsn: Some(Lsn(end - 16)),
                last_commit_lsn: None,
                xmin: None,
                origin: None,
            },
        }));
    }
    events.push(SourceEvent::Commit(TxCommit { xid, commit_lsn: Lsn(end - 8), end_lsn: Lsn(end), commit_ts_us: i64::from(xid) }));
    events
}

pub(super) fn policy(max_records: usize) -> BatchPolicy {
    BatchPolicy { max_records, max_bytes: 1 << 30, linger: Duration::from_millis(20) }
}

/// Runs `events` through a batcher over `sink` resuming from `stored`;
/// returns the sink, the run's result and the durable position published.
async fn deliver(
    sink: MemorySink,
    stored: Option<&SourceOffset>,
    policy: BatchPolicy,
    events: Vec<SourceEvent>,
) -> (MemorySink, Result<(), ErrorClass>, Lsn) {
    let (durable_tx, durable_rx) = watch::channel(Lsn::ZERO);
    let mut batcher = Batcher::new(sink, OffsetLedger::from_stored(stored), durable_tx, policy, None);
    let (tx, rx) = mpsc::channel(16);
    let feed = tokio::spawn(async move {
        for e in events {
            if tx.send(e).await.is_err() {
                break;
            }
        }
    });
    let (_stop, shutdown) = watch::channel(false);
    let metrics = crate::metrics::Registry::global().connector("delivery-tests");
    let result = run(rx, Records, &mut batcher, shutdown, &metrics, &super::ErrorHandler::default()).await.map_err(|e| e.class());
    if result.is_err() {
        // as the pipeline does once the source has let go of the slot
        batcher.abort().await;
    }
    feed.abort();
    let durable = *durable_rx.borrow();
    (batcher.into_sink(), result, durable)
}

pub(super) fn payloads(sink: &MemorySink) -> Vec<String> {
    sink.records().map(|r| String::from_utf8_lossy(r.payload.as_deref().unwrap_or_default()).into_owned()).collect()
}

#[tokio::test(start_paused = true)]
async fn batches_hold_whole_transactions_and_end_with_their_offset() {
    // GIVEN transactions of 2 changes and one of 7, batches of at most 3 records
    let mut events = Vec::new();
    for i in 1..=4 {
        events.extend(tx(i, u64::from(i) * 100, 2));
    }
    events.extend(tx(5, 500, 7));
    let (sink, result, durable) = deliver(MemorySink::default(), None, policy(3), events).await;
    assert_eq!(result, Ok(()));
    // THEN no transaction is split across batches, even one larger than a batch
    for batch in &sink.committed {
        let xids: Vec<&str> = batch.records.iter().map(|r| std::str::from_utf8(r.payload.as_deref().unwrap()).unwrap().split(':').next().unwrap()).collect();
        let mut whole: BTreeMap<&str, usize> = BTreeMap::new();
        xids.iter().for_each(|x| *whole.entry(x).or_default() += 1);
        for (xid, n) in whole {
            let size = if xid == "5" { 7 } else { 2 };
            assert_eq!(n, size, "transaction {xid} split: {xids:?}");
        }
        // and each batch's offset is its last transaction's end
        let last: u64 = xids.last().unwrap().parse().unwrap();
        assert_eq!(batch.offset.as_ref().and_then(|o| o.lsn_commit), Some(last * 100));
    }
    assert_eq!(payloads(&sink).len(), 15);
    assert_eq!(durable, Lsn(500));
}

#[tokio::test(start_paused = true)]
async fn nothing_is_durable_before_its_commit() {
    // GIVEN a commit that never returns
    let sink = MemorySink::with_faults([Fault::HangCommit]);
    let (durable_tx, durable_rx) = watch::channel(Lsn::ZERO);
    let stored = SourceOffset::after_commit(Lsn(50), 1, 1);
    let mut batcher = Batcher::new(sink, OffsetLedger::from_stored(Some(&stored)), durable_tx, policy(10), None);
    assert_eq!(*durable_rx.borrow(), Lsn(50), "the stored offset is durable from the start");
    let (events_tx, rx) = mpsc::channel(16);
    for e in tx(2, 100, 3) {
        events_tx.send(e).await.unwrap();
    }
    let (_stop, shutdown) = watch::channel(false);
    let metrics = crate::metrics::Registry::global().connector("delivery-tests");
    // WHEN the batch's commit hangs
    let hung = tokio::time::timeout(Duration::from_secs(30), run(rx, Records, &mut batcher, shutdown, &metrics, &super::ErrorHandler::default())).await;
    // THEN the position stays where it was
    assert!(hung.is_err(), "the commit hangs");
    assert_eq!(*durable_rx.borrow(), Lsn(50));
    assert!(batcher.sink().committed.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_send_aborts_the_batch_and_moves_nothing() {
    let mut events = tx(1, 100, 2);
    events.extend(tx(2, 200, 2));
    events.extend(tx(3, 300, 2));
    // the 5th record fails: transaction 3's first
    let sink = MemorySink::with_faults([Fault::FailSend(5)]);
    let (sink, result, durable) = deliver(sink, None, policy(2), events).await;
    assert_eq!(result, Err(ErrorClass::Transient));
    assert_eq!(payloads(&sink), ["1:0", "1:1", "2:0", "2:1"]);
    assert_eq!(sink.aborted, 1);
    assert_eq!(durable, Lsn(200));
    assert_eq!(sink.last_offset().and_then(|o| o.lsn_commit), Some(200));
}

#[tokio::test(start_paused = true)]
async fn a_fenced_sink_fails_fatally_and_commits_nothing_more() {
    let mut events = tx(1, 100, 1);
    events.extend(tx(2, 200, 1));
    let sink = MemorySink::with_faults([Fault::Fence]);
    let (sink, result, durable) = deliver(sink, None, policy(1), events).await;
    assert_eq!(result, Err(ErrorClass::Fatal));
    assert!(sink.committed.is_empty());
    assert_eq!(durable, Lsn::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_failed_commit_is_retried_from_the_last_durable_offset() {
    let mut events = tx(1, 100, 1);
    events.extend(tx(2, 200, 1));
    let (sink, result, durable) = deliver(MemorySink::with_faults([Fault::FailCommit]), None, policy(1), events.clone()).await;
    assert_eq!(result, Err(ErrorClass::Transient));
    assert!(sink.committed.is_empty(), "the first batch failed");
    assert_eq!(durable, Lsn::ZERO);
    // a restart from the (absent) stored offset delivers everything once
    let (sink, result, durable) = deliver(sink, None, policy(1), events).await;
    assert_eq!(result, Ok(()));
    assert_eq!(payloads(&sink), ["1:0", "2:0"]);
    assert_eq!(durable, Lsn(200));
}

#[tokio::test(start_paused = true)]
async fn a_batch_cut_inside_a_transaction_is_aborted_and_replayed_whole() {
    // GIVEN a batch holding transaction 1 and part of transaction 2 when the source stops
    let slow = BatchPolicy { linger: Duration::from_secs(3600), ..policy(10) };
    let mut events = tx(1, 100, 2);
    let mut cut = tx(2, 200, 3);
    cut.truncate(3); // Begin + 2 of 3 changes, no Commit
    events.extend(cut);
    let (sink, result, durable) = deliver(MemorySink::default(), None, slow.clone(), events).await;
    // THEN none of it is committed: a batch never ends inside a transaction
    assert_eq!(result, Ok(()));
    assert!(sink.committed.is_empty());
    assert_eq!(sink.aborted, 1);
    assert_eq!(durable, Lsn::ZERO);
    // and the restart delivers both whole, once
    let mut again = tx(1, 100, 2);
    again.extend(tx(2, 200, 3));
    let (sink, _, durable) = deliver(sink, None, slow, again).await;
    assert_eq!(payloads(&sink), ["1:0", "1:1", "2:0", "2:1", "2:2"]);
    assert_eq!(durable, Lsn(200));
}

#[tokio::test(start_paused = true)]
async fn idle_positions_advance_the_slot_without_records() {
    // an idle position with no batch open is durable at once, with no record
    let (sink, _, durable) = deliver(MemorySink::default(), None, policy(10), vec![SourceEvent::Idle { lsn: Lsn(70) }]).await;
    assert!(sink.committed.is_empty());
    assert_eq!(durable, Lsn(70));
    // a transaction without captured changes moves it too
    let (sink, _, durable) = deliver(MemorySink::default(), None, policy(10), tx(1, 90, 0)).await;
    assert!(sink.committed.is_empty());
    assert_eq!(durable, Lsn(90));
    // an idle position while a batch is open commits with it as its offset
    let mut events = tx(1, 100, 1);
    events.push(SourceEvent::Idle { lsn: Lsn(180) });
    let (sink, _, durable) = deliver(MemorySink::default(), None, policy(10), events).await;
    assert_eq!(sink.committed.len(), 1);
    let offset = sink.last_offset().expect("offset");
    assert_eq!((offset.lsn, offset.tx_id), (Some(180), Some(1)));
    assert_eq!(durable, Lsn(180));
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_commits_its_progress_and_hands_over_at_its_resume_point() {
    let progress = SnapshotProgress { lsn: Lsn(900), tx_id: 9, ts_us: 1, done: BTreeMap::new(), reading: BTreeMap::new() };
    let mut done = progress.clone();
    done.done.insert("\"public\".\"a\"".into(), 900);
    let events = vec![
        SourceEvent::SnapshotMark(SnapshotMark { progress: progress.clone(), completed: None }),
        SourceEvent::SnapshotMark(SnapshotMark {
            progress: done,
            completed: Some(SnapshotCompletion { resume: Lsn(850), floors: BTreeMap::from([("\"public\".\"b\"".into(), 900)]) }),
        }),
    ];
    let (sink, result, durable) = deliver(MemorySink::default(), None, policy(10), events).await;
    assert_eq!(result, Ok(()));
    let offset = sink.last_offset().expect("offset");
    assert_eq!(offset.resume_lsn(), Some(Lsn(850)));
    assert!(offset.snapshot_completed == Some(true) && offset.snapshot_done.is_none());
    assert_eq!(durable, Lsn(850), "streaming resumes at the snapshot's resume point");
    // without an offsets topic the completion is durable at once
    let mut plain = MemorySink::default();
    plain.no_offsets = true;
    let events = vec![SourceEvent::SnapshotMark(SnapshotMark {
        progress,
        completed: Some(SnapshotCompletion { resume: Lsn(850), floors: BTreeMap::new() }),
    })];
    let (plain, _, durable) = deliver(plain, None, policy(10), events).await;
    assert!(plain.committed.is_empty());
    assert_eq!(durable, Lsn(850));
}

#[tokio::test(start_paused = true)]
async fn incremental_progress_rides_with_the_next_commit() {
    let progress = IncrementalProgress { queue: vec![["public".into(), "t".into()]], ..IncrementalProgress::default() };
    let mut events = vec![SourceEvent::IncrementalProgress(Some(progress.clone()))];
    events.extend(tx(1, 100, 1));
    let (sink, _, _) = deliver(MemorySink::default(), None, policy(10), events).await;
    assert_eq!(sink.last_offset().and_then(|o| o.incremental.clone()), Some(progress));
}


/// Random transactions (some without captured changes, some idle
/// positions between them) through random transient faults; after each
/// failure the connector restarts from the last committed offset and the
/// source replays what ended after it, as the decoder's skip does. The
/// committed records are every change exactly once, in order, and the
/// durable position never passes what is committed.
#[tokio::test(start_paused = true)]
async fn exactly_once_through_random_faults_and_restarts() {
    for seed in 1..=150u64 {
        let mut rng = Rng::seeded(seed);
        let mut history: Vec<(u64, Vec<SourceEvent>)> = Vec::new();
        let mut expected = Vec::new();
        let mut lsn = 100;
        for xid in 1..=(5 + rng.below(25) as u32) {
            lsn += 10 + rng.below(50);
            let n = rng.below(5) as usize;
            expected.extend((0..n).map(|i| format!("{xid}:{i}")));
            let mut events = tx(xid, lsn, n);
            if rng.below(4) == 0 {
                events.push(SourceEvent::Idle { lsn: Lsn(lsn + 5) });
            }
            history.push((lsn, events));
        }
        let mut sink = MemorySink::default();
        let max_records = 1 + rng.below(6) as usize;
        let mut restarts = 0;
        loop {
            let stored = sink.last_offset().cloned();
            let resume = stored.as_ref().and_then(SourceOffset::resume_lsn).unwrap_or(Lsn::ZERO);
            let events: Vec<SourceEvent> =
                history.iter().filter(|(end, _)| Lsn(*end) > resume).flat_map(|(_, e)| e.iter().cloned()).collect();
            if restarts < 5 && rng.below(3) > 0 {
                let at = sink.sends + 1 + rng.below(8) as usize;
                sink.faults.push_back(if rng.below(2) == 0 { Fault::FailSend(at) } else { Fault::FailCommit });
            }
            let (back, result, durable) = deliver(sink, stored.as_ref(), policy(max_records), events).await;
            sink = back;
            // the durable position never passes a change that is not committed
            let done: std::collections::HashSet<String> = payloads(&sink).into_iter().collect();
            let mut safe = Lsn::ZERO;
            for (end, events) in &history {
                let whole = events.iter().all(|e| match e {
                    SourceEvent::Message(m) => done.contains(&String::from_utf8_lossy(&m.content).into_owned()),
                    _ => true,
                });
                if !whole {
                    break;
                }
                safe = Lsn(*end);
                if let Some(SourceEvent::Idle { lsn }) = events.last() {
                    safe = *lsn;
                }
            }
            assert!(durable <= safe, "seed {seed}: durable {durable} ahead of what is committed ({safe})");
            match result {
                Ok(()) if sink.faults.is_empty() => break,
                Ok(()) => sink.faults.clear(),
                Err(class) => assert_eq!(class, ErrorClass::Transient, "seed {seed}"),
            }
            restarts += 1;
            assert!(restarts < 20, "seed {seed}: no progress");
        }
        assert_eq!(payloads(&sink), expected, "seed {seed}: every change exactly once, in order");
    }
}
