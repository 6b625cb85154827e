//! Debezium's change-event envelope: [`ChangeEvent`](crate::event::ChangeEvent) → [`Record`](crate::record::Record)s.

pub mod debezium;
mod field_names;
mod schemas;
pub mod transaction;

pub use debezium::{Envelope, EventTime};
pub use field_names::FieldNameAdjustment;
pub use transaction::{TransactionMonitor, TxEvent};

#[cfg(test)]
mod real_golden_tests;

use crate::event::Op;

/// The connector properties that shape the envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// `topic.prefix` (falls back to `database.server.name`, then `database.dbname`).
    /// Also `source.name` and the prefix of the schema names.
    pub topic_prefix: String,
    /// `database.dbname`: `source.db`.
    pub database: String,
    /// `tombstones.on.delete` (default true).
    pub tombstones_on_delete: bool,
    /// `provide.transaction.metadata` (default false).
    pub provide_transaction_metadata: bool,
    /// `skipped.operations` (default `t`).
    pub skipped_operations: Vec<Op>,
    /// `field.name.adjustment.mode` (default none).
    pub field_names: FieldNameAdjustment,
    /// `schema.name.adjustment.mode` (default none): the table's Key, Value and Envelope names.
    pub schema_names: FieldNameAdjustment,
}

impl EnvelopeOptions {
    pub fn new(topic_prefix: impl Into<String>, database: impl Into<String>) -> Self {
        EnvelopeOptions {
            topic_prefix: topic_prefix.into(),
            database: database.into(),
            tombstones_on_delete: true,
            provide_transaction_metadata: false,
            skipped_operations: vec![Op::Truncate],
            field_names: FieldNameAdjustment::None,
            schema_names: FieldNameAdjustment::None,
        }
    }
}
