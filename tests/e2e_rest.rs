//! The Kafka Connect REST API and the connector lifecycle behind it, end to
//! end: every endpoint against a running `pgcdc run`, with what PostgreSQL
//! (`pg_replication_slots`) and a Kafka consumer see.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);
const PG_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";

/// `Some(active)` for the slot, `None` when it does not exist.
async fn slot_active(db: &TestDatabase, slot: &str) -> Option<bool> {
    let client = db.client().await;
    let rows = client
        .query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .expect("pg_replication_slots");
    rows.first().map(|r| r.get(0))
}

/// Polls until the slot's state is `want` (None = gone).
async fn wait_slot(db: &TestDatabase, slot: &str, want: Option<bool>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = slot_active(db, slot).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "slot {slot}: {got:?}, expected {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ids(records: &[crate::support::Consumed]) -> Vec<i64> {
    records.iter().map(|r| r.key_json()["payload"]["id"].as_i64().unwrap_or(-1)).collect()
}

async fn connector_state(worker: &Worker, name: &str) -> String {
    worker.status(name).await["connector"]["state"].as_str().unwrap_or_default().to_owned()
}

/// GIVEN a worker, WHEN every endpoint of the API is called as Kafka Connect
/// clients do, THEN each answers with Connect's status code and shape, and no
/// response carries the database password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_like_kafka_connect() {
    let db = PgServer::shared().create_database("rest").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let password = "pw-never-shown-7f3a";
    let slot = unique_name("slot");
    let mut config = connector_config(&db, &unique_name("rest"), &slot, &[]);
    config["database.password"] = json!(password);

    let (code, root) = worker.call(Method::GET, "/", None).await;
    assert_eq!(code, 200);
    assert_eq!(root["version"], env!("CARGO_PKG_VERSION"));
    assert!(root["commit"].is_string() && root.get("kafka_cluster_id").is_some(), "{root}");

    // POST: 201 with the info, 409 for the same name, 400 naming the field.
    let (code, info) = worker.register("c", config.clone()).await;
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["tasks"], json!([{"connector": "c", "task": 0}]));
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["database.password"], "[hidden]");
    let (code, body) = worker.register("c", config.clone()).await;
    assert_eq!((code, body["error_code"].clone()), (409, json!(409)));
    let mut bad = config.clone();
    bad["database.port"] = json!("seventy");
    let (code, body) = worker.register("bad", bad).await;
    assert_eq!(code, 400);
    assert!(body["message"].as_str().unwrap_or_default().contains("database.port"), "{body}");
    worker.wait_task_state("c", "RUNNING", TIMEOUT).await;

    // initial_state PAUSED and STOPPED.
    let mut paused_cfg = connector_config(&db, &unique_name("rest"), &unique_name("slot"), &[]);
    paused_cfg["database.password"] = json!(password);
    let body = json!({"name": "p", "config": paused_cfg, "initial_state": "PAUSED"});
    assert_eq!(worker.call(Method::POST, "/connectors", Some(&body)).await.0, 201);
    assert_eq!(worker.status("p").await["tasks"][0]["state"], "PAUSED");
    let body = json!({"name": "s", "config": connector_config(&db, "s", &unique_name("slot"), &[]), "initial_state": "STOPPED"});
    assert_eq!(worker.call(Method::POST, "/connectors", Some(&body)).await.0, 201);
    let status = worker.status("s").await;
    assert_eq!((status["connector"]["state"].clone(), status["tasks"].clone()), (json!("STOPPED"), json!([])));

    // GET /connectors, plain and expanded.
    let (code, list) = worker.call(Method::GET, "/connectors", None).await;
    assert_eq!((code, list), (200, json!(["c", "p", "s"])));
    let (_, expanded) = worker.call(Method::GET, "/connectors?expand=status&expand=info", None).await;
    assert_eq!(expanded["c"]["status"]["tasks"][0]["state"], "RUNNING");
    assert_eq!(expanded["p"]["status"]["connector"]["state"], "PAUSED");
    assert_eq!(expanded["c"]["info"]["config"]["slot.name"], slot.as_str());
    let (_, only_status) = worker.call(Method::GET, "/connectors?expand=status", None).await;
    assert!(only_status["c"].get("info").is_none() && only_status["c"]["status"].is_object(), "{only_status}");

    // GET connector, config, status, tasks, task status.
    let (code, got) = worker.call(Method::GET, "/connectors/c", None).await;
    assert_eq!(code, 200);
    assert_eq!(got["config"]["database.password"], "[hidden]");
    let (code, cfg) = worker.call(Method::GET, "/connectors/c/config", None).await;
    assert_eq!((code, cfg["connector.class"].clone()), (200, json!(PG_CLASS)));
    let (code, tasks) = worker.call(Method::GET, "/connectors/c/tasks", None).await;
    assert_eq!(code, 200);
    assert_eq!(tasks[0]["id"], json!({"connector": "c", "task": 0}));
    let (code, task) = worker.call(Method::GET, "/connectors/c/tasks/0/status", None).await;
    assert_eq!((code, task["id"].clone(), task["state"].clone()), (200, json!(0), json!("RUNNING")));
    assert_eq!(worker.call(Method::GET, "/connectors/c/tasks/7/status", None).await.0, 404);

    // PUT config with the hidden password sent back keeps it; PATCH merges.
    let mut cfg = cfg;
    cfg["tombstones.on.delete"] = json!("false");
    let (code, body) = worker.call(Method::PUT, "/connectors/c/config", Some(&cfg)).await;
    assert_eq!(code, 200, "{body}");
    worker.wait_task_state("c", "RUNNING", TIMEOUT).await;
    let (code, body) = worker.call(Method::PATCH, "/connectors/c/config", Some(&json!({"tombstones.on.delete": null}))).await;
    assert_eq!(code, 200, "{body}");
    assert!(body["config"].get("tombstones.on.delete").is_none(), "{body}");
    worker.wait_task_state("c", "RUNNING", TIMEOUT).await;
    let (code, created) = worker.call(Method::PUT, "/connectors/new/config", Some(&connector_config(&db, "n", &unique_name("slot"), &[]))).await;
    assert_eq!((code, created["name"].clone()), (201, json!("new")));
    assert_eq!(worker.call(Method::DELETE, "/connectors/new", None).await.0, 204);

    // The password still works: the connector streams.
    db.execute("INSERT INTO t VALUES (1, 'a')").await;
    let topic = format!("{}.public.t", config["topic.prefix"].as_str().unwrap());
    assert_eq!(ids(&broker.consume(&topic, 1, TIMEOUT).await), [1]);

    // Restarts: plain 204, with flags 202 and the status.
    assert_eq!(worker.call(Method::POST, "/connectors/c/restart", None).await.0, 204);
    let (code, body) = worker.call(Method::POST, "/connectors/c/restart?includeTasks=true&onlyFailed=false", None).await;
    assert_eq!((code, body["name"].clone()), (202, json!("c")));
    let (code, body) = worker.call(Method::POST, "/connectors/c/restart?includeTasks=true&onlyFailed=true", None).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(worker.call(Method::POST, "/connectors/c/tasks/0/restart", None).await.0, 204);
    assert_eq!(worker.call(Method::POST, "/connectors/c/tasks/3/restart", None).await.0, 404);
    worker.wait_task_state("c", "RUNNING", TIMEOUT).await;

    // Offsets change only while STOPPED.
    let patch = json!({"offsets": [{"partition": {"server": "x"}, "offset": {"lsn": 1}}]});
    let (code, body) = worker.call(Method::PATCH, "/connectors/c/offsets", Some(&patch)).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("STOPPED"), "{body}");
    assert_eq!(worker.call(Method::DELETE, "/connectors/c/offsets", None).await.0, 400);
    assert_eq!(worker.call(Method::GET, "/connectors/none/offsets", None).await.0, 404);

    // Plugins, definitions, validation with per-field errors.
    let (code, plugins) = worker.call(Method::GET, "/connector-plugins", None).await;
    assert_eq!((code, plugins[0]["class"].clone(), plugins.as_array().map(Vec::len)), (200, json!(PG_CLASS), Some(1)));
    let (_, all) = worker.call(Method::GET, "/connector-plugins?connectorsOnly=false", None).await;
    assert!(all.as_array().is_some_and(|a| a.iter().any(|p| p["type"] == "transformation")), "{all}");
    let (code, defs) = worker.call(Method::GET, "/connector-plugins/PostgresConnector/config", None).await;
    assert_eq!(code, 200);
    assert!(defs.as_array().is_some_and(|d| d.iter().any(|x| x["name"] == "slot.drop.on.stop")), "{defs}");
    assert_eq!(worker.call(Method::GET, "/connector-plugins/com.example.Nope/config", None).await.0, 404);
    let mut invalid = config.clone();
    invalid["name"] = json!("v");
    invalid["errors.max.retries"] = json!("-5");
    invalid.as_object_mut().unwrap().remove("database.hostname");
    let uri = format!("/connector-plugins/{PG_CLASS}/config/validate");
    let (code, v) = worker.call(Method::PUT, &uri, Some(&invalid)).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["error_count"], 2, "{v}");
    let errors_of = |name: &str| {
        v["configs"].as_array().unwrap().iter().find(|c| c["value"]["name"] == name).map(|c| c["value"]["errors"].clone())
    };
    assert_eq!(errors_of("errors.max.retries").and_then(|e| e.as_array().map(Vec::len)), Some(1));
    assert_eq!(errors_of("database.hostname").and_then(|e| e.as_array().map(Vec::len)), Some(1));
    assert_eq!(errors_of("database.port"), Some(json!([])));

    // Pause, resume, stop: 202, 202, 204, and the states Connect reports.
    assert_eq!(worker.call(Method::PUT, "/connectors/c/pause", None).await.0, 202);
    assert_eq!(connector_state(&worker, "c").await, "PAUSED");
    assert_eq!(worker.call(Method::PUT, "/connectors/c/resume", None).await.0, 202);
    worker.wait_task_state("c", "RUNNING", TIMEOUT).await;
    assert_eq!(worker.call(Method::PUT, "/connectors/c/stop", None).await.0, 204);
    assert_eq!(connector_state(&worker, "c").await, "STOPPED");
    let (code, body) = worker.call(Method::GET, "/connectors/c/offsets", None).await;
    assert!(code == 200 || code == 400, "{code} {body}");

    // Error shapes.
    for (method, path) in [(Method::GET, "/connectors/zz"), (Method::GET, "/connectors/zz/status"), (Method::PUT, "/connectors/zz/pause")] {
        let (code, body) = worker.call(method, path, None).await;
        assert_eq!((code, body["error_code"].clone()), (404, json!(404)), "{path}");
        assert!(body["message"].is_string());
    }

    // The served OpenAPI document is the repository's.
    let served = reqwest::get(format!("{}/openapi.yaml", worker.rest)).await.unwrap().text().await.unwrap();
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
    assert_eq!(served, file);

    // DELETE: 204, then 404.
    for name in ["c", "p", "s"] {
        assert_eq!(worker.call(Method::DELETE, &format!("/connectors/{name}"), None).await.0, 204);
    }
    assert_eq!(worker.call(Method::DELETE, "/connectors/c", None).await.0, 404);
    assert_eq!(worker.call(Method::GET, "/connectors", None).await.1, json!([]));
    assert!(!worker.log().contains(password), "the password appears in the worker log");
}

