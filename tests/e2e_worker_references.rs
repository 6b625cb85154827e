//! `${env:}` / `${file:}` references in the worker's own configuration, on a real worker
//! process: the REST credentials come from a properties file, the broker address from an
//! environment variable, and neither value is logged.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

/// GIVEN a worker file whose `[rest.auth]` bearer token is `${file:…:token}` and whose broker
/// address (`PGCDC_KAFKA__BOOTSTRAP_SERVERS`) is `${env:…}`,
/// WHEN the worker starts and a connector is registered,
/// THEN the API wants exactly the file's token, the connector delivers to the broker the
/// variable names, and the worker's log shows neither the token nor the reference's value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_config_references_resolve_from_env_and_file() {
    let db = PgServer::shared().create_database("worker_refs").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let secrets = tempfile::tempdir().expect("temp dir");
    let token = "file-token-5d1e";
    std::fs::write(secrets.path().join("rest.properties"), format!("token = {token}\n")).expect("secret file");
    let config = secrets.path().join("w.toml");
    std::fs::write(
        &config,
        format!("[rest.auth]\ntype = \"bearer\"\ntoken = \"${{file:{}:token}}\"\n", secrets.path().join("rest.properties").display()),
    )
    .expect("worker file");
    let mut worker = Worker::start_at(
        "${env:PGCDC_TEST_BROKER_ADDRESS}",
        &[("PGCDC_CONFIG", config.to_str().expect("utf-8")), ("PGCDC_TEST_BROKER_ADDRESS", &broker.bootstrap)],
    )
    .await;
    assert_eq!(worker.call(Method::GET, "/connectors", None).await.0, 401);
    worker.authorization = Some(format!("Bearer {token}x"));
    assert_eq!(worker.call(Method::GET, "/connectors", None).await.0, 401);
    worker.authorization = Some(format!("Bearer {token}"));
    assert_eq!(worker.call(Method::GET, "/connectors", None).await, (200, json!([])));
    let prefix = unique_name("wrefs");
    let (code, body) = worker
        .register("wrefs", connector_config(&db, &prefix, &unique_name("slot"), &[("slot.drop.on.stop", "true")]))
        .await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("wrefs", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (7)").await;
    let got = broker.consume(&format!("{prefix}.public.t"), 1, TIMEOUT).await;
    assert_eq!(got.len(), 1, "{}", worker.log());
    assert!(!worker.log().contains(token), "the token is never logged");
}
