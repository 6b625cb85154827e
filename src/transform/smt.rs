//! Kafka Connect's own SMTs (`org.apache.kafka.connect.transforms.*`) on
//! schemaful records, as Connect 4.3 runs them:
//!
//! ```text
//!   Record ──[predicate? (negate)]──▶ Smt::apply ──▶ Some(record) | None (dropped) | Err (data error)
//! ```
//!
//! Each SMT is configured once ([`SmtConfig`], parsed in
//! `config/transforms_connect.rs`) and keeps, like Connect's
//! `SchemaUpdateCache`, the schemas it derived per input schema
//! ([`SchemaCache`]), so a record costs a cache probe (pointer, then
//! equality) and its value rewrite, never a schema rebuild.
//!
//! Shared rules (checked against the Java classes: `golden/connect_*.json`):
//! - `$Key` / `$Value` pick the operand; a null operand (tombstone, null key)
//!   passes through unless the SMT requires a struct (ValueToKey, HeaderFrom,
//!   MaskField), which fails the record as Connect does;
//! - a rebuilt struct schema keeps name, version, doc and parameters of the
//!   input (`SchemaUtil.copySchemaBasics`) but is required and has no default;
//! - `replace.null.with.default` (default true) reads a null field as its
//!   schema default.

use std::sync::Arc;

use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::TransformError;

pub use crate::transform::cast::{Cast, CastSpec};
pub use crate::transform::fields::{InsertField, MaskField, ReplaceField, ValueToKey};
pub use crate::transform::headers::{DropHeaders, HeaderFrom, InsertHeader};
pub use crate::transform::reshape::{ExtractField, Flatten, HoistField, SetSchemaMetadata};
pub use crate::transform::timestamp::{TimestampConverter, TimestampRouter};

/// Which part of the record a `$Key` / `$Value` SMT works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub fn operand(self, record: &Record) -> Option<&SchemaAndValue> {
        match self {
            Side::Key => record.key.as_ref(),
            Side::Value => record.value.as_ref(),
        }
    }

    pub fn operand_mut(self, record: &mut Record) -> &mut Option<SchemaAndValue> {
        match self {
            Side::Key => &mut record.key,
            Side::Value => &mut record.value,
        }
    }
}

/// One configured Kafka Connect SMT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtConfig {
    InsertField(Side, crate::transform::fields::InsertFieldOptions),
    ReplaceField(Side, crate::transform::fields::ReplaceFieldOptions),
    MaskField(Side, crate::transform::fields::MaskFieldOptions),
    ValueToKey(crate::transform::fields::ValueToKeyOptions),
    ExtractField(Side, crate::transform::reshape::ExtractFieldOptions),
    HoistField(Side, String),
    /// `delimiter`
    Flatten(Side, String),
    /// spec, `replace.null.with.default`
    Cast(Side, CastSpec, bool),
    TimestampConverter(Side, crate::transform::timestamp::TimestampConverterOptions),
    SetSchemaMetadata(Side, crate::transform::reshape::SchemaMetadata),
    Filter,
    InsertHeader(crate::transform::headers::InsertHeaderOptions),
    DropHeaders(Vec<String>),
    HeaderFrom(Side, crate::transform::headers::HeaderFromOptions),
    TimestampRouter(crate::transform::timestamp::TimestampRouterOptions),
}

/// A configured SMT with its caches.
#[derive(Debug)]
pub enum Smt {
    InsertField(InsertField),
    ReplaceField(ReplaceField),
    MaskField(MaskField),
    ValueToKey(ValueToKey),
    ExtractField(ExtractField),
    HoistField(HoistField),
    Flatten(Flatten),
    Cast(Cast),
    TimestampConverter(TimestampConverter),
    SetSchemaMetadata(SetSchemaMetadata),
    Filter,
    InsertHeader(InsertHeader),
    DropHeaders(DropHeaders),
    HeaderFrom(HeaderFrom),
    TimestampRouter(TimestampRouter),
}