/// GIVEN a streaming connector, WHEN it is paused, rows change, and it is
/// resumed, THEN during the pause the slot is kept but inactive and nothing is
/// published, and after the resume every change arrives, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_keeps_the_slot_and_resume_loses_nothing() {
    let db = PgServer::shared().create_database("pause").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let (prefix, slot) = (unique_name("pause"), unique_name("slot"));
    assert_eq!(worker.register("p", connector_config(&db, &prefix, &slot, &[])).await.0, 201);
    worker.wait_task_state("p", "RUNNING", TIMEOUT).await;
    let topic = format!("{prefix}.public.t");
    db.execute("INSERT INTO t VALUES (1)").await;
    assert_eq!(ids(&broker.consume(&topic, 1, TIMEOUT).await), [1]);

    assert_eq!(worker.call(Method::PUT, "/connectors/p/pause", None).await.0, 202);
    wait_slot(&db, &slot, Some(false)).await;
    db.execute("INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)").await;
    assert_eq!(ids(&broker.consume(&topic, 2, Duration::from_secs(3)).await), [1], "published while paused");
    assert_eq!(slot_active(&db, &slot).await, Some(false));

    assert_eq!(worker.call(Method::PUT, "/connectors/p/resume", None).await.0, 202);
    worker.wait_task_state("p", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (4)").await;
    let got = broker.consume(&topic, 4, TIMEOUT).await;
    assert_eq!(ids(&got), [1, 2, 3, 4]);
    assert_eq!(ids(&broker.consume(&topic, 5, Duration::from_secs(2)).await), [1, 2, 3, 4], "duplicates");
}

