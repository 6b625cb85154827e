//! Connect's Cast SMT (`org.apache.kafka.connect.transforms.Cast$Key|$Value`):
//! `spec` is one type (the whole key/value, which must be a primitive) or
//! `field:type` pairs of a struct; types int8, int16, int32, int64,
//! float32, float64, boolean, string (`golden/connect_cast_*.json`).
//!
//! Conversions are Java's: numbers narrow as `Number.byteValue()` & co.
//! (integers wrap, floating point saturates, NaN is 0), booleans are 1/0 and
//! `value != 0`, strings parse as `Integer.parseInt` / `Boolean.parseBoolean`,
//! and `string` prints as `toString()` (floats as Java prints them, bytes in
//! base64, Connect dates in ISO 8601). A cast field loses its logical name;
//! a whole-value cast keeps name, version, doc and parameters.

use std::sync::Arc;

use base64::Engine as _;

use crate::javafmt::{write_f32, write_f64};
use crate::schema::DECIMAL_SCHEMA_NAME;
use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::smt::{field_value, java_class, require_struct, SchemaCache, Side};
use crate::transform::timestamp::{format_millis, JavaDateFormat};
use crate::transform::TransformError;

/// What to cast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CastSpec {
    Whole(SchemaType),
    Fields(Vec<(String, SchemaType)>),
}

/// The types Cast writes, by their spec names.
pub const CAST_TYPES: &[(&str, SchemaType)] = &[
    ("int8", SchemaType::Int8),
    ("int16", SchemaType::Int16),
    ("int32", SchemaType::Int32),
    ("int64", SchemaType::Int64),
    ("float32", SchemaType::Float32),
    ("float64", SchemaType::Float64),
    ("boolean", SchemaType::Boolean),
    ("string", SchemaType::String),
];

#[derive(Debug)]
pub struct Cast {
    side: Side,
    spec: CastSpec,
    replace_null_with_default: bool,
    /// input schema → output schema
    schemas: SchemaCache<Arc<Schema>>,
    date_formats: [JavaDateFormat; 3],
}

fn err(reason: impl Into<String>) -> TransformError {
    TransformError::new("Cast", reason)
}

const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

