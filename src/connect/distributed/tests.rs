//! The distributed herder against a fake runtime and a fake shared store:
//! tasks run only for assigned connectors, config records are applied on the
//! owner, and statuses of other workers' connectors come from the view.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::codec::{StatusKey, StatusValue};
use super::topics::{Position, Writer};
use crate::kafka::ClientSettings;
use super::{Cluster, ClusterSettings, Membership};
use crate::config::connector::ConnectorConfig;
use crate::connect::herder::{Herder, HerderError, HerderOptions};
use crate::connect::runtime::{ConnectorRuntime, TaskHandle, TaskState};
use crate::connect::store::{ConnectorStore, StoreError, StoredConnector, TargetState};

#[derive(Default)]
struct Runtime {
    /// (connector, database.dbname) of every start.
    started: Mutex<Vec<(String, String)>>,
    stopped: Arc<Mutex<Vec<String>>>,
    /// Connectors whose slot was dropped.
    dropped: Mutex<Vec<String>>,
}

struct Task(String, Arc<Mutex<Vec<String>>>);

impl TaskHandle for Task {
    fn state(&self) -> TaskState {
        TaskState::Running
    }
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        async move { self.1.lock().unwrap().push(self.0.clone()) }.boxed()
    }
}

impl ConnectorRuntime for Runtime {
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle> {
        self.started.lock().unwrap().push((config.name.clone(), config.connection.dbname.clone()));
        Box::new(Task(config.name, self.stopped.clone()))
    }
    fn drop_slot(&self, config: &ConnectorConfig) -> BoxFuture<'static, Result<(), crate::connect::RuntimeError>> {
        self.dropped.lock().unwrap().push(config.name.clone());
        async { Ok(()) }.boxed()
    }
}

/// A shared store that "reads back" each write at once by applying it to the herder.
#[derive(Default)]
struct LoopbackStore {
    herder: OnceLock<Weak<Herder>>,
}

impl ConnectorStore for LoopbackStore {
    fn persist<'a>(
        &'a self,
        name: &'a str,
        change: Option<&'a StoredConnector>,
        _all: &'a BTreeMap<String, StoredConnector>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            if let Some(h) = self.herder.get().and_then(Weak::upgrade) {
                h.apply_change(name, change.cloned()).await;
            }
            Ok(())
        }
        .boxed()
    }
    fn shared(&self) -> bool {
        true
    }
}

fn cluster() -> Arc<Cluster> {
    let client = ClientSettings::new("127.0.0.1:1", Vec::new());
    let settings = ClusterSettings {
        group_id: "g".into(),
        worker_id: "w1:8083".into(),
        url: "http://w1:8083".into(),
        client: client.clone(),
        config_topic: "c".into(),
        status_topic: "s".into(),
        session_timeout: Duration::from_secs(10),
        heartbeat_interval: Duration::from_secs(3),
        rebalance_timeout: Duration::from_secs(60),
    };
    let (_tx, position) = Position::new();
    let (shutdown, _) = tokio::sync::watch::channel(false);
    Arc::new(Cluster {
        settings,
        writer: Writer::new(&client).unwrap(),
        config_position: position,
        membership: Mutex::new(Membership::default()),
        statuses: Mutex::new(BTreeMap::new()),
        rebalance: tokio::sync::Notify::new(),
        shutdown,
        member: tokio::sync::Mutex::new(None),
    })
}

fn herder(runtime: Arc<Runtime>, cluster: Arc<Cluster>) -> Arc<Herder> {
    let opts = HerderOptions { worker_id: "w1:8083".into(), state_dir: "unused".into(), connectors_dir: None, rest_auth: None, providers: Default::default(), client_overrides: Default::default() };
    let store = Arc::new(LoopbackStore::default());
    let h = Arc::new(Herder::with_store(opts, runtime, store.clone(), Some(cluster)));
    let _ = store.herder.set(Arc::downgrade(&h));
    h
}

