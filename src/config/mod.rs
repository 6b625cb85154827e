//! Typed, validated configuration: the worker's own file and the connectors'
//! Debezium-style properties.

pub mod columns;
pub mod connector;
mod converter;
pub mod definitions;
pub mod properties;
pub mod providers;
pub mod secrets;
mod transforms;
pub mod values;
pub mod worker;

pub use properties::{ConfigErrors, ConfigIssue};
pub use crate::secret::Secret;
