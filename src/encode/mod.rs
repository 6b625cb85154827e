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

    /// [`RecordEncoder::encode`] of a record the caller no longer needs:
    /// its topic and header names move into the output instead of being
    /// copied (the delivery path).
    pub fn encode_owned(&mut self, record: Record) -> Result<EncodedRecord, EncodeError> {
        let key = self.key.to_bytes(record.key.as_ref())?;
        let payload = self.value.to_bytes(record.value.as_ref())?;
        let headers = record
            .headers
            .into_iter()
            .map(|h| {
                let value = h.value.as_ref().and_then(encode_header);
                (h.key, value)
            })
            .collect();
        Ok(EncodedRecord { topic: record.topic, key, payload, headers, timestamp_ms: record.timestamp_ms })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::record::{Header, SchemaAndValue};
    use crate::schema::{Schema, SchemaType, Value};

    #[test]
    fn owned_encoding_writes_what_borrowed_encoding_writes() {
        let string = Arc::new(Schema::new(SchemaType::String));
        let sv = |v: &str| SchemaAndValue::new(Arc::clone(&string), Value::String(v.into()));
        let record = Record {
            topic: "p.public.t".into(),
            key: Some(sv("k")),
            value: Some(sv("v\"\n")),
            headers: vec![Header { key: "h1".into(), value: Some(sv("a")) }, Header { key: "h2".into(), value: None }],
            timestamp_ms: Some(7),
        };
        let mut enc = RecordEncoder::new(JsonOptions::default(), JsonOptions::default());
        let borrowed = enc.encode(&record).unwrap();
        let owned = enc.encode_owned(record).unwrap();
        assert_eq!(owned, borrowed);
        assert_eq!(owned.headers, vec![("h1".to_owned(), Some(b"a".to_vec())), ("h2".to_owned(), None)]);
    }
}
