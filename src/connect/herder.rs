//! The herder: the registry of connectors and their lifecycle.
//!
//! ```text
//!   REST ──▶ Herder ──persist──▶ state_dir/connectors.json   (before any task is touched)
//!              │
//!              └──start/stop──▶ ConnectorRuntime ──▶ TaskHandle (one task per connector)
//! ```
//!
//! Every operation takes the registry lock for its whole duration (stopping a
//! task included), so operations on connectors are serialized, as in Kafka
//! Connect's herder. The new state is persisted first; if that fails, nothing
//! changes in memory and no task is touched.
//!
//! The store is a [`ConnectorStore`]: the state file in standalone mode, the
//! shared config topic in distributed mode ([`crate::connect::distributed`]),
//! where a change is applied when it is read back from the topic — by every
//! worker — and a task runs only on the worker the group assigned it to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::connector::ConnectorConfig;
use crate::config::overrides::ClientOverrides;
use crate::config::providers::ProviderPolicy;
use crate::config::secrets;
use crate::config::worker::{RestAuth, WorkerConfig};
use crate::config::ConfigErrors;
use crate::connect::runtime::{ConnectorRuntime, RuntimeError, TaskHandle, TaskState};
use crate::connect::distributed::Cluster;
use crate::connect::liveness::{Pulse, Wedged};
use crate::connect::store::{ConnectorStore, Store, StoreError, StoredConnector, TargetState};
use crate::error::{Classify, ErrorClass};

pub use crate::config::secrets::{masked, HIDDEN};

/// [`Herder::shutdown`] waits for every task however long it takes (a day).
const SHUTDOWN_UNBOUNDED: std::time::Duration = std::time::Duration::from_secs(86_400);

/// What [`Herder::shutdown_within`] could not finish in time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unfinished {
    /// Connectors whose task had not stopped.
    pub connectors: Vec<String>,
    /// Distributed: the member loop had not left the group.
    pub group: bool,
    /// A running operation held the registry, so no task was stopped.
    pub registry_busy: bool,
}

impl Unfinished {
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty() && !self.group && !self.registry_busy
    }
}

/// Where the herder keeps its state and finds connector files.
#[derive(Clone, Debug)]
pub struct HerderOptions {
    /// Reported as `worker_id` in statuses.
    pub worker_id: String,
    pub state_dir: PathBuf,
    /// `*.json` registrations (`{"name","config"}`) applied at start.
    pub connectors_dir: Option<PathBuf>,
    /// `[rest.auth]`, enforced by [`crate::connect::router`].
    pub rest_auth: Option<RestAuth>,
    /// `[config_providers]`: what `${env:…}`/`${file:…}` in connector configs
    /// may resolve on this worker (nothing by default).
    pub providers: ProviderPolicy,
    /// What `*.override.*` in connector configs may set: the worker's
    /// `connector_client_config_override_policy` and `[kafka.options]`.
    pub client_overrides: ClientOverrides,
}

impl HerderOptions {
    pub fn from_worker(config: &WorkerConfig) -> HerderOptions {
        HerderOptions {
            worker_id: config.worker_id(),
            state_dir: config.worker.state_dir.clone(),
            connectors_dir: config.worker.connectors_dir.clone(),
            rest_auth: config.rest.auth.clone(),
            providers: config.config_providers.clone(),
            client_overrides: ClientOverrides {
                policy: config.worker.connector_client_config_override_policy,
                worker_options: config.kafka.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            },
        }
    }
}

