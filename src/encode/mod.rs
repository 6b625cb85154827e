//! Serializers: [`Record`](crate::record::Record) → [`EncodedRecord`](crate::record::EncodedRecord).

pub mod header;
pub mod json;

pub use header::encode_header;
pub use json::{EncodeError, JsonConverter, JsonOptions};

use crate::record::{EncodedRecord, Record};

/// A Connect worker's converters for one connector: key and value
/// JsonConverters plus the SimpleHeaderConverter for headers.
#[derive(Debug)]
pub struct RecordEncoder {
    pub key: JsonConverter,
    pub value: JsonConverter,
}

impl RecordEncoder {
    pub fn new(key: JsonOptions, value: JsonOptions) -> Self {
        RecordEncoder { key: JsonConverter::new(key), value: JsonConverter::new(value) }
    }

    /// Serialize key, value and headers of one record.
    pub fn encode(&mut self, record: &Record) -> Result<EncodedRecord, EncodeError> {
        let key = self.key.to_bytes(record.key.as_ref())?;
        let payload = self.value.to_bytes(record.value.as_ref())?;
        let headers = record
            .headers
            .iter()
            .map(|h| (h.key.clone(), h.value.as_ref().and_then(encode_header)))
            .collect();
        Ok(EncodedRecord { topic: record.topic.clone(), key, payload, headers, timestamp_ms: record.timestamp_ms })
    }
}
