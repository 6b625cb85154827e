//! Connect's header SMTs: InsertHeader, DropHeaders and HeaderFrom
//! (`golden/connect_{insertheader,dropheaders,headerfrom}*.json`).
//!
//! - InsertHeader appends `header` with `value.literal` parsed as Connect's
//!   `Values.parseString` does for the literals pgcdc accepts: `true` /
//!   `false` (boolean), integers (the smallest of int8..int64 that holds
//!   them) and other text (string); floats, dates, arrays, maps and `null`
//!   are refused at registration.
//! - DropHeaders removes every header named in `headers`.
//! - HeaderFrom appends the struct fields `fields` as headers `headers`
//!   (schema and value), removing them from the struct with `operation=move`.

use std::sync::Arc;

use crate::record::{Header, Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::smt::{field_value, require_struct, struct_basics, SchemaCache, Side};
use crate::transform::TransformError;

/// InsertHeader's properties (`value.literal` checked by [`parse_literal`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsertHeaderOptions {
    pub header: String,
    pub literal: String,
}

/// `Values.parseString` for the literals pgcdc accepts; `Err` names what the
/// literal would be in Connect. Checked against Connect 4.3: `true` /
/// `false` (exactly) are booleans; a literal starting like a number must be a
/// whole integer (Connect reads `1e3`, `3.0`, `7,8`, `12:30` as numbers
/// too, and `2024-01-01` as a date: refused); `[...]` / `{...}` are refused
/// (arrays, maps); `null` is refused (Connect's InsertHeader fails on it);
/// anything else is text.
pub fn parse_literal(literal: &str) -> Result<Option<SchemaAndValue>, &'static str> {
    let sv = |kind, value| Ok(Some(SchemaAndValue::new(Arc::new(Schema::new(kind)), value)));
    match literal {
        "null" => return Err("null, on which its InsertHeader fails"),
        "true" | "false" => return sv(SchemaType::Boolean, Value::Boolean(literal == "true")),
        _ => {}
    }
    if literal.chars().any(|c| c.is_numeric() && !c.is_ascii_digit()) {
        return Err("possibly a number written in non-ASCII digits");
    }
    if literal.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c)) {
        let digits = literal.strip_prefix(['+', '-']).unwrap_or(literal);
        let n = match literal.parse::<i64>() {
            Ok(n) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err("a number, a date or a time (or a number read from its start), not an int64"),
        };
        return if let Ok(x) = i8::try_from(n) {
            sv(SchemaType::Int8, Value::Int8(x))
        } else if let Ok(x) = i16::try_from(n) {
            sv(SchemaType::Int16, Value::Int16(x))
        } else if let Ok(x) = i32::try_from(n) {
            sv(SchemaType::Int32, Value::Int32(x))
        } else {
            sv(SchemaType::Int64, Value::Int64(n))
        };
    }
    if literal.starts_with(['[', '{']) {
        return Err("an array or a map");
    }
    sv(SchemaType::String, Value::String(literal.to_owned()))
}

#[derive(Debug)]
pub struct InsertHeader {
    header: String,
    value: Option<SchemaAndValue>,
}

impl InsertHeader {
    pub fn new(opts: InsertHeaderOptions) -> Self {
        // The configuration refused literals parse_literal does not take.
        let value = parse_literal(&opts.literal)
            .unwrap_or_else(|_| Some(SchemaAndValue::new(Arc::new(Schema::new(SchemaType::String)), Value::String(opts.literal.clone()))));
        InsertHeader { header: opts.header, value }
    }

    pub fn apply(&self, mut record: Record) -> Record {
        record.headers.push(Header { key: self.header.clone(), value: self.value.clone() });
        record
    }
}

#[derive(Debug)]
pub struct DropHeaders {
    names: Vec<String>,
}

impl DropHeaders {
    pub fn new(names: Vec<String>) -> Self {
        DropHeaders { names }
    }

    pub fn apply(&self, mut record: Record) -> Record {
        record.headers.retain(|h| !self.names.contains(&h.key));
        record
    }
}

/// HeaderFrom's properties (`fields` and `headers` of the same length).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderFromOptions {
    pub fields: Vec<String>,
    pub headers: Vec<String>,
    /// `operation=move` (else copy).
    pub move_fields: bool,
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct HeaderFrom {
    side: Side,
    opts: HeaderFromOptions,
    /// input schema → (schema without the moved fields, kept positions)
    moved: SchemaCache<(Arc<Schema>, Vec<usize>)>,
}

impl HeaderFrom {
    pub fn new(side: Side, opts: HeaderFromOptions) -> Self {
        HeaderFrom { side, opts, moved: SchemaCache::default() }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let operation = if self.opts.move_fields { "header move" } else { "header copy" };
        let operand = match self.side.operand(&record) {
            Some(sv) if !sv.value.is_null() => Some(sv),
            _ => None,
        };
        let (schema, values) = require_struct("HeaderFrom", operation, operand)?;
        let mut headers = Vec::with_capacity(self.opts.fields.len());
        for (field, header) in self.opts.fields.iter().zip(&self.opts.headers) {
            let Some(i) = schema.field_index(field) else {
                return Err(TransformError::new("HeaderFrom", format!("the {} has no field {field}", if self.side == Side::Key { "key" } else { "value" })));
            };
            let f = &schema.fields[i];
            let value = field_value(&f.schema, &values[i], self.opts.replace_null_with_default);
            headers.push(Header { key: header.clone(), value: Some(SchemaAndValue::new(Arc::clone(&f.schema), value)) });
        }
        let moved = if self.opts.move_fields {
            let fields = &self.opts.fields;
            let (updated, kept) = self.moved.get_or_try(schema, |s| {
                let mut out = struct_basics(s);
                let mut kept = Vec::new();
                for (i, f) in s.fields.iter().enumerate() {
                    if !fields.contains(&f.name) {
                        kept.push(i);
                        out = out.with_field(f.name.clone(), Arc::clone(&f.schema));
                    }
                }
                Ok::<_, TransformError>((Arc::new(out), kept))
            })?;
            let value = kept.iter().map(|&i| field_value(&schema.fields[i].schema, &values[i], self.opts.replace_null_with_default)).collect();
            Some(SchemaAndValue::new(Arc::clone(updated), Value::Struct(value)))
        } else {
            None
        };
        if let Some(moved) = moved {
            *self.side.operand_mut(&mut record) = Some(moved);
        }
        record.headers.extend(headers);
        Ok(record)
    }
}