impl Smt {
    pub fn new(config: &SmtConfig) -> Self {
        match config {
            SmtConfig::InsertField(side, o) => Smt::InsertField(InsertField::new(*side, o.clone())),
            SmtConfig::ReplaceField(side, o) => Smt::ReplaceField(ReplaceField::new(*side, o.clone())),
            SmtConfig::MaskField(side, o) => Smt::MaskField(MaskField::new(*side, o.clone())),
            SmtConfig::ValueToKey(o) => Smt::ValueToKey(ValueToKey::new(o.clone())),
            SmtConfig::ExtractField(side, o) => Smt::ExtractField(ExtractField::new(*side, o.clone())),
            SmtConfig::HoistField(side, field) => Smt::HoistField(HoistField::new(*side, field.clone())),
            SmtConfig::Flatten(side, delimiter) => Smt::Flatten(Flatten::new(*side, delimiter.clone())),
            SmtConfig::Cast(side, spec, replace) => Smt::Cast(Cast::new(*side, spec.clone(), *replace)),
            SmtConfig::TimestampConverter(side, o) => Smt::TimestampConverter(TimestampConverter::new(*side, o.clone())),
            SmtConfig::SetSchemaMetadata(side, o) => Smt::SetSchemaMetadata(SetSchemaMetadata::new(*side, o.clone())),
            SmtConfig::Filter => Smt::Filter,
            SmtConfig::InsertHeader(o) => Smt::InsertHeader(InsertHeader::new(o.clone())),
            SmtConfig::DropHeaders(names) => Smt::DropHeaders(DropHeaders::new(names.clone())),
            SmtConfig::HeaderFrom(side, o) => Smt::HeaderFrom(HeaderFrom::new(*side, o.clone())),
            SmtConfig::TimestampRouter(o) => Smt::TimestampRouter(TimestampRouter::new(o.clone())),
        }
    }

    /// The transformed record, `None` when the SMT drops it.
    pub fn apply(&mut self, record: Record) -> Result<Option<Record>, TransformError> {
        match self {
            Smt::InsertField(t) => t.apply(record).map(Some),
            Smt::ReplaceField(t) => t.apply(record).map(Some),
            Smt::MaskField(t) => t.apply(record).map(Some),
            Smt::ValueToKey(t) => t.apply(record).map(Some),
            Smt::ExtractField(t) => t.apply(record).map(Some),
            Smt::HoistField(t) => t.apply(record).map(Some),
            Smt::Flatten(t) => t.apply(record).map(Some),
            Smt::Cast(t) => t.apply(record).map(Some),
            Smt::TimestampConverter(t) => t.apply(record).map(Some),
            Smt::SetSchemaMetadata(t) => t.apply(record).map(Some),
            Smt::Filter => Ok(None),
            Smt::InsertHeader(t) => Ok(Some(t.apply(record))),
            Smt::DropHeaders(t) => Ok(Some(t.apply(record))),
            Smt::HeaderFrom(t) => t.apply(record).map(Some),
            Smt::TimestampRouter(t) => t.apply(record).map(Some),
        }
    }
}

/// Bound of each schema cache (Connect's `LRUCache(16)`).
const SCHEMA_CACHE_SIZE: usize = 16;

/// Input schema → what an SMT derived from it; looked up by pointer first
/// (records of one table version share their schema), then by equality.
#[derive(Debug)]
pub struct SchemaCache<T> {
    entries: Vec<(Arc<Schema>, T)>,
}

impl<T> Default for SchemaCache<T> {
    fn default() -> Self {
        SchemaCache { entries: Vec::new() }
    }
}

