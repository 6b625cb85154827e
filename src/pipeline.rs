//! Wiring of one connector's stages; no logic of its own.
//!
//! ```text
//!   PostgresSource ──mpsc<SourceEvent>(bounded)──▶ delivery::run(Converter, Batcher(OffsetLedger, KafkaSink))
//!        ▲                                                     │
//!        └──────────── watch<Lsn>: durable position ◀──────────┘
//! ```
//!
//! Start order matters for exactly-once: the sink first (its
//! `init_transactions` fences an older instance and settles its open
//! transaction), then the stored offset is read, then the source starts
//! after it (with the initial snapshot first when `snapshot.mode` and the
//! stored offset call for one). A restart of a task that had streamed checks
//! the slot before all of that: if another process took it over meanwhile,
//! this instance was replaced and fails without fencing the new owner
//! (`crate::source::postgres::ownership`). The check only reads the slot, so
//! the order above is unchanged.
//!
//! On an error, the source lets go of the slot first, then the sink aborts
//! its open transaction (which may take [`TXN_TIMEOUT`] on an unreachable
//! coordinator): a newer instance waiting for the slot is not held up by it.

use tokio::sync::{mpsc, watch};

use crate::config::connector::ConnectorConfig;
use crate::config::worker::KafkaConfig;
use crate::config::worker::WorkerConfig;
use crate::convert::Converter;
use crate::delivery::{self, BatchPolicy, Batcher, DeliveryError};
use crate::encode::EncodeError;
use crate::error::{Classify, ErrorClass};
use crate::heartbeat::Heartbeat;
use crate::lsn::Lsn;
use crate::offsets::ledger::OffsetLedger;
use crate::offsets::{offset_key, OffsetError, OffsetStore};
#[cfg(doc)]
use crate::kafka::TXN_TIMEOUT;
use crate::sink::kafka::{
    DeliveryGuarantee, KafkaSink, OffsetTarget, SinkConfig, SinkError, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_IN_FLIGHT_BYTES,
};
use crate::source::postgres::capture::{PostgresSource, SourceError};
use crate::source::postgres::ownership::{self, SlotTenure};

/// Source events buffered between the source and the delivery loop.
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;

/// What the pipeline needs from the worker.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub kafka: KafkaConfig,
    /// Prefixes the transactional id: `<group_id>-<connector>`.
    pub group_id: String,
    /// The compacted offsets topic.
    pub offset_storage_topic: String,
    /// Its partition count when created.
    pub offset_storage_partitions: i32,
    /// `worker.spill_dir`: where streamed transactions are spilled (default `$TMPDIR`).
    pub spill_dir: Option<std::path::PathBuf>,
}

impl WorkerSettings {
    /// The settings of a loaded worker configuration.
    pub fn from_config(config: &WorkerConfig) -> Self {
        WorkerSettings {
            kafka: config.kafka.clone(),
            group_id: config.worker.group_id.clone(),
            offset_storage_topic: config.worker.offset_storage_topic.clone(),
            offset_storage_partitions: config.worker.offset_storage_partitions,
            spill_dir: config.worker.spill_dir.clone(),
        }
    }

    /// The worker's offset store.
    pub fn offset_store(&self) -> OffsetStore {
        OffsetStore::with_client(self.kafka.client_settings(), self.offset_storage_topic.clone())
    }
}

/// Errors of a connector's pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError<EncodeError, SinkError>),
    #[error(transparent)]
    Offsets(#[from] OffsetError),
    #[error("the source task panicked or was cancelled")]
    SourceTask(#[source] tokio::task::JoinError),
}

impl Classify for PipelineError {
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Source(e) => e.class(),
            PipelineError::Sink(e) => e.class(),
            PipelineError::Delivery(e) => e.class(),
            PipelineError::Offsets(e) => e.class(),
            PipelineError::SourceTask(_) => ErrorClass::Fatal,
        }
    }
}