/// Why a herder operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidConfig(ConfigErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("cannot persist connector state")]
    Store(#[from] StoreError),
    #[error("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{0}/stop' endpoint")]
    NotStopped(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot register connector file {path}: {reason}")]
    ConnectorFile { path: PathBuf, reason: String },
    /// Distributed mode: no worker owns the connector right now (HTTP 409, as Connect).
    #[error("Cannot complete request because of a conflicting operation (e.g. worker rebalance)")]
    Rebalancing,
}

impl Classify for HerderError {
    fn class(&self) -> ErrorClass {
        match self {
            HerderError::Store(_) => ErrorClass::Transient,
            HerderError::Runtime(RuntimeError::Failed { .. }) => ErrorClass::Transient,
            _ => ErrorClass::Fatal,
        }
    }
}

/// `{"connector": name, "task": 0}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{name}`: secrets hidden.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A connector's or task's state in a status response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateInfo {
    pub state: String,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// One task's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub id: u32,
    #[serde(flatten)]
    pub state: StateInfo,
}

/// `GET /connectors/{name}/status`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: StateInfo,
    pub tasks: Vec<TaskStatus>,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One registered connector and, where it runs here, its task.
pub(in crate::connect) struct Entry {
    pub(in crate::connect) raw: BTreeMap<String, String>,
    pub(in crate::connect) config: Result<ConnectorConfig, ConfigErrors>,
    pub(in crate::connect) target: TargetState,
    pub(in crate::connect) task: Option<Box<dyn TaskHandle>>,
}

impl Entry {
    /// Parses `raw`, expanding config providers under this worker's
    /// `providers` policy and checking client overrides against its rules.
    pub(in crate::connect) fn new(name: &str, raw: BTreeMap<String, String>, target: TargetState, opts: &HerderOptions) -> Entry {
        let config = ConnectorConfig::parse(name, &raw, &opts.providers, &opts.client_overrides).map(|(config, warnings)| {
            for warning in warnings {
                tracing::warn!(connector = %name, warning = %warning, "connector configuration");
            }
            config
        });
        Entry { raw, config, target, task: None }
    }

    pub(in crate::connect) fn stored(&self) -> StoredConnector {
        StoredConnector { config: self.raw.clone(), target_state: self.target }
    }
}

/// The registry of connectors.
pub struct Herder {
    pub(in crate::connect) opts: HerderOptions,
    runtime: Arc<dyn ConnectorRuntime>,
    pub(in crate::connect) store: Arc<dyn ConnectorStore>,
    pub(in crate::connect) connectors: Mutex<BTreeMap<String, Entry>>,
    /// Set in distributed mode: the group, the assignment and the status view.
    pub(in crate::connect) cluster: Option<Arc<Cluster>>,
    /// Set once shutdown has begun: `/ready` answers 503 and no task starts.
    stopping: AtomicBool,
    /// The runtime's heartbeat (`/health`, the systemd watchdog).
    pulse: Arc<Pulse>,
}

/// Whether the worker should receive traffic (`GET /ready`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// The stored connectors are restored and their tasks started (or, in
    /// distributed mode, this worker holds a stable assignment).
    Ready,
    /// Distributed mode: joining the group or rebalancing (no stable assignment).
    Rebalancing,
    /// Shutdown has begun: the connectors are being stopped.
    ShuttingDown,
}

impl Herder {
    /// Loads the persisted connectors, applies `connectors_dir`, and starts
    /// every connector whose target state is started.
    pub async fn open(opts: HerderOptions, runtime: Arc<dyn ConnectorRuntime>) -> Result<Arc<Herder>, HerderError> {
        let store = Store::new(&opts.state_dir);
        let mut connectors = BTreeMap::new();
        for (name, stored) in store.load()? {
            let entry = Entry::new(&name, stored.config, stored.target_state, &opts);
            if let Err(errors) = &entry.config {
                tracing::error!(connector = %name, error = %errors, "persisted connector configuration is invalid");
            }
            connectors.insert(name, entry);
        }
        let herder = Herder {
            opts,
            runtime,
            store: Arc::new(store),
            connectors: Mutex::new(connectors),
            cluster: None,
            stopping: AtomicBool::new(false),
            pulse: Pulse::started(),
        };
        if let Some(dir) = herder.opts.connectors_dir.clone() {
            for (path, name, raw) in read_connector_files(&dir)? {
                herder.apply_file(&path, &name, raw).await?;
            }
        }
        {
            let mut map = herder.connectors.lock().await;
            for (name, entry) in map.iter_mut() {
                herder.start_task(name, entry);
            }
        }
        Ok(Arc::new(herder))
    }

