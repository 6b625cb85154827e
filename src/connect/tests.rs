//! REST and herder tests against a fake runtime.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::config::connector::ConnectorConfig;

/// Records starts, stops, slot drops and offset calls; every task reports `state`.
#[derive(Default)]
pub(super) struct FakeRuntime {
    pub(super) started: Mutex<Vec<String>>,
    stopped: Arc<Mutex<Vec<String>>>,
    state: Arc<Mutex<Option<TaskState>>>,
    /// `(connector, slot)` of every `drop_slot`, with the stops recorded before it.
    dropped: Arc<Mutex<Vec<(String, String, usize)>>>,
    /// The offsets `offsets` returns; `alter_offsets` replaces them, `reset_offsets` empties them.
    offsets: Arc<Mutex<Option<Value>>>,
}

struct FakeTask {
    name: String,
    stopped: Arc<Mutex<Vec<String>>>,
    state: Arc<Mutex<Option<TaskState>>>,
}

impl TaskHandle for FakeTask {
    fn state(&self) -> TaskState {
        self.state.lock().unwrap().clone().unwrap_or(TaskState::Running)
    }
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.stopped.lock().unwrap().push(self.name.clone()) })
    }
}

impl ConnectorRuntime for FakeRuntime {
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle> {
        self.started.lock().unwrap().push(config.name.clone());
        Box::new(FakeTask { name: config.name, stopped: self.stopped.clone(), state: self.state.clone() })
    }
    fn kafka_cluster_id(&self) -> Option<String> {
        Some("cluster-1".into())
    }
    fn drop_slot(&self, config: &ConnectorConfig) -> BoxFuture<'static, Result<(), runtime::RuntimeError>> {
        let stops = self.stopped.lock().unwrap().len();
        self.dropped.lock().unwrap().push((config.name.clone(), config.slot_name.clone(), stops));
        Box::pin(async { Ok(()) })
    }
    fn offsets(&self, _config: &ConnectorConfig) -> BoxFuture<'static, Result<Value, runtime::RuntimeError>> {
        let offsets = self.offsets.lock().unwrap().clone();
        Box::pin(async move { offsets.ok_or(runtime::RuntimeError::Unsupported("reading connector offsets")) })
    }
    fn alter_offsets(&self, _config: &ConnectorConfig, offsets: Value) -> BoxFuture<'static, Result<(), runtime::RuntimeError>> {
        if offsets[0]["offset"]["lsn"].is_string() {
            return Box::pin(async { Err(runtime::RuntimeError::Invalid("lsn must be a number".into())) });
        }
        *self.offsets.lock().unwrap() = Some(json!({ "offsets": offsets }));
        Box::pin(async { Ok(()) })
    }
    fn reset_offsets(&self, _config: &ConnectorConfig) -> BoxFuture<'static, Result<(), runtime::RuntimeError>> {
        *self.offsets.lock().unwrap() = Some(json!({ "offsets": [] }));
        Box::pin(async { Ok(()) })
    }
}

pub(super) fn opts(dir: &Path) -> HerderOptions {
    HerderOptions { worker_id: "127.0.0.1:8083".into(), state_dir: dir.join("state"), connectors_dir: None, rest_auth: None, providers: Default::default(), client_overrides: Default::default() }
}

pub(super) fn config() -> Value {
    json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": "5432",
        "database.user": "postgres",
        "database.password": "topsecret",
        "database.dbname": "shop",
        "plugin.name": "pgoutput"
    })
}

pub(super) async fn call(app: &axum::Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    raw(app, req.body(body).unwrap()).await
}

async fn raw(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, value)
}

async fn setup() -> (tempfile::TempDir, Arc<FakeRuntime>, Arc<Herder>, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(FakeRuntime::default());
    let herder = Herder::open(opts(dir.path()), runtime.clone()).await.unwrap();
    let app = router(herder.clone());
    (dir, runtime, herder, app)
}

