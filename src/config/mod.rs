//! Typed, validated configuration: the worker's own file and the connectors'
//! Debezium-style properties.

pub(crate) mod columns;
pub mod connector;
mod converter;
pub mod declarations;
#[cfg(test)]
mod declarations_tests;
pub mod definitions;
pub(crate) mod properties;
pub(crate) mod providers;
pub(crate) mod secrets;
pub mod errors;
pub(crate) mod filters;
pub mod overrides;
pub mod slot;
mod transforms;
mod transforms_connect;
pub(crate) mod values;
pub mod worker;

pub use properties::{ConfigErrors, ConfigIssue};
pub(crate) use transforms_connect::plugin_classes as connect_plugin_classes;
pub use crate::secret::Secret;
