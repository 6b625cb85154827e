//! Faults under load: the broker frozen for 30 s, PostgreSQL restarted, the
//! replication connection cut, the at-least-once switch, idle slots that must
//! not pin WAL, and the memory bound of one large transaction. Each test that
//! breaks a server has its own ([`PgServer::dedicated`], [`Broker::dedicated`]),
//! so they run in parallel with the rest of the suite. Delivery is checked
//! with the read_committed verifier (`support::txlog`): 0 lost, 0 duplicated,
//! order per key.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pgcdc::lsn::Lsn;

use crate::support::load::{create_tables, report, settle, Load, Rng};
use crate::support::txlog::{read_topic, verify};
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Registers `name` capturing `public.t` and waits until it runs.
async fn start_connector(worker: &Worker, db: &TestDatabase, name: &str, prefix: &str, extra: &[(&str, &str)]) {
    let mut props = vec![("table.include.list", "public.t")];
    props.extend_from_slice(extra);
    let (code, body) = worker.register(name, connector_config(db, prefix, &unique_name("slot"), &props)).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
}

/// The walsender serving connector `name`: (pid, seconds since its last standby status).
async fn walsender(db: &TestDatabase, name: &str) -> Option<(i32, f64)> {
    let client = db.client().await;
    let row = client
        .query_opt(
            "SELECT pid, coalesce(extract(epoch FROM now() - reply_time), -1)::float8 \
             FROM pg_stat_replication WHERE application_name = $1",
            &[&format!("pgcdc-{name}")],
        )
        .await
        .ok()??;
    Some((row.get(0), row.get(1)))
}

async fn confirmed_flush_lsn(client: &tokio_postgres::Client, slot_of: &str) -> Option<Lsn> {
    let row = client
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots s \
             JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE r.application_name = $1",
            &[&format!("pgcdc-{slot_of}")],
        )
        .await
        .ok()??;
    row.get::<_, Option<String>>(0)?.parse().ok()
}

async fn wal_insert_lsn(client: &tokio_postgres::Client) -> Lsn {
    let row = client.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.expect("wal lsn");
    row.get::<_, String>(0).parse().expect("lsn")
}

/// GIVEN a connector under load, WHEN the broker is frozen (SIGSTOP) for 30 s
/// and resumed, THEN the connector never turns FAILED, the replication
/// connection keeps answering the server (or is re-established), and Kafka
/// catches up with every change exactly once, in order per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_unavailable_30s_then_catches_up() {
    let broker = Broker::dedicated();
    let db = PgServer::shared().create_database("fault_broker").await;
    create_tables(&db).await;
    let (name, prefix) = ("fbroker", unique_name("fbroker"));
    let worker = Worker::start(&broker).await;
    start_connector(&worker, &db, name, &prefix, &[]).await;
    let load = Load::start(&db, Rng::seeded().next());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = walsender(&db, name).await;

    // WHEN the broker is unavailable for 30 s
    broker.pause();
    let committed_at_pause = load.committed();
    let mut states = worker.task_states_during(name, Duration::from_secs(29)).await;
    let during = walsender(&db, name).await;
    let committed_in_pause = load.committed() - committed_at_pause;
    broker.resume();
    states.extend(worker.task_states_during(name, Duration::from_secs(5)).await);
    let after = walsender(&db, name).await;
    let (stats, expected) = load.stop().await;

    // THEN
    let v = settle(&broker.bootstrap, &format!("{prefix}.public.t"), &expected, TIMEOUT).await;
    println!("{}", report("broker frozen 30 s", &stats, &expected, &v));
    println!(
        "changes committed while frozen {committed_in_pause}; task states {states:?}; walsender (pid, s since status) \
         before {before:?}, end of freeze {during:?}, after {after:?}"
    );
    assert!(committed_in_pause > 50, "the load kept committing while the broker was frozen");
    assert!(!states.iter().any(|s| s == "FAILED"), "the connector failed: {states:?}\n{}", worker.log());
    let (_, silence) = during.expect("a walsender serves the connector at the end of the freeze");
    assert!(silence < 25.0, "standby status kept flowing while the broker was frozen: {silence} s of silence");
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
}

