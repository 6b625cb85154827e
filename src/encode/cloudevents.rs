//! Debezium's `io.debezium.converters.CloudEventsConverter` (value side,
//! structured mode, JSON event with JSON data), as Debezium 3.6.3 writes a
//! PostgreSQL change event (checked against the Java class:
//! `src/transform/golden/cloudevents_*.json`):
//!
//! ```text
//! {"id":"name:<name>;lsn:<lsn>;txId:<txId>;sequence:<sequence>",
//!  "source":"/debezium/postgresql/<name>","specversion":"1.0",
//!  "type":"io.debezium.connector.postgresql.DataChangeEvent",
//!  "time":"<source.ts_ms as yyyy-MM-dd'T'HH:mm:ss.SSSZ>","datacontenttype":"application/json",
//!  "iodebeziumop":…, "iodebezium<source field>":…, "iodebeziumtx<transaction field>":…,   (extension.attributes.enable)
//!  "data":{"schema":…,"payload":{"before":…,"after":…}}}       (json.schemas.enable, else the bare struct)
//! ```
//!
//! Extension names keep only `[A-Za-z0-9]` of the field name; int64 source
//! fields are written as strings. Records whose value schema is not a change
//! event envelope (name ending `.Envelope`) — tombstones, logical decoding
//! messages, heartbeats, transaction metadata, unwrapped rows — become
//! Kafka nulls, as the Java converter returns null for them.
//!
//! The event is written directly (no intermediate struct): the `data` schema
//! text is cached per envelope schema, so a record costs its payload only.

use std::collections::HashMap;
use std::sync::Arc;

use crate::encode::json::{write_int, write_str, EncodeError, JsonOptions, Writer};
use crate::record::SchemaAndValue;
use crate::schema::{Schema, SchemaType, Value};

/// The converter's class.
pub const CLOUD_EVENTS_CONVERTER_CLASS: &str = "io.debezium.converters.CloudEventsConverter";
/// Name of the `data` struct of PostgreSQL events.
const DATA_SCHEMA_NAME: &str = "io.debezium.connector.postgresql.Data";
/// `TransactionMonitor.TRANSACTION_BLOCK_SCHEMA`'s fields, as extension names.
const TX_EXTENSIONS: [&str; 3] = ["iodebeziumtxid", "iodebeziumtxtotalorder", "iodebeziumtxdatacollectionorder"];
/// Cached `data` schema texts before the cache is reset.
const SCHEMA_CACHE_CAPACITY: usize = 4096;

/// `value.converter=io.debezium.converters.CloudEventsConverter` and its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudEventsOptions {
    /// `extension.attributes.enable`: the `iodebezium*` attributes.
    pub extension_attributes: bool,
    /// `json.*`: the JsonConverter options of the `data` attribute.
    pub data: JsonOptions,
}

/// The configured converter with its cache of `data` schema texts.
#[derive(Debug)]
pub struct CloudEventsConverter {
    opts: CloudEventsOptions,
    /// Envelope schema (by pointer, kept alive by the `Arc`) → `data` schema JSON.
    cache: HashMap<*const Schema, (Arc<Schema>, Vec<u8>)>,
    last_len: usize,
}

// The raw pointers are only compared, never dereferenced; the `Arc` next to
// each one keeps the schema alive.
unsafe impl Send for CloudEventsConverter {}

fn failed(reason: impl Into<String>) -> EncodeError {
    EncodeError::CloudEvents { reason: reason.into() }
}

/// `CloudEventsConverter.adjustExtensionName`: `iodebezium` + the name's ASCII letters and digits.
fn extension_name(name: &str, buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"\"iodebezium");
    buf.extend(name.bytes().filter(u8::is_ascii_alphanumeric));
    buf.extend_from_slice(b"\":");
}

/// Java's `String.valueOf` of a source field inside the id.
fn id_part(v: Option<&Value>, out: &mut String) {
    use std::fmt::Write;
    match v {
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Int64(x)) => {
            let _ = write!(out, "{x}");
        }
        Some(Value::Int32(x)) => {
            let _ = write!(out, "{x}");
        }
        _ => out.push_str("null"),
    }
}

impl CloudEventsConverter {
    pub fn new(opts: CloudEventsOptions) -> Self {
        CloudEventsConverter { opts, cache: HashMap::new(), last_len: 0 }
    }

