//! The herder's distributed side: REST writes go to the config topic and
//! come back through its tail, where every worker applies them; the member
//! loop's assignment decides which connectors this worker runs.
//!
//! ```text
//!   REST create/put/delete/pause… ──▶ KafkaStore.persist ──▶ config topic
//!                                                                │ tail (every worker)
//!   apply_change(name, stored|None) ◀────────────────────────────┘
//!        ├─ owned here: stop / restart / start the task to match
//!        └─ connector added or removed: the leader rebalances
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Mutex};

use super::codec::{self, ConfigRecord, StatusKey, StatusValue};
use super::topics::TailRecord;
use super::{Cluster, Membership, Parts, READ_BACK_TIMEOUT};
use crate::connect::herder::{
    checked_entry, masked_status, restore_masked, validate_name, ConnectorInfo, ConnectorStatus, Entry, Herder,
    HerderError, HerderOptions, StateInfo, TaskStatus,
};
use crate::connect::runtime::ConnectorRuntime;
use crate::connect::store::{StoredConnector, TargetState};

/// How often the owner compares its connectors' states with what it last published.
const STATUS_INTERVAL: Duration = Duration::from_millis(500);

impl Herder {
    /// Opens a distributed herder: reads the config topic to its end, then
    /// starts the status publisher and joins the group.
    pub async fn open_distributed(
        opts: HerderOptions,
        runtime: Arc<dyn ConnectorRuntime>,
        parts: Parts,
    ) -> Result<Arc<Herder>, HerderError> {
        let Parts { cluster, store, config_records, config_applied, status_records } = parts;
        let herder = Arc::new(Herder::with_store(opts, runtime, store, Some(cluster.clone())));
        tokio::spawn(apply_configs(herder.clone(), config_records, config_applied));
        tokio::spawn(apply_statuses(cluster.clone(), status_records));
        let topic = cluster.settings.config_topic.clone();
        let end = cluster.writer.end_offset(&topic).await.map_err(|e| HerderError::Store(super::kafka_err(e)))?;
        cluster.config_position.reach(&topic, end, READ_BACK_TIMEOUT).await.map_err(|e| HerderError::Store(super::kafka_err(e)))?;
        tracing::info!(config_topic = %topic, offset = end, connectors = herder.connectors.lock().await.len(), "read the config topic");
        tokio::spawn(publish_statuses(herder.clone(), cluster.clone()));
        let handle = tokio::spawn(super::member::run(herder.clone(), cluster.clone(), cluster.shutdown.subscribe()));
        *cluster.member.lock().await = Some(handle);
        Ok(herder)
    }

