//! The initial snapshot end to end: the hand-over to streaming under a
//! concurrent writer (no gap, no duplicate), parallel block-range chunks,
//! resuming after kill -9 with the tables not yet done, and the modes.
//! Every check reads Kafka through the read_committed verifier.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::txlog::read_topic;
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(90);

/// (op, version) of one record or committed change of a key.
type Change = (String, i64);

/// Each key's records in log order: `r`/`c`/`u` carry `after.version`,
/// `d` its `before.version` (REPLICA IDENTITY FULL); tombstones are left out.
async fn observed(bootstrap: &str, topic: &str) -> BTreeMap<i64, Vec<Change>> {
    let mut by_key: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    for record in read_topic(bootstrap, topic).await {
        let Some(value) = record.value.as_deref() else { continue };
        let v: Value = serde_json::from_slice(value).expect("value is JSON");
        let op = v["op"].as_str().expect("op").to_owned();
        let row = if op == "d" { &v["before"] } else { &v["after"] };
        let id = row["id"].as_i64().expect("id");
        by_key.entry(id).or_default().push((op, row["version"].as_i64().expect("version")));
    }
    by_key
}

/// Records until `topic` holds at least `n` records with a value, or the timeout.
async fn wait_records(bootstrap: &str, topic: &str, n: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let count = read_topic(bootstrap, topic).await.iter().filter(|r| r.value.is_some()).count();
        if count >= n || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Commits single-row transactions on `t` until `stop`: updates and deletes
/// of existing keys and inserts of new ones, each with a new version.
/// Returns every committed change per key, in commit order.
fn spawn_writer(db: &TestDatabase, first_new_key: i64, keys: i64, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<BTreeMap<i64, Vec<Change>>> {
    let conn = db.conn_str();
    tokio::spawn(async move {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.expect("writer connects");
        tokio::spawn(connection);
        let committed: Arc<Mutex<BTreeMap<i64, Vec<Change>>>> = Arc::default();
        let mut version = 1_000_000i64;
        let mut next_key = first_new_key;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            version += 1;
            let id = ((n * 7919) % keys as u64) as i64 + 1;
            let (op, key) = match n % 5 {
                0 => {
                    next_key += 1;
                    client.execute("INSERT INTO t VALUES ($1, $2, 'new')", &[&next_key, &version]).await.expect("insert");
                    ("c", next_key)
                }
                1 => {
                    let deleted = client.query_opt("DELETE FROM t WHERE id = $1 RETURNING version", &[&id]).await.expect("delete");
                    if let Some(row) = deleted {
                        committed.lock().unwrap().entry(id).or_default().push(("d".into(), row.get(0)));
                    }
                    continue;
                }
                _ => {
                    let updated = client.execute("UPDATE t SET version = $2 WHERE id = $1", &[&id, &version]).await.expect("update");
                    if updated == 0 {
                        continue;
                    }
                    ("u", id)
                }
            };
            committed.lock().unwrap().entry(key).or_default().push((op.into(), version));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let out = committed.lock().unwrap().clone();
        out
    })
}

/// Checks one key: its records are the snapshot's row (if it existed then)
/// followed by exactly the changes committed after it, in order.
fn check_key(id: i64, initial: Option<i64>, committed: &[Change], seen: &[Change]) -> Result<(), String> {
    let mut history: Vec<Change> = initial.map(|v| vec![("init".to_owned(), v)]).unwrap_or_default();
    history.extend(committed.iter().cloned());
    let rest = match seen.first() {
        Some((op, v)) if op == "r" => {
            // The snapshot saw the row at version v: the state after some committed change.
            let at = history
                .iter()
                .position(|(o, hv)| o != "d" && hv == v)
                .ok_or_else(|| format!("key {id}: snapshot row at version {v} never committed: {history:?}"))?;
            &history[at + 1..]
        }
        _ => {
            // Not in the snapshot: every change from some point on (the key
            // was absent at the snapshot, so that point follows a delete or
            // is its first insert).
            let start = history.len() - seen.len().min(history.len());
            &history[start..]
        }
    };
    let tail: &[Change] = if seen.first().is_some_and(|(op, _)| op == "r") { &seen[1..] } else { seen };
    if tail != rest {
        return Err(format!("key {id}: after the snapshot got {tail:?}, committed {rest:?} (history {history:?})"));
    }
    Ok(())
}

/// Registers connector `name` on `db` (a slot of its own; JSON without
/// schemas, so values are plain rows) with `extra` properties; returns its
/// topic prefix and slot.
async fn register(worker: &Worker, db: &TestDatabase, name: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (prefix, slot) = (unique_name(name), unique_name("slot"));
    let mut props = vec![("key.converter.schemas.enable", "false"), ("value.converter.schemas.enable", "false")];
    props.extend_from_slice(extra);
    let (code, body) = worker.register(name, connector_config(db, &prefix, &slot, &props)).await;
    assert_eq!(code, 201, "{body}");
    (prefix, slot)
}

/// The text without terminal colour codes.
fn plain(log: &str) -> String {
    regex::Regex::new("\x1b\\[[0-9;]*m").map(|r| r.replace_all(log, "").into_owned()).unwrap_or_default()
}

async fn create_table(db: &TestDatabase, rows: i64, pad: usize) {
    db.execute(&format!(
        "CREATE TABLE t (id bigint PRIMARY KEY, version bigint NOT NULL, pad text);
         ALTER TABLE t REPLICA IDENTITY FULL;
         INSERT INTO t SELECT g, 0, repeat('x', {pad}) FROM generate_series(1, {rows}) g;"
    ))
    .await;
}

async fn hand_over(threads: &str, chunk_blocks: &str) {
    // GIVEN a table with rows and a writer changing it while the connector starts
    const ROWS: i64 = 4000;
    let db = PgServer::shared().create_database("snap_handover").await;
    create_table(&db, ROWS, 200).await;
    // A broker of its own: the volume stays off the shared one.
    let broker = &Broker::dedicated();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&db, ROWS, ROWS, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // WHEN the connector takes its initial snapshot (in parallel chunks) and streams on
    let worker = Worker::start(broker).await;
    let (prefix, _) = register(
        &worker,
        &db,
        "snap",
        &[
            ("snapshot.max.threads", threads),
            ("pgcdc.snapshot.chunk.blocks", chunk_blocks),
            ("tombstones.on.delete", "false"),
        ],
    )
    .await;
    worker.wait_task_state("snap", "RUNNING", TIMEOUT).await;
    let topic = format!("{prefix}.public.t");
    let snapshot_rows = wait_records(&broker.bootstrap, &topic, ROWS as usize / 2, TIMEOUT).await;
    assert!(snapshot_rows > 0, "no snapshot records:\n{}", worker.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let committed = writer.await.expect("writer");
    let changes: usize = committed.values().map(Vec::len).sum();

    // THEN each key holds its snapshot row and exactly the changes after it
    let client = db.client().await;
    let final_rows = client.query("SELECT id, version FROM t", &[]).await.expect("final state");
    let deadline = Instant::now() + TIMEOUT;
    let errors = loop {
        let seen = observed(&broker.bootstrap, &topic).await;
        let mut errors = Vec::new();
        let all_keys: std::collections::BTreeSet<i64> = seen.keys().chain(committed.keys()).copied().chain(1..=ROWS).collect();
        for id in all_keys {
            let initial = (id <= ROWS).then_some(0);
            let empty = Vec::new();
            let c = committed.get(&id).unwrap_or(&empty);
            let s = seen.get(&id).unwrap_or(&empty);
            if let Err(e) = check_key(id, initial, c, s) {
                errors.push(e);
            }
        }
        // Every row still in the table has records.
        for row in &final_rows {
            let id: i64 = row.get(0);
            if !seen.contains_key(&id) {
                errors.push(format!("key {id}: in the table, never in Kafka"));
            }
        }
        if errors.is_empty() || Instant::now() > deadline {
            break errors;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("snapshot hand-over: {ROWS} rows, {changes} concurrent changes, threads {threads}");
    assert!(changes > 20, "the writer must have run during the snapshot ({changes} changes)");
    assert!(errors.is_empty(), "{} keys wrong, e.g.:\n{}", errors.len(), errors.iter().take(10).cloned().collect::<Vec<_>>().join("\n"));
    let log = worker.log();
    assert!(log.contains("snapshot completed"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_hands_over_to_streaming_without_gap_or_duplicate() {
    hand_over("1", "1024").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_chunked_snapshot_hands_over_without_gap_or_duplicate() {
    // ~4000 rows of ~240 B: about 130 blocks, read in chunks of 8 by 3 connections.
    hand_over("3", "8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_resumes_after_kill9_with_the_tables_not_done() {
    // GIVEN three tables, the middle one large
    let db = PgServer::shared().create_database("snap_resume").await;
    db.execute(
        "CREATE TABLE a (id bigint PRIMARY KEY, version bigint NOT NULL);
         CREATE TABLE b (id bigint PRIMARY KEY, version bigint NOT NULL);
         CREATE TABLE c (id bigint PRIMARY KEY, version bigint NOT NULL);
         INSERT INTO a SELECT g, 0 FROM generate_series(1, 2000) g;
         INSERT INTO b SELECT g, 0 FROM generate_series(1, 200000) g;
         INSERT INTO c SELECT g, 0 FROM generate_series(1, 2000) g;",
    )
    .await;
    // A broker of its own: ~100 MB of records stay off the shared one.
    let broker = &Broker::dedicated();
    let mut worker = Worker::start(broker).await;
    let (prefix, _) = register(&worker, &db, "snapres", &[]).await;
    let topic = |t: &str| format!("{prefix}.public.{t}");

    // WHEN the worker is killed while it reads b
    let got = broker.consume(&topic("b"), 1, TIMEOUT).await;
    assert!(!got.is_empty(), "b never started:\n{}", worker.log());
    worker.kill9();
    let before_c = read_topic(&broker.bootstrap, &topic("c")).await.len();
    assert_eq!(before_c, 0, "the snapshot finished before the kill: nothing to resume; make b larger");
    // and rows change while it is down
    db.execute("UPDATE a SET version = 1 WHERE id <= 10; INSERT INTO c VALUES (2001, 1); UPDATE b SET version = 1 WHERE id = 200000;").await;
    worker.start_again().await;

    // THEN the snapshot resumes with b and c only, and streaming follows
    assert_eq!(wait_records(&broker.bootstrap, &topic("c"), 2001, TIMEOUT).await, 2001, "{}", worker.log());
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let a = observed(&broker.bootstrap, &topic("a")).await;
        let updates = a.values().flatten().filter(|(op, _)| op == "u").count();
        if updates == 10 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let a = observed(&broker.bootstrap, &topic("a")).await;
    let reads = a.values().flatten().filter(|(op, _)| op == "r").count();
    assert_eq!(reads, 2000, "a was done before the kill: read once");
    for id in 1..=2000 {
        let want: Vec<Change> = if id <= 10 {
            // Changed while the worker was down: b and c were snapshotted
            // later, a earlier — its update streams.
            vec![("r".into(), 0), ("u".into(), 1)]
        } else {
            vec![("r".into(), 0)]
        };
        assert_eq!(a.get(&id), Some(&want), "a key {id}");
    }
    let b = observed(&broker.bootstrap, &topic("b")).await;
    assert_eq!(b.len(), 200000, "every row of b");
    // b's last row changed while down: its latest snapshot row has it, no
    // stream event repeats it.
    assert_eq!(b[&200000].last(), Some(&("r".to_owned(), 1)), "{:?}", b[&200000]);
    assert!(b.values().flatten().all(|(op, _)| op == "r"), "b: only snapshot rows");
    let c = observed(&broker.bootstrap, &topic("c")).await;
    assert_eq!(c.len(), 2001);
    assert!(c.values().all(|v| v.len() == 1 && v[0].0 == "r"), "c read once, its insert included");
    let log = plain(&worker.log());
    let restarted = log.lines().filter(|l| l.contains("snapshot started")).nth(1).unwrap_or_default().to_owned();
    assert!(restarted.contains("tables=2") && restarted.contains("done=1"), "the second snapshot skips a:\n{log}");

    // and a change after the snapshot streams once
    db.execute("UPDATE c SET version = 2 WHERE id = 1;").await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let c = observed(&broker.bootstrap, &topic("c")).await;
        if c[&1].len() == 2 || Instant::now() > deadline {
            assert_eq!(c[&1], vec![("r".to_owned(), 0), ("u".to_owned(), 2)]);
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_modes_initial_only_no_data_and_always() {
    // GIVEN a table with two rows
    let db = PgServer::shared().create_database("snap_modes").await;
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY, version bigint NOT NULL); INSERT INTO t VALUES (1, 0), (2, 0);").await;
    let broker = &Broker::dedicated();
    let mut worker = Worker::start(broker).await;
    let mut slots = BTreeMap::new();

    // WHEN initial_only, no_data and always connectors start, and a row changes
    let mut topics = BTreeMap::new();
    for mode in ["initial_only", "no_data", "always"] {
        let (prefix, slot) = register(&worker, &db, mode, &[("snapshot.mode", mode)]).await;
        slots.insert(mode, slot);
        worker.wait_task_state(mode, "RUNNING", TIMEOUT).await;
        topics.insert(mode, format!("{prefix}.public.t"));
    }
    wait_records(&broker.bootstrap, &topics["always"], 2, TIMEOUT).await;
    wait_records(&broker.bootstrap, &topics["initial_only"], 2, TIMEOUT).await;
    db.execute("UPDATE t SET version = 1 WHERE id = 1;").await;
    wait_records(&broker.bootstrap, &topics["always"], 3, TIMEOUT).await;
    wait_records(&broker.bootstrap, &topics["no_data"], 1, TIMEOUT).await;

    // THEN initial_only has the rows and no change, no_data the change only,
    // always both
    let ops = |m: BTreeMap<i64, Vec<Change>>| -> Vec<(i64, String, i64)> {
        m.into_iter().flat_map(|(k, v)| v.into_iter().map(move |(op, ver)| (k, op, ver))).collect()
    };
    let r = |k, v| (k, "r".to_owned(), v);
    let u = |k, v| (k, "u".to_owned(), v);
    assert_eq!(ops(observed(&broker.bootstrap, &topics["initial_only"]).await), [r(1, 0), r(2, 0)]);
    assert_eq!(ops(observed(&broker.bootstrap, &topics["no_data"]).await), [u(1, 1)]);
    assert_eq!(ops(observed(&broker.bootstrap, &topics["always"]).await), [r(1, 0), u(1, 1), r(2, 0)]);
    // initial_only leaves no slot behind to pin WAL
    let client = db.client().await;
    let slot_exists = |name: String| {
        let client = &client;
        async move {
            client.query_opt("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", &[&name]).await.expect("slots").is_some()
        }
    };
    assert!(!slot_exists(slots["initial_only"].clone()).await, "initial_only created a slot");
    assert!(slot_exists(slots["always"].clone()).await);
    let metrics = reqwest::get(format!("{}/metrics", worker.rest)).await.expect("GET /metrics").text().await.expect("text");
    for (name, want) in [
        ("pgcdc_snapshot_rows_total{connector=\"always\"}", "2"),
        ("pgcdc_snapshot_completed{connector=\"always\"}", "1"),
        ("pgcdc_snapshot_running{connector=\"always\"}", "0"),
        ("pgcdc_snapshot_tables_done{connector=\"initial_only\"}", "1"),
        ("pgcdc_snapshot_rows_total{connector=\"no_data\"}", "0"),
    ] {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap_or_default();
        // no_data never snapshots: its counter may be absent or 0.
        assert!(line.ends_with(&format!(" {want}")) || (want == "0" && line.is_empty()), "{name}: {line:?} in\n{metrics}");
    }

    // WHEN the worker restarts THEN always snapshots again; initial_only does not
    worker.restart().await;
    assert_eq!(wait_records(&broker.bootstrap, &topics["always"], 5, TIMEOUT).await, 5, "{}", worker.log());
    let always = ops(observed(&broker.bootstrap, &topics["always"]).await);
    assert_eq!(always, [r(1, 0), u(1, 1), r(1, 1), r(2, 0), r(2, 0)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ops(observed(&broker.bootstrap, &topics["initial_only"]).await), [r(1, 0), r(2, 0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_snapshot_by_signal_interleaves_with_streaming_consistently() {
    incremental(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_snapshot_resumes_after_kill9() {
    incremental(true).await;
}

async fn incremental(kill: bool) {
    // GIVEN a streaming-only connector with a signal table, and a table with
    // rows (more when killed: ~100 windows, so the kill lands in the middle
    // however slowly the topic is polled on a loaded machine)
    let rows: i64 = if kill { 10_000 } else { 3000 };
    let db = PgServer::shared().create_database("snap_incremental").await;
    create_table(&db, rows, 20).await;
    db.execute("CREATE TABLE debezium_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));")
        .await;
    let broker = &Broker::dedicated();
    let mut worker = Worker::start(broker).await;
    let (prefix, _) = register(
        &worker,
        &db,
        "inc",
        &[
            ("snapshot.mode", "no_data"),
            ("signal.data.collection", "public.debezium_signal"),
            ("incremental.snapshot.chunk.size", if kill { "100" } else { "250" }),
            ("tombstones.on.delete", "false"),
        ],
    )
    .await;
    worker.wait_task_state("inc", "RUNNING", TIMEOUT).await;

    // WHEN a writer changes rows while an execute-snapshot signal runs
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&db, rows, rows, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.execute(
        r#"INSERT INTO debezium_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["public\\.t"], "type": "incremental"}');"#,
    )
    .await;
    let topic = format!("{prefix}.public.t");
    if kill {
        // WHEN the worker is killed once the first chunks are in Kafka, and restarts
        let deadline = Instant::now() + TIMEOUT;
        while observed(&broker.bootstrap, &topic).await.values().flatten().filter(|(op, _)| op == "r").count() < 200 {
            assert!(Instant::now() < deadline, "no chunk arrived:\n{}", worker.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        worker.kill9();
        assert!(!plain(&worker.log()).contains("incremental snapshot completed"), "finished before the kill");
        tokio::time::sleep(Duration::from_millis(500)).await;
        worker.start_again().await;
    }
    let deadline = Instant::now() + TIMEOUT;
    while !plain(&worker.log()).contains("incremental snapshot completed") {
        assert!(
            Instant::now() < deadline,
            "incremental snapshot did not complete:\n{}",
            plain(&worker.log()).lines().filter(|l| l.contains("increment") || l.contains("stored") || l.contains("ERROR") || l.contains("WARN")).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if kill {
        // resumed after the chunks already in Kafka, not from the start
        let log = plain(&worker.log());
        let resumed = log.lines().find(|l| l.contains("resuming the incremental snapshot")).unwrap_or_default();
        assert!(resumed.contains("Some([\""), "{resumed:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let committed = writer.await.expect("writer");
    let changes: usize = committed.values().map(Vec::len).sum();

    // THEN without the `r` records each key has exactly its committed
    // changes, and every `r` carries the state its key had at that point
    // (after a restart the chunk in flight may be read twice)
    let deadline = Instant::now() + TIMEOUT;
    let (errors, reads) = loop {
        let seen = observed(&broker.bootstrap, &topic).await;
        let mut errors = Vec::new();
        let mut reads = 0;
        for id in 1..=rows + committed.keys().max().copied().unwrap_or(0) {
            let empty = Vec::new();
            let s = seen.get(&id).unwrap_or(&empty);
            let c = committed.get(&id).unwrap_or(&empty);
            let streamed: Vec<Change> = s.iter().filter(|(op, _)| op != "r").cloned().collect();
            if &streamed != c {
                errors.push(format!("key {id}: streamed {streamed:?}, committed {c:?}"));
            }
            let mut state = (id <= rows).then_some(0);
            let mut read = 0;
            for (op, v) in s {
                match op.as_str() {
                    "r" => {
                        read += 1;
                        if state != Some(*v) {
                            errors.push(format!("key {id}: r at version {v} while the key was at {state:?}: {s:?}"));
                        }
                    }
                    "d" => state = None,
                    _ => state = Some(*v),
                }
            }
            reads += read;
            let untouched = id <= rows && c.is_empty();
            if (read > 1 && !kill) || (untouched && read == 0) {
                errors.push(format!("key {id}: {read} snapshot reads: {s:?}"));
            }
        }
        if errors.is_empty() || Instant::now() > deadline {
            break (errors, reads);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("incremental snapshot: {rows} rows, {reads} read, {changes} concurrent changes");
    assert!(changes > 20, "the writer must have run during the snapshot ({changes} changes)");
    let log = plain(&worker.log());
    let progress: Vec<&str> = log.lines().filter(|l| l.contains("incremental") || l.contains("signal")).collect();
    assert!(
        errors.is_empty(),
        "{} keys wrong, e.g.:\n{}\nworker:\n{}",
        errors.len(),
        errors.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
        progress.join("\n")
    );
    // and the records are marked as Debezium marks them
    let first_read = read_topic(&broker.bootstrap, &topic)
        .await
        .into_iter()
        .filter_map(|r| r.value.and_then(|v| serde_json::from_slice::<Value>(&v).ok()))
        .find(|v| v["op"] == "r")
        .expect("a read record");
    assert_eq!(first_read["source"]["snapshot"], "incremental");
    assert!(first_read["before"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_during_the_snapshot_waits_for_it() {
    // GIVEN a large table read first and a small one read after it
    let db = PgServer::shared().create_database("snap_ddl").await;
    db.execute(
        "CREATE TABLE a (id bigint PRIMARY KEY, version bigint NOT NULL);
         CREATE TABLE b (id bigint PRIMARY KEY, version bigint NOT NULL);
         INSERT INTO a SELECT g, 0 FROM generate_series(1, 100000) g;
         INSERT INTO b SELECT g, 0 FROM generate_series(1, 50) g;",
    )
    .await;
    let broker = &Broker::dedicated();
    let worker = Worker::start(broker).await;
    let (prefix, _) = register(&worker, &db, "snapddl", &[("skipped.operations", "none")]).await;

    // WHEN b is truncated (not MVCC-safe) while a is still being read
    assert!(!broker.consume(&format!("{prefix}.public.a"), 1, TIMEOUT).await.is_empty(), "{}", worker.log());
    let conn = db.conn_str();
    let truncate = tokio::spawn(async move {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.expect("connects");
        tokio::spawn(connection);
        client.batch_execute("TRUNCATE b; INSERT INTO b VALUES (1000, 1);").await.expect("truncate");
    });

    // THEN the snapshot still has b's 50 rows (the TRUNCATE waited for it),
    // and the truncate and the new row stream after them
    truncate.await.expect("truncate task");
    let topic = format!("{prefix}.public.b");
    let deadline = Instant::now() + TIMEOUT;
    let ops = loop {
        let ops: Vec<String> = read_topic(&broker.bootstrap, &topic)
            .await
            .iter()
            .filter_map(|r| r.value.as_deref().and_then(|v| serde_json::from_slice::<Value>(v).ok()))
            .map(|v| v["op"].as_str().unwrap_or_default().to_owned())
            .collect();
        if ops.len() >= 52 || Instant::now() > deadline {
            break ops;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(ops.iter().filter(|o| *o == "r").count(), 50, "{ops:?}");
    assert_eq!(&ops[50..], ["t", "c"], "{ops:?}");
}
