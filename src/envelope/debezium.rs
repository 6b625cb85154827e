//! Debezium's PostgreSQL change-event records, as `RelationalChangeRecordEmitter`
//! and `EventDispatcher` build them.
//!
//! ```text
//!   c/r/u ──▶ [key, envelope{before?, after, source, op, ts_*}]
//!   d     ──▶ [key, envelope{before, after: null}]  + [key, null]   (tombstones.on.delete)
//!   u with a changed key ──▶ d(old key, header __debezium.newkey) + tombstone
//!                           + c(new key, header __debezium.oldkey)
//!   t     ──▶ [null key, envelope{before: null, after: null}]       (unless skipped)
//!   m     ──▶ topic <prefix>.message, MessageKey{prefix}, MessageValue
//! ```
//!
//! Every change record carries Debezium's context headers (`extended.headers.enabled`,
//! on by default) after its own headers; message records carry none. Schemas are built once per table
//! schema version and shared through `Arc`s.

use std::collections::HashMap;
use std::sync::Arc;

use super::schemas::{self, TableSchemas};
use super::EnvelopeOptions;
use crate::event::{ChangeEvent, LogicalMessage, Op, Row, SourceInfo, TableSchema};
use crate::record::{Header, Record, SchemaAndValue};
use crate::schema::{Schema, Value};

/// The Debezium release whose output this crate reproduces (`source.version`).
pub const DEBEZIUM_COMPAT_VERSION: &str = "3.6.3.Final";
/// `source.connector`.
pub const CONNECTOR: &str = "postgresql";
/// Header on the delete record of a primary-key change.
pub const NEWKEY_HEADER: &str = "__debezium.newkey";
/// Header on the create record of a primary-key change.
pub const OLDKEY_HEADER: &str = "__debezium.oldkey";

/// Processing time of a change (Debezium's clock): envelope `ts_ms/us/ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTime {
    /// Nanoseconds since the Unix epoch.
    pub unix_nanos: i64,
}

impl EventTime {
    pub fn now() -> Self {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        EventTime { unix_nanos: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX) }
    }
}

/// The `transaction` block of an event (`provide.transaction.metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBlock {
    /// `"<txId>:<lsn>"` as Debezium's PostgreSQL connector writes it.
    pub id: String,
    pub total_order: i64,
    pub data_collection_order: i64,
}

/// The `__debezium.context.*` headers (`extended.headers.enabled`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextHeaders {
    /// `connectorLogicalName`: the topic prefix.
    pub connector_logical_name: String,
    /// `taskId`, `"0"` for the single PostgreSQL task.
    pub task_id: String,
    /// `connectorName`: `postgresql`.
    pub connector_name: String,
    /// `runId`: a UUID fresh per connector start.
    pub run_id: String,
}

impl ContextHeaders {
    /// Headers for this connector with a fresh run id.
    pub fn new(topic_prefix: &str) -> Self {
        ContextHeaders {
            connector_logical_name: topic_prefix.to_owned(),
            task_id: "0".to_owned(),
            connector_name: CONNECTOR.to_owned(),
            run_id: schemas::fresh_uuid(),
        }
    }
}

/// Builds Debezium's records for change events; caches per-table schemas.
#[derive(Debug)]
pub struct Envelope {
    opts: EnvelopeOptions,
    shared: schemas::SharedSchemas,
    context: Vec<Header>,
    tables: HashMap<u32, TableSchemas>,
}

impl Envelope {
    /// With Debezium's default context headers (fresh run id).
    pub fn new(opts: EnvelopeOptions) -> Self {
        let ctx = ContextHeaders::new(&opts.topic_prefix);
        Self::with_context_headers(opts, Some(ctx))
    }

