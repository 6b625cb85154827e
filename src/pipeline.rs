//! Wiring of one connector's stages; no logic of its own.
//!
//! ```text
//!   PostgresSource ──mpsc<SourceEvent>(bounded)──▶ delivery::run(Converter, KafkaSink)
//!        ▲                                                     │
//!        └──────────── watch<Lsn>: durable position ◀──────────┘
//! ```

use tokio::sync::{mpsc, watch};

use crate::config::connector::ConnectorConfig;
use crate::config::worker::KafkaConfig;
use crate::convert::Converter;
use crate::delivery::{self, DeliveryError};
use crate::encode::EncodeError;
use crate::error::{Classify, ErrorClass};
use crate::lsn::Lsn;
use crate::sink::kafka::{BatchPolicy, DeliveryGuarantee, KafkaSink, SinkConfig, SinkError, DEFAULT_MAX_IN_FLIGHT};
use crate::source::postgres::capture::{PostgresSource, SourceError};

/// Source events buffered between the source and the delivery loop.
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;

/// What the pipeline needs from the worker.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub kafka: KafkaConfig,
    /// Prefixes the transactional id: `<group_id>-<connector>`.
    pub group_id: String,
}

/// Errors of a connector's pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError<EncodeError>),
    #[error("the source task panicked or was cancelled")]
    SourceTask(#[source] tokio::task::JoinError),
}

impl Classify for PipelineError {
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Source(e) => e.class(),
            PipelineError::Sink(e) => e.class(),
            PipelineError::Delivery(e) => e.class(),
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
        delivery: if worker.kafka.exactly_once {
            DeliveryGuarantee::ExactlyOnce { transactional_id: transactional_id(&worker.group_id, &config.name) }
        } else {
            DeliveryGuarantee::AtLeastOnce
        },
        batch: BatchPolicy::default(),
        max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        topic_creation: config.topic_creation.clone(),
    }
}

/// Run one connector until `shutdown` turns true or a stage fails.
/// `running` is told once both ends are connected and streaming.
pub async fn run(
    config: &ConnectorConfig,
    worker: &WorkerSettings,
    shutdown: watch::Receiver<bool>,
    running: impl FnOnce(),
) -> Result<(), PipelineError> {
    let (durable_tx, durable_rx) = watch::channel(Lsn::ZERO);
    let mut sink = KafkaSink::connect(sink_config(config, worker), durable_tx).await?;
    let source = PostgresSource::connect(config).await?;
    running();

    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    // The source stops after the delivery loop, so its last standby status
    // carries the final durable position.
    let (stop_source, source_stop) = watch::channel(false);
    let source_task = tokio::spawn(source.run(events_tx, durable_rx, source_stop));
    let delivered = delivery::run(events_rx, Converter::new(config), &mut sink, shutdown).await;
    let _ = stop_source.send(true);
    let sourced = source_task.await.map_err(PipelineError::SourceTask)?;
    delivered?;
    sourced?;
    Ok(())
}
