//! Streamed in-progress transactions (pgoutput `streaming 'on'`, PostgreSQL
//! 14+): the same SQL captured by two connectors on the same database, one
//! with `pgcdc.streaming=true` and one with `false`, must yield the same
//! records — keys, values, headers, WAL positions, txIds, sequences, the
//! transaction metadata — once processing times are blanked. The database
//! decodes with `logical_decoding_work_mem = 64kB`, so the large transactions
//! are streamed (checked in `pg_stat_replication_slots`): one is interleaved
//! with small committed ones and rolls back a savepoint, one is aborted.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::golden::as_golden;
use crate::support::{connector_config, unique_name, Broker, Consumed, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Rows per large statement: ~600 × 200 bytes, several times 64kB.
const ROWS: i32 = 600;

async fn exec(client: &tokio_postgres::Client, sql: &str) {
    if let Err(e) = client.batch_execute(sql).await {
        panic!("{sql}: {e:?}");
    }
}

/// The workload: a large transaction (A) whose changes span several stream
/// blocks, interleaved with small committed transactions (B) and a large
/// aborted one (C); A rolls back a large savepoint and emits a message.
async fn workload(db: &TestDatabase) {
    let (a, b, c) = (db.client().await, db.client().await, db.client().await);
    let big = |from: i32, fill: &str| {
        format!("INSERT INTO big SELECT g, repeat('{fill}', 200) FROM generate_series({from}, {}) g", from + ROWS - 1)
    };
    exec(&a, &format!("BEGIN; {}", big(1, "a"))).await;
    exec(&b, "INSERT INTO small VALUES (1, 's1')").await;
    exec(&c, &format!("BEGIN; {}", big(100_001, "c"))).await;
    exec(&a, &format!("SAVEPOINT s1; {}; ROLLBACK TO SAVEPOINT s1", big(ROWS + 1, "r"))).await;
    exec(&b, "INSERT INTO small VALUES (2, 's2')").await;
    exec(&a, "UPDATE big SET v = repeat('u', 200) WHERE id <= 300").await;
    exec(&a, "SELECT pg_logical_emit_message(true, 'streamed', 'inside the large transaction')").await;
    exec(&c, "ROLLBACK").await;
    exec(&b, "INSERT INTO small VALUES (3, 's3')").await;
    exec(&a, "INSERT INTO big SELECT g, repeat('b', 200) FROM generate_series(1201, 1500) g; COMMIT").await;
    exec(&b, "UPDATE small SET v = 'x' WHERE id = 1; DELETE FROM small WHERE id = 2").await;
}

/// A record with times and the run id blanked, the run's topic prefix renamed.
fn comparable(r: &Consumed, prefix: &str) -> Value {
    let mut v = as_golden(r, prefix, "run");
    blank_times(&mut v);
    if let Some(run) = v["headers"].get_mut("__debezium.context.runId") {
        *run = Value::from("<run>");
    }
    v
}

/// Blanks times and the (random, Java identity hash) name of a message's
/// data collection, and puts data collections in one order.
fn blank_times(v: &mut Value) {
    const MESSAGE_ID: &str = "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@";
    match v {
        Value::String(s) if s.starts_with(MESSAGE_ID) => *v = Value::from("<message>"),
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if ["ts_ms", "ts_us", "ts_ns"].iter().any(|t| k.ends_with(t)) && !x.is_object() {
                    *x = Value::from("<ts>");
                } else if let (true, Value::Array(items)) = (k == "data_collections", &mut *x) {
                    // The message's place follows its random name (HashMap order).
                    items.iter_mut().for_each(blank_times);
                    items.sort_by_key(|c| c.to_string());
                } else {
                    blank_times(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(blank_times),
        _ => {}
    }
}

/// `stream_txns` of a slot once its statistics show decoding (and, when
/// `streamed` is expected, any streamed transaction), or at a deadline.
async fn stream_txns(db: &TestDatabase, slot: &str, expect_streamed: bool) -> i64 {
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = client
            .query_opt("SELECT stream_txns, total_txns FROM pg_stat_replication_slots WHERE slot_name = $1", &[&slot])
            .await
            .expect("pg_stat_replication_slots");
        let (streamed, total): (i64, i64) = row.map_or((0, 0), |r| (r.get(0), r.get(1)));
        if (total > 0 && (streamed > 0 || !expect_streamed)) || Instant::now() > deadline {
            assert!(total > 0, "no decoding statistics for slot {slot}");
            return streamed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// GIVEN two connectors on one database with logical_decoding_work_mem=64kB,
/// one streaming and one not, WHEN large transactions interleave with small
/// ones (one with a rolled-back savepoint, one aborted), THEN both write the
/// same records in the same order, and the server did stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_transactions_match_the_non_streamed_output() {
    let db = PgServer::shared().create_database("streaming").await;
    db.execute(&format!(
        "CREATE TABLE big (id int PRIMARY KEY, v text);
         CREATE TABLE small (id int PRIMARY KEY, v text);
         ALTER DATABASE {} SET logical_decoding_work_mem = '64kB';",
        db.name
    ))
    .await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let mut runs = Vec::new();
    for streaming in ["true", "false"] {
        let prefix = unique_name(&format!("stream_{streaming}"));
        let slot = unique_name("slot");
        let props = [
            ("pgcdc.streaming", streaming),
            ("provide.transaction.metadata", "true"),
            ("publication.name", "streaming_pub"),
            ("slot.drop.on.stop", "true"),
        ];
        let name = format!("streaming-{streaming}");
        let (code, body) = worker.register(&name, connector_config(&db, &prefix, &slot, &props)).await;
        assert_eq!(code, 201, "{body}");
        worker.wait_task_state(&name, "RUNNING", TIMEOUT).await;
        runs.push((streaming, prefix, slot));
    }

    workload(&db).await;

    // big: 600 inserts + 300 updates + 300 inserts; small: 3 inserts, 1 update,
    // 1 delete + tombstone; one message; transaction: BEGIN/END of 1 large + 4 small.
    let expected = [("public.big", 1200), ("public.small", 6), ("message", 1), ("transaction", 10)];
    let mut outputs = Vec::new();
    for (streaming, prefix, slot) in &runs {
        let mut records = Vec::new();
        for (topic, n) in expected {
            let topic = format!("{prefix}.{topic}");
            let mut got = broker.consume(&topic, n, Duration::from_secs(60)).await;
            if got.len() == n {
                // One more than expected, briefly, so an extra record shows up.
                got = broker.consume(&topic, n + 1, Duration::from_secs(3)).await;
            }
            assert_eq!(got.len(), n, "streaming={streaming}: {prefix}.{topic}\n{}", worker.log());
            records.extend(got.iter().map(|r| comparable(r, prefix)));
        }
        let streamed = stream_txns(&db, slot, *streaming == "true").await;
        if *streaming == "true" {
            assert!(streamed >= 2, "the server streamed {streamed} transactions on {slot}: expected the large ones");
        } else {
            assert_eq!(streamed, 0, "streaming is off on {slot}");
        }
        outputs.push(records);
    }
    let (on, off) = (&outputs[0], &outputs[1]);
    for (i, (a, b)) in on.iter().zip(off).enumerate() {
        assert!(
            a == b,
            "record {i} differs between streamed and non-streamed runs:\n  streamed:     {} {}\n  not streamed: {} {}",
            a["value"]["payload"],
            a["headers"],
            b["value"]["payload"],
            b["headers"]
        );
    }
    assert_eq!(on.len(), off.len());
    // The rolled-back savepoint's rows and the aborted transaction's are absent.
    let ids: Vec<i64> = on
        .iter()
        .filter(|r| r["topic"] == "run.public.big")
        .filter_map(|r| r["value"]["payload"]["after"]["id"].as_i64())
        .collect();
    let kept = |id: &i64| (1..=600).contains(id) || (1201..=1500).contains(id);
    assert!(ids.iter().all(kept), "only A's committed rows: {:?}", ids.iter().filter(|i| !kept(i)).collect::<Vec<_>>());
    // The slots go with the connectors (the shared cluster has a limited number).
    for streaming in ["true", "false"] {
        let (code, body) = worker.call(reqwest::Method::DELETE, &format!("/connectors/streaming-{streaming}"), None).await;
        assert!(code < 300, "delete streaming-{streaming}: {code} {body}");
    }
    // Streaming leaves no spill files behind.
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(&format!("pgcdc-spill-{}", runs[0].2)))
        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
        .collect();
    assert!(leftovers.is_empty(), "spill files left: {leftovers:?}");
}