/// GIVEN two connectors under load, WHEN the broker is frozen (SIGSTOP) and
/// the worker gets SIGTERM, THEN it exits within `worker.shutdown_timeout_ms`
/// (default 25 s, under Kubernetes' 30 s grace period) instead of waiting for
/// each connector's transaction one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_the_broker_down_exits_within_the_shutdown_timeout() {
    let broker = Broker::dedicated();
    let db = PgServer::shared().create_database("fault_sigterm").await;
    create_tables(&db).await;
    let mut worker = Worker::start(&broker).await;
    let prefix = unique_name("fterm");
    start_connector(&worker, &db, "fterm1", &prefix, &[]).await;
    start_connector(&worker, &db, "fterm2", &format!("{prefix}b"), &[]).await;
    let load = Load::start(&db, Rng::seeded().next());
    tokio::time::sleep(Duration::from_secs(2)).await;

    // WHEN the broker stops answering while changes keep coming, then SIGTERM
    broker.pause();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = load.stop().await;
    let started = Instant::now();
    let status = tokio::task::block_in_place(|| worker.terminate());
    let took = started.elapsed();
    broker.resume();

    // THEN
    let log = worker.log();
    println!("exit {status} after {took:?}");
    for line in log.lines().filter(|l| l.contains("shutting down") || l.contains("exiting before") || l.contains("stopped")) {
        println!("{line}");
    }
    assert!(took < Duration::from_secs(28), "the worker took {took:?} to exit on SIGTERM:\n{log}");
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(log.contains("exiting before everything stopped"), "the unfinished connectors are reported:\n{log}");
}

/// GIVEN a connector under load, WHEN PostgreSQL is restarted twice
/// (`pg_ctl restart -m fast`), THEN the writer and the connector reconnect
/// by themselves and Kafka holds every committed change exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_then_catches_up() {
    let pg = std::sync::Arc::new(PgServer::dedicated());
    let db = pg.create_database("fault_pg").await;
    create_tables(&db).await;
    let broker = Broker::shared();
    let (name, prefix) = ("fpg", unique_name("fpg"));
    let worker = Worker::start(broker).await;
    start_connector(&worker, &db, name, &prefix, &[]).await;
    let load = Load::start(&db, Rng::seeded().next());
    let mut states = Vec::new();
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        // WHEN
        let p = pg.clone();
        tokio::task::spawn_blocking(move || p.restart()).await.expect("restart");
        states.extend(worker.task_states_during(name, Duration::from_secs(4)).await);
    }
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (stats, expected) = load.stop().await;

    // THEN
    let v = settle(&broker.bootstrap, &format!("{prefix}.public.t"), &expected, TIMEOUT).await;
    println!("{}", report("postgres restarted twice", &stats, &expected, &v));
    println!("task states {states:?}");
    assert!(stats.reconnects >= 2, "the writer saw the restarts: {stats:?}");
    assert!(!states.iter().any(|s| s == "FAILED"), "the connector failed: {states:?}\n{}", worker.log());
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
}