/// A Connect value as the Java object Cast sees.
enum Java<'a> {
    Integral(i64),
    Float(f64),
    Bool(bool),
    Str(&'a str),
    Bytes(&'a [u8]),
    Decimal(&'a [u8], i32),
    /// java.util.Date: milliseconds since the epoch.
    Date(i64),
}

const DAY_MS: i64 = 86_400_000;

impl Cast {
    pub fn new(side: Side, spec: CastSpec, replace_null_with_default: bool) -> Self {
        let date_formats = ["HH:mm:ss.SSS'Z'", "yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"].map(|p| {
            // Constant patterns of Connect's `Values`: they parse.
            JavaDateFormat::new(p).unwrap_or_default()
        });
        Cast { side, spec, replace_null_with_default, schemas: SchemaCache::default(), date_formats }
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let operand = match self.side.operand(&record) {
            Some(sv) if !sv.value.is_null() => sv,
            _ => return Ok(record),
        };
        let schema = &operand.schema;
        let (spec, formats) = (&self.spec, &self.date_formats);
        let updated = Arc::clone(self.schemas.get_or_try(schema, |s| build_schema(spec, s, formats))?);
        let value = match &self.spec {
            CastSpec::Whole(target) => cast_value(schema, &operand.value, *target, formats)?,
            CastSpec::Fields(casts) => {
                let (schema, values) = require_struct("Cast", "cast types", Some(operand))?;
                let mut out = Vec::with_capacity(values.len());
                for (f, v) in schema.fields.iter().zip(values) {
                    let v = field_value(&f.schema, v, self.replace_null_with_default);
                    out.push(match casts.iter().find(|(name, _)| *name == f.name) {
                        Some((_, target)) => cast_value(&f.schema, &v, *target, formats)?,
                        None => v,
                    });
                }
                Value::Struct(out)
            }
        };
        *self.side.operand_mut(&mut record) = Some(SchemaAndValue::new(updated, value));
        Ok(record)
    }
}

fn build_schema(spec: &CastSpec, s: &Schema, formats: &[JavaDateFormat; 3]) -> Result<Arc<Schema>, TransformError> {
    let mut out = match spec {
        CastSpec::Whole(target) => {
            let mut out = Schema::new(*target);
            out.name.clone_from(&s.name);
            out.version = s.version;
            out.doc.clone_from(&s.doc);
            out.parameters.clone_from(&s.parameters);
            out
        }
        CastSpec::Fields(casts) => {
            if s.kind != SchemaType::Struct {
                return Err(err("Cannot look up fields on non-struct type"));
            }
            let mut out = crate::transform::smt::struct_basics(s);
            for f in &s.fields {
                let schema = match casts.iter().find(|(name, _)| *name == f.name) {
                    Some((_, target)) => {
                        let mut cast = Schema::new(*target).with_optional(f.schema.optional);
                        if let Some(default) = &f.schema.default {
                            cast.default = Some(cast_value(&f.schema, default, *target, formats)?);
                        }
                        Arc::new(cast)
                    }
                    None => Arc::clone(&f.schema),
                };
                out = out.with_field(f.name.clone(), schema);
            }
            out
        }
    };
    out.optional = s.optional;
    if let Some(default) = &s.default {
        out.default = Some(cast_value(s, default, out.kind, formats)?);
    }
    Ok(Arc::new(out))
}

/// The Java object Cast converts; dates are `java.util.Date` only for a
/// string target (for others Connect first encodes them: days, millis).
fn as_java<'a>(schema: &Schema, value: &'a Value, to_string: bool) -> Result<Java<'a>, TransformError> {
    let logical = schema.name.as_deref().filter(|_| to_string || schema.name.as_deref() == Some(DECIMAL_SCHEMA_NAME));
    Ok(match value {
        Value::Int32(d) if logical == Some("org.apache.kafka.connect.data.Date") => Java::Date(i64::from(*d) * DAY_MS),
        Value::Int32(t) if logical == Some("org.apache.kafka.connect.data.Time") => Java::Date(i64::from(*t)),
        Value::Int64(t) if logical == Some("org.apache.kafka.connect.data.Timestamp") => Java::Date(*t),
        Value::Bytes(b) if logical == Some(DECIMAL_SCHEMA_NAME) => {
            Java::Decimal(b, schema.parameter("scale").and_then(|s| s.parse().ok()).unwrap_or(0))
        }
        Value::Int8(x) => Java::Integral(i64::from(*x)),
        Value::Int16(x) => Java::Integral(i64::from(*x)),
        Value::Int32(x) => Java::Integral(i64::from(*x)),
        Value::Int64(x) => Java::Integral(*x),
        Value::Float32(x) => Java::Float(f64::from(*x)),
        Value::Float64(x) => Java::Float(*x),
        Value::Boolean(b) => Java::Bool(*b),
        Value::String(s) => Java::Str(s),
        Value::Bytes(b) => Java::Bytes(b),
        other => return Err(err(format!("Unexpected type in Cast transformation: {}", java_class(schema, other)))),
    })
}

/// A Decimal's unscaled value (up to 128 bits) and its text (`BigDecimal.toString`).
fn decimal_parts(bytes: &[u8], scale: i32) -> Result<(i128, String), TransformError> {
    if bytes.len() > 16 {
        return Err(err("decimal values wider than 128 bits cannot be cast by pgcdc"));
    }
    let mut n: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) { -1 } else { 0 };
    for b in bytes {
        n = (n << 8) | i128::from(*b);
    }
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    let adjusted = i64::try_from(digits.len()).unwrap_or(i64::MAX) - 1 - i64::from(scale);
    let text = if scale >= 0 && adjusted >= -6 {
        let scale = usize::try_from(scale).unwrap_or(0);
        if scale == 0 {
            format!("{sign}{digits}")
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp = if adjusted >= 0 { format!("+{adjusted}") } else { adjusted.to_string() };
        format!("{sign}{first}{dot}E{exp}")
    };
    Ok((n, text))
}

fn truncated(unscaled: i128, scale: i32) -> i128 {
    let mut n = unscaled;
    for _ in 0..scale.max(0) {
        n /= 10;
    }
    n
}