    /// `None` disables the context headers (`extended.headers.enabled=false`).
    pub fn with_context_headers(opts: EnvelopeOptions, ctx: Option<ContextHeaders>) -> Self {
        let shared = schemas::SharedSchemas::new();
        let context = match ctx {
            None => Vec::new(),
            Some(c) => [
                ("__debezium.context.connectorLogicalName", c.connector_logical_name),
                ("__debezium.context.taskId", c.task_id),
                ("__debezium.context.connectorName", c.connector_name),
                ("__debezium.context.runId", c.run_id),
            ]
            .into_iter()
            .map(|(k, v)| Header {
                key: k.to_owned(),
                value: Some(SchemaAndValue::new(Arc::clone(&shared.string), Value::String(v))),
            })
            .collect(),
        };
        Envelope { opts, shared, context, tables: HashMap::new() }
    }

    /// Append the records of one change to `out` (0 when its op is skipped).
    ///
    /// `skipped.operations` applies to each record Debezium would emit: a
    /// key-changing update is a delete (+ tombstone) and a create, each kept
    /// unless its own op is skipped, whether or not `u` is.
    pub fn records(&mut self, event: &ChangeEvent, now: EventTime, tx: Option<&TxBlock>, out: &mut Vec<Record>) {
        if event.op != Op::Update && self.opts.skipped_operations.contains(&event.op) {
            return;
        }
        let source = self.source_value(&event.source, &event.table.id.schema, &event.table.id.table);
        self.ensure_table(&event.table);
        let Some(ts) = self.tables.get(&event.table.relation_id) else { return };
        let tx = tx.map(|t| self.shared.tx_value(t)).unwrap_or(Value::Null);
        let before = event.before.as_ref().map(|r| fill_row(&event.table, r));
        let after = event.after.as_ref().map(|r| fill_row(&event.table, r));
        let key_of = |row: &Option<Value>| match (&ts.key, row) {
            (Some(ks), Some(Value::Struct(vals))) => {
                Some(SchemaAndValue::new(Arc::clone(ks), key_struct(&ts.key_indices, vals)))
            }
            _ => None,
        };
        // Keys from the raw rows; then mapped key columns are mapped in the rows.
        let (before_key, after_key) = (key_of(&before), key_of(&after));
        let (before, after) = (before.map(|v| map_key_columns(&event.table, v)), after.map(|v| map_key_columns(&event.table, v)));
        // `source` and `tx` move into the one envelope most changes make;
        // only a key change (two envelopes) clones them.
        let env = |before: Option<Value>, after: Option<Value>, op: Op, source: Value, tx: Value| {
            SchemaAndValue::new(Arc::clone(&ts.envelope), envelope_value(before, after, source, tx, op, now))
        };
        let skips = |op: Op| self.opts.skipped_operations.contains(&op);
        let record = |key: Option<SchemaAndValue>, value: Option<SchemaAndValue>, own: Vec<Header>| {
            let mut headers = own;
            headers.extend(self.context.iter().cloned());
            Record { topic: ts.topic.clone(), key, value, headers, timestamp_ms: None }
        };
        match event.op {
            Op::Create | Op::Read => {
                let key = after_key;
                out.push(record(key, Some(env(None, after, event.op, source, tx)), Vec::new()));
            }
            Op::Update => {
                let (new_key, old_key) = (after_key, before_key);
                match (old_key, new_key) {
                    (Some(old), Some(new)) if old.value != new.value => {
                        if !skips(Op::Delete) {
                            let del_headers = vec![Header { key: NEWKEY_HEADER.to_owned(), value: Some(new.clone()) }];
                            let del = record(
                                Some(old.clone()),
                                Some(env(before, None, Op::Delete, source.clone(), tx.clone())),
                                del_headers,
                            );
                            let tomb = self.opts.tombstones_on_delete.then(|| Record { value: None, ..del.clone() });
                            out.push(del);
                            out.extend(tomb);
                        }
                        if !skips(Op::Create) {
                            let c_headers = vec![Header { key: OLDKEY_HEADER.to_owned(), value: Some(old) }];
                            out.push(record(Some(new), Some(env(None, after, Op::Create, source, tx)), c_headers));
                        }
                    }
                    (_, _) if skips(Op::Update) => {}
                    (_, new) => out.push(record(new, Some(env(before, after, Op::Update, source, tx)), Vec::new())),
                }
            }
            Op::Delete => {
                let key = before_key;
                let del = record(key, Some(env(before, None, Op::Delete, source, tx)), Vec::new());
                let tomb = self.opts.tombstones_on_delete.then(|| Record { value: None, ..del.clone() });
                out.push(del);
                out.extend(tomb);
            }
            Op::Truncate => out.push(record(None, Some(env(None, None, Op::Truncate, source, tx)), Vec::new())),
            Op::Message => {}
        }
    }