    /// A herder with no connectors yet over `store` (distributed mode fills it from the config topic).
    pub(in crate::connect) fn with_store(
        opts: HerderOptions,
        runtime: Arc<dyn ConnectorRuntime>,
        store: Arc<dyn ConnectorStore>,
        cluster: Option<Arc<Cluster>>,
    ) -> Herder {
        Herder {
            opts,
            runtime,
            store,
            connectors: Mutex::new(BTreeMap::new()),
            cluster,
            stopping: AtomicBool::new(false),
            pulse: Pulse::started(),
        }
    }

    async fn apply_file(&self, path: &Path, name: &str, raw: BTreeMap<String, String>) -> Result<(), HerderError> {
        let mut map = self.connectors.lock().await;
        if map.get(name).is_some_and(|e| e.raw == with_name(name, raw.clone())) {
            return Ok(());
        }
        let target = map.get(name).map(|e| e.target).unwrap_or_default();
        let entry = checked_entry(name, raw, target, &self.opts).map_err(|e| HerderError::ConnectorFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        tracing::info!(connector = %name, path = %path.display(), "registering connector from file");
        self.persist_with(&map, name, Some(&entry)).await?;
        map.insert(name.to_owned(), entry);
        Ok(())
    }

    /// Marks the start of shutdown: `/ready` answers 503 from now on, and no
    /// connector task starts any more ([`Herder::shutdown_within`] calls it too).
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether the worker's runtime still schedules work ([`Pulse`]).
    pub fn liveness(&self) -> Result<(), Wedged> {
        self.pulse.check()
    }

    /// The runtime's heartbeat (tests replace it with a stale one).
    #[cfg(test)]
    pub(in crate::connect) fn set_pulse(&mut self, pulse: Arc<Pulse>) {
        self.pulse = pulse;
    }

    /// Each connector's state as `/health` and the service manager's status
    /// show it: the task's state, else the connector's.
    pub async fn connector_states(&self) -> BTreeMap<String, String> {
        let map = self.connectors.lock().await;
        map.iter()
            .map(|(name, entry)| {
                let status = self.status_of(name, entry);
                let state = status.tasks.first().map_or(status.connector.state, |t| t.state.state.clone());
                (name.clone(), state)
            })
            .collect()
    }

    /// Whether shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether the worker should receive traffic. A herder exists only once
    /// its stored connectors are loaded and their tasks started (standalone),
    /// or the config topic is read (distributed, where a stable assignment is
    /// needed as well); "started" means the task was launched, not that it
    /// reached PostgreSQL (a connector that cannot is FAILED in its status).
    pub fn readiness(&self) -> Readiness {
        if self.is_stopping() {
            Readiness::ShuttingDown
        } else if self.cluster.as_ref().is_some_and(|c| !c.membership().stable) {
            Readiness::Rebalancing
        } else {
            Readiness::Ready
        }
    }

    /// The worker id statuses report.
    pub fn worker_id(&self) -> &str {
        &self.opts.worker_id
    }

    /// The REST API's authentication, if configured.
    pub fn rest_auth(&self) -> Option<&RestAuth> {
        self.opts.rest_auth.as_ref()
    }

    /// The Kafka cluster id, once the runtime knows it.
    pub fn kafka_cluster_id(&self) -> Option<String> {
        self.runtime.kafka_cluster_id()
    }

    /// Names of all registered connectors, sorted.
    pub async fn connectors(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// Registers a new connector and starts it; [`HerderError::AlreadyExists`] if the name is taken.
    pub async fn create(&self, name: &str, raw: BTreeMap<String, String>) -> Result<ConnectorInfo, HerderError> {
        self.create_with_state(name, raw, TargetState::Started).await
    }

    /// Registers a new connector in `initial` state (`POST /connectors` with `initial_state`).
    pub async fn create_with_state(
        &self,
        name: &str,
        raw: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorInfo, HerderError> {
        if self.store.shared() {
            return self.dist_create(name, raw, initial).await;
        }
        validate_name(name)?;
        let mut map = self.connectors.lock().await;
        if map.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        let mut entry = checked_entry(name, raw, initial, &self.opts)?;
        self.persist_with(&map, name, Some(&entry)).await?;
        tracing::info!(connector = %name, "connector created");
        self.start_task(name, &mut entry);
        let info = self.info_of(name, &entry);
        map.insert(name.to_owned(), entry);
        Ok(info)
    }

    /// Creates or replaces a connector's config; `true` when it was created.
    /// A secret given as [`HIDDEN`] keeps its current value (so a config read
    /// from the API can be sent back unchanged).
    pub async fn put_config(&self, name: &str, mut raw: BTreeMap<String, String>) -> Result<(ConnectorInfo, bool), HerderError> {
        validate_name(name)?;
        if let Some(given) = raw.get("name") {
            if given != name {
                return Err(HerderError::BadRequest(format!(
                    "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
                )));
            }
        }
        if self.store.shared() {
            return self.dist_put(name, raw).await;
        }
        let mut map = self.connectors.lock().await;
        let existing = map.get(name);
        restore_masked(&mut raw, existing.map(|e| &e.raw))?;
        let target = existing.map(|e| e.target).unwrap_or_default();
        let mut entry = checked_entry(name, raw, target, &self.opts)?;
        self.persist_with(&map, name, Some(&entry)).await?;
        let created = match map.remove(name) {
            Some(old) => {
                if let Some(task) = old.task {
                    task.stop().await;
                }
                tracing::info!(connector = %name, "connector reconfigured");
                false
            }
            None => {
                tracing::info!(connector = %name, "connector created");
                true
            }
        };
        self.start_task(name, &mut entry);
        let info = self.info_of(name, &entry);
        map.insert(name.to_owned(), entry);
        Ok((info, created))
    }

    /// `PATCH /connectors/{name}/config`: merges `patch` into the current
    /// config; a `None` value removes the property (Connect 3.8, KIP-477).
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, HerderError> {
        let mut raw = {
            let map = self.connectors.lock().await;
            map.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?.raw.clone()
        };
        for (key, value) in patch {
            match value {
                Some(v) if v == HIDDEN && secrets::is_secret(&key) => {}
                Some(v) => {
                    raw.insert(key, v);
                }
                None => {
                    raw.remove(&key);
                }
            }
        }
        // A concurrent delete between the two locks turns this into a re-create; Connect allows the same race.
        Ok(self.put_config(name, raw).await?.0)
    }

    /// `GET /connectors/{name}`
    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let map = self.connectors.lock().await;
        let entry = map.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(self.info_of(name, entry))
    }

    /// `GET /connectors/{name}/status`
    pub async fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        let map = self.connectors.lock().await;
        let entry = map.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(self.status_of(name, entry))
    }

    /// Stops and unregisters a connector.
    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        if self.store.shared() {
            return self.dist_delete(name).await;
        }
        let mut map = self.connectors.lock().await;
        if !map.contains_key(name) {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        self.persist_with(&map, name, None).await?;
        if let Some(entry) = map.remove(name) {
            if let Some(task) = entry.task {
                task.stop().await;
            }
            if let Ok(config) = &entry.config {
                self.release_slot(config).await;
            }
        }
        crate::metrics::Registry::global().remove(name);
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// Sets the target state, stopping or starting the task to match.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        if self.store.shared() {
            return self.dist_set_target(name, target).await;
        }
        let mut map = self.connectors.lock().await;
        let Some(entry) = map.get(name) else { return Err(HerderError::NotFound(name.to_owned())) };
        if entry.target == target {
            return Ok(());
        }
        let mut updated = entry.stored();
        updated.target_state = target;
        let snapshot: BTreeMap<String, StoredConnector> =
            map.iter().map(|(n, e)| (n.clone(), if n == name { updated.clone() } else { e.stored() })).collect();
        self.store.persist(name, Some(&updated), &snapshot).await?;
        let Some(entry) = map.get_mut(name) else { return Err(HerderError::NotFound(name.to_owned())) };
        entry.target = target;
        if let Some(task) = entry.task.take() {
            task.stop().await;
        }
        if target == TargetState::Stopped {
            if let Ok(config) = &entry.config {
                self.release_slot(config).await;
            }
        }
        self.start_task(name, entry);
        tracing::info!(connector = %name, target = ?target, "connector target state changed");
        Ok(())
    }