fn assert_no_secret(v: &Value) {
    assert!(!v.to_string().contains("topsecret"), "secret leaked: {v}");
}

#[tokio::test]
async fn root_reports_version_and_cluster() {
    let (_d, _r, _h, app) = setup().await;
    let (s, v) = call(&app, "GET", "/", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["commit"].is_string());
    assert_eq!(v["kafka_cluster_id"], "cluster-1");
}

#[tokio::test]
async fn create_get_list_status_and_delete() {
    let (_d, runtime, _h, app) = setup().await;
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "c1", "config": config()}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "c1");
    assert_eq!(v["type"], "source");
    assert_eq!(v["tasks"], json!([{"connector": "c1", "task": 0}]));
    assert_eq!(v["config"]["database.password"], "[hidden]");
    assert_eq!(v["config"]["name"], "c1");
    assert_no_secret(&v);
    assert_eq!(*runtime.started.lock().unwrap(), ["c1"]);

    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "c1", "config": config()}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["error_code"], 409);

    let (s, v) = call(&app, "GET", "/connectors", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!(["c1"])));

    let (s, v) = call(&app, "GET", "/connectors/c1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["config"]["database.hostname"], "127.0.0.1");
    assert_no_secret(&v);

    let (s, v) = call(&app, "GET", "/connectors/c1/config", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["database.password"], "[hidden]");
    assert_eq!(v["database.dbname"], "shop");

    let (s, v) = call(&app, "GET", "/connectors/c1/status", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"name": "c1", "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
               "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}], "type": "source"})
    );

    let (s, v) = call(&app, "GET", "/connectors?expand=status&expand=info", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["c1"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(v["c1"]["info"]["name"], "c1");
    assert_no_secret(&v);

    let (s, v) = call(&app, "GET", "/connectors/c1/tasks", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["id"], json!({"connector": "c1", "task": 0}));
    assert_no_secret(&v);

    let (s, v) = call(&app, "GET", "/connectors/c1/tasks/0/status", None).await;
    assert_eq!((s, v["state"].clone()), (StatusCode::OK, json!("RUNNING")));
    let (s, _) = call(&app, "GET", "/connectors/c1/tasks/1/status", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, v) = call(&app, "DELETE", "/connectors/c1", None).await;
    assert_eq!((s, v), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(*runtime.stopped.lock().unwrap(), ["c1"]);
    let (s, v) = call(&app, "GET", "/connectors/c1", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"error_code": 404, "message": "Connector c1 not found"}));
    let (s, _) = call(&app, "DELETE", "/connectors/c1", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invalid_config_is_400_naming_the_field() {
    let (_d, runtime, _h, app) = setup().await;
    let mut cfg = config();
    cfg["database.port"] = json!("not-a-port");
    cfg.as_object_mut().unwrap().remove("database.hostname");
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "bad", "config": cfg}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error_code"], 400);
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("database.port") && msg.contains("database.hostname") && msg.contains("2 error"), "{msg}");
    assert!(runtime.started.lock().unwrap().is_empty());
    let (_, v) = call(&app, "GET", "/connectors", None).await;
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn malformed_bodies_are_400_or_415_never_500() {
    let (_d, _r, _h, app) = setup().await;
    let req = Request::post("/connectors").header("content-type", "application/json").body(Body::from("{\"name\": ")).unwrap();
    let (s, v) = raw(&app, req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("JSON"), "{v}");
    let req = Request::post("/connectors").header("content-type", "text/plain").body(Body::from("{}")).unwrap();
    let (s, v) = raw(&app, req).await;
    assert_eq!((s, v["error_code"].clone()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, json!(415)));
    for body in [json!({"name": "x"}), json!({"name": "x", "config": "str"}), json!({"name": 1, "config": {}}), json!([1])] {
        let (s, v) = call(&app, "POST", "/connectors", Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {v}");
        assert_eq!(v["error_code"], 400);
    }
    let (s, _) = call(&app, "POST", "/connectors", Some(json!({"name": " ", "config": config()}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = call(&app, "GET", "/nope", None).await;
    assert_eq!((s, v["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    let (s, v) = call(&app, "PATCH", "/connectors", None).await;
    assert_eq!((s, v["error_code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!(405)));
}

#[tokio::test]
async fn put_config_creates_then_updates_and_keeps_hidden_secret() {
    let (_d, runtime, h, app) = setup().await;
    let (s, v) = call(&app, "PUT", "/connectors/c2/config", Some(config())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "c2");
    // Send back what GET returned (password hidden), with a change.
    let (_, mut got) = call(&app, "GET", "/connectors/c2/config", None).await;
    got["slot.name"] = json!("other_slot");
    let (s, v) = call(&app, "PUT", "/connectors/c2/config", Some(got)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["config"]["slot.name"], "other_slot");
    assert_eq!(*runtime.started.lock().unwrap(), ["c2", "c2"]);
    assert_eq!(*runtime.stopped.lock().unwrap(), ["c2"]);
    // The real password was kept (only the herder's stored config shows it).
    let stored = crate::connect::store::Store::new(_d.path().join("state")).load().unwrap();
    assert_eq!(stored["c2"].config["database.password"], "topsecret");
    let (s, _) = call(&app, "PUT", "/connectors/c2/config", Some(json!({"name": "other"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    drop(h);
}

#[tokio::test]
async fn pause_resume_stop_and_restart() {
    let (_d, runtime, _h, app) = setup().await;
    call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": config()}))).await;
    let (s, _) = call(&app, "PUT", "/connectors/c/pause", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v) = call(&app, "GET", "/connectors/c/status", None).await;
    assert_eq!(v["connector"]["state"], "PAUSED");
    assert_eq!(v["tasks"][0]["state"], "PAUSED");
    assert_eq!(runtime.stopped.lock().unwrap().len(), 1);
    let (s, _) = call(&app, "PUT", "/connectors/c/resume", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v) = call(&app, "GET", "/connectors/c/status", None).await;
    assert_eq!(v["connector"]["state"], "RUNNING");
    assert_eq!(runtime.started.lock().unwrap().len(), 2);

    // A failed task shows its trace and is restarted by onlyFailed.
    *runtime.state.lock().unwrap() = Some(TaskState::Failed { trace: "slot gone".into() });
    let (_, v) = call(&app, "GET", "/connectors/c/status", None).await;
    assert_eq!(v["tasks"][0]["state"], "FAILED");
    assert_eq!(v["tasks"][0]["trace"], "slot gone");
    let (s, v) = call(&app, "POST", "/connectors/c/restart?includeTasks=true&onlyFailed=true", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(v["name"], "c");
    assert_eq!(runtime.started.lock().unwrap().len(), 3);
    *runtime.state.lock().unwrap() = None;
    let (s, _) = call(&app, "POST", "/connectors/c/restart", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(runtime.started.lock().unwrap().len(), 4);
    let (s, _) = call(&app, "POST", "/connectors/c/tasks/0/restart", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(runtime.started.lock().unwrap().len(), 5);

    let (s, _) = call(&app, "PUT", "/connectors/c/stop", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = call(&app, "GET", "/connectors/c/status", None).await;
    assert_eq!(v["connector"]["state"], "STOPPED");
    assert_eq!(v["tasks"], json!([]));
    for uri in ["/connectors/x/pause", "/connectors/x/resume"] {
        let (s, _) = call(&app, "PUT", uri, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, _) = call(&app, "POST", "/connectors/x/restart", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_slot_names_and_overlong_connector_names_are_refused_at_registration() {
    let (_d, runtime, _h, app) = setup().await;
    for slot in ["Bad-Slot", "slot; DROP TABLE victim", "slot\"x", "ünï", &"s".repeat(64)] {
        let mut c = config();
        c["slot.name"] = json!(slot);
        let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": c.clone()}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{slot:?}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().contains("slot.name"), "{v}");
        let uri = "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";
        let (s, v) = call(&app, "PUT", uri, Some(c)).await;
        assert_eq!(s, StatusCode::OK);
        let slot_entry = v["configs"].as_array().unwrap().iter().find(|e| e["value"]["name"] == "slot.name").unwrap();
        assert_eq!(slot_entry["value"]["errors"].as_array().map(Vec::len), Some(1), "{slot_entry}");
    }
    let long = "n".repeat(10_000);
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": long, "config": config()}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("249"), "{v}");
    assert!(runtime.started.lock().unwrap().is_empty(), "nothing was started");
}

#[tokio::test]
async fn plugins_and_validate() {
    let (_d, _r, _h, app) = setup().await;
    let (s, v) = call(&app, "GET", "/connector-plugins", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!([{"class": "io.debezium.connector.postgresql.PostgresConnector", "type": "source", "version": "3.6.3.Final"}]));
    let (_, v) = call(&app, "GET", "/connector-plugins?connectorsOnly=false", None).await;
    let classes: Vec<&str> = v.as_array().unwrap().iter().filter_map(|p| p["class"].as_str()).collect();
    for class in [
        "io.debezium.connector.postgresql.PostgresConnector",
        "io.debezium.transforms.ExtractNewRecordState",
        "io.debezium.transforms.ExtractChangedRecordState",
        "io.debezium.transforms.ByLogicalTableRouter",
        "org.apache.kafka.connect.transforms.RegexRouter",
        "io.confluent.connect.avro.AvroConverter",
    ] {
        assert!(classes.contains(&class), "{class} missing from {classes:?}");
    }
    let (s, v) = call(&app, "GET", "/connector-plugins/PostgresConnector/config", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.as_array().unwrap().iter().any(|d| d["name"] == "database.hostname"));

    let mut cfg = config();
    cfg["name"] = json!("v");
    cfg["snapshot.mode"] = json!("bogus");
    cfg["transforms"] = json!("r");
    cfg["transforms.r.type"] = json!("org.apache.kafka.connect.transforms.ExtractTopic$Value");
    let uri = "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";
    let (s, v) = call(&app, "PUT", uri, Some(cfg)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "io.debezium.connector.postgresql.PostgresConnector");
    assert_eq!(v["error_count"], 2);
    assert!(v["groups"].as_array().unwrap().contains(&json!("Common")));
    let configs = v["configs"].as_array().unwrap();
    let find = |n: &str| configs.iter().find(|c| c["value"]["name"] == n).unwrap_or_else(|| panic!("{n} missing")).clone();
    assert_eq!(find("snapshot.mode")["value"]["errors"].as_array().unwrap().len(), 1);
    assert_eq!(find("transforms.r.type")["value"]["errors"].as_array().unwrap().len(), 1);
    assert_eq!(find("database.hostname")["value"]["errors"], json!([]));
    assert_eq!(find("database.hostname")["definition"]["required"], true);
    assert_eq!(find("database.password")["value"]["value"], "[hidden]");
    assert_eq!(find("slot.name")["value"]["value"], "debezium");
    assert_eq!(find("slot.name")["value"]["visible"], true);
    assert_no_secret(&v);

    let (s, v) = call(&app, "PUT", uri, Some(json!({"connector.class": "com.example.Other"}))).await;
    assert_eq!((s, v["error_code"].clone()), (StatusCode::BAD_REQUEST, json!(400)));
    let (s, _) = call(&app, "PUT", "/connector-plugins/com.example.Other/config/validate", Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn registry_and_target_state_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let runtime = Arc::new(FakeRuntime::default());
        let herder = Herder::open(opts(dir.path()), runtime.clone()).await.unwrap();
        let cfg: BTreeMap<String, String> = serde_json::from_value(config()).unwrap();
        herder.create("running", cfg.clone()).await.unwrap();
        herder.create("paused", cfg.clone()).await.unwrap();
        herder.create("gone", cfg).await.unwrap();
        herder.set_target("paused", TargetState::Paused).await.unwrap();
        herder.delete("gone").await.unwrap();
        herder.shutdown().await;
    }
    let runtime = Arc::new(FakeRuntime::default());
    let herder = Herder::open(opts(dir.path()), runtime.clone()).await.unwrap();
    assert_eq!(herder.connectors().await, ["paused", "running"]);
    assert_eq!(*runtime.started.lock().unwrap(), ["running"]);
    assert_eq!(herder.status("paused").await.unwrap().connector.state, "PAUSED");
    let info = herder.info("running").await.unwrap();
    assert_eq!(info.config["database.password"], "[hidden]");
}

#[tokio::test]
async fn connectors_dir_is_registered_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let conns = dir.path().join("connectors");
    std::fs::create_dir_all(&conns).unwrap();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/postgres-source-connector.json"), conns.join("pg.json"))
        .unwrap();
    std::fs::write(conns.join("README.txt"), "not a connector").unwrap();
    let mut o = opts(dir.path());
    o.connectors_dir = Some(conns.clone());
    let runtime = Arc::new(FakeRuntime::default());
    let herder = Herder::open(o.clone(), runtime.clone()).await.unwrap();
    assert_eq!(herder.connectors().await, ["postgres-source-connector"]);
    assert_eq!(*runtime.started.lock().unwrap(), ["postgres-source-connector"]);
    herder.set_target("postgres-source-connector", TargetState::Paused).await.unwrap();
    herder.shutdown().await;
    // Re-opening with the same unchanged file keeps the persisted paused state.
    let runtime = Arc::new(FakeRuntime::default());
    let herder = Herder::open(o.clone(), runtime.clone()).await.unwrap();
    assert!(runtime.started.lock().unwrap().is_empty());
    assert_eq!(herder.status("postgres-source-connector").await.unwrap().connector.state, "PAUSED");
    // A broken file fails the start, naming the file.
    std::fs::write(conns.join("zz.json"), r#"{"name":"z","config":{"connector.class":"x"}}"#).unwrap();
    let err = Herder::open(o, Arc::new(FakeRuntime::default())).await.err().unwrap();
    assert!(err.to_string().contains("zz.json"), "{err}");
}

#[tokio::test]
async fn serve_on_a_real_port_and_shut_down() {
    let (_d, _r, h, app) = setup().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, app, ServerLimits::default(), async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let resp = client.post(format!("http://{addr}/connectors")).json(&json!({"name": "n", "config": config()})).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = client.get(format!("http://{addr}/connectors/n/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["connector"]["state"], "RUNNING");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    h.shutdown().await;
}

/// A runtime that keeps the trait's default offsets and slot methods.
struct MinimalRuntime;

impl ConnectorRuntime for MinimalRuntime {
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle> {
        FakeRuntime::default().start(config)
    }
}

#[tokio::test]
async fn initial_state_paused_and_stopped() {
    let (_d, runtime, _h, app) = setup().await;
    for (name, initial, want, tasks) in [("p", "PAUSED", "PAUSED", 1), ("s", "STOPPED", "STOPPED", 0), ("r", "RUNNING", "RUNNING", 1)] {
        let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": name, "config": config(), "initial_state": initial}))).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (_, v) = call(&app, "GET", &format!("/connectors/{name}/status"), None).await;
        assert_eq!(v["connector"]["state"], want);
        assert_eq!(v["tasks"].as_array().unwrap().len(), tasks);
    }
    assert_eq!(*runtime.started.lock().unwrap(), ["r"]);
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "x", "config": config(), "initial_state": "FLYING"}))).await;
    assert_eq!((s, v["error_code"].clone()), (StatusCode::BAD_REQUEST, json!(400)));
}

#[tokio::test]
async fn patch_config_merges_and_null_removes() {
    let (_d, runtime, _h, app) = setup().await;
    let mut cfg = config();
    cfg["slot.name"] = json!("s1");
    call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": cfg}))).await;
    let (s, v) = call(&app, "PATCH", "/connectors/c/config", Some(json!({"slot.name": null, "topic.prefix": "tp", "database.password": "[hidden]"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["config"]["topic.prefix"], "tp");
    assert!(v["config"].get("slot.name").is_none(), "{v}");
    assert_eq!(v["config"]["database.password"], "[hidden]");
    let stored = crate::connect::store::Store::new(_d.path().join("state")).load().unwrap();
    assert_eq!(stored["c"].config["database.password"], "topsecret");
    assert_eq!(runtime.started.lock().unwrap().len(), 2);
    let (s, v) = call(&app, "PATCH", "/connectors/c/config", Some(json!({"database.port": "nope"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("database.port"), "{v}");
    let (s, _) = call(&app, "PATCH", "/connectors/missing/config", Some(json!({"a": "b"}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&app, "PATCH", "/connectors/c/config", Some(json!(["a"]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn restarting_state_is_reported_with_its_trace() {
    let (_d, runtime, _h, app) = setup().await;
    call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": config()}))).await;
    *runtime.state.lock().unwrap() = Some(TaskState::Restarting { trace: "connection refused".into() });
    let (_, v) = call(&app, "GET", "/connectors/c/tasks/0/status", None).await;
    assert_eq!(v, json!({"id": 0, "state": "RESTARTING", "worker_id": "127.0.0.1:8083", "trace": "connection refused"}));
}

#[tokio::test]
async fn slot_dropped_after_stop_and_delete_only_when_configured() {
    let (_d, runtime, _h, app) = setup().await;
    let mut cfg = config();
    cfg["slot.name"] = json!("drop_me");
    cfg["slot.drop.on.stop"] = json!("true");
    call(&app, "POST", "/connectors", Some(json!({"name": "d", "config": cfg}))).await;
    call(&app, "POST", "/connectors", Some(json!({"name": "k", "config": config()}))).await;
    call(&app, "PUT", "/connectors/d/pause", None).await;
    assert!(runtime.dropped.lock().unwrap().is_empty(), "pause keeps the slot");
    call(&app, "PUT", "/connectors/d/stop", None).await;
    assert_eq!(*runtime.dropped.lock().unwrap(), [("d".to_owned(), "drop_me".to_owned(), 1)]);
    call(&app, "PUT", "/connectors/d/resume", None).await;
    let (s, _) = call(&app, "DELETE", "/connectors/d", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Dropped after the task's stop (the third stop: pause, resume's task on delete).
    assert_eq!(runtime.dropped.lock().unwrap().last().unwrap(), &("d".to_owned(), "drop_me".to_owned(), 2));
    call(&app, "PUT", "/connectors/k/stop", None).await;
    call(&app, "DELETE", "/connectors/k", None).await;
    assert_eq!(runtime.dropped.lock().unwrap().len(), 2, "k keeps its slot");
}

#[tokio::test]
async fn offsets_only_change_while_stopped() {
    let (_d, runtime, _h, app) = setup().await;
    *runtime.offsets.lock().unwrap() = Some(json!({"offsets": [{"partition": {"server": "p"}, "offset": {"lsn": 100}}]}));
    call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": config()}))).await;
    let (s, v) = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["offsets"][0]["offset"]["lsn"], 100);
    let patch = json!({"offsets": [{"partition": {"server": "p"}, "offset": {"lsn": 42}}]});
    let (s, v) = call(&app, "PATCH", "/connectors/c/offsets", Some(patch.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("STOPPED"), "{v}");
    let (s, _) = call(&app, "DELETE", "/connectors/c/offsets", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    call(&app, "PUT", "/connectors/c/stop", None).await;
    let (s, v) = call(&app, "PATCH", "/connectors/c/offsets", Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["message"], "The offsets for this connector have been altered successfully");
    let (_, v) = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!(v["offsets"][0]["offset"]["lsn"], 42);
    for bad in [json!({}), json!({"offsets": []}), json!({"offsets": [{"partition": 1, "offset": {}}]})] {
        let (s, _) = call(&app, "PATCH", "/connectors/c/offsets", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    let bad_value = json!({"offsets": [{"partition": {"server": "p"}, "offset": {"lsn": "x"}}]});
    let (s, v) = call(&app, "PATCH", "/connectors/c/offsets", Some(bad_value)).await;
    assert_eq!((s, v["message"].clone()), (StatusCode::BAD_REQUEST, json!("lsn must be a number")));
    let (s, v) = call(&app, "DELETE", "/connectors/c/offsets", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["message"], "The offsets for this connector have been reset successfully");
    let (_, v) = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!(v, json!({"offsets": []}));
    let (s, _) = call(&app, "GET", "/connectors/none/offsets", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn offsets_unsupported_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let herder = Herder::open(opts(dir.path()), Arc::new(MinimalRuntime)).await.unwrap();
    let app = router(herder);
    call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": config(), "initial_state": "STOPPED"}))).await;
    let (s, v) = call(&app, "DELETE", "/connectors/c/offsets", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("not supported"), "{v}");
    let (s, _) = call(&app, "GET", "/connectors/c/offsets", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn auth_guards_everything_but_the_health_check() {
    use crate::config::worker::RestAuth;
    use crate::config::Secret;
    for (auth, good, bad) in [
        (RestAuth::Basic { user: "admin".into(), password: Secret::new("pw") }, "Basic YWRtaW46cHc=", "Basic YWRtaW46eHg="),
        (RestAuth::Bearer { token: Secret::new("t0k") }, "bearer t0k", "Bearer t0x"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path());
        o.rest_auth = Some(auth);
        let app = router(Herder::open(o, Arc::new(FakeRuntime::default())).await.unwrap());
        let req = |uri: &str, authz: Option<&str>| {
            let mut b = Request::get(uri);
            if let Some(a) = authz {
                b = b.header("authorization", a);
            }
            b.body(Body::empty()).unwrap()
        };
        assert_eq!(raw(&app, req("/", None)).await.0, StatusCode::OK);
        for uri in ["/connectors", "/connector-plugins", "/openapi.yaml", "/nope"] {
            let resp = app.clone().oneshot(req(uri, None)).await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{uri}");
            assert!(resp.headers().contains_key("www-authenticate"));
            assert_eq!(raw(&app, req(uri, Some(bad))).await.0, StatusCode::UNAUTHORIZED, "{uri}");
        }
        let (s, v) = raw(&app, req("/connectors", Some(good))).await;
        assert_eq!((s, v), (StatusCode::OK, json!([])));
        let post = Request::post("/connectors").header("content-type", "application/json").body(Body::from("{}")).unwrap();
        assert_eq!(raw(&app, post).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn openapi_document_is_served_verbatim() {
    let (_d, _r, _h, app) = setup().await;
    let resp = app.oneshot(Request::get("/openapi.yaml").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
    let file = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml")).unwrap();
    assert!(!file.is_empty());
    assert_eq!(bytes.as_ref(), file.as_slice());
}

#[tokio::test]
async fn health_reports_connector_states_and_degrades_on_failure() {
    let (_d, rt, _h, app) = setup().await;
    assert_eq!(call(&app, "GET", "/health", None).await, (StatusCode::OK, json!({"status": "UP", "connectors": {}})));
    let (s, _) = call(&app, "POST", "/connectors", Some(json!({"name": "c1", "config": config()}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        call(&app, "GET", "/health", None).await,
        (StatusCode::OK, json!({"status": "UP", "connectors": {"c1": "RUNNING"}}))
    );
    *rt.state.lock().unwrap() = Some(TaskState::Failed { trace: "boom".into() });
    assert_eq!(
        call(&app, "GET", "/health", None).await,
        (StatusCode::OK, json!({"status": "DEGRADED", "connectors": {"c1": "FAILED"}}))
    );
}

/// GIVEN a worker whose runtime heartbeat stopped (its threads blocked),
/// WHEN /health is asked, THEN it is 503 WEDGED naming the cause, while a
/// failed connector alone keeps it 200 (above).
#[tokio::test]
async fn health_is_503_when_the_runtime_heartbeat_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let mut herder = Herder::open(opts(dir.path()), Arc::new(FakeRuntime::default())).await.unwrap();
    Arc::get_mut(&mut herder).expect("only handle").set_pulse(crate::connect::liveness::Pulse::stale(Duration::from_secs(30)));
    let app = router(herder);
    let (status, body) = call(&app, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "WEDGED");
    assert!(body["message"].as_str().unwrap().contains("heartbeat"), "{body}");
}

/// GIVEN a herder stuck holding its connector registry, WHEN /health is
/// asked, THEN it answers 503 WEDGED after its bound instead of hanging.
#[tokio::test(start_paused = true)]
async fn health_is_503_when_the_herder_does_not_answer() {
    let (_d, _rt, herder, app) = setup().await;
    let _stuck = herder.connectors.lock().await;
    let (status, body) = call(&app, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "WEDGED");
    assert!(body["message"].as_str().unwrap().contains("did not answer"), "{body}");
}

#[tokio::test]
async fn metrics_are_prometheus_text_without_credentials() {
    use crate::config::worker::RestAuth;
    use crate::config::Secret;
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.rest_auth = Some(RestAuth::Bearer { token: Secret::new("t") });
    let app = router(Herder::open(o, Arc::new(FakeRuntime::default())).await.unwrap());
    crate::metrics::Registry::global().connector("metrics-test");
    let resp = app.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("# TYPE pgcdc_sink_records_total counter"), "{text}");
    assert!(text.contains("pgcdc_durable_lsn{connector=\"metrics-test\"}"), "{text}");
}

#[tokio::test]
async fn ready_is_200_once_restored_and_503_from_shutdown_on() {
    // GIVEN a stored connector restored at open
    let dir = tempfile::tempdir().unwrap();
    {
        let app = router(Herder::open(opts(dir.path()), Arc::new(FakeRuntime::default())).await.unwrap());
        let (s, _) = call(&app, "POST", "/connectors", Some(json!({"name": "c1", "config": config()}))).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let rt = Arc::new(FakeRuntime::default());
    let mut o = opts(dir.path());
    o.rest_auth = Some(crate::config::worker::RestAuth::Bearer { token: crate::config::Secret::new("t") });
    let herder = Herder::open(o, rt.clone()).await.unwrap();
    let app = router(herder.clone());
    // THEN ready (no credentials needed), its task started
    assert_eq!(call(&app, "GET", "/ready", None).await, (StatusCode::OK, json!({"status": "READY"})));
    assert_eq!(*rt.started.lock().unwrap(), vec!["c1".to_owned()]);
    // WHEN shutdown begins
    herder.begin_shutdown();
    // THEN /ready is 503, /health still 200, and changes are refused
    let (s, v) = call(&app, "GET", "/ready", None).await;
    assert_eq!((s, v["status"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!("SHUTTING_DOWN")));
    assert_eq!(call(&app, "GET", "/health", None).await.0, StatusCode::OK);
    let post = Request::post("/connectors")
        .header("authorization", "Bearer t")
        .header("content-type", "application/json")
        .body(Body::from(json!({"name": "c2", "config": config()}).to_string()))
        .unwrap();
    let (s, v) = raw(&app, post).await;
    assert_eq!((s, v["error_code"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!(503)), "{v}");
    assert_eq!(rt.started.lock().unwrap().len(), 1, "no task starts once shutdown has begun");
}