    /// The cluster of a distributed worker.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Whether this worker runs `name`'s task (always, standalone).
    pub(in crate::connect) fn owns(&self, name: &str) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.owns(name))
    }

    pub(in crate::connect) async fn dist_create(
        &self,
        name: &str,
        raw: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorInfo, HerderError> {
        validate_name(name)?;
        if self.connectors.lock().await.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        let entry = checked_entry(name, raw, initial, &self.opts)?;
        self.store.persist(name, Some(&entry.stored()), &BTreeMap::new()).await?;
        tracing::info!(connector = %name, "connector created");
        self.info(name).await
    }

    pub(in crate::connect) async fn dist_put(
        &self,
        name: &str,
        mut raw: BTreeMap<String, String>,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        let (entry, created) = {
            let map = self.connectors.lock().await;
            let existing = map.get(name);
            restore_masked(&mut raw, existing.map(|e| &e.raw))?;
            let target = existing.map(|e| e.target).unwrap_or_default();
            (checked_entry(name, raw, target, &self.opts)?, existing.is_none())
        };
        self.store.persist(name, Some(&entry.stored()), &BTreeMap::new()).await?;
        Ok((self.info(name).await?, created))
    }

    pub(in crate::connect) async fn dist_delete(&self, name: &str) -> Result<(), HerderError> {
        if !self.connectors.lock().await.contains_key(name) {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        self.store.persist(name, None, &BTreeMap::new()).await?;
        if let Some(cluster) = &self.cluster {
            for key in [StatusKey::Connector(name.to_owned()), StatusKey::Task(name.to_owned(), 0)] {
                if let Err(err) = cluster.write_status(&key, None).await {
                    tracing::warn!(connector = %name, error = %crate::error::chain(&err), "cannot clear the status of a deleted connector");
                }
            }
        }
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    pub(in crate::connect) async fn dist_set_target(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let stored = {
            let map = self.connectors.lock().await;
            let entry = map.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
            if entry.target == target {
                return Ok(());
            }
            StoredConnector { config: entry.raw.clone(), target_state: target }
        };
        self.store.persist(name, Some(&stored), &BTreeMap::new()).await?;
        tracing::info!(connector = %name, target = ?target, "connector target state changed");
        Ok(())
    }

    /// Applies a connector's state read from the config topic.
    pub(super) async fn apply_change(&self, name: &str, change: Option<StoredConnector>) {
        let mut map = self.connectors.lock().await;
        let mut membership_changed = false;
        match change {
            None => {
                if let Some(entry) = map.remove(name) {
                    membership_changed = true;
                    if let Some(task) = entry.task {
                        task.stop().await;
                    }
                    // Only the owner drops the slot (slot.drop.on.stop), as standalone does on delete.
                    if let (true, Ok(config)) = (self.owns(name), &entry.config) {
                        self.release_slot(config).await;
                    }
                    tracing::info!(connector = %name, "connector removed");
                }
            }
            Some(stored) => match map.get_mut(name) {
                Some(entry) if entry.raw == stored.config && entry.target == stored.target_state => {}
                Some(entry) => {
                    let newly_stopped = entry.target != TargetState::Stopped && stored.target_state == TargetState::Stopped;
                    if let Some(task) = entry.task.take() {
                        task.stop().await;
                    }
                    if entry.raw != stored.config {
                        *entry = Entry::new(name, stored.config, stored.target_state, &self.opts);
                        tracing::info!(connector = %name, "connector reconfigured");
                    }
                    entry.target = stored.target_state;
                    if newly_stopped && self.owns(name) {
                        if let Ok(config) = &entry.config {
                            self.release_slot(config).await;
                        }
                    }
                    self.start_task(name, entry);
                }
                None => {
                    let mut entry = Entry::new(name, stored.config, stored.target_state, &self.opts);
                    self.start_task(name, &mut entry);
                    map.insert(name.to_owned(), entry);
                    membership_changed = true;
                }
            },
        }
        if membership_changed {
            if let Some(c) = &self.cluster {
                c.request_rebalance();
            }
        }
    }

    /// Takes on a new assignment: records it and starts the assigned connectors.
    pub(super) async fn take_assignment(&self, membership: Membership) {
        let mut map = self.connectors.lock().await;
        let Some(cluster) = &self.cluster else { return };
        tracing::info!(
            generation = membership.generation,
            leader = membership.leader,
            connectors = ?membership.assigned,
            "assignment received"
        );
        cluster.set_membership(membership);
        for (name, entry) in map.iter_mut() {
            self.start_task(name, entry);
        }
    }

    /// Eager rebalancing: stops every task and forgets the assignment.
    pub(super) async fn revoke_all(&self) {
        let mut map = self.connectors.lock().await;
        if let Some(cluster) = &self.cluster {
            let mut m = cluster.membership();
            m.stable = false;
            m.assigned = BTreeSet::new();
            cluster.set_membership(m);
        }
        for (name, entry) in map.iter_mut() {
            if let Some(task) = entry.task.take() {
                tracing::info!(connector = %name, "stopping connector task for a rebalance");
                task.stop().await;
            }
        }
    }

    /// Names of the registered connectors (the config view).
    pub(super) async fn names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// The status of a connector this worker does not run, from the status view.
    pub(in crate::connect) fn remote_status(&self, name: &str, entry: &Entry) -> Option<ConnectorStatus> {
        let cluster = self.cluster.as_ref()?;
        if cluster.owns(name) {
            return None;
        }
        let info = |v: Option<StatusValue>| match v {
            Some(v) => StateInfo { state: v.state, worker_id: v.worker_id, trace: v.trace },
            None => StateInfo { state: "UNASSIGNED".to_owned(), worker_id: String::new(), trace: None },
        };
        let connector = info(cluster.status(&StatusKey::Connector(name.to_owned())));
        let tasks = match (&entry.config, entry.target) {
            (_, TargetState::Stopped) | (Err(_), _) => Vec::new(),
            _ => vec![TaskStatus { id: 0, state: info(cluster.status(&StatusKey::Task(name.to_owned(), 0))) }],
        };
        Some(masked_status(name, connector, tasks))
    }
}

/// Applies config records to the herder in log order and advances the position.
async fn apply_configs(herder: Arc<Herder>, mut records: mpsc::Receiver<TailRecord>, applied: watch::Sender<i64>) {
    let mut configs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut targets: BTreeMap<String, TargetState> = BTreeMap::new();
    while let Some(record) = records.recv().await {
        match codec::decode_config(&record.key, record.value.as_deref()) {
            Ok(ConfigRecord::Connector { name, config }) => {
                match config {
                    Some(c) => configs.insert(name.clone(), c),
                    None => configs.remove(&name),
                };
                let stored = configs
                    .get(&name)
                    .map(|c| StoredConnector { config: c.clone(), target_state: targets.get(&name).copied().unwrap_or_default() });
                herder.apply_change(&name, stored).await;
            }
            Ok(ConfigRecord::Target { name, state }) => {
                match state {
                    Some(s) => targets.insert(name.clone(), s),
                    None => targets.remove(&name),
                };
                if let Some(c) = configs.get(&name) {
                    let stored = StoredConnector { config: c.clone(), target_state: state.unwrap_or_default() };
                    herder.apply_change(&name, Some(stored)).await;
                }
            }
            Ok(ConfigRecord::Other) => {}
            Err(err) => tracing::error!(offset = record.offset, error = %crate::error::chain(&err), "skipping an unreadable config topic record"),
        }
        let _ = applied.send(record.offset + 1);
    }
}

/// Keeps the status view: the newest generation's record per key wins.
async fn apply_statuses(cluster: Arc<Cluster>, mut records: mpsc::Receiver<TailRecord>) {
    while let Some(record) = records.recv().await {
        let Some(key) = StatusKey::decode(&record.key) else { continue };
        let value = codec::decode_status(record.value.as_deref());
        let Ok(mut view) = cluster.statuses.lock() else { return };
        match value {
            None => {
                view.remove(&key);
            }
            Some(v) => {
                let stale = view.get(&key).is_some_and(|old| old.generation > v.generation && old.worker_id != v.worker_id);
                if !stale {
                    view.insert(key, v);
                }
            }
        }
    }
}

/// Publishes the status of every connector this worker runs when it changes.
async fn publish_statuses(herder: Arc<Herder>, cluster: Arc<Cluster>) {
    let published: Mutex<BTreeMap<StatusKey, StatusValue>> = Mutex::new(BTreeMap::new());
    let mut tick = tokio::time::interval(STATUS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let membership = cluster.membership();
        if !membership.stable {
            continue;
        }
        let mut current = Vec::new();
        for name in &membership.assigned {
            let Ok(status) = herder.status(name).await else { continue };
            let value = |s: &StateInfo| StatusValue {
                state: s.state.clone(),
                trace: s.trace.clone(),
                worker_id: cluster.settings.worker_id.clone(),
                generation: membership.generation,
            };
            current.push((StatusKey::Connector(name.clone()), value(&status.connector)));
            if let Some(task) = status.tasks.first() {
                current.push((StatusKey::Task(name.clone(), 0), value(&task.state)));
            }
        }
        let mut last = published.lock().await;
        for (key, value) in current {
            if last.get(&key) == Some(&value) {
                continue;
            }
            match cluster.write_status(&key, Some(&value)).await {
                Ok(()) => {
                    last.insert(key, value);
                }
                Err(err) => tracing::warn!(error = %crate::error::chain(&err), "cannot publish a connector status"),
            }
        }
    }
}
