//! The PostgreSQL source: replication connection, pgoutput decoding, relation
//! cache, type mapping, slot and publication management.

pub mod capture;
pub mod catalog;
pub mod columns;
pub mod decoder;
pub mod incremental;
pub mod ownership;
pub mod pgoutput;
pub mod relation;
pub mod replication;
pub mod signals;
pub mod snapshot;
pub mod spill;
pub mod tls;
pub mod value;
pub mod wal_bound;
