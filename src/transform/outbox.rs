//! Debezium's outbox EventRouter (`io.debezium.transforms.outbox.EventRouter`):
//! each insert into an outbox table becomes one event on the topic its
//! `route.by.field` column names, keyed by `table.field.event.key`, with the
//! `table.field.event.payload` column as value (or a struct of it and the
//! `envelope` placements of `table.fields.additional.placement`), an `id`
//! header with the event id, and the Kafka timestamp of the envelope's
//! `ts_ms` or `table.field.event.timestamp`.
//!
//! As Debezium 3.6.3 does it (goldens in `golden/outbox_*.json`, made by
//! `golden/SmtGolden.java` with the real class):
//! - tombstones and deletes are dropped; updates are dropped
//!   (`table.op.invalid.behavior` warn/error) or fail the record (fatal);
//!   records that are not change-event envelopes (messages, heartbeats,
//!   transaction records) pass unchanged;
//! - the value schema is named after the `after` schema with the routed
//!   value inserted before its last part (`ecommerce.public.outbox.Order.Value`)
//!   and is cached per payload schema — per `table.field.event.schema.version`
//!   value when that is set — so the first event of a payload shape names it
//!   for all later ones, whatever their route;
//! - with `route.tombstone.on.empty.payload` a null or blank payload gives a tombstone.

use std::sync::Arc;

use crate::record::{Header, Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::outbox_json::{expand, Expansion};
use crate::transform::router::TopicRewrite;
use crate::transform::TransformError;

/// `table.fields.additional.placement` targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Header,
    Envelope,
}

/// One `column:placement[:alias]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdditionalField {
    pub field: String,
    pub placement: Placement,
    pub alias: String,
}

/// `table.op.invalid.behavior`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InvalidOperation {
    #[default]
    Warn,
    Error,
    Fatal,
}

/// Default of `route.topic.regex`.
pub const DEFAULT_ROUTE_TOPIC_REGEX: &str = "(?<routedByValue>.*)";
/// Default of `route.topic.replacement`.
pub const DEFAULT_ROUTE_TOPIC_REPLACEMENT: &str = "outbox.event.${routedByValue}";

/// The transform's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRouterOptions {
    pub field_event_id: String,
    pub field_event_key: Option<String>,
    pub field_payload: String,
    pub field_event_timestamp: Option<String>,
    pub field_schema_version: Option<String>,
    pub route_by_field: String,
    pub route_topic: TopicRewrite,
    pub route_tombstone_on_empty_payload: bool,
    pub additional_fields: Vec<AdditionalField>,
    /// `table.field.additional.missing=ignore`
    pub ignore_missing_additional: bool,
    pub invalid_operation: InvalidOperation,
    pub expand_json_payload: bool,
    /// `table.json.payload.null.behavior=optional_bytes`
    pub json_null_as_bytes: bool,
}

/// Bound of the payload-schema cache (Debezium's LRU holds 10000).
const SCHEMA_CACHE_SIZE: usize = 10_000;

/// The EventRouter with its value-schema caches.
#[derive(Debug)]
pub struct EventRouter {
    opts: EventRouterOptions,
    only_headers: bool,
    /// payload schema → value schema, oldest first.
    by_payload: Vec<(Arc<Schema>, Arc<Schema>)>,
    by_version: Vec<(Option<i32>, Arc<Schema>)>,
}

fn field<'a>(
    schema: &'a Schema,
    value: &'a Value,
    name: &str,
) -> Option<(&'a Arc<Schema>, &'a Value)> {
    let i = schema.field_index(name)?;
    let Value::Struct(fields) = value else {
        return None;
    };
    Some((&schema.fields[i].schema, fields.get(i)?))
}

fn missing(what: &str, name: &str) -> TransformError {
    TransformError::new(
        "EventRouter",
        format!("unable to find {what} field {name} in the outbox event"),
    )
}

impl EventRouter {
    pub fn new(opts: EventRouterOptions) -> Self {
        let only_headers = !opts
            .additional_fields
            .iter()
            .any(|f| f.placement == Placement::Envelope);
        EventRouter {
            opts,
            only_headers,
            by_payload: Vec::new(),
            by_version: Vec::new(),
        }
    }

