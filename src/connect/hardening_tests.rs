//! Regression tests of the REST API's error shapes and `Location`, and of the
//! bounded, concurrent shutdown (security review, issue 10).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::config::connector::ConnectorConfig;

/// Tasks that take `stop_delay` to stop (`None`: never stop).
struct SlowRuntime {
    stop_delay: Option<Duration>,
    stopped: Arc<Mutex<Vec<String>>>,
}

struct SlowTask {
    name: String,
    delay: Option<Duration>,
    stopped: Arc<Mutex<Vec<String>>>,
}

impl TaskHandle for SlowTask {
    fn state(&self) -> TaskState {
        TaskState::Running
    }
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            match self.delay {
                Some(d) => tokio::time::sleep(d).await,
                None => futures::future::pending::<()>().await,
            }
            self.stopped.lock().unwrap().push(self.name.clone());
        })
    }
}

impl ConnectorRuntime for SlowRuntime {
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle> {
        Box::new(SlowTask { name: config.name, delay: self.stop_delay, stopped: self.stopped.clone() })
    }
}

fn config() -> BTreeMap<String, String> {
    serde_json::from_value(json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.user": "postgres",
        "database.password": "topsecret",
        "database.dbname": "shop",
    }))
    .unwrap()
}

use std::collections::BTreeMap;

async fn herder(dir: &std::path::Path, stop_delay: Option<Duration>) -> (Arc<Herder>, Arc<Mutex<Vec<String>>>) {
    let stopped = Arc::new(Mutex::new(Vec::new()));
    let runtime = Arc::new(SlowRuntime { stop_delay, stopped: stopped.clone() });
    let opts = HerderOptions { worker_id: "w".into(), state_dir: dir.join("state"), connectors_dir: None, rest_auth: None, providers: Default::default(), client_overrides: Default::default() };
    (Herder::open(opts, runtime).await.unwrap(), stopped)
}

/// Sends `req`; (status, content type, body as JSON or Null, Location).
async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String, Value, Option<String>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let location = resp.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ct, value, location)
}

fn get(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

/// Asserts Connect's error shape: JSON content type, `error_code` = status, a message.
fn assert_connect_error(got: &(StatusCode, String, Value, Option<String>), status: u16) {
    let (s, ct, v, _) = got;
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(ct, "application/json", "status {status}: {v}");
    assert_eq!(v["error_code"], status, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test]
async fn location_of_a_created_connector_is_percent_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _) = herder(dir.path(), Some(Duration::ZERO)).await;
    let app = router(h.clone());
    let name = "q?x#y z%2Fé";
    let body = json!({"name": name, "config": config()}).to_string();
    let req = Request::post("/connectors").header("content-type", "application/json").body(Body::from(body)).unwrap();
    let (status, _, v, location) = send(&app, req).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let location = location.expect("a Location header");
    assert_eq!(location, "/connectors/q%3Fx%23y%20z%252F%C3%A9");
    // It points at the connector: GET on it finds it.
    let (status, _, v, _) = send(&app, get(&location)).await;
    assert_eq!((status, v["name"].as_str()), (StatusCode::OK, Some(name)));
    h.shutdown().await;
}

#[tokio::test]
async fn every_error_is_connect_json() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _) = herder(dir.path(), Some(Duration::ZERO)).await;
    let app = router(h.clone());

    // 413: a body above axum's 2 MB limit.
    let big = format!("{{\"name\":\"n\",\"config\":{{\"x\":\"{}\"}}}}", "a".repeat(3 << 20));
    let req = Request::post("/connectors").header("content-type", "application/json").body(Body::from(big)).unwrap();
    assert_connect_error(&send(&app, req).await, 413);

    // 414: a request target above 8 KiB.
    assert_connect_error(&send(&app, get(&format!("/connectors/{}", "a".repeat(9 * 1024)))).await, 414);

    // 400: a path that is not UTF-8 once decoded.
    assert_connect_error(&send(&app, get("/connectors/%FF%FE/status")).await, 400);

    // 404 for an unknown route, 405 for a known route and another method.
    assert_connect_error(&send(&app, get("/no/such/route")).await, 404);
    let got = send(&app, Request::delete("/connectors").body(Body::empty()).unwrap()).await;
    assert_connect_error(&got, 405);

    // 415 and 400 from the handlers keep their shape.
    let req = Request::post("/connectors").header("content-type", "text/plain").body(Body::from("x")).unwrap();
    assert_connect_error(&send(&app, req).await, 415);
    let req = Request::post("/connectors").header("content-type", "application/json").body(Body::from("{")).unwrap();
    assert_connect_error(&send(&app, req).await, 400);

    // Successful non-JSON answers are untouched.
    let (status, ct, _, _) = send(&app, get("/metrics")).await;
    assert_eq!((status, ct.starts_with("text/plain")), (StatusCode::OK, true));
    h.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_connectors_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let (h, stopped) = herder(dir.path(), Some(Duration::from_millis(800))).await;
    for n in ["a", "b", "c", "d"] {
        h.create(n, config()).await.unwrap();
    }
    let started = Instant::now();
    let unfinished = h.shutdown_within(Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert!(unfinished.is_empty(), "{unfinished:?}");
    assert_eq!(stopped.lock().unwrap().len(), 4);
    // One after another would take 4 × 800 ms.
    assert!(took < Duration::from_millis(2000), "shutdown took {took:?}");
}

#[tokio::test]
async fn shutdown_gives_up_at_its_timeout_and_reports_what_did_not_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _) = herder(dir.path(), None).await;
    h.create("stuck-1", config()).await.unwrap();
    h.create("stuck-2", config()).await.unwrap();
    let started = Instant::now();
    let unfinished = tokio::time::timeout(Duration::from_secs(10), h.shutdown_within(Duration::from_millis(500)))
        .await
        .expect("the bounded shutdown returned");
    let took = started.elapsed();
    assert_eq!(unfinished.connectors, ["stuck-1", "stuck-2"]);
    assert!(!unfinished.is_empty());
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
}
