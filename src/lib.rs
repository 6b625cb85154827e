//! pgcdc: change data capture from PostgreSQL into Kafka, in Debezium's format.
//!
//! ```text
//!  PostgreSQL ──replication──▶ source ──SourceEvent──▶ envelope ──Record──▶ transform ──▶ encode ──bytes──▶ sink (Kafka)
//! ```
//!
//! One module per stage; [`pipeline`] wires them and holds no logic.

pub mod config;
pub mod connect;
pub mod convert;
pub mod delivery;
pub mod encode;
pub mod envelope;
pub mod error;
pub mod event;
pub mod heartbeat;
pub mod kafka;
#[cfg(test)]
mod layering;
pub mod lsn;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub(crate) mod private_fs;
pub mod record;
pub mod schema;
pub mod secret;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod tail;
pub mod transform;