/// GIVEN one connector with `slot.drop.on.stop=true` and one without, WHEN
/// they are stopped and deleted, THEN stop releases the first one's slot, a
/// resume creates it again, delete drops it, and the second slot survives both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_dropped_on_stop_and_delete_only_when_configured() {
    let db = PgServer::shared().create_database("slotdrop").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let (drop_slot, keep_slot) = (unique_name("slot_drop"), unique_name("slot_keep"));
    let dropping = connector_config(&db, &unique_name("d"), &drop_slot, &[("slot.drop.on.stop", "true")]);
    let keeping = connector_config(&db, &unique_name("k"), &keep_slot, &[]);
    assert_eq!(worker.register("dropping", dropping).await.0, 201);
    assert_eq!(worker.register("keeping", keeping).await.0, 201);
    worker.wait_task_state("dropping", "RUNNING", TIMEOUT).await;
    worker.wait_task_state("keeping", "RUNNING", TIMEOUT).await;
    wait_slot(&db, &drop_slot, Some(true)).await;

    assert_eq!(worker.call(Method::PUT, "/connectors/dropping/pause", None).await.0, 202);
    wait_slot(&db, &drop_slot, Some(false)).await;
    assert_eq!(worker.call(Method::PUT, "/connectors/dropping/stop", None).await.0, 204);
    wait_slot(&db, &drop_slot, None).await;
    assert_eq!(worker.call(Method::PUT, "/connectors/keeping/stop", None).await.0, 204);
    wait_slot(&db, &keep_slot, Some(false)).await;

    assert_eq!(worker.call(Method::PUT, "/connectors/dropping/resume", None).await.0, 202);
    worker.wait_task_state("dropping", "RUNNING", TIMEOUT).await;
    wait_slot(&db, &drop_slot, Some(true)).await;
    assert_eq!(worker.call(Method::DELETE, "/connectors/dropping", None).await.0, 204);
    wait_slot(&db, &drop_slot, None).await;
    assert_eq!(worker.call(Method::DELETE, "/connectors/keeping", None).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slot_active(&db, &keep_slot).await, Some(false), "the slot without slot.drop.on.stop is kept");
    db.execute(&format!("SELECT pg_drop_replication_slot('{keep_slot}')")).await;
}

