//! Confluent's `AvroConverter` (`io.confluent.connect.avro.AvroConverter`):
//! Connect schema → Avro schema registered in a Schema Registry, Connect
//! value → Avro binary behind the registry's 5-byte wire header.
//!
//! ```text
//!   SchemaAndValue ──(schema ptr, topic) cached?──yes──▶ header(id) + Avro body          (no await)
//!                                      └─no──▶ Avro schema text ─▶ subject ─▶ registry POST ─▶ cache
//! ```
//!
//! The cache is keyed by the `Arc` of the Connect schema (the envelope keeps
//! one per table version, so a hit costs two hash lookups) and the topic (the
//! subject depends on it). A table whose schema changes gets a new `Arc`,
//! hence a new Avro schema and a new version under its subject.

pub mod binary;
pub mod schema;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;

pub use schema::{avro_schema_json, avro_schema_text, AvroDataOptions, SchemaError};
pub use wire::WireHeader;

use crate::encode::json::EncodeError;
use crate::encode::schema_registry::{RegistryClient, RegistryConfig};
use crate::record::SchemaAndValue;
use crate::schema::Schema;

/// The converter class Debezium users configure.
pub const AVRO_CONVERTER_CLASS: &str = "io.confluent.connect.avro.AvroConverter";

/// Cached Connect schemas kept before the cache is reset (one per live table schema version).
const SCHEMA_CACHE_CAPACITY: usize = 4096;

/// `key.subject.name.strategy` / `value.subject.name.strategy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (Confluent's default).
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

/// Class names of the strategies, as Confluent spells them.
pub const SUBJECT_NAME_STRATEGIES: &[(&str, SubjectNameStrategy)] = &[
    ("io.confluent.kafka.serializers.subject.TopicNameStrategy", SubjectNameStrategy::TopicName),
    ("io.confluent.kafka.serializers.subject.RecordNameStrategy", SubjectNameStrategy::RecordName),
    ("io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", SubjectNameStrategy::TopicRecordName),
];

/// `key.converter.*` / `value.converter.*` of an AvroConverter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvroOptions {
    pub registry: RegistryConfig,
    /// `auto.register.schemas` (default true).
    pub auto_register_schemas: bool,
    /// `use.latest.version` (default false): write with the id of the
    /// subject's latest version, which must be the record's schema.
    pub use_latest_version: bool,
    pub subject_name_strategy: SubjectNameStrategy,
    pub data: AvroDataOptions,
}

/// One side (key or value) of a connector's AvroConverter.
#[derive(Debug)]
pub struct AvroConverter {
    opts: AvroOptions,
    is_key: bool,
    registry: RegistryClient,
    /// Keyed by the address of the Connect schema's `Arc`.
    cache: HashMap<usize, Cached>,
    last_len: usize,
}

#[derive(Debug)]
struct Cached {
    /// Keeps the pointer of the cache key alive.
    _schema: Arc<Schema>,
    /// The Avro schema text and its record full name.
    avro: Arc<(String, String)>,
    /// topic → schema id.
    ids: HashMap<String, u32>,
}

impl AvroConverter {
    pub fn new(opts: AvroOptions, is_key: bool) -> Self {
        let property = if is_key { "key.converter" } else { "value.converter" };
        let registry = RegistryClient::new(opts.registry.clone(), property);
        AvroConverter { opts, is_key, registry, cache: HashMap::new(), last_len: 0 }
    }

    pub fn options(&self) -> &AvroOptions {
        &self.opts
    }

    /// Serialize `sv` for `topic`: the wire header and the Avro body; `None`
    /// for Kafka's null (a null input, or a null value of an optional schema,
    /// as Confluent's serializer returns null for a null object).
    pub async fn to_bytes(&mut self, topic: &str, sv: Option<&SchemaAndValue>) -> Result<Option<Vec<u8>>, EncodeError> {
        let Some(sv) = sv else { return Ok(None) };
        if sv.value.is_null() && sv.schema.default.is_none() && sv.schema.optional {
            return Ok(None);
        }
        let id = match self.cached_id(&sv.schema, topic) {
            Some(id) => id,
            None => self.resolve(&sv.schema, topic).await?,
        };
        self.encode_with_id(id, sv).map(Some)
    }

    /// The cached schema id of `schema` on `topic`.
    pub fn cached_id(&self, schema: &Arc<Schema>, topic: &str) -> Option<u32> {
        self.cache.get(&(Arc::as_ptr(schema) as usize)).and_then(|c| c.ids.get(topic)).copied()
    }

    /// Header + Avro body of `sv` with an id already resolved.
    pub fn encode_with_id(&mut self, id: u32, sv: &SchemaAndValue) -> Result<Vec<u8>, EncodeError> {
        let mut buf = Vec::with_capacity((self.last_len + self.last_len / 8 + 16).min(1 << 20));
        WireHeader::new(id).write(&mut buf);
        binary::write_value(&sv.schema, &sv.value, &self.opts.data, &mut buf)?;
        self.last_len = buf.len();
        Ok(buf)
    }

