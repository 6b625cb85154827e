//! Distributed mode: several workers share the connectors of one cluster,
//! coordinated through Kafka itself, as Kafka Connect's distributed workers.
//!
//! ```text
//!             ┌──────────── Kafka ─────────────────────────────────────────────┐
//!             │ group coordinator (group.id)   config topic   status topic   offsets topic
//!             └──────▲──────────────────────────▲──────▲─────────▲──────▲───────────▲───┘
//!   JoinGroup/Sync/  │                  write + │      │ tail    │ write│ tail      │ per-connector
//!   Heartbeat/Leave  │               read back  │      │         │      │           │ transactions
//!             ┌──────┴──── worker ──────────────┴──────┴─────────┴──────┴───────────┴───┐
//!             │ member loop ──assignment──▶ Herder (runs only its connectors) ◀── REST  │
//!             └─────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! - **Membership** ([`member`], [`group`]): every worker joins the group
//!   `worker.group_id` (protocol type `connect`, protocol `pgcdc-v1`). The
//!   coordinator elects a leader, which spreads the connectors round-robin
//!   over the members ([`assign`]) and hands out the assignment in SyncGroup.
//!   The protocol is eager: on any rebalance each worker stops all its
//!   connectors before it rejoins, so a connector never runs twice on purpose.
//!   Should two instances ever overlap (a worker that lost the group but did
//!   not notice yet), the connector's `transactional.id`
//!   (`<group_id>-<connector>`) is the same on every worker: the newer
//!   instance fences the older one, whose open transaction is aborted.
//! - **Configs** ([`codec`]) live in the compacted config topic; every worker
//!   tails it and applies each record to its herder. A REST write returns once
//!   this worker has read its own record back (read-your-writes).
//! - **Statuses** go to the status topic, written by the connector's owner,
//!   read by every worker for the connectors it does not run.
//! - **Offsets** stay where they are (the offsets topic), so a connector that
//!   moves resumes exactly where its last committed transaction ended.

pub(crate) mod assign;
pub(crate) mod codec;
pub(crate) mod group;
pub(crate) mod member;
mod ops;
pub(crate) mod topics;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{watch, Notify};

use crate::config::worker::WorkerConfig;
use crate::connect::store::{ConnectorStore, StoreError, StoredConnector};

use self::codec::{StatusKey, StatusValue};
use self::topics::{Position, TopicError, Writer};
use crate::kafka::ClientSettings;

/// How long a REST write waits to read its own record back.
pub const READ_BACK_TIMEOUT: Duration = Duration::from_secs(30);

/// What a distributed worker needs to know about its cluster.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub group_id: String,
    pub worker_id: String,
    /// This worker's REST URL, as other workers reach it.
    pub url: String,
    pub client: ClientSettings,
    pub config_topic: String,
    pub status_topic: String,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
}

impl ClusterSettings {
    pub fn from_worker(config: &WorkerConfig) -> ClusterSettings {
        let w = &config.worker;
        ClusterSettings {
            group_id: w.group_id.clone(),
            worker_id: config.worker_id(),
            url: config.advertised_url(),
            client: config.kafka.client_settings(),
            config_topic: w.config_storage_topic.clone(),
            status_topic: w.status_storage_topic.clone(),
            session_timeout: Duration::from_millis(w.session_timeout_ms),
            heartbeat_interval: Duration::from_millis(w.heartbeat_interval_ms),
            rebalance_timeout: Duration::from_millis(w.rebalance_timeout_ms),
        }
    }
}

/// This worker's place in the group after the last SyncGroup.
#[derive(Clone, Debug, Default)]
pub struct Membership {
    /// False between a rebalance starting and the next assignment.
    pub stable: bool,
    pub generation: i32,
    pub leader: bool,
    pub leader_url: String,
    /// The connectors this worker runs.
    pub assigned: BTreeSet<String>,
    /// Every connector's owner URL.
    pub owners: BTreeMap<String, String>,
}

