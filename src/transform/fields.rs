//! Connect's field SMTs: InsertField, ReplaceField, MaskField and ValueToKey
//! (`golden/connect_{insertfield,replacefield,maskfield,valuetokey}*.json`).
//!
//! - InsertField adds, after the existing fields, `topic.field`,
//!   `partition.field` (always null: a source record's partition is chosen by
//!   the producer), `timestamp.field` (a Connect Timestamp of the record's
//!   Kafka timestamp, left null when the record has none) and
//!   `static.field`; `name!` makes a field required, `name` / `name?` optional.
//! - ReplaceField keeps the fields `include` lists (all when empty) minus
//!   `exclude`, renamed by `renames`.
//! - MaskField replaces the listed fields by their type's zero (empty string,
//!   `false`, `0`, empty array or map) or by `replacement` parsed as the
//!   field's type; bytes, structs (and, with `replacement`, booleans, dates
//!   and collections) cannot be masked: the record fails, as in Connect.
//! - ValueToKey makes the key a struct of the listed value fields.

use std::sync::Arc;

use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::smt::{field_value, java_class, require_struct, struct_basics, SchemaCache, Side};
use crate::transform::TransformError;

/// Connect's Timestamp logical type name.
pub const TIMESTAMP_NAME: &str = "org.apache.kafka.connect.data.Timestamp";

/// InsertField's properties; each field is `(name, optional)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InsertFieldOptions {
    pub topic: Option<(String, bool)>,
    pub partition: Option<(String, bool)>,
    pub timestamp: Option<(String, bool)>,
    pub static_field: Option<(String, bool)>,
    pub static_value: Option<String>,
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct InsertField {
    side: Side,
    opts: InsertFieldOptions,
    schemas: SchemaCache<Arc<Schema>>,
}

fn plain(kind: SchemaType, optional: bool) -> Arc<Schema> {
    Arc::new(Schema::new(kind).with_optional(optional))
}

/// Connect's `Timestamp.SCHEMA` / `OPTIONAL_TIMESTAMP_SCHEMA`.
pub fn timestamp_schema(optional: bool) -> Schema {
    Schema::new(SchemaType::Int64).named(TIMESTAMP_NAME).with_version(1).with_optional(optional)
}

/// A struct schema from its basics and fields; Connect refuses a duplicate name.
fn build_struct(transform: &'static str, mut basics: Schema, fields: Vec<(String, Arc<Schema>)>) -> Result<Arc<Schema>, TransformError> {
    for (name, schema) in fields {
        if basics.field_index(&name).is_some() {
            return Err(TransformError::new(transform, format!("Cannot create field because of field name duplication {name}")));
        }
        basics = basics.with_field(name, schema);
    }
    Ok(Arc::new(basics))
}

impl InsertField {
    pub fn new(side: Side, opts: InsertFieldOptions) -> Self {
        InsertField { side, opts, schemas: SchemaCache::default() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let operand = match self.side.operand(&record) {
            Some(sv) if !sv.value.is_null() => sv,
            _ => return Ok(record),
        };
        let (schema, values) = require_struct("InsertField", "field insertion", Some(operand))?;
        let opts = &self.opts;
        let updated = self.schemas.get_or_try(schema, |s| {
            let mut fields: Vec<(String, Arc<Schema>)> = s.fields.iter().map(|f| (f.name.clone(), Arc::clone(&f.schema))).collect();
            if let Some((name, optional)) = &opts.topic {
                fields.push((name.clone(), plain(SchemaType::String, *optional)));
            }
            if let Some((name, optional)) = &opts.partition {
                fields.push((name.clone(), plain(SchemaType::Int32, *optional)));
            }
            if let Some((name, optional)) = &opts.timestamp {
                fields.push((name.clone(), Arc::new(timestamp_schema(*optional))));
            }
            if let Some((name, optional)) = &opts.static_field {
                fields.push((name.clone(), plain(SchemaType::String, *optional)));
            }
            build_struct("InsertField", struct_basics(s), fields)
        })?;
        let updated = Arc::clone(updated);
        let mut out: Vec<Value> = Vec::with_capacity(updated.fields.len());
        for (f, v) in schema.fields.iter().zip(values) {
            out.push(field_value(&f.schema, v, opts.replace_null_with_default));
        }
        if opts.topic.is_some() {
            out.push(Value::String(record.topic.clone()));
        }
        if opts.partition.is_some() {
            out.push(Value::Null);
        }
        if opts.timestamp.is_some() {
            out.push(record.timestamp_ms.map_or(Value::Null, Value::Int64));
        }
        if opts.static_field.is_some() {
            out.push(opts.static_value.clone().map_or(Value::Null, Value::String));
        }
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(updated, Value::Struct(out)));
        Ok(record)
    }
}

