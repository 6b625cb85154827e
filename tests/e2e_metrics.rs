//! The slot's lag metrics at `GET /metrics` against what PostgreSQL says.

use std::time::{Duration, Instant};

use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

/// The value of `name{connector="<connector>"}` in the worker's metrics.
async fn metric(worker: &Worker, name: &str, connector: &str) -> Option<u64> {
    let text = reqwest::get(format!("{}/metrics", worker.rest)).await.ok()?.text().await.ok()?;
    let prefix = format!("{name}{{connector=\"{connector}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

async fn wait_metric(worker: &Worker, name: &str, connector: &str, what: &str, ok: impl Fn(u64) -> bool) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = metric(worker, name, connector).await;
        if let Some(v) = v.filter(|v| ok(*v)) {
            return v;
        }
        assert!(Instant::now() < deadline, "{name} never became {what} (last {v:?}):\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GIVEN a streaming connector on its own server (no other writer) with
/// `status.update.interval.ms=500`, WHEN the broker freezes and ~5 MB of WAL
/// is written in one transaction, THEN `pgcdc_slot_retained_wal_bytes` grows
/// past what was written and the flush lag is what `pg_replication_slots`
/// says; WHEN the broker comes back, THEN the flush lag is under 64 KiB and
/// the delivery counters (batches, commit-time histogram, LSNs) moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_lag_metrics_follow_retained_wal() {
    let server = PgServer::dedicated();
    let broker = Broker::dedicated();
    let db = server.create_database("metrics_slot").await;
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY, pad text)").await;
    let worker = Worker::start(&broker).await;
    let config = connector_config(
        &db,
        &unique_name("met"),
        &unique_name("slot"),
        &[
            ("table.include.list", "public.t"),
            ("status.update.interval.ms", "500"),
            ("snapshot.mode", "no_data"),
            ("producer.override.statistics.interval.ms", "500"),
        ],
    );
    let (code, body) = worker.register("met", config).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("met", "RUNNING", Duration::from_secs(60)).await;
    db.execute("INSERT INTO t VALUES (0, 'first')").await;
    wait_metric(&worker, "pgcdc_sink_batches_total", "met", "1 (the first row durable)", |v| v >= 1).await;
    let settled = wait_metric(&worker, "pgcdc_slot_confirmed_flush_lag_bytes", "met", "under 64 KiB", |v| v < 65_536).await;
    println!("flush lag while streaming: {settled} B");

    // WHEN the broker freezes and WAL is written
    broker.pause();
    let client = db.client().await;
    let lsn = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.expect("lsn").get::<_, i64>(0) }
    };
    let before = lsn("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint").await;
    db.execute("INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 15000) g").await;
    let written = lsn("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint").await - before;
    assert!(written > 3_000_000, "wrote {written} B of WAL");
    let retained = wait_metric(&worker, "pgcdc_slot_retained_wal_bytes", "met", "past the WAL written", |v| v as i64 >= written).await;
    // The flush lag is PostgreSQL's: a walsender's keepalive reports the WAL it has read past,
    // up to the start of a transaction it has not sent yet, and confirming that is safe (the
    // transaction is decoded again after a restart). The metric matches pg_replication_slots.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lag = metric(&worker, "pgcdc_slot_confirmed_flush_lag_bytes", "met").await.expect("flush lag");
    let truth: i64 = client
        .query_one("SELECT (pg_current_wal_insert_lsn() - confirmed_flush_lsn)::bigint FROM pg_replication_slots", &[])
        .await
        .expect("slot")
        .get(0);
    println!("broker frozen: wrote {written} B of WAL; retained {retained} B, flush lag {lag} B (pg_replication_slots: {truth} B)");
    assert!((lag as i64 - truth).abs() < 65_536, "metric {lag} vs pg_replication_slots {truth}");

    // WHEN the broker comes back
    broker.resume();
    wait_metric(&worker, "pgcdc_sink_batches_total", "met", "2 (the backlog durable)", |v| v >= 2).await;
    let after = wait_metric(&worker, "pgcdc_slot_confirmed_flush_lag_bytes", "met", "under 64 KiB again", |v| v < 65_536).await;
    println!("after the broker came back: flush lag {after} B");

    // The delivery side's counters moved with it: durable batches, each with its commit time.
    let batches = metric(&worker, "pgcdc_sink_batches_total", "met").await.expect("batches");
    let commits = metric(&worker, "pgcdc_sink_commit_seconds_count", "met").await.expect("commit histogram");
    let server = metric(&worker, "pgcdc_source_server_lsn", "met").await.expect("server lsn");
    let durable = metric(&worker, "pgcdc_durable_lsn", "met").await.expect("durable lsn");
    println!("{batches} batches, {commits} commits timed, server lsn {server}, durable lsn {durable}");
    assert!(batches >= 2, "at least the first row's batch and the backlog's: {batches}");
    assert_eq!(commits, batches, "one commit time per durable batch");
    assert!(server as i64 >= before + written, "the server's end of WAL as last reported: {server}");
    assert!(durable > 0 && durable <= server, "durable {durable} within the server's WAL {server}");
    let text = reqwest::get(format!("{}/metrics", worker.rest)).await.expect("metrics").text().await.expect("text");
    let inserts = text
        .lines()
        .find_map(|l| l.strip_prefix("pgcdc_source_table_events_total{connector=\"met\",table=\"public.t\",op=\"c\"} "))
        .and_then(|v| v.parse::<u64>().ok());
    assert_eq!(inserts, Some(15_001), "inserts counted by table and op");
    // librdkafka's own statistics of the producer: at least the record bytes went out
    // (uncompressed), and its queue drained.
    let sent = metric(&worker, "pgcdc_sink_bytes_total", "met").await.expect("sink bytes");
    let tx = wait_metric(&worker, "pgcdc_kafka_tx_bytes_total", "met", "past the record bytes", |v| v >= sent).await;
    let queued = wait_metric(&worker, "pgcdc_kafka_queue_messages", "met", "0", |v| v == 0).await;
    println!("librdkafka: {tx} B sent for {sent} B of keys and values; {queued} queued");
}

