//! pgcdc: change data capture from PostgreSQL into Kafka, in Debezium's format.
//!
//! ```text
//!  PostgreSQL ──replication──▶ source ──SourceEvent──▶ envelope ──Record──▶ transform ──▶ encode ──bytes──▶ sink (Kafka)
//! ```
//!
//! One module per stage; [`pipeline`] wires them and holds no logic.

pub mod config;
pub mod connect;
pub(crate) mod convert;
pub(crate) mod delivery;
pub mod encode;
pub(crate) mod envelope;
pub mod error;
pub mod event;
pub(crate) mod heartbeat;
pub(crate) mod javafmt;
pub mod kafka;
#[cfg(test)]
mod layering;
pub mod lsn;
pub(crate) mod metrics;
pub mod notify;
pub mod offsets;
pub mod pipeline;
pub mod progress;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod private_fs;
pub mod record;
pub mod schema;
pub(crate) mod secret;
pub(crate) mod shutdown;
pub mod sink;
pub mod source;
pub mod tail;
pub(crate) mod transform;
