//! Poison records end to end (issue: errors/DLQ): a kill -9 between a poison
//! row and the commit of its transaction, a schema the registry refuses
//! under each `errors.tolerance`, and a registry outage ridden out in place
//! by `errors.retry.timeout`. Exactly-once checks read Kafka through the
//! committed-record reader (`support::txlog`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::registry::Registry;
use crate::support::txlog::{read_topic, verify};
use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);
const AVRO: &str = "io.confluent.connect.avro.AvroConverter";

fn with(base: Value, props: &[(&str, String)]) -> Value {
    let mut c = base;
    for (k, v) in props {
        c[*k] = Value::String(v.clone());
    }
    c
}

fn avro(registry: &Registry) -> Vec<(&'static str, String)> {
    vec![
        ("key.converter", AVRO.to_owned()),
        ("key.converter.schema.registry.url", registry.url.clone()),
        ("value.converter", AVRO.to_owned()),
        ("value.converter.schema.registry.url", registry.url.clone()),
    ]
}

fn json_of(bytes: Option<&[u8]>) -> Value {
    bytes.and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null)
}

/// The ids of the committed change records of `topic` (JSON converter), in log order.
async fn committed_ids(broker: &Broker, topic: &str) -> Vec<i64> {
    read_topic(&broker.bootstrap, topic)
        .await
        .iter()
        .filter_map(|r| json_of(r.key.as_deref())["payload"]["id"].as_i64())
        .collect()
}

/// GIVEN errors.tolerance=all with a DLQ and one PostgreSQL transaction of a
/// small row, a row over the producer's message.max.bytes, then 50,000 small
/// rows, WHEN the worker is killed with SIGKILL after the DLQ record was
/// sent but before the Kafka transaction holding it commits, and restarted,
/// THEN the poison row is in the DLQ exactly once and every other row is in
/// the topic exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_a_poison_row_and_its_commit_dead_letters_it_once() {
    let db = PgServer::shared().create_database("poisonkill").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let mut worker = Worker::start(broker).await;
    let prefix = unique_name("poisonkill");
    let (topic, dlq) = (format!("{prefix}.public.t"), format!("{prefix}.dlq"));
    let props = [
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", dlq.as_str()),
        ("errors.deadletterqueue.topic.replication.factor", "1"),
        ("snapshot.mode", "no_data"),
    ];
    let (code, body) = worker.register("poisonkill", connector_config(&db, &prefix, &unique_name("slot"), &props)).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("poisonkill", "RUNNING", TIMEOUT).await;

    // WHEN one transaction holds: 1, the poison 2, then 3..=20002
    const LAST: i64 = 50_002;
    db.execute(&format!(
        "BEGIN; INSERT INTO t VALUES (1, 'small'); \
         INSERT INTO t SELECT 2, string_agg(md5(random()::text), '') FROM generate_series(1, 40000); \
         INSERT INTO t SELECT g, 'small' FROM generate_series(3, {LAST}) g; COMMIT"
    ))
    .await;
    // The plain consumer sees records of open transactions: the DLQ record is sent.
    let sent = broker.consume(&dlq, 1, TIMEOUT).await;
    worker.kill9();
    assert_eq!(sent.len(), 1, "the DLQ record was never sent\n{}", worker.log());
    let committed_at_kill = read_topic(&broker.bootstrap, &dlq).await.len();
    let ids_at_kill = committed_ids(broker, &topic).await.len();
    println!("at the kill: {committed_at_kill} DLQ records and {ids_at_kill} rows committed");
    assert_eq!(committed_at_kill, 0, "the kill came after the commit: the test proves nothing");

    worker.restart().await;
    let expected: BTreeMap<i64, Vec<()>> = (1..=LAST).filter(|id| *id != 2).map(|id| (id, vec![()])).collect();
    let deadline = Instant::now() + TIMEOUT;
    let verdict = loop {
        let observed: Vec<(i64, ())> = committed_ids(broker, &topic).await.into_iter().map(|id| (id, ())).collect();
        let v = verify(&expected, &observed);
        if v.lost == 0 || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(verdict.is_exact(), "{verdict:?}\n{}", worker.log());
    let dead = read_topic(&broker.bootstrap, &dlq).await;
    assert_eq!(dead.len(), 1, "the poison row is in the DLQ exactly once\n{}", worker.log());
    assert_eq!(json_of(dead[0].key.as_deref())["payload"]["id"], 2, "its original key");
    worker.wait_task_state("poisonkill", "RUNNING", TIMEOUT).await;
}

