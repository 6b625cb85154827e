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
