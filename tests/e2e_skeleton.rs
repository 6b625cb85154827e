//! The walking skeleton, end to end: a connector registered over REST, row
//! changes in PostgreSQL, and what a Kafka consumer reads — compared with what
//! Debezium 3.6.3 itself produced for the same SQL (tests/debezium/golden).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::support::golden::assert_matches_debezium;
use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_matches_debezium() {
    assert_matches_debezium("skeleton", "envelope", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwrap_with_added_op_and_ts_matches_debezium() {
    assert_matches_debezium("skeleton", "unwrap", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_disabled_matches_debezium() {
    assert_matches_debezium("skeleton", "schemaless", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_snapshot_matches_debezium() {
    // GIVEN the changes made before the connector exists; WHEN it starts
    // with snapshot.mode=initial THEN its `op: r` records equal Debezium's.
    assert_matches_debezium("skeleton", "snapshot_initial", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_snapshot_matches_debezium() {
    // The same with four reading connections (small tables are read whole).
    assert_matches_debezium("skeleton", "snapshot_initial", &[("snapshot.max.threads", "4")]).await;
}

/// GIVEN the user's own registration request (no topic.prefix), changed only
/// in host, port and database, WHEN rows change, THEN the events land on
/// `<dbname>.public.<table>`, unwrapped with `__op` and `__ts_ms`, keyed by
/// the primary key, and a delete leaves a tombstone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_registration_verbatim_uses_dbname_as_prefix() {
    let db = PgServer::shared().create_database("ecommerce").await;
    db.execute(
        "CREATE TABLE product (id serial PRIMARY KEY, name text NOT NULL);
         CREATE TABLE stock (id serial PRIMARY KEY, product_id int NOT NULL, quantity int NOT NULL, reserved_quantity int DEFAULT 0);
         CREATE TABLE sale (id serial PRIMARY KEY, product_id int NOT NULL);",
    )
    .await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("connectors/postgres-source-connector.json"))
        .expect("example connector");
    let mut body: Value = serde_json::from_str(&text).expect("example connector is JSON");
    body["config"]["database.hostname"] = Value::from(db.host.clone());
    body["config"]["database.port"] = Value::from(db.port.to_string());
    body["config"]["database.dbname"] = Value::from(db.name.clone());
    // Each test owns its slot on the shared cluster.
    body["config"]["slot.name"] = Value::from(unique_name("slot"));
    let (code, resp) = worker.call(reqwest::Method::POST, "/connectors", Some(&body)).await;
    assert_eq!(code, 201, "{resp}");
    assert_eq!(resp["name"], "postgres-source-connector");
    assert_eq!(resp["type"], "source");
    assert_eq!(resp["tasks"][0]["task"], 0);
    worker.wait_task_state("postgres-source-connector", "RUNNING", TIMEOUT).await;

    db.execute(
        "INSERT INTO stock (product_id, quantity) VALUES (7, 10);
         UPDATE stock SET quantity = 9, reserved_quantity = 1 WHERE id = 1;
         DELETE FROM stock WHERE id = 1;",
    )
    .await;
    let topic = format!("{}.public.stock", db.name);
    let got = broker.consume(&topic, 4, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 3, "create, update, delete (Debezium's tombstone dropped by the transform), no extra: {got:#?}");
    let ops: Vec<Value> = got.iter().map(|r| r.value_json()["payload"]["__op"].clone()).collect();
    assert_eq!(ops[..2], [Value::from("c"), Value::from("u")]);
    let after = &got[1].value_json()["payload"];
    assert_eq!(after["quantity"], 9);
    assert_eq!(after["reserved_quantity"], 1);
    assert!(after["__ts_ms"].is_i64());
    for r in &got {
        assert_eq!(r.key_json()["payload"]["id"], 1, "keyed by the primary key");
    }
    // ExtractNewRecordState's default (delete.tombstone.handling.mode=tombstone):
    // the delete becomes a null-payload record, Debezium's own tombstone is dropped...
    assert_eq!(got[2].value_json()["payload"], Value::Null);
    assert_eq!(got[2].key_json()["payload"]["id"], 1);
    let metrics = reqwest::get(format!("{}/metrics", worker.rest)).await.expect("GET /metrics").text().await.expect("text");
    let records = metrics
        .lines()
        .find(|l| l.starts_with("pgcdc_sink_records_total{connector=\"postgres-source-connector\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(records >= 3, "records counted in /metrics: {metrics}");
    assert!(metrics.contains("pgcdc_durable_lsn{connector=\"postgres-source-connector\"}"), "{metrics}");
    let (code, _) = worker.call(reqwest::Method::DELETE, "/connectors/postgres-source-connector", None).await;
    assert_eq!(code, 204);
    let (code, _) = worker.call(reqwest::Method::GET, "/connectors/postgres-source-connector", None).await;
    assert_eq!(code, 404);
}

/// GIVEN a connector whose database does not exist, WHEN it starts, THEN its
/// status is FAILED with a trace that names the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_database_fails_with_a_trace() {
    let pg = PgServer::shared();
    let db = pg.create_database("exists").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let mut config = connector_config(&db, &unique_name("nodb"), &unique_name("slot"), &[]);
    config["database.dbname"] = Value::from("no_such_database");
    let (code, body) = worker.register("broken", config).await;
    assert_eq!(code, 201, "{body}");
    let status = worker.wait_task_state("broken", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    assert!(trace.contains("no_such_database"), "trace names the database: {trace}");
    let metrics = reqwest::get(format!("{}/metrics", worker.rest)).await.expect("GET /metrics").text().await.expect("text");
    assert!(metrics.contains("pgcdc_connector_failed{connector=\"broken\"} 1"), "the FAILED gauge: {metrics}");
    let (code, list) = worker.call(reqwest::Method::GET, "/connectors", None).await;
    assert_eq!(code, 200);
    assert_eq!(list, serde_json::json!(["broken"]));
}

/// GIVEN a 3-partition topic created before the connector, WHEN rows with
/// many keys change, THEN each key is on the partition Kafka's Java producer
/// picks: murmur2(key bytes) mod 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_partitioned_like_the_java_producer() {
    let db = PgServer::shared().create_database("parts").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let prefix = unique_name("parts");
    let topic = format!("{prefix}.public.t");
    broker.create_topic(&topic, 3).await;
    let worker = Worker::start(broker).await;
    let config = connector_config(&db, &prefix, &unique_name("slot"), &[]);
    assert_eq!(worker.register("parts", config).await.0, 201);
    worker.wait_task_state("parts", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 60) g").await;
    let got = broker.consume(&topic, 60, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 60);
    let used: std::collections::BTreeSet<i32> = got.iter().map(|r| r.partition).collect();
    assert_eq!(used.len(), 3, "60 keys spread over all partitions");
    for r in &got {
        let key = r.key.as_deref().expect("keyed");
        assert_eq!(
            r.partition,
            pgcdc::sink::kafka::partitioner::partition_for_key(key, 3),
            "key {}",
            String::from_utf8_lossy(key)
        );
    }
}
