//! No setting accepted without effect: the Debezium properties pgcdc used to
//! accept and ignore that change what PostgreSQL keeps or how pgcdc talks to
//! it (`database.initial.statements`, `flush.lsn.source`,
//! `slot.stream.params`), each against a real PostgreSQL and broker, and the
//! refusal of one it does not implement.

use std::time::{Duration, Instant};

use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn confirmed_flush(db: &TestDatabase, slot: &str) -> Option<String> {
    let client = db.client().await;
    let row = client
        .query_opt("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .expect("pg_replication_slots");
    row.and_then(|r| r.get::<_, Option<String>>(0))
}

/// GIVEN `database.initial.statements` that log each connection into a
/// table, WHEN a connector starts and streams, THEN the statements ran on
/// pgcdc's (non-replication) connections, with the `;;` escape honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_statements_run_on_the_connections_pgcdc_opens() {
    let db = PgServer::shared().create_database("initstmt").await;
    db.execute("CREATE TABLE conn_log (app text, note text); CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("initstmt");
    let slot = unique_name("slot");
    let stmts = "SET application_name = 'pgcdc_initial'; INSERT INTO conn_log VALUES (current_setting('application_name'), 'a;;b')";
    let props = [("database.initial.statements", stmts), ("table.include.list", "public.t"), ("slot.drop.on.stop", "true")];
    let (code, body) = worker.register("initstmt", connector_config(&db, &prefix, &slot, &props)).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("initstmt", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1)").await;
    let got = broker.consume(&format!("{prefix}.public.t"), 1, TIMEOUT).await;
    assert_eq!(got.len(), 1, "{}", worker.log());
    let client = db.client().await;
    let rows = client.query("SELECT app, note FROM conn_log", &[]).await.expect("conn_log");
    assert!(!rows.is_empty(), "database.initial.statements never ran\n{}", worker.log());
    for r in &rows {
        assert_eq!(r.get::<_, String>(0), "pgcdc_initial", "statements run in order on one connection");
        assert_eq!(r.get::<_, String>(1), "a;b", "';;' is a literal ';'");
    }
}

/// GIVEN two connectors on one table, one with `flush.lsn.source=false`,
/// WHEN changes flow to Kafka, THEN the default one's slot is confirmed past
/// its start while the other's `confirmed_flush_lsn` never moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_lsn_source_false_never_confirms_the_slot() {
    let db = PgServer::shared().create_database("noflush").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let mut runs = Vec::new();
    for flush in ["true", "false"] {
        let prefix = unique_name(&format!("noflush_{flush}"));
        let slot = unique_name("slot");
        let name = format!("noflush-{flush}");
        let props = [("flush.lsn.source", flush), ("snapshot.mode", "no_data"), ("slot.drop.on.stop", "true")];
        let (code, body) = worker.register(&name, connector_config(&db, &prefix, &slot, &props)).await;
        assert_eq!(code, 201, "{body}");
        worker.wait_task_state(&name, "RUNNING", TIMEOUT).await;
        let start = confirmed_flush(&db, &slot).await.expect("slot created");
        runs.push((flush, prefix, slot, start));
    }
    for i in 0..20 {
        db.execute(&format!("INSERT INTO t VALUES ({i})")).await;
    }
    for (_, prefix, _, _) in &runs {
        let got = broker.consume(&format!("{prefix}.public.t"), 20, TIMEOUT).await;
        assert_eq!(got.len(), 20, "{}", worker.log());
    }
    // The default connector confirms within a status interval (10 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    let (_, _, slot_on, start_on) = &runs[0];
    loop {
        let now = confirmed_flush(&db, slot_on).await;
        if now.as_ref() != Some(start_on) {
            break;
        }
        assert!(Instant::now() < deadline, "the default connector never confirmed its slot\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Past another status interval, the other slot is still where it was created.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (_, _, slot_off, start_off) = &runs[1];
    assert_eq!(confirmed_flush(&db, slot_off).await.as_ref(), Some(start_off), "flush.lsn.source=false confirmed the slot");
}

/// GIVEN `slot.stream.params` naming an option pgoutput does not know, WHEN
/// the connector starts streaming, THEN START_REPLICATION carried it: the
/// server refuses it and the task fails saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_stream_params_are_sent_with_start_replication() {
    let db = PgServer::shared().create_database("streamparams").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("streamparams");
    let slot = unique_name("slot");
    let props = [
        ("slot.stream.params", "pgcdc_no_such_option=1"),
        ("snapshot.mode", "no_data"),
        ("errors.max.retries", "0"),
        ("slot.drop.on.stop", "true"),
    ];
    let (code, body) = worker.register("streamparams", connector_config(&db, &prefix, &slot, &props)).await;
    assert_eq!(code, 201, "{body}");
    let status = worker.wait_task_state("streamparams", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    assert!(trace.contains("pgcdc_no_such_option"), "{trace}\n{}", worker.log());
}

/// GIVEN a setting that would change the records (snapshot.select.statement.overrides)
/// WHEN it is registered THEN it is refused with a 400 that names it and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_pgcdc_does_not_implement_is_refused() {
    let db = PgServer::shared().create_database("refused").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let config = connector_config(&db, "refused", "refused_slot", &[("snapshot.select.statement.overrides", "public.t")]);
    let (code, body) = worker.register("refused", config).await;
    assert_eq!(code, 400, "{body}");
    let message = body.to_string();
    assert!(message.contains("snapshot.select.statement.overrides") && message.contains("not supported by pgcdc"), "{message}");
}

/// Replicas of each partition of `topic`, as the broker's metadata lists them.
async fn replicas(broker: &Broker, topic: &str) -> Vec<usize> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let config = broker.client_config();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().expect("metadata client");
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).expect("metadata");
        metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.replicas().len())).collect()
    })
    .await
    .expect("metadata task")
}

