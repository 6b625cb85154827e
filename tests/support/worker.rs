//! A pgcdc worker process (`pgcdc run`) for end-to-end tests, driven over
//! its REST API exactly as a user would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Broker;

/// A running `pgcdc run`; killed when dropped.
pub struct Worker {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub rest: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    port: u16,
    bootstrap: String,
    env: Vec<(String, String)>,
    /// `[worker] group_id`: unique per worker unless given, so transactional
    /// ids of workers in parallel tests never collide.
    pub group_id: String,
    /// `Authorization` header value sent with every [`Worker::call`], if set.
    pub authorization: Option<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

impl Worker {
    /// Start a worker with its own state directory against `broker`.
    pub async fn start(broker: &Broker) -> Worker {
        Self::start_with(broker, &[]).await
    }

    /// Start with extra environment (`PGCDC_…` overrides).
    pub async fn start_with(broker: &Broker, env: &[(&str, &str)]) -> Worker {
        Self::start_at(&broker.bootstrap, env).await
    }

    /// Start against the brokers at `bootstrap` with extra environment.
    pub async fn start_at(bootstrap: &str, env: &[(&str, &str)]) -> Worker {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        // A test that needs the REST port before the worker starts chooses it.
        let port = match env.iter().find(|(k, _)| k == "PGCDC_REST__LISTEN") {
            Some((_, listen)) => listen.rsplit(':').next().and_then(|p| p.parse().ok()).expect("PGCDC_REST__LISTEN host:port"),
            None => free_port(),
        };
        let group_id = match env.iter().find(|(k, _)| k == "PGCDC_WORKER__GROUP_ID") {
            Some((_, g)) => g.clone(),
            None => {
                let g = super::unique_name("pgcdc_test");
                env.push(("PGCDC_WORKER__GROUP_ID".to_owned(), g.clone()));
                g
            }
        };
        let child = spawn(port, bootstrap, dir.path(), &env);
        let mut worker = Worker {
            child,
            rest: format!("http://127.0.0.1:{port}"),
            dir,
            http: reqwest::Client::new(),
            port,
            bootstrap: bootstrap.to_owned(),
            env,
            group_id,
            authorization: None,
        };
        worker.wait_rest().await;
        worker
    }

    /// Start a second worker of the same group (same transactional ids).
    pub async fn start_in_group(broker: &Broker, group_id: &str) -> Worker {
        Self::start_with(broker, &[("PGCDC_WORKER__GROUP_ID", group_id)]).await
    }

    /// Start a worker of the distributed cluster `cluster` (its group id;
    /// config and status topics named after it), with short group timeouts.
    pub async fn start_distributed(broker: &Broker, cluster: &str) -> Worker {
        Self::start_distributed_with(broker, cluster, &DistributedTimeouts::default()).await
    }

    /// [`Worker::start_distributed`] with the given group timeouts.
    pub async fn start_distributed_with(broker: &Broker, cluster: &str, t: &DistributedTimeouts) -> Worker {
        let env = distributed_env(cluster, t);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self::start_with(broker, &env).await
    }

    /// The worker's state file (`<state_dir>/connectors.json`).
    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("state").join("connectors.json")
    }

    /// The `worker_id` statuses show for this worker (`host:port` of its REST API).
    pub fn worker_id(&self) -> String {
        self.rest.trim_start_matches("http://").to_owned()
    }

    async fn wait_rest(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.http.get(&self.rest).send().await.is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pgcdc worker exited with {status}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pgcdc worker did not answer on {} within 30 s:\n{}", self.rest, self.log());
    }

    /// Kill the process with SIGKILL (no shutdown of any kind) and reap it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start the process again on the same port, state directory (so the
    /// registered connectors come back) and environment; the log is appended.
    pub async fn restart(&mut self) {
        self.kill9();
        self.start_again().await;
    }

    /// Stop the worker gracefully (SIGTERM) and start it again on the same
    /// port with the same state directory, as an operator restarting it would.
    pub async fn restart_graceful(&mut self) {
        let status = self.terminate();
        assert!(status.success(), "worker exited with {status} on SIGTERM:\n{}", self.log());
        self.start_again().await;
    }