    pub fn apply(&mut self, record: Record, out: &mut Vec<Record>) -> Result<(), TransformError> {
        let Some(envelope) = &record.value else {
            return Ok(());
        };
        if !envelope
            .schema
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with(".Envelope"))
        {
            out.push(record);
            return Ok(());
        }
        let (env_schema, env_value) = (&envelope.schema, &envelope.value);
        let op = match field(env_schema, env_value, "op") {
            Some((_, Value::String(op))) => op.as_str(),
            _ => {
                return Err(TransformError::new(
                    "EventRouter",
                    "change event without op",
                ))
            }
        };
        match op {
            "d" => return Ok(()),
            "u" => {
                return match self.opts.invalid_operation {
                    InvalidOperation::Warn => {
                        tracing::warn!(topic = %record.topic, "unexpected update of an outbox table ignored");
                        Ok(())
                    }
                    InvalidOperation::Error => {
                        tracing::error!(topic = %record.topic, "unexpected update of an outbox table ignored");
                        Ok(())
                    }
                    InvalidOperation::Fatal => Err(TransformError::new(
                        "EventRouter",
                        "unexpected update of an outbox table (table.op.invalid.behavior=fatal)",
                    )),
                };
            }
            _ => {}
        }
        let (after_schema, after) = match field(env_schema, env_value, "after") {
            Some((s, v @ Value::Struct(_))) => (Arc::clone(s), v.clone()),
            _ => {
                return Err(TransformError::new(
                    "EventRouter",
                    format!("{op} event without an after row"),
                ))
            }
        };
        let get = |name: &str, what: &str| {
            field(&after_schema, &after, name).ok_or_else(|| missing(what, name))
        };
        let env_ts = match field(env_schema, env_value, "ts_ms") {
            Some((_, Value::Int64(ts))) => Some(*ts),
            _ => None,
        };
        let timestamp = match &self.opts.field_event_timestamp {
            None => env_ts,
            Some(name) => match get(name, "timestamp")? {
                (_, Value::Null) => env_ts,
                (schema, Value::Int64(ts)) => Some(match schema.name.as_deref() {
                    Some("org.apache.kafka.connect.data.Timestamp") => *ts,
                    Some("io.debezium.time.MicroTimestamp") => ts / 1_000,
                    Some("io.debezium.time.NanoTimestamp") => ts / 1_000_000,
                    other => {
                        return Err(TransformError::new(
                            "EventRouter",
                            format!(
                                "unsupported field type {} for event timestamp",
                                other.unwrap_or("int64 (without logical schema name)")
                            ),
                        ))
                    }
                }),
                _ => {
                    return Err(TransformError::new(
                        "EventRouter",
                        format!("event timestamp field {name} is not an int64"),
                    ))
                }
            },
        };
        let (id_schema, id) = get(&self.opts.field_event_id, "event-id")?;
        let (payload_schema, payload) = get(&self.opts.field_payload, "payload")?;
        let (mut payload_schema, mut payload) = (Arc::clone(payload_schema), payload.clone());
        let mut headers = record.headers;
        headers.push(Header {
            key: "id".into(),
            value: Some(SchemaAndValue::new(Arc::clone(id_schema), id.clone())),
        });

        if self.opts.expand_json_payload {
            if let Value::String(text) = &payload {
                match expand(text, &self.opts.field_payload, self.opts.json_null_as_bytes) {
                    Expansion::Expanded(s, v) => (payload_schema, payload) = (s, v),
                    Expansion::Keep => {
                        tracing::warn!(topic = %record.topic, "outbox payload is not expandable json; kept as a string")
                    }
                    Expansion::Fail(why) => {
                        return Err(TransformError::new(
                            "EventRouter",
                            format!("json payload expansion: {why}"),
                        ))
                    }
                }
            }
        }

        let routed = match get(&self.opts.route_by_field, "route-by")? {
            (_, Value::String(s)) => s.clone(),
            _ => {
                return Err(TransformError::new(
                    "EventRouter",
                    format!(
                        "route.by.field {} is null or not a string",
                        self.opts.route_by_field
                    ),
                ))
            }
        };
        let version = match &self.opts.field_schema_version {
            None => None,
            Some(name) => match get(name, "schema version")? {
                (_, Value::Int32(v)) => Some(Some(*v)),
                (_, Value::Null) => Some(None),
                _ => {
                    return Err(TransformError::new(
                        "EventRouter",
                        format!("schema version field {name} is not an int32"),
                    ))
                }
            },
        };

