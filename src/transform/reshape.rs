//! Connect's SMTs that reshape the key or value as a whole: ExtractField,
//! HoistField and SetSchemaMetadata
//! (`golden/connect_{extractfield,hoistfield,setschemametadata}*.json`).
//!
//! - ExtractField replaces a struct by one of its fields (schema and value);
//!   an unknown field fails every record, null values included.
//! - HoistField wraps the operand in a one-field struct without a name.
//! - SetSchemaMetadata renames and/or re-versions the operand's schema.
//!
//! Kafka Connect also runs these on records without a schema (a tombstone's
//! value, a null key), as maps; pgcdc's records always carry schemas, so
//! HoistField fails such a record (a data error); SetSchemaMetadata leaves it.

use std::sync::Arc;

use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::smt::{field_value, java_class, SchemaCache, Side};
use crate::transform::TransformError;

/// ExtractField's properties (`field.syntax.version` V1 only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractFieldOptions {
    pub field: String,
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct ExtractField {
    side: Side,
    opts: ExtractFieldOptions,
}

impl ExtractField {
    pub fn new(side: Side, opts: ExtractFieldOptions) -> Self {
        ExtractField { side, opts }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let Some(operand) = self.side.operand_mut(&mut record).take() else {
            return Ok(record);
        };
        if operand.schema.kind != SchemaType::Struct {
            return Err(TransformError::new("ExtractField", "Cannot look up fields on non-struct type"));
        }
        let Some(i) = operand.schema.field_index(&self.opts.field) else {
            return Err(TransformError::new("ExtractField", format!("Unknown field: {}", self.opts.field)));
        };
        let field_schema = Arc::clone(&operand.schema.fields[i].schema);
        let value = match operand.value {
            Value::Null => Value::Null,
            Value::Struct(mut values) if values.len() > i => {
                field_value(&field_schema, &std::mem::replace(&mut values[i], Value::Null), self.opts.replace_null_with_default)
            }
            other => {
                return Err(TransformError::new(
                    "ExtractField",
                    format!(
                        "Only Struct objects supported for [field extraction], found: {}",
                        java_class(&operand.schema, &other).trim_start_matches("class ")
                    ),
                ))
            }
        };
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(field_schema, value));
        Ok(record)
    }
}

#[derive(Debug)]
pub struct HoistField {
    side: Side,
    field: String,
    schemas: SchemaCache<Arc<Schema>>,
}

impl HoistField {
    pub fn new(side: Side, field: String) -> Self {
        HoistField { side, field, schemas: SchemaCache::default() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let Some(operand) = self.side.operand_mut(&mut record).take() else {
            return Err(schemaless("HoistField"));
        };
        let field = &self.field;
        let hoisted = self.schemas.get_or_try(&operand.schema, |_| {
            Ok::<_, TransformError>(Arc::new(Schema::new(SchemaType::Struct).with_field(field.clone(), Arc::clone(&operand.schema))))
        })?;
        let hoisted = Arc::clone(hoisted);
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(hoisted, Value::Struct(vec![operand.value])));
        Ok(record)
    }
}

/// A record without a schema: Connect would go on with a schemaless map,
/// which pgcdc's records cannot hold.
fn schemaless(transform: &'static str) -> TransformError {
    TransformError::new(
        transform,
        "the record has no schema here (a tombstone or a null key); pgcdc runs Connect's SMTs on schemaful records only: \
         guard this transform with a predicate (e.g. RecordIsTombstone, negate=true)",
    )
}

/// SetSchemaMetadata's properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaMetadata {
    pub name: Option<String>,
    pub version: Option<i32>,
    /// A struct's null fields are rewritten with their defaults.
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct SetSchemaMetadata {
    side: Side,
    opts: SchemaMetadata,
    schemas: SchemaCache<Arc<Schema>>,
}

