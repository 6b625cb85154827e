//! The streaming replication connection.