    /// Restarts the task (of a started connector); with `only_failed`, only a failed one.
    /// Returns whether a task was restarted.
    pub async fn restart(&self, name: &str, only_failed: bool) -> Result<bool, HerderError> {
        let mut map = self.connectors.lock().await;
        let entry = map.get_mut(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let failed = entry.task.as_ref().is_some_and(|t| matches!(t.state(), TaskState::Failed { .. }));
        if entry.target != TargetState::Started || (only_failed && !failed) {
            return Ok(false);
        }
        if let Some(task) = entry.task.take() {
            task.stop().await;
        }
        self.start_task(name, entry);
        tracing::info!(connector = %name, "connector restarted");
        Ok(true)
    }

    /// The task configs of `GET /connectors/{name}/tasks` (secrets hidden).
    pub async fn tasks(&self, name: &str) -> Result<Vec<(TaskId, BTreeMap<String, String>)>, HerderError> {
        let info = self.info(name).await?;
        Ok(info.tasks.into_iter().map(|id| (id, info.config.clone())).collect())
    }

    /// `GET /connectors/{name}/offsets` (any state, as in Connect).
    pub async fn offsets(&self, name: &str) -> Result<serde_json::Value, HerderError> {
        let map = self.connectors.lock().await;
        let entry = map.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let config = runnable(entry)?;
        Ok(self.runtime.offsets(config).await?)
    }

    /// `PATCH /connectors/{name}/offsets`: only while STOPPED.
    pub async fn alter_offsets(&self, name: &str, offsets: serde_json::Value) -> Result<(), HerderError> {
        let map = self.connectors.lock().await;
        let config = stopped(&map, name)?;
        self.runtime.alter_offsets(config, offsets).await?;
        tracing::info!(connector = %name, "connector offsets altered");
        Ok(())
    }

    /// `DELETE /connectors/{name}/offsets`: only while STOPPED.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        let map = self.connectors.lock().await;
        let config = stopped(&map, name)?;
        self.runtime.reset_offsets(config).await?;
        tracing::info!(connector = %name, "connector offsets reset");
        Ok(())
    }