    /// The event's bytes; `None` (Kafka's null) for a tombstone or a record
    /// that is not a change event envelope.
    pub fn to_bytes(&mut self, sv: Option<&SchemaAndValue>) -> Result<Option<Vec<u8>>, EncodeError> {
        let Some(sv) = sv else { return Ok(None) };
        if !sv.schema.name.as_deref().is_some_and(|n| n.ends_with(".Envelope")) {
            return Ok(None);
        }
        let Value::Struct(fields) = &sv.value else {
            return Err(failed("Mismatching schema: the envelope is not a struct"));
        };
        let get = |name: &str| sv.schema.field_index(name).map(|i| (&sv.schema.fields[i].schema, fields.get(i)));
        let (Some((source_schema, Some(Value::Struct(source)))), Some((_, Some(Value::String(op))))) = (get("source"), get("op"))
        else {
            return Err(failed("the envelope has no source block or no op"));
        };
        let source_field = |name: &str| source_schema.field_index(name).and_then(|i| source.get(i));
        match source_field("connector") {
            Some(Value::String(c)) if c == "postgresql" => {}
            other => {
                let mut c = String::new();
                id_part(other, &mut c);
                return Err(failed(format!("No usable CloudEvents converters for connector type \"{c}\"")));
            }
        }
        let Some(Value::Int64(ts_ms)) = source_field("ts_ms") else {
            return Err(failed("the source block has no ts_ms"));
        };
        let mut buf = Vec::with_capacity((self.last_len + self.last_len / 8 + 64).min(1 << 20));
        let mut id = String::with_capacity(96);
        id.push_str("name:");
        id_part(source_field("name"), &mut id);
        id.push_str(";lsn:");
        id_part(source_field("lsn"), &mut id);
        id.push_str(";txId:");
        id_part(source_field("txId"), &mut id);
        id.push_str(";sequence:");
        id_part(source_field("sequence"), &mut id);
        buf.extend_from_slice(b"{\"id\":");
        write_str(&id, &mut buf);
        buf.extend_from_slice(b",\"source\":");
        let mut name = String::new();
        id_part(source_field("name"), &mut name);
        write_str(&format!("/debezium/postgresql/{name}"), &mut buf);
        buf.extend_from_slice(b",\"specversion\":\"1.0\",\"type\":\"io.debezium.connector.postgresql.DataChangeEvent\",\"time\":\"");
        let time = chrono::DateTime::from_timestamp_millis(*ts_ms)
            .ok_or_else(|| failed(format!("source.ts_ms {ts_ms} is out of range")))?;
        buf.extend_from_slice(time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().as_bytes());
        buf.extend_from_slice(b"\",\"datacontenttype\":\"application/json\"");
        if self.opts.extension_attributes {
            buf.extend_from_slice(b",\"iodebeziumop\":");
            write_str(op, &mut buf);
            for (f, v) in source_schema.fields.iter().zip(source.iter()) {
                buf.push(b',');
                extension_name(&f.name, &mut buf);
                match (f.schema.kind, v) {
                    (_, Value::Null) => buf.extend_from_slice(b"null"),
                    (SchemaType::String, Value::String(s)) => write_str(s, &mut buf),
                    (SchemaType::Int64, Value::Int64(x)) => {
                        buf.push(b'"');
                        write_int(*x, &mut buf);
                        buf.push(b'"');
                    }
                    (SchemaType::Int32, Value::Int32(x)) => write_int(i64::from(*x), &mut buf),
                    (SchemaType::Boolean, Value::Boolean(b)) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
                    (kind, _) => {
                        return Err(failed(format!(
                            "Source field of type {} cannot be converted into CloudEvents extension attribute.",
                            kind.json_name().to_ascii_uppercase()
                        )))
                    }
                }
            }
            let tx = match get("transaction") {
                Some((tx_schema, Some(Value::Struct(tx)))) => Some((tx_schema, tx)),
                _ => None,
            };
            for (i, name) in TX_EXTENSIONS.iter().enumerate() {
                buf.extend_from_slice(b",\"");
                buf.extend_from_slice(name.as_bytes());
                buf.extend_from_slice(b"\":");
                match tx.and_then(|(_, t)| t.get(i)) {
                    Some(Value::String(s)) => write_str(s, &mut buf),
                    Some(Value::Int64(x)) => {
                        buf.push(b'"');
                        write_int(*x, &mut buf);
                        buf.push(b'"');
                    }
                    _ => buf.extend_from_slice(b"null"),
                }
            }
        }
        buf.extend_from_slice(b",\"data\":");
        self.data(&sv.schema, fields, &mut buf)?;
        buf.push(b'}');
        self.last_len = buf.len();
        Ok(Some(buf))
    }

    /// The `data` attribute: `{before, after}` of the envelope, with its
    /// schema when `json.schemas.enable`.
    fn data(&mut self, envelope: &Arc<Schema>, fields: &[Value], buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        let w = Writer { decimal_format: self.opts.data.decimal_format, replace_null_with_default: self.opts.data.replace_null_with_default };
        let (Some(before), Some(after)) = (envelope.field_index("before"), envelope.field_index("after")) else {
            return Err(failed("the envelope has no before or after field"));
        };
        if self.opts.data.schemas_enable {
            let key = Arc::as_ptr(envelope);
            if !self.cache.contains_key(&key) {
                if self.cache.len() >= SCHEMA_CACHE_CAPACITY {
                    self.cache.clear();
                }
                let data = Schema::new(SchemaType::Struct)
                    .named(DATA_SCHEMA_NAME)
                    .with_field("before", Arc::clone(&envelope.fields[before].schema))
                    .with_field("after", Arc::clone(&envelope.fields[after].schema));
                let mut text = Vec::with_capacity(256);
                w.schema(&data, &mut text)?;
                self.cache.insert(key, (Arc::clone(envelope), text));
            }
            buf.extend_from_slice(b"{\"schema\":");
            if let Some((_, text)) = self.cache.get(&key) {
                buf.extend_from_slice(text);
            }
            buf.extend_from_slice(b",\"payload\":");
        }
        buf.extend_from_slice(b"{\"before\":");
        let null = Value::Null;
        w.value(&envelope.fields[before].schema, fields.get(before).unwrap_or(&null), buf, "before")?;
        buf.extend_from_slice(b",\"after\":");
        w.value(&envelope.fields[after].schema, fields.get(after).unwrap_or(&null), buf, "after")?;
        buf.push(b'}');
        if self.opts.data.schemas_enable {
            buf.push(b'}');
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "cloudevents_tests.rs"]
mod tests;