/// GIVEN a running and a paused connector, WHEN the worker is stopped, rows
/// change, and it starts again with the same state directory, THEN both are
/// registered with their target states and streaming continues where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_restart_preserves_connectors_and_streaming() {
    let db = PgServer::shared().create_database("wrestart").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let mut worker = Worker::start(broker).await;
    let prefix = unique_name("wr");
    assert_eq!(worker.register("live", connector_config(&db, &prefix, &unique_name("slot"), &[])).await.0, 201);
    let held = json!({"name": "held", "config": connector_config(&db, &unique_name("h"), &unique_name("slot"), &[]), "initial_state": "PAUSED"});
    assert_eq!(worker.call(Method::POST, "/connectors", Some(&held)).await.0, 201);
    worker.wait_task_state("live", "RUNNING", TIMEOUT).await;
    let topic = format!("{prefix}.public.t");
    db.execute("INSERT INTO t VALUES (1)").await;
    assert_eq!(ids(&broker.consume(&topic, 1, TIMEOUT).await), [1]);
    let before = worker.call(Method::GET, "/connectors/live", None).await.1;

    let status = worker.terminate();
    assert!(status.success(), "{status}");
    db.execute("INSERT INTO t VALUES (2)").await;
    worker.start_again().await;

    assert_eq!(worker.call(Method::GET, "/connectors", None).await.1, json!(["held", "live"]));
    assert_eq!(worker.call(Method::GET, "/connectors/live", None).await.1, before);
    worker.wait_task_state("live", "RUNNING", TIMEOUT).await;
    assert_eq!(connector_state(&worker, "held").await, "PAUSED");
    db.execute("INSERT INTO t VALUES (3)").await;
    assert_eq!(ids(&broker.consume(&topic, 3, TIMEOUT).await), [1, 2, 3]);
    assert_eq!(ids(&broker.consume(&topic, 4, Duration::from_secs(2)).await), [1, 2, 3], "duplicates");

    // And a restart through the helper that terminates itself.
    worker.restart_graceful().await;
    worker.wait_task_state("live", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (4)").await;
    assert_eq!(ids(&broker.consume(&topic, 4, TIMEOUT).await), [1, 2, 3, 4]);
}