    /// Drops the slot of a stopped or deleted connector when `slot.drop.on.stop` says so.
    pub(in crate::connect) async fn release_slot(&self, config: &ConnectorConfig) {
        if !config.slot_drop_on_stop {
            return;
        }
        if let Err(err) = self.runtime.drop_slot(config).await {
            tracing::error!(
                connector = %config.name,
                slot = %config.slot_name,
                error = %crate::error::chain(&err),
                "cannot drop the replication slot; drop it with pg_drop_replication_slot, or it retains WAL"
            );
        }
    }

    /// Stops every task (the connectors stay registered).
    pub async fn shutdown(&self) {
        self.shutdown_within(SHUTDOWN_UNBOUNDED).await;
    }

    /// Stops every task concurrently, giving up at `timeout`: what had not
    /// stopped by then is abandoned (an open Kafka transaction is never
    /// committed, so its offsets do not advance) and reported.
    pub async fn shutdown_within(&self, timeout: std::time::Duration) -> Unfinished {
        self.begin_shutdown();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut unfinished = Unfinished::default();
        if let Some(cluster) = &self.cluster {
            // Stops this worker's connectors, then leaves the group at once.
            unfinished.group = tokio::time::timeout_at(deadline, cluster.leave()).await.is_err();
        }
        let Ok(mut map) = tokio::time::timeout_at(deadline, self.connectors.lock()).await else {
            unfinished.registry_busy = true;
            return unfinished;
        };
        let tasks: Vec<(String, Box<dyn TaskHandle>)> =
            map.iter_mut().filter_map(|(name, e)| e.task.take().map(|t| (name.clone(), t))).collect();
        drop(map);
        let stops = tasks.into_iter().map(|(name, task)| async move {
            tracing::info!(connector = %name, "stopping connector task");
            let stopped = tokio::time::timeout_at(deadline, task.stop()).await.is_ok();
            (name, stopped)
        });
        unfinished.connectors =
            futures::future::join_all(stops).await.into_iter().filter(|(_, stopped)| !stopped).map(|(n, _)| n).collect();
        unfinished
    }