/// The deterministic transactional id of a connector: a second instance of
/// the same connector in the same worker group fences the first.
pub fn transactional_id(group_id: &str, connector: &str) -> String {
    format!("{group_id}-{connector}")
}

fn sink_config(config: &ConnectorConfig, worker: &WorkerSettings) -> SinkConfig {
    SinkConfig {
        bootstrap_servers: worker.kafka.bootstrap_servers.clone(),
        options: worker.kafka.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        producer_overrides: config.producer_overrides.clone(),
        delivery: if worker.kafka.exactly_once {
            DeliveryGuarantee::ExactlyOnce { transactional_id: transactional_id(&worker.group_id, &config.name) }
        } else {
            DeliveryGuarantee::AtLeastOnce
        },
        max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
        topic_creation: config.topic_creation.clone(),
        offsets: Some(OffsetTarget {
            topic: worker.offset_storage_topic.clone(),
            partitions: worker.offset_storage_partitions,
            key: offset_key(&config.name, config.topic_prefix()),
        }),
        dead_letter: config.errors.dead_letter_topic().map(|t| (t.to_owned(), config.errors.dlq_replication_factor)),
        metrics: Some(crate::metrics::Registry::global().connector(&config.name)),
    }
}

/// Run one connector until `shutdown` turns true or a stage fails.
/// `running` is told once both ends are connected and streaming. `tenure`
/// carries the slot's walsender from one run of a task to the next.
pub async fn run(
    config: &ConnectorConfig,
    worker: &WorkerSettings,
    shutdown: watch::Receiver<bool>,
    running: impl FnOnce(),
    tenure: &mut SlotTenure,
) -> Result<(), PipelineError> {
    // Before init_transactions, which would fence whoever took the slot over.
    ownership::check_not_replaced(config, *tenure).await?;
    let (durable_tx, durable_rx) = watch::channel(Lsn::ZERO);
    // Registers the heartbeat's schemas with an AvroConverter: a registry
    // error is classified like one met converting a change event.
    let heartbeat =
        Heartbeat::new(&config.heartbeat, config.topic_prefix(), &config.key_converter, &config.value_converter)
            .await
            .map_err(DeliveryError::Convert)?;
    let sink = KafkaSink::connect(sink_config(config, worker)).await?;
    let stored = worker.offset_store().read_latest(&config.name, config.topic_prefix()).await?;
    let stored_lsn = stored.as_ref().and_then(|o| o.resume_lsn());
    tracing::info!(stored = ?stored_lsn.map(|l| l.to_string()), snapshot_in_progress = stored.as_ref().is_some_and(|o| o.snapshot_in_progress()), "stored offset read");
    let ledger = OffsetLedger::from_stored(stored.as_ref());
    let metrics = crate::metrics::Registry::global().connector(&config.name);
    let mut batcher =
        Batcher::new(sink, ledger, durable_tx, BatchPolicy::default(), heartbeat).with_metrics(metrics.clone());
    let mut source = PostgresSource::connect_resuming(config, stored.as_ref()).await?;
    if let Some(dir) = &worker.spill_dir {
        source.set_spill_dir(dir.clone());
    }
    let walsender = source.walsender();
    running();

    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    // The source stops after the delivery loop, so its last standby status
    // carries the final durable position.
    let (stop_source, source_stop) = watch::channel(false);
    let source_task = tokio::spawn(source.run(events_tx, durable_rx, source_stop));
    let errors = delivery::ErrorHandler::new(config.errors.clone(), &config.retry, config.name.clone());
    let delivered = delivery::run(events_rx, Converter::new(config), &mut batcher, shutdown, &metrics, &errors).await;
    let _ = stop_source.send(true);
    let sourced = source_task.await;
    if let Some(pid) = *walsender.borrow() {
        tenure.streamed_as(pid);
    }
    if delivered.is_err() {
        // The slot is free now; the abort may wait on the broker.
        batcher.abort().await;
    }
    let sourced = sourced.map_err(PipelineError::SourceTask)?;
    delivered?;
    sourced?;
    Ok(())
}