    /// Register (or look up) the Avro schema of `schema` under the subject of
    /// `topic`, and cache the id.
    pub async fn resolve(&mut self, schema: &Arc<Schema>, topic: &str) -> Result<u32, EncodeError> {
        let key = Arc::as_ptr(schema) as usize;
        let avro = match self.cache.get(&key) {
            Some(c) => Arc::clone(&c.avro),
            None => {
                let json = avro_schema_json(schema, &self.opts.data).map_err(|source| EncodeError::AvroSchema {
                    schema: schema.name.clone().unwrap_or_else(|| schema.kind.json_name().to_owned()),
                    source,
                })?;
                let full_name = record_full_name(&json);
                Arc::new((json.to_string(), full_name))
            }
        };
        let subject = self.subject(topic, &avro.1);
        let id = if self.opts.use_latest_version {
            self.registry.latest_id(&subject, &avro.0).await?
        } else {
            self.registry.id(&subject, &avro.0, self.opts.auto_register_schemas).await?
        };
        tracing::debug!(subject = %subject, id, "schema id resolved");
        if self.cache.len() >= SCHEMA_CACHE_CAPACITY && !self.cache.contains_key(&key) {
            self.cache.clear();
        }
        self.cache
            .entry(key)
            .or_insert_with(|| Cached { _schema: Arc::clone(schema), avro, ids: HashMap::new() })
            .ids
            .insert(topic.to_owned(), id);
        Ok(id)
    }

    /// The subject of `topic` under the configured strategy.
    pub fn subject(&self, topic: &str, record_name: &str) -> String {
        let side = if self.is_key { "key" } else { "value" };
        match self.opts.subject_name_strategy {
            SubjectNameStrategy::TopicName => format!("{topic}-{side}"),
            SubjectNameStrategy::RecordName => record_name.to_owned(),
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{record_name}"),
        }
    }
}

/// The full name of a record schema (`namespace.name`), else the type name
/// (what Confluent's `AvroSchema.name()` gives the record name strategies).
fn record_full_name(json: &serde_json::Value) -> String {
    match json {
        serde_json::Value::Object(m) if m.get("type").and_then(|t| t.as_str()) == Some("record") => {
            let name = m.get("name").and_then(|n| n.as_str()).unwrap_or_default();
            match m.get("namespace").and_then(|n| n.as_str()) {
                Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
                _ => name.to_owned(),
            }
        }
        serde_json::Value::Object(m) => m.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_owned(),
        serde_json::Value::String(s) => s.clone(),
        _ => "union".to_owned(),
    }
}

#[cfg(test)]
mod golden_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn converter(strategy: SubjectNameStrategy, is_key: bool) -> AvroConverter {
        let opts = AvroOptions {
            registry: RegistryConfig { urls: vec!["http://127.0.0.1:1".into()], ..RegistryConfig::default() },
            auto_register_schemas: true,
            use_latest_version: false,
            subject_name_strategy: strategy,
            data: AvroDataOptions::default(),
        };
        AvroConverter::new(opts, is_key)
    }

    #[test]
    fn subjects_follow_the_strategy() {
        let record = "shop.public.orders.Envelope";
        assert_eq!(converter(SubjectNameStrategy::TopicName, false).subject("shop.public.orders", record), "shop.public.orders-value");
        assert_eq!(converter(SubjectNameStrategy::TopicName, true).subject("shop.public.orders", record), "shop.public.orders-key");
        assert_eq!(converter(SubjectNameStrategy::RecordName, false).subject("t", record), record);
        assert_eq!(converter(SubjectNameStrategy::TopicRecordName, true).subject("t", record), "t-shop.public.orders.Envelope");
    }

    #[test]
    fn record_names_for_the_record_strategies() {
        let json = serde_json::json!({"type": "record", "name": "Key", "namespace": "a.b", "fields": []});
        assert_eq!(record_full_name(&json), "a.b.Key");
        assert_eq!(record_full_name(&serde_json::json!({"type": "record", "name": "K", "fields": []})), "K");
        assert_eq!(record_full_name(&serde_json::json!("string")), "string");
    }

    #[tokio::test]
    async fn null_of_an_optional_schema_is_a_kafka_null_without_the_registry() {
        let mut c = converter(SubjectNameStrategy::TopicName, false);
        let sv = SchemaAndValue::new(Arc::new(Schema::new(crate::schema::SchemaType::Int32).optional()), crate::schema::Value::Null);
        assert_eq!(c.to_bytes("t", Some(&sv)).await.unwrap(), None);
        assert_eq!(c.to_bytes("t", None).await.unwrap(), None);
    }
}