    pub(in crate::connect) fn start_task(&self, name: &str, entry: &mut Entry) {
        if entry.target != TargetState::Started || entry.task.is_some() || !self.owns(name) || self.is_stopping() {
            return;
        }
        if let Ok(config) = &entry.config {
            tracing::info!(connector = %name, "starting connector task");
            entry.task = Some(self.runtime.start(config.clone()));
        }
    }

    /// Persists `map` with `name` replaced by `entry` (or removed).
    async fn persist_with(&self, map: &BTreeMap<String, Entry>, name: &str, entry: Option<&Entry>) -> Result<(), HerderError> {
        let mut snapshot: BTreeMap<String, StoredConnector> = map.iter().map(|(n, e)| (n.clone(), e.stored())).collect();
        match entry {
            Some(e) => snapshot.insert(name.to_owned(), e.stored()),
            None => snapshot.remove(name),
        };
        let stored = entry.map(Entry::stored);
        self.store.persist(name, stored.as_ref(), &snapshot).await?;
        Ok(())
    }

    fn info_of(&self, name: &str, entry: &Entry) -> ConnectorInfo {
        let tasks = match entry.target {
            TargetState::Stopped => Vec::new(),
            _ => vec![TaskId { connector: name.to_owned(), task: 0 }],
        };
        ConnectorInfo { name: name.to_owned(), config: masked(&entry.raw), tasks, kind: "source".to_owned() }
    }

    fn status_of(&self, name: &str, entry: &Entry) -> ConnectorStatus {
        if let Some(remote) = self.remote_status(name, entry) {
            return remote;
        }
        let state = |state: &str, trace: Option<String>| StateInfo {
            state: state.to_owned(),
            worker_id: self.opts.worker_id.clone(),
            trace,
        };
        let task = |s: StateInfo| vec![TaskStatus { id: 0, state: s }];
        let (connector, tasks) = match (&entry.config, entry.target) {
            (_, TargetState::Stopped) => (state("STOPPED", None), Vec::new()),
            (Err(errors), _) => (state("FAILED", Some(errors.to_string())), Vec::new()),
            (Ok(_), TargetState::Paused) => (state("PAUSED", None), task(state("PAUSED", None))),
            (Ok(_), TargetState::Started) => {
                let task_state = match entry.task.as_ref().map(|t| t.state()) {
                    Some(TaskState::Running) => state("RUNNING", None),
                    Some(TaskState::Failed { trace }) => state("FAILED", Some(trace)),
                    Some(TaskState::Restarting { trace }) => state("RESTARTING", Some(trace)),
                    Some(TaskState::Unassigned) | None => state("UNASSIGNED", None),
                };
                (state("RUNNING", None), task(task_state))
            }
        };
        ConnectorStatus { name: name.to_owned(), connector, tasks, kind: "source".to_owned() }
    }
}

/// A status response.
pub(in crate::connect) fn masked_status(name: &str, connector: StateInfo, tasks: Vec<TaskStatus>) -> ConnectorStatus {
    ConnectorStatus { name: name.to_owned(), connector, tasks, kind: "source".to_owned() }
}

