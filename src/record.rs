//! A Kafka Connect `SourceRecord`: what the envelope produces, transforms
//! rewrite and encoders serialize.

use std::sync::Arc;

use crate::schema::{Schema, Value};

/// A value together with its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Arc<Schema>,
    pub value: Value,
}

impl SchemaAndValue {
    pub fn new(schema: Arc<Schema>, value: Value) -> Self {
        SchemaAndValue { schema, value }
    }
}

/// A Connect header. `value: None` is a header with a null value.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: Option<SchemaAndValue>,
}

/// One record bound for a topic. `key: None` is a null key; `value: None` is
/// a tombstone.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub topic: String,
    pub key: Option<SchemaAndValue>,
    pub value: Option<SchemaAndValue>,
    pub headers: Vec<Header>,
    /// Kafka record timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// A record after serialization, ready for the producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedRecord {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp_ms: Option<i64>,
}