/// GIVEN errors.tolerance=all with a dead letter queue (replication factor
/// 2, the connector's topics 1), WHEN a row larger than the producer's
/// message.max.bytes (1 MB) is inserted between two small ones, THEN the
/// small ones are published, the large one is in the DLQ with its key and
/// the context headers, the connector keeps running, and the DLQ topic was
/// created as Connect creates it: one partition, the DLQ's factor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_over_the_message_size_goes_to_the_dead_letter_queue() {
    let db = PgServer::shared().create_database("poison").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("poison");
    let slot = unique_name("slot");
    let dlq = format!("{prefix}.dlq");
    let props = [
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", dlq.as_str()),
        ("errors.deadletterqueue.context.headers.enable", "true"),
        ("errors.deadletterqueue.topic.replication.factor", "2"),
        ("snapshot.mode", "no_data"),
        ("slot.drop.on.stop", "true"),
    ];
    let (code, body) = worker.register("poison", connector_config(&db, &prefix, &slot, &props)).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("poison", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1, 'small')").await;
    // Random text does not compress: the record stays over 1 MB.
    db.execute("INSERT INTO t SELECT 2, string_agg(md5(random()::text), '') FROM generate_series(1, 40000)").await;
    db.execute("INSERT INTO t VALUES (3, 'small')").await;
    let got = broker.consume(&format!("{prefix}.public.t"), 2, TIMEOUT).await;
    let ids: Vec<i64> = got.iter().filter_map(|r| r.key_json()["payload"]["id"].as_i64()).collect();
    assert_eq!(ids, [1, 3], "{}", worker.log());
    let dead = broker.consume(&dlq, 1, TIMEOUT).await;
    assert_eq!(dead.len(), 1, "{}", worker.log());
    assert_eq!(dead[0].key_json()["payload"]["id"], 2, "the original key");
    assert_eq!(dead[0].header_str("__connect.errors.connector.name").as_deref(), Some("poison"));
    assert_eq!(dead[0].header_str("__connect.errors.stage").as_deref(), Some("KAFKA_PRODUCE"));
    assert_eq!(dead[0].header_str("__connect.errors.topic"), Some(format!("{prefix}.public.t")));
    assert!(dead[0].value_json()["table"] == "public.t", "{}", dead[0].value_json());
    worker.wait_task_state("poison", "RUNNING", TIMEOUT).await;
    // tansu keeps one copy whatever the factor, but reports the one asked for.
    assert_eq!(replicas(broker, &dlq).await, [2], "errors.deadletterqueue.topic.replication.factor");
    assert!(replicas(broker, &format!("{prefix}.public.t")).await.iter().all(|r| *r == 1));
}
