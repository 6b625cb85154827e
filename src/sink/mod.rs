//! Sinks: where encoded records go.

pub mod kafka;
