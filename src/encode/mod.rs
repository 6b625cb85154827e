//! Serializers: [`Record`](crate::record::Record) → [`EncodedRecord`](crate::record::EncodedRecord).

pub mod avro;
pub mod cloudevents;
pub(crate) mod header;
pub(crate) mod json;
pub mod registry_tls;
pub mod schema_registry;

pub use avro::{AvroConverter, AvroOptions};
pub use header::encode_header;
pub use json::{EncodeError, JsonConverter, JsonOptions};

use crate::record::{EncodedRecord, Record, SchemaAndValue};

/// The converter configured for keys or values (`key.converter` / `value.converter`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConverterConfig {
    /// `org.apache.kafka.connect.json.JsonConverter` (the default).
    Json(JsonOptions),
    /// `io.confluent.connect.avro.AvroConverter`.
    Avro(AvroOptions),
    /// `io.debezium.converters.CloudEventsConverter` (values only).
    CloudEvents(cloudevents::CloudEventsOptions),
}

impl Default for ConverterConfig {
    fn default() -> Self {
        ConverterConfig::Json(JsonOptions::default())
    }
}

impl ConverterConfig {
    /// The JsonConverter's options, when that is the converter.
    pub fn json(&self) -> Option<&JsonOptions> {
        match self {
            ConverterConfig::Json(o) => Some(o),
            ConverterConfig::Avro(_) | ConverterConfig::CloudEvents(_) => None,
        }
    }
}

/// One side's converter.
#[derive(Debug)]
pub enum Converter {
    Json(JsonConverter),
    Avro(Box<AvroConverter>),
    CloudEvents(cloudevents::CloudEventsConverter),
}

impl Converter {
    pub fn new(config: &ConverterConfig, is_key: bool) -> Self {
        match config {
            ConverterConfig::Json(o) => Converter::Json(JsonConverter::new(o.clone())),
            ConverterConfig::Avro(o) => Converter::Avro(Box::new(AvroConverter::new(o.clone(), is_key))),
            ConverterConfig::CloudEvents(o) => Converter::CloudEvents(cloudevents::CloudEventsConverter::new(o.clone())),
        }
    }

    /// Serialize `sv` bound for `topic`; `None` is Kafka's null. Only the
    /// AvroConverter ever awaits, and only for a schema it has no id for yet.
    pub async fn to_bytes(&mut self, topic: &str, sv: Option<&SchemaAndValue>) -> Result<Option<Vec<u8>>, EncodeError> {
        match self {
            Converter::Json(c) => c.to_bytes(sv),
            Converter::Avro(c) => c.to_bytes(topic, sv).await,
            Converter::CloudEvents(c) => c.to_bytes(sv),
        }
    }
}

/// A connector's key and value converters plus the SimpleHeaderConverter:
/// the record path's encoder for any converter.
#[derive(Debug)]
pub struct Converters {
    pub key: Converter,
    pub value: Converter,
}

impl Converters {
    pub fn new(key: &ConverterConfig, value: &ConverterConfig) -> Self {
        Converters { key: Converter::new(key, true), value: Converter::new(value, false) }
    }

    /// Serialize a record the caller no longer needs.
    pub async fn encode_owned(&mut self, record: Record) -> Result<EncodedRecord, EncodeError> {
        let key = self.key.to_bytes(&record.topic, record.key.as_ref()).await?;
        let payload = self.value.to_bytes(&record.topic, record.value.as_ref()).await?;
        Ok(assemble(record, key, payload))
    }
}

/// Key and value JsonConverters plus the SimpleHeaderConverter, synchronous
/// (the goldens' and benchmarks' encoder; the record path uses [`Converters`]).
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
        Ok(assemble(record, key, payload))
    }
}

/// An encoded record from `record`'s topic, headers (SimpleHeaderConverter)
/// and timestamp, moved rather than copied, with the encoded key and value.
fn assemble(record: Record, key: Option<Vec<u8>>, payload: Option<Vec<u8>>) -> EncodedRecord {
    let headers = record.headers.into_iter().map(|h| (h.key, h.value.as_ref().and_then(encode_header))).collect();
    EncodedRecord { topic: record.topic, key, payload, headers, timestamp_ms: record.timestamp_ms }
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