/// GIVEN a database port nobody listens on and `errors.max.retries=2`, WHEN the
/// connector starts, THEN it reports RESTARTING with the cause while it backs
/// off, and FAILED with a trace naming the retry limit once the retries are spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failure_restarts_then_fails_after_max_retries() {
    let db = PgServer::shared().create_database("retry").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = connector_config(
        &db,
        &unique_name("retry"),
        &unique_name("slot"),
        &[("errors.max.retries", "2"), ("errors.retry.delay.initial.ms", "700"), ("errors.retry.delay.max.ms", "1500")],
    );
    config["database.port"] = json!(closed_port.to_string());
    assert_eq!(worker.register("r", config).await.0, 201);
    let restarting = worker.wait_task_state("r", "RESTARTING", TIMEOUT).await;
    assert!(restarting["tasks"][0]["trace"].as_str().is_some_and(|t| !t.is_empty()), "{restarting}");
    let failed = worker.wait_task_state("r", "FAILED", TIMEOUT).await;
    let trace = failed["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("errors.max.retries") && trace.contains("restart"), "{trace}");
    assert_eq!(failed["connector"]["state"], "RUNNING");
}

/// GIVEN a worker with basic auth, WHEN clients call it with and without the
/// credentials, THEN only `GET /` answers without them, everything answers with
/// them, and no response or log line shows the database password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_guards_the_api_and_secrets_stay_hidden() {
    let db = PgServer::shared().create_database("auth").await;
    let broker = Broker::shared();
    let rest_password = "rest-pw-91c2";
    let mut worker = Worker::start_with(
        broker,
        &[("PGCDC_REST__AUTH__TYPE", "basic"), ("PGCDC_REST__AUTH__USER", "ops"), ("PGCDC_REST__AUTH__PASSWORD", rest_password)],
    )
    .await;
    assert_eq!(worker.call(Method::GET, "/", None).await.0, 200);
    for path in ["/connectors", "/connector-plugins", "/openapi.yaml", "/connectors/x/status"] {
        assert_eq!(worker.call(Method::GET, path, None).await.0, 401, "{path}");
    }
    worker.authorization = Some(format!("Basic {}", base64_encode(&format!("ops:{}x", rest_password))));
    assert_eq!(worker.call(Method::GET, "/connectors", None).await.0, 401);
    worker.authorization = Some(format!("Basic {}", base64_encode(&format!("ops:{rest_password}"))));
    assert_eq!(worker.call(Method::GET, "/connectors", None).await, (200, json!([])));

    let db_password = "db-pw-never-shown-55e1";
    let mut config = connector_config(&db, &unique_name("auth"), &unique_name("slot"), &[]);
    config["database.password"] = json!(db_password);
    config["schema.registry.basic.auth.user.info.secret"] = json!("also-hidden-0b7d");
    let (code, body) = worker.register("a", config.clone()).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("a", "RUNNING", TIMEOUT).await;
    let mut responses = vec![body];
    for path in ["/connectors/a", "/connectors/a/config", "/connectors/a/tasks", "/connectors?expand=info&expand=status"] {
        let (code, body) = worker.call(Method::GET, path, None).await;
        assert_eq!(code, 200, "{path}");
        responses.push(body);
    }
    let (_, validated) = worker.call(Method::PUT, &format!("/connector-plugins/{PG_CLASS}/config/validate"), Some(&config)).await;
    responses.push(validated);
    for body in &responses {
        let text = body.to_string();
        assert!(!text.contains(db_password) && !text.contains("also-hidden-0b7d"), "secret in a response: {text}");
    }
    assert!(responses[2]["database.password"] == "[hidden]", "{}", responses[2]);
    let log = worker.log();
    for secret in [db_password, "also-hidden-0b7d", rest_password] {
        assert!(!log.contains(secret), "{secret} appears in the worker log");
    }
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// GIVEN a connector that delivered row 1 and was stopped, WHEN rows 2 and 3
/// are committed, its offset is PATCHed to the WAL position between the two
/// commits and it is resumed, THEN only row 3 arrives: the resume point
/// moved. DELETE then removes the stored offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_patch_moves_the_resume_point_and_delete_resets_it() {
    let db = PgServer::shared().create_database("offsets").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let (prefix, slot) = (unique_name("offs"), unique_name("slot"));
    assert_eq!(worker.register("o", connector_config(&db, &prefix, &slot, &[])).await.0, 201);
    worker.wait_task_state("o", "RUNNING", TIMEOUT).await;
    let topic = format!("{prefix}.public.t");
    db.execute("INSERT INTO t VALUES (1)").await;
    assert_eq!(ids(&broker.consume(&topic, 1, TIMEOUT).await), [1]);

    let (code, body) = worker.call(Method::GET, "/connectors/o/offsets", None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["offsets"][0]["partition"], json!({ "server": prefix }));
    let delivered = body["offsets"][0]["offset"]["lsn"].as_u64().expect("stored lsn");

    assert_eq!(worker.call(Method::PUT, "/connectors/o/stop", None).await.0, 204);
    wait_slot(&db, &slot, Some(false)).await;
    db.execute("INSERT INTO t VALUES (2)").await;
    let between: pgcdc::lsn::Lsn = db.current_wal_lsn().await.parse().expect("an LSN");
    db.execute("INSERT INTO t VALUES (3)").await;
    assert!(between.as_u64() > delivered);

    let patch = json!({"offsets": [{"partition": {"server": prefix}, "offset": {"lsn": between.as_u64()}}]});
    let (code, body) = worker.call(Method::PATCH, "/connectors/o/offsets", Some(&patch)).await;
    assert_eq!(code, 200, "{body}");
    let (_, body) = worker.call(Method::GET, "/connectors/o/offsets", None).await;
    assert_eq!(body["offsets"][0]["offset"]["lsn_commit"], between.as_u64(), "{body}");

    assert_eq!(worker.call(Method::PUT, "/connectors/o/resume", None).await.0, 202);
    worker.wait_task_state("o", "RUNNING", TIMEOUT).await;
    let got = broker.consume(&topic, 2, TIMEOUT).await;
    assert_eq!(ids(&got), [1, 3], "row 2 committed before the altered offset is skipped");
    assert_eq!(ids(&broker.consume(&topic, 3, Duration::from_secs(3)).await), [1, 3]);

    assert_eq!(worker.call(Method::PUT, "/connectors/o/stop", None).await.0, 204);
    let (code, body) = worker.call(Method::DELETE, "/connectors/o/offsets", None).await;
    assert_eq!(code, 200, "{body}");
    let (_, body) = worker.call(Method::GET, "/connectors/o/offsets", None).await;
    assert_eq!(body, json!({ "offsets": [] }));
}

