//! `GET /ready` against a running `pgcdc run`: what a Kubernetes readiness
//! probe sees from start to exit (the liveness probe stays on `/health`).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::load::{create_tables, Load, Rng};
use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

/// GIVEN a worker whose connector streams a load, WHEN it gets SIGTERM while
/// the broker is frozen (so stopping the connector takes until
/// `worker.shutdown_timeout_ms`), THEN `/ready`, 200 before, answers 503
/// SHUTTING_DOWN during the shutdown while `/health` still answers 200, and
/// a second SIGTERM makes it exit at once (code 130).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_from_the_moment_shutdown_begins() {
    let broker = Broker::dedicated();
    let db = PgServer::shared().create_database("rest_ready").await;
    create_tables(&db).await;
    let mut worker = Worker::start_with(&broker, &[("PGCDC_WORKER__SHUTDOWN_TIMEOUT_MS", "8000")]).await;
    assert_eq!(worker.call(Method::GET, "/ready", None).await, (200, json!({"status": "READY"})));
    let config = connector_config(&db, &unique_name("ready"), &unique_name("slot"), &[("table.include.list", "public.t")]);
    let (code, body) = worker.register("ready", config).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("ready", "RUNNING", TIMEOUT).await;
    let load = Load::start(&db, Rng::seeded().next());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // WHEN
    broker.pause();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = load.stop().await;
    let signalled = Instant::now();
    let sent = std::process::Command::new("kill").arg("-TERM").arg(worker.pid().to_string()).status().unwrap();
    assert!(sent.success());

    // THEN
    let mut seen = None;
    while signalled.elapsed() < Duration::from_secs(5) {
        let (code, body) = worker.call(Method::GET, "/ready", None).await;
        if code == 503 {
            seen = Some((signalled.elapsed(), body));
            break;
        }
        assert_eq!(code, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (after, body) = seen.unwrap_or_else(|| panic!("/ready never answered 503 after SIGTERM:\n{}", worker.log()));
    println!("/ready 503 {after:?} after SIGTERM: {body}");
    assert_eq!(body["status"], "SHUTTING_DOWN", "{body}");
    let (code, health) = worker.call(Method::GET, "/health", None).await;
    assert_eq!(code, 200, "liveness holds during shutdown: {health}");
    // A second SIGTERM ends the shutdown at once (the connector is still
    // waiting for the frozen broker; its open transaction is redone after a restart).
    let second = Instant::now();
    let status = tokio::task::block_in_place(|| worker.terminate());
    let took = second.elapsed();
    broker.resume();
    println!("exit {status} {took:?} after the second SIGTERM");
    assert_eq!(status.code(), Some(130), "a forced exit is reported as such:\n{}", worker.log());
    assert!(took < Duration::from_secs(3), "the worker took {took:?} to exit on the second signal:\n{}", worker.log());
    assert!(worker.log().contains("second stop signal"), "{}", worker.log());
}
