//! The Kafka Connect-compatible side of the worker: the REST API ([`rest`])
//! over the [`herder`], which keeps the registered connectors, persists them
//! ([`store`]) and starts their tasks through a [`runtime::ConnectorRuntime`].
//! In distributed mode ([`distributed`]) several workers share the
//! connectors through Kafka: group membership, a config topic and a status topic.

pub mod distributed;
pub(crate) mod herder;
pub mod liveness;
pub(crate) mod rest;
pub(crate) mod runtime;
pub(crate) mod server;
pub(crate) mod store;
pub mod task;
pub(crate) mod validate;

pub use herder::{Herder, HerderError, HerderOptions, Readiness, Unfinished};
pub use rest::{parse_connector_file, router, OPENAPI_YAML};
pub use server::{serve, serve_on, ServeError, ServerLimits};
pub use runtime::{ConnectorRuntime, RuntimeError, TaskHandle, TaskState};
pub use store::TargetState;

#[cfg(test)]
mod secrets_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod hardening_tests;