/// GIVEN a connector under load, WHEN its replication connection is cut
/// three times (`pg_terminate_backend` on its walsender), THEN it reconnects
/// and Kafka holds every committed change exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_connection_cut_then_catches_up() {
    let db = PgServer::shared().create_database("fault_cut").await;
    create_tables(&db).await;
    let broker = Broker::shared();
    let (name, prefix) = (unique_name("fcut"), unique_name("fcut"));
    let worker = Worker::start(broker).await;
    start_connector(&worker, &db, &name, &prefix, &[]).await;
    let load = Load::start(&db, Rng::seeded().next());
    let admin = db.client().await;
    let mut cut = Vec::new();
    let mut last_pid = None;
    for _ in 0..3 {
        // Wait for a new walsender (the connector reconnects after its restart wait).
        let deadline = Instant::now() + TIMEOUT;
        let pid = loop {
            match walsender(&db, &name).await {
                Some((pid, _)) if Some(pid) != last_pid => break pid,
                _ => {}
            }
            assert!(Instant::now() < deadline, "no new walsender came up\n{}", worker.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        // WHEN
        let row = admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await.expect("terminate");
        cut.push(row.get::<_, bool>(0));
        last_pid = Some(pid);
    }
    let states = worker.task_states_during(&name, Duration::from_secs(3)).await;
    worker.wait_task_state(&name, "RUNNING", TIMEOUT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (stats, expected) = load.stop().await;

    // THEN
    let v = settle(&broker.bootstrap, &format!("{prefix}.public.t"), &expected, TIMEOUT).await;
    println!("{}", report("replication connection cut 3 times", &stats, &expected, &v));
    println!("walsenders terminated per cut {cut:?}; task states after {states:?}");
    assert_eq!(cut, vec![true; 3], "each cut terminated the connector's walsender");
    assert!(!states.iter().any(|s| s == "FAILED"), "{states:?}\n{}", worker.log());
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
}

/// GIVEN a worker with exactly-once off (`[kafka] exactly_once = false`),
/// WHEN it runs cleanly and then is killed with SIGKILL three times under
/// load, THEN nothing is lost and order per key holds; duplicates after a
/// kill are allowed and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_mode_delivers_everything() {
    let db = PgServer::shared().create_database("fault_alo").await;
    create_tables(&db).await;
    let broker = Broker::shared();
    let (name, prefix) = ("falo", unique_name("falo"));
    let topic = format!("{prefix}.public.t");
    let mut worker = Worker::start_with(broker, &[("PGCDC_KAFKA__EXACTLY_ONCE", "false")]).await;
    start_connector(&worker, &db, name, &prefix, &[]).await;
    let mut rng = Rng::seeded();

    // A clean run.
    let load = Load::start(&db, rng.next());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (stats, clean) = load.stop().await;
    let v = settle(&broker.bootstrap, &topic, &clean, TIMEOUT).await;
    println!("{}", report("at-least-once, clean run", &stats, &clean, &v));
    assert!(v.is_exact(), "a clean at-least-once run is exact too: {v:?}\n{}", worker.log());

    // kill -9 under load.
    let load = Load::start_on(&db, rng.next(), 1000);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500 + rng.below(1500))).await;
        worker.kill9();
        worker.restart().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (stats, more) = load.stop().await;
    let mut all = clean.clone();
    for (k, changes) in more {
        all.entry(k).or_default().extend(changes);
    }
    let v = settle(&broker.bootstrap, &topic, &all, TIMEOUT).await;
    println!("{}", report("at-least-once, 3 kill -9", &stats, &all, &v));
    assert!(v.lost == 0 && v.out_of_order == 0 && v.unexpected == 0, "{v:?}\n{}", worker.log());
}

/// GIVEN a connector whose captured table never changes, WHEN only a
/// non-captured table changes, and then only another database (with a WAL
/// switch), THEN the slot's confirmed_flush_lsn still moves past the WAL
/// position taken after those writes, within 30 s each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tables_do_not_pin_wal() {
    let server = PgServer::shared();
    let db = server.create_database("fault_idle").await;
    let elsewhere = server.create_database("fault_idle_other").await;
    create_tables(&db).await;
    db.execute("CREATE TABLE other (id bigint PRIMARY KEY, pad text)").await;
    elsewhere.execute("CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)").await;
    let broker = Broker::shared();
    let (name, prefix) = (unique_name("fidle"), unique_name("fidle"));
    let worker = Worker::start(broker).await;
    start_connector(&worker, &db, &name, &prefix, &[("publication.autocreate.mode", "filtered")]).await;
    let client = db.client().await;
    let noise = elsewhere.client().await;
    // RUNNING comes once both ends are connected, a moment before START_REPLICATION.
    let mut start = None;
    for _ in 0..150 {
        start = confirmed_flush_lsn(&client, &name).await;
        if start.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let start = start.unwrap_or_else(|| panic!("the slot never became active\n{}", worker.log()));

    // WHEN only a non-captured table changes
    for i in 0..50 {
        client.execute("INSERT INTO other VALUES ($1, repeat('y', 200))", &[&(i as i64)]).await.expect("insert other");
    }
    let target = wal_insert_lsn(&client).await;
    let waited = wait_confirmed(&client, &noise, &name, target).await;
    println!("non-captured writes: slot {start} → past {target} after {waited:?}");
    assert!(waited.is_some(), "the slot did not move past {target} within 30 s\n{}", worker.log());

    // WHEN nothing changes in this database, only in another one, with a WAL switch
    noise.batch_execute("INSERT INTO noise(pad) SELECT repeat('z', 100) FROM generate_series(1, 100)").await.unwrap();
    noise.batch_execute("SELECT pg_switch_wal()").await.unwrap();
    noise.batch_execute("INSERT INTO noise(pad) VALUES ('after switch')").await.unwrap();
    let target2 = wal_insert_lsn(&noise).await;
    let waited2 = wait_confirmed(&client, &noise, &name, target2).await;
    println!("other-database writes + WAL switch: slot past {target2} after {waited2:?}");
    assert!(waited2.is_some(), "the slot did not move past {target2} within 30 s\n{}", worker.log());
    let topics = broker.topics().await;
    assert!(!topics.iter().any(|t| t.starts_with(&format!("{prefix}.public.other"))), "other is not captured");
}

