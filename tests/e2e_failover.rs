//! PostgreSQL high availability: a primary and its streaming standby
//! ([`PgServer::start_standby`]), the primary killed and the standby promoted
//! while the connector follows `database.hostname=primary,standby`; failover
//! slots (PostgreSQL 17+) and what happens without them; a slot invalidated
//! by `max_slot_wal_keep_size`. Delivery is checked with the read_committed
//! verifier (`support::txlog`): 0 lost, 0 duplicated, order per key.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::load::{create_tables, report, settle, Load, Rng};
use crate::support::postgres::{pg_major, PgSetup};
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

/// `db` as seen on another server of the pair.
fn on(server: &PgServer, db: &TestDatabase) -> TestDatabase {
    TestDatabase { name: db.name.clone(), host: server.host.clone(), port: server.port }
}

/// Connector properties listing both servers, the primary first.
fn ha_config(db: &TestDatabase, primary: &PgServer, standby: &PgServer, prefix: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let hosts = format!("{}:{},{}:{}", primary.host, primary.port, standby.host, standby.port);
    let mut props = vec![("table.include.list", "public.t"), ("database.hostname", hosts.as_str())];
    props.extend_from_slice(extra);
    connector_config(db, prefix, &unique_name("slot"), &props)
}

/// The output of `pgcdc check` on `config`.
fn check(config: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("connector.json");
    std::fs::write(&file, serde_json::json!({ "name": "checked", "config": config }).to_string()).expect("connector file");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgcdc")).arg("check").arg("--connector").arg(&file).output().expect("pgcdc check");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Kills the primary (no shutdown checkpoint) and promotes the standby.
async fn fail_over(primary: &std::sync::Arc<PgServer>, standby: &std::sync::Arc<PgServer>) {
    let (p, s) = (primary.clone(), standby.clone());
    tokio::task::spawn_blocking(move || {
        p.kill();
        s.promote();
    })
    .await
    .expect("failover");
}

async fn slot_row(db: &TestDatabase, slot: &str, columns: &str) -> Option<tokio_postgres::Row> {
    let client = db.client().await;
    let sql = format!("SELECT {columns} FROM pg_replication_slots WHERE slot_name = $1");
    client.query_opt(&sql, &[&slot]).await.expect("pg_replication_slots")
}

/// GIVEN PostgreSQL 17, a primary with `synchronized_standby_slots` (`pgcdc
/// check` warns until it is set) and synchronous commit to a standby with
/// `sync_replication_slots=on`, a connector with `slot.failover=true`
/// listing both hosts, and a mixed load,
/// WHEN the primary is killed and the standby promoted, THEN the connector
/// resumes on the new primary from the synchronized slot and Kafka holds
/// every committed change exactly once, in order per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_slot_resumes_on_promoted_standby_exactly_once() {
    if pg_major() < 17 {
        println!("skipped: failover slots need PostgreSQL 17 (these binaries are {})", pg_major());
        return;
    }
    let primary = std::sync::Arc::new(PgServer::dedicated());
    let standby = std::sync::Arc::new(primary.start_standby("standby1", ""));
    let db = primary.create_database("ha_fo").await;
    create_tables(&db).await;
    let (name, prefix) = ("hafo", unique_name("hafo"));
    let config = ha_config(&db, &primary, &standby, &prefix, &[("slot.failover", "true")]);
    let out = check(&config);
    assert!(out.contains("WARN failover slot: synchronized_standby_slots is empty"), "{out}");
    for sql in [
        "ALTER SYSTEM SET synchronized_standby_slots = 'standby1'",
        "ALTER SYSTEM SET synchronous_standby_names = 'standby1'",
        "ALTER SYSTEM SET synchronous_commit = 'on'",
        "SELECT pg_reload_conf()",
    ] {
        db.execute(sql).await;
    }
    let out = check(&config);
    assert!(!out.contains("synchronized_standby_slots is empty") && !out.contains("FAIL"), "{out}");
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let slot = config["slot.name"].as_str().unwrap_or_default().to_owned();
    assert_eq!(worker.register(name, config).await.0, 201);
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    let conn = format!(
        "host={h},{h} port={},{} user=postgres dbname={} target_session_attrs=read-write",
        primary.port,
        standby.port,
        db.name,
        h = primary.host
    );
    let started = Instant::now();
    let load = Load::start_conn(conn, Rng::seeded().next());
    let on_standby = on(&standby, &db);
    // The slot synchronization worker naps up to 30 s while nothing changes:
    // started once the slot exists, it copies it within seconds.
    on_standby.execute("ALTER SYSTEM SET sync_replication_slots = on").await;
    on_standby.execute("SELECT pg_reload_conf()").await;
    let deadline = Instant::now() + TIMEOUT;
    // The standby's copy is usable after a promotion once it is persistent:
    // once the primary's slot restarts past where the copy began, which moves
    // at each running-transactions record (every 15 s unless asked for).
    let primary_admin = db.client().await;
    loop {
        primary_admin.execute("SELECT pg_log_standby_snapshot()", &[]).await.expect("pg_log_standby_snapshot");
        let row = slot_row(&on_standby, &slot, "synced, temporary").await;
        if row.is_some_and(|r| r.get::<_, bool>(0) && !r.get::<_, bool>(1)) {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never synchronized to the standby\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("slot synchronized after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(3)).await;

    // WHEN
    let failed_over = Instant::now();
    fail_over(&primary, &standby).await;
    println!("standby promoted after {:?}", failed_over.elapsed());
    let deadline = Instant::now() + TIMEOUT;
    while slot_row(&on_standby, &slot, "active").await.is_none_or(|r| !r.get::<_, bool>(0)) {
        let status = worker.status(name).await;
        assert_ne!(status["tasks"][0]["state"], "FAILED", "{status}\n{}", worker.log());
        assert!(Instant::now() < deadline, "the connector never streamed from the new primary\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("streaming from the new primary {:?} after the failover", failed_over.elapsed());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (stats, expected) = load.stop().await;

    // THEN
    let v = settle(&broker.bootstrap, &format!("{prefix}.public.t"), &expected, TIMEOUT).await;
    println!("{}", report("primary killed, standby promoted", &stats, &expected, &v));
    assert!(stats.reconnects >= 1, "the writer saw the failover: {stats:?}");
    assert_eq!(worker.status(name).await["tasks"][0]["state"], "RUNNING", "{}", worker.log());
    assert!(v.is_exact(), "{v:?}\n--- worker log ---\n{}", worker.log());
}

/// GIVEN a primary and a standby without failover slots, a connector that
/// delivered changes, WHEN the primary is killed and the standby promoted,
/// THEN the connector fails saying the slot is missing and changes were lost,
/// and no slot is created on the new primary (never a silent gap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_without_failover_slot_fails_saying_changes_are_lost() {
    let primary = std::sync::Arc::new(PgServer::dedicated());
    let standby = std::sync::Arc::new(primary.start_standby("standby1", ""));
    let db = primary.create_database("ha_nofo").await;
    create_tables(&db).await;
    let broker = Broker::shared();
    let (name, prefix) = ("hanofo", unique_name("hanofo"));
    let worker = Worker::start(broker).await;
    let config = ha_config(&db, &primary, &standby, &prefix, &[]);
    let slot = config["slot.name"].as_str().unwrap_or_default().to_owned();
    assert_eq!(worker.register(name, config).await.0, 201);
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1, 1, 'a'), (2, 1, 'b')").await;
    assert_eq!(broker.consume(&format!("{prefix}.public.t"), 2, TIMEOUT).await.len(), 2);
    // The standby has replayed the rows before the primary goes.
    let lsn = db.current_wal_lsn().await;
    let on_standby = on(&standby, &db);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let client = on_standby.client().await;
        let row = client.query_one(&format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'"), &[]).await.expect("replay lsn");
        if row.get::<_, bool>(0) {
            break;
        }
        assert!(Instant::now() < deadline, "the standby never replayed {lsn}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // WHEN
    fail_over(&primary, &standby).await;
    on_standby.execute("INSERT INTO t VALUES (3, 1, 'lost')").await;

    // THEN
    let status = worker.wait_task_state(name, "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    let server = format!("{}:{}", standby.host, standby.port);
    for part in [format!("{slot:?} does not exist on {server}"), "are lost".to_owned(), "slot.failover=true".to_owned()] {
        assert!(trace.contains(&part), "{part} missing from the trace: {trace}");
    }
    assert!(slot_row(&on_standby, &slot, "1").await.is_none(), "a slot was created on the new primary");
}

/// GIVEN a pre-created slot without FAILOVER, WHEN a connector with
/// `slot.failover=true` starts, THEN on PostgreSQL 17+ the slot is altered
/// to FAILOVER, and before 17 the connector fails saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_failover_is_set_on_17_and_refused_before() {
    let db = PgServer::shared().create_database("ha_flag").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let slot = unique_name("slot");
    db.execute(&format!("SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")).await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let name = unique_name("haflag");
    let config = connector_config(&db, &unique_name("haflag"), &slot, &[("slot.failover", "true"), ("slot.drop.on.stop", "true")]);
    assert_eq!(worker.register(&name, config).await.0, 201);
    if pg_major() >= 17 {
        worker.wait_task_state(&name, "RUNNING", TIMEOUT).await;
        let row = slot_row(&db, &slot, "failover").await.expect("slot");
        assert!(row.get::<_, bool>(0), "the slot was not altered to FAILOVER\n{}", worker.log());
    } else {
        let status = worker.wait_task_state(&name, "FAILED", TIMEOUT).await;
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
        assert!(trace.contains("slot.failover=true needs PostgreSQL 17"), "{trace}");
    }
}

/// GIVEN a server with `max_slot_wal_keep_size = 1MB` and a stopped
/// connector, WHEN writes go on until a checkpoint invalidates its slot,
/// THEN resuming the connector fails naming the invalidation and its cause,
/// and the slot is not recreated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidated_slot_fails_naming_the_cause() {
    let pg = PgServer::dedicated_with(&PgSetup { conf: "max_slot_wal_keep_size = 1MB".to_owned(), ..PgSetup::default() });
    let db = pg.create_database("ha_inval").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE filler (pad text)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let (name, prefix) = ("hainval", unique_name("hainval"));
    let config = connector_config(&db, &prefix, &unique_name("slot"), &[("table.include.list", "public.t")]);
    let slot = config["slot.name"].as_str().unwrap_or_default().to_owned();
    assert_eq!(worker.register(name, config).await.0, 201);
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1)").await;
    assert_eq!(broker.consume(&format!("{prefix}.public.t"), 1, TIMEOUT).await.len(), 1);
    assert_eq!(worker.call(Method::PUT, &format!("/connectors/{name}/stop"), None).await.0, 204);
    let deadline = Instant::now() + TIMEOUT;
    while slot_row(&db, &slot, "active").await.is_some_and(|r| r.get::<_, bool>(0)) {
        assert!(Instant::now() < deadline, "the stopped connector still holds its slot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // WHEN: WAL beyond max_slot_wal_keep_size, then checkpoints remove it.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        db.execute(
            "INSERT INTO t SELECT g FROM generate_series((SELECT max(id) + 1 FROM t), (SELECT max(id) + 1000 FROM t)) g;
             INSERT INTO filler SELECT repeat('x', 1500) FROM generate_series(1, 20000);
             SELECT pg_switch_wal(); CHECKPOINT;",
        )
        .await;
        let row = slot_row(&db, &slot, "wal_status").await.expect("slot");
        if row.get::<_, Option<String>>(0).as_deref() == Some("lost") {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never invalidated");
    }
    assert_eq!(worker.call(Method::PUT, &format!("/connectors/{name}/resume"), None).await.0, 202);

    // THEN
    let status = worker.wait_task_state(name, "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    for part in [format!("slot {slot:?} was invalidated"), "wal_removed".to_owned(), "wal_status=lost".to_owned(), "max_slot_wal_keep_size".to_owned()] {
        assert!(trace.contains(&part), "{part} missing from the trace: {trace}");
    }
    let row = slot_row(&db, &slot, "wal_status").await.expect("the slot is kept for the operator");
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("lost"), "the slot was recreated");
}