    /// The record of a logical decoding message (`pg_logical_emit_message`).
    pub fn message_record(&mut self, msg: &LogicalMessage, now: EventTime, tx: Option<&TxBlock>) -> Record {
        let source = self.source_value(&msg.source, "", "");
        let tx = tx.map(|t| self.shared.tx_value(t)).unwrap_or(Value::Null);
        let s = &self.shared;
        let key = SchemaAndValue::new(Arc::clone(&s.message_key), Value::Struct(vec![Value::String(msg.prefix.clone())]));
        let value = Value::Struct(vec![
            Value::String(Op::Message.code().to_owned()),
            Value::Int64(now.unix_nanos.div_euclid(1_000_000)),
            source,
            tx,
            Value::Struct(vec![Value::String(msg.prefix.clone()), Value::Bytes(msg.content.clone())]),
        ]);
        // Debezium 3.6.3 sends messages without the context headers (seen in
        // the real captures, tests/debezium/golden/identity).
        Record {
            topic: format!("{}.message", self.opts.topic_prefix),
            key: Some(key),
            value: Some(SchemaAndValue::new(Arc::clone(&s.message_value), value)),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    fn ensure_table(&mut self, table: &Arc<TableSchema>) {
        let prefix = &self.opts.topic_prefix;
        let (field_names, schema_names) = (self.opts.field_names, self.opts.schema_names);
        let shared = &self.shared;
        let entry = self.tables.entry(table.relation_id);
        let fresh = || TableSchemas { source: Some(Arc::clone(table)), ..TableSchemas::build(prefix, table, shared, field_names, schema_names) };
        match entry {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let same = match &o.get().source {
                    Some(s) if Arc::ptr_eq(s, table) => true,
                    Some(s) if o.get().version == table.version && o.get().id == table.id && **s == **table => {
                        o.get_mut().source = Some(Arc::clone(table));
                        true
                    }
                    _ => false,
                };
                if !same {
                    o.insert(fresh());
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(fresh());
            }
        }
    }

    fn source_value(&self, s: &SourceInfo, schema: &str, table: &str) -> Value {
        let ts_us = s.commit_ts_us;
        let lsn_text = |l: Option<crate::lsn::Lsn>| match l {
            Some(l) => format!("\"{}\"", l.as_u64()),
            None => "null".to_owned(),
        };
        let sequence = format!("[{},{}]", lsn_text(s.last_commit_lsn), lsn_text(s.lsn));
        let opt_i64 = |v: Option<i64>| v.map(Value::Int64).unwrap_or(Value::Null);
        Value::Struct(vec![
            Value::String(DEBEZIUM_COMPAT_VERSION.to_owned()),
            Value::String(CONNECTOR.to_owned()),
            Value::String(self.opts.topic_prefix.clone()),
            Value::Int64(ts_us.div_euclid(1000)),
            Value::String(s.snapshot.as_str().to_owned()),
            Value::String(self.opts.database.clone()),
            Value::String(sequence),
            Value::Int64(ts_us),
            Value::Int64(ts_us.saturating_mul(1000)),
            Value::String(schema.to_owned()),
            Value::String(table.to_owned()),
            opt_i64(s.tx_id),
            s.lsn.map(|l| Value::Int64(l.as_u64() as i64)).unwrap_or(Value::Null),
            opt_i64(s.xmin),
            s.origin.as_ref().map_or(Value::Null, |o| Value::String(o.name.clone())),
            s.origin.as_ref().map_or(Value::Null, |o| Value::Int64(o.commit_lsn.as_u64() as i64)),
        ])
    }
}

fn envelope_value(before: Option<Value>, after: Option<Value>, source: Value, tx: Value, op: Op, now: EventTime) -> Value {
    let ns = now.unix_nanos;
    Value::Struct(vec![
        before.unwrap_or(Value::Null),
        after.unwrap_or(Value::Null),
        source,
        tx,
        Value::String(op.code().to_owned()),
        Value::Int64(ns.div_euclid(1_000_000)),
        Value::Int64(ns.div_euclid(1_000)),
        Value::Int64(ns),
    ])
}

/// The row as a `Value` struct; a null in a required column becomes the
/// column's default or its type's zero value, as Debezium's value converters
/// fall back (e.g. the non-key columns of a delete's `before` under
/// REPLICA IDENTITY DEFAULT).
fn fill_row(table: &TableSchema, row: &Row) -> Value {
    Value::Struct(
        table
            .columns
            .iter()
            .zip(row.iter())
            .map(|(c, v)| if v.is_null() && !c.schema.optional { required_zero(c) } else { v.clone() })
            .collect(),
    )
}

/// A row with its mapped key columns' values mapped (see
/// [`crate::event::KeyMapping`]); unchanged when there are none.
fn map_key_columns(table: &TableSchema, row: Value) -> Value {
    if table.columns.iter().all(|c| c.key_mapping.is_none()) {
        return row;
    }
    let Value::Struct(mut values) = row else { return row };
    for (v, c) in values.iter_mut().zip(&table.columns) {
        if let Some(m) = &c.key_mapping {
            *v = m.mapper.apply(std::mem::replace(v, Value::Null));
        }
    }
    Value::Struct(values)
}

/// The record key: the row's key columns, in key order (`key_indices`, see
/// [`TableSchema::key_columns`]).
fn key_struct(key_indices: &[usize], row: &[Value]) -> Value {
    Value::Struct(key_indices.iter().map(|&i| row.get(i).cloned().unwrap_or(Value::Null)).collect())
}

/// Debezium's fallback for a required column without a value: its default,
/// else the type's converter fallback, else the schema's zero.
fn required_zero(c: &crate::event::ColumnSchema) -> Value {
    if let Some(d) = &c.schema.default {
        return d.clone();
    }
    c.required_fallback.clone().unwrap_or_else(|| zero_value(&c.schema))
}

/// The schema's zero, for a required column without a value.
pub(crate) fn zero_value(s: &Schema) -> Value {
    use crate::schema::SchemaType as T;
    if let Some(d) = &s.default {
        return d.clone();
    }
    match s.kind {
        T::Int8 => Value::Int8(0),
        T::Int16 => Value::Int16(0),
        T::Int32 => Value::Int32(0),
        T::Int64 => Value::Int64(0),
        T::Float32 => Value::Float32(0.0),
        T::Float64 => Value::Float64(0.0),
        T::Boolean => Value::Boolean(false),
        T::String => Value::String(String::new()),
        // Decimal's zero is one 0x00 byte; plain bytes have no value bytes.
        T::Bytes if s.name.as_deref() == Some(crate::encode::json::DECIMAL_SCHEMA_NAME) => Value::Bytes(vec![0]),
        T::Bytes => Value::Bytes(Vec::new()),
        T::Array => Value::Array(Vec::new()),
        T::Map => Value::Map(Vec::new()),
        T::Struct => Value::Struct(s.fields.iter().map(|f| zero_value(&f.schema)).collect()),
    }
}

#[cfg(test)]
#[path = "debezium_tests.rs"]
pub(crate) mod tests;