    /// Start the worker again after [`Worker::terminate`] or [`Worker::kill9`]
    /// (same port, same state directory, log appended).
    pub async fn start_again(&mut self) {
        self.child = spawn(self.port, &self.bootstrap, self.dir.path(), &self.env);
        self.wait_rest().await;
    }

    /// The worker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("worker.log")
    }

    /// `METHOD path` with an optional JSON body → (status, JSON body or Null).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.rest, path));
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("REST call");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /connectors` → (status, body).
    pub async fn register(&self, name: &str, config: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, "/connectors", Some(&serde_json::json!({"name": name, "config": config})))
            .await
    }

    /// `GET /connectors/{name}/status` body.
    pub async fn status(&self, name: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/connectors/{name}/status"), None).await.1
    }

    /// Wait until the connector's task reports `state` (RUNNING, FAILED, …);
    /// panics with the worker log if it does not within `timeout`.
    pub async fn wait_task_state(&self, name: &str, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status(name).await;
            if status["tasks"][0]["state"] == state {
                return status;
            }
            if Instant::now() > deadline {
                panic!("connector {name} not {state} after {timeout:?}: {status}\n--- worker log ---\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The process id of the running `pgcdc run`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `/proc/<pid>/status` field in kB (`VmHWM`, `VmRSS`), if the process runs.
    pub fn proc_status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
        line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
    }

    /// The task states seen while polling every 200 ms for `duration`
    /// (deduplicated in order, e.g. `["RUNNING"]` or `["RUNNING", "FAILED"]`).
    pub async fn task_states_during(&self, name: &str, duration: Duration) -> Vec<String> {
        let deadline = Instant::now() + duration;
        let mut seen: Vec<String> = Vec::new();
        while Instant::now() < deadline {
            let state = self.status(name).await["tasks"][0]["state"].as_str().unwrap_or("NONE").to_owned();
            if seen.last() != Some(&state) {
                seen.push(state);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        seen
    }

    /// Stop with SIGTERM (graceful) and wait for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait for pgcdc")
    }
}

fn spawn(port: u16, bootstrap: &str, dir: &std::path::Path, env: &[(String, String)]) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("worker.log")).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcdc"));
    cmd.arg("run")
        .env("PGCDC_REST__LISTEN", format!("127.0.0.1:{port}"))
        .env("PGCDC_KAFKA__BOOTSTRAP_SERVERS", bootstrap)
        .env("PGCDC_WORKER__STATE_DIR", dir.join("state"))
        .env("RUST_LOG", "pgcdc=debug,info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start pgcdc")
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Group timeouts of a distributed test cluster.
#[derive(Clone, Debug)]
pub struct DistributedTimeouts {
    pub session_ms: u64,
    pub heartbeat_ms: u64,
    pub rebalance_ms: u64,
}

impl Default for DistributedTimeouts {
    fn default() -> Self {
        DistributedTimeouts { session_ms: 6_000, heartbeat_ms: 1_000, rebalance_ms: 20_000 }
    }
}

/// The `PGCDC_*` environment of a distributed worker of `cluster`.
pub fn distributed_env(cluster: &str, t: &DistributedTimeouts) -> Vec<(String, String)> {
    [
        ("PGCDC_WORKER__MODE", "distributed".to_owned()),
        ("PGCDC_WORKER__GROUP_ID", cluster.to_owned()),
        ("PGCDC_WORKER__CONFIG_STORAGE_TOPIC", format!("{cluster}-configs")),
        ("PGCDC_WORKER__STATUS_STORAGE_TOPIC", format!("{cluster}-status")),
        ("PGCDC_WORKER__SESSION_TIMEOUT_MS", t.session_ms.to_string()),
        ("PGCDC_WORKER__HEARTBEAT_INTERVAL_MS", t.heartbeat_ms.to_string()),
        ("PGCDC_WORKER__REBALANCE_TIMEOUT_MS", t.rebalance_ms.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Connector properties for a test database, as a user would POST them.
pub fn connector_config(db: &super::TestDatabase, prefix: &str, slot: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = serde_json::json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": db.host,
        "database.port": db.port.to_string(),
        "database.user": "postgres",
        "database.password": "postgres",
        "database.dbname": db.name,
        "topic.prefix": prefix,
        "slot.name": slot,
        "plugin.name": "pgoutput",
    });
    for (k, v) in extra {
        config[*k] = Value::String((*v).to_owned());
    }
    config
}