        let mut envelope_fields = Vec::new();
        for f in &self.opts.additional_fields {
            let Some((schema, value)) = field(&after_schema, &after, &f.field) else {
                if self.opts.ignore_missing_additional {
                    continue;
                }
                return Err(missing("additional", &f.field));
            };
            match f.placement {
                Placement::Header => headers.push(Header {
                    key: f.alias.clone(),
                    value: Some(SchemaAndValue::new(Arc::clone(schema), value.clone())),
                }),
                Placement::Envelope => {
                    envelope_fields.push((f.alias.clone(), Arc::clone(schema), value.clone()))
                }
            }
        }

        let is_empty = match &payload {
            Value::Null => true,
            Value::String(s) => s.trim_matches(|c: char| c <= ' ').is_empty(),
            _ => false,
        };
        // Debezium builds (and caches) the struct schema even for a tombstone.
        let schema = (!self.only_headers).then(|| {
            self.value_schema(
                &payload_schema,
                &after_schema,
                &routed,
                version,
                &envelope_fields,
            )
        });
        let value = if is_empty && self.opts.route_tombstone_on_empty_payload {
            None
        } else if let Some(schema) = schema {
            let mut fields = vec![Value::Null; schema.fields.len()];
            let mut put = |name: &str, v: Value| match schema.field_index(name) {
                Some(i) => {
                    fields[i] = v;
                    Ok(())
                }
                None => Err(TransformError::new(
                    "EventRouter",
                    format!("{name} is not a field of the cached value schema"),
                )),
            };
            put("payload", payload)?;
            for (alias, _, v) in envelope_fields {
                put(&alias, v)?;
            }
            Some(SchemaAndValue::new(schema, Value::Struct(fields)))
        } else {
            Some(SchemaAndValue::new(payload_schema, payload))
        };

        let key = match &self.opts.field_event_key {
            None => SchemaAndValue::new(Arc::new(Schema::new(SchemaType::String)), Value::Null),
            Some(name) => {
                let (s, v) = get(name, "event-key")?;
                SchemaAndValue::new(Arc::clone(s), v.clone())
            }
        };
        let topic = self.opts.route_topic.apply(&routed).unwrap_or(routed);
        out.push(Record {
            topic,
            key: Some(key),
            value,
            headers,
            timestamp_ms: timestamp,
        });
        Ok(())
    }

    /// The struct schema of an event value (cached as Debezium caches it).
    fn value_schema(
        &mut self,
        payload: &Arc<Schema>,
        after: &Schema,
        routed: &str,
        version: Option<Option<i32>>,
        envelope_fields: &[(String, Arc<Schema>, Value)],
    ) -> Arc<Schema> {
        let cached = match version {
            Some(v) => self
                .by_version
                .iter()
                .find(|(k, _)| *k == v)
                .map(|(_, s)| s),
            None => self
                .by_payload
                .iter()
                .find(|(k, _)| **k == **payload)
                .map(|(_, s)| s),
        };
        if let Some(s) = cached {
            return Arc::clone(s);
        }
        let name = match after.name.as_deref() {
            Some(n) => match n.rfind('.') {
                Some(dot) => format!("{}{routed}.{}", &n[..=dot], &n[dot + 1..]),
                None => format!("{routed}.{n}"),
            },
            None => routed.to_owned(),
        };
        let mut schema = Schema::new(SchemaType::Struct)
            .named(name)
            .with_field("payload", Arc::clone(payload));
        for (alias, s, _) in envelope_fields {
            if schema.field_index(alias).is_none() {
                schema = schema.with_field(alias.clone(), Arc::clone(s));
            }
        }
        if let Some(v) = version {
            schema.version = v;
        }
        let schema = Arc::new(schema);
        match version {
            Some(v) => self.by_version.push((v, Arc::clone(&schema))),
            None => {
                if self.by_payload.len() >= SCHEMA_CACHE_SIZE {
                    self.by_payload.remove(0);
                }
                self.by_payload
                    .push((Arc::clone(payload), Arc::clone(&schema)));
            }
        }
        schema
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