/// Registers an Avro connector on `public.t (id int, v text)` with `extra`,
/// inserts (1,'a'), and once it is published changes `v` to int and
/// inserts (2, 5): a schema the registry (compatibility BACKWARD) refuses.
async fn refused_schema(name: &str, extra: &[(&str, String)]) -> (Worker, Registry, String, crate::support::TestDatabase) {
    let db = PgServer::shared().create_database(name).await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let prefix = unique_name(name);
    let mut props = avro(&registry);
    props.extend(extra.iter().cloned());
    props.push(("snapshot.mode", "no_data".to_owned()));
    let cfg = with(connector_config(&db, &prefix, &unique_name("slot"), &[]), &props);
    let (code, body) = worker.register(name, cfg).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1, 'a')").await;
    let topic = format!("{prefix}.public.t");
    assert_eq!(broker.consume(&topic, 1, TIMEOUT).await.len(), 1, "{}", worker.log());
    db.execute("ALTER TABLE t ALTER COLUMN v TYPE int USING length(v)").await;
    db.execute("INSERT INTO t VALUES (2, 5)").await;
    (worker, registry, prefix, db)
}

/// GIVEN errors.tolerance=none (the default) WHEN the registry refuses the
/// new schema of a row THEN the connector FAILs with a trace naming the
/// subject, the compatibility, the table and the setting, the row is not
/// published; AND after the subject's compatibility is relaxed and the
/// connector restarted, the row arrives: nothing was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_the_registry_refuses_fails_the_connector_and_flows_once_allowed() {
    let (worker, registry, prefix, _db) = refused_schema("refusednone", &[]).await;
    let status = worker.wait_task_state("refusednone", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    let subject = format!("{prefix}.public.t-value");
    for part in [subject.as_str(), "compatibility", "table public.t at LSN", "errors.tolerance=all"] {
        assert!(trace.contains(part), "{part} missing from the trace: {trace}");
    }
    let topic = format!("{prefix}.public.t");
    let broker = Broker::shared();
    assert_eq!(broker.consume(&topic, 2, Duration::from_secs(2)).await.len(), 1, "nothing after the failed row");

    let url = format!("{}/config/{subject}", registry.url);
    let put = reqwest::Client::new().put(&url).json(&json!({"compatibility": "NONE"})).send().await.expect("PUT config");
    assert!(put.status().is_success(), "{put:?}");
    let (code, body) = worker.call(reqwest::Method::POST, "/connectors/refusednone/restart?includeTasks=true", None).await;
    assert!(code == 202 || code == 204, "{code} {body}");
    worker.wait_task_state("refusednone", "RUNNING", TIMEOUT).await;
    let got = broker.consume(&topic, 2, TIMEOUT).await;
    assert_eq!(got.len(), 2, "the refused row arrives once allowed\n{}", worker.log());
    assert_eq!(registry.subjects()[&subject].len(), 2, "its schema is registered now");
}

/// GIVEN errors.tolerance=all with a DLQ WHEN the registry refuses the new
/// schema of a row THEN the row is in the DLQ as JSON (table, LSN, txId,
/// after) with the context headers, the connector keeps running, and a row
/// with the earlier schema after it is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_the_registry_refuses_goes_to_the_dead_letter_queue() {
    let dlq = unique_name("refused.dlq");
    let extra = [
        ("errors.tolerance", "all".to_owned()),
        ("errors.deadletterqueue.topic.name", dlq.clone()),
        ("errors.deadletterqueue.topic.replication.factor", "1".to_owned()),
        ("errors.deadletterqueue.context.headers.enable", "true".to_owned()),
    ];
    let (worker, registry, prefix, db) = refused_schema("refusedall", &extra).await;
    let broker = Broker::shared();
    let dead = broker.consume(&dlq, 1, TIMEOUT).await;
    assert_eq!(dead.len(), 1, "{}", worker.log());
    let row = dead[0].value_json();
    assert_eq!((row["table"].as_str(), row["op"].as_str()), (Some("public.t"), Some("c")), "{row}");
    assert_eq!(row["after"], json!({"id": 2, "v": 5}), "{row}");
    assert!(row["lsn"].as_u64().is_some_and(|l| l > 0) && row["txId"].as_i64().is_some(), "{row}");
    let message = dead[0].header_str("__connect.errors.exception.message").unwrap_or_default();
    assert!(dead[0].header_str("__connect.errors.stage").as_deref() == Some("VALUE_CONVERTER"), "{:?}", dead[0].headers);
    assert!(!message.is_empty(), "{:?}", dead[0].headers);
    let subject = format!("{prefix}.public.t-value");
    assert_eq!(registry.subjects()[&subject].len(), 1, "the refused schema was not registered");

    // The column back to text: the earlier schema again, which flows.
    db.execute("ALTER TABLE t ALTER COLUMN v TYPE text; INSERT INTO t VALUES (3, 'c')").await;
    let got = broker.consume(&format!("{prefix}.public.t"), 2, TIMEOUT).await;
    assert_eq!(got.len(), 2, "rows 1 and 3\n{}", worker.log());
    worker.wait_task_state("refusedall", "RUNNING", TIMEOUT).await;
    assert_eq!(broker.consume(&dlq, 2, Duration::from_secs(2)).await.len(), 1, "only the refused row");
}

