use std::collections::BTreeMap;

use super::OffsetLedger;
use crate::event::{SnapshotMark, TxCommit};
use crate::lsn::Lsn;
use crate::offsets::SourceOffset;
use crate::progress::{IncrementalProgress, SnapshotCompletion, SnapshotProgress};

fn commit(xid: u32, end: u64) -> TxCommit {
    TxCommit { xid, commit_lsn: Lsn(end - 8), end_lsn: Lsn(end), commit_ts_us: i64::from(xid) * 10 }
}

#[test]
fn durable_starts_at_the_stored_offset_and_only_moves_forward() {
    let stored = SourceOffset::after_commit(Lsn(500), 7, 1);
    let mut l = OffsetLedger::from_stored(Some(&stored));
    assert_eq!(l.durable(), Lsn(500));
    assert_eq!(l.advance(Lsn(400)), None, "never backwards");
    assert_eq!(l.advance(Lsn(600)), Some(Lsn(600)));
    assert_eq!(OffsetLedger::from_stored(None).durable(), Lsn::ZERO);
}

#[test]
fn a_batch_offset_is_its_last_commit_and_becomes_durable_only_when_committed() {
    let mut l = OffsetLedger::default();
    l.record_sent();
    assert!(l.mid_transaction(), "records of an open transaction: no commit yet");
    l.transaction_ended(&commit(1, 100));
    l.record_sent();
    l.transaction_ended(&commit(2, 200));
    assert!(!l.mid_transaction());
    let offset = l.batch_offset().expect("offset");
    assert_eq!((offset.lsn_commit, offset.tx_id), (Some(200), Some(2)));
    assert_eq!(l.durable(), Lsn::ZERO, "not durable before the commit");
    assert_eq!(l.batch_durable(), Some(Lsn(200)));
    assert_eq!(l.durable(), Lsn(200));
}

#[test]
fn an_aborted_batch_moves_nothing() {
    let mut l = OffsetLedger::default();
    l.record_sent();
    l.transaction_ended(&commit(1, 100));
    l.batch_aborted();
    assert_eq!(l.batch_offset(), None);
    assert_eq!(l.batch_durable(), None);
    assert_eq!(l.durable(), Lsn::ZERO);
}

#[test]
fn an_idle_position_past_the_last_commit_is_the_offset_with_the_last_transaction() {
    let mut l = OffsetLedger::default();
    l.record_sent();
    l.transaction_ended(&commit(3, 100));
    l.idle(Lsn(150));
    let offset = l.batch_offset().expect("offset");
    assert_eq!((offset.lsn, offset.lsn_commit, offset.tx_id, offset.message_type), (Some(150), Some(150), Some(3), None));
    assert_eq!(l.batch_durable(), Some(Lsn(150)));
    // an idle batch later still names the last durable transaction
    l.idle(Lsn(300));
    let offset = l.batch_offset().expect("offset");
    assert_eq!((offset.lsn, offset.tx_id), (Some(300), Some(3)));
    // an idle position behind what is durable never moves it back
    l.batch_durable();
    l.idle(Lsn(10));
    assert_eq!(l.batch_offset().and_then(|o| o.lsn), Some(300));
}

#[test]
fn snapshot_marks_carry_progress_and_completion_publishes_the_resume_point() {
    let mut l = OffsetLedger::default();
    let progress = SnapshotProgress { lsn: Lsn(900), tx_id: 5, ts_us: 1, done: BTreeMap::from([("public.a".into(), 900)]), reading: BTreeMap::new() };
    l.snapshot_mark(&SnapshotMark { progress: progress.clone(), completed: None });
    let offset = l.batch_offset().expect("offset");
    assert!(offset.snapshot_in_progress());
    assert_eq!(offset.snapshot_done.as_ref().map(BTreeMap::len), Some(1));
    assert_eq!(l.batch_durable(), None, "a snapshot in progress confirms nothing");
    let done = SnapshotCompletion { resume: Lsn(700), floors: BTreeMap::from([("public.b".into(), 900)]) };
    l.snapshot_mark(&SnapshotMark { progress, completed: Some(done) });
    let offset = l.batch_offset().expect("offset");
    assert_eq!(offset.resume_lsn(), Some(Lsn(700)));
    assert_eq!(offset.floors().get("public.b"), Some(&Lsn(900)));
    assert_eq!(l.batch_durable(), Some(Lsn(700)));
}

#[test]
fn floors_travel_in_every_offset_until_the_stream_passes_them() {
    let stored = SourceOffset {
        table_floors: Some(BTreeMap::from([("public.b".into(), 900), ("public.c".into(), 1200)])),
        ..SourceOffset::after_commit(Lsn(700), 1, 1)
    };
    let mut l = OffsetLedger::from_stored(Some(&stored));
    l.record_sent();
    l.transaction_ended(&commit(2, 800));
    assert_eq!(l.batch_offset().and_then(|o| o.table_floors).map(|f| f.len()), Some(2));
    l.batch_durable();
    l.record_sent();
    l.transaction_ended(&commit(3, 1000));
    let floors = l.batch_offset().and_then(|o| o.table_floors).expect("floors");
    assert_eq!(floors, BTreeMap::from([("public.c".to_owned(), 1200)]), "b's floor is passed");
    l.batch_durable();
    l.record_sent();
    l.transaction_ended(&commit(4, 1300));
    assert_eq!(l.batch_offset().and_then(|o| o.table_floors), None);
}

#[test]
fn incremental_progress_travels_in_every_offset() {
    let progress = IncrementalProgress { queue: vec![["public".into(), "t".into()]], ..IncrementalProgress::default() };
    let stored = SourceOffset { incremental: Some(progress.clone()), ..SourceOffset::after_commit(Lsn(10), 1, 1) };
    let mut l = OffsetLedger::from_stored(Some(&stored));
    l.record_sent();
    l.transaction_ended(&commit(2, 20));
    assert_eq!(l.batch_offset().and_then(|o| o.incremental), Some(progress));
    l.batch_durable();
    l.set_incremental(None);
    l.record_sent();
    l.transaction_ended(&commit(3, 30));
    assert_eq!(l.batch_offset().and_then(|o| o.incremental), None);
}

#[test]
fn a_transaction_without_records_is_no_offset_of_its_own() {
    let mut l = OffsetLedger::default();
    l.transaction_ended(&commit(1, 100));
    assert_eq!(l.batch_offset(), None, "nothing captured: no offset record");
    assert_eq!(l.batch_position(), Some(Lsn(100)));
}