/// ReplaceField's properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaceFieldOptions {
    pub exclude: Vec<String>,
    pub include: Vec<String>,
    pub renames: Vec<(String, String)>,
    pub replace_null_with_default: bool,
}

/// ReplaceField's filter: not excluded, and included when `include` is set.
fn keeps(opts: &ReplaceFieldOptions, name: &str) -> bool {
    !opts.exclude.iter().any(|e| e == name) && (opts.include.is_empty() || opts.include.iter().any(|i| i == name))
}

#[derive(Debug)]
pub struct ReplaceField {
    side: Side,
    opts: ReplaceFieldOptions,
    /// input schema → (output schema, input position of each output field)
    schemas: SchemaCache<(Arc<Schema>, Vec<usize>)>,
}

impl ReplaceField {
    pub fn new(side: Side, opts: ReplaceFieldOptions) -> Self {
        ReplaceField { side, opts, schemas: SchemaCache::default() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let operand = match self.side.operand(&record) {
            Some(sv) if !sv.value.is_null() => sv,
            _ => return Ok(record),
        };
        let (schema, values) = require_struct("ReplaceField", "field replacement", Some(operand))?;
        let opts = &self.opts;
        let (updated, picked) = self.schemas.get_or_try(schema, |s| {
            let mut picked = Vec::new();
            let mut fields = Vec::new();
            for (i, f) in s.fields.iter().enumerate() {
                if keeps(opts, &f.name) {
                    picked.push(i);
                    let name = opts.renames.iter().find(|(from, _)| *from == f.name).map_or(&f.name, |(_, to)| to);
                    fields.push((name.clone(), Arc::clone(&f.schema)));
                }
            }
            build_struct("ReplaceField", struct_basics(s), fields).map(|schema| (schema, picked))
        })?;
        let out = picked.iter().map(|&i| field_value(&schema.fields[i].schema, &values[i], opts.replace_null_with_default)).collect();
        let updated = Arc::clone(updated);
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(updated, Value::Struct(out)));
        Ok(record)
    }
}

/// MaskField's properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskFieldOptions {
    pub fields: Vec<String>,
    pub replacement: Option<String>,
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct MaskField {
    side: Side,
    opts: MaskFieldOptions,
    /// `replacement` parsed once for each type it may replace.
    parsed: Option<Parsed>,
}

/// `replacement` as `Byte.parseByte`, ..., `new BigDecimal` read it (`None`: does not parse).
#[derive(Debug)]
struct Parsed {
    text: String,
    int8: Option<i8>,
    int16: Option<i16>,
    int32: Option<i32>,
    int64: Option<i64>,
    float32: Option<f32>,
    float64: Option<f64>,
    decimal: Option<(i128, i32)>,
}

impl Parsed {
    fn new(r: &str) -> Self {
        Parsed {
            text: r.to_owned(),
            int8: r.parse().ok(),
            int16: r.parse().ok(),
            int32: r.parse().ok(),
            int64: r.parse().ok(),
            float32: r.trim().parse().ok(),
            float64: r.trim().parse().ok(),
            decimal: parse_decimal(r.trim()),
        }
    }
}

const DECIMAL_NAME: &str = crate::schema::DECIMAL_SCHEMA_NAME;

/// A decimal text as (unscaled, scale), as `new BigDecimal(text)` for plain numbers.
fn parse_decimal(text: &str) -> Option<(i128, i32)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = format!("{int}{frac}");
    let unscaled: i128 = digits.parse().ok()?;
    Some((unscaled, i32::try_from(frac.len()).ok()?))
}