/// `Cast.castValueToType`.
pub fn cast_value(schema: &Schema, value: &Value, target: SchemaType, formats: &[JavaDateFormat; 3]) -> Result<Value, TransformError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if matches!(schema.kind, SchemaType::Array | SchemaType::Map | SchemaType::Struct) {
        return Err(err(format!(
            "Cast transformation does not support casting from {}; supported types are {INPUT_TYPES}",
            schema.kind.json_name().to_ascii_uppercase()
        )));
    }
    let java = as_java(schema, value, target == SchemaType::String)?;
    let out_of_range = |text: &str| err(format!("Value ({text}) was out of range for requested data type"));
    let unexpected = || err(format!("Unexpected type in Cast transformation: {}", java_class(schema, value)));
    // Number.longValue() (integral types narrow from it by wrapping).
    let long = |j: &Java<'_>| -> Result<Option<i64>, TransformError> {
        Ok(match j {
            Java::Integral(x) | Java::Date(x) => Some(*x),
            Java::Float(f) => Some(*f as i64),
            Java::Decimal(b, scale) => Some(truncated(decimal_parts(b, *scale)?.0, *scale) as i64),
            Java::Bool(b) => Some(i64::from(*b)),
            _ => None,
        })
    };
    // Number.intValue(): floating point saturates at int, then narrows.
    let int = |j: &Java<'_>| -> Result<Option<i32>, TransformError> {
        Ok(match j {
            Java::Float(f) => Some(*f as i32),
            other => long(other)?.map(|l| l as i32),
        })
    };
    Ok(match target {
        SchemaType::Int8 => match &java {
            Java::Str(s) => Value::Int8(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int8(int(j)?.ok_or_else(unexpected)? as i8),
        },
        SchemaType::Int16 => match &java {
            Java::Str(s) => Value::Int16(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int16(int(j)?.ok_or_else(unexpected)? as i16),
        },
        SchemaType::Int32 => match &java {
            Java::Str(s) => Value::Int32(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int32(int(j)?.ok_or_else(unexpected)?),
        },
        SchemaType::Int64 => match &java {
            Java::Str(s) => Value::Int64(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int64(long(j)?.ok_or_else(unexpected)?),
        },
        SchemaType::Float32 | SchemaType::Float64 => {
            let f = match &java {
                Java::Integral(x) | Java::Date(x) => *x as f64,
                Java::Float(f) => *f,
                Java::Decimal(b, scale) => decimal_parts(b, *scale)?.1.parse().unwrap_or(f64::NAN),
                Java::Bool(b) => f64::from(u8::from(*b)),
                Java::Str(s) => s.trim().parse().map_err(|_| out_of_range(s))?,
                Java::Bytes(_) => return Err(unexpected()),
            };
            if target == SchemaType::Float32 {
                // Long/BigDecimal → float rounds once, from the exact value.
                let f32v = match &java {
                    Java::Integral(x) | Java::Date(x) => *x as f32,
                    Java::Decimal(b, scale) => decimal_parts(b, *scale)?.1.parse().unwrap_or(f32::NAN),
                    Java::Str(s) => s.trim().parse().map_err(|_| out_of_range(s))?,
                    _ => f as f32,
                };
                Value::Float32(f32v)
            } else {
                Value::Float64(f)
            }
        }
        SchemaType::Boolean => match &java {
            Java::Bool(b) => Value::Boolean(*b),
            Java::Str(s) => Value::Boolean(s.eq_ignore_ascii_case("true")),
            j => Value::Boolean(long(j)?.ok_or_else(unexpected)? != 0),
        },
        SchemaType::String => Value::String(match &java {
            Java::Date(ms) => {
                let format = if *ms < DAY_MS {
                    &formats[0]
                } else if ms % DAY_MS == 0 {
                    &formats[1]
                } else {
                    &formats[2]
                };
                format_millis(format, *ms)
            }
            Java::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
            Java::Decimal(b, scale) => decimal_parts(b, *scale)?.1,
            Java::Float(f) => {
                let mut text = Vec::with_capacity(24);
                match value {
                    Value::Float32(x) => write_f32(*x, &mut text),
                    _ => write_f64(*f, &mut text),
                }
                // Java's toString prints NaN and the infinities bare.
                String::from_utf8_lossy(&text).trim_matches('"').to_owned()
            }
            Java::Integral(x) => x.to_string(),
            Java::Bool(b) => b.to_string(),
            Java::Str(s) => (*s).to_owned(),
        }),
        other => return Err(err(format!("{} is not supported in the Cast transformation.", other.json_name().to_ascii_uppercase()))),
    })
}
