//! Exactly-once end to end: kill -9 under load, aborted offset records,
//! fencing of a second instance, and resuming ahead of the slot. Every check
//! reads Kafka through the read_committed verifier (`support::txlog`), which
//! applies the transaction markers itself.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgcdc::offsets::{offset_key, OffsetStore, SourceOffset, DEFAULT_OFFSET_STORAGE_TOPIC};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use crate::support::txlog::{read_topic, verify, Verdict};
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

/// How long a fenced instance may take to learn it was fenced (see below).
const FENCED_TIMEOUT: Duration = Duration::from_secs(150);
const TIMEOUT: Duration = Duration::from_secs(60);
/// Keys the mixed load works on.
const KEYS: i64 = 40;

/// (op, version): unique per key because every insert/update takes a new
/// version and a delete carries the version it removed (REPLICA IDENTITY FULL).
type Change = (String, i64);
type Expected = Arc<Mutex<BTreeMap<i64, Vec<Change>>>>;

/// A small xorshift generator: no dependency, seed printed for reruns.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("PGCDC_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
        });
        println!("seed {seed} (PGCDC_TEST_SEED to replay)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn table(db: &TestDatabase) {
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY, version bigint NOT NULL, pad text); ALTER TABLE t REPLICA IDENTITY FULL;")
        .await;
}

