//! The Connect schemas of Debezium's PostgreSQL records, built once.
//!
//! Field orders and optionality are those of Debezium 3.6.3
//! (`PostgresSourceInfoStructMaker`, `Envelope.defineSchema().withTransaction`,
//! `DefaultTransactionStructMaker`, `PostgresSchemaFactory`), checked against
//! its own output in `golden/`.

use std::sync::Arc;

use crate::event::{TableId, TableSchema};
use crate::schema::{Schema, SchemaType, Value};

use super::debezium::TxBlock;
use super::FieldNameAdjustment;

/// `source.snapshot`'s allowed values, in Debezium's order.
pub const SNAPSHOT_ALLOWED: &str = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

/// Schemas shared by every table.
#[derive(Debug)]
pub(crate) struct SharedSchemas {
    pub string: Arc<Schema>,
    pub source: Arc<Schema>,
    pub tx: Arc<Schema>,
    pub message_key: Arc<Schema>,
    pub message_value: Arc<Schema>,
}

impl SharedSchemas {
    pub fn new() -> Self {
        let s = |k| Arc::new(Schema::new(k));
        let o = |k| Arc::new(Schema::new(k).optional());
        let source = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("io.debezium.connector.postgresql.Source")
                .with_version(1)
                .with_field("version", s(SchemaType::String))
                .with_field("connector", s(SchemaType::String))
                .with_field("name", s(SchemaType::String))
                .with_field("ts_ms", s(SchemaType::Int64))
                .with_field(
                    "snapshot",
                    Arc::new(
                        Schema::new(SchemaType::String)
                            .optional()
                            .named("io.debezium.data.Enum")
                            .with_version(1)
                            .with_parameter("allowed", SNAPSHOT_ALLOWED)
                            .with_default(Value::String("false".to_owned())),
                    ),
                )
                .with_field("db", s(SchemaType::String))
                .with_field("sequence", o(SchemaType::String))
                .with_field("ts_us", o(SchemaType::Int64))
                .with_field("ts_ns", o(SchemaType::Int64))
                .with_field("schema", s(SchemaType::String))
                .with_field("table", s(SchemaType::String))
                .with_field("txId", o(SchemaType::Int64))
                .with_field("lsn", o(SchemaType::Int64))
                .with_field("xmin", o(SchemaType::Int64))
                .with_field("origin", o(SchemaType::String))
                .with_field("origin_lsn", o(SchemaType::Int64)),
        );
        let tx = Arc::new(
            Schema::new(SchemaType::Struct)
                .optional()
                .named("event.block")
                .with_version(1)
                .with_field("id", s(SchemaType::String))
                .with_field("total_order", s(SchemaType::Int64))
                .with_field("data_collection_order", s(SchemaType::Int64)),
        );
        let message_key = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("io.debezium.connector.postgresql.MessageKey")
                .with_version(1)
                .with_field("prefix", o(SchemaType::String)),
        );
        let message_block = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("io.debezium.connector.postgresql.Message")
                .with_version(1)
                .with_field("prefix", o(SchemaType::String))
                .with_field("content", o(SchemaType::Bytes)),
        );
        let message_value = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("io.debezium.connector.postgresql.MessageValue")
                .with_version(1)
                .with_field("op", s(SchemaType::String))
                .with_field("ts_ms", o(SchemaType::Int64))
                .with_field("source", Arc::clone(&source))
                .with_field("transaction", Arc::clone(&tx))
                .with_field("message", message_block),
        );
        SharedSchemas { string: s(SchemaType::String), source, tx, message_key, message_value }
    }

    pub fn tx_value(&self, t: &TxBlock) -> Value {
        Value::Struct(vec![
            Value::String(t.id.clone()),
            Value::Int64(t.total_order),
            Value::Int64(t.data_collection_order),
        ])
    }
}

/// One table's topic and schemas at one schema version.
#[derive(Debug)]
pub(crate) struct TableSchemas {
    pub version: u64,
    pub id: TableId,
    pub topic: String,
    /// `None` when the table has no primary key.
    pub key: Option<Arc<Schema>>,
    /// Column positions of the key's fields, in key order (computed once,
    /// not per record).
    pub key_indices: Vec<usize>,
    pub envelope: Arc<Schema>,
    /// The table shape these were built from: a shape from another source
    /// (the snapshot's catalog read, then the stream's Relation message) may
    /// carry the same version number with other columns.
    pub source: Option<Arc<TableSchema>>,
}

impl TableSchemas {
    pub fn build(prefix: &str, table: &TableSchema, shared: &SharedSchemas, field_names: FieldNameAdjustment, schema_names: FieldNameAdjustment) -> Self {
        let topic = sanitize_topic(&format!("{prefix}.{}.{}", table.id.schema, table.id.table));
        let names = field_names.adjust_all(&topic, table.columns.iter().map(|c| c.name.as_str()));
        let key = table.has_key().then(|| {
            let mut k = Schema::new(SchemaType::Struct).named(schema_names.adjust_schema_name(&format!("{topic}.Key")).into_owned());
            for (i, c) in table.key_columns() {
                // A mapped key column is keyed by its raw value and schema.
                let schema = c.key_mapping.as_ref().map_or(&c.schema, |m| &m.key_schema);
                k = k.with_field(names.get(i).cloned().unwrap_or_else(|| c.name.clone()), Arc::clone(schema));
            }
            Arc::new(k)
        });
        let mut v = Schema::new(SchemaType::Struct).optional().named(schema_names.adjust_schema_name(&format!("{topic}.Value")).into_owned());
        for (c, name) in table.columns.iter().zip(names) {
            v = v.with_field(name, Arc::clone(&c.schema));
        }
        let value = Arc::new(v);
        let o = |k| Arc::new(Schema::new(k).optional());
        let envelope = Arc::new(
            Schema::new(SchemaType::Struct)
                .named(schema_names.adjust_schema_name(&format!("{topic}.Envelope")).into_owned())
                .with_version(2)
                .with_field("before", Arc::clone(&value))
                .with_field("after", Arc::clone(&value))
                .with_field("source", Arc::clone(&shared.source))
                .with_field("transaction", Arc::clone(&shared.tx))
                .with_field("op", Arc::new(Schema::new(SchemaType::String)))
                .with_field("ts_ms", o(SchemaType::Int64))
                .with_field("ts_us", o(SchemaType::Int64))
                .with_field("ts_ns", o(SchemaType::Int64)),
        );
        let key_indices = table.key_columns().map(|(i, _)| i).collect();
        TableSchemas { version: table.version, id: table.id.clone(), topic, key, key_indices, envelope, source: None }
    }
}

/// Debezium's topic naming: characters outside `[A-Za-z0-9._-]` become `_`.
pub fn sanitize_topic(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
}

/// A time-ordered (version 7 layout) UUID for `__debezium.context.runId`.
pub(crate) fn fresh_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let ms = now.as_millis() as u64;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    let r1 = h.finish();
    h.write_u64(r1);
    let r2 = h.finish();
    format!(
        "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
        (ms >> 16) as u32,
        (ms & 0xFFFF) as u16,
        (r1 & 0x0FFF) as u16,
        ((r1 >> 16) & 0x3FFF) as u16 | 0x8000,
        r2 & 0xFFFF_FFFF_FFFF
    )
}
