//! `io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent`:
//! a logical decoding message (`pg_logical_emit_message`, topic
//! `<prefix>.message`) becomes an insert-shaped envelope whose `after` is the
//! message's JSON content, so the outbox EventRouter (or unwrap) can follow:
//!
//! ```text
//!   MessageValue{op:"m", ts_ms, source, transaction, message{prefix, content}}   key {prefix}
//!     ──▶ MessageValue.Envelope{op:"c", ts_ms, source, transaction, after:<content struct>}   key null
//! ```
//!
//! As Debezium 3.6.3 does it (checked against the Java class:
//! `golden/decode_*.json`):
//! - records whose value schema is not `io.debezium.connector.postgresql.MessageValue`
//!   pass unchanged, except tombstones, on which the Java class fails (a
//!   NullPointerException on the missing value schema): a data error here
//!   too, so give the transform a predicate (TopicNameMatches on the message
//!   topic) when the connector also captures deletes;
//! - the content's schema is inferred as the EventRouter's
//!   `table.expand.json.payload` does ([`outbox_json::decode_document`]); JSON
//!   nulls are left out unless `fields.null.include=true` (optional bytes);
//! - content that is not a JSON object fails the record;
//! - the key is cleared; headers and timestamp are kept.

use std::sync::Arc;

use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::outbox_json;
use crate::transform::TransformError;

const NAME: &str = "DecodeLogicalDecodingMessageContent";
/// The value schema of logical decoding message records.
const MESSAGE_VALUE: &str = "io.debezium.connector.postgresql.MessageValue";
/// Bound of the output schema cache (one entry per content shape).
const CACHE_SIZE: usize = 64;

/// Options of the transform.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DecodeMessageOptions {
    /// `fields.null.include`: JSON nulls become optional bytes fields.
    pub fields_null_include: bool,
}

/// The configured transform with its schema cache.
#[derive(Debug)]
pub struct DecodeMessage {
    opts: DecodeMessageOptions,
    /// (input value schema, content schema) → output value schema.
    cache: Vec<(Arc<Schema>, Arc<Schema>, Arc<Schema>)>,
}

impl DecodeMessage {
    pub fn new(opts: DecodeMessageOptions) -> Self {
        DecodeMessage { opts, cache: Vec::new() }
    }

    pub fn apply(&mut self, record: Record) -> Result<Record, TransformError> {
        let Some(value) = &record.value else {
            return Err(TransformError::new(
                NAME,
                "a tombstone has no value schema (Debezium fails on it too); apply the transform only to the message topic \
                 with a predicate (e.g. TopicNameMatches on <topic.prefix>.message)",
            ));
        };
        if value.schema.name.as_deref() != Some(MESSAGE_VALUE) {
            return Ok(record);
        }
        let (Some(message_at), Value::Struct(fields)) = (value.schema.field_index("message"), &value.value) else {
            return Err(TransformError::new(NAME, "Only Struct objects supported for [Retrieve a record value]"));
        };
        let content = match fields.get(message_at) {
            Some(Value::Struct(block)) => {
                let at = value.schema.fields[message_at].schema.field_index("content");
                match at.and_then(|i| block.get(i)) {
                    Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(Value::Null) => String::new(),
                    _ => return Err(TransformError::new(NAME, "The content of a logical decoding message is non-binary")),
                }
            }
            _ => {
                return Err(TransformError::new(
                    NAME,
                    "Only Struct objects supported for [Retrieve content of a logical decoding message], found: null",
                ))
            }
        };
        let (content_schema, content_value) =
            outbox_json::decode_document(&content, self.opts.fields_null_include).map_err(|e| TransformError::new(NAME, e))?;
        let schema = self.output_schema(&value.schema, message_at, content_schema);
        let op_at = value.schema.field_index("op");
        let mut out = Vec::with_capacity(fields.len());
        for (i, v) in fields.iter().enumerate() {
            if i == message_at {
                continue;
            }
            out.push(if Some(i) == op_at { Value::String("c".into()) } else { v.clone() });
        }
        out.push(content_value);
        Ok(Record {
            key: None,
            value: Some(SchemaAndValue::new(schema, Value::Struct(out))),
            ..record
        })
    }

    /// `<input name>.Envelope`: the input's fields without `message`, then
    /// `after` (no version, doc or parameters: a fresh `SchemaBuilder`).
    fn output_schema(&mut self, input: &Arc<Schema>, message_at: usize, content: Arc<Schema>) -> Arc<Schema> {
        if let Some((_, _, out)) = self.cache.iter().find(|(i, c, _)| (Arc::ptr_eq(i, input) || **i == **input) && **c == *content) {
            return Arc::clone(out);
        }
        let mut s = Schema::new(SchemaType::Struct).named(format!("{}.Envelope", input.name.as_deref().unwrap_or_default()));
        for (i, f) in input.fields.iter().enumerate() {
            if i != message_at {
                s = s.with_field(f.name.clone(), Arc::clone(&f.schema));
            }
        }
        let out = Arc::new(s.with_field("after", Arc::clone(&content)));
        if self.cache.len() == CACHE_SIZE {
            self.cache.remove(0);
        }
        self.cache.push((Arc::clone(input), content, Arc::clone(&out)));
        out
    }
}

#[cfg(test)]
#[path = "decode_message_tests.rs"]
mod tests;