/// The slot's `confirmed_flush_lsn` is not past the server's end of WAL.
async fn assert_slot_within_wal(db: &TestDatabase, slot: &str) {
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT confirmed_flush_lsn <= pg_current_wal_insert_lsn(), confirmed_flush_lsn::text \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("pg_replication_slots");
    let (within, confirmed): (bool, String) = (row.get(0), row.get(1));
    assert!(within, "slot {slot} confirmed {confirmed}, beyond the server's WAL");
}

/// GIVEN a connector that delivered row 1 and was stopped, WHEN its offset
/// is PATCHed to an LSN far beyond the server's WAL (18446744073709551615)
/// and it is resumed, THEN the PATCH is refused with a 400 naming the field,
/// the value and the current WAL position, the slot stays within the WAL,
/// and a row inserted after the resume is published. AND a stored offset
/// beyond the WAL that got there another way fails the connector with a
/// trace saying how to fix it, and DELETE offsets + resume recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_beyond_the_servers_wal_is_refused_and_changes_keep_flowing() {
    let db = PgServer::shared().create_database("walbound").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let (prefix, slot) = (unique_name("wb"), unique_name("slot"));
    let config = connector_config(&db, &prefix, &slot, &[("snapshot.mode", "no_data")]);
    assert_eq!(worker.register("w", config).await.0, 201);
    worker.wait_task_state("w", "RUNNING", TIMEOUT).await;
    let topic = format!("{prefix}.public.t");
    db.execute("INSERT INTO t VALUES (1)").await;
    assert_eq!(ids(&broker.consume(&topic, 1, TIMEOUT).await), [1]);

    assert_eq!(worker.call(Method::PUT, "/connectors/w/stop", None).await.0, 204);
    wait_slot(&db, &slot, Some(false)).await;
    let patch = json!({"offsets": [{"partition": {"server": prefix}, "offset": {"lsn": u64::MAX}}]});
    let (code, body) = worker.call(Method::PATCH, "/connectors/w/offsets", Some(&patch)).await;
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    for part in ["\"lsn\"", "18446744073709551615", "current WAL position"] {
        assert!(message.contains(part), "{part} missing from {message}");
    }
    assert_eq!(worker.call(Method::PUT, "/connectors/w/resume", None).await.0, 202);
    worker.wait_task_state("w", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (2)").await;
    assert_eq!(ids(&broker.consume(&topic, 2, TIMEOUT).await), [1, 2], "changes after the refused PATCH are published");
    assert_slot_within_wal(&db, &slot).await;

    // A stored offset beyond the WAL written behind the API's back.
    assert_eq!(worker.call(Method::PUT, "/connectors/w/stop", None).await.0, 204);
    wait_slot(&db, &slot, Some(false)).await;
    let store = pgcdc::offsets::OffsetStore::new(broker.bootstrap.clone(), pgcdc::offsets::DEFAULT_OFFSET_STORAGE_TOPIC);
    let bogus = pgcdc::offsets::SourceOffset::after_commit(pgcdc::lsn::Lsn(u64::MAX), 1, 0);
    store.write("w", &prefix, Some(&bogus), 1).await.expect("write the bogus offset");
    assert_eq!(worker.call(Method::PUT, "/connectors/w/resume", None).await.0, 202);
    let status = worker.wait_task_state("w", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    for part in ["FFFFFFFF/FFFFFFFF", "ahead of the server's current WAL position", "DELETE /connectors/w/offsets"] {
        assert!(trace.contains(part), "{part} missing from {trace}");
    }
    assert_slot_within_wal(&db, &slot).await;

    assert_eq!(worker.call(Method::PUT, "/connectors/w/stop", None).await.0, 204);
    assert_eq!(worker.call(Method::DELETE, "/connectors/w/offsets", None).await.0, 200);
    assert_eq!(worker.call(Method::PUT, "/connectors/w/resume", None).await.0, 202);
    worker.wait_task_state("w", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (3)").await;
    assert_eq!(ids(&broker.consume(&topic, 3, TIMEOUT).await), [1, 2, 3], "row 3 published after the reset");
    assert_slot_within_wal(&db, &slot).await;
}

/// GIVEN a worker on a broker, WHEN `GET /` is called, THEN `kafka_cluster_id`
/// is the cluster id of the broker's metadata, as Kafka Connect answers (it
/// used to be null).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_answers_the_kafka_cluster_id() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let broker = Broker::shared();
    let bootstrap = broker.bootstrap.clone();
    let expected = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer =
            rdkafka::ClientConfig::new().set("bootstrap.servers", &bootstrap).create().expect("kafka client");
        consumer.client().fetch_cluster_id(Duration::from_secs(10))
    })
    .await
    .expect("cluster id lookup")
    .expect("the broker reports a cluster id");
    let worker = Worker::start(broker).await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (code, root) = worker.call(Method::GET, "/", None).await;
        assert_eq!(code, 200, "{root}");
        if !root["kafka_cluster_id"].is_null() {
            assert_eq!(root["kafka_cluster_id"], expected.as_str(), "{root}");
            return;
        }
        assert!(Instant::now() < deadline, "kafka_cluster_id still null: {root}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