/// Commits random transactions of inserts, updates and deletes until `stop`;
/// records each committed change per key.
fn spawn_writer(
    db: &TestDatabase,
    expected: Expected,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> tokio::task::JoinHandle<usize> {
    let conn = db.conn_str();
    tokio::spawn(async move {
        let (mut client, connection) =
            tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.expect("writer connects");
        tokio::spawn(connection);
        let mut rng = Rng(seed | 1);
        let mut state: BTreeMap<i64, i64> = BTreeMap::new();
        let mut version = 0i64;
        let mut transactions = 0;
        while !stop.load(Ordering::Relaxed) {
            let tx = client.transaction().await.expect("begin");
            let mut ops: Vec<(i64, Change)> = Vec::new();
            let mut local = state.clone();
            for _ in 0..1 + rng.below(4) {
                let id = rng.below(KEYS as u64) as i64;
                version += 1;
                match local.get(&id).copied() {
                    None => {
                        tx.execute("INSERT INTO t VALUES ($1, $2, repeat('x', 20))", &[&id, &version])
                            .await
                            .expect("insert");
                        local.insert(id, version);
                        ops.push((id, ("c".into(), version)));
                    }
                    Some(current) if rng.below(4) == 0 => {
                        tx.execute("DELETE FROM t WHERE id = $1", &[&id]).await.expect("delete");
                        local.remove(&id);
                        ops.push((id, ("d".into(), current)));
                    }
                    Some(_) => {
                        tx.execute("UPDATE t SET version = $2 WHERE id = $1", &[&id, &version]).await.expect("update");
                        local.insert(id, version);
                        ops.push((id, ("u".into(), version)));
                    }
                }
            }
            tx.commit().await.expect("commit");
            state = local;
            transactions += 1;
            {
                let mut e = expected.lock().unwrap();
                for (id, change) in ops {
                    e.entry(id).or_default().push(change);
                }
            }
            tokio::time::sleep(Duration::from_millis(5 + rng.below(15))).await;
        }
        transactions
    })
}

/// The (id, (op, version)) pairs of the change topic, tombstones left out.
async fn observed(broker: &Broker, topic: &str) -> Vec<(i64, Change)> {
    read_topic(&broker.bootstrap, topic)
        .await
        .iter()
        .filter_map(|r| {
            let value: Value = serde_json::from_slice(r.value.as_deref()?).expect("value JSON");
            let key: Value = serde_json::from_slice(r.key.as_deref()?).expect("key JSON");
            let p = &value["payload"];
            let op = p["op"].as_str()?.to_owned();
            let row = if op == "d" { &p["before"] } else { &p["after"] };
            Some((key["payload"]["id"].as_i64()?, (op, row["version"].as_i64()?)))
        })
        .collect()
}

/// Polls until nothing is lost (or `timeout`), then returns the verdict.
async fn settle(broker: &Broker, topic: &str, expected: &BTreeMap<i64, Vec<Change>>, timeout: Duration) -> Verdict {
    let deadline = Instant::now() + timeout;
    loop {
        let v = verify(expected, &observed(broker, topic).await);
        if v.lost == 0 || Instant::now() > deadline {
            // One more look after a pause, so a late duplicate shows up too.
            tokio::time::sleep(Duration::from_secs(2)).await;
            return verify(expected, &observed(broker, topic).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// GIVEN a mixed insert/update/delete load on a table, WHEN the worker is
/// killed with SIGKILL at random points (10 times, restarted each time),
/// THEN Kafka holds every committed change exactly once, in order per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_mixed_load_loses_and_duplicates_nothing() {
    let db = PgServer::shared().create_database("eos_kill").await;
    table(&db).await;
    let broker = Broker::shared();
    let prefix = unique_name("eoskill");
    let topic = format!("{prefix}.public.t");
    let mut worker = Worker::start(broker).await;
    let (code, body) = worker.register("eoskill", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("eoskill", "RUNNING", TIMEOUT).await;

    let mut rng = Rng::seeded();
    let expected: Expected = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&db, expected.clone(), stop.clone(), rng.next());
    let started = Instant::now();
    const CYCLES: usize = 10;
    for cycle in 1..=CYCLES {
        let run_ms = 300 + rng.below(2200);
        tokio::time::sleep(Duration::from_millis(run_ms)).await;
        worker.kill9();
        let snapshot = expected.lock().unwrap().clone();
        let v = verify(&snapshot, &observed(broker, &topic).await);
        println!(
            "cycle {cycle:2}: killed after {run_ms:4} ms; committed {:5} changes, in kafka {:5}, duplicated {}, out of order {}, unexpected {}",
            snapshot.values().map(Vec::len).sum::<usize>(),
            v.observed,
            v.duplicated,
            v.out_of_order,
            v.unexpected
        );
        assert!(
            v.duplicated == 0 && v.out_of_order == 0 && v.unexpected == 0,
            "cycle {cycle}: {v:?}\n{}",
            worker.log()
        );
        worker.restart().await;
    }
    stop.store(true, Ordering::Relaxed);
    let transactions = writer.await.expect("writer");
    let expected = expected.lock().unwrap().clone();
    let changes: usize = expected.values().map(Vec::len).sum();
    let v = settle(broker, &topic, &expected, Duration::from_secs(45)).await;
    println!(
        "final: {CYCLES} kill -9 cycles in {:?}; {transactions} transactions, {changes} changes; in kafka {}; lost {}, duplicated {}, out of order {}, unexpected {}",
        started.elapsed(),
        v.observed,
        v.lost,
        v.duplicated,
        v.out_of_order,
        v.unexpected
    );
    assert!(changes > 100, "the load committed too little to mean anything: {changes}");
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
}

/// GIVEN a stopped connector with changes not yet delivered, WHEN an offset
/// record far ahead is written for it in a transaction that is then aborted,
/// THEN the worker resumes from the last committed offset: the pending
/// changes arrive, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_from_aborted_transaction_never_moves_resume_point() {
    let db = PgServer::shared().create_database("eos_abort").await;
    table(&db).await;
    let broker = Broker::shared();
    let prefix = unique_name("eosabort");
    let topic = format!("{prefix}.public.t");
    let name = "eosabort";
    let mut worker = Worker::start(broker).await;
    assert_eq!(worker.register(name, connector_config(&db, &prefix, &unique_name("slot"), &[])).await.0, 201);
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t SELECT g, 1, 'a' FROM generate_series(1, 5) g").await;
    let first: BTreeMap<i64, Vec<Change>> = (1..=5).map(|i| (i, vec![("c".to_owned(), 1)])).collect();
    assert!(settle(broker, &topic, &first, TIMEOUT).await.is_exact());
    worker.terminate();

    let store = OffsetStore::new(broker.bootstrap.clone(), DEFAULT_OFFSET_STORAGE_TOPIC);
    let committed = store.read_latest(name, &prefix).await.expect("read offset").expect("an offset was committed");
    db.execute("INSERT INTO t SELECT g, 1, 'b' FROM generate_series(6, 10) g").await;

    // GIVEN an offset record past all of it, in an aborted transaction.
    let bogus = SourceOffset::after_commit(pgcdc::lsn::Lsn(committed.resume_lsn().unwrap().0 + (1 << 32)), 1, 0);
    let producer: BaseProducer =
        broker.client_config().set("transactional.id", unique_name("rogue")).create().expect("rogue producer");
    producer.init_transactions(Duration::from_secs(30)).expect("init");
    producer.begin_transaction().expect("begin");
    let key = offset_key(name, &prefix);
    let value = bogus.to_json();
    producer
        .send(BaseRecord::to(DEFAULT_OFFSET_STORAGE_TOPIC).key(&key).payload(&value))
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(Duration::from_secs(30)).expect("flush");
    producer.abort_transaction(Duration::from_secs(30)).expect("abort");
    // What a plain consumer shows (the aborted record too).
    let plain = broker.consume(DEFAULT_OFFSET_STORAGE_TOPIC, usize::MAX, Duration::from_secs(3)).await;
    let shown =
        plain.iter().any(|r| r.key.as_deref() == Some(key.as_slice()) && r.value.as_deref() == Some(value.as_slice()));
    println!("a plain consumer {} the aborted offset record", if shown { "shows" } else { "hides" });
    let after_abort = store.read_latest(name, &prefix).await.expect("read offset");
    assert_eq!(after_abort.as_ref(), Some(&committed), "the aborted offset record is not visible to the store");

    worker.restart().await;
    let all: BTreeMap<i64, Vec<Change>> = (1..=10).map(|i| (i, vec![("c".to_owned(), 1)])).collect();
    let v = settle(broker, &topic, &all, TIMEOUT).await;
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
    let resumed = store.read_latest(name, &prefix).await.expect("read").expect("offset");
    assert!(resumed.resume_lsn() > committed.resume_lsn(), "the new batch committed a later offset");
    assert!(resumed.resume_lsn() < bogus.resume_lsn());
}

/// GIVEN a running connector, WHEN a second worker of the same group starts
/// the same connector, THEN the first is fenced and fails with a trace that
/// says so, the second takes over, and nothing is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_instance_is_fenced() {
    let db = PgServer::shared().create_database("eos_fence").await;
    table(&db).await;
    let broker = Broker::shared();
    let prefix = unique_name("eosfence");
    let topic = format!("{prefix}.public.t");
    let config = connector_config(&db, &prefix, &unique_name("slot"), &[]);
    let first = Worker::start(broker).await;
    assert_eq!(first.register("fence", config.clone()).await.0, 201);
    first.wait_task_state("fence", "RUNNING", TIMEOUT).await;

    let expected: Expected = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&db, expected.clone(), stop.clone(), Rng::seeded().next());
    tokio::time::sleep(Duration::from_secs(2)).await;

    let second = Worker::start_in_group(broker, &first.group_id).await;
    assert_eq!(second.register("fence", config).await.0, 201);
    // On tansu the fenced producer's connection can be closed instead of
    // answered with PRODUCER_FENCED; librdkafka then learns it is fenced only
    // when its commit times out (transaction timeout, 60 s) and retries.
    let status = first.wait_task_state("fence", "FAILED", FENCED_TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    assert!(trace.contains("fenced"), "the first instance says it was fenced: {trace}");
    second.wait_task_state("fence", "RUNNING", TIMEOUT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    let expected = expected.lock().unwrap().clone();
    let v = settle(broker, &topic, &expected, Duration::from_secs(45)).await;
    println!(
        "fencing: {} changes committed, {} in kafka, {v:?}",
        expected.values().map(Vec::len).sum::<usize>(),
        v.observed
    );
    assert!(v.is_exact(), "{v:?}\n--- second worker log ---\n{}", second.log());
    // The fenced instance keeps failing rather than retrying forever.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(first.status("fence").await["tasks"][0]["state"], "FAILED");
}

/// The process streaming from `slot`, if any.
async fn slot_holder(client: &tokio_postgres::Client, slot: &str) -> Option<i32> {
    let row = client
        .query_one("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .expect("slot row");
    row.get(0)
}

/// GIVEN a running connector whose replication connection is cut (a transient
/// failure: its task waits `retriable.restart.connector.wait.ms`, then starts
/// again), WHEN a second worker of the same group starts the connector and
/// takes the slot over in the meantime, THEN the restarting task fails as
/// fenced instead of fencing the new owner back, and the new owner keeps
/// running and delivers everything exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_instance_does_not_fence_its_successor() {
    let db = PgServer::shared().create_database("eos_successor").await;
    table(&db).await;
    let broker = Broker::shared();
    let prefix = unique_name("eossucc");
    let topic = format!("{prefix}.public.t");
    let slot = unique_name("slot");
    let config = connector_config(&db, &prefix, &slot, &[("retriable.restart.connector.wait.ms", "8000")]);
    let first = Worker::start(broker).await;
    assert_eq!(first.register("succ", config.clone()).await.0, 201);
    first.wait_task_state("succ", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t SELECT g, 1, 'a' FROM generate_series(1, 5) g").await;
    let five: BTreeMap<i64, Vec<Change>> = (1..=5).map(|i| (i, vec![("c".to_owned(), 1)])).collect();
    assert!(settle(broker, &topic, &five, TIMEOUT).await.is_exact());

    let client = db.client().await;
    let first_pid = slot_holder(&client, &slot).await.expect("the first worker streams from the slot");
    client.execute("SELECT pg_terminate_backend($1)", &[&first_pid]).await.expect("terminate the walsender");
    first.wait_task_state("succ", "RESTARTING", TIMEOUT).await;

    let second = Worker::start_in_group(broker, &first.group_id).await;
    assert_eq!(second.register("succ", config).await.0, 201);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match slot_holder(&client, &slot).await {
            Some(pid) if pid != first_pid => break,
            _ if Instant::now() > deadline => panic!("the second worker never took the slot\n{}", second.log()),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    // The first task restarts 8 s after the cut and finds the slot taken.
    let status = first.wait_task_state("succ", "FAILED", Duration::from_secs(25)).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    assert!(trace.contains("fenced"), "the first instance says it was fenced: {trace}");

    db.execute("INSERT INTO t SELECT g, 1, 'b' FROM generate_series(6, 10) g").await;
    let all: BTreeMap<i64, Vec<Change>> = (1..=10).map(|i| (i, vec![("c".to_owned(), 1)])).collect();
    let v = settle(broker, &topic, &all, TIMEOUT).await;
    assert!(v.is_exact(), "{v:?}\n--- second worker log ---\n{}", second.log());
    let states = second.task_states_during("succ", Duration::from_secs(2)).await;
    assert_eq!(states, ["RUNNING"], "the new owner was not fenced\n{}", second.log());
}

/// GIVEN a connector stopped cleanly after delivering five transactions, and
/// its slot rewound to before them (a crash between the Kafka commit and the
/// slot's flush does that), WHEN it starts again, THEN the five are skipped by
/// the stored offset and only the new transactions are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_skips_transactions_already_in_kafka() {
    let db = PgServer::shared().create_database("eos_resume").await;
    table(&db).await;
    let broker = Broker::shared();
    let prefix = unique_name("eosresume");
    let topic = format!("{prefix}.public.t");
    let slot = unique_name("slot");
    let backup = unique_name("slot_backup");
    let publication = unique_name("pub");
    db.execute(&format!("CREATE PUBLICATION {publication} FOR ALL TABLES")).await;
    db.execute(&format!("SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")).await;
    db.execute(&format!("SELECT pg_copy_logical_replication_slot('{slot}', '{backup}')")).await;
    let mut worker = Worker::start(broker).await;
    let config = connector_config(&db, &prefix, &slot, &[("publication.name", &publication)]);
    assert_eq!(worker.register("resume", config).await.0, 201);
    worker.wait_task_state("resume", "RUNNING", TIMEOUT).await;
    for i in 1..=5 {
        db.execute(&format!("INSERT INTO t VALUES ({i}, 1, 'a')")).await;
    }
    let first: BTreeMap<i64, Vec<Change>> = (1..=5).map(|i| (i, vec![("c".to_owned(), 1)])).collect();
    assert!(settle(broker, &topic, &first, TIMEOUT).await.is_exact());
    worker.terminate();

    // Rewind: the slot now confirms only what it had before the five.
    db.execute(&format!("SELECT pg_drop_replication_slot('{slot}')")).await;
    db.execute(&format!("SELECT pg_copy_logical_replication_slot('{backup}', '{slot}')")).await;
    let client = db.client().await;
    let row = client
        .query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .expect("slot row");
    let slot_lsn: pgcdc::lsn::Lsn = row.get::<_, String>(0).parse().expect("lsn");
    let store = OffsetStore::new(broker.bootstrap.clone(), DEFAULT_OFFSET_STORAGE_TOPIC);
    let stored = store.read_latest("resume", &prefix).await.expect("read").expect("stored").resume_lsn().unwrap();
    assert!(slot_lsn < stored, "the slot ({slot_lsn}) is behind Kafka ({stored})");
    for i in 6..=8 {
        db.execute(&format!("INSERT INTO t VALUES ({i}, 1, 'b')")).await;
    }

    worker.restart().await;
    let all: BTreeMap<i64, Vec<Change>> = (1..=8).map(|i| (i, vec![("c".to_owned(), 1)])).collect();
    let v = settle(broker, &topic, &all, TIMEOUT).await;
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
    client.execute(&format!("SELECT pg_drop_replication_slot('{backup}')"), &[]).await.ok();
}