impl<T> SchemaCache<T> {
    pub fn get_or_try<E>(&mut self, schema: &Arc<Schema>, make: impl FnOnce(&Schema) -> Result<T, E>) -> Result<&T, E> {
        let found = match self.entries.iter().position(|(s, _)| Arc::ptr_eq(s, schema)) {
            Some(i) => Some(i),
            None => self.entries.iter().position(|(s, _)| **s == **schema),
        };
        let i = match found {
            Some(i) => i,
            None => {
                let derived = make(schema)?;
                if self.entries.len() == SCHEMA_CACHE_SIZE {
                    self.entries.remove(0);
                }
                self.entries.push((Arc::clone(schema), derived));
                self.entries.len() - 1
            }
        };
        Ok(&self.entries[i].1)
    }
}

/// `SchemaUtil.copySchemaBasics(schema, SchemaBuilder.struct())`: a required
/// struct with the input's name, version, doc and parameters, no fields.
pub fn struct_basics(schema: &Schema) -> Schema {
    let mut s = Schema::new(SchemaType::Struct);
    s.name.clone_from(&schema.name);
    s.version = schema.version;
    s.doc.clone_from(&schema.doc);
    s.parameters.clone_from(&schema.parameters);
    s
}

/// `Struct.get(field)` (the schema default for a null) or, without
/// `replace.null.with.default`, `Struct.getWithoutDefault`.
pub fn field_value(schema: &Schema, value: &Value, replace_null_with_default: bool) -> Value {
    match (value, &schema.default) {
        (Value::Null, Some(default)) if replace_null_with_default => default.clone(),
        _ => value.clone(),
    }
}

/// Java's class name of a Connect value, as error messages print it.
pub fn java_class(schema: &Schema, value: &Value) -> &'static str {
    match (schema.name.as_deref(), value) {
        (Some("org.apache.kafka.connect.data.Decimal"), _) => "class java.math.BigDecimal",
        (Some("org.apache.kafka.connect.data.Timestamp" | "org.apache.kafka.connect.data.Date" | "org.apache.kafka.connect.data.Time"), _) => {
            "class java.util.Date"
        }
        (_, Value::Null) => "null",
        (_, Value::Boolean(_)) => "class java.lang.Boolean",
        (_, Value::Int8(_)) => "class java.lang.Byte",
        (_, Value::Int16(_)) => "class java.lang.Short",
        (_, Value::Int32(_)) => "class java.lang.Integer",
        (_, Value::Int64(_)) => "class java.lang.Long",
        (_, Value::Float32(_)) => "class java.lang.Float",
        (_, Value::Float64(_)) => "class java.lang.Double",
        (_, Value::String(_)) => "class java.lang.String",
        (_, Value::Bytes(_)) => "class [B",
        (_, Value::Array(_)) => "class java.util.ArrayList",
        (_, Value::Map(_)) => "class java.util.HashMap",
        (_, Value::Struct(_)) => "class org.apache.kafka.connect.data.Struct",
    }
}

/// `Requirements.requireStruct`: the operand's struct fields, else Connect's error.
pub fn require_struct<'a>(
    transform: &'static str,
    purpose: &str,
    operand: Option<&'a SchemaAndValue>,
) -> Result<(&'a Arc<Schema>, &'a [Value]), TransformError> {
    match operand {
        Some(SchemaAndValue { schema, value: Value::Struct(fields) }) if schema.kind == SchemaType::Struct => Ok((schema, fields)),
        Some(sv) => Err(TransformError::new(
            transform,
            format!("Only Struct objects supported for [{purpose}], found: {}", java_class(&sv.schema, &sv.value).trim_start_matches("class ")),
        )),
        None => Err(TransformError::new(transform, format!("Only Struct objects supported for [{purpose}], found: null"))),
    }
}


/// `{field}` or `{field}!` / `{field}?` of InsertField: name and optional.
pub fn insertion_spec(spec: &str) -> (String, bool) {
    if let Some(name) = spec.strip_suffix('?') {
        (name.to_owned(), true)
    } else if let Some(name) = spec.strip_suffix('!') {
        (name.to_owned(), false)
    } else {
        (spec.to_owned(), true)
    }
}