/// Waits up to 30 s for the slot to confirm `target`, writing a row to
/// another database every second so WAL keeps moving; returns how long it took.
async fn wait_confirmed(
    client: &tokio_postgres::Client,
    noise: &tokio_postgres::Client,
    name: &str,
    target: Lsn,
) -> Option<Duration> {
    let started = Instant::now();
    let mut last_noise = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if confirmed_flush_lsn(client, name).await.is_some_and(|l| l >= target) {
            return Some(started.elapsed());
        }
        if last_noise.elapsed() >= Duration::from_secs(1) {
            noise.batch_execute("INSERT INTO noise(pad) VALUES ('tick')").await.expect("noise");
            last_noise = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Rows of the large transaction (`$PGCDC_BIG_TX_ROWS` overrides it for a bench run).
fn big_tx_rows() -> i64 {
    std::env::var("PGCDC_BIG_TX_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(300_000)
}

/// The worker's peak resident memory must stay under this, whatever the
/// transaction size. Measured (debug build, ~250-byte records): idle 22 MB;
/// 300k rows 62 MB; 900k rows 64 MB. Buffering the 300k-row transaction
/// whole would add at least its 75 MB of encoded records (more as events)
/// on top of the idle 22 MB, so this bound catches O(n) growth.
const BIG_TX_MAX_HWM_MB: u64 = 128;

/// GIVEN a connector, WHEN one transaction inserts 300k rows, THEN every row
/// reaches Kafka exactly once and the worker's peak RSS (VmHWM) stays under
/// a fixed bound: the transaction is streamed, never buffered whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transaction_memory_is_bounded() {
    let rows = big_tx_rows();
    let db = PgServer::shared().create_database("fault_big").await;
    create_tables(&db).await;
    let broker = Broker::shared();
    let (name, prefix) = (unique_name("fbig"), unique_name("fbig"));
    let worker = Worker::start(broker).await;
    start_connector(
        &worker,
        &db,
        &name,
        &prefix,
        &[("key.converter.schemas.enable", "false"), ("value.converter.schemas.enable", "false")],
    )
    .await;
    let idle_hwm = worker.proc_status_kb("VmHWM").unwrap_or(0);
    let client = db.client().await;

    // WHEN
    let started = Instant::now();
    let mut client = client;
    let tx = client.transaction().await.expect("begin");
    tx.batch_execute(&format!("INSERT INTO t SELECT g, 1, repeat('x', 100) FROM generate_series(1, {rows}) g"))
        .await
        .expect("large insert");
    let xid: i64 = tx.query_one("SELECT txid_current()", &[]).await.expect("xid").get(0);
    tx.commit().await.expect("commit");
    let inserted = started.elapsed();
    // Delivered = the stored offset names this transaction (it is written in
    // the Kafka transaction that commits the transaction's last records).
    let store =
        pgcdc::offsets::OffsetStore::new(broker.bootstrap.clone(), pgcdc::offsets::DEFAULT_OFFSET_STORAGE_TOPIC);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut max_rss = 0;
    loop {
        max_rss = max_rss.max(worker.proc_status_kb("VmRSS").unwrap_or(0));
        let stored = store.read_latest(&name, &prefix).await.expect("read offset");
        if stored.and_then(|o| o.tx_id).is_some_and(|t| t == xid) {
            break;
        }
        assert!(Instant::now() < deadline, "the large transaction was not delivered in time\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let delivered = started.elapsed();
    let hwm = worker.proc_status_kb("VmHWM").expect("worker runs");

    // THEN
    let records = read_topic(&broker.bootstrap, &format!("{prefix}.public.t")).await;
    let observed: Vec<(i64, i64)> = records
        .iter()
        .filter_map(|r| {
            let key: serde_json::Value = serde_json::from_slice(r.key.as_deref()?).ok()?;
            Some((key["id"].as_i64()?, 1))
        })
        .collect();
    let expected: BTreeMap<i64, Vec<i64>> = (1..=rows).map(|i| (i, vec![1])).collect();
    let v = verify(&expected, &observed);
    println!(
        "large transaction: {rows} rows inserted in {inserted:?}, durable in Kafka after {delivered:?}; \
         worker VmHWM {} MB (idle {} MB, max sampled RSS {} MB); lost {}, duplicated {}",
        hwm / 1024,
        idle_hwm / 1024,
        max_rss / 1024,
        v.lost,
        v.duplicated
    );
    assert!(v.is_exact(), "{:?}", v.examples);
    assert!(hwm / 1024 < BIG_TX_MAX_HWM_MB, "worker peak RSS {} MB ≥ {BIG_TX_MAX_HWM_MB} MB", hwm / 1024);
}

/// GIVEN a connector with `heartbeat.interval.ms=1000` and a
/// `heartbeat.action.query` writing to a table it does not capture, WHEN its
/// captured table never changes, THEN heartbeat records (Debezium's
/// ServerNameKey / Heartbeat) arrive, committed, on `__debezium-heartbeat.<prefix>`,
/// the action query runs at each interval, and the stored offset — which
/// an idle connector would otherwise never write — moves forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_advance_the_offset_of_an_idle_connector() {
    let db = PgServer::shared().create_database("fault_heartbeat").await;
    create_tables(&db).await;
    db.execute("CREATE TABLE hb_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())").await;
    let broker = Broker::shared();
    let (name, prefix) = (unique_name("fhb"), unique_name("fhb"));
    let worker = Worker::start(broker).await;
    start_connector(
        &worker,
        &db,
        &name,
        &prefix,
        &[
            ("publication.autocreate.mode", "filtered"),
            ("heartbeat.interval.ms", "1000"),
            ("heartbeat.action.query", "INSERT INTO hb_log DEFAULT VALUES"),
        ],
    )
    .await;
    let client = db.client().await;
    let store =
        pgcdc::offsets::OffsetStore::new(broker.bootstrap.clone(), pgcdc::offsets::DEFAULT_OFFSET_STORAGE_TOPIC);

    // WHEN nothing captured changes for a while
    tokio::time::sleep(Duration::from_secs(3)).await;
    let first = store.read_latest(&name, &prefix).await.expect("read offset");
    let mark = wal_insert_lsn(&client).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let second = store.read_latest(&name, &prefix).await.expect("read offset");

    // THEN
    let topic = format!("__debezium-heartbeat.{prefix}");
    let beats = read_topic(&broker.bootstrap, &topic).await;
    let queries: i64 = client.query_one("SELECT count(*) FROM hb_log", &[]).await.expect("count").get(0);
    let first_lsn = first.as_ref().and_then(|o| o.resume_lsn());
    let second_lsn = second.as_ref().and_then(|o| o.resume_lsn());
    println!(
        "heartbeats: {} records on {topic}, action query ran {queries} times; stored offset {:?} then {:?} (WAL mark {mark})",
        beats.len(),
        first_lsn.map(|l| l.to_string()),
        second_lsn.map(|l| l.to_string())
    );
    assert!(beats.len() >= 4, "about one heartbeat a second: {}\n{}", beats.len(), worker.log());
    let key: serde_json::Value = serde_json::from_slice(beats[0].key.as_deref().expect("key")).expect("key JSON");
    assert_eq!(key["schema"]["name"], "io.debezium.connector.common.ServerNameKey");
    assert_eq!(key["payload"]["serverName"], prefix.as_str());
    let value: serde_json::Value = serde_json::from_slice(beats[0].value.as_deref().expect("value")).expect("JSON");
    assert_eq!(value["schema"]["name"], "io.debezium.connector.common.Heartbeat");
    assert!(value["payload"]["ts_ms"].as_i64().is_some_and(|t| t > 1_600_000_000_000), "{value}");
    assert!(queries >= 4, "heartbeat.action.query runs at each interval: {queries}");
    assert!(first_lsn.is_some(), "an idle connector with heartbeats stores an offset");
    assert!(second_lsn > first_lsn, "the stored offset moves forward while idle");
    assert!(second_lsn >= Some(mark), "the stored offset passed the WAL position taken before the last beats");
}
