//! What the herder needs from whatever runs a connector: start a task from
//! a validated config, ask for its state, stop it. The pipeline implements
//! [`ConnectorRuntime`]; tests use a fake.

use futures::future::BoxFuture;

use crate::config::connector::ConnectorConfig;

/// The state of a connector's single task, as Kafka Connect reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Created but not running yet.
    Unassigned,
    /// Streaming.
    Running,
    /// Stopped by an error; `trace` says what happened and, where it can, what to do.
    Failed { trace: String },
}

/// A running task. Dropping it without [`TaskHandle::stop`] must not leak the task
/// forever, but only `stop` waits for it to finish cleanly.
pub trait TaskHandle: Send + Sync {
    /// The task's current state.
    fn state(&self) -> TaskState;
    /// Stops the task; resolves once it has stopped (its in-flight work is
    /// committed or abandoned, never half-written).
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Starts connector tasks.
pub trait ConnectorRuntime: Send + Sync + 'static {
    /// Starts `config`'s task. Failures to start are reported through the
    /// handle's [`TaskHandle::state`] as [`TaskState::Failed`], not here.
    fn start(&self, config: ConnectorConfig) -> Box<dyn TaskHandle>;

    /// The Kafka cluster id for `GET /`, once known.
    fn kafka_cluster_id(&self) -> Option<String> {
        None
    }
}
