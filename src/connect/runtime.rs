//! What the herder needs from whatever runs a connector: start a task from
//! a validated config, ask for its state, stop it, release its slot, and read
//! or change its offsets. The pipeline implements [`ConnectorRuntime`]; tests
//! use a fake.

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::config::connector::ConnectorConfig;

/// The state of a connector's single task, as Kafka Connect reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Created but not running yet.
    Unassigned,
    /// Streaming.
    Running,
    /// Waiting to retry after a transient failure; `trace` says what failed.
    Restarting { trace: String },
    /// Stopped by an error; `trace` says what happened and, where it can, what to do.
    Failed { trace: String },
}

/// Why a runtime operation other than `start` failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// This runtime cannot do it at all (HTTP 400, as Connect answers for a
    /// connector that does not support altering its offsets).
    #[error("{0} is not supported by this runtime")]
    Unsupported(&'static str),
    /// The request is wrong (HTTP 400), e.g. a malformed offset.
    #[error("{0}")]
    Invalid(String),
    /// The operation was valid but failed (HTTP 500); the cause is attached.
    #[error("{what}")]
    Failed {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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

    /// Drops the connector's replication slot (`slot.drop.on.stop=true`);
    /// called after its task has stopped. A slot that does not exist is no error.
    fn drop_slot(&self, _config: &ConnectorConfig) -> BoxFuture<'static, Result<(), RuntimeError>> {
        async { Err(RuntimeError::Unsupported("dropping the replication slot")) }.boxed()
    }

    /// `GET /connectors/{name}/offsets`: `{"offsets": [{"partition": {..}, "offset": {..}}]}`.
    fn offsets(&self, _config: &ConnectorConfig) -> BoxFuture<'static, Result<serde_json::Value, RuntimeError>> {
        async { Err(RuntimeError::Unsupported("reading connector offsets")) }.boxed()
    }

    /// `PATCH /connectors/{name}/offsets` with the request body's `offsets` array;
    /// the connector is stopped.
    fn alter_offsets(
        &self,
        _config: &ConnectorConfig,
        _offsets: serde_json::Value,
    ) -> BoxFuture<'static, Result<(), RuntimeError>> {
        async { Err(RuntimeError::Unsupported("altering connector offsets")) }.boxed()
    }

    /// `DELETE /connectors/{name}/offsets`; the connector is stopped.
    fn reset_offsets(&self, _config: &ConnectorConfig) -> BoxFuture<'static, Result<(), RuntimeError>> {
        async { Err(RuntimeError::Unsupported("resetting connector offsets")) }.boxed()
    }
}