/// GIVEN two analyzed tables of 12,000 and 3,000 rows, WHEN a connector
/// snapshots them, THEN `pgcdc_snapshot_rows_estimated` is the planner's
/// estimate (15,000) and `pgcdc_snapshot_rows_read` reaches it: progress
/// and ETA come from those two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_progress_against_the_planners_estimate() {
    let broker = Broker::shared();
    let db = PgServer::shared().create_database("metrics_snap").await;
    db.execute(
        "CREATE TABLE a (id bigint PRIMARY KEY, pad text); CREATE TABLE b (id bigint PRIMARY KEY); \
         INSERT INTO a SELECT g, 'x' FROM generate_series(1, 12000) g; INSERT INTO b SELECT generate_series(1, 3000); \
         ANALYZE a; ANALYZE b",
    )
    .await;
    let worker = Worker::start(broker).await;
    let config = connector_config(&db, &unique_name("snapm"), &unique_name("slot"), &[("table.include.list", "public.a,public.b")]);
    let (code, body) = worker.register("snapm", config).await;
    assert_eq!(code, 201, "{body}");
    wait_metric(&worker, "pgcdc_snapshot_completed", "snapm", "1", |v| v == 1).await;
    let estimated = metric(&worker, "pgcdc_snapshot_rows_estimated", "snapm").await.expect("estimate");
    let read = metric(&worker, "pgcdc_snapshot_rows_read", "snapm").await.expect("rows read");
    println!("snapshot: read {read} of an estimated {estimated}");
    assert_eq!(estimated, 15_000);
    assert_eq!(read, 15_000);
}
