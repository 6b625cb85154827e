//! The PostgreSQL source: replication connection, pgoutput decoding, relation
//! cache, type mapping, slot and publication management.

pub mod capture;
pub mod catalog;
pub(crate) mod columns;
pub(crate) mod decoder;
pub(crate) mod incremental;
pub(crate) mod ownership;
pub mod pgoutput;
pub mod preflight;
pub(crate) mod relation;
pub mod replication;
pub(crate) mod signals;
pub(crate) mod snapshot;
pub(crate) mod spill;
pub mod tls;
pub mod value;
pub(crate) mod wal_bound;