impl SetSchemaMetadata {
    pub fn new(side: Side, opts: SchemaMetadata) -> Self {
        SetSchemaMetadata { side, opts, schemas: SchemaCache::default() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let opts = &self.opts;
        // Without a schema (a tombstone's value) Connect leaves the record as it is.
        let Some(operand) = self.side.operand_mut(&mut record).as_mut() else {
            return Ok(record);
        };
        let updated = self.schemas.get_or_try(&operand.schema, |s| {
            let mut updated = s.clone();
            if let Some(name) = &opts.name {
                updated.name = Some(name.clone());
            }
            if let Some(version) = opts.version {
                updated.version = Some(version);
            }
            Ok::<_, TransformError>(Arc::new(updated))
        })?;
        operand.schema = Arc::clone(updated);
        if let (true, Value::Struct(values)) = (opts.replace_null_with_default, &mut operand.value) {
            for (f, v) in operand.schema.fields.iter().zip(values.iter_mut()) {
                if v.is_null() {
                    *v = field_value(&f.schema, v, true);
                }
            }
        }
        Ok(record)
    }
}

/// Flatten: nested struct fields become top-level fields named by their path
/// joined with `delimiter`; a field under an optional struct becomes
/// optional and inherits a default from its parent's default. Arrays stay as
/// they are; a map field fails the record, as in Connect.
#[derive(Debug)]
pub struct Flatten {
    side: Side,
    delimiter: String,
    schemas: SchemaCache<Arc<Schema>>,
}

/// `SchemaUtil.copySchemaBasics(orig)` with `optional` and a default.
fn flat_field(orig: &Schema, optional: bool, default: Option<&Value>) -> Schema {
    let mut s = Schema::new(orig.kind);
    s.items.clone_from(&orig.items);
    s.keys.clone_from(&orig.keys);
    s.name.clone_from(&orig.name);
    s.version = orig.version;
    s.doc.clone_from(&orig.doc);
    s.parameters.clone_from(&orig.parameters);
    s.optional = optional;
    s.default = default.cloned();
    s
}

impl Flatten {
    pub fn new(side: Side, delimiter: String) -> Self {
        Flatten { side, delimiter, schemas: SchemaCache::default() }
    }

    fn flat_schema(delimiter: &str, schema: &Schema, prefix: &str, optional: bool, parent_default: Option<&Value>, out: &mut Schema) -> Result<(), TransformError> {
        for (i, f) in schema.fields.iter().enumerate() {
            let name = if prefix.is_empty() { f.name.clone() } else { format!("{prefix}{delimiter}{}", f.name) };
            let optional = optional || f.schema.optional;
            let default = f.schema.default.as_ref().or(match parent_default {
                Some(Value::Struct(values)) => values.get(i).filter(|v| !v.is_null()),
                _ => None,
            });
            if f.schema.kind == SchemaType::Map {
                return Err(TransformError::new("Flatten", format!("Flatten transformation does not support MAP for record with schemas (for field {name}).")));
            }
            if f.schema.kind == SchemaType::Struct {
                Self::flat_schema(delimiter, &f.schema, &name, optional, default, out)?;
            } else {
                if out.field_index(&name).is_some() {
                    return Err(TransformError::new("Flatten", format!("Cannot create field because of field name duplication {name}")));
                }
                *out = std::mem::replace(out, Schema::new(SchemaType::Struct)).with_field(name, Arc::new(flat_field(&f.schema, optional, default)));
            }
        }
        Ok(())
    }

    fn flat_values(schema: &Schema, values: Option<&[Value]>, out: &mut Vec<Value>) {
        for (i, f) in schema.fields.iter().enumerate() {
            let v = values.and_then(|v| v.get(i)).map(|v| field_value(&f.schema, v, true)).unwrap_or(Value::Null);
            if f.schema.kind == SchemaType::Struct {
                match &v {
                    Value::Struct(nested) => Self::flat_values(&f.schema, Some(nested), out),
                    _ => Self::flat_values(&f.schema, None, out),
                }
            } else {
                out.push(v);
            }
        }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let Some(operand) = self.side.operand(&record) else {
            return Ok(record);
        };
        if operand.schema.kind != SchemaType::Struct {
            return Err(TransformError::new(
                "Flatten",
                format!("Only Struct objects supported for [flattening], found: {}", java_class(&operand.schema, &operand.value).trim_start_matches("class ")),
            ));
        }
        let delimiter = &self.delimiter;
        let updated = Arc::clone(self.schemas.get_or_try(&operand.schema, |s| {
            let mut out = crate::transform::smt::struct_basics(s);
            Self::flat_schema(delimiter, s, "", s.optional, s.default.as_ref(), &mut out)?;
            Ok::<_, TransformError>(Arc::new(out))
        })?);
        let value = match &operand.value {
            Value::Struct(values) => {
                let mut out = Vec::with_capacity(updated.fields.len());
                Self::flat_values(&operand.schema, Some(values), &mut out);
                Value::Struct(out)
            }
            _ => Value::Null,
        };
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(updated, value));
        Ok(record)
    }
}
