//! `io.debezium.transforms.HeaderToValue`: the values of the listed headers
//! become fields of the value struct (`operation=copy` keeps the headers,
//! `move` removes them), as Debezium 3.6.3 does it (checked against the
//! Java class: `golden/headertovalue_*.json`):
//! - headers are taken in the record's header order; a record without any
//!   of them, or a tombstone, passes unchanged;
//! - the new fields follow the value's own, with the header's schema; the
//!   rebuilt struct keeps name, version, doc and parameters but is required;
//! - like the Java class, the output schema is cached per input value
//!   schema only: a later record of the same schema carrying a header the
//!   first one lacked fails (Debezium: "<field> is not a valid field name");
//! - nested field names (`a.b`) are refused at configuration time.

use std::sync::Arc;

use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, Value};
use crate::transform::smt::{field_value, require_struct, struct_basics};
use crate::transform::TransformError;

const NAME: &str = "HeaderToValue";
/// Bound of the schema cache (Debezium's `CACHE_SIZE`).
const CACHE_SIZE: usize = 64;

/// Options of the transform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderToValueOptions {
    /// `headers`, in configuration order.
    pub headers: Vec<String>,
    /// `fields`: the field name of each header, same order.
    pub fields: Vec<String>,
    /// `operation=move`: remove the headers.
    pub move_headers: bool,
}

/// The configured transform with its schema cache.
#[derive(Debug)]
pub struct HeaderToValue {
    opts: HeaderToValueOptions,
    cache: Vec<(Arc<Schema>, Arc<Schema>)>,
}

impl HeaderToValue {
    pub fn new(opts: HeaderToValueOptions) -> Self {
        HeaderToValue { opts, cache: Vec::new() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        // A tombstone, or a null value with a schema: passed as is.
        if record.value.as_ref().is_none_or(|v| v.value == Value::Null) {
            return Ok(record);
        }
        let (schema, values) = require_struct(NAME, "Header field insertion", record.value.as_ref())?;
        // (field name, header value) in header order.
        let mut entries: Vec<(&str, &SchemaAndValue)> = Vec::new();
        for h in &record.headers {
            if let Some(i) = self.opts.headers.iter().position(|n| *n == h.key) {
                let Some(v) = &h.value else {
                    return Err(TransformError::new(NAME, format!("header {} has a null value and no schema", h.key)));
                };
                entries.push((self.opts.fields[i].as_str(), v));
            }
        }
        if entries.is_empty() {
            return Ok(record);
        }
        let cached = self.cache.iter().find(|(i, _)| Arc::ptr_eq(i, schema) || **i == **schema).map(|(_, o)| Arc::clone(o));
        let out_schema = match cached {
            Some(s) => s,
            None => {
                let mut s = struct_basics(schema);
                s.fields.clone_from(&schema.fields);
                for (name, v) in &entries {
                    if s.field_index(name).is_some() {
                        return Err(TransformError::new(NAME, format!("Cannot create field because of field name duplication {name}")));
                    }
                    s = s.with_field(*name, Arc::clone(&v.schema));
                }
                let s = Arc::new(s);
                if self.cache.len() == CACHE_SIZE {
                    self.cache.remove(0);
                }
                self.cache.push((Arc::clone(schema), Arc::clone(&s)));
                s
            }
        };
        let mut out: Vec<Value> = schema.fields.iter().zip(values).map(|(f, v)| field_value(&f.schema, v, true)).collect();
        out.resize(out_schema.fields.len(), Value::Null);
        for (name, v) in &entries {
            let Some(i) = out_schema.field_index(name) else {
                return Err(TransformError::new(NAME, format!("{name} is not a valid field name")));
            };
            out[i] = v.value.clone();
        }
        if self.opts.move_headers {
            record.headers.retain(|h| !self.opts.headers.contains(&h.key));
        }
        record.value = Some(SchemaAndValue::new(out_schema, Value::Struct(out)));
        Ok(record)
    }
}

#[cfg(test)]
#[path = "header_to_value_tests.rs"]
mod tests;