fn props(db: &str) -> BTreeMap<String, String> {
    [
        ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
        ("database.hostname", "127.0.0.1"),
        ("database.user", "postgres"),
        ("database.password", "secret"),
        ("database.dbname", db),
        ("plugin.name", "pgoutput"),
        ("name", "a"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn stored(db: &str, target: TargetState) -> Option<StoredConnector> {
    Some(StoredConnector { config: props(db), target_state: target })
}

fn assigned(names: &[&str]) -> Membership {
    Membership {
        stable: true,
        generation: 3,
        leader: true,
        leader_url: "http://w1:8083".into(),
        assigned: names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>(),
        owners: names.iter().map(|n| ((*n).to_owned(), "http://w1:8083".to_owned())).collect(),
    }
}

#[tokio::test]
async fn tasks_run_only_for_assigned_connectors_and_follow_config_records() {
    let runtime = Arc::new(Runtime::default());
    let cluster = cluster();
    let h = herder(runtime.clone(), cluster.clone());

    h.apply_change("a", stored("db1", TargetState::Started)).await;
    assert!(runtime.started.lock().unwrap().is_empty(), "not assigned yet");
    assert_eq!(h.status("a").await.unwrap().tasks[0].state.state, "UNASSIGNED");

    h.take_assignment(assigned(&["a"])).await;
    assert_eq!(*runtime.started.lock().unwrap(), vec![("a".to_owned(), "db1".to_owned())]);
    assert_eq!(h.status("a").await.unwrap().tasks[0].state.state, "RUNNING");

    // A new config restarts the owner's task with it.
    h.apply_change("a", stored("db2", TargetState::Started)).await;
    assert_eq!(*runtime.stopped.lock().unwrap(), vec!["a"]);
    assert_eq!(runtime.started.lock().unwrap().last().unwrap().1, "db2");

    // Pause stops it, resume starts it again.
    h.apply_change("a", stored("db2", TargetState::Paused)).await;
    assert_eq!(runtime.stopped.lock().unwrap().len(), 2);
    assert_eq!(h.status("a").await.unwrap().tasks[0].state.state, "PAUSED");
    h.apply_change("a", stored("db2", TargetState::Started)).await;
    assert_eq!(runtime.started.lock().unwrap().len(), 3);

    // Eager rebalance: everything stops; the status is then the view's.
    h.revoke_all().await;
    assert_eq!(runtime.stopped.lock().unwrap().len(), 3);
    assert!(!cluster.owns("a"));
    let v = StatusValue { state: "RUNNING".into(), trace: None, worker_id: "w2:8083".into(), generation: 4 };
    cluster.statuses.lock().unwrap().insert(StatusKey::Task("a".into(), 0), v);
    let status = h.status("a").await.unwrap();
    assert_eq!((status.tasks[0].state.state.as_str(), status.tasks[0].state.worker_id.as_str()), ("RUNNING", "w2:8083"));
    assert_eq!(status.connector.state, "UNASSIGNED");

    // A removed connector asks the leader to rebalance.
    h.apply_change("a", None).await;
    assert!(h.connectors().await.is_empty());
    tokio::time::timeout(Duration::from_secs(1), cluster.rebalance.notified()).await.unwrap();
}

#[tokio::test]
async fn create_conflicts_with_the_config_view_and_put_keeps_hidden_secrets() {
    let runtime = Arc::new(Runtime::default());
    let h = herder(runtime.clone(), cluster());
    let info = h.create("a", props("db1")).await.unwrap();
    assert_eq!(info.config["database.password"], crate::connect::herder::HIDDEN);
    assert!(matches!(h.create("a", props("db1")).await, Err(HerderError::AlreadyExists(_))));
    let mut again = props("db3");
    again.insert("database.password".into(), crate::connect::herder::HIDDEN.into());
    let (_, created) = h.put_config("a", again).await.unwrap();
    assert!(!created);
    let applied = h.connectors.lock().await.get("a").map(|e| e.raw.clone()).unwrap();
    assert_eq!(applied["database.password"], "secret");
    assert_eq!(applied["database.dbname"], "db3");
    h.set_target("a", TargetState::Stopped).await.unwrap();
    assert_eq!(h.connectors.lock().await.get("a").map(|e| e.target), Some(TargetState::Stopped));
    assert!(runtime.started.lock().unwrap().is_empty(), "nothing is assigned to this worker");
    assert!(matches!(h.set_target("b", TargetState::Paused).await, Err(HerderError::NotFound(_))));
}

#[tokio::test]
async fn only_the_owner_drops_the_slot_on_stop_and_delete() {
    let runtime = Arc::new(Runtime::default());
    let cluster = cluster();
    let h = herder(runtime.clone(), cluster.clone());
    let with_drop = |target| {
        let mut config = props("db1");
        config.insert("slot.drop.on.stop".into(), "true".into());
        Some(StoredConnector { config, target_state: target })
    };
    let mut b = with_drop(TargetState::Started);
    if let Some(b) = b.as_mut() {
        b.config.insert("name".into(), "b".into());
    }
    h.apply_change("a", with_drop(TargetState::Started)).await;
    h.apply_change("b", b.clone()).await;
    h.take_assignment(assigned(&["a"])).await;
    // Paused first, then stopped: the owner still drops the slot.
    h.apply_change("a", with_drop(TargetState::Paused)).await;
    assert!(runtime.dropped.lock().unwrap().is_empty());
    h.apply_change("a", with_drop(TargetState::Stopped)).await;
    assert_eq!(*runtime.dropped.lock().unwrap(), vec!["a"]);
    h.apply_change("a", None).await;
    assert_eq!(*runtime.dropped.lock().unwrap(), vec!["a", "a"]);
    // b runs elsewhere: this worker leaves its slot alone.
    if let Some(b) = b.as_mut() {
        b.target_state = TargetState::Stopped;
    }
    h.apply_change("b", b).await;
    h.apply_change("b", None).await;
    assert_eq!(runtime.dropped.lock().unwrap().len(), 2);
}

/// GIVEN a distributed worker, THEN `/ready` is 503 REBALANCING until it holds
/// a stable assignment, 200 with one, 503 again while a rebalance revokes it,
/// and 503 SHUTTING_DOWN once shutdown has begun.
#[tokio::test]
async fn ready_follows_the_assignment_and_shutdown() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;
    let h = herder(Arc::new(Runtime::default()), cluster());
    let app = crate::connect::router(h.clone());
    let ready = |app: axum::Router| async move {
        let resp = app.oneshot(Request::get("/ready").body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap()).unwrap();
        (status, body["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(ready(app.clone()).await, (StatusCode::SERVICE_UNAVAILABLE, "REBALANCING".to_owned()));
    h.take_assignment(assigned(&[])).await;
    assert_eq!(ready(app.clone()).await, (StatusCode::OK, "READY".to_owned()));
    h.revoke_all().await;
    assert_eq!(ready(app.clone()).await, (StatusCode::SERVICE_UNAVAILABLE, "REBALANCING".to_owned()));
    h.take_assignment(assigned(&[])).await;
    h.begin_shutdown();
    assert_eq!(ready(app).await, (StatusCode::SERVICE_UNAVAILABLE, "SHUTTING_DOWN".to_owned()));
}