/// Big-endian two's complement, minimal (`BigInteger.toByteArray`).
fn unscaled_bytes(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

impl MaskField {
    pub fn new(side: Side, opts: MaskFieldOptions) -> Self {
        let parsed = opts.replacement.as_deref().map(Parsed::new);
        MaskField { side, opts, parsed }
    }

    fn masked(&self, schema: &Schema, value: Value) -> Result<Value, TransformError> {
        if value.is_null() {
            return Ok(value);
        }
        let class = java_class(schema, &value);
        let cannot = || TransformError::new("MaskField", format!("Cannot mask value of type {class} with custom replacement."));
        let name = schema.name.as_deref();
        if name == Some(DECIMAL_NAME) {
            let scale: i32 = schema.parameter("scale").and_then(|s| s.parse().ok()).unwrap_or(0);
            let (unscaled, value_scale) = match &self.parsed {
                None => (0, 0),
                Some(p) => p.decimal.ok_or_else(|| {
                    TransformError::new("MaskField", format!("Unable to convert {} (class java.lang.String) to number", p.text))
                })?,
            };
            if value_scale != scale {
                return Err(TransformError::new(
                    "MaskField",
                    format!("Decimal value has mismatching scale for given Decimal schema. Schema has scale {scale}, value has scale {value_scale}."),
                ));
            }
            return Ok(Value::Bytes(unscaled_bytes(unscaled)));
        }
        let is_date = matches!(
            name,
            Some("org.apache.kafka.connect.data.Timestamp" | "org.apache.kafka.connect.data.Date" | "org.apache.kafka.connect.data.Time")
        );
        let Some(p) = &self.parsed else {
            return Ok(match &value {
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String(String::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                Value::Null | Value::Bytes(_) | Value::Struct(_) => {
                    return Err(TransformError::new("MaskField", format!("Cannot mask value of type: {class}")))
                }
            });
        };
        let bad_number = || TransformError::new("MaskField", format!("Unable to convert {} (class java.lang.String) to number", p.text));
        Ok(match &value {
            _ if is_date => return Err(cannot()),
            Value::Int8(_) => Value::Int8(p.int8.ok_or_else(bad_number)?),
            Value::Int16(_) => Value::Int16(p.int16.ok_or_else(bad_number)?),
            Value::Int32(_) => Value::Int32(p.int32.ok_or_else(bad_number)?),
            Value::Int64(_) => Value::Int64(p.int64.ok_or_else(bad_number)?),
            Value::Float32(_) => Value::Float32(p.float32.ok_or_else(bad_number)?),
            Value::Float64(_) => Value::Float64(p.float64.ok_or_else(bad_number)?),
            Value::String(_) => Value::String(p.text.clone()),
            _ => return Err(cannot()),
        })
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let operand = match self.side.operand(&record) {
            Some(sv) if !sv.value.is_null() => Some(sv),
            _ => None,
        };
        let (schema, values) = require_struct("MaskField", "masking fields", operand)?;
        let mut out = Vec::with_capacity(values.len());
        for (f, v) in schema.fields.iter().zip(values) {
            let current = field_value(&f.schema, v, self.opts.replace_null_with_default);
            out.push(if self.opts.fields.contains(&f.name) { self.masked(&f.schema, current)? } else { current });
        }
        let schema = Arc::clone(schema);
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(schema, Value::Struct(out)));
        Ok(record)
    }
}

/// ValueToKey's properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueToKeyOptions {
    pub fields: Vec<String>,
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct ValueToKey {
    opts: ValueToKeyOptions,
    /// value schema → (key schema, value position of each key field)
    schemas: SchemaCache<(Arc<Schema>, Vec<usize>)>,
}

impl ValueToKey {
    pub fn new(opts: ValueToKeyOptions) -> Self {
        ValueToKey { opts, schemas: SchemaCache::default() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        const PURPOSE: &str = "copying fields from value to key";
        let operand = match &record.value {
            Some(sv) if !sv.value.is_null() => Some(sv),
            _ => None,
        };
        let (schema, values) = require_struct("ValueToKey", PURPOSE, operand)?;
        let fields = &self.opts.fields;
        let (key_schema, picked) = self.schemas.get_or_try(schema, |s| {
            let mut key = Schema::new(SchemaType::Struct);
            let mut picked = Vec::with_capacity(fields.len());
            for name in fields {
                let i = s
                    .field_index(name)
                    .ok_or_else(|| TransformError::new("ValueToKey", format!("Field does not exist: {name}")))?;
                picked.push(i);
                key = key.with_field(name.clone(), Arc::clone(&s.fields[i].schema));
            }
            Ok::<_, TransformError>((Arc::new(key), picked))
        })?;
        let key = picked.iter().map(|&i| field_value(&schema.fields[i].schema, &values[i], self.opts.replace_null_with_default)).collect();
        record.key = Some(SchemaAndValue::new(Arc::clone(key_schema), Value::Struct(key)));
        Ok(record)
    }
}
