use std::collections::BTreeMap;

use super::WindowTracker;
use crate::event::{ChangeEvent, Op, SnapshotMarker, SourceInfo};
use crate::lsn::Lsn;
use crate::testing::{int_table as table, Rng};
use crate::schema::Value;

fn event(op: Op, lsn: u64, before: Option<(i32, i32)>, after: Option<(i32, i32)>) -> ChangeEvent {
    let row = |(k, v): (i32, i32)| vec![Value::Int32(k), Value::Int32(v)];
    ChangeEvent {
        op,
        table: table(true),
        before: before.map(row),
        after: after.map(row),
        source: SourceInfo {
            commit_ts_us: 0,
            snapshot: SnapshotMarker::False,
            tx_id: Some(1),
            lsn: Some(Lsn(lsn)),
            last_commit_lsn: None,
            xmin: None,
            origin: None,
        },
    }
}

fn ops(events: &[ChangeEvent]) -> Vec<(&'static str, u64)> {
    events.iter().map(|e| (e.op.code(), e.source.lsn.map_or(0, |l| l.as_u64()))).collect()
}

#[test]
fn a_row_deleted_after_the_interrupted_pass_is_sent_with_its_changes() {
    // pass 1 at 100 (interrupted), new pass at 500
    let mut w = WindowTracker::new(&[Lsn(100)], Lsn(500));
    w.observe(Lsn(150), event(Op::Update, 150, None, Some((1, 1))));
    w.observe(Lsn(200), event(Op::Delete, 200, Some((1, 1)), None));
    // key 2 updated only: present at 500, its new r covers it
    w.observe(Lsn(250), event(Op::Update, 250, None, Some((2, 1))));
    // key 3 deleted then inserted again: present at 500
    w.observe(Lsn(260), event(Op::Delete, 260, Some((3, 0)), None));
    w.observe(Lsn(270), event(Op::Create, 270, None, Some((3, 2))));
    // key 4 born and gone inside the window: no pass saw it
    w.observe(Lsn(280), event(Op::Create, 280, None, Some((4, 0))));
    w.observe(Lsn(290), event(Op::Delete, 290, Some((4, 0)), None));
    assert_eq!(ops(&w.finish()), vec![("u", 150), ("d", 200)]);
}

#[test]
fn changes_outside_the_window_are_ignored() {
    let mut w = WindowTracker::new(&[Lsn(100)], Lsn(500));
    // before the first pass: in its snapshot
    w.observe(Lsn(99), event(Op::Delete, 99, Some((1, 0)), None));
    // at or after the new pass: streamed after it
    w.observe(Lsn(500), event(Op::Delete, 500, Some((2, 0)), None));
    // a commit exactly at the first pass point is not in its snapshot
    w.observe(Lsn(100), event(Op::Delete, 100, Some((3, 0)), None));
    assert_eq!(ops(&w.finish()), vec![("d", 100)]);
}

#[test]
fn a_later_interrupted_pass_covers_the_changes_before_it() {
    // passes at 100 and 300 interrupted, new pass at 500
    let mut w = WindowTracker::new(&[Lsn(300), Lsn(100)], Lsn(500));
    // key 1: inserted after pass 1, existed at pass 2, deleted after it
    w.observe(Lsn(150), event(Op::Create, 150, None, Some((1, 0))));
    w.observe(Lsn(200), event(Op::Update, 200, None, Some((1, 1))));
    w.observe(Lsn(350), event(Op::Update, 350, None, Some((1, 2))));
    w.observe(Lsn(400), event(Op::Delete, 400, Some((1, 2)), None));
    assert_eq!(ops(&w.finish()), vec![("u", 350), ("d", 400)]);
}

#[test]
fn a_key_change_is_a_delete_of_the_old_key_and_an_insert_of_the_new() {
    let mut w = WindowTracker::new(&[Lsn(100)], Lsn(500));
    w.observe(Lsn(200), event(Op::Update, 200, Some((1, 0)), Some((9, 0))));
    let out = w.finish();
    assert_eq!(ops(&out), vec![("d", 200)]);
    assert_eq!(out[0].before, Some(vec![Value::Int32(1), Value::Int32(0)]));
    assert_eq!(out[0].after, None);
}

#[test]
fn a_truncate_comes_first_and_resets_what_is_followed() {
    let mut w = WindowTracker::new(&[Lsn(100)], Lsn(500));
    w.observe(Lsn(150), event(Op::Delete, 150, Some((1, 0)), None));
    w.observe(Lsn(200), event(Op::Truncate, 200, None, None));
    w.observe(Lsn(250), event(Op::Create, 250, None, Some((2, 0))));
    w.observe(Lsn(260), event(Op::Delete, 260, Some((2, 0)), None));
    assert_eq!(ops(&w.finish()), vec![("t", 200)]);
}

#[test]
fn nothing_to_follow_without_an_interrupted_pass() {
    let mut w = WindowTracker::new(&[], Lsn(500));
    assert_eq!(w.start(), None);
    w.observe(Lsn(200), event(Op::Delete, 200, Some((1, 0)), None));
    assert!(w.finish().is_empty());
    // a pass at or after the new one is no interrupted pass of it
    assert_eq!(WindowTracker::new(&[Lsn(500)], Lsn(500)).start(), None);
}

