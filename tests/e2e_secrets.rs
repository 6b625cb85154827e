//! Config providers and secrets against a running `pgcdc run` (security
//! review, issue 10): a REST caller must not read the worker's files or
//! environment through `${file:…}`/`${env:…}`, nor another connector's password.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const VALIDATE: &str = "/connector-plugins/PostgresConnector/config/validate";

/// A connector holding a password, registered STOPPED (it never needs to connect).
async fn register_victim(worker: &Worker, password: &str) {
    let config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1", "database.port": "1", "database.user": "u",
        "database.password": password, "database.dbname": "d", "plugin.name": "pgoutput",
    });
    let body = json!({"name": "victim", "config": config, "initial_state": "STOPPED"});
    let (code, v) = worker.call(Method::POST, "/connectors", Some(&body)).await;
    assert_eq!(code, 201, "{v}");
}

/// The attack of the review: a provider reference in a non-secret property
/// whose error message used to print the resolved value.
fn attack(worker: &Worker) -> Value {
    let state_ref = format!("${{file:{}:\"database.password\"}}", worker.state_file().display());
    json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "snapshot.mode": state_ref,
        "slot.name": "${env:PATH}",
        "topic.prefix": "${file:/etc/passwd:root}",
        "database.hostname": "h", "database.user": "u", "database.dbname": "d", "plugin.name": "pgoutput",
    })
}

fn assert_nothing_leaked(what: &str, text: &str, password: &str) {
    let path = std::env::var("PATH").unwrap_or_default();
    assert!(!text.contains(password), "{what}: another connector's password leaked: {text}");
    assert!(path.is_empty() || !text.contains(&path), "{what}: $PATH leaked: {text}");
    assert!(!text.contains("x:0:0"), "{what}: /etc/passwd leaked: {text}");
}

/// GIVEN a worker with the default configuration (no providers) and a
/// connector holding a password, WHEN a REST caller validates and registers
/// configs referencing the state file, /etc/passwd and $PATH, THEN every
/// answer names the reference and how to enable providers, and none holds a
/// resolved value; nothing resolved reaches the log either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_references_from_rest_resolve_nothing_by_default() {
    let worker = Worker::start(Broker::shared()).await;
    let password = "victim-pw-5b8e1d";
    register_victim(&worker, password).await;
    assert!(std::fs::read_to_string(worker.state_file()).unwrap().contains(password), "the state file holds the secret");

    let (code, v) = worker.call(Method::PUT, VALIDATE, Some(&attack(&worker))).await;
    assert_eq!(code, 200, "{v}");
    assert_nothing_leaked("validate", &v.to_string(), password);
    assert!(v["error_count"].as_u64().unwrap_or(0) >= 3, "{v}");
    assert!(v.to_string().contains("[config_providers.file]"), "{v}");

    let (code, v) = worker.register(&unique_name("attack"), attack(&worker)).await;
    assert_eq!(code, 400, "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.contains("snapshot.mode") && message.contains("[config_providers.env]"), "{v}");
    assert_nothing_leaked("POST /connectors", &v.to_string(), password);
    assert_nothing_leaked("worker log", &worker.log(), password);
}

/// GIVEN a worker whose [config_providers] allow one secrets directory and one
/// variable, WHEN connectors use them, THEN they run with the resolved values,
/// the API shows only the references, and a file outside the directory (the
/// state file) answers like a missing one, without its content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisted_providers_work_and_nothing_else_resolves() {
    let db = PgServer::shared().create_database("secrets").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("db.properties"), "password=postgres\nslot=from_file_slot\n").unwrap();
    let allowed_paths = format!("[\"{}\"]", secrets.path().display());
    let var = "PGCDC_E2E_SECRET_PREFIX";
    let prefix = unique_name("e2e_secrets");
    let worker = Worker::start_with(
        Broker::shared(),
        &[
            ("PGCDC_CONFIG_PROVIDERS__FILE__ALLOWED_PATHS", allowed_paths.as_str()),
            ("PGCDC_CONFIG_PROVIDERS__ENV__ALLOWED_NAMES", "[\"PGCDC_E2E_*\"]"),
            (var, prefix.as_str()),
        ],
    )
    .await;
    let password = "victim-pw-9c2f40";
    register_victim(&worker, password).await;

    let (code, v) = worker.call(Method::PUT, VALIDATE, Some(&attack(&worker))).await;
    assert_eq!(code, 200, "{v}");
    assert_nothing_leaked("validate", &v.to_string(), password);
    assert!(v.to_string().contains("is not under the worker's [config_providers.file] allowed_paths"), "{v}");

    let file = secrets.path().join("db.properties");
    let name = unique_name("provided");
    let config = connector_config(
        &db,
        &format!("${{env:{var}}}"),
        &unique_name("slot"),
        &[("database.password", &format!("${{file:{}:password}}", file.display()))],
    );
    let (code, v) = worker.register(&name, config).await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["config"]["topic.prefix"], format!("${{env:{var}}}"), "the reference is shown, not its value");
    assert_eq!(v["config"]["database.password"], "[hidden]");
    worker.wait_task_state(&name, "RUNNING", Duration::from_secs(60)).await;
    let (code, v) = worker.call(Method::GET, "/connectors?expand=info", None).await;
    assert_eq!(code, 200);
    assert_nothing_leaked("expand=info", &v.to_string(), password);
    assert_nothing_leaked("worker log", &worker.log(), password);
}