/// The shared state of a distributed worker.
pub struct Cluster {
    pub settings: ClusterSettings,
    writer: Writer,
    config_position: Position,
    membership: Mutex<Membership>,
    statuses: Mutex<BTreeMap<StatusKey, StatusValue>>,
    /// Set by the config applier when connectors appear or go: the leader rebalances.
    rebalance: Notify,
    shutdown: watch::Sender<bool>,
    member: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Cluster {
    /// This worker's membership (a copy).
    pub fn membership(&self) -> Membership {
        self.membership.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub(crate) fn set_membership(&self, m: Membership) {
        if let Ok(mut g) = self.membership.lock() {
            *g = m;
        }
    }

    /// Whether this worker runs `name` now.
    pub fn owns(&self, name: &str) -> bool {
        self.membership.lock().is_ok_and(|m| m.stable && m.assigned.contains(name))
    }

    /// The owner URL of `name` in the current assignment (`None` while rebalancing or unassigned).
    pub fn owner_url(&self, name: &str) -> Option<String> {
        let m = self.membership.lock().ok()?;
        if !m.stable {
            return None;
        }
        m.owners.get(name).cloned()
    }

    /// The status view's record for `key`.
    pub fn status(&self, key: &StatusKey) -> Option<StatusValue> {
        self.statuses.lock().ok()?.get(key).cloned()
    }

    /// Asks the member loop to rebalance (acted on by the leader only).
    pub fn request_rebalance(&self) {
        self.rebalance.notify_one();
    }

    /// Writes a status record (`None`: tombstone).
    pub async fn write_status(&self, key: &StatusKey, value: Option<&StatusValue>) -> Result<(), TopicError> {
        let bytes = value.map(|v| serde_json::to_vec(v).unwrap_or_default());
        self.writer.write(&self.settings.status_topic, &key.encode(), bytes.as_deref()).await.map(|_| ())
    }

    /// Stops the member loop: it stops every connector and leaves the group.
    pub async fn leave(&self) {
        let _ = self.shutdown.send(true);
        if let Some(handle) = self.member.lock().await.take() {
            let _ = handle.await;
        }
    }
}

/// The config topic as a [`ConnectorStore`]: a change is two records
/// (target state, then config; the reverse order for a delete), and
/// `persist` returns once this worker has applied them.
pub struct KafkaStore {
    writer: Writer,
    topic: String,
    position: Position,
}

impl ConnectorStore for KafkaStore {
    fn persist<'a>(
        &'a self,
        name: &'a str,
        change: Option<&'a StoredConnector>,
        _all: &'a BTreeMap<String, StoredConnector>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let records = match change {
                Some(c) => vec![codec::target_record(name, Some(c.target_state)), codec::connector_record(name, Some(&c.config))],
                None => vec![codec::connector_record(name, None), codec::target_record(name, None)],
            };
            let mut last = 0;
            for (key, value) in records {
                last = self.writer.write(&self.topic, &key, value.as_deref()).await.map_err(kafka_err)?;
            }
            self.position.reach(&self.topic, last + 1, READ_BACK_TIMEOUT).await.map_err(kafka_err)
        }
        .boxed()
    }

    fn shared(&self) -> bool {
        true
    }
}

fn kafka_err(e: TopicError) -> StoreError {
    StoreError::Kafka(Box::new(e))
}

/// Everything [`crate::connect::Herder::open_distributed`] starts with.
pub struct Parts {
    pub cluster: Arc<Cluster>,
    pub store: Arc<KafkaStore>,
    pub config_records: tokio::sync::mpsc::Receiver<topics::TailRecord>,
    pub config_applied: watch::Sender<i64>,
    pub status_records: tokio::sync::mpsc::Receiver<topics::TailRecord>,
}

/// Creates the internal topics, the writer and the tailers. A broker that
/// refuses the worker's TLS or SASL settings stops it here, naming the
/// setting (librdkafka would retry it silently); one that is merely
/// unreachable is left to the topic creation's own timeout.
pub async fn connect(settings: ClusterSettings) -> Result<Parts, TopicError> {
    if let Err(e) = crate::kafka::protocol::check_reachable(&settings.client).await {
        if crate::error::Classify::class(&e) == crate::error::ErrorClass::Fatal {
            return Err(TopicError::Brokers(e));
        }
    }
    topics::ensure_compacted(&settings.client, &settings.config_topic).await?;
    topics::ensure_compacted(&settings.client, &settings.status_topic).await?;
    let writer = Writer::new(&settings.client)?;
    let config_records = topics::tail(&settings.client, &settings.config_topic, &settings.group_id)?;
    let status_records = topics::tail(&settings.client, &settings.status_topic, &settings.group_id)?;
    let (config_applied, position) = Position::new();
    let (shutdown, _) = watch::channel(false);
    let store = Arc::new(KafkaStore { writer: writer.clone(), topic: settings.config_topic.clone(), position: position.clone() });
    let cluster = Arc::new(Cluster {
        settings,
        writer,
        config_position: position,
        membership: Mutex::new(Membership::default()),
        statuses: Mutex::new(BTreeMap::new()),
        rebalance: Notify::new(),
        shutdown,
        member: tokio::sync::Mutex::new(None),
    });
    Ok(Parts { cluster, store, config_records, config_applied, status_records })
}