/// The parsed config of a connector, or the reason it has none.
fn runnable(entry: &Entry) -> Result<&ConnectorConfig, HerderError> {
    entry.config.as_ref().map_err(|e| HerderError::InvalidConfig(e.clone()))
}

/// The config of `name`, which must be STOPPED.
fn stopped<'a>(map: &'a BTreeMap<String, Entry>, name: &str) -> Result<&'a ConnectorConfig, HerderError> {
    let entry = map.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
    if entry.target != TargetState::Stopped {
        return Err(HerderError::NotStopped(name.to_owned()));
    }
    runnable(entry)
}

/// The config with `name` set, as Connect stores it.
fn with_name(name: &str, mut raw: BTreeMap<String, String>) -> BTreeMap<String, String> {
    raw.insert("name".to_owned(), name.to_owned());
    raw
}

/// A new entry whose config must be valid.
pub(in crate::connect) fn checked_entry(
    name: &str,
    raw: BTreeMap<String, String>,
    target: TargetState,
    opts: &HerderOptions,
) -> Result<Entry, HerderError> {
    let entry = Entry::new(name, with_name(name, raw), target, opts);
    match entry.config {
        Err(errors) => Err(HerderError::InvalidConfig(errors)),
        Ok(_) => Ok(entry),
    }
}

/// Puts back the current value of every property given as its masked form
/// (a config read from the API sent back unchanged); a masked value with no
/// current value to stand for is refused.
pub(in crate::connect) fn restore_masked(
    raw: &mut BTreeMap<String, String>,
    current: Option<&BTreeMap<String, String>>,
) -> Result<(), HerderError> {
    for (key, value) in raw.iter_mut() {
        let old = current.and_then(|c| c.get(key)).map(String::as_str);
        if let Some(old) = secrets::unmask(key, value, old) {
            *value = old.to_owned();
        } else if secrets::is_masked_placeholder(key, value) {
            return Err(HerderError::BadRequest(format!("{key} is {HIDDEN}, but there is no current value to keep")));
        }
    }
    Ok(())
}

impl Herder {
    /// Validates a connector config as `PUT /connector-plugins/{plugin}/config/validate`
    /// does, with this worker's config providers.
    pub fn validate(&self, plugin: &str, config: BTreeMap<String, String>) -> Result<serde_json::Value, String> {
        crate::connect::validate::validate(plugin, config, &self.opts.providers, &self.opts.client_overrides)
    }

    /// [`Herder::validate`] plus, for a config that parses, the checks of `pgcdc check`
    /// against its database (the REST endpoint's answer).
    pub async fn validate_live(&self, plugin: &str, config: BTreeMap<String, String>) -> Result<serde_json::Value, String> {
        crate::connect::validate::validate_live(plugin, config, &self.opts.providers, &self.opts.client_overrides).await
    }
}

pub(in crate::connect) fn validate_name(name: &str) -> Result<(), HerderError> {
    if name.trim().is_empty() {
        return Err(HerderError::BadRequest("Connector name cannot be empty".to_owned()));
    }
    if name.chars().any(|c| c.is_control() || c == '/') {
        return Err(HerderError::BadRequest(format!(
            "Connector name {name:?} is invalid: it may not contain control characters or '/'"
        )));
    }
    Ok(())
}

/// `(path, name, config)` of every `*.json` in `dir`, sorted by file name.
/// A connector file: its path, the connector's name and its properties.
type ConnectorFile = (PathBuf, String, BTreeMap<String, String>);

fn read_connector_files(dir: &Path) -> Result<Vec<ConnectorFile>, HerderError> {
    let err = |path: &Path, reason: String| HerderError::ConnectorFile { path: path.to_owned(), reason };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e.to_string()))?;
        let request = crate::connect::rest::parse_create_request(text.as_bytes()).map_err(|e| err(&path, e))?;
        out.push((path, request.0, request.1));
    }
    Ok(out)
}