#[test]
fn a_table_without_a_key_is_keyed_by_the_whole_row() {
    let mut w = WindowTracker::new(&[Lsn(100)], Lsn(500));
    let keyless = |mut e: ChangeEvent| {
        e.table = table(false);
        e
    };
    // (1, 0) deleted; (1, 5) inserted and kept: different rows
    w.observe(Lsn(150), keyless(event(Op::Delete, 150, Some((1, 0)), None)));
    w.observe(Lsn(160), keyless(event(Op::Create, 160, None, Some((1, 5)))));
    assert_eq!(ops(&w.finish()), vec![("d", 150)]);
}


type Table = BTreeMap<i32, i32>;

/// Applies a change (or a whole-table truncate) to a consumer's or the
/// database's view of the table.
fn apply(state: &mut Table, e: &ChangeEvent) {
    let key = |r: &Option<Vec<Value>>| match r.as_deref() {
        Some([Value::Int32(k), Value::Int32(v)]) => Some((*k, *v)),
        _ => None,
    };
    match e.op {
        Op::Truncate => state.clear(),
        _ => {
            if let Some((k, _)) = key(&e.before) {
                state.remove(&k);
            }
            if let Some((k, v)) = key(&e.after) {
                state.insert(k, v);
            }
        }
    }
}

/// Random histories with interrupted passes that each read a random part
/// of the table: replaying what a consumer receives (the interrupted
/// passes' `r`s, the window's events, the new pass's `r`s, the stream
/// after it) gives the table; with one interrupted pass every key's
/// records after its last `r` are exactly its changes after that `r`.
#[test]
fn replaying_the_topic_gives_the_table_for_random_histories() {
    for seed in 1..=400u64 {
        let mut rng = Rng::seeded(seed);
        let keys = 1 + rng.below(12) as i32;
        let mut db: Table = (1..=keys).filter(|_| rng.below(3) > 0).map(|k| (k, 0)).collect();
        let initial = db.clone();
        // one transaction per change, commit LSNs 10, 20, …
        let n_ops = 10 + rng.below(40);
        let mut history: Vec<(u64, ChangeEvent)> = Vec::new();
        for i in 1..=n_ops {
            let lsn = i * 10;
            let k = 1 + rng.below(keys as u64 + 2) as i32;
            let v = i as i32;
            let e = match (db.get(&k).copied(), rng.below(20)) {
                (_, 0) if seed % 7 == 0 => event(Op::Truncate, lsn, None, None),
                (None, _) => event(Op::Create, lsn, None, Some((k, v))),
                (Some(old), 1..=3) => {
                    let to = keys + 10 + i as i32;
                    event(Op::Update, lsn, Some((k, old)), Some((to, v)))
                }
                (Some(old), 4..=10) => event(Op::Delete, lsn, Some((k, old)), None),
                (Some(_), _) => event(Op::Update, lsn, None, Some((k, v))),
            };
            apply(&mut db, &e);
            history.push((lsn, e));
        }
        // pass points fall between commits (x5): sorted, the last is the new pass
        let n_passes = 2 + rng.below(3) as usize;
        let mut points: Vec<u64> = (0..n_passes).map(|_| rng.below(n_ops + 1) * 10 + 5).collect();
        points.sort_unstable();
        points.dedup();
        if points.len() < 2 {
            continue;
        }
        let end = *points.last().unwrap_or(&0);
        let interrupted = &points[..points.len() - 1];
        let state_at = |p: u64| {
            let mut s = initial.clone();
            history.iter().filter(|(c, _)| *c < p).for_each(|(_, e)| apply(&mut s, e));
            s
        };

        // what the consumer receives, per key, in order (the key, op, version, and the LSN of the r's point)
        let mut topic: Vec<ChangeEvent> = Vec::new();
        let read = |k: i32, v: i32, p: u64| event(Op::Read, p, None, Some((k, v)));
        for &p in interrupted {
            for (k, v) in state_at(p) {
                if rng.below(2) == 0 {
                    topic.push(read(k, v, p));
                }
            }
        }
        let mut w = WindowTracker::new(&interrupted.iter().map(|p| Lsn(*p)).collect::<Vec<_>>(), Lsn(end));
        for (c, e) in &history {
            w.observe(Lsn(*c), e.clone());
        }
        topic.extend(w.finish());
        topic.extend(state_at(end).into_iter().map(|(k, v)| read(k, v, end)));
        topic.extend(history.iter().filter(|(c, _)| *c >= end).map(|(_, e)| e.clone()));

        let mut replayed = Table::new();
        topic.iter().for_each(|e| apply(&mut replayed, e));
        assert_eq!(replayed, db, "seed {seed}: passes {interrupted:?}, end {end}");

        let truncated = history.iter().any(|(_, e)| e.op == Op::Truncate);
        if interrupted.len() == 1 && !truncated {
            // each key: after its last r, exactly its changes after that r's point
            let touches = |e: &ChangeEvent, k: i32| {
                [&e.before, &e.after]
                    .into_iter()
                    .any(|r| matches!(r.as_deref(), Some([Value::Int32(x), _]) if *x == k))
            };
            for k in 1..=(keys + 20 + n_ops as i32) {
                let seen: Vec<&ChangeEvent> = topic.iter().filter(|e| touches(e, k)).collect();
                let Some(last_r) = seen.iter().rposition(|e| e.op == Op::Read) else { continue };
                let at = seen[last_r].source.lsn.map_or(0, |l| l.as_u64());
                let after: Vec<u64> = seen[last_r + 1..].iter().map(|e| e.source.lsn.map_or(0, |l| l.as_u64())).collect();
                let want: Vec<u64> =
                    history.iter().filter(|(c, e)| *c >= at && touches(e, k)).map(|(c, _)| *c).collect();
                assert_eq!(after, want, "seed {seed}: key {k} after its r at {at}");
            }
        }
    }
}