/// GIVEN errors.retry.timeout=-1 WHEN the schema registry answers 503 for a
/// few seconds while rows change THEN the task never leaves RUNNING (the
/// conversion is retried in place, no restart), and every row arrives once,
/// in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_outage_is_ridden_out_in_place_with_errors_retry_timeout() {
    let db = PgServer::shared().create_database("retryinplace").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let prefix = unique_name("retryin");
    let mut props = avro(&registry);
    props.extend([
        ("errors.retry.timeout", "-1".to_owned()),
        ("errors.retry.delay.initial.ms", "100".to_owned()),
        ("errors.retry.delay.max.ms", "400".to_owned()),
        ("snapshot.mode", "no_data".to_owned()),
    ]);
    let cfg = with(connector_config(&db, &prefix, &unique_name("slot"), &[]), &props);
    let (code, body) = worker.register("retryin", cfg).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("retryin", "RUNNING", TIMEOUT).await;

    registry.set_unavailable(true);
    for id in 1..=3 {
        db.execute(&format!("INSERT INTO t VALUES ({id}, 'v{id}')")).await;
    }
    let states = worker.task_states_during("retryin", Duration::from_secs(4)).await;
    registry.set_unavailable(false);
    assert!(states.iter().all(|s| s == "RUNNING"), "the task left RUNNING: {states:?}\n{}", worker.log());
    db.execute("INSERT INTO t VALUES (4, 'v4')").await;
    let got = broker.consume(&format!("{prefix}.public.t"), 4, TIMEOUT).await;
    assert_eq!(got.len(), 4, "{}", worker.log());
    let text = reqwest::get(format!("{}/metrics", worker.rest)).await.expect("GET /metrics").text().await.expect("metrics");
    let line = |name: &str| text.lines().find(|l| l.starts_with(&format!("{name}{{connector=\"retryin\"}}"))).map(str::to_owned);
    let retries = line("pgcdc_retries_total").and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert!(retries.is_some_and(|n| n > 0), "retried in place: {:?}\n{text}", line("pgcdc_retries_total"));
    assert_eq!(line("pgcdc_connector_restarts_total").as_deref(), Some("pgcdc_connector_restarts_total{connector=\"retryin\"} 0"));
    assert!(worker.log().contains("errors.retry.timeout"), "the retries are logged");
}

/// GIVEN errors.tolerance=none (the default) WHEN a row over the producer's
/// message.max.bytes is inserted between two small ones THEN the connector
/// FAILs with a trace naming the table, the LSN and the settings, the row
/// after it is not published and the slot is not confirmed past the poison;
/// AND once errors.tolerance=all with a DLQ is set, the poison goes to the
/// DLQ and the row after it arrives: nothing was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_over_the_message_size_fails_the_connector_without_advancing_the_slot() {
    let db = PgServer::shared().create_database("toolarge").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("toolarge");
    let slot = unique_name("slot");
    let (topic, dlq) = (format!("{prefix}.public.t"), format!("{prefix}.dlq"));
    let config = connector_config(&db, &prefix, &slot, &[("snapshot.mode", "no_data")]);
    let (code, body) = worker.register("toolarge", config.clone()).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("toolarge", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1, 'small')").await;
    db.execute("INSERT INTO t SELECT 2, string_agg(md5(random()::text), '') FROM generate_series(1, 40000)").await;
    db.execute("INSERT INTO t VALUES (3, 'small')").await;

    let status = worker.wait_task_state("toolarge", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    for part in ["table public.t at LSN", "message.max.bytes", "errors.tolerance=all"] {
        assert!(trace.contains(part), "{part} missing from the trace: {trace}");
    }
    let poison_lsn = trace.split("at LSN ").nth(1).and_then(|s| s.split_whitespace().next()).expect("the LSN in the trace");
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT confirmed_flush_lsn IS NULL OR confirmed_flush_lsn <= $2::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot, &poison_lsn],
        )
        .await
        .expect("pg_replication_slots");
    assert!(row.get::<_, bool>(0), "the slot was confirmed past the poison at {poison_lsn}");
    assert_eq!(broker.consume(&topic, 2, Duration::from_secs(2)).await.len(), 1, "nothing after the poison");

    // The fix the trace names: tolerate it, to a DLQ.
    let mut fixed = config;
    for (k, v) in [("errors.tolerance", "all"), ("errors.deadletterqueue.topic.name", dlq.as_str()), ("errors.deadletterqueue.topic.replication.factor", "1")] {
        fixed[k] = Value::String(v.to_owned());
    }
    let (code, body) = worker.call(reqwest::Method::PUT, "/connectors/toolarge/config", Some(&fixed)).await;
    assert_eq!(code, 200, "{body}");
    worker.wait_task_state("toolarge", "RUNNING", TIMEOUT).await;
    let dead = broker.consume(&dlq, 1, TIMEOUT).await;
    assert_eq!(dead.len(), 1, "{}", worker.log());
    assert_eq!(dead[0].key_json()["payload"]["id"], 2);
    let deadline = Instant::now() + TIMEOUT;
    while committed_ids(broker, &topic).await != [1, 3] {
        assert!(Instant::now() < deadline, "rows {:?}\n{}", committed_ids(broker, &topic).await, worker.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
